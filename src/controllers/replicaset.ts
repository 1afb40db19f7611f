/**
 * The ReplicaSet controller (kube's pkg/controller/replicaset), which also runs
 * ReplicationControllers (core/v1, a map selector instead of a LabelSelector), as kube's
 * replication controller does by wrapping the same code.
 *
 *   rs / pod informers ──> queue(ns/name) ──> sync
 *     sync: claim pods (adopt matching orphans, release the ones that stopped matching)
 *           ├ expectations satisfied? create missing pods (slow start 1, 2, 4 ..., at most 500
 *           │   a sync) or delete the surplus, the lowest ranked first (pod-control.ts)
 *           └ status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
 *             (minReadySeconds), observedGeneration, ReplicaFailure on a create/delete error
 *
 * The pod handlers lower the expectations a sync raised: a created pod seen in the cache, a
 * deleted pod seen marked or gone. Until then the controller does not act on its stale cache.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo, type ResourceInfo } from '../api/registry.js';
import { labelSelectorFromObject, LabelSelector } from '../api/selectors/labels.js';
import type { Client, Obj } from '../client/types.js';
import type { Informer } from '../client/informer.js';
import { SharedInformers } from './informers.js';
import {
  apiVersionFor,
  claimObjects,
  CONTROLLER_INDEX,
  ControllerExpectations,
  controllerRefOf,
  getCondition,
  isPodActive,
  isPodAvailable,
  isPodReady,
  newControllerRef,
  objKey,
  PodControl,
  podDeletionOrder,
  PODS,
  recheckOwner,
  rfc3339,
  slowStartBatch,
} from './pod-control.js';
import { runWorkers, WorkQueue } from './workqueue.js';
import { omitZero, OMITTED_IF_ZERO } from './omit-zero.js';

/** at most this many creations or deletions in one sync (kube's BurstReplicas) */
export const BURST_REPLICAS = 500;

export interface ReplicaKind {
  r: ResourceInfo;
  /** the event source and log prefix: "replicaset-controller" */
  component: string;
  selector(obj: Obj): LabelSelector;
}

export const REPLICASET_KIND: ReplicaKind = {
  r: resourceInfo('replicasets', 'apps')!,
  component: 'replicaset-controller',
  selector: (rs) => labelSelectorFromObject(rs.spec?.selector),
};

export const REPLICATIONCONTROLLER_KIND: ReplicaKind = {
  r: resourceInfo('replicationcontrollers')!,
  component: 'replication-controller',
  // labels.SelectorFromSet: a map of equalities (empty matches everything; validation refuses it)
  selector: (rc) => labelSelectorFromObject({ matchLabels: rc.spec?.selector ?? {} }),
};

export interface ReplicaSetControllerOptions {
  workers?: number;
  log?: (line: string) => void;
  burstReplicas?: number;
}

