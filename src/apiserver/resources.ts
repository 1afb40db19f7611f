/**
 * The generic registry: Kubernetes object semantics on top of the revisioned store, with no
 * HTTP in it (the HTTP edge is server.ts). One instance serves every kind in src/api/registry.ts.
 *
 *   create:  meta (uid, creationTimestamp, generation, generateName) -> defaults -> validate -> store.create
 *   update:  carry over system fields and the other half of spec/status -> defaults -> validate
 *            update -> store.update(expected = the resourceVersion the client sent)
 *   patch:   read, apply patch, then as update (retrying on a write race when the client sent
 *            no resourceVersion of its own)
 *   delete:  pods bound to a node, and objects with finalizers, are marked (deletionTimestamp)
 *            and go when the node confirms with grace 0 or the finalizers are gone; the rest go
 *            at once. Namespaces empty themselves first (see finalizeNamespace).
 *
 * Stored values carry no resourceVersion: it is the store's modRevision, set on every read.
 */
import { randomUUID } from 'node:crypto';
import type { Store, KeyValue, WatchEvent, Watcher } from '../store/types.js';
import { StoreError } from '../store/types.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  gone,
  invalid,
  notFound,
  STALE_OBJECT_MESSAGE,
  tooLarge,
  type FieldError,
} from '../api/errors.js';
import { parseResourceVersion } from './query.js';
import { RESOURCES, apiVersionOf, resourceInfo, storageKey, type ResourceInfo } from '../api/registry.js';
import { defaultObject } from '../api/defaults/index.js';
import { validateCreate, validateUpdate, validateStatusUpdate } from '../api/validation/index.js';
import { applyPatch } from '../api/patch/index.js';
import { schemas } from '../api/schema.js';
import { parseLabelSelector, type LabelSelector } from '../api/selectors/labels.js';
import { fieldSelector } from '../api/selectors/fields.js';

export type Obj = Record<string, any>;

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface WatchQuery extends ListQuery {
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
}

export interface WriteOptions {
  dryRun?: boolean;
}

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
}

export type WatchEventOut =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: Obj }
  | { type: 'ERROR'; object: Obj };

const NAMESPACE_INFO = resourceInfo('namespaces')!;
export const PROTECTED_NAMESPACES = ['default', 'kube-system', 'kube-public'];

function clone<T>(o: T): T {
  return structuredClone(o);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** generateName suffix: 5 characters from the alphabet apimachinery uses (no vowels, no 0/1/3). */
const GEN_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
function generateSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += GEN_ALPHABET[Math.floor(Math.random() * GEN_ALPHABET.length)];
  return s;
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const parseRv = parseResourceVersion;

/**
 * etcd's default --max-request-bytes (1.5 MiB): kube-apiserver cannot store a bigger object and
 * answers 413 (kubernetes#74600 turned etcd's "request is too large" from a 500 into a 413,
 * errors.NewRequestEntityTooLargeError: "Request entity too large: " + etcd's message).
 * podbay measures the JSON it stores.
 */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;

/** the stored form of `obj`, or 413 when it is over etcd's limit */
function sized(value: string): string {
  if (Buffer.byteLength(value) > MAX_OBJECT_BYTES) throw tooLarge('Request entity too large: etcdserver: request is too large');
  return value;
}

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

function encodeContinue(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: lastKey })).toString('base64url');
}

function decodeContinue(token: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ContinueToken;
    if (t.v !== 'meta.k8s.io/v1' || typeof t.rv !== 'number' || typeof t.start !== 'string') throw new Error('bad');
    return t;
  } catch {
    throw badRequest(`invalid continue token ${JSON.stringify(token)}: start the list again without the continue parameter`);
  }
}

const TOO_OLD_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

