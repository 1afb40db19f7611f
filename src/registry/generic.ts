/**
 * The generic registry: Kubernetes object semantics on top of the revisioned store, with no
 * HTTP in it (the HTTP edge is src/apiserver/server.ts) and no kind in it: one instance serves
 * every kind in src/api/registry.ts, whatever its group, and what a kind does differently sits
 * in its strategy (./strategy, as kube-apiserver's rest strategies).
 *
 *   create:  meta (uid, creationTimestamp, generateName) -> strategy.prepareForCreate -> defaults
 *            -> validate -> store.create
 *   update:  carry over system fields and the other part (spec or status) -> defaults ->
 *            strategy.prepareForUpdate -> validate update -> store.update(expected = the
 *            resourceVersion the client sent); an object marked for deletion whose finalizers
 *            are all gone is deleted instead (kube's ShouldDeleteDuringUpdate)
 *   patch:   read, apply patch, then as update (retrying on a write race when the client sent
 *            no resourceVersion of its own)
 *   delete:  strategy.gracePeriod > 0 (a pod on a node), finalizers, or strategy.holdsDeletion
 *            (a namespace) mark the object (deletionTimestamp); it goes when the grace is
 *            confirmed with 0 or the finalizers are gone. The rest go at once.
 *
 * Store errors become API errors in one place (store-errors.ts). Stored values carry no
 * resourceVersion: it is the store's modRevision, set on every read.
 */
import { randomUUID } from 'node:crypto';
import type { Store, KeyValue, WatchEvent, Watcher } from '../store/types.js';
import { deepFreeze, PrefixCache } from '../store/prefix-cache.js';
import { ApiError, alreadyExists, badRequest, conflict, forbidden, invalid, methodNotAllowed, notFound, STALE_OBJECT_MESSAGE, tooLarge, unsupportedMediaType, type FieldError } from '../api/errors.js';
import { parseResourceVersion as parseRv } from '../api/resource-version.js';
import { apiVersionOf, resourceInfo, storageKey, type ResourceInfo } from '../api/registry.js';
import { defaultObject } from '../api/defaults/index.js';
import { validateCreate, validateUpdate, validateStatusUpdate, validateApprovalUpdate, validatePodEphemeralContainersUpdate } from '../api/validation/index.js';
import { applyPatch } from '../api/patch/index.js';
import { applyConfiguration, recordUpdate, type FieldManagerScope } from '../api/apply/managed-fields.js';
import { DEFAULT_SERVICE_CLUSTER_IP_RANGE, DEFAULT_SERVICE_NODE_PORT_RANGE, ServiceAllocators, type ServiceAllocatorOptions } from './service-allocators.js';
import type { StrategyContext } from './strategy/types.js';
import type { AdmissionOptions } from './service-account-admission.js';
import { nodeRestriction } from './node-restriction.js';
import { certificateAdmission } from './certificate-admission.js';
import { schemas } from '../api/schema.js';
import { parseLabelSelector, type LabelSelector } from '../api/selectors/labels.js';
import { fieldSelector } from '../api/selectors/fields.js';
import type { AdmissionRequestContext, DeleteOptions, ListQuery, Obj, ObjList, WatchEventOut, WatchQuery, WriteOptions } from '../api/types.js';
import { storeCall, type StoreCallContext } from './store-errors.js';
import { strategyFor, type WritePart } from './strategy/index.js';
import { rfc3339 } from '../api/time.js';
import { generateSuffix } from './generate-name.js';
import { attributes, registryWebhooks, reviewOptions, type Operation } from './webhooks/index.js';

export type { DeleteOptions, ListQuery, Obj, WatchEventOut, WatchQuery, WriteOptions } from '../api/types.js';

/** Options of an update: which part of the object it replaces (the main resource by default). */
export interface UpdateOptions extends WriteOptions {
  /** 'status': the status subresource; 'finalize': a namespace's spec.finalizers (the namespace controller's) */
  sub?: Exclude<WritePart, 'main'>;
  /** a subresource that writes the main resource (scale: spec.replicas), named in managedFields */
  through?: 'scale';
}

export interface PatchOptions extends UpdateOptions {
  /** checks the patched object before it is written (the HTTP edge's typed decoding) */
  check?: (patched: Obj) => void;
}

export interface ApplyOptions extends UpdateOptions {
  /** take fields other managers own instead of answering 409 (kubectl --force-conflicts) */
  force?: boolean;
}

/** the field manager's view of a kind and a write (src/api/apply) */
function managedScope(r: ResourceInfo, part: WritePart, through?: 'scale'): FieldManagerScope {
  return {
    typeName: r.typeName,
    apiVersion: apiVersionOf(r),
    subresource: part === 'status' || part === 'ephemeralcontainers' || part === 'approval' ? part : through,
    hasStatusSubresource: r.subresources.includes('status'),
  };
}