export class ReplicaSetController {
  readonly expectations = new ControllerExpectations();
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 1_000_000 });
  private readonly owners: Informer<Obj>;
  private readonly pods: Informer<Obj>;
  private readonly podControl: PodControl;
  private readonly log: (line: string) => void;
  private readonly apiVersion: string;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    informers: SharedInformers,
    private readonly kind: ReplicaKind = REPLICASET_KIND,
    private readonly opts: ReplicaSetControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.apiVersion = apiVersionFor(kind.r);
    this.podControl = new PodControl(client, kind.component, this.log);
    this.owners = informers.for(kind.r);
    this.pods = informers.for(PODS);
    this.owners.addEventHandler({
      add: (o) => this.enqueue(o),
      update: (old, o) => {
        // kube: a changed minReadySeconds / replicas shows in the next sync anyway
        if (old.metadata?.uid !== o.metadata?.uid) this.expectations.delete(objKey(old));
        this.enqueue(o);
      },
      delete: (o) => {
        this.expectations.delete(objKey(o));
        this.enqueue(o);
      },
    });
    this.pods.addEventHandler({ add: (p) => this.podAdded(p), update: (old, p) => this.podUpdated(old, p), delete: (p) => this.podDeleted(p) });
  }

  async start(): Promise<void> {
    await Promise.all([this.owners.start(), this.pods.start()]);
    this.running = runWorkers(this.queue, this.opts.workers ?? 2, (key) => this.sync(key), (l) => this.log(`${this.kind.component}: ${l}`));
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.running;
  }

  private enqueue(o: Obj, afterMs = 0): void {
    if (afterMs > 0) this.queue.addAfter(objKey(o), afterMs);
    else this.queue.add(objKey(o));
  }

  /** the owner a controller ref names, if it is one of ours and still the same object */
  private resolveRef(ns: string, ref: { kind: string; name: string; uid: string } | undefined): Obj | undefined {
    if (!ref || ref.kind !== this.kind.r.kind) return undefined;
    const o = this.owners.cache.getByName(ns, ref.name);
    return o?.metadata?.uid === ref.uid ? o : undefined;
  }

  /** owners whose selector matches an orphan pod (kube's getPodReplicaSets) */
  private ownersMatching(p: Obj): Obj[] {
    return this.owners.cache
      .byIndex('namespace', p.metadata.namespace)
      .filter((o) => {
        try {
          return this.kind.selector(o).matches(p.metadata.labels ?? {});
        } catch {
          return false;
        }
      });
  }

  private podAdded(p: Obj): void {
    if (p.metadata.deletionTimestamp) return this.podDeleted(p);
    const ref = controllerRefOf(p);
    if (ref) {
      const owner = this.resolveRef(p.metadata.namespace, ref);
      if (!owner) return;
      this.expectations.creationObserved(objKey(owner));
      return this.enqueue(owner);
    }
    for (const o of this.ownersMatching(p)) this.enqueue(o);
  }

  private podUpdated(old: Obj, p: Obj): void {
    if (old.metadata.resourceVersion === p.metadata.resourceVersion) return;
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(p.metadata.labels ?? {});
    if (p.metadata.deletionTimestamp) {
      this.podDeleted(p);
      if (labelsChanged) this.podDeleted(old);
      return;
    }
    const oldRef = controllerRefOf(old);
    const ref = controllerRefOf(p);
    if (oldRef && oldRef.uid !== ref?.uid) {
      const o = this.resolveRef(old.metadata.namespace, oldRef);
      if (o) this.enqueue(o);
    }
    if (ref) {
      const owner = this.resolveRef(p.metadata.namespace, ref);
      if (!owner) return;
      this.enqueue(owner);
      // a pod just ready becomes available after minReadySeconds: look again then
      const min = owner.spec?.minReadySeconds ?? 0;
      if (!isPodReady(old) && isPodReady(p) && min > 0) this.enqueue(owner, min * 1000 + 1000);
      return;
    }
    if (labelsChanged || oldRef) for (const o of this.ownersMatching(p)) this.enqueue(o);
  }

  private podDeleted(p: Obj): void {
    const ref = controllerRefOf(p);
    const owner = this.resolveRef(p.metadata.namespace, ref);
    if (!owner) return;
    this.expectations.deletionObserved(objKey(owner), objKey(p));
    this.enqueue(owner);
  }

  async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.owners.cache.getByName(ns, name);
    if (!cached) {
      this.expectations.delete(key);
      return;
    }
    const owner = structuredClone(cached);
    const selector = this.kind.selector(owner);
    const needsSync = this.expectations.satisfied(key) && !owner.metadata.deletionTimestamp;
    const all = this.pods.cache.byIndex('namespace', ns).filter(isPodActive);
    const ref = newControllerRef(owner, this.apiVersion, this.kind.r.kind);
    const pods = await claimObjects(this.client, PODS, owner, ref, selector, all, recheckOwner(this.client, this.kind.r, owner));

    let manageError: Error | undefined;
    if (needsSync) {
      try {
        await this.manageReplicas(pods, owner, key);
      } catch (e) {
        manageError = e as Error;
      }
    }
    const updated = await this.updateStatus(owner, pods, manageError);
    if (manageError) throw manageError;
    const min = owner.spec?.minReadySeconds ?? 0;
    const st = updated?.status ?? owner.status ?? {};
    if (min > 0 && (st.readyReplicas ?? 0) === (owner.spec?.replicas ?? 1) && (st.availableReplicas ?? 0) !== (owner.spec?.replicas ?? 1)) {
      this.enqueue(owner, min * 1000);
    }
  }

  private async manageReplicas(pods: Obj[], owner: Obj, key: string): Promise<void> {
    const want = owner.spec?.replicas ?? 1;
    const burst = this.opts.burstReplicas ?? BURST_REPLICAS;
    let diff = pods.length - want;
    if (diff < 0) {
      diff = Math.min(-diff, burst);
      // expect first: a pod's ADDED may come before create() returns
      this.expectations.expectCreations(key, diff);
      const ref = newControllerRef(owner, this.apiVersion, this.kind.r.kind);
      const { ok, error } = await slowStartBatch(diff, 1, async () => {
        await this.podControl.createPod(owner, owner.spec?.template ?? {}, ref, `${owner.metadata.name}-`);
      });
      // the ones never attempted or failed will not be seen: stop waiting for them
      for (let i = ok; i < diff; i++) this.expectations.creationObserved(key);
      if (error) throw error;
      return;
    }
    if (diff > 0) {
      diff = Math.min(diff, burst);
      const victims = [...pods].sort(podDeletionOrder).slice(0, diff);
      this.expectations.expectDeletions(key, victims.map(objKey));
      const errors: Error[] = [];
      await Promise.all(
        victims.map(async (p) => {
          try {
            await this.podControl.deletePod(owner, p.metadata.namespace, p.metadata.name);
          } catch (e) {
            this.expectations.deletionObserved(key, objKey(p));
            if (!(e instanceof ApiError && e.reason === 'NotFound')) errors.push(e as Error);
          }
        }),
      );
      if (errors.length) throw errors[0];
    }
  }

  /** kube's calculateStatus + updateReplicaSetStatus; returns the written object, if written */
  private async updateStatus(owner: Obj, pods: Obj[], manageError: Error | undefined): Promise<Obj | undefined> {
    const now = Date.now();
    const templateLabels = owner.spec?.template?.metadata?.labels ?? {};
    const min = owner.spec?.minReadySeconds ?? 0;
    let fullyLabeled = 0;
    let ready = 0;
    let available = 0;
    for (const p of pods) {
      const labels = p.metadata.labels ?? {};
      if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fullyLabeled++;
      if (isPodReady(p)) {
        ready++;
        if (isPodAvailable(p, min, now)) available++;
      }
    }
    const old = owner.status ?? {};
    let conditions: Obj[] = [...(old.conditions ?? [])];
    const failure = getCondition(conditions, 'ReplicaFailure');
    if (manageError && !failure) {
      const diff = pods.length - (owner.spec?.replicas ?? 1);
      const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : 'FailedCreate';
      conditions.push({ type: 'ReplicaFailure', status: 'True', lastTransitionTime: rfc3339(now), reason, message: manageError.message });
    } else if (!manageError && failure) {
      conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
    }
    const status: Obj = {
      replicas: pods.length,
      fullyLabeledReplicas: fullyLabeled,
      readyReplicas: ready,
      availableReplicas: available,
      observedGeneration: owner.metadata.generation,
    };
    if (conditions.length) status.conditions = conditions;
    const same =
      (old.replicas ?? 0) === status.replicas &&
      (old.fullyLabeledReplicas ?? 0) === status.fullyLabeledReplicas &&
      (old.readyReplicas ?? 0) === status.readyReplicas &&
      (old.availableReplicas ?? 0) === status.availableReplicas &&
      old.observedGeneration === status.observedGeneration &&
      JSON.stringify(old.conditions ?? []) === JSON.stringify(conditions);
    if (same) return undefined;
    const rs = this.client.resource(this.kind.r);
    let cur = owner;
    for (let attempt = 0; ; attempt++) {
      try {
        return await rs.update({ ...cur, status: omitZero({ ...cur.status, ...status, conditions: status.conditions }, OMITTED_IF_ZERO.replicaSet) }, { sub: 'status' });
      } catch (e) {
        if (e instanceof ApiError && e.reason === 'NotFound') return undefined;
        if (!(e instanceof ApiError && e.code === 409) || attempt >= 1) throw e;
        const fresh = await rs.tryGet(owner.metadata.namespace, owner.metadata.name);
        if (!fresh || fresh.metadata.uid !== owner.metadata.uid) return undefined;
        cur = fresh;
      }
    }
  }
}

/** the pods an owner controls, from the shared pod cache (for tests and the deployment controller) */
export function podsControlledBy(pods: Informer<Obj>, owner: Obj): Obj[] {
  return pods.cache.byIndex(CONTROLLER_INDEX, owner.metadata.uid);
}
