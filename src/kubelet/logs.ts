/**
 * Container logs: where conmon writes them and how `kubectl logs` reads them back.
 *
 *   LOGS/<namespace>_<pod>_<uid>/<container>/<restartCount>.log    CRI "k8s-file" format:
 *   2026-11-27T15:00:00.123456789Z stdout F a full line
 *   2026-11-27T15:00:00.123456789Z stderr P a partial line (no newline yet)
 *
 * One file per run, so `--previous` is the second-newest run; the files outlive the containers
 * and go with the pod. A run's file is rotated by the container log manager (log-rotation.ts)
 * the way the kubelet does: renamed to `<n>.log.<YYYYMMDD-hhmmss>` and conmon told to reopen
 * `<n>.log`, so one run is its rotated files in name (= time) order, then the live file.
 * Reading follows that order, and a follower that sees its file renamed drains it to the end
 * before moving on to the next one: nothing lost, nothing read twice.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest } from '../api/errors.js';

export function podLogDir(logsDir: string, ns: string, name: string, uid: string): string {
  return join(logsDir, `${ns}_${name}_${uid}`);
}

export function containerLogPath(logsDir: string, ns: string, name: string, uid: string, container: string, restartCount: number): string {
  return join(podLogDir(logsDir, ns, name, uid), container, `${restartCount}.log`);
}

export interface LogOptions {
  follow?: boolean;
  previous?: boolean;
  tailLines?: number;
  timestamps?: boolean;
  sinceSeconds?: number;
  sinceTime?: string;
  limitBytes?: number;
  /** podbay-internal: read this run (restart count) instead of the newest (termination messages) */
  run?: number;
}

/** One run of a container (one restart count): its files, oldest first, the live file last. */
export interface LogRun {
  restart: number;
  files: string[];
}

/** `<n>.log` (live) or `<n>.log.<YYYYMMDD-hhmmss>` (rotated); anything else (conmon's `.tmp`) is not a log. */
const LOG_NAME = /^(\d+)\.log(?:\.(\d{8}-\d{6}))?$/;

/** Group a container log directory's names into runs, oldest run first. */
export function groupLogRuns(names: string[]): { restart: number; names: string[] }[] {
  const runs = new Map<number, { rotated: string[]; live?: string }>();
  for (const n of names) {
    const m = LOG_NAME.exec(n);
    if (!m) continue;
    const restart = Number(m[1]);
    const r = runs.get(restart) ?? { rotated: [] };
    if (m[2]) r.rotated.push(n);
    else r.live = n;
    runs.set(restart, r);
  }
  return [...runs.entries()]
    .sort(([a], [b]) => a - b)
    .map(([restart, r]) => ({ restart, names: [...r.rotated.sort(), ...(r.live ? [r.live] : [])] }));
}

/** The runs of a container, oldest first. */
export async function logRuns(dir: string): Promise<LogRun[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return groupLogRuns(names).map((r) => ({ restart: r.restart, files: r.names.map((n) => join(dir, n)) }));
}

interface Line {
  ts: string;
  text: string;
}

/** conmon writes `...123456789+00:00`; kubectl shows RFC 3339 in UTC with Z, nanoseconds kept. */
export function utcTimestamp(ts: string): string {
  if (ts.endsWith('Z')) return ts;
  if (ts.endsWith('+00:00')) return ts.slice(0, -6) + 'Z';
  const frac = /\.(\d+)/.exec(ts)?.[1] ?? '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  return d.toISOString().replace(/\.\d{3}Z$/, frac ? `.${frac}Z` : 'Z');
}

/** Parse CRI log text into lines, joining partial (P) chunks to their full (F) ending. */
function parseCri(text: string, carry: { partial: string; ts: string }): Line[] {
  const out: Line[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const a = raw.indexOf(' ');
    const b = raw.indexOf(' ', a + 1);
    const c = raw.indexOf(' ', b + 1);
    if (a < 0 || b < 0) continue;
    const ts = utcTimestamp(raw.slice(0, a));
    const tag = c < 0 ? raw.slice(b + 1) : raw.slice(b + 1, c);
    const content = c < 0 ? '' : raw.slice(c + 1);
    if (tag === 'P') {
      if (!carry.partial) carry.ts = ts;
      carry.partial += content;
      continue;
    }
    out.push({ ts: carry.partial ? carry.ts : ts, text: carry.partial + content });
    carry.partial = '';
  }
  return out;
}

