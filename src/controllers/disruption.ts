/**
 * The disruption controller (kube-controller-manager's disruption controller): each
 * PodDisruptionBudget's status from the pods its selector picks in its namespace:
 *
 *   expectedPods        minAvailable as a number: the pods selected; otherwise (a percentage,
 *                       or maxUnavailable) the replicas their controllers ask for (a
 *                       Deployment's for its ReplicaSets, a ReplicaSet's, a StatefulSet's, a
 *                       ReplicationController's), each controller counted once
 *   desiredHealthy      minAvailable (a percentage rounded up), or expectedPods - maxUnavailable
 *   currentHealthy      selected pods that are Ready, not terminating and not just evicted
 *                       (status.disruptedPods, kept for 2 minutes as upstream's timeout)
 *   disruptionsAllowed  currentHealthy - desiredHealthy, never below 0
 *
 * and the DisruptionAllowed condition (SufficientPods / InsufficientPods). Pods without a
 * controller under a percentage or maxUnavailable budget: a NoControllers warning and no
 * disruption allowed, as upstream. pods/eviction (src/registry/eviction.ts) spends the budget.
 */
import { resourceInfo } from '../api/registry.js';
import { labelSelectorFromObject } from '../api/selectors/labels.js';
import { rfc3339 } from '../api/time.js';
import { EventRecorder } from '../client/events.js';
import { Informer, objectKey } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { QueueController } from './queue-controller.js';

const PDBS = resourceInfo('poddisruptionbudgets', 'policy')!;
const PODS = resourceInfo('pods')!;
const SCALABLE: Record<string, ReturnType<typeof resourceInfo>> = {
  ReplicaSet: resourceInfo('replicasets', 'apps'),
  Deployment: resourceInfo('deployments', 'apps'),
  StatefulSet: resourceInfo('statefulsets', 'apps'),
  ReplicationController: resourceInfo('replicationcontrollers'),
};
/** how long an evicted pod is not counted healthy while it has not gone yet (upstream's DeletionTimeout) */
export const DELETION_TIMEOUT_MS = 2 * 60_000;