/** A filter made of a label selector and a field selector for one kind. */
class Filter {
  private readonly labels?: LabelSelector;
  private readonly fields?: { matches(obj: Obj): boolean };
  constructor(r: ResourceInfo, q: ListQuery) {
    if (q.labelSelector) this.labels = parseLabelSelector(q.labelSelector);
    if (q.fieldSelector) this.fields = fieldSelector(r.kind, q.fieldSelector);
  }
  get empty(): boolean {
    return !this.labels && !this.fields;
  }
  matches(obj: Obj): boolean {
    if (this.labels && !this.labels.matches(obj.metadata?.labels ?? {})) return false;
    if (this.fields && !this.fields.matches(obj)) return false;
    return true;
  }
}

export class ResourceService {
  /** called after a pod is marked for graceful deletion or a namespace starts terminating */
  private readonly namespaceFinalizers = new Set<string>();

  constructor(readonly store: Store) {}

  // ---------------------------------------------------------------- reading

  private decode(r: ResourceInfo, kv: KeyValue): Obj {
    const obj = JSON.parse(kv.value) as Obj;
    obj.kind = r.kind;
    obj.apiVersion = apiVersionOf(r);
    obj.metadata = obj.metadata ?? {};
    obj.metadata.resourceVersion = String(kv.modRevision);
    return obj;
  }

  private encode(obj: Obj): string {
    const o = { ...obj, metadata: { ...obj.metadata } };
    delete o.metadata.resourceVersion;
    return JSON.stringify(o);
  }

  private key(r: ResourceInfo, ns: string | undefined, name: string): string {
    return storageKey(r, r.namespaced ? ns : undefined, name);
  }

  async get(r: ResourceInfo, ns: string | undefined, name: string): Promise<Obj> {
    const kv = await this.store.get(this.key(r, ns, name));
    if (!kv) throw notFound(r.resource, name, r.group);
    return this.decode(r, kv);
  }

  async tryGet(r: ResourceInfo, ns: string | undefined, name: string): Promise<Obj | undefined> {
    const kv = await this.store.get(this.key(r, ns, name));
    return kv ? this.decode(r, kv) : undefined;
  }

  async list(r: ResourceInfo, ns: string | undefined, q: ListQuery = {}): Promise<Obj> {
    const filter = new Filter(r, q);
    const prefix = storageKey(r, r.namespaced ? ns : undefined);
    const limit = q.limit && q.limit > 0 ? q.limit : 0;
    let revision: number | undefined;
    let startAfter: string | undefined;
    if (q.continue) {
      const t = decodeContinue(q.continue);
      revision = t.rv;
      startAfter = t.start;
    } else if (q.resourceVersionMatch === 'Exact') {
      revision = parseRv(q.resourceVersion);
      if (revision === undefined) throw badRequest('resourceVersionMatch "Exact" requires a resourceVersion');
    } else {
      parseRv(q.resourceVersion);
    }

    const items: Obj[] = [];
    let listRevision = revision ?? 0;
    let lastKey: string | undefined;
    let remaining = 0;
    // Page through the store until `limit` matching items are found (selectors may skip many).
    for (;;) {
      let res;
      try {
        const chunk = limit ? Math.max(limit - items.length, filter.empty ? 0 : 100) : 0;
        res = await this.store.list(prefix, { limit: chunk, startAfter, revision: listRevision || undefined });
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Compacted') {
          throw q.continue ? gone(TOO_OLD_CONTINUE) : gone(`too old resource version: ${revision} (${e.revision})`);
        }
        throw e;
      }
      listRevision = res.revision;
      for (const kv of res.items) {
        lastKey = kv.key;
        const obj = this.decode(r, kv);
        if (!filter.matches(obj)) continue;
        if (limit && items.length === limit) {
          // one match past the page: there is more to list
          remaining = -1;
          break;
        }
        delete obj.kind;
        delete obj.apiVersion;
        items.push(obj);
      }
      if (remaining === -1) break;
      if (res.remaining === 0 || res.items.length === 0) {
        remaining = 0;
        break;
      }
      startAfter = lastKey;
      if (limit && items.length === limit) {
        remaining = res.remaining;
        break;
      }
    }

