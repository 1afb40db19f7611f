/**
 * The Deployment controller (kube's pkg/controller/deployment): a Deployment runs its pods
 * through ReplicaSets, one per template (named <deployment>-<pod-template-hash>), and moves
 * replicas from the old sets to the new one as its strategy says.
 *
 *   deployment / replicaset / pod informers ──> queue(ns/name) ──> sync
 *     sync: claim ReplicaSets (adopt, release)
 *       ├ being deleted            -> status only
 *       ├ paused, or only scaled   -> scale the sets proportionally (no rollout), clean up history
 *       ├ RollingUpdate            -> new set up to replicas+maxSurge, old sets down while
 *       │                             available >= replicas-maxUnavailable
 *       └ Recreate                 -> old sets to 0, wait for their pods to go, new set up
 *     then status (counts, observedGeneration, Available) and Progressing: NewReplicaSetCreated,
 *     FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded
 *     after progressDeadlineSeconds without progress; revisions on the sets
 *     (deployment.kubernetes.io/revision) and revisionHistoryLimit cleanup.
 *
 * The new set's name is a pure function of the template (and collisionCount), so a controller
 * restarted between creating the set and recording it finds the set it made (AlreadyExists with
 * the same template = ours) instead of making a second one.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { labelSelectorFromObject } from '../api/selectors/labels.js';
import type { Informer } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import {
  byCreation,
  byRevision,
  condition,
  computeHash,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  equalIgnoreHash,
  desiredReplicasAnnotation,
  findNewReplicaSet,
  getDeploymentCondition,
  hasProgressDeadline,
  isRollingUpdate,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newRSNewReplicas,
  POD_TEMPLATE_HASH,
  proportion,
  removeDeploymentCondition,
  REVISION,
  replicasOf,
  setDeploymentCondition,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  sumActual,
  sumAvailable,
  sumReady,
  sumReplicas,
} from './deployment-util.js';
import type { SharedInformers } from './informers.js';
import { claimObjects, CONTROLLER_INDEX, controllerRefOf, newControllerRef, objKey, PODS, recheckOwner, rfc3339 } from './pod-control.js';
import { EventRecorder } from '../client/events.js';
import { runWorkers, WorkQueue } from './workqueue.js';
import { omitZero, OMITTED_IF_ZERO } from './omit-zero.js';

export const DEPLOYMENTS = resourceInfo('deployments', 'apps')!;
export const REPLICASETS = resourceInfo('replicasets', 'apps')!;

export interface DeploymentControllerOptions {
  workers?: number;
  log?: (line: string) => void;
}

export class DeploymentController {
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 1_000_000 });
  private readonly deployments: Informer<Obj>;
  private readonly rss: Informer<Obj>;
  private readonly pods: Informer<Obj>;
  private readonly events: EventRecorder;
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    informers: SharedInformers,
    private readonly opts: DeploymentControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.events = new EventRecorder(client, 'deployment-controller', '', this.log);
    this.deployments = informers.for(DEPLOYMENTS);
    this.rss = informers.for(REPLICASETS);
    this.pods = informers.for(PODS);
    this.deployments.addEventHandler({ add: (d) => this.enqueue(d), update: (_o, d) => this.enqueue(d), delete: (d) => this.enqueue(d) });
    this.rss.addEventHandler({
      add: (rs) => this.rsChanged(rs),
      update: (old, rs) => {
        const oldRef = controllerRefOf(old);
        if (oldRef && oldRef.uid !== controllerRefOf(rs)?.uid) this.rsChanged(old);
        this.rsChanged(rs);
      },
      delete: (rs) => this.rsChanged(rs),
    });
    // Recreate waits for the old pods to be gone
    this.pods.addEventHandler({ delete: (p) => this.podDeleted(p) });
  }

  async start(): Promise<void> {
    await Promise.all([this.deployments.start(), this.rss.start(), this.pods.start()]);
    this.running = runWorkers(this.queue, this.opts.workers ?? 2, (key) => this.sync(key), (l) => this.log(`deployment-controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.running;
  }

  private enqueue(d: Obj, afterMs = 0): void {
    if (afterMs > 0) this.queue.addAfter(objKey(d), afterMs);
    else this.queue.add(objKey(d));
  }

  private resolve(ns: string, ref: { kind: string; name: string; uid: string } | undefined): Obj | undefined {
    if (!ref || ref.kind !== 'Deployment') return undefined;
    const d = this.deployments.cache.getByName(ns, ref.name);
    return d?.metadata?.uid === ref.uid ? d : undefined;
  }

  private rsChanged(rs: Obj): void {
    const ref = controllerRefOf(rs);
    if (ref) {
      const d = this.resolve(rs.metadata.namespace, ref);
      if (d) this.enqueue(d);
      return;
    }
    // an orphan: the deployments that could adopt it
    for (const d of this.deployments.cache.byIndex('namespace', rs.metadata.namespace)) {
      try {
        if (labelSelectorFromObject(d.spec?.selector).matches(rs.metadata.labels ?? {})) this.enqueue(d);
      } catch {
        /* an invalid selector adopts nothing */
      }
    }
  }

  private podDeleted(p: Obj): void {
    const rsRef = controllerRefOf(p);
    if (!rsRef || rsRef.kind !== 'ReplicaSet') return;
    const rs = this.rss.cache.getByName(p.metadata.namespace, rsRef.name);
    const d = rs && this.resolve(p.metadata.namespace, controllerRefOf(rs));
    if (d && !isRollingUpdate(d)) this.enqueue(d);
  }

  // ---------------------------------------------------------------- sync

  async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.deployments.cache.getByName(ns, name);
    if (!cached) return;
    const d = structuredClone(cached);
    const sel = d.spec?.selector;
    if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) {
      this.events.record(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) await this.writeStatus(d, { ...d.status, observedGeneration: d.metadata.generation });
      return;
    }
    const rsList = await this.replicaSetsFor(d);
    if (d.metadata.deletionTimestamp) return this.syncStatusOnly(d, rsList);
    await this.checkPausedConditions(d);
    if (d.spec?.paused) return this.syncScale(d, rsList);
    if (this.isScalingEvent(d, rsList)) return this.syncScale(d, rsList);
    if (isRollingUpdate(d)) return this.rolloutRolling(d, rsList);
    return this.rolloutRecreate(d, rsList);
  }

  /** getReplicaSetsForDeployment: claim the sets the selector matches */
  private async replicaSetsFor(d: Obj): Promise<Obj[]> {
    const all = this.rss.cache.byIndex('namespace', d.metadata.namespace);
    const ref = newControllerRef(d, 'apps/v1', 'Deployment');
    const claimed = await claimObjects(this.client, REPLICASETS, d, ref, labelSelectorFromObject(d.spec.selector), all, recheckOwner(this.client, DEPLOYMENTS, d));
    return claimed.map((rs) => structuredClone(rs));
  }

  /** the new set (maybe created), the old ones, and the deployment's revision kept in step */
  private async getAllReplicaSets(d: Obj, rsList: Obj[], createIfMissing: boolean): Promise<{ newRS?: Obj; oldRSs: Obj[] }> {
    const existing = findNewReplicaSet(d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRS = await this.getNewReplicaSet(d, existing, oldRSs, createIfMissing);
    return { newRS, oldRSs };
  }

  private async getNewReplicaSet(d: Obj, existing: Obj | undefined, oldRSs: Obj[], createIfMissing: boolean): Promise<Obj | undefined> {
    const newRevision = maxRevision(oldRSs) + 1;
    const now = rfc3339();
    const rsClient = this.client.resource(REPLICASETS);
    if (existing) {
      let rs = existing;
      const copy = structuredClone(existing);
      const annotationsChanged = setNewReplicaSetAnnotations(d, copy, newRevision, true);
      const minReadyChanged = (copy.spec.minReadySeconds ?? 0) !== (d.spec.minReadySeconds ?? 0);
      if (annotationsChanged || minReadyChanged) {
        copy.spec.minReadySeconds = d.spec.minReadySeconds ?? 0;
        rs = await rsClient.update(copy);
      }
      // kube writes the revision with the status; podbay's status update keeps metadata, so it is a patch
      await this.setDeploymentRevision(d, rs.metadata.annotations?.[REVISION]);
      const st = structuredClone(d.status ?? {});
      if (hasProgressDeadline(d) && !getDeploymentCondition(st, 'Progressing')) {
        setDeploymentCondition(st, condition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${rs.metadata.name}"`, now));
        await this.writeStatus(d, st);
      }
      return rs;
    }
    if (!createIfMissing) return undefined;

    const hash = computeHash(d.spec.template, d.status?.collisionCount);
    const template = structuredClone(d.spec.template);
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const selector = structuredClone(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const newRS: Obj = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, ownerReferences: [newControllerRef(d, 'apps/v1', 'Deployment')], labels: { ...template.metadata.labels } },
      spec: { replicas: 0, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
    };
    newRS.spec.replicas = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    setNewReplicaSetAnnotations(d, newRS, newRevision, false);
    let created: Obj;
    let alreadyExists = false;
    try {
      created = await rsClient.create(d.metadata.namespace, newRS);
    } catch (e) {
      if (e instanceof ApiError && e.reason === 'AlreadyExists') {
        // ours from before a restart (same owner, same template), or a hash collision
        const found = await rsClient.get(d.metadata.namespace, newRS.metadata.name);
        if (controllerRefOf(found)?.uid === d.metadata.uid && equalIgnoreHash(found.spec?.template, d.spec.template)) {
          created = found;
          alreadyExists = true;
        } else {
          const st = structuredClone(d.status ?? {});
          st.collisionCount = (st.collisionCount ?? 0) + 1;
          await this.writeStatus(d, st);
          throw new Error(`found a hash collision for deployment ${JSON.stringify(d.metadata.name)} - bumping collisionCount (${st.collisionCount - 1}->${st.collisionCount}) to resolve it`);
        }
      } else {
        if (hasProgressDeadline(d)) {
          const st = structuredClone(d.status ?? {});
          const msg = `Failed to create new replica set "${newRS.metadata.name}": ${(e as Error).message}`;
          setDeploymentCondition(st, condition('Progressing', 'False', 'ReplicaSetCreateError', msg, now));
          this.events.record(d, 'Warning', 'ReplicaSetCreateError', msg);
          await this.writeStatus(d, st);
        }
        throw e;
      }
    }
    if (!alreadyExists && replicasOf(created) > 0) {
      this.events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} to ${replicasOf(created)}`);
    }
    await this.setDeploymentRevision(d, String(newRevision));
    if (!alreadyExists && hasProgressDeadline(d)) {
      const st = structuredClone(d.status ?? {});
      setDeploymentCondition(st, condition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${created.metadata.name}"`, now));
      await this.writeStatus(d, st);
    }
    return created;
  }

  /** SetDeploymentRevision, written on the Deployment's metadata */
  private async setDeploymentRevision(d: Obj, revision: string | undefined): Promise<boolean> {
    if (revision === undefined || d.metadata.annotations?.[REVISION] === revision) return false;
    const out = await this.client
      .resource(DEPLOYMENTS)
      .patch(d.metadata.namespace, d.metadata.name, 'application/merge-patch+json', { metadata: { uid: d.metadata.uid, annotations: { [REVISION]: revision } } });
    d.metadata.annotations = out.metadata.annotations;
    d.metadata.resourceVersion = out.metadata.resourceVersion;
    return true;
  }

  /** write status (observedGeneration and all); `d` follows what was written */
  private async writeStatus(d: Obj, status: Obj): Promise<void> {
    const out = await this.client.resource(DEPLOYMENTS).update({ ...d, status }, { sub: 'status' });
    d.status = out.status;
    d.metadata.resourceVersion = out.metadata.resourceVersion;
  }

  private async scaleReplicaSet(rs: Obj, newScale: number, d: Obj, op: 'up' | 'down'): Promise<{ scaled: boolean; rs: Obj }> {
    const old = replicasOf(rs);
    const sizeChanged = old !== newScale;
    const copy = structuredClone(rs);
    const annotationsChanged = setReplicasAnnotations(copy, replicasOf(d), replicasOf(d) + maxSurge(d));
    if (!sizeChanged && !annotationsChanged) return { scaled: false, rs };
    copy.spec.replicas = newScale;
    const out = await this.client.resource(REPLICASETS).update(copy);
    if (sizeChanged) this.events.record(d, 'Normal', 'ScalingReplicaSet', `Scaled ${op} replica set ${rs.metadata.name} to ${newScale} from ${old}`);
    Object.assign(rs, out);
    return { scaled: sizeChanged, rs: out };
  }

  private async scaleTo(rs: Obj, newScale: number, d: Obj): Promise<boolean> {
    if (replicasOf(rs) === newScale) return false;
    return (await this.scaleReplicaSet(rs, newScale, d, replicasOf(rs) < newScale ? 'up' : 'down')).scaled;
  }

  // ---------------------------------------------------------------- rolling update

  private async rolloutRolling(d: Obj, rsList: Obj[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, true);
    const allRSs = [...oldRSs, newRS!];
    if (await this.reconcileNewReplicaSet(allRSs, newRS!, d)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (await this.reconcileOldReplicaSets(allRSs, oldRSs.filter((rs) => replicasOf(rs) > 0), newRS!, d)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (deploymentComplete(d, d.status ?? {})) await this.cleanupDeployment(oldRSs, d);
    return this.syncRolloutStatus(allRSs, newRS, d);
  }

  private async reconcileNewReplicaSet(allRSs: Obj[], newRS: Obj, d: Obj): Promise<boolean> {
    if (replicasOf(newRS) === replicasOf(d)) return false;
    if (replicasOf(newRS) > replicasOf(d)) return (await this.scaleReplicaSet(newRS, replicasOf(d), d, 'down')).scaled;
    return (await this.scaleReplicaSet(newRS, newRSNewReplicas(d, allRSs, newRS), d, 'up')).scaled;
  }

  private async reconcileOldReplicaSets(allRSs: Obj[], oldRSs: Obj[], newRS: Obj, d: Obj): Promise<boolean> {
    if (sumReplicas(oldRSs) === 0) return false;
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    const newUnavailable = replicasOf(newRS) - (newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = sumReplicas(allRSs) - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    // first the old sets' unhealthy replicas (cleanupUnhealthyReplicas)
    let cleaned = 0;
    for (const rs of [...oldRSs].sort(byCreation)) {
      if (cleaned >= maxScaledDown) break;
      const unhealthy = replicasOf(rs) - (rs.status?.availableReplicas ?? 0);
      if (replicasOf(rs) === 0 || unhealthy <= 0) continue;
      const n = Math.min(maxScaledDown - cleaned, unhealthy);
      await this.scaleReplicaSet(rs, replicasOf(rs) - n, d, 'down');
      cleaned += n;
    }
    // then healthy ones, as long as enough stay available
    const available = sumAvailable([...oldRSs, newRS]);
    let scaled = 0;
    if (available > minAvailable) {
      const total = available - minAvailable;
      for (const rs of [...oldRSs].sort(byCreation)) {
        if (scaled >= total) break;
        if (replicasOf(rs) === 0) continue;
        const n = Math.min(replicasOf(rs), total - scaled);
        await this.scaleReplicaSet(rs, replicasOf(rs) - n, d, 'down');
        scaled += n;
      }
    }
    return cleaned + scaled > 0;
  }

  // ---------------------------------------------------------------- recreate

  private async rolloutRecreate(d: Obj, rsList: Obj[]): Promise<void> {
    let { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, false);
    let allRSs = newRS ? [...oldRSs, newRS] : oldRSs;
    let scaledDown = false;
    for (const rs of oldRSs) if (replicasOf(rs) > 0 && (await this.scaleTo(rs, 0, d))) scaledDown = true;
    if (scaledDown) return this.syncRolloutStatus(allRSs, newRS, d);
    // wait until no pod of an old set runs (Failed/Succeeded ones do not count)
    const oldRunning = oldRSs.some(
      (rs) => (rs.status?.replicas ?? 0) > 0 || this.pods.cache.byIndex(CONTROLLER_INDEX, rs.metadata.uid).some((p) => !['Failed', 'Succeeded'].includes(p.status?.phase)),
    );
    if (oldRunning) return this.syncRolloutStatus(allRSs, newRS, d);
    if (!newRS) {
      ({ newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, true));
      allRSs = [...oldRSs, newRS!];
    }
    await this.scaleTo(newRS!, replicasOf(d), d);
    if (deploymentComplete(d, d.status ?? {})) await this.cleanupDeployment(oldRSs, d);
    return this.syncRolloutStatus(allRSs, newRS, d);
  }

  // ---------------------------------------------------------------- scaling, pause

  /** isScalingEvent: an active set's desired-replicas annotation differs from spec.replicas */
  private isScalingEvent(d: Obj, rsList: Obj[]): boolean {
    const existing = findNewReplicaSet(d, rsList);
    if (!existing) return false; // a new template: a rollout, not a scale
    for (const rs of rsList) {
      if (replicasOf(rs) === 0) continue;
      const desired = desiredReplicasAnnotation(rs);
      if (desired !== undefined && desired !== replicasOf(d)) return true;
    }
    return false;
  }

  /** kube's sync: scale (proportionally) and update status, no rollout */
  private async syncScale(d: Obj, rsList: Obj[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, false);
    await this.scale(d, newRS, oldRSs);
    if (d.spec?.paused) await this.cleanupDeployment(oldRSs, d);
    const allRSs = newRS ? [...oldRSs, newRS] : oldRSs;
    await this.syncDeploymentStatus(allRSs, newRS, d);
  }

  private async scale(d: Obj, newRS: Obj | undefined, oldRSs: Obj[]): Promise<void> {
    const active = [...(newRS ? [newRS] : []), ...oldRSs].filter((rs) => replicasOf(rs) > 0);
    // one active set (or none: the newest) takes the whole size
    if (active.length <= 1) {
      const target = active[0] ?? newRS ?? [...oldRSs].sort(byCreation).at(-1);
      if (target && replicasOf(target) !== replicasOf(d)) await this.scaleTo(target, replicasOf(d), d);
      return;
    }
    // saturated new set: the old ones go
    if (newRS && replicasOf(newRS) === replicasOf(d) && (newRS.status?.availableReplicas ?? 0) === replicasOf(d)) {
      for (const rs of oldRSs) if (replicasOf(rs) > 0) await this.scaleTo(rs, 0, d);
      return;
    }
    if (!isRollingUpdate(d)) return;
    const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
    const toAdd = allowed - sumReplicas(active);
    const op = toAdd > 0 ? 'up' : 'down';
    // growing: the biggest (newest on ties) first; shrinking: the biggest (oldest on ties) first
    const sorted = [...active].sort((a, b) => replicasOf(b) - replicasOf(a) || (toAdd > 0 ? byCreation(b, a) : byCreation(a, b)));
    const sizes = new Map<Obj, number>();
    let added = 0;
    for (const rs of sorted) {
      if (toAdd !== 0) {
        const p = proportion(rs, d, toAdd, added);
        sizes.set(rs, replicasOf(rs) + p);
        added += p;
      } else sizes.set(rs, replicasOf(rs));
    }
    if (toAdd !== 0 && sorted.length) sizes.set(sorted[0], Math.max(0, sizes.get(sorted[0])! + toAdd - added));
    for (const rs of sorted) await this.scaleReplicaSet(rs, sizes.get(rs)!, d, op);
  }

  private async checkPausedConditions(d: Obj): Promise<void> {
    if (!hasProgressDeadline(d)) return;
    const c = getDeploymentCondition(d.status, 'Progressing');
    if (c?.reason === 'ProgressDeadlineExceeded') return;
    const pausedCond = c?.reason === 'DeploymentPaused';
    const st = structuredClone(d.status ?? {});
    const now = rfc3339();
    if (d.spec?.paused && !pausedCond) setDeploymentCondition(st, condition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', now));
    else if (!d.spec?.paused && pausedCond) setDeploymentCondition(st, condition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', now));
    else return;
    await this.writeStatus(d, st);
  }

  /** revisionHistoryLimit: delete the oldest fully scaled-down sets beyond it */
  private async cleanupDeployment(oldRSs: Obj[], d: Obj): Promise<void> {
    const limit = d.spec?.revisionHistoryLimit;
    if (limit === undefined || limit === null) return;
    const cleanable = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const diff = cleanable.length - limit;
    if (diff <= 0) return;
    for (const rs of [...cleanable].sort(byRevision).slice(0, diff)) {
      if ((rs.status?.replicas ?? 0) !== 0 || replicasOf(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
      try {
        await this.client.resource(REPLICASETS).delete(rs.metadata.namespace, rs.metadata.name, { preconditions: { uid: rs.metadata.uid } });
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
      }
    }
  }

  // ---------------------------------------------------------------- status

  private calculateStatus(allRSs: Obj[], newRS: Obj | undefined, d: Obj): Obj {
    const available = sumAvailable(allRSs);
    const unavailable = Math.max(0, sumReplicas(allRSs) - available);
    const st: Obj = {
      observedGeneration: d.metadata.generation,
      replicas: sumActual(allRSs),
      updatedReplicas: sumActual(newRS ? [newRS] : []),
      readyReplicas: sumReady(allRSs),
      availableReplicas: available,
      unavailableReplicas: unavailable,
      conditions: structuredClone(d.status?.conditions ?? []),
    };
    if (d.status?.collisionCount !== undefined) st.collisionCount = d.status.collisionCount;
    const now = rfc3339();
    if (available >= replicasOf(d) - maxUnavailable(d)) setDeploymentCondition(st, condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', now));
    else setDeploymentCondition(st, condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', now));
    return omitZero(st, OMITTED_IF_ZERO.deployment);
  }

  private async syncStatusOnly(d: Obj, rsList: Obj[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSets(d, rsList, false);
    await this.syncDeploymentStatus(newRS ? [...oldRSs, newRS] : oldRSs, newRS, d);
  }

  private async syncDeploymentStatus(allRSs: Obj[], newRS: Obj | undefined, d: Obj): Promise<void> {
    const st = this.calculateStatus(allRSs, newRS, d);
    if (sameStatus(d.status, st)) return;
    await this.writeStatus(d, st);
  }

  private async syncRolloutStatus(allRSs: Obj[], newRS: Obj | undefined, d: Obj): Promise<void> {
    const st = this.calculateStatus(allRSs, newRS, d);
    const now = Date.now();
    if (!hasProgressDeadline(d)) removeDeploymentCondition(st, 'Progressing');
    const cur = getDeploymentCondition(d.status, 'Progressing');
    const complete = st.replicas === st.updatedReplicas && cur?.reason === 'NewReplicaSetAvailable';
    if (hasProgressDeadline(d) && !complete) {
      const ts = rfc3339(now);
      if (deploymentComplete(d, st)) {
        setDeploymentCondition(st, condition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${newRS?.metadata.name}" has successfully progressed.`, ts));
      } else if (deploymentProgressing(d, st)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`;
        let c = condition('Progressing', 'True', 'ReplicaSetUpdated', msg, ts);
        if (cur) {
          if (cur.status === 'True') c = { ...c, lastTransitionTime: cur.lastTransitionTime };
          removeDeploymentCondition(st, 'Progressing');
        }
        setDeploymentCondition(st, c);
      } else if (deploymentTimedOut(d, st, now)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.` : `Deployment "${d.metadata.name}" has timed out progressing.`;
        setDeploymentCondition(st, condition('Progressing', 'False', 'ProgressDeadlineExceeded', msg, ts));
        if (cur?.reason !== 'ProgressDeadlineExceeded') this.events.record(d, 'Warning', 'ProgressDeadlineExceeded', msg);
      }
    }
    // a set that cannot make its pods: the deployment says so too
    const failure = [newRS, ...allRSs].map((rs) => rs?.status?.conditions?.find((c: Obj) => c.type === 'ReplicaFailure' && c.status === 'True')).find(Boolean);
    if (failure) setDeploymentCondition(st, { type: 'ReplicaFailure', status: 'True', reason: failure.reason, message: failure.message, lastUpdateTime: failure.lastTransitionTime, lastTransitionTime: failure.lastTransitionTime });
    else removeDeploymentCondition(st, 'ReplicaFailure');
    if (sameStatus(d.status, st)) {
      this.requeueStuck(d, st, now);
      return;
    }
    await this.writeStatus(d, st);
    this.requeueStuck(d, st, now);
  }

  /** look again when the progress deadline would pass (requeueStuckDeployment) */
  private requeueStuck(d: Obj, st: Obj, now: number): void {
    const c = getDeploymentCondition(st, 'Progressing');
    if (!hasProgressDeadline(d) || !c || deploymentComplete(d, st) || c.reason === 'ProgressDeadlineExceeded') return;
    const after = Date.parse(c.lastUpdateTime) + d.spec.progressDeadlineSeconds * 1000 - now;
    this.enqueue(d, after < 1000 ? 1 : after + 1000);
  }
}

function sameStatus(a: Obj | undefined, b: Obj): boolean {
  const norm = (s: Obj | undefined) => {
    const o = { ...(s ?? {}) };
    if (!o.conditions?.length) delete o.conditions;
    for (const k of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas']) o[k] = o[k] ?? 0;
    return JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
  };
  return norm(a) === norm(b);
}
