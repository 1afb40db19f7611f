/**
 * Locks around the image index. Two layers:
 *
 *   Mutex     one process: operations queue behind each other (a promise chain).
 *   FileLock  between processes (`podbay image load` run while the server runs): a lock file
 *             created with O_EXCL holding `{"pid":N,"start":T}`, where T is the process start
 *             time from /proc/N/stat, so a recycled pid does not keep a dead owner's lock alive.
 *
 * A lock whose owner is gone (no /proc/N, or another start time) is stale and is taken over:
 * it is renamed to a private name first, and put back if it turns out to be someone's fresh
 * lock, so two processes recovering the same stale lock cannot both win.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export interface LockOwner {
  pid: number;
  start?: string;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined if no such process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/** True when the process that wrote `owner` still runs. */
export function ownerAlive(owner: LockOwner): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  const start = processStartTime(owner.pid);
  if (start === undefined) return false;
  return owner.start === undefined || owner.start === start;
}

/** This process's own start time never changes: read once, not on every lock taken. */
let self: LockOwner | undefined;
export function selfOwner(): LockOwner {
  self ??= { pid: process.pid, start: processStartTime(process.pid) };
  return { ...self };
}

export class LockTimeoutError extends Error {
  constructor(
    readonly path: string,
    readonly owner: LockOwner | undefined,
    waitedMs: number,
  ) {
    super(
      `timed out after ${Math.round(waitedMs / 1000)} s waiting for the image index lock ${path}` +
        (owner ? ` held by pid ${owner.pid}` : '') +
        `: wait for that process (another 'podbay image' command or the server) to finish, or, if no podbay process is running, remove ${path}`,
    );
    this.name = 'LockTimeoutError';
  }
}

/** A lock file younger than this without a readable owner is being written; older, it is debris. */
const UNREADABLE_GRACE_MS = 10_000;

export class FileLock {
  private held = false;

  constructor(
    readonly path: string,
    readonly timeoutMs = 120_000,
  ) {}

  async acquire(): Promise<void> {
    const started = Date.now();
    let delay = 5;
    let lastOwner: LockOwner | undefined;
    for (;;) {
      try {
        const fh = await fsp.open(this.path, 'wx', 0o644);
        try {
          await fh.writeFile(JSON.stringify(selfOwner()));
        } finally {
          await fh.close();
        }
        this.held = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const { owner, text, mtimeMs } = await this.readOwner();
      lastOwner = owner;
      const stale = owner ? !ownerAlive(owner) : text !== undefined && Date.now() - mtimeMs > UNREADABLE_GRACE_MS;
      if (stale && (await this.breakStale(text ?? ''))) continue;
      if (Date.now() - started >= this.timeoutMs) throw new LockTimeoutError(this.path, lastOwner, Date.now() - started);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 200);
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    // unlink, not rm: rm stats the path first (a second round trip through the thread pool)
    await fsp.unlink(this.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  private async readOwner(): Promise<{ owner?: LockOwner; text?: string; mtimeMs: number }> {
    try {
      const [text, st] = await Promise.all([fsp.readFile(this.path, 'utf8'), fsp.stat(this.path)]);
      try {
        const o = JSON.parse(text) as LockOwner;
        if (typeof o.pid === 'number') return { owner: o, text, mtimeMs: st.mtimeMs };
      } catch {
        /* being written, or debris */
      }
      return { text, mtimeMs: st.mtimeMs };
    } catch {
      return { mtimeMs: Date.now() }; // gone meanwhile: just retry
    }
  }

  /** Move a stale lock out of the way; false if what we moved was not the stale lock we judged. */
  private async breakStale(expected: string): Promise<boolean> {
    const aside = `${this.path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await fsp.rename(this.path, aside);
    } catch {
      return true; // someone else moved it: try to create ours
    }
    const moved = await fsp.readFile(aside, 'utf8').catch(() => '');
    if (moved !== expected) {
      // a fresh lock replaced the stale one between our read and our rename: give it back
      await fsp.link(aside, this.path).catch(() => undefined);
    }
    await fsp.rm(aside, { force: true });
    return true;
  }
}
