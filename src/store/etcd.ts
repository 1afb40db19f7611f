/**
 * The store contract over a real etcd (v3 API, through the `etcd3` gRPC client), laid out as
 * kube-apiserver lays it: the key is the object's path (`/registry/pods/default/web`), the
 * value its JSON, and resourceVersion is etcd's own revision, so `etcdctl get --prefix
 * /registry` shows what an operator expects.
 *
 *   create   Txn(create_revision(key) == 0) put
 *   update   Txn(mod_revision(key) == expected, or key exists) put, else range -> Conflict/KeyNotFound
 *   delete   Txn(... same) delete(prev_kv)
 *   list     Range(prefix, limit, revision); `count` gives what remains
 *   watch    one Watch stream per watcher, prev_kv on, from fromRevision+1 (a start below the
 *            compacted revision -> Compacted); a broken stream resumes from the last event
 *   compact  Compaction(physical); compactedRevision() finds the lowest readable revision
 *
 * etcd's first revision is 1 (the empty store), not 0: an empty etcd reports currentRevision 1.
 */
import type { Etcd3, IOptions, IKeyValue, IWatchResponse } from 'etcd3';
import type * as RPC from 'etcd3/lib/rpc.js';
import { lazyModule } from '../lazy-module.js';
import { StoreError, type KeyValue, type ListOptions, type ListResult, type Store, type WatchEvent, type Watcher } from './types.js';

// loaded when an etcd store is opened: etcd3 brings gRPC and protobufjs, ~0.2 s and ~28 MB of a
// server that uses sqlite
const etcd3 = lazyModule<typeof import('etcd3')>('etcd3');
const rpc = lazyModule<typeof RPC>('etcd3/lib/rpc.js');

export interface EtcdStoreOptions {
  /** client URLs, e.g. ["http://127.0.0.1:2379"] */
  endpoints: string[];
  /** TLS client material (PEM), for etcd served over https with client certificates */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** per-call deadline in ms (default 10 s) */
  timeoutMs?: number;
}

/** etcd refuses an empty key: the empty prefix is the range from "\0" to the end */
function rangeStart(prefix: string): Buffer {
  return prefix === '' ? Buffer.from([0]) : Buffer.from(prefix);
}

function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i]++;
      return out;
    }
  }
  return Buffer.from([0]);
}

function toKV(kv: IKeyValue, modRevision?: number): KeyValue {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: modRevision ?? Number(kv.mod_revision),
  };
}

function isCompactedError(e: unknown): boolean {
  return e instanceof Error && /required revision has been compacted/.test(e.message);
}

function isFutureRevisionError(e: unknown): boolean {
  return e instanceof Error && /required revision is a future revision/.test(e.message);
}

export class EtcdStore implements Store {
  private readonly client: Etcd3;
  private readonly kv: RPC.KVClient;
  private readonly watchClient: RPC.WatchClient;
  private closed = false;
  /** the highest compacted revision seen (0: none); compaction never goes back */
  private knownCompacted = 0;
  private readonly watchers = new Set<{ cancel(): void }>();