/** A running watch: cancel it; the last revision it saw (for BOOKMARK events). */
export interface WatchHandle {
  cancel(): void;
  lastRevision(): number;
}

/** every namespaced object lives in one: the generic flow checks it exists and is not terminating */
const NAMESPACES = resourceInfo('namespaces')!;
const MUTATING_WEBHOOKS = resourceInfo('mutatingwebhookconfigurations', 'admissionregistration.k8s.io')!;
const VALIDATING_WEBHOOKS = resourceInfo('validatingwebhookconfigurations', 'admissionregistration.k8s.io')!;
/** the kinds kept in memory (see configCaches) */
const CACHED_KINDS = [
  MUTATING_WEBHOOKS,
  VALIDATING_WEBHOOKS,
  NAMESPACES,
  resourceInfo('serviceaccounts')!,
  ...['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings'].map((k) => resourceInfo(k, 'rbac.authorization.k8s.io')!),
];
const SERVICES = resourceInfo('services')!;

/** how often a write racing another writer is retried before the conflict is answered */
const RACE_RETRIES = 5;

function clone<T>(o: T): T {
  return structuredClone(o);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}



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

function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.reason === 'Conflict';
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

/**
 * kube's ShouldDeleteDuringUpdate: an object marked for deletion with no grace left goes once
 * its last finalizer is gone (and, for a kind that holds its own deletion, once it lets go).
 */
function shouldDeleteDuringUpdate(r: ResourceInfo, obj: Obj, old: Obj): boolean {
  if (!old.metadata.deletionTimestamp) return false;
  if ((obj.metadata.finalizers ?? []).length > 0) return false;
  if (strategyFor(r).holdsDeletion?.(obj)) return false;
  return (old.metadata.deletionGracePeriodSeconds ?? 0) === 0;
}

/** the garbage collector's finalizers (metav1.FinalizerOrphanDependents, FinalizerDeleteDependents) */
export const ORPHAN_FINALIZER = 'orphan';
export const FOREGROUND_FINALIZER = 'foregroundDeletion';

/**
 * kube-apiserver's deletionFinalizersForGarbageCollection: the delete's propagation policy (or
 * the deprecated orphanDependents) becomes the orphan / foregroundDeletion finalizer, which the
 * garbage collector acts on and removes; Background sets neither (the owner goes now, the
 * collector deletes its dependents after). With no policy, a finalizer already there decides,
 * then the kind's default: core/v1 ReplicationControllers orphan (kept for old clients), every
 * other kind here is Background. Mutates `obj`; true when its finalizers changed.
 */
function setGcFinalizers(r: ResourceInfo, obj: Obj, opts: DeleteOptions): boolean {
  if (r.kind === 'Namespace') return false;
  const current: string[] = obj.metadata.finalizers ?? [];
  let orphan: boolean;
  let foreground: boolean;
  if (opts.orphanDependents !== undefined && opts.orphanDependents !== null) {
    orphan = opts.orphanDependents;
    foreground = false;
  } else if (opts.propagationPolicy) {
    orphan = opts.propagationPolicy === 'Orphan';
    foreground = opts.propagationPolicy === 'Foreground';
  } else {
    const first = current.find((f) => f === ORPHAN_FINALIZER || f === FOREGROUND_FINALIZER);
    orphan = first ? first === ORPHAN_FINALIZER : r.kind === 'ReplicationController' && r.group === '';
    foreground = first === FOREGROUND_FINALIZER;
  }
  const next = current.filter((f) => f !== ORPHAN_FINALIZER && f !== FOREGROUND_FINALIZER);
  if (orphan) next.push(ORPHAN_FINALIZER);
  if (foreground) next.push(FOREGROUND_FINALIZER);
  if (next.length === current.length && next.every((f, i) => f === current[i])) return false;
  if (next.length) obj.metadata.finalizers = next;
  else delete obj.metadata.finalizers;
  return true;
}

export interface RegistryOptions {
  /** --service-cluster-ip-range and --service-node-port-range */
  services?: Partial<ServiceAllocatorOptions>;
  /** run the ServiceAccount admission on pod creates (service-account-admission.ts) */
  serviceAccountAdmission?: AdmissionOptions;
  /** signs service-account tokens (serviceaccounts/NAME/token); without it that subresource answers 503 */
  tokens?: import('./token-issuer.js').TokenIssuer;
  /** where the admission webhooks' notes go (kube-apiserver's audit annotations; podbay keeps no audit log) */
  log?: (line: string) => void;
  /**
   * other servers write this store too (several servers on one etcd): the Service allocators,
   * kept in memory, first take what the stored Services hold before each allocation, so a
   * cluster IP or node port another server handed out is not handed out again
   */
  sharedStore?: boolean;
}