    const metadata: Obj = { resourceVersion: String(listRevision) };
    if (limit && remaining !== 0 && items.length > 0) {
      const last = items[items.length - 1];
      metadata.continue = encodeContinue(listRevision, this.key(r, last.metadata.namespace, last.metadata.name));
      if (remaining > 0 && filter.empty) metadata.remainingItemCount = remaining;
    }
    return { kind: r.listKind, apiVersion: apiVersionOf(r), metadata, items };
  }

  /**
   * Watch, as kube-apiserver serves it: without a resourceVersion (or "0", or with
   * sendInitialEvents) the current objects come first as ADDED; from a given resourceVersion only
   * later changes come. Objects moving into or out of the selectors show up as ADDED/DELETED.
   * A revision that is already compacted yields one ERROR event (410 Expired) and the end.
   */
  async watch(
    r: ResourceInfo,
    ns: string | undefined,
    q: WatchQuery,
    emit: (ev: WatchEventOut) => void,
    onEnd: () => void,
  ): Promise<{ cancel(): void; lastRevision(): number }> {
    const filter = new Filter(r, q);
    const prefix = storageKey(r, r.namespaced ? ns : undefined);
    let from: number;
    let last = 0;
    const rv = parseRv(q.resourceVersion);
    if (q.sendInitialEvents && q.resourceVersionMatch !== 'NotOlderThan') {
      throw new ApiError(422, 'Invalid', 'resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan', {
        causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan', field: 'resourceVersionMatch' }],
      });
    }
    const initial = q.sendInitialEvents === true || (q.sendInitialEvents === undefined && (rv === undefined || rv === 0));
    if (initial) {
      const list = await this.list(r, ns, { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector });
      from = Number(list.metadata.resourceVersion);
      for (const item of list.items as Obj[]) {
        item.kind = r.kind;
        item.apiVersion = apiVersionOf(r);
        emit({ type: 'ADDED', object: item });
      }
      last = from;
      if (q.sendInitialEvents && q.allowWatchBookmarks) {
        emit({
          type: 'BOOKMARK',
          object: {
            kind: r.kind,
            apiVersion: apiVersionOf(r),
            metadata: { resourceVersion: String(from), annotations: { 'k8s.io/initial-events-end': 'true' } },
          },
        });
      }
    } else {
      from = rv ?? 0;
      last = from;
    }

    let watcher: Watcher;
    try {
      watcher = await this.store.watch(prefix, from, (ev: WatchEvent) => {
        last = ev.revision;
        const obj = this.decode(r, ev.kv);
        const now = filter.matches(obj);
        if (ev.type === 'ADDED') {
          if (now) emit({ type: 'ADDED', object: obj });
          return;
        }
        const before = ev.prev ? filter.matches(this.decode(r, ev.prev)) : false;
        if (ev.type === 'DELETED') {
          if (before || now) emit({ type: 'DELETED', object: obj });
          return;
        }
        if (before && now) emit({ type: 'MODIFIED', object: obj });
        else if (!before && now) emit({ type: 'ADDED', object: obj });
        else if (before && !now) emit({ type: 'DELETED', object: obj });
      });
    } catch (e) {
      if (e instanceof StoreError && e.code === 'Compacted') {
        emit({ type: 'ERROR', object: gone(`too old resource version: ${from} (${e.revision})`).toStatus() });
        onEnd();
        return { cancel() {}, lastRevision: () => last };
      }
      throw e;
    }
    return { cancel: () => watcher.cancel(), lastRevision: () => last };
  }

  // ---------------------------------------------------------------- writing

  private async requireNamespace(r: ResourceInfo, ns: string | undefined, name: string, creating: boolean): Promise<void> {
    if (!r.namespaced) return;
    if (!ns) throw badRequest('the namespace of the object must be set: add metadata.namespace or use a namespaced URL');
    const nsObj = await this.tryGet(NAMESPACE_INFO, undefined, ns);
    if (!nsObj) throw notFound('namespaces', ns);
    if (creating && nsObj.metadata.deletionTimestamp) {
      throw forbidden(
        `${r.resource} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
      );
    }
  }

  private checkInvalid(r: ResourceInfo, name: string, errs: FieldError[]): void {
    if (errs.length) throw invalid(r.kind, name, errs, r.group);
  }

  async create(r: ResourceInfo, ns: string | undefined, body: Obj, opts: WriteOptions = {}): Promise<Obj> {
    const obj = clone(body);
    obj.kind = r.kind;
    obj.apiVersion = apiVersionOf(r);
    const meta: Obj = (obj.metadata = obj.metadata ?? {});
    if (r.namespaced) meta.namespace = ns;
    else delete meta.namespace;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${generateSuffix()}`;
    const name: string = meta.name ?? '';

    // System-owned metadata is the server's to set.
    meta.uid = randomUUID();
    meta.creationTimestamp = nowRfc3339();
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    delete meta.managedFields;
    if (r.generation) meta.generation = 1;

    defaultObject(r.kind, obj, 'create');
    this.checkInvalid(r, name, validateCreate(r.kind, obj));
    await this.requireNamespace(r, ns, name, true);
    if (opts.dryRun) {
      if (await this.tryGet(r, ns, name)) throw alreadyExists(r.resource, name, r.group);
      return obj;
    }
    try {
      const kv = await this.store.create(this.key(r, ns, name), sized(this.encode(obj)));
      return this.decode(r, kv);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'KeyExists') throw alreadyExists(r.resource, name, r.group);
      throw e;
    }
  }

  /**
   * PUT of the object (sub = undefined) or of its status subresource. The main resource keeps
   * the stored status; the status subresource keeps everything but status (and labels/annotations
   * are left as stored too, as kube-apiserver does for pods/status).
   */
  async update(
    r: ResourceInfo,
    ns: string | undefined,
    name: string,
    body: Obj,
    opts: WriteOptions & { sub?: 'status' } = {},
  ): Promise<Obj> {
    const bodyName = body.metadata?.name;
    if (bodyName !== undefined && bodyName !== name) {
      throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    }
    const old = await this.get(r, ns, name);
    const expected = parseRv(body.metadata?.resourceVersion, 'metadata.resourceVersion');
    return this.writeUpdate(r, ns, old, body, expected, opts);
  }

  private async writeUpdate(
    r: ResourceInfo,
    ns: string | undefined,
    old: Obj,
    body: Obj,
    expected: number | undefined,
    opts: WriteOptions & { sub?: 'status' },
  ): Promise<Obj> {
    const name = old.metadata.name;
    const obj = clone(body);
    obj.kind = r.kind;
    obj.apiVersion = apiVersionOf(r);
    obj.metadata = obj.metadata ?? {};
    if (r.namespaced) obj.metadata.namespace = obj.metadata.namespace ?? ns;

    if (opts.sub === 'status') {
      const status = obj.status;
      const next = clone(old);
      next.status = status;
      next.metadata.resourceVersion = obj.metadata.resourceVersion;
      Object.assign(obj, next);
      obj.metadata = next.metadata;
    } else if (old.status !== undefined) {
      // the main resource never writes status (that is the status subresource's job)
      obj.status = clone(old.status);
    } else {
      delete obj.status;
    }

    // Fields only the server writes survive a client's update unchanged.
    const m = obj.metadata;
    const om = old.metadata;
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
      if (om[k] === undefined) delete m[k];
      else if (k !== 'uid' && k !== 'creationTimestamp') m[k] = om[k];
      else if (m[k] === undefined || m[k] === '') m[k] = om[k];
    }
    delete m.managedFields;
    delete m.selfLink;
    if (m.resourceVersion === undefined || m.resourceVersion === '') m.resourceVersion = om.resourceVersion;

    defaultObject(r.kind, obj, 'update');
    if (r.generation && !deepEqual(obj.spec, old.spec)) m.generation = (om.generation ?? 1) + 1;

    const errs = opts.sub === 'status' ? validateStatusUpdate(r.kind, obj, old) : validateUpdate(r.kind, obj, old);
    this.checkInvalid(r, name, errs);

    if (expected !== undefined && expected !== Number(om.resourceVersion)) {
      throw conflict(r.resource, name, STALE_OBJECT_MESSAGE, r.group);
    }
    // A write that changes nothing is not a write (kube-apiserver skips it too).
    const unchanged = { ...obj, metadata: { ...obj.metadata, resourceVersion: om.resourceVersion } };
    if (deepEqual(unchanged, old)) return old;
    if (opts.dryRun) return obj;
    try {
      const kv = await this.store.update(this.key(r, ns, name), sized(this.encode(obj)), Number(om.resourceVersion));
      const out = this.decode(r, kv);
      if (r.resource === 'namespaces' && out.metadata.deletionTimestamp) this.kickNamespace(name);
      return out;
    } catch (e) {
      if (e instanceof StoreError && e.code === 'Conflict') throw conflict(r.resource, name, STALE_OBJECT_MESSAGE, r.group);
      if (e instanceof StoreError && e.code === 'KeyNotFound') throw notFound(r.resource, name, r.group);
      throw e;
    }
  }

  async patch(
    r: ResourceInfo,
    ns: string | undefined,
    name: string,
    contentType: string,
    patchText: string,
    opts: WriteOptions & { sub?: 'status'; check?: (patched: Obj) => void } = {},
  ): Promise<Obj> {
    for (let attempt = 0; ; attempt++) {
      const old = await this.get(r, ns, name);
      const base = clone(old);
      const patched = applyPatch(contentType, base, patchText, r.typeName, schemas) as Obj;
      opts.check?.(patched);
      if (patched.metadata?.name !== undefined && patched.metadata.name !== name) {
        throw badRequest(`the name of the object (${patched.metadata.name}) does not match the name on the URL (${name})`);
      }
      const clientRv = patched.metadata?.resourceVersion !== old.metadata.resourceVersion ? parseRv(patched.metadata?.resourceVersion, 'metadata.resourceVersion') : undefined;
      try {
        return await this.writeUpdate(r, ns, old, patched, clientRv ?? Number(old.metadata.resourceVersion), opts);
      } catch (e) {
        // A race with another writer: re-read and re-apply, unless the client pinned a version.
        if (e instanceof ApiError && e.reason === 'Conflict' && clientRv === undefined && attempt < 5) continue;
        throw e;
      }
    }
  }

  /** POST pods/NAME/binding: set spec.nodeName once, and the PodScheduled condition. */
  async bind(ns: string, name: string, binding: Obj, opts: WriteOptions = {}): Promise<void> {
    const r = resourceInfo('pods')!;
    const target = binding.target ?? {};
    const errs: FieldError[] = [];
    if (!target.name) errs.push({ type: 'FieldValueRequired', field: 'target.name', detail: '' });
    if (target.kind && target.kind !== 'Node') {
      errs.push({ type: 'FieldValueNotSupported', field: 'target.kind', value: target.kind, detail: 'supported values: "Node"' });
    }
    if (errs.length) throw invalid('Binding', binding.metadata?.name ?? name, errs);
    for (let attempt = 0; ; attempt++) {
      const pod = await this.get(r, ns, name);
      if (pod.metadata.deletionTimestamp) throw conflict(r.resource, name, 'pod is being deleted, cannot be assigned to a host');
      if (pod.spec.nodeName) throw conflict(r.resource, name, `pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
      pod.spec.nodeName = target.name;
      const conds: Obj[] = (pod.status.conditions ??= []);
      const cond = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowRfc3339() };
      const i = conds.findIndex((c) => c.type === 'PodScheduled');
      if (i >= 0) conds[i] = cond;
      else conds.push(cond);
      if (opts.dryRun) return;
      try {
        await this.store.update(this.key(r, ns, name), this.encode(pod), Number(pod.metadata.resourceVersion));
        return;
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Conflict' && attempt < 5) continue;
        throw e;
      }
    }
  }

  /**
   * DELETE. Returns the object as it now is and whether it is gone (false: it was marked for
   * graceful deletion and waits for the node or its finalizers).
   */
  async delete(r: ResourceInfo, ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<{ object: Obj; gone: boolean }> {
    if (r.resource === 'namespaces' && PROTECTED_NAMESPACES.includes(name)) {
      throw forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`);
    }
    for (let attempt = 0; ; attempt++) {
      const obj = await this.get(r, ns, name);
      const pre = opts.preconditions ?? {};
      if (pre.uid && pre.uid !== obj.metadata.uid) {
        throw conflict(r.resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
      }
      if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
        throw conflict(
          r.resource,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
        );
      }
      if (opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds < 0) {
        throw invalid(r.kind, name, [{ type: 'FieldValueInvalid', field: 'gracePeriodSeconds', value: opts.gracePeriodSeconds, detail: 'must be greater than or equal to 0' }]);
      }
      const marked = this.markForDeletion(r, obj, opts);
      try {
        if (marked === 'gone') {
          if (opts.dryRun) return { object: obj, gone: true };
          const kv = await this.store.delete(this.key(r, ns, name), Number(obj.metadata.resourceVersion));
          const out = this.decode(r, kv);
          out.metadata.resourceVersion = obj.metadata.resourceVersion;
          return { object: out, gone: true };
        }
        if (marked === 'unchanged' || opts.dryRun) return { object: obj, gone: false };
        const kv = await this.store.update(this.key(r, ns, name), this.encode(obj), Number(obj.metadata.resourceVersion));
        if (r.resource === 'namespaces') this.kickNamespace(name);
        return { object: this.decode(r, kv), gone: false };
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Conflict' && attempt < 5) continue;
        if (e instanceof StoreError && e.code === 'KeyNotFound') throw notFound(r.resource, name, r.group);
        throw e;
      }
    }
  }

  /**
   * Decide how a delete proceeds, mutating `obj` when it is only marked:
   * 'gone' = remove now; 'marked' = deletionTimestamp set or shortened; 'unchanged' = already
   * terminating with a grace no longer than asked.
   */
  private markForDeletion(r: ResourceInfo, obj: Obj, opts: DeleteOptions): 'gone' | 'marked' | 'unchanged' {
    const m = obj.metadata;
    const finalizers: string[] = m.finalizers ?? [];
    const nsFinalizing = r.resource === 'namespaces' && (obj.spec?.finalizers ?? []).length > 0;
    let grace = 0;
    if (r.kind === 'Pod') {
      const phase = obj.status?.phase;
      const bound = Boolean(obj.spec?.nodeName);
      // a pod stored before typed decoding may hold anything here; it must still be deletable
      const specGrace = obj.spec?.terminationGracePeriodSeconds;
      grace = opts.gracePeriodSeconds ?? (Number.isSafeInteger(specGrace) && specGrace >= 0 ? specGrace : 30);
      // Unscheduled and finished pods have nothing on a node to stop.
      if (!bound || phase === 'Succeeded' || phase === 'Failed') grace = 0;
    }
    if (grace === 0 && finalizers.length === 0 && !nsFinalizing) return 'gone';

    const now = Date.now();
    if (m.deletionTimestamp) {
      const current = m.deletionGracePeriodSeconds ?? 0;
      if (r.kind === 'Pod' && grace === 0 && finalizers.length === 0) return 'gone';
      if (grace >= current) return 'unchanged';
      m.deletionGracePeriodSeconds = grace;
      m.deletionTimestamp = new Date(now + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      return 'marked';
    }
    m.deletionTimestamp = new Date(now + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    m.deletionGracePeriodSeconds = grace;
    if (r.resource === 'namespaces') obj.status = { ...(obj.status ?? {}), phase: 'Terminating' };
    return 'marked';
  }

  async deleteCollection(r: ResourceInfo, ns: string | undefined, q: ListQuery, opts: DeleteOptions): Promise<Obj> {
    const list = await this.list(r, ns, { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector });
    const deleted: Obj[] = [];
    for (const item of list.items as Obj[]) {
      if (r.resource === 'namespaces' && PROTECTED_NAMESPACES.includes(item.metadata.name)) continue;
      try {
        const res = await this.delete(r, item.metadata.namespace, item.metadata.name, opts);
        const o = res.object;
        delete o.kind;
        delete o.apiVersion;
        deleted.push(o);
      } catch (e) {
        if (e instanceof ApiError && e.reason === 'NotFound') continue;
        throw e;
      }
    }
    return { kind: r.listKind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(await this.store.currentRevision()) }, items: deleted };
  }

  // ---------------------------------------------------------------- namespaces

  /** Make sure the built-in namespaces exist; resume finalizing terminating ones. */
  async bootstrap(): Promise<void> {
    for (const name of PROTECTED_NAMESPACES) {
      if (!(await this.tryGet(NAMESPACE_INFO, undefined, name))) {
        try {
          await this.create(NAMESPACE_INFO, undefined, { metadata: { name } });
        } catch (e) {
          if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
        }
      }
    }
    const all = await this.list(NAMESPACE_INFO, undefined);
    for (const n of all.items as Obj[]) if (n.metadata.deletionTimestamp) this.kickNamespace(n.metadata.name);
  }

  private kickNamespace(name: string): void {
    if (this.namespaceFinalizers.has(name)) return;
    this.namespaceFinalizers.add(name);
    void this.finalizeNamespace(name)
      .catch((e) => console.error(`namespace ${name}: finalize failed: ${(e as Error).message}`))
      .finally(() => this.namespaceFinalizers.delete(name));
  }

  /**
   * The namespace controller's job, in-process: delete everything in the namespace (pods
   * gracefully, so a node can stop them), wait until it is empty, then drop the "kubernetes"
   * finalizer, which removes the namespace.
   */
  private async finalizeNamespace(name: string): Promise<void> {
    for (let round = 0; ; round++) {
      let left = 0;
      for (const r of RESOURCES) {
        if (!r.namespaced) continue;
        const list = await this.list(r, name);
        for (const item of list.items as Obj[]) {
          left++;
          if (item.metadata.deletionTimestamp && r.kind !== 'Pod') continue;
          try {
            await this.delete(r, name, item.metadata.name, {});
          } catch (e) {
            if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
          }
        }
      }
      if (left === 0 || (await this.namespaceEmpty(name))) break;
      await new Promise((res) => setTimeout(res, Math.min(1000, 50 * (round + 1))));
      if (!(await this.tryGet(NAMESPACE_INFO, undefined, name))) return;
    }
    const ns = await this.tryGet(NAMESPACE_INFO, undefined, name);
    if (!ns) return;
    try {
      await this.store.delete(this.key(NAMESPACE_INFO, undefined, name), Number(ns.metadata.resourceVersion));
    } catch (e) {
      if (e instanceof StoreError && e.code === 'KeyNotFound') return;
      if (e instanceof StoreError && e.code === 'Conflict') {
        // the namespace changed meanwhile: finalize again from the top
        return this.finalizeNamespace(name);
      }
      throw e;
    }
  }

  private async namespaceEmpty(name: string): Promise<boolean> {
    for (const r of RESOURCES) {
      if (!r.namespaced) continue;
      if ((await this.store.count(storageKey(r, name))) > 0) return false;
    }
    return true;
  }
}
