/**
 * An in-memory copy of one key prefix, kept current as an informer keeps its cache: one list,
 * then a watch from the list's revision. For configuration that requests read on every write
 * and that changes rarely (admission webhook configurations, namespaces): the request reads
 * memory instead of listing the store.
 *
 * Freshness: the watch is the only source of change, so a write made by another server on the
 * same store (etcd) is seen when its event arrives, as kube-apiserver's informers see it. With
 * the embedded stores the watch is delivered in this process before the write is acknowledged
 * (watch-hub.ts), so an acknowledged write is always in the copy. `waitFor(rev)` lets a writer
 * wait until its own write is in the copy (read-your-writes on etcd too).
 *
 * The copy starts on first use (`ready()`), so a server that never asks costs nothing. If the
 * watch ends on its own (etcd compacted the history it needed) the copy lists and watches again;
 * until then, and while the first list runs, `current()` answers undefined and the caller reads
 * the store, as before.
 */
import type { KeyValue, Store, Watcher } from './types.js';

/** frozen all the way down: a reader that modifies a shared value fails loudly instead of changing every later reader's copy */
export function deepFreeze<V>(v: V): V {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}

export class PrefixCache<V> {
  private items = new Map<string, V>();
  private sorted?: V[];
  private sortedEntries?: [string, V][];
  private watcher?: Watcher;
  private starting?: Promise<void>;
  private live = false;
  private stopped = false;
  /** the newest revision the copy reflects */
  private rev = 0;
  private waiters: { rev: number; resolve: () => void }[] = [];
  /** which watch is this copy's (events of an earlier one are dropped) */
  private generation = 0;

  constructor(
    private readonly store: Store,
    readonly prefix: string,
    private readonly decode: (kv: KeyValue) => V,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** the copy, starting it on first use; undefined while it is not (yet) following the store */
  async ready(): Promise<this | undefined> {
    if (this.live) return this;
    if (this.stopped) return undefined;
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    try {
      await this.starting;
    } catch (e) {
      this.log(`podbay: cache of ${this.prefix}: ${(e as Error).message}; reading the store meanwhile`);
      return undefined;
    }
    return this.live ? this : undefined;
  }

  /** the values in key order (shared, and frozen: they cannot be modified) */
  values(): V[] {
    return (this.sorted ??= this.entries().map(([, v]) => v));
  }

  /** the values whose keys start with `prefix` (a namespace's, say), in key order (shared when it is the copy's own prefix) */
  valuesUnder(prefix: string): V[] {
    if (prefix === this.prefix) return this.values();
    const e = this.entries();
    let lo = 0;
    let hi = e.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (e[mid]![0] < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: V[] = [];
    for (let i = lo; i < e.length && e[i]![0].startsWith(prefix); i++) out.push(e[i]![1]);
    return out;
  }

  private entries(): [string, V][] {
    return (this.sortedEntries ??= [...this.items.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }

  get(key: string): V | undefined {
    return this.items.get(key);
  }

  get revision(): number {
    return this.rev;
  }

  /** resolves once the copy reflects `revision` (or after `timeoutMs`, or when it stops following) */
  waitFor(revision: number, timeoutMs = 5000): Promise<void> {
    if (!this.live || this.rev >= revision) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { rev: revision, resolve };
      this.waiters.push(w);
      setTimeout(() => this.release(w), timeoutMs).unref();
    });
  }

  stop(): void {
    this.stopped = true;
    this.live = false;
    this.watcher?.cancel();
    this.watcher = undefined;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private release(w: { rev: number; resolve: () => void }): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    w.resolve();
  }

  private advance(revision: number): void {
    if (revision > this.rev) this.rev = revision;
    if (this.waiters.length === 0) return;
    for (const w of this.waiters.filter((x) => x.rev <= this.rev)) this.release(w);
  }

  private async start(): Promise<void> {
    const items = new Map<string, V>();
    let revision = 0;
    let startAfter: string | undefined;
    // pages at one revision, as the registry lists
    for (;;) {
      const page = await this.store.list(this.prefix, { limit: 500, startAfter, revision: revision || undefined });
      revision = page.revision;
      for (const kv of page.items) items.set(kv.key, deepFreeze(this.decode(kv)));
      if (page.remaining === 0 || page.items.length === 0) break;
      startAfter = page.items[page.items.length - 1]!.key;
    }
    if (this.stopped) return;
    this.items = items;
    this.sorted = this.sortedEntries = undefined;
    this.rev = revision;
    const generation = ++this.generation;
    const onEvent = (ev: { type: string; kv: KeyValue; revision: number }) => {
      if (generation !== this.generation) return; // a watch this copy has left
      if (ev.type === 'DELETED') this.items.delete(ev.kv.key);
      else this.items.set(ev.kv.key, deepFreeze(this.decode(ev.kv)));
      this.sorted = this.sortedEntries = undefined;
      this.advance(ev.revision);
    };
    const onError = (e: Error) => {
      if (generation !== this.generation) return;
      // the watch is gone (history compacted under it): list and watch again on next use
      this.generation++;
      this.live = false;
      this.watcher?.cancel();
      this.watcher = undefined;
      this.log(`podbay: cache of ${this.prefix}: the watch ended (${e.message}); listing again`);
      for (const w of this.waiters.splice(0)) w.resolve();
    };
    this.watcher = await this.store.watch(this.prefix, revision, onEvent, onError);
    if (this.stopped) {
      this.watcher.cancel();
      return;
    }
    this.live = true;
  }
}
