/**
 * The StatefulSet controller (kube-controller-manager's statefulset controller, for one node):
 * pods with stable names `<set>-<ordinal>` (from spec.ordinals.start), hostname = pod name and
 * subdomain = serviceName; each labelled with its revision (controller-revision-hash), its name
 * (statefulset.kubernetes.io/pod-name) and its index (apps.kubernetes.io/pod-index).
 *
 *   statefulset informer ───────────┐
 *   pod informer (by controller) ────┴─> queue ──> sync(namespace/name)
 *     sync: revisions (a ControllerRevision per template) ─> pods ─> status ─> old revisions pruned
 *
 * OrderedReady makes pods one at a time in ordinal order, each only once the ones before it are
 * Running and Ready, and removes the ones past `replicas` highest first, one at a time; Parallel
 * does both at once. A Failed pod is deleted and made again. RollingUpdate replaces pods whose
 * revision is not the update revision from the highest ordinal down to `partition`, one at a
 * time, each after the set is healthy; OnDelete waits for the user to delete them. Once every pod
 * is updated and ready, the update revision becomes the current one.
 *
 * Each pod's claims from volumeClaimTemplates are made before it and kept after it
 * (statefulset-claims.ts, with the retention policy).
 *
 * Pods have fixed names, so a stale cache cannot make a pod twice (AlreadyExists); deletes carry
 * the pod's uid as a precondition so a stale cache never deletes the pod's successor.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { EventRecorder } from '../client/events.js';
import { Informer, objectKey } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { controllerKey, controllerRef, controllerUid } from './owner.js';
import { ensureRevision, pruneRevisions, REVISION_LABEL, REVISIONS } from './revisions.js';
import { runWorkers, WorkQueue } from './workqueue.js';
import { claimOwnedByPod, claimsForPod, retainOnScaleDown, withClaimVolumes } from './statefulset-claims.js';
import { omitZero, OMITTED_IF_ZERO } from './omit-zero.js';

const STATEFULSETS = resourceInfo('statefulsets', 'apps')!;
const PODS = resourceInfo('pods')!;
const CLAIMS = resourceInfo('persistentvolumeclaims')!;
const BY_OWNER = 'owner-uid';

export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

export interface StatefulSetControllerOptions {
  workers?: number;
  log?: (line: string) => void;
}

/** the ordinal of a set's pod from its name, or undefined when the name is not `<set>-<n>` */
export function podOrdinal(set: string, pod: string): number | undefined {
  const m = /^(.*)-(\d+)$/.exec(pod);
  return m && m[1] === set ? Number(m[2]) : undefined;
}

/** the pod for `ordinal` from a template of revision `revision` */
export function podForSet(set: Obj, template: Obj, revision: string, ordinal: number): Obj {
  const t = structuredClone(template ?? {});
  const name = `${set.metadata.name}-${ordinal}`;
  const spec = withClaimVolumes(t.spec ?? {}, set, ordinal);
  spec.hostname = name;
  if (set.spec?.serviceName) spec.subdomain = set.spec.serviceName;
  return {
    metadata: {
      name,
      namespace: set.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), [REVISION_LABEL]: revision, [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal) },
      ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
      ownerReferences: [controllerRef(set, 'apps/v1', 'StatefulSet')],
    },
    spec,
  };
}

const isReady = (p: Obj) => p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
const isTerminating = (p: Obj) => !!p.metadata.deletionTimestamp;
const isFailed = (p: Obj) => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';