  constructor(opts: EtcdStoreOptions) {
    const o: IOptions = {
      hosts: opts.endpoints,
      dialTimeout: opts.timeoutMs ?? 10_000,
      // every unary call has a deadline: a call on a channel to a member that died must fail
      // (and be retried on another), never hang; watch streams live until cancelled
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + (opts.timeoutMs ?? 10_000) }),
    };
    if (opts.tls) o.credentials = { rootCertificate: opts.tls.ca ?? Buffer.alloc(0), certChain: opts.tls.cert, privateKey: opts.tls.key };
    this.client = new (etcd3().Etcd3)(o);
    this.kv = this.client.kv;
    this.watchClient = new (rpc().WatchClient)((this.client as unknown as { pool: RPC.ICallable<unknown> }).pool);
  }

  private check(): void {
    if (this.closed) throw new StoreError('Closed', 'store is closed');
  }

  async currentRevision(): Promise<number> {
    this.check();
    const r = await this.kv.range({ key: Buffer.from([0]), count_only: true });
    return Number(r.header.revision);
  }

  /**
   * etcd answers a read below its compacted revision with an error that does not carry the
   * revision, and keeps it nowhere the KV API reads; the lowest readable revision is found by
   * bisection over count-only reads (a few cheap calls; compaction only moves forward, so the
   * last answer bounds the search).
   */
  async compactedRevision(): Promise<number> {
    this.check();
    const readable = async (rev: number) => {
      try {
        await this.kv.range({ key: Buffer.from([0]), count_only: true, revision: rev });
        return true;
      } catch (e) {
        if (isCompactedError(e)) return false;
        throw e;
      }
    };
    let lo = Math.max(1, this.knownCompacted);
    if (await readable(lo)) return this.knownCompacted;
    let hi = await this.currentRevision();
    // invariant: lo unreadable, hi readable
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await readable(mid)) hi = mid;
      else lo = mid;
    }
    this.knownCompacted = hi;
    return hi;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.check();
    const r = await this.kv.range({ key: Buffer.from(key) });
    return r.kvs.length ? toKV(r.kvs[0]) : undefined;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.check();
    const start = opts.startAfter !== undefined ? Buffer.concat([Buffer.from(opts.startAfter), Buffer.from([0])]) : rangeStart(prefix);
    let r: RPC.IRangeResponse;
    try {
      r = await this.kv.range({ key: start, range_end: prefixEnd(prefix), limit: opts.limit || 0, revision: opts.revision || 0 });
    } catch (e) {
      if (isCompactedError(e)) throw await this.compactedError();
      if (isFutureRevisionError(e)) throw new StoreError('Conflict', `revision ${opts.revision} is in the future`);
      throw e;
    }
    const items = r.kvs.map((kv) => toKV(kv));
    return { items, revision: opts.revision || Number(r.header.revision), remaining: Number(r.count) - items.length };
  }

  async count(prefix: string): Promise<number> {
    this.check();
    const r = await this.kv.range({ key: rangeStart(prefix), range_end: prefixEnd(prefix), count_only: true });
    return Number(r.count);
  }

  async create(key: string, value: string): Promise<KeyValue> {
    this.check();
    const k = Buffer.from(key);
    const r = await this.kv.txn({
      compare: [{ key: k, target: rpc().CompareTarget.Create, result: rpc().CompareResult.Equal, create_revision: 0 }],
      success: [{ request_put: { key: k, value: Buffer.from(value) } }],
      failure: [],
    });
    if (!r.succeeded) throw new StoreError('KeyExists', `key ${key} already exists`);
    const rev = Number(r.header.revision);
    return { key, value, createRevision: rev, modRevision: rev };
  }

  /** the compare of a conditional write: at `expected`, or merely existing */
  private guard(k: Buffer, expected?: number): RPC.ICompare {
    return expected !== undefined
      ? { key: k, target: rpc().CompareTarget.Mod, result: rpc().CompareResult.Equal, mod_revision: expected }
      : { key: k, target: rpc().CompareTarget.Create, result: rpc().CompareResult.Greater, create_revision: 0 };
  }

  private failed(key: string, r: RPC.ITxnResponse): StoreError {
    const kvs = r.responses[0]?.response_range?.kvs ?? [];
    if (kvs.length === 0) return new StoreError('KeyNotFound', `key ${key} not found`);
    const current = Number(kvs[0].mod_revision);
    return new StoreError('Conflict', `key ${key} is at revision ${current}`, current);
  }

  async update(key: string, value: string, expectedModRevision?: number): Promise<KeyValue> {
    this.check();
    const k = Buffer.from(key);
    const r = await this.kv.txn({
      compare: [this.guard(k, expectedModRevision)],
      success: [{ request_put: { key: k, value: Buffer.from(value), prev_kv: true } }],
      failure: [{ request_range: { key: k } }],
    });
    if (!r.succeeded) throw this.failed(key, r);
    const prev = r.responses[0].response_put.prev_kv;
    return { key, value, createRevision: Number(prev.create_revision), modRevision: Number(r.header.revision) };
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    this.check();
    const k = Buffer.from(key);
    const r = await this.kv.txn({
      compare: [this.guard(k, expectedModRevision)],
      success: [{ request_delete_range: { key: k, prev_kv: true } }],
      failure: [{ request_range: { key: k } }],
    });
    if (!r.succeeded) throw this.failed(key, r);
    const prev = r.responses[0].response_delete_range.prev_kvs[0];
    return toKV(prev, Number(r.header.revision));
  }

  private async compactedError(): Promise<StoreError> {
    const c = await this.compactedRevision();
    return new StoreError('Compacted', `the requested revision has been compacted (compacted revision ${c})`, c);
  }

  /**
   * Open a raw watch stream; resolves once etcd answered the create request: either created
   * (then `onResponse` gets every later response) or refused as compacted.
   */
  private openWatch(
    key: Buffer,
    rangeEnd: Buffer | undefined,
    startRevision: number,
    onResponse?: (res: IWatchResponse) => void,
    onEnd?: (err?: Error) => void,
  ): Promise<{ compacted?: number; close(): void }> {
    return new Promise((resolve, reject) => {
      this.watchClient
        .watch()
        .then((stream) => {
          let created = false;
          let ended = false;
          const close = () => {
            if (ended) return;
            ended = true;
            try {
              stream.end();
              stream.cancel?.();
            } catch {
              /* already gone */
            }
          };
          stream.on('data', (res: IWatchResponse) => {
            if (!created) {
              created = true;
              const compacted = Number(res.compact_revision ?? 0);
              if (res.canceled || compacted > 0) {
                close();
                resolve({ compacted: compacted || undefined, close });
                return;
              }
              resolve({ close });
              if (res.events?.length) onResponse?.(res);
              return;
            }
            if (res.canceled) {
              close();
              onEnd?.(new Error(`etcd cancelled the watch: ${res.cancel_reason || `compacted at ${res.compact_revision}`}`));
              return;
            }
            onResponse?.(res);
          });
          stream.on('error', (err: Error) => {
            if (!created) {
              created = true;
              reject(err);
            } else if (!ended) {
              ended = true;
              onEnd?.(err);
            }
          });
          stream.on('end', () => {
            if (!ended) {
              ended = true;
              onEnd?.();
            }
          });
          stream.write({ create_request: { key, range_end: rangeEnd, start_revision: startRevision, prev_kv: true } });
        })
        .catch(reject);
    });
  }

  async watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void, onError?: (err: Error) => void): Promise<Watcher> {
    this.check();
    if (fromRevision > 0) {
      try {
        await this.kv.range({ key: Buffer.from([0]), count_only: true, revision: fromRevision + 1 });
      } catch (e) {
        if (isCompactedError(e)) throw await this.compactedError();
        if (!isFutureRevisionError(e)) throw e;
      }
    }
    let last = fromRevision > 0 ? fromRevision : await this.currentRevision();
    let cancelled = false;
    let current: { close(): void } | undefined;
    const deliver = (res: IWatchResponse) => {
      for (const ev of res.events ?? []) {
        if (cancelled) return;
        const rev = Number(ev.kv.mod_revision);
        if (rev <= last) continue; // replayed after a reconnect
        last = rev;
        const prev = ev.prev_kv ? toKV(ev.prev_kv) : undefined;
        let out: WatchEvent;
        if (ev.type === 'Delete' || (ev.type as unknown) === rpc().EventType.Delete) {
          out = { type: 'DELETED', kv: { ...(prev ?? toKV(ev.kv)), modRevision: rev }, prev, revision: rev };
        } else {
          const kv = toKV(ev.kv);
          out = kv.createRevision === kv.modRevision ? { type: 'ADDED', kv, revision: rev } : { type: 'MODIFIED', kv, prev, revision: rev };
        }
        try {
          onEvent(out);
        } catch {
          /* a throwing consumer must not stop the stream */
        }
      }
    };
    const start = async (): Promise<void> => {
      const w = await this.withRetry(() => this.openWatch(rangeStart(prefix), prefixEnd(prefix), last + 1, deliver, (err) => {
        if (cancelled || this.closed) return;
        if (err && /compacted/.test(err.message)) {
          // history this watcher still needed is gone: its consumer must list again
          cancelled = true;
          this.watchers.delete(handle);
          onError?.(new StoreError('Compacted', err.message));
          return;
        }
        // the stream broke (an etcd member went away): resume from the last delivered revision
        setTimeout(() => {
          if (cancelled || this.closed) return;
          start().catch((e) => onError?.(e instanceof Error ? e : new Error(String(e))));
        }, 200);
        void err;
      }));
      if (w.compacted !== undefined) {
        throw new StoreError('Compacted', `the requested revision has been compacted (compacted revision ${w.compacted})`, w.compacted);
      }
      current = w;
      if (cancelled) w.close();
    };
    const handle = {
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        current?.close();
        this.watchers.delete(handle);
      },
    };
    await start();
    this.watchers.add(handle);
    return handle;
  }

  /**
   * A stream opened on a member that has just died fails before etcd answers; the pool then
   * marks that member failed, so a few more attempts reach a live one (unary calls get the same
   * from the client's own retry policy).
   */
  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await fn();
      } catch (e) {
        lastErr = e;
        if (!(e instanceof Error) || !/UNAVAILABLE|ECONNREFUSED|No connection/.test(e.message)) throw e;
        await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
      }
    }
    throw lastErr;
  }

  async compact(revision: number): Promise<number> {
    this.check();
    const current = await this.currentRevision();
    const target = Math.min(revision, current);
    const already = await this.compactedRevision();
    if (target <= already) return already;
    try {
      await this.kv.compact({ revision: target, physical: true });
    } catch (e) {
      if (!isCompactedError(e)) throw e;
    }
    return this.compactedRevision();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watchers]) w.cancel();
    this.client.close();
  }
}
