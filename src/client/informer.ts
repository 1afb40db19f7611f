/**
 * An informer, as client-go's SharedIndexInformer (and @kubernetes/client-node's) behaves:
 * list, then watch from the list's resourceVersion; keep a cache of the objects, indexed by
 * namespace/name and by any custom index; tell handlers what was added, updated and deleted.
 *
 *   start ──> list ──> replace cache (add/update/delete handlers for the difference) ──> synced
 *              ^          │
 *              │          v
 *              │        watch from the last resourceVersion ──events──> cache + handlers
 *              │          │ ended (timeout, connection closed)      -> watch again from there
 *              └──────────┤ ERROR event (410 Expired: too old; any other) or a failed watch
 *                         │                                          -> list again
 *                         └ both with exponential backoff (800 ms doubling to 30 s, as client-go),
 *                           reset by a watch that lived long enough
 *
 * Every resync period each cached object is handed to `update(obj, obj)` (client-go's resync),
 * so a handler that missed an effect gets another chance. Handlers run in event order, one at a
 * time; one that throws is logged and does not stop the others.
 */
import { ApiError } from '../api/errors.js';
import type { ResourceInfo } from '../api/registry.js';
import type { Client, KubeObject, Obj, Watch, WatchEventOut } from './types.js';

export interface EventHandlers<T> {
  add?(obj: T): void;
  /** also on resync, with old === new */
  update?(old: T, obj: T): void;
  /** `obj` is the final state: the DELETED event's object, or after a relist the last one cached */
  delete?(obj: T): void;
}

/** namespace/name (name alone for a cluster-scoped object), client-go's MetaNamespaceKeyFunc */
export function objectKey(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : m.name ?? '';
}

export type IndexFunc<T> = (obj: T) => string[];

/** The index every informer has: by namespace (client-go's cache.NamespaceIndex). */
export const NAMESPACE_INDEX = 'namespace';

export interface InformerOptions<T> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** 0 or absent: no resync */
  resyncPeriodMs?: number;
  indexers?: Record<string, IndexFunc<T>>;
  /** first backoff delay and its cap (defaults 800 ms and 30 s) */
  backoffMs?: { initial: number; max: number };
  log?: (line: string) => void;
}

/** A watch that lived this long was healthy: the next failure starts the backoff from the beginning. */
const HEALTHY_WATCH_MS = 10_000;

/**
 * The cache: objects by key, plus the indexes. Read-only to users of the informer: in-process,
 * an object that came from a watch may be deep-frozen and shared with the kind's other
 * informers, so a user copies (structuredClone) what it means to change.
 */
export class Indexer<T> {
  private readonly items = new Map<string, T>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(private readonly indexers: Record<string, IndexFunc<T>>) {
    for (const name of Object.keys(indexers)) this.indices.set(name, new Map());
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  /** by namespace and name (name alone for cluster-scoped) */
  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  /** the objects whose index `index` yields `value` */
  byIndex(index: string, value: string): T[] {
    const idx = this.indices.get(index);
    if (!idx) throw new Error(`no index named ${JSON.stringify(index)}: the informer has ${[...this.indices.keys()].join(', ')}`);
    return [...(idx.get(value) ?? [])].map((k) => this.items.get(k)!).filter(Boolean);
  }

  /** @internal the informer's writes */
  set(key: string, obj: T): void {
    this.unindex(key);
    this.items.set(key, obj);
    for (const [name, fn] of Object.entries(this.indexers)) {
      const idx = this.indices.get(name)!;
      for (const v of fn(obj)) {
        let s = idx.get(v);
        if (!s) idx.set(v, (s = new Set()));
        s.add(key);
      }
    }
  }

  /** @internal */
  remove(key: string): void {
    this.unindex(key);
    this.items.delete(key);
  }

  private unindex(key: string): void {
    const old = this.items.get(key);
    if (old === undefined) return;
    for (const [name, fn] of Object.entries(this.indexers)) {
      const idx = this.indices.get(name)!;
      for (const v of fn(old)) {
        const s = idx.get(v);
        s?.delete(key);
        if (s?.size === 0) idx.delete(v);
      }
    }
  }
}

export class Informer<T extends KubeObject = Obj> {
  readonly cache: Indexer<T>;
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly log: (line: string) => void;
  private resourceVersion = '';
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  private stopped = true;
  private watch?: Watch;
  private retryTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private backoff = 0;
  /** bumped by every (re)start of the loop: callbacks of an older generation are ignored */
  private generation = 0;
  /** lists done, for tests and diagnostics */
  lists = 0;

  constructor(
    private readonly client: Client,
    private readonly r: ResourceInfo,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.cache = new Indexer<T>({ [NAMESPACE_INDEX]: (o) => [o.metadata?.namespace ?? ''], ...(opts.indexers ?? {}) });
    this.log = opts.log ?? (() => {});
  }