export class StatefulSetController {
  private readonly sets: Informer<Obj>;
  private readonly pods: Informer<Obj>;
  private readonly revisions: Informer<Obj>;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  private readonly events: EventRecorder;
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly opts: StatefulSetControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.events = new EventRecorder(client, 'statefulset-controller', '', this.log);
    const byOwner = {
      [BY_OWNER]: (o: Obj) => {
        const uid = controllerUid(o, 'StatefulSet');
        return uid ? [uid] : [];
      },
    };
    this.sets = new Informer<Obj>(client, STATEFULSETS, { log: this.log });
    this.pods = new Informer<Obj>(client, PODS, { log: this.log, indexers: byOwner });
    this.revisions = new Informer<Obj>(client, REVISIONS, { log: this.log, indexers: byOwner });
    const enqueue = (s: Obj) => this.queue.add(objectKey(s));
    this.sets.addEventHandler({ add: enqueue, update: (_o, s) => enqueue(s) });
    const owned = (o: Obj) => {
      const key = controllerKey(o, 'StatefulSet');
      if (key) this.queue.add(key);
    };
    this.pods.addEventHandler({ add: owned, update: (_o, p) => owned(p), delete: owned });
  }

  async start(): Promise<void> {
    await Promise.all([this.sets.start(), this.pods.start(), this.revisions.start()]);
    this.running = runWorkers(this.queue, this.opts.workers ?? 2, (key) => this.sync(key), (l) => this.log(`statefulset controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.sets.stop();
    this.pods.stop();
    this.revisions.stop();
    this.queue.shutDown();
    await this.running;
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const set = await this.client.resource(STATEFULSETS).tryGet(ns, name);
    if (!set || set.metadata.deletionTimestamp) return;
    const spec = set.spec ?? {};
    const status: Obj = structuredClone(set.status ?? {});
    const before = JSON.stringify(status);

    // revisions: the update revision is the current template's; the current one stays until a rollout completes
    const revisions = this.revisions.cache.byIndex(BY_OWNER, set.metadata.uid);
    const update = await ensureRevision(this.client, set, 'StatefulSet', revisions);
    const currentName = status.currentRevision && (status.currentRevision === update.metadata.name || revisions.some((r) => r.metadata.name === status.currentRevision)) ? status.currentRevision : update.metadata.name;
    const current = currentName === update.metadata.name ? update : revisions.find((r) => r.metadata.name === currentName)!;
    const templateOf = (rev: Obj) => rev.data?.spec?.template ?? spec.template;

    const start = spec.ordinals?.start ?? 0;
    const replicas = spec.replicas ?? 1;
    const parallel = spec.podManagementPolicy === 'Parallel';
    const rolling = (spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
    const partition = rolling ? spec.updateStrategy?.rollingUpdate?.partition ?? 0 : 0;
    const pods = this.pods.cache.byIndex(BY_OWNER, set.metadata.uid);
    const byOrdinal = new Map<number, Obj>();
    for (const p of pods) {
      const o = podOrdinal(name, p.metadata.name);
      if (o !== undefined) byOrdinal.set(o, p);
    }
    const wanted = (o: number) => o >= start && o < start + replicas;

    await this.managePods(set, byOrdinal, { start, replicas, parallel, wanted, partition, rolling, current, update, templateOf });

    // status from the cache as it stands (the next event brings the rest)
    const mine = [...byOrdinal.values()];
    const inRange = mine.filter((p) => wanted(podOrdinal(name, p.metadata.name)!));
    const rev = (p: Obj) => p.metadata.labels?.[REVISION_LABEL];
    status.observedGeneration = set.metadata.generation;
    status.replicas = mine.filter((p) => !isTerminating(p)).length;
    status.readyReplicas = mine.filter(isReady).length;
    status.availableReplicas = status.readyReplicas;
    status.currentReplicas = mine.filter((p) => rev(p) === current.metadata.name && !isTerminating(p)).length;
    status.updatedReplicas = mine.filter((p) => rev(p) === update.metadata.name && !isTerminating(p)).length;
    status.currentRevision = current.metadata.name;
    status.updateRevision = update.metadata.name;
    status.collisionCount ??= 0;
    // the rollout is complete: every wanted pod updated and ready
    if (current !== update && inRange.length === replicas && inRange.every((p) => rev(p) === update.metadata.name && isReady(p) && !isTerminating(p)) && mine.length === replicas) {
      status.currentRevision = update.metadata.name;
      status.currentReplicas = status.updatedReplicas;
    }
    omitZero(status, OMITTED_IF_ZERO.statefulSet);
    if (JSON.stringify(status) !== before) await this.client.resource(STATEFULSETS).update({ ...set, status }, { sub: 'status' });
    await pruneRevisions(this.client, set, revisions, new Set([status.currentRevision, status.updateRevision, ...mine.map(rev)]));
  }

  private async managePods(
    set: Obj,
    byOrdinal: Map<number, Obj>,
    o: { start: number; replicas: number; parallel: boolean; wanted: (n: number) => boolean; partition: number; rolling: boolean; current: Obj; update: Obj; templateOf: (rev: Obj) => Obj },
  ): Promise<void> {
    const name = set.metadata.name;
    // 1. the wanted ordinals, lowest first: failed pods go, missing ones are made
    for (let ord = o.start; ord < o.start + o.replicas; ord++) {
      const p = byOrdinal.get(ord);
      if (p && isFailed(p) && !isTerminating(p)) {
        await this.deletePod(set, p, `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`);
        if (!o.parallel) return;
        continue;
      }
      if (!p) {
        const rev = o.rolling && ord - o.start < o.partition ? o.current : o.update;
        await this.ensureClaims(set, ord);
        await this.createPod(set, podForSet(set, o.templateOf(rev), rev.metadata.name, ord));
        if (!o.parallel) return;
        continue;
      }
      // OrderedReady: the next ordinal waits for this one to be Running and Ready
      if (!o.parallel && (isTerminating(p) || !isReady(p))) return;
    }
    // 2. ordinals past replicas, highest first
    const condemned = [...byOrdinal.entries()].filter(([ord]) => !o.wanted(ord)).sort((a, b) => b[0] - a[0]);
    for (const [, p] of condemned) {
      if (isTerminating(p)) {
        if (!o.parallel) return;
        continue;
      }
      if (!retainOnScaleDown(set)) await this.claimsFollowPod(set, p);
      await this.deletePod(set, p, `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`);
      if (!o.parallel) return;
    }
    if (condemned.length) return;
    // 3. rolling update, highest ordinal down to the partition, one at a time, each once the set is healthy
    if (!o.rolling) return;
    for (let ord = o.start + o.replicas - 1; ord >= o.start + o.partition; ord--) {
      const p = byOrdinal.get(ord);
      if (!p) return;
      if (p.metadata.labels?.[REVISION_LABEL] !== o.update.metadata.name && !isTerminating(p)) {
        await this.deletePod(set, p, `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`);
        return;
      }
      if (!isReady(p) || isTerminating(p)) return;
    }
  }

  /** the pod's claims, made before it (createPersistentVolumeClaims); a claim being deleted holds the pod back */
  private async ensureClaims(set: Obj, ordinal: number): Promise<void> {
    const podName = `${set.metadata.name}-${ordinal}`;
    for (const claim of claimsForPod(set, ordinal)) {
      const have = await this.client.resource(CLAIMS).tryGet(set.metadata.namespace, claim.metadata.name);
      if (have) {
        if (have.metadata.deletionTimestamp) throw new Error(`pvc ${claim.metadata.name} is being deleted`);
        continue;
      }
      try {
        await this.client.resource(CLAIMS).create(set.metadata.namespace, claim);
        this.events.record(set, 'Normal', 'SuccessfulCreate', `create Claim ${claim.metadata.name} Pod ${podName} in StatefulSet ${set.metadata.name} success`);
      } catch (e) {
        if (e instanceof ApiError && e.reason === 'AlreadyExists') continue;
        this.events.record(set, 'Warning', 'FailedCreate', `create Claim ${claim.metadata.name} for Pod ${podName} in StatefulSet ${set.metadata.name} failed error: ${(e as Error).message}`);
        throw e;
      }
    }
  }

  /** whenScaled Delete: a condemned pod's claims get the pod as owner, so they go with it */
  private async claimsFollowPod(set: Obj, pod: Obj): Promise<void> {
    const ordinal = podOrdinal(set.metadata.name, pod.metadata.name);
    if (ordinal === undefined) return;
    for (const want of claimsForPod(set, ordinal)) {
      const claim = await this.client.resource(CLAIMS).tryGet(set.metadata.namespace, want.metadata.name);
      const next = claim && claimOwnedByPod(claim, pod);
      if (next) await this.client.resource(CLAIMS).update(next);
    }
  }

  private async createPod(set: Obj, pod: Obj): Promise<void> {
    try {
      await this.client.resource(PODS).create(set.metadata.namespace, pod);
      this.events.record(set, 'Normal', 'SuccessfulCreate', `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
    } catch (e) {
      if (e instanceof ApiError && e.reason === 'AlreadyExists') return; // the cache had not seen it yet
      this.events.record(set, 'Warning', 'FailedCreate', `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${(e as Error).message}`);
      throw e;
    }
  }

  private async deletePod(set: Obj, pod: Obj, message: string): Promise<void> {
    try {
      await this.client.resource(PODS).delete(pod.metadata.namespace, pod.metadata.name, { preconditions: { uid: pod.metadata.uid } });
      this.events.record(set, 'Normal', 'SuccessfulDelete', message);
    } catch (e) {
      // gone already, or a newer pod of that name (the precondition): nothing to do
      if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict'))) throw e;
    }
  }
}