/** An open log file and how far it has been read (whole lines only). */
export interface Cursor {
  path: string;
  fh: FileHandle;
  ino: number;
  pos: number;
}

export async function openCursor(path: string): Promise<Cursor> {
  const fh = await open(path, 'r');
  return { path, fh, ino: (await fh.stat()).ino, pos: 0 };
}

/** Read what was appended since the last call, up to the last newline. */
async function readMore(c: Cursor): Promise<string> {
  const { size } = await c.fh.stat();
  if (size <= c.pos) return '';
  const buf = Buffer.alloc(size - c.pos);
  const { bytesRead } = await c.fh.read(buf, 0, buf.length, c.pos);
  const lastNl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
  if (lastNl < 0) return '';
  c.pos += lastNl + 1;
  return buf.subarray(0, lastNl + 1).toString('utf8');
}

async function closeAll(cs: Cursor[]): Promise<void> {
  await Promise.allSettled(cs.map((c) => c.fh.close()));
}

/**
 * Open every file of the run picked by `pick`. A rotation between listing and opening would
 * make the list stale (the live file renamed, a new one opened in its place), so the directory
 * is listed again after opening and the whole thing retried when it changed.
 */
async function openRun(dir: string, pick: (runs: LogRun[]) => LogRun | undefined): Promise<Cursor[] | undefined> {
  for (let attempt = 0; ; attempt++) {
    const run = pick(await logRuns(dir));
    if (!run) return undefined;
    const cursors: Cursor[] = [];
    try {
      for (const f of run.files) cursors.push(await openCursor(f));
    } catch (e) {
      await closeAll(cursors);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw e;
      continue;
    }
    const again = pick(await logRuns(dir));
    if (attempt >= 5 || (again && again.files.join('\n') === run.files.join('\n'))) return cursors;
    await closeAll(cursors);
  }
}

/**
 * The file after `c` in its run (its path and the inode it had when looked at), once `c` is no
 * longer the live file; undefined while it still is, or while the listing cannot tell.
 *
 * The listing is read before the files are stat'ed, so a rotation in between leaves it stale:
 * ours renamed to a name the listing lacks, the live name already a newer file. Ours missing
 * from the listing therefore means "look again", unless ours is deleted. That is checked first:
 * the oldest files go first, so when ours is gone so were all older ones, and the oldest file
 * left is the next one.
 */
export async function successor(dir: string, restart: number, c: Cursor, list: (dir: string) => Promise<LogRun[]> = logRuns): Promise<{ path: string; ino: number } | undefined> {
  const deleted = (await c.fh.stat()).nlink === 0;
  const run = (await list(dir)).find((r) => r.restart === restart);
  if (!run) return undefined;
  const inos: number[] = [];
  for (const f of run.files) inos.push(await stat(f).then((st) => st.ino, () => -1));
  const live = inos[inos.length - 1];
  const liveIsLive = run.files[run.files.length - 1].endsWith('.log');
  // the live name missing (renamed, conmon not yet reopened) or still ours: keep reading ours
  if (!liveIsLive || live === c.ino) return undefined;
  const i = inos.indexOf(c.ino);
  const at = i >= 0 ? i + 1 : deleted ? inos.findIndex((ino) => ino >= 0) : -1;
  return at >= 0 && at < run.files.length && inos[at] >= 0 ? { path: run.files[at], ino: inos[at] } : undefined;
}

/**
 * Stream a container's log to `write`, across the rotated files of the run. With `follow`, keep
 * reading while `running()` says the container still runs, then drain and return.
 */