export class GenericRegistry {
  private allocators?: Promise<ServiceAllocators>;
  /** what the strategies' asynchronous hooks may use */
  protected readonly strategyContext: StrategyContext = {
    serviceAllocators: async () => {
      const a = await (this.allocators ??= this.loadServiceAllocators());
      if (this.options.sharedStore) a.load((await this.list(SERVICES, undefined)).items);
      return a;
    },
    lookup: (r, ns, name) => this.readCached(r, ns, name),
    list: async (r, ns) => (await this.list(r, ns)).items,
    serviceAccountAdmission: undefined,
  };

  /**
   * what requests read on every write or every decision and what rarely changes, kept in memory
   * from a list and a watch of the store (../store/prefix-cache.ts): the webhook configurations,
   * the namespaces and the service accounts (admission, and the service-account token
   * authenticator), the RBAC roles and bindings (the authorizer)
   */
  private readonly configCaches = new Map<string, PrefixCache<Obj>>();

  /** the kinds CustomResourceDefinitions serve (set by their room), for webhooks' matchPolicy Equivalent */
  customKinds: () => ResourceInfo[] = () => [];
  /** admission webhooks (./webhooks): mutating before validation, validating after */
  readonly webhooks;

  constructor(
    readonly store: Store,
    readonly options: RegistryOptions = {},
  ) {
    this.strategyContext.serviceAccountAdmission = options.serviceAccountAdmission;
    this.webhooks = registryWebhooks(this, () => this.customKinds(), options.log);
    for (const r of CACHED_KINDS) {
      const prefix = storageKey(r, undefined);
      this.configCaches.set(prefix, new PrefixCache(store, prefix, (kv) => this.decode(r, kv), options.log));
    }
  }

  /** the attributes of a write as the webhooks see them */
  private admission(r: ResourceInfo, operation: Operation, part: WritePart, ns: string | undefined, name: string, object: Obj | null, old: Obj | null, opts: WriteOptions, extra: Obj = {}) {
    const view = opts.view;
    return attributes({
      r,
      subResource: view ? view.subResource : part === 'main' ? '' : part,
      ...(view ? { kind: view.kind } : {}),
      operation,
      namespace: r.namespaced ? ns ?? '' : r.kind === 'Namespace' ? name : '',
      name,
      object: view && object ? view.show(object) : object,
      oldObject: view && old ? view.show(old) : old,
      dryRun: !!opts.dryRun,
      options: reviewOptions(operation, !!opts.dryRun, opts.fieldManager, extra),
      user: opts.admission?.user,
    });
  }

  /**
   * validating admission: the built-in NodeRestriction (node-restriction.ts) and the certificate
   * plugins (certificate-admission.ts), then the webhooks
   */
  private async validateAdmission(attrs: ReturnType<typeof attributes>, opts: WriteOptions): Promise<void> {
    const refused = nodeRestriction(attrs) ?? (await certificateAdmission(attrs, opts.admission ?? {}));
    if (refused) throw refused;
    await this.webhooks.validate(attrs, opts.admission ?? {});
  }

  private validateWrite(r: ResourceInfo, obj: Obj, old: Obj | undefined, part: WritePart): FieldError[] {
    if (r.custom) return r.custom.validate(obj, old, part as 'main' | 'status' | 'finalize'); // custom kinds have no ephemeralcontainers part
    if (!old) return validateCreate(r.kind, obj);
    if (part === 'approval') return validateApprovalUpdate(r.kind, obj, old);
    return part === 'status' ? validateStatusUpdate(r.kind, obj, old) : part === 'ephemeralcontainers' ? validatePodEphemeralContainersUpdate(obj, old) : validateUpdate(r.kind, obj, old);
  }

  /** mutating webhooks; what they return is defaulted again (as kube decodes a webhook's patched object) */
  private async mutateByWebhooks(r: ResourceInfo, op: Operation, part: WritePart, ns: string | undefined, obj: Obj, old: Obj | undefined, opts: WriteOptions): Promise<{ obj: Obj; changed: boolean }> {
    const attrs = this.admission(r, op, part, ns, obj.metadata?.name ?? '', obj, old ?? null, opts);
    let out = await this.webhooks.mutate(attrs, opts.admission ?? {});
    if (!out || out === attrs.object) return { obj, changed: false };
    // a subresource's object (a Scale) changed by a webhook goes back into the stored kind
    if (opts.view) out = opts.view.apply(obj, out);
    if (r.custom) r.custom.defaults(out, op === 'CREATE' ? 'create' : 'update');
    else defaultObject(r.kind, out, op === 'CREATE' ? 'create' : 'update');
    return { obj: out, changed: true };
  }

