/**
 * Snapshots of the SQLite store, as k3s offers etcd snapshots.
 *
 * Backup is online and consistent: SQLite's backup API (better-sqlite3's `.backup()`) copies
 * the pages from one read transaction while a server keeps writing (WAL readers do not block
 * the writer). The copy is checked, made self-contained (rollback journal, no -wal file), and
 * renamed into place only when complete, mode 0600 (it holds Secrets).
 *
 * Restore replaces the store while no server owns the data dir (the caller holds the lock).
 * Like `etcdutl snapshot restore --bump-revision --mark-compacted`, it moves the revision past
 * anything the replaced store ever handed out and marks everything before as compacted: a
 * client holding an old resourceVersion gets 410 Gone and re-lists, instead of resuming a watch
 * on history that was rewound underneath it. The replaced file is kept next to it.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { checkDatabase, StoreCorruptError } from './sqlite.js';

export interface SnapshotInfo {
  /** the newest revision in the snapshot */
  revision: number;
  /** live keys */
  keys: number;
  bytes: number;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The newest revision a store file handed out (sqlite_sequence survives compaction). */
function lastRevision(db: Database.Database): number {
  const seq = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'kv'`).pluck().get() as number | undefined;
  const max = db.prepare(`SELECT MAX(id) FROM kv`).pluck().get() as number | null;
  return Math.max(seq ?? 0, max ?? 0);
}

/** Check that `db` is a sound podbay store and describe it. */
function describe(db: Database.Database, path: string): Omit<SnapshotInfo, 'bytes'> {
  checkDatabase(db, path);
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
  if (!tables.includes('kv') || !tables.includes('meta')) {
    throw new Error(`${path} is an SQLite database but not a podbay store (no kv and meta tables)`);
  }
  const keys = db
    .prepare(`SELECT COUNT(*) FROM (SELECT MAX(id) AS id, deleted AS tomb FROM kv GROUP BY name HAVING tomb = 0)`)
    .pluck()
    .get() as number;
  return { revision: lastRevision(db), keys };
}

/** Copy the store at `dbPath` (which a server may be using) to `dest`. */
export async function backupStore(dbPath: string, dest: string): Promise<SnapshotInfo> {
  if (!existsSync(dbPath)) throw new Error(`no store at ${dbPath}: is this the server's --data-dir?`);
  const tmp = join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}`);
  const src = new Database(dbPath, { fileMustExist: true, timeout: 5000 });
  try {
    checkDatabase(src, dbPath);
    closeSync(openSync(tmp, 'w', 0o600));
    // one step for everything after the first: the copy comes from one read transaction, so it
    // cannot restart forever under a steady stream of writes
    await src.backup(tmp, { progress: ({ totalPages }) => Math.max(totalPages, 100) });
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    src.close();
  }
  let info: Omit<SnapshotInfo, 'bytes'>;
  const out = new Database(tmp);
  try {
    out.pragma('journal_mode = DELETE');
    info = describe(out, tmp);
  } catch (e) {
    out.close();
    rmSync(tmp, { force: true });
    throw e;
  }
  out.close();
  fsyncPath(tmp);
  renameSync(tmp, dest);
  fsyncPath(dirname(dest));
  return { ...info, bytes: statSync(dest).size };
}

/** Read a snapshot file without changing it: revision and key count, or why it is unusable. */
export function inspectSnapshot(file: string): SnapshotInfo {
  if (!existsSync(file)) throw new Error(`no such file: ${file}`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new StoreCorruptError(file, (e as Error).message);
  }
  try {
    return { ...describe(db, file), bytes: statSync(file).size };
  } finally {
    db.close();
  }
}

export interface RestoreResult extends SnapshotInfo {
  /** the revision the restored store continues from (everything before it is compacted) */
  resumesAt: number;
  /** where the replaced store was kept, if there was one */
  previous?: string;
}

/**
 * Replace the store at `dbPath` with the snapshot `file`. The caller must own the data dir
 * (no server may have the store open).
 */
export function restoreStore(file: string, dbPath: string, now = new Date()): RestoreResult {
  const snap = inspectSnapshot(file);
  let oldRevision = 0;
  let previous: string | undefined;
  if (existsSync(dbPath)) {
    // fold the old WAL into the file, so the kept copy is complete on its own
    const old = new Database(dbPath, { fileMustExist: true });
    try {
      try {
        oldRevision = lastRevision(old);
      } catch {
        /* a corrupt or empty store: nothing handed out that we can know of */
      }
      old.pragma('wal_checkpoint(TRUNCATE)');
      old.pragma('journal_mode = DELETE');
    } finally {
      old.close();
    }
    previous = `${dbPath}.pre-restore-${now.toISOString().replace(/[:.]/g, '-')}`;
  }
  // past every revision either store handed out, +1 so that a watch from the newest old one
  // is also older than the compacted revision (watches may resume from compacted - 1)
  const resumesAt = Math.max(oldRevision, snap.revision) + 2;
  const tmp = `${dbPath}.restore-tmp`;
  rmSync(tmp, { force: true });
  copyFileSync(file, tmp);
  chmodSync(tmp, 0o600);
  const db = new Database(tmp);
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('synchronous = FULL');
    db.transaction(() => {
      const has = db.prepare(`SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'kv'`).pluck().get() as number;
      if (has) db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'kv'`).run(resumesAt);
      else db.prepare(`INSERT INTO sqlite_sequence (name, seq) VALUES ('kv', ?)`).run(resumesAt);
      db.prepare(`INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted', ?)`).run(resumesAt);
    }).immediate();
  } finally {
    db.close();
  }
  fsyncPath(tmp);
  if (previous) renameSync(dbPath, previous);
  for (const side of ['-wal', '-shm', '-journal']) rmSync(dbPath + side, { force: true });
  renameSync(tmp, dbPath);
  fsyncPath(dirname(dbPath));
  return { ...snap, resumesAt, previous };
}
