/**
 * SqliteStore: the store contract on one SQLite file, modelled on kine.
 *
 *   kv (the revision log; one row per write, never updated in place)
 *   ┌────┬──────────────────────────┬─────────┬─────────┬─────────────────┬───────────────┬───────┬───────────┐
 *   │ id │ name                     │ created │ deleted │ create_revision │ prev_revision │ value │ old_value │
 *   ├────┼──────────────────────────┼─────────┼─────────┼─────────────────┼───────────────┼───────┼───────────┤
 *   │  7 │ /registry/pods/default/a │    1    │    0    │        7        │       0       │ {v1}  │   NULL    │
 *   │  8 │ /registry/pods/default/a │    0    │    0    │        7        │       7       │ {v2}  │   {v1}    │
 *   │  9 │ /registry/pods/default/a │    0    │    1    │        7        │       8       │ {v2}  │   {v2}    │ <- tombstone
 *   └────┴──────────────────────────┴─────────┴─────────┴─────────────────┴───────────────┴───────┴───────────┘
 *   index kv_name_id (name, id, deleted)          meta(name, value): 'compacted' -> compacted revision
 *
 * Why this shape:
 * - The row id IS the revision. One append-only table gives a total order of all writes for
 *   free, and "the state as of revision R" is simply "for each name, the row with the largest
 *   id <= R, unless it is a tombstone" — one `MAX(id) ... GROUP BY name` over the
 *   (name, id, deleted) index, which answers current lists, historical lists, counts and point
 *   reads alike without a second copy of the data (1000 pods list in a few ms).
 * - Deletes are rows (tombstones) rather than removals, so a watch resuming from an older
 *   revision still learns about the delete. A tombstone keeps the last value because a DELETED
 *   event must carry it.
 * - Each row also carries old_value, so every row is a complete watch event (with `prev`) on
 *   its own, even after compaction has removed the row it superseded.
 * - AUTOINCREMENT, not plain rowid: SQLite would otherwise reuse the id of a deleted highest
 *   row, and compaction can delete the highest row (a tombstone). A revision handed out as a
 *   resourceVersion must never be handed out again, also across restarts.
 * - Compaction keeps, per key, the last row below the compacted revision C (unless it is a
 *   tombstone) and everything from C on: exactly enough to list as of any revision >= C and to
 *   replay every event after C - 1. C itself lives in a one-row meta table so it survives
 *   restarts (the log stays the single table of data).
 * - Writes come only from this process (better-sqlite3 is synchronous), so the watch hub is fed
 *   directly after each commit instead of polling the table like kine does; a watch from an old
 *   revision reads its history from this table and registers in the same synchronous step,
 *   leaving no gap to the live events. See watch-hub.ts.
 * - WAL, fsynced before a write resolves (`sync: 'full'`, the default), so an acknowledged write
 *   survives a power cut as it survives a crash, as etcd's does. The fsync is podbay's own, off
 *   the event loop and shared by every write committed while the previous one ran (group
 *   commit, group-commit.ts); SQLite itself runs synchronous=NORMAL. Watchers and readers hear
 *   of a write only once it is durable. `sync: 'normal'` skips that fsync (safe against a
 *   process crash, not a power cut: the last commits may be lost, and their revisions handed
 *   out again after the reboot).
 * - The next revision is read inside each write's IMMEDIATE transaction (from sqlite_sequence),
 *   not from this object's counter, so even two processes writing one file (which the data-dir
 *   lock forbids, see owner-lock.ts) could never reuse a revision.
 * - The file is checked (PRAGMA quick_check) when opened: a corrupt store is refused with
 *   StoreCorruptError rather than served from.
 */

import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

import { GroupCommit } from './group-commit.js';

