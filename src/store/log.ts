/**
 * Pieces shared by both store backends: the shape of one row of the revision log, how a row
 * becomes a watch event, and key/prefix helpers. Internal to src/store.
 */

import { StoreError, type KeyValue, type WatchEvent } from './types.js';

/**
 * One write in the revision log (a row of the sqlite `kv` table, an element of the memory log).
 * A row carries the previous value too (`oldValue`), so that it can be turned into a complete
 * watch event even after compaction removed the row it superseded.
 */
export interface LogRow {
  /** the revision of this write (sqlite: the row id) */
  revision: number;
  key: string;
  /** this write created the key (a new incarnation) */
  created: boolean;
  /** this write is a delete (tombstone); `value` is then the last live value */
  deleted: boolean;
  createRevision: number;
  /** the revision of the row this one supersedes (0 if none) */
  prevRevision: number;
  value: string;
  /** the value of the superseded row, for MODIFIED and DELETED (null for creates) */
  oldValue: string | null;
}

export function rowToKeyValue(row: LogRow): KeyValue {
  return { key: row.key, value: row.value, createRevision: row.createRevision, modRevision: row.revision };
}

export function rowToEvent(row: LogRow): WatchEvent {
  const kv = rowToKeyValue(row);
  if (row.created) return { type: 'ADDED', kv, revision: row.revision };
  const prev: KeyValue = {
    key: row.key,
    value: row.oldValue ?? '',
    createRevision: row.createRevision,
    modRevision: row.prevRevision,
  };
  return { type: row.deleted ? 'DELETED' : 'MODIFIED', kv, prev, revision: row.revision };
}

export function hasPrefix(key: string, prefix: string): boolean {
  return prefix === '' || key.startsWith(prefix);
}

/** Key order shared by both backends (plain string order; equal to SQLite's for ASCII keys). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function closedError(): StoreError {
  return new StoreError('Closed', 'store is closed');
}

export function compactedError(requested: number, compacted: number): StoreError {
  return new StoreError(
    'Compacted',
    `revision ${requested} has been compacted (oldest available revision is ${compacted})`,
    compacted,
  );
}

export function conflictError(key: string, expected: number, current: number): StoreError {
  return new StoreError(
    'Conflict',
    `${key}: expected revision ${expected} but the current revision is ${current}`,
    current,
  );
}

export function notFoundError(key: string): StoreError {
  return new StoreError('KeyNotFound', `${key} not found`);
}

export function existsError(key: string, current: number): StoreError {
  return new StoreError('KeyExists', `${key} already exists`, current);
}

/**
 * The watch rule of the contract: events with revision > fromRevision must all still be in the
 * log, i.e. fromRevision + 1 >= compacted. 0 means "only new events" and is always allowed.
 */
export function checkWatchRevision(fromRevision: number, compacted: number): void {
  if (fromRevision !== 0 && fromRevision < compacted - 1) throw compactedError(fromRevision, compacted);
}

/** The list rule: listing as of `revision` needs revision >= compacted. */
export function checkListRevision(revision: number, compacted: number): void {
  if (revision !== 0 && revision < compacted) throw compactedError(revision, compacted);
}

export function checkPositiveInt(name: string, n: number | undefined): void {
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) {
    throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
  }
}
