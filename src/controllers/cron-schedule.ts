/**
 * A CronJob's schedule as kube reads it (robfig/cron v3's standard parser): five fields
 * (minute, hour, day of month, month, day of week) with `*`, `?`, lists, ranges, steps
 * (`N/step` means N-max/step) and month/day names; the descriptors @yearly @annually @monthly
 * @weekly @daily @midnight @hourly and `@every <duration>`. Day of month and day of week match
 * when both do if either is a plain `*`/`?`, else when either does (cron's rule).
 *
 * `next(after)` is the first matching whole minute strictly after `after`, in the schedule's
 * time zone (an IANA name, via Intl; spec.timeZone, else the process's zone as kube-controller-
 * manager uses its local one). It walks wall-clock fields in that zone, so DST days are right.
 * The API server validates schedules (src/api/validation/workloads.ts); a schedule that still
 * does not parse here throws CronScheduleError.
 */

export class CronScheduleError extends Error {}

interface Field {
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: Field[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** a Go duration ("1h30m", "90s") in ms */
function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS_MS[m[2]!]!;
    end = re.lastIndex;
  }
  if (!s || end !== s.length) throw new CronScheduleError(`failed to parse duration ${s}`);
  return total;
}

interface WallClock {
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const formatters = new Map<string, Intl.DateTimeFormat>();

/** the wall clock at instant `t` in `tz` */
function wallClock(t: number, tz: string): WallClock {
  if (tz === 'UTC' || tz === 'Etc/UTC') {
    const d = new Date(t);
    return { month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), weekday: d.getUTCDay() };
  }
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    formatters.set(tz, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(t)) p[part.type] = part.value;
  return { month: Number(p.month), day: Number(p.day), hour: Number(p.hour), minute: Number(p.minute), weekday: WEEKDAYS.indexOf(p.weekday!) };
}

export class CronSchedule {
  private readonly sets: boolean[][] = [];
  private domStar = false;
  private dowStar = false;
  /** @every: a constant delay instead of fields */
  private readonly every?: number;

  constructor(
    readonly spec: string,
    readonly timeZone: string = Intl.DateTimeFormat().resolvedOptions().timeZone,
  ) {
    let s = spec.trim();
    if (s.startsWith('@every ')) {
      this.every = parseDuration(s.slice(7).trim());
      if (this.every < 1000) this.every = 1000; // robfig: at least one second
      return;
    }
    if (s.startsWith('@')) {
      const d = DESCRIPTORS[s];
      if (!d) throw new CronScheduleError(`unrecognized descriptor: ${s}`);
      s = d;
    }
    const fields = s.split(/\s+/).filter(Boolean);
    if (fields.length !== 5) throw new CronScheduleError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
    fields.forEach((text, i) => {
      const { set, star } = parseField(text, FIELDS[i]!);
      this.sets.push(set);
      if (i === 2) this.domStar = star;
      if (i === 4) this.dowStar = star;
    });
  }

  private dayMatches(w: WallClock): boolean {
    const dom = this.sets[2]![w.day]!;
    const dow = this.sets[4]![w.weekday]!;
    return this.domStar || this.dowStar ? dom && dow : dom || dow;
  }

  /** the first scheduled time strictly after `after` (ms since the epoch) */
  next(after: number): number {
    if (this.every !== undefined) return Math.floor((after + this.every) / 1000) * 1000;
    let t = Math.floor(after / 60_000) * 60_000 + 60_000;
    // at most ~5 years of hours: a schedule like "0 0 30 2 *" never fires
    for (let i = 0; i < 24 * 366 * 5 + 120; i++) {
      const w = wallClock(t, this.timeZone);
      if (!this.sets[3]![w.month] || !this.dayMatches(w) || !this.sets[1]![w.hour]) {
        // to the next wall-clock hour (hour steps, not day steps: a DST day is not 24 h long)
        t += (60 - w.minute) * 60_000;
        continue;
      }
      const minutes = this.sets[0]!;
      let m = w.minute;
      while (m < 60 && !minutes[m]) m++;
      if (m === w.minute) return t;
      t += (m - w.minute) * 60_000;
    }
    throw new CronScheduleError(`schedule ${JSON.stringify(this.spec)} never fires`);
  }
}

function parseField(text: string, f: Field): { set: boolean[]; star: boolean } {
  const set = new Array<boolean>(f.max + 1).fill(false);
  let star = false;
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new CronScheduleError(`too many slashes: ${part}`);
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') {
      [lo, hi] = [f.min, f.max];
      if (stepText === undefined || stepText === '1') star = true;
    } else {
      const bounds = range!.split('-').map((b) => value(b, f));
      if (bounds.length > 2) throw new CronScheduleError(`too many hyphens: ${range}`);
      lo = bounds[0]!;
      hi = bounds[1] ?? (stepText !== undefined ? f.max : lo);
    }
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step <= 0) throw new CronScheduleError(`step of range should be a positive number: ${part}`);
    if (lo < f.min || hi > f.max || lo > hi) throw new CronScheduleError(`out of range: ${part}`);
    for (let v = lo; v <= hi; v += step) set[v] = true;
  }
  return { set, star };
}

function value(text: string, f: Field): number {
  const named = f.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + f.min;
  if (!/^\d+$/.test(text)) throw new CronScheduleError(`failed to parse int from ${text}`);
  return Number(text);
}