import {
  checkListRevision,
  checkPositiveInt,
  checkWatchRevision,
  closedError,
  conflictError,
  existsError,
  notFoundError,
  rowToEvent,
  rowToKeyValue,
  type LogRow,
} from './log.js';
import type { KeyValue, ListOptions, ListResult, Store, WatchEvent, Watcher } from './types.js';
import { WatchHub } from './watch-hub.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT    NOT NULL,
  created         INTEGER NOT NULL,
  deleted         INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision   INTEGER NOT NULL,
  value           TEXT    NOT NULL,
  old_value       TEXT
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id, deleted);
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** how often the group commit checks that the WAL path is still the file it syncs (see syncWal) */
const WAL_CHECK_MS = 1000;

const COLUMNS = 'id, name, created, deleted, create_revision, prev_revision, value, old_value';

/**
 * Key range for a prefix: name >= @lo AND name < @hi (hi NULL = unbounded).
 * U+10FFFF is the largest code point, i.e. the largest UTF-8 sequence, so every key that starts
 * with the prefix sorts below prefix + U+10FFFF (barring keys containing that non-character).
 * Using a range rather than LIKE lets SQLite walk the (name, id) index.
 */
const IN_RANGE = 'name >= @lo AND (@hi IS NULL OR name < @hi)';

/**
 * The live keys in range as of @rev, after @after (NULL = from the start): for each name the row
 * with the largest id <= @rev, unless that row is a tombstone. SQLite documents that with a
 * lone MAX() aggregate the bare columns (`deleted`) come from the row holding the maximum, and
 * the (name, id, deleted) index covers the whole query, so it walks the index in name order and
 * never touches the (large) values.
 */
const LIVE_IDS = `SELECT MAX(id) AS id, name AS name, deleted AS tomb FROM kv
  WHERE ${IN_RANGE} AND (@after IS NULL OR name > @after) AND id <= @rev
  GROUP BY name HAVING tomb = 0`;

interface RawRow {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: string;
  old_value: string | null;
}

/** the columns a KeyValue needs (lists skip old_value, which would double the bytes read) */
type KvRow = Pick<RawRow, 'id' | 'name' | 'create_revision' | 'value'>;

interface RangeParams {
  lo: string;
  hi: string | null;
  after: string | null;
  rev: number;
}

function fromRaw(r: RawRow): LogRow {
  return {
    revision: r.id,
    key: r.name,
    created: r.created === 1,
    deleted: r.deleted === 1,
    createRevision: r.create_revision,
    prevRevision: r.prev_revision,
    value: r.value,
    oldValue: r.old_value,
  };
}

function rangeOf(prefix: string): { lo: string; hi: string | null } {
  return { lo: prefix, hi: prefix === '' ? null : prefix + '\u{10FFFF}' };
}

/** How hard a commit is pushed to disk before the write resolves (PRAGMA synchronous). */
export type StoreSync = 'full' | 'normal';

export interface SqliteOptions {
  /** default 'full': every commit is fsynced (see the header comment for 'normal''s risk) */
  sync?: StoreSync;
}

/** The store file is damaged: podbay refuses to serve from it. */
export class StoreCorruptError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(
      `the store database ${path} is corrupt (${detail}); podbay will not serve from it. ` +
        `Restore a backup with 'podbay restore FILE --data-dir DIR', or move the file (and its -wal and -shm files) aside to start with an empty store`,
    );
    this.name = 'StoreCorruptError';
  }
}

/**
 * Run SQLite's quick integrity check (after WAL recovery, which the first statement does);
 * throws StoreCorruptError naming what SQLite found. Also catches "file is not a database".
 */
export function checkDatabase(db: Database.Database, path: string): void {
  let rows: string[];
  try {
    rows = db.prepare('PRAGMA quick_check(20)').pluck().all() as string[];
  } catch (e) {
    throw new StoreCorruptError(path, (e as Error).message);
  }
  if (rows.length !== 1 || rows[0] !== 'ok') throw new StoreCorruptError(path, `PRAGMA quick_check: ${rows.join('; ')}`);
}

