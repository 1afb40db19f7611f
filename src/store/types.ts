/**
 * The store contract: a revisioned key-value log with watch, modelled on kine/etcd.
 *
 * - Every write (create, update, delete) gets the next global revision (a positive integer,
 *   strictly increasing, never reused). The apiserver exposes it as `metadata.resourceVersion`.
 * - Values are opaque JSON strings; the store never looks inside them.
 * - Deletes are tombstones in the log: a watch from an older revision still sees them.
 * - `compact(rev)` forgets history below `rev` (the latest live value of every key is kept);
 *   asking to list at, or watch from, a revision older than the compacted one throws
 *   `StoreError('Compacted')`, which the apiserver renders as 410 Gone / Expired.
 *   (etcd also drops a delete made exactly at the compacted revision from a watch's replay.)
 * - Watch delivers every event with revision > `fromRevision` for keys under the prefix, in
 *   revision order, exactly once, with no gap between history replay and live events.
 *
 * Keys look like `/registry/pods/default/nginx` (namespaced) or `/registry/nodes/vm`; a prefix
 * ending in `/` selects a subtree.
 */

export interface KeyValue {
  key: string;
  value: string;
  /** revision of the write that created this key's current incarnation */
  createRevision: number;
  /** revision of the last write to this key (the resourceVersion) */
  modRevision: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  /** for DELETED: the last value, with modRevision = the revision of the delete */
  kv: KeyValue;
  /** the value before this event (undefined for ADDED) */
  prev?: KeyValue;
  revision: number;
}

export interface ListOptions {
  /** at most this many items (0 or undefined: all) */
  limit?: number;
  /** only keys strictly greater than this one (for continue tokens) */
  startAfter?: string;
  /** list as of this revision (0/undefined: current). Older than compacted -> Compacted error. */
  revision?: number;
}

export interface ListResult {
  items: KeyValue[];
  /** the revision the list reflects */
  revision: number;
  /** number of keys under the prefix after the last returned one (0 when complete) */
  remaining: number;
}

export interface Watcher {
  /** stop delivering events; idempotent */
  cancel(): void;
}

export type StoreErrorCode = 'KeyExists' | 'KeyNotFound' | 'Conflict' | 'Compacted' | 'Closed';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** for Compacted: the compacted revision; for Conflict: the current modRevision */
    readonly revision?: number,
  ) {
    super(message);
    this.name = `StoreError(${code})`;
  }
}

export interface Store {
  /** the newest revision written (0 for an empty store) */
  currentRevision(): Promise<number>;
  /** the oldest revision still watchable/listable (history below it is compacted) */
  compactedRevision(): Promise<number>;

  get(key: string): Promise<KeyValue | undefined>;
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** number of live keys under the prefix */
  count(prefix: string): Promise<number>;

  /** throws KeyExists */
  create(key: string, value: string): Promise<KeyValue>;
  /**
   * Replace the value. With `expectedModRevision`, throws Conflict unless it equals the key's
   * current modRevision. Throws KeyNotFound when the key does not exist.
   */
  update(key: string, value: string, expectedModRevision?: number): Promise<KeyValue>;
  /**
   * Delete; returns the deleted KeyValue with modRevision = the delete's revision.
   * With `expectedModRevision`, throws Conflict unless it matches. Throws KeyNotFound.
   */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>;

  /**
   * Deliver events for keys under `prefix` with revision > fromRevision (0 = only new events).
   * Throws Compacted (synchronously via rejected promise) if fromRevision < compactedRevision - 1.
   * `onEvent` is called in revision order; the store never calls it after `cancel()`.
   * `onError`: the watch ended on its own (etcd: the history it still needed was compacted while
   * it reconnected); the consumer must list again. The embedded stores never end a watch.
   */
  watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void, onError?: (err: Error) => void): Promise<Watcher>;

  /** drop history below `revision` (keeping each key's latest state); returns the compacted revision */
  compact(revision: number): Promise<number>;

  close(): Promise<void>;
}