  /**
   * Admission of a CONNECT (pods/exec, attach, portforward, proxy; nodes/proxy): the webhooks
   * whose rules name it see the request's options object (kind e.g. v1 PodExecOptions);
   * answers the options to connect with, as the mutating webhooks left them.
   */
  async admitConnect(r: ResourceInfo, ns: string | undefined, name: string, subResource: string, options: Obj, ctx: AdmissionRequestContext): Promise<Obj> {
    const a = attributes({
      r,
      subResource,
      kind: { group: r.group, version: r.version, kind: String(options.kind) },
      operation: 'CONNECT',
      namespace: r.namespaced ? ns ?? '' : '',
      name,
      object: options,
      oldObject: null,
      dryRun: false,
      options: null,
      user: ctx.user,
    });
    return this.webhooks.connect(a, ctx);
  }

  /** the stored webhook configurations, from memory once the copy follows the store */
  async webhookConfigurations(): Promise<{ mutating: Obj[]; validating: Obj[] }> {
    return { mutating: await this.listCached(MUTATING_WEBHOOKS, undefined), validating: await this.listCached(VALIDATING_WEBHOOKS, undefined) };
  }

  /**
   * the objects of a kind kept in memory (of one namespace, or all), from the copy in key order;
   * from the store while the copy is not following it or the kind is not kept. Values from the
   * copy are shared and frozen.
   */
  async listCached(r: ResourceInfo, ns: string | undefined): Promise<Obj[]> {
    const copy = await this.cachedCopy(r);
    return copy ? copy.valuesUnder(storageKey(r, ns)) : (await this.list(r, ns)).items;
  }

  /**
   * a namespace as admission sees it: from memory, and from the store when the copy does not
   * have it (one made a moment ago on another server), as kube's NamespaceLifecycle looks it up
   */
  async admissionNamespace(name: string): Promise<Obj | undefined> {
    return this.readCached(NAMESPACES, undefined, name);
  }

  /**
   * one object of a kind kept in memory, from the copy; from the store when the copy does not
   * have it (made a moment ago on another server) or the kind is not kept. A value from the copy
   * is shared and frozen.
   */
  async readCached(r: ResourceInfo, ns: string | undefined, name: string): Promise<Obj | undefined> {
    return (await this.cachedCopy(r))?.get(this.key(r, ns, name)) ?? this.tryGet(r, ns, name);
  }

  /**
   * the in-memory copy of a kind kept in memory (CACHED_KINDS), following the store; undefined
   * for other kinds and while the copy is not following (then read the store). Its values are
   * shared: do not modify them.
   */
  async cachedCopy(r: ResourceInfo): Promise<PrefixCache<Obj> | undefined> {
    return this.configCaches.get(storageKey(r, undefined))?.ready();
  }

  /** a write to the store; one of a kind kept in memory returns once the copy has it (read-your-writes, on etcd too) */
  private async written(ctx: StoreCallContext, fn: () => Promise<KeyValue>): Promise<KeyValue> {
    const kv = await storeCall(ctx, fn);
    const cache = this.configCaches.get(storageKey(ctx.r, undefined));
    if (cache) await cache.waitFor(kv.modRevision);
    return kv;
  }

  /** stop following the store (the server is closing) */
  stopCaches(): void {
    for (const c of this.configCaches.values()) c.stop();
  }

  private async loadServiceAllocators(): Promise<ServiceAllocators> {
    const a = new ServiceAllocators({
      clusterIPRange: this.options.services?.clusterIPRange ?? DEFAULT_SERVICE_CLUSTER_IP_RANGE,
      nodePortRange: this.options.services?.nodePortRange ?? DEFAULT_SERVICE_NODE_PORT_RANGE,
    });
    a.load((await this.list(SERVICES, undefined)).items);
    return a;
  }

  /** the object is gone from the store: give back what it held */
  private async released(r: ResourceInfo, obj: Obj): Promise<void> {
    await strategyFor(r).release?.(obj, this.strategyContext);
  }

  // ---------------------------------------------------------------- reading

  /**
   * One watch event's object for the watchers that asked for shared objects (`shared` in
   * watch()): the store hands each watcher the same event, and a burst's pod events went to a
   * dozen in-process informers, each decoding its own copy. The first such watcher to get an
   * event decodes a copy of its own, as before; the second decodes one more, deep-frozen, which
   * it and every later one share. So a change that reaches one watcher only (etcd and the
   * encryption wrapper make each watch its own events) costs no freezing.
   */
  private readonly sharedDecodes = new WeakMap<KeyValue, { r: ResourceInfo; obj?: Obj }>();

  private decodeShared(r: ResourceInfo, kv: KeyValue): Obj {
    const hit = this.sharedDecodes.get(kv);
    if (!hit || hit.r !== r) {
      this.sharedDecodes.set(kv, { r });
      return this.decode(r, kv);
    }
    return (hit.obj ??= deepFreeze(this.decode(r, kv)));
  }