export class SqliteStore implements Store {
  /** Open (creating if needed, with mode 0600 and parent directories) the store file at `path`. */
  static open(path: string, opts: SqliteOptions = {}): SqliteStore {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Create the file ourselves so it never exists with a looser mode; SQLite gives the
      // -wal and -shm files the same mode as the database file.
      closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
    }
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (e) {
      throw new StoreCorruptError(path, (e as Error).message);
    }
    try {
      // an empty file is a new store; anything else must pass the check before it is served
      if (path !== ':memory:' && (statSync(path).size > 0 || existsSync(`${path}-wal`))) checkDatabase(db, path);
      return new SqliteStore(db, opts);
    } catch (err) {
      db.close();
      if (err instanceof Database.SqliteError && /SQLITE_(CORRUPT|NOTADB)/.test(err.code)) throw new StoreCorruptError(path, err.message);
      throw err;
    }
  }

  private readonly db: Database.Database;
  private readonly hub = new WatchHub();
  /** sync 'full' on a file: the WAL's fsyncs (group-commit.ts); absent: writes resolve at commit */
  private readonly group?: GroupCommit;
  /** committed rows not yet durable, in revision order: published to watchers once they are */
  private pending: LogRow[] = [];
  private wal?: { handle: FileHandle; ino: number; /** when the path was last seen to be this inode (ms) */ checked: number };
  /** the newest revision handed out; the next write gets revision + 1 */
  private revision: number;
  private compacted: number;
  private closed = false;

  private readonly stmt: {
    latest: Database.Statement<[string], RawRow>;
    insert: Database.Statement<unknown[]>;
    list: Database.Statement<[RangeParams & { limit: number }], KvRow>;
    count: Database.Statement<[RangeParams], { n: number }>;
    since: Database.Statement<[{ lo: string; hi: string | null; from: number }], RawRow>;
    compact: Database.Statement<[{ c: number }]>;
    setMeta: Database.Statement<[string, number]>;
    lastRevision: Database.Statement<[], number | null>;
  };
  private readonly txCreate: (key: string, value: string) => LogRow;
  private readonly txChange: (key: string, value: string | null, expected: number | undefined) => LogRow;
  private readonly txCompact: (target: number) => void;

  private constructor(db: Database.Database, opts: SqliteOptions) {
    this.db = db;
    db.pragma('journal_mode = WAL');
    // 'full' without a file (":memory:", tests) has nothing to fsync
    const groupCommit = opts.sync !== 'normal' && !db.memory;
    // NORMAL: no fsync inside a commit (it would block the event loop); with 'full' the WAL is
    // fsynced by the group commit below before any write is acknowledged
    db.pragma(`synchronous = ${groupCommit || opts.sync === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = OFF');
    db.exec(SCHEMA);

    const st = (this.stmt = {
      latest: db.prepare<[string], RawRow>(`SELECT ${COLUMNS} FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1`),
      insert: db.prepare(
        `INSERT INTO kv (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // Page through the index first (ORDER BY/LIMIT on the covering subquery), then fetch only
      // the chosen rows' values by id; the output keeps the index order, so no sort is needed.
      list: db.prepare<[RangeParams & { limit: number }], KvRow>(
        `SELECT kv.id, kv.name, kv.create_revision, kv.value
         FROM (${LIVE_IDS} ORDER BY name LIMIT @limit) AS live JOIN kv ON kv.id = live.id
         ORDER BY live.name`,
      ),
      count: db.prepare<[RangeParams], { n: number }>(`SELECT COUNT(*) AS n FROM (${LIVE_IDS})`),
      since: db.prepare<[{ lo: string; hi: string | null; from: number }], RawRow>(
        `SELECT ${COLUMNS} FROM kv WHERE id > @from AND ${IN_RANGE} ORDER BY id`,
      ),
      // Drop rows below C that are superseded before C, and tombstones below C (the key does
      // not exist as of C - 1, so nothing needs them).
      compact: db.prepare<[{ c: number }]>(
        `DELETE FROM kv WHERE id < @c AND (deleted = 1 OR id NOT IN (SELECT MAX(id) FROM kv WHERE id < @c GROUP BY name))`,
      ),
      setMeta: db.prepare<[string, number]>(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`),
      // The revision counter survives even when compaction deleted the highest row:
      // sqlite_sequence remembers the largest id AUTOINCREMENT ever handed out.
      lastRevision: db
        .prepare<[], number | null>(`SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'kv'), 0), COALESCE((SELECT MAX(id) FROM kv), 0))`)
        .pluck(),
    });

    this.revision = st.lastRevision.get() ?? 0;
    if (groupCommit) {
      // the WAL's directory entry once (SQLite does this at its first WAL sync, which NORMAL defers)
      const dirFd = openSync(dirname(db.name), 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
      this.group = new GroupCommit({ durable: this.revision, sync: () => this.syncWal(), onDurable: (upTo) => this.publishDurable(upTo) });
    }
    const compacted = db.prepare(`SELECT value FROM meta WHERE name = 'compacted'`).pluck().get() as number | undefined;
    this.compacted = compacted ?? 0;

    // Each write is one IMMEDIATE transaction: read the key's latest row, check, append. The
    // revision is assigned explicitly so the row is complete in one INSERT (a create's
    // create_revision is its own id); it is read from the file under the transaction's write
    // lock, never from memory, and AUTOINCREMENT still records it.
    const nextRevision = () => (st.lastRevision.get() ?? 0) + 1;
    const create = db.transaction((key: string, value: string): LogRow => {
      const cur = st.latest.get(key);
      if (cur && cur.deleted === 0) throw existsError(key, cur.id);
      const revision = nextRevision();
      const row: LogRow = {
        revision,
        key,
        created: true,
        deleted: false,
        createRevision: revision,
        prevRevision: cur?.id ?? 0,
        value,
        oldValue: null,
      };
      this.insert(row);
      return row;
    });
    this.txCreate = (key, value) => create.immediate(key, value);

    // update (value !== null) or delete (value === null)
    const change = db.transaction((key: string, value: string | null, expected: number | undefined): LogRow => {
      const cur = st.latest.get(key);
      if (!cur || cur.deleted === 1) throw notFoundError(key);
      if (expected !== undefined && expected !== cur.id) throw conflictError(key, expected, cur.id);
      const row: LogRow = {
        revision: nextRevision(),
        key,
        created: false,
        deleted: value === null,
        createRevision: cur.create_revision,
        prevRevision: cur.id,
        value: value ?? cur.value,
        oldValue: cur.value,
      };
      this.insert(row);
      return row;
    });
    this.txChange = (key, value, expected) => change.immediate(key, value, expected);

    const compact = db.transaction((target: number) => {
      st.compact.run({ c: target });
      st.setMeta.run('compacted', target);
    });
    this.txCompact = (target) => compact.immediate(target);
  }

  async currentRevision(): Promise<number> {
    this.assertOpen();
    return this.seen(this.revision);
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    return this.compacted;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen();
    const row = this.stmt.latest.get(key);
    return this.seen(row && row.deleted === 0 ? rowToKeyValue(fromRaw(row)) : undefined);
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    checkPositiveInt('limit', opts.limit);
    checkPositiveInt('revision', opts.revision);
    checkListRevision(opts.revision ?? 0, this.compacted);
    const rev = opts.revision ? Math.min(opts.revision, this.revision) : this.revision;
    const range = rangeOf(prefix);
    const params: RangeParams = { ...range, after: opts.startAfter ?? null, rev };
    // better-sqlite3 runs everything synchronously on this thread, so the page and the count
    // below see the same data without an explicit read transaction.
    const items = this.stmt.list
      .all({ ...params, limit: opts.limit ? opts.limit : -1 })
      .map((r): KeyValue => ({ key: r.name, value: r.value, createRevision: r.create_revision, modRevision: r.id }));
    let remaining = 0;
    if (opts.limit && items.length === opts.limit) {
      remaining = this.stmt.count.get({ ...params, after: items[items.length - 1]!.key })!.n;
    }
    return this.seen({ items, revision: rev, remaining });
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    return this.seen(this.stmt.count.get({ ...rangeOf(prefix), after: null, rev: this.revision })!.n);
  }

  async create(key: string, value: string): Promise<KeyValue> {
    this.assertOpen();
    return this.committed(this.txCreate(key, value));
  }

  async update(key: string, value: string, expectedModRevision?: number): Promise<KeyValue> {
    this.assertOpen();
    return this.committed(this.txChange(key, value, expectedModRevision));
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    this.assertOpen();
    return this.committed(this.txChange(key, null, expectedModRevision));
  }

  async watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void): Promise<Watcher> {
    this.assertOpen();
    checkPositiveInt('fromRevision', fromRevision);
    checkWatchRevision(fromRevision, this.compacted);
    // History and registration in one synchronous step: no write can land in between. History
    // stops at the durable revision; later (committed, not yet durable) rows reach the watcher
    // through publishDurable, in order, once their fsync completes.
    const durable = this.group ? this.group.durableRevision : this.revision;
    const replay: WatchEvent[] =
      fromRevision === 0
        ? []
        : this.stmt.since
            .all({ ...rangeOf(prefix), from: fromRevision })
            .filter((r) => r.id <= durable)
            .map((r) => rowToEvent(fromRaw(r)));
    return this.hub.register(prefix, fromRevision === 0 ? durable : fromRevision, onEvent, replay);
  }

  async compact(revision: number): Promise<number> {
    this.assertOpen();
    checkPositiveInt('revision', revision);
    const target = Math.min(revision, this.revision);
    if (target <= this.compacted) return this.compacted;
    this.txCompact(target);
    this.compacted = target;
    return target;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // writes already committed get their fsync (and their callers an answer) before the close
    await this.group?.flush().catch(() => undefined);
    this.hub.closeAll();
    try {
      this.db.pragma('optimize');
    } finally {
      this.db.close();
      await this.wal?.handle.close().catch(() => undefined);
      this.wal = undefined;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
    if (this.group?.failed) throw this.group.failed;
  }

  /** `value`, once everything a read could have seen (up to `revision`) is durable */
  private async seen<T>(value: T, revision = this.revision): Promise<T> {
    if (this.group) await this.group.whenDurable(revision);
    return value;
  }

  /**
   * fdatasync of the WAL, on the thread pool. The handle is reopened if the WAL file was ever
   * replaced (a new inode): a sync of the old one would make nothing durable. SQLite removes
   * its WAL only when the last connection closes, and this store keeps its own open, so only
   * something outside podbay could replace it: the path is looked at (a stat on the event loop)
   * at most once per WAL_CHECK_MS, not once per group commit (~1,500 times in a 100-pod burst).
   */
  private async syncWal(): Promise<void> {
    const path = `${this.db.name}-wal`;
    const now = Date.now();
    if (!this.wal || now - this.wal.checked >= WAL_CHECK_MS) {
      const ino = statSync(path, { throwIfNoEntry: false })?.ino;
      if (this.wal && this.wal.ino === ino) this.wal.checked = now;
      else {
        await this.wal?.handle.close().catch(() => undefined);
        this.wal = undefined;
        const handle = await open(path, 'r');
        this.wal = { handle, ino: (await handle.stat()).ino, checked: now };
      }
    }
    await this.wal.handle.datasync();
  }

  /** rows up to `upTo` are durable: tell the watchers, in revision order */
  private publishDurable(upTo: number): void {
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.revision <= upTo) n++;
    const rows = this.pending.slice(0, n);
    this.pending = this.pending.slice(n);
    for (const row of rows) this.hub.publish(rowToEvent(row));
  }

  private insert(row: LogRow): void {
    this.stmt.insert.run(
      row.revision,
      row.key,
      row.created ? 1 : 0,
      row.deleted ? 1 : 0,
      row.createRevision,
      row.prevRevision,
      row.value,
      row.oldValue,
    );
  }

  /** After a commit: advance the counter; once durable, tell the watchers and the caller. */
  private async committed(row: LogRow): Promise<KeyValue> {
    this.revision = Math.max(this.revision, row.revision);
    if (!this.group) {
      this.hub.publish(rowToEvent(row));
      return rowToKeyValue(row);
    }
    this.pending.push(row);
    this.group.committedUpTo(row.revision);
    await this.group.whenDurable(row.revision);
    return rowToKeyValue(row);
  }
}
