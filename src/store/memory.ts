/**
 * MemoryStore: the store contract kept in process memory, for unit tests of other rooms.
 * It keeps the same revision log as SqliteStore (an array of rows, oldest first) plus a map of
 * the live rows, and shares the watch hub, so it behaves the same way, just without a file.
 * Listing sorts the matching keys on every call; fine for tests, not tuned for big data.
 */

import {
  checkListRevision,
  checkPositiveInt,
  checkWatchRevision,
  closedError,
  compareKeys,
  conflictError,
  existsError,
  hasPrefix,
  notFoundError,
  rowToEvent,
  rowToKeyValue,
  type LogRow,
} from './log.js';
import type { KeyValue, ListOptions, ListResult, Store, WatchEvent, Watcher } from './types.js';
import { WatchHub } from './watch-hub.js';

export class MemoryStore implements Store {
  /** every retained write, in revision order */
  private log: LogRow[] = [];
  /** the latest row of each live key */
  private readonly live = new Map<string, LogRow>();
  private revision = 0;
  private compacted = 0;
  private closed = false;
  private readonly hub = new WatchHub();

  async currentRevision(): Promise<number> {
    this.assertOpen();
    return this.revision;
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    return this.compacted;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen();
    const row = this.live.get(key);
    return row && rowToKeyValue(row);
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    checkPositiveInt('limit', opts.limit);
    checkPositiveInt('revision', opts.revision);
    const at = opts.revision ? Math.min(opts.revision, this.revision) : this.revision;
    checkListRevision(opts.revision ?? 0, this.compacted);

    const rows = at === this.revision ? [...this.live.values()] : this.stateAt(at);
    const after = opts.startAfter;
    const matching = rows
      .filter((r) => hasPrefix(r.key, prefix) && (after === undefined || r.key > after))
      .sort((a, b) => compareKeys(a.key, b.key));
    const limit = opts.limit || matching.length;
    const items = matching.slice(0, limit).map(rowToKeyValue);
    return { items, revision: at, remaining: matching.length - items.length };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    let n = 0;
    for (const key of this.live.keys()) if (hasPrefix(key, prefix)) n++;
    return n;
  }

  async create(key: string, value: string): Promise<KeyValue> {
    this.assertOpen();
    const cur = this.live.get(key);
    if (cur) throw existsError(key, cur.revision);
    const revision = this.revision + 1;
    return this.append({
      revision,
      key,
      created: true,
      deleted: false,
      createRevision: revision,
      prevRevision: 0,
      value,
      oldValue: null,
    });
  }

  async update(key: string, value: string, expectedModRevision?: number): Promise<KeyValue> {
    this.assertOpen();
    const cur = this.current(key, expectedModRevision);
    return this.append({
      revision: this.revision + 1,
      key,
      created: false,
      deleted: false,
      createRevision: cur.createRevision,
      prevRevision: cur.revision,
      value,
      oldValue: cur.value,
    });
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    this.assertOpen();
    const cur = this.current(key, expectedModRevision);
    return this.append({
      revision: this.revision + 1,
      key,
      created: false,
      deleted: true,
      createRevision: cur.createRevision,
      prevRevision: cur.revision,
      value: cur.value,
      oldValue: cur.value,
    });
  }

  async watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void): Promise<Watcher> {
    this.assertOpen();
    checkPositiveInt('fromRevision', fromRevision);
    checkWatchRevision(fromRevision, this.compacted);
    // Replay and registration happen in this one synchronous step (see watch-hub.ts).
    const replay: WatchEvent[] = [];
    if (fromRevision !== 0) {
      for (let i = this.firstIndexAfter(fromRevision); i < this.log.length; i++) {
        const row = this.log[i]!;
        if (hasPrefix(row.key, prefix)) replay.push(rowToEvent(row));
      }
    }
    return this.hub.register(prefix, fromRevision === 0 ? this.revision : fromRevision, onEvent, replay);
  }

  async compact(revision: number): Promise<number> {
    this.assertOpen();
    checkPositiveInt('revision', revision);
    const target = Math.min(revision, this.revision);
    if (target <= this.compacted) return this.compacted;
    // Keep every row at or above target, plus each key's last row below it unless that row is a
    // tombstone: exactly what listing as of any revision >= target needs.
    const lastBelow = new Map<string, LogRow>();
    for (const row of this.log) {
      if (row.revision >= target) break;
      lastBelow.set(row.key, row);
    }
    this.log = this.log.filter(
      (row) => row.revision >= target || (!row.deleted && lastBelow.get(row.key) === row),
    );
    this.compacted = target;
    return target;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.closeAll();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }

  /** The live row of `key`, checking existence and the optimistic-concurrency precondition. */
  private current(key: string, expectedModRevision: number | undefined): LogRow {
    const cur = this.live.get(key);
    if (!cur) throw notFoundError(key);
    if (expectedModRevision !== undefined && expectedModRevision !== cur.revision) {
      throw conflictError(key, expectedModRevision, cur.revision);
    }
    return cur;
  }

  private append(row: LogRow): KeyValue {
    this.log.push(row);
    this.revision = row.revision;
    if (row.deleted) this.live.delete(row.key);
    else this.live.set(row.key, row);
    this.hub.publish(rowToEvent(row));
    return rowToKeyValue(row);
  }

  /** live rows as of `revision`, rebuilt from the log */
  private stateAt(revision: number): LogRow[] {
    const state = new Map<string, LogRow>();
    for (const row of this.log) {
      if (row.revision > revision) break;
      if (row.deleted) state.delete(row.key);
      else state.set(row.key, row);
    }
    return [...state.values()];
  }

  /** index of the first log row with revision > rev (binary search; the log is sorted) */
  private firstIndexAfter(rev: number): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.log[mid]!.revision <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