  private decode(r: ResourceInfo, kv: KeyValue): Obj {
    const obj = JSON.parse(kv.value) as Obj;
    r.custom?.decodeStored?.(obj);
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
    const obj = await this.tryGet(r, ns, name);
    if (!obj) throw notFound(r.resource, name, r.group);
    return obj;
  }

  async tryGet(r: ResourceInfo, ns: string | undefined, name: string): Promise<Obj | undefined> {
    const kv = await this.store.get(this.key(r, ns, name));
    return kv ? this.decode(r, kv) : undefined;
  }

  async list(r: ResourceInfo, ns: string | undefined, q: ListQuery = {}): Promise<ObjList> {
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
    const ctx: StoreCallContext = { r, revision, continuing: Boolean(q.continue) };
    // Page through the store until `limit` matching items are found (selectors may skip many).
    for (;;) {
      const chunk = limit ? Math.max(limit - items.length, filter.empty ? 0 : 100) : 0;
      const res = await storeCall(ctx, () => this.store.list(prefix, { limit: chunk, startAfter, revision: listRevision || undefined }));
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

    const metadata: ObjList['metadata'] = { resourceVersion: String(listRevision) };
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
   * `shared`: the caller only reads what it gets, so a change's object may be one deep-frozen
   * value shared with the other such watchers (decodeShared; the initial ADDED objects stay its
   * own).
   */
  async watch(
    r: ResourceInfo,
    ns: string | undefined,
    q: WatchQuery,
    emit: (ev: WatchEventOut) => void,
    onEnd: () => void,
    shared = false,
  ): Promise<WatchHandle> {
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
      for (const item of list.items) {
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
      watcher = await storeCall({ r, revision: from }, () =>
        this.store.watch(prefix, from, (ev: WatchEvent) => {
          last = ev.revision;
          const obj = shared ? this.decodeShared(r, ev.kv) : this.decode(r, ev.kv);
          const now = filter.matches(obj);
          if (ev.type === 'ADDED') {
            if (now) emit({ type: 'ADDED', object: obj });
            return;
          }
          // the value before the event, decoded only when a selector must judge it
          const before = ev.prev ? filter.empty || filter.matches(this.decode(r, ev.prev)) : false;
          if (ev.type === 'DELETED') {
            if (before || now) emit({ type: 'DELETED', object: obj });
            return;
          }
          if (before && now) emit({ type: 'MODIFIED', object: obj });
          else if (!before && now) emit({ type: 'ADDED', object: obj });
          else if (before && !now) emit({ type: 'DELETED', object: obj });
        }),
      );
    } catch (e) {
      // a compacted revision is the watch's answer, not the request's failure
      if (e instanceof ApiError && e.code === 410) {
        emit({ type: 'ERROR', object: e.toStatus() });
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
    const nsObj = await this.admissionNamespace(ns);
    if (!nsObj) throw notFound(NAMESPACES.resource, ns);
    if (creating && nsObj.metadata.deletionTimestamp) {
      throw forbidden(
        `${r.resource} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
      );
    }
  }

  private checkInvalid(r: ResourceInfo, name: string, errs: FieldError[]): void {
    if (errs.length) throw invalid(r.kind, name, errs, r.group);
  }

  async create(r: ResourceInfo, ns: string | undefined, body: Obj, opts: WriteOptions & { applied?: unknown[] } = {}): Promise<Obj> {
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
    meta.creationTimestamp = rfc3339(Date.now());
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    delete meta.managedFields;
    strategyFor(r).prepareForCreate?.(obj);
    if (r.generation) meta.generation = 1;

    // a custom kind's defaulting and validation come from its definition (src/api/crd)
    const refusal = r.custom?.refuseCreate?.();
    if (refusal) throw methodNotAllowed(refusal);
    if (r.custom) r.custom.defaults(obj, 'create');
    else defaultObject(r.kind, obj, 'create');
    // what admission fills in without a look-up is there before validation, as in kube-apiserver
    strategyFor(r).admitDefaults?.(obj, ns, this.strategyContext);
    this.checkInvalid(r, name, r.custom ? r.custom.validate(obj, undefined, 'main') : validateCreate(r.kind, obj));
    await this.requireNamespace(r, ns, name, true);
    // mutating admission (a pod's service account and token volume); what it adds is checked too
    const admit = strategyFor(r).admit;
    if (admit) await admit(obj, ns, this.strategyContext);
    // then the mutating webhooks, and validation again of what admission made
    const hooked = await this.mutateByWebhooks(r, 'CREATE', 'main', ns, obj, undefined, opts);
    if (admit || hooked.changed) this.checkInvalid(r, name, this.validateWrite(r, hooked.obj, undefined, 'main'));
    await this.validateAdmission(this.admission(r, 'CREATE', 'main', ns, name, hooked.obj, null, opts), opts);
    return this.storeCreate(r, ns, name, hooked.obj, opts);
  }

  private async storeCreate(r: ResourceInfo, ns: string | undefined, name: string, obj: Obj, opts: WriteOptions & { applied?: unknown[] }): Promise<Obj> {
    // who wrote which field (metadata.managedFields), defaults included, as kube records a create
    const recorded = opts.applied ? { ...obj, metadata: { ...obj.metadata, managedFields: opts.applied } } : recordUpdate(managedScope(r, 'main'), undefined, obj, opts.fieldManager ?? '');
    // what the kind allocates (a Service's IP and node ports), undone if the create fails
    const alloc = await strategyFor(r).allocate?.(recorded, this.strategyContext);
    if (opts.dryRun) {
      alloc?.undo();
      if (await this.tryGet(r, ns, name)) throw alreadyExists(r.resource, name, r.group);
      return recorded;
    }
    let kv: KeyValue;
    try {
      kv = await this.written({ r, name }, () => this.store.create(this.key(r, ns, name), sized(this.encode(recorded))));
    } catch (e) {
      alloc?.undo();
      throw e;
    }
    alloc?.commit();
    return this.decode(r, kv);
  }

  /**
   * PUT of the object (sub = undefined) or of its status subresource. The main resource keeps
   * the stored status; the status subresource keeps everything but status (and labels/annotations
   * are left as stored too, as kube-apiserver does for pods/status).
   */
  async update(r: ResourceInfo, ns: string | undefined, name: string, body: Obj, opts: UpdateOptions = {}): Promise<Obj> {
    const bodyName = body.metadata?.name;
    if (bodyName !== undefined && bodyName !== name) {
      throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    }
    const old = await this.get(r, ns, name);
    // a uid in the body is a precondition (rest.DefaultUpdatedObjectInfo), checked against the
    // stored object before anything else, as the storage's Preconditions.Check words it
    const uid = body.metadata?.uid;
    if (typeof uid === 'string' && uid !== '' && uid !== old.metadata.uid) {
      const why = `StorageError: invalid object, Code: 4, Key: ${this.key(r, ns, name)}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${uid}, UID in object meta: ${old.metadata.uid}`;
      throw conflict(r.resource, name, why, r.group);
    }
    const expected = parseRv(body.metadata?.resourceVersion, 'metadata.resourceVersion');
    return this.writeUpdate(r, ns, old, body, expected, opts);
  }

  private async writeUpdate(r: ResourceInfo, ns: string | undefined, old: Obj, body: Obj, expected: number | undefined, opts: UpdateOptions & { applied?: unknown[] }): Promise<Obj> {
    const name = old.metadata.name;
    const part: WritePart = opts.sub ?? 'main';
    let obj = clone(body);
    obj.kind = r.kind;
    obj.apiVersion = apiVersionOf(r);
    obj.metadata = obj.metadata ?? {};
    if (r.namespaced) obj.metadata.namespace = obj.metadata.namespace ?? ns;

    if (part === 'status' || part === 'approval') {
      // (approval: the kind's strategy keeps all of status but the conditions)
      const status = obj.status;
      const next = clone(old);
      next.status = status;
      next.metadata.resourceVersion = obj.metadata.resourceVersion;
      Object.assign(obj, next);
      obj.metadata = next.metadata;
    } else if (part === 'ephemeralcontainers') {
      // pods/ephemeralcontainers writes spec.ephemeralContainers and nothing else (upstream's
      // dropNonEphemeralContainerUpdates: the rest of what the client sent is the stored pod's)
      const next = clone(old);
      next.spec = { ...next.spec, ephemeralContainers: obj.spec?.ephemeralContainers };
      if (next.spec.ephemeralContainers === undefined || next.spec.ephemeralContainers === null) delete next.spec.ephemeralContainers;
      next.metadata.resourceVersion = obj.metadata.resourceVersion;
      Object.assign(obj, next);
      obj.metadata = next.metadata;
    } else if (r.custom && !r.subresources.includes('status')) {
      // a custom resource without a status subresource writes status with the rest
    } else if (old.status !== undefined) {
      // the main resource never writes status (that is the status subresource's job)
      obj.status = clone(old.status);
    } else {
      delete obj.status;
    }

    // Fields only the server writes survive a client's update, as rest.BeforeUpdate keeps them:
    // generation and creationTimestamp are the stored ones whatever the body says (a re-applied
    // export of an object since re-created keeps its new timestamp); a body without uid,
    // deletionGracePeriodSeconds or (once set) deletionTimestamp keeps the stored one; a body
    // that changes them otherwise is refused by validation (field is immutable).
    const m = obj.metadata;
    const om = old.metadata;
    const absent = (v: unknown) => v === undefined || v === null || v === '';
    for (const k of ['generation', 'creationTimestamp']) {
      if (om[k] === undefined) delete m[k];
      else m[k] = om[k];
    }
    for (const k of ['uid', 'deletionGracePeriodSeconds']) {
      if (absent(m[k])) {
        if (om[k] === undefined) delete m[k];
        else m[k] = om[k];
      }
    }
    if (om.deletionTimestamp !== undefined) m.deletionTimestamp = om.deletionTimestamp;
    else if (absent(m.deletionTimestamp)) delete m.deletionTimestamp;
    // managedFields a client sends are its to edit (kubectl moves client-side apply's fields to
    // server-side apply that way); recordUpdate checks them and falls back to the stored ones
    if (m.managedFields === undefined || m.managedFields === null) m.managedFields = om.managedFields;
    delete m.selfLink;
    if (m.resourceVersion === undefined || m.resourceVersion === '') m.resourceVersion = om.resourceVersion;

    if (r.custom) r.custom.defaults(obj, 'update');
    else defaultObject(r.kind, obj, 'update');
    strategyFor(r).prepareForUpdate?.(obj, old, part);
    if (r.generation && !deepEqual(obj.spec, old.spec)) m.generation = (om.generation ?? 1) + 1;
    obj = (await this.mutateByWebhooks(r, 'UPDATE', part, ns, obj, old, opts)).obj;
    if (r.generation && !deepEqual(obj.spec, old.spec)) obj.metadata.generation = (om.generation ?? 1) + 1;

    this.checkInvalid(r, name, this.validateWrite(r, obj, old, part));
    await this.validateAdmission(this.admission(r, 'UPDATE', part, ns, name, obj, old, opts), opts);
    obj = opts.applied ? { ...obj, metadata: { ...obj.metadata, managedFields: opts.applied } } : recordUpdate(managedScope(r, part, opts.through), old, obj, opts.fieldManager ?? '');

    if (expected !== undefined && expected !== Number(om.resourceVersion)) {
      throw conflict(r.resource, name, STALE_OBJECT_MESSAGE, r.group);
    }
    const key = this.key(r, ns, name);
    if (shouldDeleteDuringUpdate(r, obj, old)) {
      if (opts.dryRun) return obj;
      const kv = await this.written({ r, name }, () => this.store.delete(key, Number(om.resourceVersion)));
      await this.released(r, old);
      return this.decode(r, kv);
    }
    // A write that changes nothing is not a write (kube-apiserver skips it too).
    const unchanged = { ...obj, metadata: { ...obj.metadata, resourceVersion: om.resourceVersion } };
    if (deepEqual(unchanged, old)) return old;
    const alloc = part === 'main' ? await strategyFor(r).reallocate?.(obj, old, this.strategyContext) : undefined;
    if (opts.dryRun) {
      alloc?.undo();
      return obj;
    }
    let kv: KeyValue;
    try {
      kv = await this.written({ r, name }, () => this.store.update(key, sized(this.encode(obj)), Number(om.resourceVersion)));
    } catch (e) {
      alloc?.undo();
      throw e;
    }
    alloc?.commit();
    return this.decode(r, kv);
  }

  async patch(r: ResourceInfo, ns: string | undefined, name: string, contentType: string, patchText: string, opts: PatchOptions = {}): Promise<Obj> {
    if (r.custom && contentType === 'application/strategic-merge-patch+json') {
      // as apiextensions-apiserver: custom resources have no patch strategies to merge by
      throw unsupportedMediaType(
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      );
    }
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
        if (isConflict(e) && clientRv === undefined && attempt < RACE_RETRIES) continue;
        throw e;
      }
    }
  }

  /**
   * Server-side apply (PATCH application/apply-patch+yaml): `config` merged over the stored
   * object by field ownership (src/api/apply), or created when there is none. Returns the object
   * and whether it was created.
   */
  async apply(r: ResourceInfo, ns: string | undefined, name: string, config: Obj, opts: ApplyOptions & { check?: (merged: Obj) => void }): Promise<{ object: Obj; created: boolean }> {
    const part: WritePart = opts.sub ?? 'main';
    const scope = managedScope(r, part);
    const manager = opts.fieldManager ?? '';
    for (let attempt = 0; ; attempt++) {
      const old = await this.tryGet(r, ns, name);
      if (!old) {
        if (part === 'status') throw notFound(r.resource, name, r.group);
        const merged = applyConfiguration(scope, undefined, config, manager, !!opts.force);
        opts.check?.(merged);
        const applied = merged.metadata?.managedFields ?? [];
        try {
          return { object: await this.create(r, ns, { ...merged, metadata: { ...merged.metadata, name } }, { dryRun: opts.dryRun, applied, admission: opts.admission, fieldManager: opts.fieldManager }), created: true };
        } catch (e) {
          // created meanwhile by someone else: apply over theirs
          if (e instanceof ApiError && e.reason === 'AlreadyExists' && attempt < RACE_RETRIES) continue;
          throw e;
        }
      }
      const merged = applyConfiguration(scope, old, config, manager, !!opts.force);
      opts.check?.(merged);
      const clientRv = config.metadata?.resourceVersion !== undefined ? parseRv(config.metadata.resourceVersion, 'metadata.resourceVersion') : undefined;
      try {
        const object = await this.writeUpdate(r, ns, old, merged, clientRv ?? Number(old.metadata.resourceVersion), { ...opts, applied: merged.metadata?.managedFields ?? [] });
        return { object, created: false };
      } catch (e) {
        if (isConflict(e) && clientRv === undefined && attempt < RACE_RETRIES) continue;
        throw e;
      }
    }
  }

  /**
   * kube's GuaranteedUpdate, for server-side changes (a subresource such as pods/binding): read,
   * apply `mutate` (which may throw to refuse), write with the read's resourceVersion, and start
   * over when another writer came between.
   */
  async guaranteedUpdate(r: ResourceInfo, ns: string | undefined, name: string, opts: WriteOptions, mutate: (obj: Obj) => Obj): Promise<Obj> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(r, ns, name);
      const rv = Number(cur.metadata.resourceVersion);
      const next = mutate(cur);
      if (opts.dryRun) return next;
      try {
        const kv = await this.written({ r, name }, () => this.store.update(this.key(r, ns, name), sized(this.encode(next)), rv));
        return this.decode(r, kv);
      } catch (e) {
        if (isConflict(e) && attempt < RACE_RETRIES) continue;
        throw e;
      }
    }
  }

  /**
   * DELETE. Returns the object as it now is and whether it is gone (false: it was marked for
   * graceful deletion and waits for the node or its finalizers).
   */
  async delete(r: ResourceInfo, ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<{ object: Obj; gone: boolean }> {
    const refused = strategyFor(r).refuseDelete?.(name);
    if (refused) throw refused;
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
      const again = strategyFor(r).refuseDeleteAgain?.(obj);
      if (again) throw again;
      if (attempt === 0) {
        // admission of a delete: the webhooks see the stored object as oldObject (a mutation has nothing to change)
        const extra: Obj = {};
        if (opts.gracePeriodSeconds !== undefined) extra.gracePeriodSeconds = opts.gracePeriodSeconds;
        if (opts.propagationPolicy) extra.propagationPolicy = opts.propagationPolicy;
        const attrs = this.admission(r, 'DELETE', 'main', ns, name, null, obj, opts, extra);
        await this.webhooks.mutate(attrs, opts.admission ?? {});
        await this.validateAdmission(attrs, opts);
      }
      const gcChanged = setGcFinalizers(r, obj, opts);
      let marked = this.markForDeletion(r, obj, opts);
      if (marked === 'unchanged' && gcChanged) marked = 'marked';
      const key = this.key(r, ns, name);
      const rv = Number(obj.metadata.resourceVersion);
      try {
        if (marked === 'gone') {
          if (opts.dryRun) return { object: obj, gone: true };
          const kv = await this.written({ r, name }, () => this.store.delete(key, rv));
          await this.released(r, obj);
          const out = this.decode(r, kv);
          out.metadata.resourceVersion = obj.metadata.resourceVersion;
          return { object: out, gone: true };
        }
        if (marked === 'unchanged' || opts.dryRun) return { object: obj, gone: false };
        const kv = await this.written({ r, name }, () => this.store.update(key, this.encode(obj), rv));
        return { object: this.decode(r, kv), gone: false };
      } catch (e) {
        if (isConflict(e) && attempt < RACE_RETRIES) continue;
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
    const strategy = strategyFor(r);
    const m = obj.metadata;
    const finalizers: string[] = m.finalizers ?? [];
    const grace = strategy.gracePeriod?.(obj, opts) ?? 0;
    if (grace === 0 && finalizers.length === 0 && !strategy.holdsDeletion?.(obj)) return 'gone';

    const now = Date.now();
    if (m.deletionTimestamp) {
      const current = m.deletionGracePeriodSeconds ?? 0;
      if (grace >= current) return 'unchanged';
      m.deletionGracePeriodSeconds = grace;
      m.deletionTimestamp = rfc3339(now + grace * 1000);
      return 'marked';
    }
    m.deletionTimestamp = rfc3339(now + grace * 1000);
    m.deletionGracePeriodSeconds = grace;
    strategy.markTerminating?.(obj);
    return 'marked';
  }

  async deleteCollection(r: ResourceInfo, ns: string | undefined, q: ListQuery, opts: DeleteOptions): Promise<ObjList> {
    const list = await this.list(r, ns, { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector });
    const deleted: Obj[] = [];
    const strategy = strategyFor(r);
    for (const item of list.items) {
      if (strategy.refuseDelete?.(item.metadata.name) || strategy.refuseDeleteAgain?.(item)) continue;
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
}
