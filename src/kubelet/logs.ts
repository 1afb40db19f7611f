/**
 * Container logs: where conmon writes them and how `kubectl logs` reads them back.
 *
 *   LOGS/<namespace>_<pod>_<uid>/<container>/<restartCount>.log    CRI "k8s-file" format:
 *   2026-11-27T15:00:00.123456789Z stdout F a full line
 *   2026-11-27T15:00:00.123456789Z stderr P a partial line (no newline yet)
 *
 * One file per run, so `--previous` is the second-newest file; the files outlive the
 * containers and go with the pod.
 */
import { open, readdir, stat } from 'node:fs/promises';
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
}

/** The log files of a container, oldest run first. */
export async function logRuns(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+\.log$/.test(n))
    .sort((a, b) => parseInt(a) - parseInt(b))
    .map((n) => join(dir, n));
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

/**
 * Stream a container's log to `write`. With `follow`, keep reading while `running()` says the
 * container still runs, then drain and return.
 */
export async function streamLog(
  dir: string,
  opts: LogOptions,
  write: (chunk: string) => boolean | void,
  running: () => Promise<boolean>,
  closed: () => boolean,
  describe: { container: string; pod: string },
): Promise<void> {
  const runs = await logRuns(dir);
  let file: string | undefined;
  if (opts.previous) {
    file = runs.length >= 2 ? runs[runs.length - 2] : undefined;
    if (!file) throw badRequest(`previous terminated container "${describe.container}" in pod "${describe.pod}" not found`);
  } else {
    file = runs[runs.length - 1];
    if (!file) throw badRequest(`container "${describe.container}" in pod "${describe.pod}" is waiting to start: ContainerCreating`);
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

  const fh = await open(file, 'r');
  try {
    let pos = 0;
    const readMore = async (): Promise<string> => {
      const { size } = await fh.stat();
      if (size <= pos) return '';
      const buf = Buffer.alloc(size - pos);
      await fh.read(buf, 0, buf.length, pos);
      // only whole lines; keep a trailing fragment for the next read
      const lastNl = buf.lastIndexOf(0x0a);
      if (lastNl < 0) return '';
      pos += lastNl + 1;
      return buf.subarray(0, lastNl + 1).toString('utf8');
    };
    let lines = parseCri(await readMore(), carry);
    if (opts.tailLines !== undefined && opts.tailLines >= 0) lines = opts.tailLines === 0 ? [] : lines.slice(-opts.tailLines);
    emit(lines);
    if (!opts.follow || opts.previous) return;
    for (;;) {
      if (closed() || budget <= 0) return;
      const alive = await running();
      emit(parseCri(await readMore(), carry));
      if (!alive) {
        emit(parseCri(await readMore(), carry));
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await fh.close();
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
