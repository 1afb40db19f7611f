/**
 * /proc/self/mountinfo, parsed once for every room: is a netns pinned, is a snapshot still
 * mounted, which mounts lie under a directory being removed.
 *   `id parent maj:min root mountpoint opts [optional...] - fstype source superopts`
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { sharedNextRead } from './shared-read.js';

export interface MountInfo {
  mountPoint: string;
  /** per-mount options (field 6): rw/ro, nosuid, ... */
  options: string[];
  fsType: string;
  source: string;
  superOptions: string[];
  /** the optional fields: shared:N, master:N, propagate_from:N, unbindable */
  optional: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal */
export function unescapeMountinfo(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    out.push({
      mountPoint: unescapeMountinfo(pre[4] ?? ''),
      options: (pre[5] ?? '').split(','),
      fsType: post[0] ?? '',
      source: unescapeMountinfo(post[1] ?? ''),
      superOptions: (post[2] ?? '').split(',').map(unescapeMountinfo),
      optional: pre.slice(6),
    });
  }
  return out;
}

export function readMountinfo(path = '/proc/self/mountinfo'): MountInfo[] {
  return parseMountinfo(readFileSync(path, 'utf8'));
}

export async function readMountinfoAsync(path = '/proc/self/mountinfo'): Promise<MountInfo[]> {
  return parseMountinfo(await readFile(path, 'utf8'));
}

/** the mount point of every line (field 5) without parsing the rest: with 100 pods the table has ~500 lines */
export function mountPoints(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ', 5)[4];
    if (mp !== undefined) out.push(unescapeMountinfo(mp));
  }
  return out;
}

/** One read of the table; each view parsed once, on first use, for every caller sharing the read. */
class MountTable {
  private points?: Set<string>;
  private mounts?: MountInfo[];
  constructor(private readonly text: string) {}
  mountPoints(): Set<string> {
    return (this.points ??= new Set(mountPoints(this.text)));
  }
  parsed(): MountInfo[] {
    return (this.mounts ??= parseMountinfo(this.text));
  }
}

/**
 * /proc/self/mountinfo read after the call: callers that ask while a read is under way share
 * the next one (after a restart every pod's first sync asks at once, and 100 pods made 100
 * reads of the table; in a burst every pod's teardown asks several times).
 */
const currentTable = sharedNextRead(async () => new MountTable(await readFile('/proc/self/mountinfo', 'utf8')));

/** The mount points of /proc/self/mountinfo, from a read made after the call (shared). */
export async function currentMountPoints(): Promise<Set<string>> {
  return (await currentTable()).mountPoints();
}

/**
 * The whole table, parsed, from a read made after the call: callers that ask while a read is
 * under way share the next one, with each other and with currentMountPoints (the array and its
 * entries are shared too: not to be changed). For a per-pod path, instead of the blocking
 * readMountinfo() (e.g. as mountsUsing's `mounts`).
 */
export async function currentMountinfo(): Promise<MountInfo[]> {
  return (await currentTable()).parsed();
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string, mounts?: MountInfo[]): string[] {
  return pointsUnder(dir, mounts ? mounts.map((m) => m.mountPoint) : mountPoints(readFileSync('/proc/self/mountinfo', 'utf8')));
}

function pointsUnder(dir: string, points: Iterable<string>): string[] {
  const d = resolve(dir);
  const out: string[] = [];
  for (const mp of points) if (mp === d || mp.startsWith(d + '/')) out.push(mp);
  return out.sort((a, b) => b.length - a.length);
}

/**
 * mountsUnder from a read of the table made after the call, shared with other callers
 * (currentMountPoints): never a blocking read on the event loop. With N pods the table has
 * ~5N lines and each pod's teardown asked several times, so a burst's teardown read O(N^2).
 */
export async function currentMountsUnder(dir: string): Promise<string[]> {
  return pointsUnder(dir, await currentMountPoints());
}

/**
 * Mounts that use `dir`: mounted on it or below it, or overlays whose upperdir, workdir or
 * lowerdir lies inside it.
 */
export function mountsUsing(dir: string, mounts: readonly MountInfo[] = readMountinfo()): MountInfo[] {
  const under = (p: string) => p === dir || p.startsWith(dir + '/');
  return mounts.filter((m) => {
    if (under(m.mountPoint)) return true;
    if (m.fsType !== 'overlay') return false;
    return m.superOptions.some((o) => {
      const eq = o.indexOf('=');
      if (eq < 0) return false;
      const k = o.slice(0, eq);
      if (k !== 'upperdir' && k !== 'workdir' && k !== 'lowerdir') return false;
      return o
        .slice(eq + 1)
        .split(':')
        .some(under);
    });
  });
}

/** The mount a path lies on (the deepest mount point at or above it; the newest when stacked). */
export function mountOf(path: string, mounts: MountInfo[]): MountInfo | undefined {
  const p = resolve(path);
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    if (p !== mp && !p.startsWith(mp === '/' ? '/' : mp + '/')) continue;
    if (!best || mp.length >= best.mountPoint.length) best = m;
  }
  return best;
}
