/**
 * What every workload controller shares (kube's pkg/controller/controller_utils.go and
 * controller_ref_manager.go), for the ReplicaSet, ReplicationController, Deployment, Job,
 * StatefulSet and DaemonSet controllers alike:
 *
 *   - ControllerExpectations: how many creations / which deletions a controller is still
 *     waiting to see in its informer, so a burst of syncs does not create twice before the
 *     cache catches up (satisfied when all are seen, or after 5 minutes as kube's TTL);
 *   - controller references (ownerReferences with controller: true, blockOwnerDeletion: true)
 *     and `claimObjects`: adopt matching orphans, release owned objects whose labels stopped
 *     matching, ignore what another controller owns (kube's ClaimPods / ClaimReplicaSets);
 *   - `PodControl`: create a pod from a template (generateName, labels, annotations, finalizers,
 *     owner) and delete one, each with the event kube's controllers post;
 *   - pod predicates (active, ready, available with minReadySeconds) and the deletion ranking of
 *     kube's ActivePods (who goes first when scaling down);
 *   - `slowStartBatch`: creations in batches of 1, 2, 4 ... stopping at the first failure.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo, type ResourceInfo } from '../api/registry.js';
import type { LabelSelector } from '../api/selectors/labels.js';
import { EventRecorder } from '../client/events.js';
import type { Client, Obj } from '../client/types.js';
import { rfc3339 } from '../api/time.js';

export const PODS = resourceInfo('pods')!;

/** a controller's expectations expire after this (kube's ExpectationsTimeout) */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60_000;

interface Expectation {
  add: number;
  del: Set<string>;
  at: number;
}

/**
 * kube's UIDTrackingControllerExpectations: creations are counted (the names are not known
 * before the server answers), deletions are tracked by pod key so a delete seen twice (marked,
 * then gone) lowers the expectation once.
 */
export class ControllerExpectations {
  private readonly items = new Map<string, Expectation>();

  constructor(private readonly now: () => number = Date.now) {}

  /** true when the controller may act on what its cache shows */
  satisfied(key: string): boolean {
    const e = this.items.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del.size === 0) return true;
    return this.now() - e.at > EXPECTATIONS_TIMEOUT_MS;
  }

  expectCreations(key: string, n: number): void {
    this.items.set(key, { add: n, del: new Set(), at: this.now() });
  }

  expectDeletions(key: string, podKeys: string[]): void {
    this.items.set(key, { add: 0, del: new Set(podKeys), at: this.now() });
  }

  creationObserved(key: string): void {
    const e = this.items.get(key);
    if (e && e.add > 0) e.add--;
  }

  deletionObserved(key: string, podKey: string): void {
    this.items.get(key)?.del.delete(podKey);
  }

  delete(key: string): void {
    this.items.delete(key);
  }

  /** for tests and logs */
  pending(key: string): { add: number; del: number } | undefined {
    const e = this.items.get(key);
    return e && { add: e.add, del: e.del.size };
  }
}

// ---------------------------------------------------------------- controller references

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** the ownerReference with controller: true, if any (metav1.GetControllerOf) */
export function controllerRefOf(obj: Obj): OwnerReference | undefined {
  return ((obj.metadata?.ownerReferences ?? []) as OwnerReference[]).find((r) => r.controller === true);
}