export async function streamLog(
  dir: string,
  opts: LogOptions,
  write: (chunk: string) => boolean | void,
  running: () => Promise<boolean>,
  closed: () => boolean,
  describe: { container: string; pod: string },
): Promise<void> {
  const pick = (runs: LogRun[]) =>
    opts.run !== undefined ? runs.find((r) => r.restart === opts.run) : opts.previous ? (runs.length >= 2 ? runs[runs.length - 2] : undefined) : runs[runs.length - 1];
  const runs = await logRuns(dir);
  const chosen = pick(runs);
  if (!chosen) {
    if (opts.previous) throw badRequest(`previous terminated container "${describe.container}" in pod "${describe.pod}" not found`);
    throw badRequest(`container "${describe.container}" in pod "${describe.pod}" is waiting to start: ContainerCreating`);
  }
  const since = opts.sinceTime ? Date.parse(opts.sinceTime) : opts.sinceSeconds ? Date.now() - opts.sinceSeconds * 1000 : 0;
  let budget = opts.limitBytes && opts.limitBytes > 0 ? opts.limitBytes : Infinity;
  const carry = { partial: '', ts: '' };
  const emit = (lines: Line[]) => {
    for (const l of lines) {
      if (budget <= 0) return;
      if (since && Date.parse(l.ts) < since) continue;
      let s = (opts.timestamps ? `${l.ts} ` : '') + l.text + '\n';
      if (s.length > budget) s = s.slice(0, budget);
      budget -= Buffer.byteLength(s);
      write(s);
    }
  };

  // a last line without a newline (CRI tag P, no F after it) is shown as it is, without one,
  // as the kubelet's ReadLogs writes a partial line's content without adding a newline
  const flushPartial = () => {
    if (!carry.partial || budget <= 0) return;
    if (since && Date.parse(carry.ts) < since) return;
    let s = (opts.timestamps ? `${carry.ts} ` : '') + carry.partial;
    if (s.length > budget) s = s.slice(0, budget);
    budget -= Buffer.byteLength(s);
    carry.partial = '';
    write(s);
  };

  const cursors = (await openRun(dir, (rs) => rs.find((r) => r.restart === chosen.restart))) ?? [];
  if (!cursors.length) throw badRequest(`container "${describe.container}" in pod "${describe.pod}" is waiting to start: ContainerCreating`);
  let cur = cursors[cursors.length - 1];
  try {
    // the newest files first, only as far back as the tail needs; then parsed oldest first
    const texts: string[] = [];
    const tail = opts.tailLines !== undefined && opts.tailLines >= 0 ? opts.tailLines : undefined;
    let have = 0;
    for (let i = cursors.length - 1; i >= 0; i--) {
      const t = await readMore(cursors[i]);
      texts.unshift(t);
      have += (t.match(/\n/g) ?? []).length;
      if (tail !== undefined && have > tail) break;
    }
    let lines = parseCri(texts.join(''), carry);
    if (tail !== undefined) {
      // a trailing partial line is one of the tail's lines
      const keep = carry.partial ? tail - 1 : tail;
      lines = keep <= 0 ? [] : lines.slice(-keep);
      if (tail === 0) carry.partial = '';
    }
    emit(lines);
    if (!opts.follow || opts.previous) {
      flushPartial();
      return;
    }
    for (;;) {
      if (closed() || budget <= 0) return;
      const alive = await running();
      emit(parseCri(await readMore(cur), carry));
      // rotated: ours is final once the live name holds another file; drain it, then move on
      for (let next = await successor(dir, chosen.restart, cur); next; next = await successor(dir, chosen.restart, cur)) {
        emit(parseCri(await readMore(cur), carry));
        const c = await openCursor(next.path).catch(() => undefined);
        if (!c) break; // deleted under us: look again next round
        if (c.ino !== next.ino) {
          // renamed under us (the name now holds a newer file): look again next round
          await c.fh.close().catch(() => {});
          break;
        }
        cursors.push(c);
        cur = c;
        emit(parseCri(await readMore(cur), carry));
      }
      if (!alive) {
        emit(parseCri(await readMore(cur), carry));
        flushPartial();
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await closeAll(cursors);
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