  addEventHandler(h: EventHandlers<T>): void {
    this.handlers.push(h);
    // a handler added late hears of what is already there, as in client-go
    if (this.synced) for (const o of this.cache.list()) this.call('add', () => h.add?.(o));
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** resolves once the first list is in the cache */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((res) => this.syncWaiters.push(res));
  }

  /** Start listing and watching; resolves when the cache has synced. */
  async start(): Promise<void> {
    if (!this.stopped) return this.waitForSync();
    this.stopped = false;
    if (this.opts.resyncPeriodMs) this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncPeriodMs);
    void this.relist(++this.generation);
    return this.waitForSync();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.watch?.cancel();
    this.watch = undefined;
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
  }

  /** the resourceVersion the cache reflects */
  lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  private call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log(`informer ${this.r.resource}: ${what} handler failed: ${(e as Error)?.stack ?? e}`);
    }
  }

  private resync(): void {
    for (const o of this.cache.list()) for (const h of this.handlers) this.call('update', () => h.update?.(o, o));
  }

  private retry(gen: number, step: (gen: number) => Promise<void>, why: string): void {
    if (gen !== this.generation || this.stopped) return;
    const { initial, max } = this.opts.backoffMs ?? { initial: 800, max: 30_000 };
    this.backoff = this.backoff ? Math.min(max, this.backoff * 2) : initial;
    this.log(`informer ${this.r.resource}: ${why}; retrying in ${this.backoff} ms`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void step.call(this, gen), this.backoff);
  }

  private async relist(gen: number): Promise<void> {
    if (gen !== this.generation || this.stopped) return;
    let list;
    try {
      this.lists++;
      list = await this.client.resource<T>(this.r).list(this.opts.namespace, { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector });
    } catch (e) {
      return this.retry(gen, this.relist, `list failed: ${(e as Error).message}`);
    }
    if (gen !== this.generation || this.stopped) return;
    this.replace(list.items);
    this.resourceVersion = list.metadata.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    await this.rewatch(gen);
  }

  /** the cache becomes the list: handlers hear the difference */
  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const o of items) {
      const key = objectKey(o);
      seen.add(key);
      this.upsert(key, o);
    }
    for (const key of this.cache.keys()) {
      if (seen.has(key)) continue;
      const old = this.cache.get(key)!;
      this.cache.remove(key);
      for (const h of this.handlers) this.call('delete', () => h.delete?.(old));
    }
  }

  private upsert(key: string, o: T): void {
    const old = this.cache.get(key);
    this.cache.set(key, o);
    if (old === undefined) {
      for (const h of this.handlers) this.call('add', () => h.add?.(o));
    } else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) {
      for (const h of this.handlers) this.call('update', () => h.update?.(old, o));
    }
  }

  private async rewatch(gen: number): Promise<void> {
    if (gen !== this.generation || this.stopped) return;
    const started = Date.now();
    let done = false;
    // what ends this watch decides the next step; only the first ending counts
    const finish = (next: 'relist' | 'rewatch', why: string) => {
      if (done || gen !== this.generation || this.stopped) return;
      done = true;
      this.watch?.cancel();
      this.watch = undefined;
      if (Date.now() - started >= HEALTHY_WATCH_MS) this.backoff = 0;
      const step = next === 'relist' ? this.relist : this.rewatch;
      // a watch that simply ended (server timeout) is resumed at once, as client-go does
      if (next === 'rewatch' && !why) return void this.rewatch(gen);
      this.retry(gen, step, why);
    };
    try {
      const w = await this.client.resource<T>(this.r).watch(
        this.opts.namespace,
        { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
        {
          event: (ev) => {
            if (done || gen !== this.generation) return;
            if (ev.type === 'ERROR') {
              const status = ev.object;
              finish('relist', status.code === 410 ? `watch expired (${status.message}): listing again` : `watch error ${status.code}: ${status.message}`);
              return;
            }
            this.apply(ev);
          },
          end: (err) => finish('rewatch', err ? `watch closed: ${err.message}` : ''),
          // the cache is read-only to the informer's users: in-process, a change's object may be
          // shared (deep-frozen) with the other informers of the kind
          readOnly: true,
        },
      );
      if (done || gen !== this.generation || this.stopped) w.cancel();
      else this.watch = w;
    } catch (e) {
      if (e instanceof ApiError && e.code === 410) return finish('relist', `watch expired (${e.message}): listing again`);
      finish('relist', `watch failed: ${(e as Error).message}`);
    }
  }

  private apply(ev: WatchEventOut): void {
    const o = ev.object as unknown as T;
    if (o.metadata?.resourceVersion) this.resourceVersion = o.metadata.resourceVersion;
    if (ev.type === 'BOOKMARK') return;
    const key = objectKey(o);
    if (ev.type === 'DELETED') {
      this.cache.remove(key);
      for (const h of this.handlers) this.call('delete', () => h.delete?.(o));
      return;
    }
    this.upsert(key, o);
  }
}