/** metav1.NewControllerRef */
export function newControllerRef(owner: Obj, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

/** the apiVersion an object of `r` is served as (group/version, or version for core) */
export function apiVersionFor(r: ResourceInfo): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** informer index of objects by the uid of their controller (every controller's lookup) */
export const CONTROLLER_INDEX = 'controller';
export const controllerIndexFunc = (o: Obj): string[] => {
  const ref = controllerRefOf(o);
  return ref ? [ref.uid] : [];
};

export function objKey(o: Obj): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}

/**
 * kube's BaseControllerRefManager.ClaimObject over a list: what the owner controls afterwards.
 * An orphan that matches is adopted (unless the owner or the object is being deleted, and only
 * after `canAdopt` re-reads the owner fresh: an owner deleted meanwhile adopts nothing); one the
 * owner controls that stopped matching is released. Writes are updates with the object's
 * resourceVersion, so a stale cache loses to the server (the caller retries).
 */
export async function claimObjects(
  client: Client,
  r: ResourceInfo,
  owner: Obj,
  ownerRef: OwnerReference,
  selector: LabelSelector,
  objects: Obj[],
  canAdopt: () => Promise<void>,
): Promise<Obj[]> {
  const claimed: Obj[] = [];
  let adoptChecked = false;
  const errors: Error[] = [];
  for (const o of objects) {
    const ref = controllerRefOf(o);
    const matches = selector.matches(o.metadata.labels ?? {});
    if (ref) {
      if (ref.uid !== owner.metadata.uid) continue;
      if (matches || owner.metadata.deletionTimestamp) {
        claimed.push(o);
        continue;
      }
      if (o.metadata.deletionTimestamp) continue;
      try {
        await setOwnerReferences(client, r, o, (refs) => refs.filter((x) => x.uid !== owner.metadata.uid));
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'NotFound')) errors.push(e as Error);
      }
      continue;
    }
    if (!matches || owner.metadata.deletionTimestamp || o.metadata.deletionTimestamp) continue;
    if (o.metadata.namespace !== owner.metadata.namespace) continue;
    try {
      if (!adoptChecked) {
        await canAdopt();
        adoptChecked = true;
      }
      claimed.push(await setOwnerReferences(client, r, o, (refs) => [...refs.filter((x) => x.uid !== ownerRef.uid), ownerRef]));
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'NotFound')) errors.push(e as Error);
    }
  }
  if (errors.length) throw errors[0];
  return claimed;
}

/** write `o` with its ownerReferences changed by `change` (optimistic: conflicts throw) */
export async function setOwnerReferences(client: Client, r: ResourceInfo, o: Obj, change: (refs: OwnerReference[]) => OwnerReference[]): Promise<Obj> {
  const refs = change([...((o.metadata.ownerReferences ?? []) as OwnerReference[])]);
  const next = { ...o, metadata: { ...o.metadata, ownerReferences: refs.length ? refs : undefined } };
  if (!refs.length) delete next.metadata.ownerReferences;
  return client.resource(r).update(next);
}

/** the error canAdopt throws (kube's RecheckDeletionTimestamp) */
export function recheckOwner(client: Client, r: ResourceInfo, owner: Obj): () => Promise<void> {
  return async () => {
    const fresh = await client.resource(r).tryGet(owner.metadata.namespace, owner.metadata.name);
    if (!fresh || fresh.metadata.uid !== owner.metadata.uid) {
      throw new Error(`original ${r.kind} ${owner.metadata.namespace}/${owner.metadata.name} is gone: got uid ${fresh?.metadata.uid}, wanted ${owner.metadata.uid}`);
    }
    if (fresh.metadata.deletionTimestamp) throw new Error(`${owner.metadata.namespace}/${owner.metadata.name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  };
}

// ---------------------------------------------------------------- pods

/** kube's GetPodFromTemplate: what a controller's pod is made of */
export function podFromTemplate(template: Obj, namespace: string, ownerRef: OwnerReference | undefined, generateName: string): Obj {
  const meta: Obj = { generateName, namespace };
  const tm = template.metadata ?? {};
  if (tm.labels) meta.labels = { ...tm.labels };
  if (tm.annotations) meta.annotations = { ...tm.annotations };
  if (tm.finalizers) meta.finalizers = [...tm.finalizers];
  if (ownerRef) meta.ownerReferences = [{ ...ownerRef }];
  return { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec: structuredClone(template.spec ?? {}) };
}

/**
 * Creating and deleting a controller's pods, with the events kube's controllers post on the
 * owner (SuccessfulCreate "Created pod: NAME", FailedCreate "Error creating: ...",
 * SuccessfulDelete "Deleted pod: NAME", FailedDelete "Error deleting: ...").
 */
export class PodControl {
  readonly events: EventRecorder;

  constructor(
    private readonly client: Client,
    component: string,
    log: (line: string) => void = () => {},
  ) {
    this.events = new EventRecorder(client, component, '', log);
  }

  async createPod(owner: Obj, template: Obj, ownerRef: OwnerReference | undefined, generateName: string): Promise<Obj> {
    const pod = podFromTemplate(template, owner.metadata.namespace, ownerRef, generateName);
    if (Object.keys(pod.metadata.labels ?? {}).length === 0) throw new Error('unable to create pods, no labels');
    try {
      const made = await this.client.resource(PODS).create(owner.metadata.namespace, pod);
      this.events.record(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`);
      return made;
    } catch (e) {
      // a namespace being deleted refuses creations: no event for that (as kube)
      if (!(e instanceof ApiError && e.reason === 'Forbidden' && /being terminated/.test(e.message))) {
        this.events.record(owner, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
      }
      throw e;
    }
  }

  async deletePod(owner: Obj, namespace: string, name: string): Promise<void> {
    try {
      await this.client.resource(PODS).delete(namespace, name, {});
      this.events.record(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${name}`);
    } catch (e) {
      if (e instanceof ApiError && e.reason === 'NotFound') throw e;
      this.events.record(owner, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error).message}`);
      throw e;
    }
  }
}