const isReady = (p: Obj) => (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');

/** an int-or-percent against a total: a percentage rounded up, as GetScaledValueFromIntOrPercent(roundUp) */
export function scaled(v: number | string, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  return m ? Math.ceil((Number(m[1]) * total) / 100) : Number(v);
}

/** the status numbers for a budget from its selected pods and the replicas their controllers want */
export function budgetStatus(pdb: Obj, pods: readonly Obj[], expectedFromControllers: number | undefined, now = Date.now()): Obj {
  const spec = pdb.spec ?? {};
  const disrupted: Record<string, string> = {};
  for (const [name, at] of Object.entries<string>(pdb.status?.disruptedPods ?? {})) {
    const pod = pods.find((p) => p.metadata.name === name);
    // kept while the pod is still there, not terminating, and the eviction is recent
    if (pod && !pod.metadata.deletionTimestamp && Date.parse(at) + DELETION_TIMEOUT_MS > now) disrupted[name] = at;
  }
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  const currentHealthy = live.filter((p) => isReady(p) && !(p.metadata.name in disrupted)).length;
  let expectedPods: number;
  let desiredHealthy: number;
  if (spec.maxUnavailable != null) {
    expectedPods = expectedFromControllers ?? 0;
    desiredHealthy = Math.max(0, expectedPods - scaled(spec.maxUnavailable, expectedPods));
  } else if (typeof spec.minAvailable === 'number') {
    expectedPods = live.length;
    desiredHealthy = spec.minAvailable;
  } else if (typeof spec.minAvailable === 'string') {
    expectedPods = expectedFromControllers ?? 0;
    desiredHealthy = scaled(spec.minAvailable, expectedPods);
  } else {
    // neither set: nothing expected, so no disruption is allowed (upstream's getExpectedPodCount)
    expectedPods = 0;
    desiredHealthy = 0;
  }
  const disruptionsAllowed = expectedPods <= 0 ? 0 : Math.max(0, currentHealthy - desiredHealthy);
  const status: Obj = { ...(pdb.status ?? {}), observedGeneration: pdb.metadata.generation, currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed };
  if (Object.keys(disrupted).length) status.disruptedPods = disrupted;
  else delete status.disruptedPods;
  const allowed = disruptionsAllowed > 0;
  const prev = (pdb.status?.conditions ?? []).find((c: Obj) => c.type === 'DisruptionAllowed');
  const cond = {
    type: 'DisruptionAllowed',
    status: allowed ? 'True' : 'False',
    observedGeneration: pdb.metadata.generation,
    lastTransitionTime: prev && prev.status === (allowed ? 'True' : 'False') ? prev.lastTransitionTime : rfc3339(now),
    reason: allowed ? 'SufficientPods' : 'InsufficientPods',
    message: '',
  };
  status.conditions = [cond];
  return status;
}

export class DisruptionController extends QueueController {
  private readonly budgets: Informer<Obj>;
  private readonly pods: Informer<Obj>;
  private readonly events: EventRecorder;

  constructor(client: Client, opts: { log?: (line: string) => void } = {}) {
    super(client, 'disruption controller', { ...opts, rate: { baseMs: 50, maxMs: 30_000 } });
    this.events = new EventRecorder(client, 'controllermanager', '', this.log);
    // resync: evicted pods leave disruptedPods after the timeout even when nothing else changes
    this.budgets = this.informer(PDBS, { resyncPeriodMs: 30_000 });
    this.pods = this.informer(PODS);
    const budget = (b: Obj) => this.queue.add(objectKey(b));
    this.budgets.addEventHandler({ add: budget, update: (_o, b) => budget(b) });
    const pod = (p: Obj) => {
      for (const b of this.budgets.cache.list()) {
        if (b.metadata.namespace === p.metadata.namespace && b.spec?.selector != null && labelSelectorFromObject(b.spec.selector).matches(p.metadata.labels ?? {})) budget(b);
      }
    };
    this.pods.addEventHandler({ add: pod, update: (_o, p) => pod(p), delete: pod });
  }

  protected async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const pdb = await this.client.resource(PDBS).tryGet(ns, name);
    if (!pdb || pdb.metadata.deletionTimestamp) return;
    const selector = pdb.spec?.selector != null ? labelSelectorFromObject(pdb.spec.selector) : undefined;
    const pods = selector ? this.pods.cache.list().filter((p) => p.metadata.namespace === ns && selector.matches(p.metadata.labels ?? {})) : [];
    let expected: number | undefined;
    if (pdb.spec?.maxUnavailable != null || typeof pdb.spec?.minAvailable === 'string') {
      expected = await this.expectedFromControllers(pdb, pods);
    }
    const status = budgetStatus(pdb, pods, expected);
    const strip = (s: Obj) => JSON.stringify({ ...s, conditions: (s.conditions ?? []).map((c: Obj) => ({ ...c, lastTransitionTime: undefined })) });
    if (strip(status) === strip(pdb.status ?? {})) return;
    await this.client.resource(PDBS).update({ ...pdb, status }, { sub: 'status' });
  }

  /** the replicas the selected pods' controllers want, each controller once; undefined for a pod without one */
  private async expectedFromControllers(pdb: Obj, pods: readonly Obj[]): Promise<number | undefined> {
    const seen = new Map<string, number>();
    for (const p of pods) {
      const ref = (p.metadata.ownerReferences ?? []).find((r: Obj) => r.controller);
      const r = ref && SCALABLE[ref.kind];
      if (!r) {
        this.events.record(pdb, 'Warning', 'NoControllers', `found no controllers for pod "${p.metadata.name}"`);
        return undefined;
      }
      let owner = await this.client.resource(r).tryGet(p.metadata.namespace, ref.name);
      if (!owner) continue;
      // a Deployment's ReplicaSets count as the Deployment (upstream's getPodReplicaSet -> Deployment finder)
      const dref = ref.kind === 'ReplicaSet' ? (owner.metadata.ownerReferences ?? []).find((x: Obj) => x.controller && x.kind === 'Deployment') : undefined;
      if (dref) owner = (await this.client.resource(SCALABLE.Deployment!).tryGet(p.metadata.namespace, dref.name)) ?? owner;
      seen.set(owner.metadata.uid, owner.spec?.replicas ?? 1);
    }
    return [...seen.values()].reduce((a, b) => a + b, 0);
  }
}
