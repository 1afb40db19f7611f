/**
 * One owner per directory: `podbay server` takes an exclusive lock on its data dir (and run
 * dir) before it opens the store, so a second server on the same dir stops at once instead of
 * writing into the first one's database.
 *
 * Node has no flock(2). The lock is a tiny SQLite file (DIR/podbay.lock) held in an open
 * `BEGIN EXCLUSIVE` transaction: SQLite takes a POSIX fcntl() write lock on it, which the kernel
 * drops when the process dies however it dies (kill -9 included), so a stale lock cannot
 * outlive its owner. SQLite also tracks those locks per inode inside one process, so a second
 * attempt from the same process is refused too (fcntl alone would grant it).
 *
 * The holder's PID cannot be read from the locked file, so it is written next to it in
 * DIR/podbay.pid (after the lock is won), for the refusal message. Neither file is removed on
 * exit: unlinking a lock file lets a late opener lock the unlinked inode while a newcomer locks
 * a fresh one.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'podbay.lock';
export const PID_FILE = 'podbay.pid';

/** The directory is owned by another live process. */
export class DirLockedError extends Error {
  constructor(
    readonly dir: string,
    /** the holder's PID as its PID file says, if readable */
    readonly pid: number | undefined,
    what: string,
  ) {
    super(
      `the ${what} ${dir} is in use by another podbay process (${pid ? `PID ${pid}` : 'PID unknown'}, see ${join(dir, PID_FILE)}): ` +
        `stop it first, or point this one at another directory`,
    );
    this.name = 'DirLockedError';
  }
}

export interface DirLock {
  readonly dir: string;
  /** release the lock (idempotent); the kernel also releases it when the process exits */
  release(): void;
}

/** The PID recorded in DIR/podbay.pid, if any. */
export function lockHolder(dir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(dir, PID_FILE), 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Take DIR's exclusive lock (creating DIR 0700 if needed), or throw DirLockedError naming the
 * holder. `what` names the directory in messages ("data dir", "run dir").
 */
export function lockDir(dir: string, what: string): DirLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, LOCK_FILE);
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db.close();
    if (e instanceof Database.SqliteError && /^SQLITE_BUSY|^SQLITE_LOCKED/.test(e.code)) {
      throw new DirLockedError(dir, lockHolder(dir), what);
    }
    throw e;
  }
  // ours now: record who holds it (atomically, so a reader never sees half a PID)
  const pidPath = join(dir, PID_FILE);
  writeFileSync(`${pidPath}.tmp`, `${process.pid}\n`, { mode: 0o644 });
  renameSync(`${pidPath}.tmp`, pidPath);
  let released = false;
  return {
    dir,
    release() {
      if (released) return;
      released = true;
      try {
        db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}