/** not finished and not being deleted (kube's IsPodActive) */
export function isPodActive(p: Obj): boolean {
  const phase = p.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !p.metadata?.deletionTimestamp;
}

function readyCondition(p: Obj): Obj | undefined {
  return (p.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready');
}

export function isPodReady(p: Obj): boolean {
  return readyCondition(p)?.status === 'True';
}

/** ready for at least minReadySeconds (kube's IsPodAvailable) */
export function isPodAvailable(p: Obj, minReadySeconds: number, now: number): boolean {
  const c = readyCondition(p);
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const since = Date.parse(c.lastTransitionTime ?? '');
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

function restarts(p: Obj): number {
  return Math.max(0, ...(p.status?.containerStatuses ?? []).map((c: Obj) => c.restartCount ?? 0));
}

function deletionCost(p: Obj): number {
  const v = Number(p.metadata?.annotations?.[POD_DELETION_COST]);
  return Number.isInteger(v) ? v : 0;
}

function time(s: string | undefined): number {
  const t = Date.parse(s ?? '');
  return Number.isFinite(t) ? t : 0;
}

/**
 * kube's ActivePods ordering: negative when `a` should be deleted before `b`. Unassigned before
 * assigned; Pending before Unknown before Running; not ready before ready; lower
 * pod-deletion-cost first; ready for less time first; more restarts first; newer first.
 */
export function podDeletionOrder(a: Obj, b: Obj): number {
  const na = a.spec?.nodeName ?? '';
  const nb = b.spec?.nodeName ?? '';
  if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
  const pa = PHASE_RANK[a.status?.phase ?? 'Pending'] ?? 0;
  const pb = PHASE_RANK[b.status?.phase ?? 'Pending'] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca - cb;
  if (ra && rb) {
    const ta = time(readyCondition(a)?.lastTransitionTime);
    const tb = time(readyCondition(b)?.lastTransitionTime);
    if (ta !== tb) return tb - ta; // ready more recently goes first
  }
  const xa = restarts(a);
  const xb = restarts(b);
  if (xa !== xb) return xb - xa;
  const ka = time(a.metadata?.creationTimestamp);
  const kb = time(b.metadata?.creationTimestamp);
  if (ka !== kb) return kb - ka; // newer first
  return 0;
}

/**
 * kube's slowStartBatch: call `fn` `count` times in batches of 1, 2, 4 ... (each batch at
 * once), stopping after the first batch with a failure. Returns how many succeeded and the
 * first error.
 */
export async function slowStartBatch(count: number, initialBatch: number, fn: () => Promise<void>): Promise<{ ok: number; error?: Error }> {
  let remaining = count;
  let ok = 0;
  for (let batch = Math.min(remaining, initialBatch); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    ok += batch - failed.length;
    if (failed.length) return { ok, error: failed[0].reason as Error };
    remaining -= batch;
  }
  return { ok };
}

/** metav1.Condition-style helpers for status.conditions (type, status, reason, message, times) */
export function getCondition(conds: Obj[] | undefined, type: string): Obj | undefined {
  return (conds ?? []).find((c) => c.type === type);
}


export { rfc3339 };
