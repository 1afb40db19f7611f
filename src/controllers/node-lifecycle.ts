/**
 * kube-controller-manager's node lifecycle and taint-eviction controllers:
 *   - node health (monitorNodeHealth): every --node-monitor-period the controller looks at each
 *     node's Ready heartbeat and its Lease in kube-node-lease. When neither has changed for
 *     --node-monitor-grace-period (40 s) by this controller's own clock (a node first seen counts
 *     as seen now, so a restarted server gives every node a full grace period), the node's
 *     conditions become Unknown, reason NodeStatusUnknown, "Kubelet stopped posting node
 *     status." (NodeStatusNeverUpdated, "Kubelet never posted node status.", for a node that
 *     never did), and the pods on it get Ready=False (MarkPodsNotReady);
 *   - taints from the Ready condition (TaintNodesByCondition and taint-based eviction): False
 *     gives node.kubernetes.io/not-ready, Unknown node.kubernetes.io/unreachable, each with
 *     NoSchedule (the scheduler leaves the node out) and NoExecute (its pods are evicted); True
 *     takes them away. When no node is Ready at all, upstream assumes the control plane lost
 *     its network rather than every node dying (full disruption) and evicts nothing: the
 *     NoExecute taints are then not added (and taken away);
 *   - a cordoned node (spec.unschedulable) carries the node.kubernetes.io/unschedulable:NoSchedule
 *     taint, and loses it on uncordon (TaintNodesByCondition), so `kubectl describe node` shows it;
 *   - a NoExecute taint evicts the pods bound to the node that do not tolerate it: at once, or
 *     once the smallest tolerationSeconds of the tolerations that match has passed since the
 *     taint's timeAdded (event TaintManagerEviction `Marking for deletion Pod ns/name`, as upstream).
 *     The DefaultTolerationSeconds admission (src/api/defaults/pod.ts) gives every pod 300 s
 *     for not-ready and unreachable; a ReplicaSet then replaces an evicted pod on another node.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { toleratesTaint } from '../api/taints.js';
import { EventRecorder } from '../client/events.js';
import { Informer } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { QueueController } from './queue-controller.js';

const NODES = resourceInfo('nodes')!;
const PODS = resourceInfo('pods')!;
const LEASES = resourceInfo('leases', 'coordination.k8s.io')!;
const BY_NODE = 'node';
export const UNSCHEDULABLE_TAINT = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };
export const NOT_READY_TAINT_KEY = 'node.kubernetes.io/not-ready';
export const UNREACHABLE_TAINT_KEY = 'node.kubernetes.io/unreachable';
const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** kube-controller-manager's defaults */
export const NODE_MONITOR_GRACE_PERIOD_MS = 40_000;
export const NODE_MONITOR_PERIOD_MS = 5_000;

const sameTaint = (a: Obj, b: Obj) => a.key === b.key && a.effect === b.effect;

/** the node's taints with the unschedulable taint matching spec.unschedulable, or undefined when they already do */
export function unschedulableTaints(node: Obj): Obj[] | undefined {
  const taints: Obj[] = node.spec?.taints ?? [];
  const has = taints.some((t) => sameTaint(t, UNSCHEDULABLE_TAINT));
  const want = node.spec?.unschedulable === true;
  if (has === want) return undefined;
  return want ? [...taints, { ...UNSCHEDULABLE_TAINT }] : taints.filter((t) => !sameTaint(t, UNSCHEDULABLE_TAINT));
}

const readyCondition = (node: Obj): Obj | undefined => (node.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready');

/**
 * The node's taints with the not-ready/unreachable ones matching its Ready condition, or
 * undefined when they already do. `evict`: whether NoExecute taints may be added (not in a full
 * disruption). A taint kept keeps its timeAdded (eviction counts from it).
 */
export function conditionTaints(node: Obj, evict: boolean, now = new Date()): Obj[] | undefined {
  const taints: Obj[] = node.spec?.taints ?? [];
  const status = readyCondition(node)?.status;
  const key = status === 'False' ? NOT_READY_TAINT_KEY : status === 'Unknown' ? UNREACHABLE_TAINT_KEY : undefined;
  const want: Obj[] = key ? [{ key, effect: 'NoSchedule' }, ...(evict ? [{ key, effect: 'NoExecute', timeAdded: now.toISOString().replace(/\.\d+Z$/, 'Z') }] : [])] : [];
  const ours = (t: Obj) => t.key === NOT_READY_TAINT_KEY || t.key === UNREACHABLE_TAINT_KEY;
  const kept = taints.filter((t) => !ours(t) || want.some((w) => sameTaint(w, t)));
  const added = want.filter((w) => !taints.some((t) => sameTaint(w, t)));
  if (kept.length === taints.length && !added.length) return undefined;
  return [...kept, ...added];
}

/** what the controller last saw of a node's heartbeats, and when (by its own clock) */
export interface NodeHealth {
  heartbeat?: string;
  lease?: string;
  probeMs: number;
}

/**
 * The node's conditions turned Unknown when its heartbeats are older than the grace period, or
 * undefined when they are fresh or already Unknown (upstream's tryUpdateNodeHealth).
 */
export function staleConditions(node: Obj, health: NodeHealth, graceMs: number, now = Date.now()): Obj[] | undefined {
  if (now - health.probeMs <= graceMs) return undefined;
  const stamp = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
  const conditions: Obj[] = node.status?.conditions ?? [];
  const never = !readyCondition(node);
  const reason = never ? 'NodeStatusNeverUpdated' : 'NodeStatusUnknown';
  const message = never ? 'Kubelet never posted node status.' : 'Kubelet stopped posting node status.';
  const types = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];
  const out = conditions.filter((c) => !types.includes(c.type));
  let changed = false;
  for (const type of types) {
    const c = conditions.find((x) => x.type === type);
    if (c?.status === 'Unknown') {
      out.push(c);
      continue;
    }
    changed = true;
    out.push({ type, status: 'Unknown', reason, message, lastHeartbeatTime: c?.lastHeartbeatTime ?? stamp, lastTransitionTime: stamp });
  }
  return changed ? out : undefined;
}

/**
 * When a pod must go because of the node's NoExecute taints: 0 (now), a time in ms since the
 * epoch, or undefined (it tolerates them all for ever).
 */
export function evictionTime(pod: Obj, taints: readonly Obj[], now = Date.now()): number | undefined {
  let at: number | undefined;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const matching = (pod.spec?.tolerations ?? []).filter((t: Obj) => toleratesTaint(t, taint));
    if (!matching.length) return 0;
    const bounded = matching.filter((t: Obj) => typeof t.tolerationSeconds === 'number');
    // a matching toleration without tolerationSeconds tolerates it for ever
    if (bounded.length < matching.length) continue;
    const seconds = Math.max(0, Math.min(...bounded.map((t: Obj) => t.tolerationSeconds)));
    const since = taint.timeAdded ? Date.parse(taint.timeAdded) : now;
    const when = since + seconds * 1000;
    at = at === undefined ? when : Math.min(at, when);
  }
  return at !== undefined && at <= now ? 0 : at;
}

export interface NodeLifecycleOptions {
  log?: (line: string) => void;
  /** --node-monitor-grace-period: heartbeats older than this make the node Unknown */
  gracePeriodMs?: number;
  /** --node-monitor-period: how often node health is looked at */
  monitorPeriodMs?: number;
}

export class NodeLifecycleController extends QueueController {
  private readonly nodes: Informer<Obj>;
  private readonly pods: Informer<Obj>;
  private readonly leases: Informer<Obj>;
  private readonly events: EventRecorder;
  private readonly nodeEvents: EventRecorder;
  private readonly health = new Map<string, NodeHealth>();
  private readonly graceMs: number;
  private readonly periodMs: number;
  private monitorTimer?: NodeJS.Timeout;

  constructor(client: Client, opts: NodeLifecycleOptions = {}) {
    super(client, 'node lifecycle controller', opts);
    this.graceMs = opts.gracePeriodMs ?? NODE_MONITOR_GRACE_PERIOD_MS;
    this.periodMs = opts.monitorPeriodMs ?? NODE_MONITOR_PERIOD_MS;
    this.events = new EventRecorder(client, 'taint-eviction-controller', '', this.log);
    this.nodeEvents = new EventRecorder(client, 'node-controller', '', this.log);
    this.nodes = this.informer(NODES);
    this.pods = this.informer(PODS, { indexers: { [BY_NODE]: (p: Obj) => (p.spec?.nodeName ? [p.spec.nodeName] : []) } });
    this.leases = this.informer(LEASES, { namespace: NODE_LEASE_NAMESPACE });
    // a node's Ready changing may change every node's taints (full disruption): look at all
    const all = () => {
      for (const n of this.nodes.cache.list()) this.queue.add(n.metadata.name);
    };
    this.nodes.addEventHandler({
      add: all,
      update: (o, n) => (readyCondition(o)?.status !== readyCondition(n)?.status ? all() : this.queue.add(n.metadata.name)),
      delete: (n) => {
        this.health.delete(n.metadata.name);
        all();
      },
    });
    const pod = (p: Obj) => p.spec?.nodeName && this.queue.add(p.spec.nodeName);
    this.pods.addEventHandler({ add: pod, update: (o, p) => o.spec?.nodeName !== p.spec?.nodeName && pod(p) });
  }

  override async start(): Promise<void> {
    await super.start();
    this.monitorTimer = setInterval(() => void this.monitor().catch((e) => this.log(`node lifecycle controller: ${(e as Error).message}`)), this.periodMs);
    this.monitorTimer.unref?.();
  }

  override async stop(): Promise<void> {
    clearInterval(this.monitorTimer);
    await super.stop();
  }

  /** monitorNodeHealth: a node whose heartbeats stopped for the grace period becomes Unknown */
  private async monitor(): Promise<void> {
    const now = Date.now();
    for (const node of this.nodes.cache.list()) {
      const name = node.metadata.name;
      const seen = { heartbeat: readyCondition(node)?.lastHeartbeatTime, lease: this.leases.cache.getByName(NODE_LEASE_NAMESPACE, name)?.spec?.renewTime };
      const prev = this.health.get(name);
      if (!prev || prev.heartbeat !== seen.heartbeat || prev.lease !== seen.lease) {
        this.health.set(name, { ...seen, probeMs: now });
        continue;
      }
      const conditions = staleConditions(node, prev, this.graceMs, now);
      if (!conditions) continue;
      this.log(`node lifecycle controller: node ${name} has not renewed its Lease or posted status for ${Math.round((now - prev.probeMs) / 1000)} s: Ready=Unknown`);
      this.nodeEvents.record({ apiVersion: 'v1', kind: 'Node', ...node }, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
      try {
        await this.client.resource(NODES).update({ ...node, status: { ...node.status, conditions } }, { sub: 'status' });
      } catch (e) {
        // the kubelet wrote first: it is alive; the next look decides
        if (!(e instanceof ApiError && (e.reason === 'Conflict' || e.reason === 'NotFound'))) throw e;
      }
    }
  }

  /** MarkPodsNotReady: the pods of a node that is not Ready are not Ready either */
  private async markPodsNotReady(name: string): Promise<void> {
    for (const pod of this.pods.cache.byIndex(BY_NODE, name)) {
      const conds: Obj[] = pod.status?.conditions ?? [];
      const ready = conds.find((c) => c.type === 'Ready');
      if (!ready || ready.status === 'False' || pod.metadata.deletionTimestamp) continue;
      const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const conditions = conds.map((c) => (c.type === 'Ready' ? { ...c, status: 'False', lastTransitionTime: stamp } : c));
      try {
        await this.client.resource(PODS).update({ ...pod, status: { ...pod.status, conditions } }, { sub: 'status' });
      } catch (e) {
        if (!(e instanceof ApiError && (e.reason === 'Conflict' || e.reason === 'NotFound'))) throw e;
      }
    }
  }

  protected async sync(name: string): Promise<void> {
    const node = this.nodes.cache.getByName(undefined, name);
    if (!node) return;
    const nodes = this.nodes.cache.list();
    // full disruption: no node Ready at all; evict nothing
    const evict = nodes.some((n) => readyCondition(n)?.status === 'True');
    const taints = conditionTaints({ ...node, spec: { ...node.spec, taints: unschedulableTaints(node) ?? node.spec?.taints } }, evict) ?? unschedulableTaints(node);
    if (taints) {
      await this.client.resource(NODES).update({ ...node, spec: { ...node.spec, taints: taints.length ? taints : undefined } });
      return; // the update brings the node back
    }
    if (readyCondition(node) && readyCondition(node)!.status !== 'True') await this.markPodsNotReady(name);
    const noExecute = (node.spec?.taints ?? []).filter((t: Obj) => t.effect === 'NoExecute');
    if (!noExecute.length) return;
    const now = Date.now();
    let next: number | undefined;
    for (const pod of this.pods.cache.byIndex(BY_NODE, name)) {
      if (pod.metadata.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
      const at = evictionTime(pod, noExecute, now);
      if (at === undefined) continue;
      if (at > now) {
        next = next === undefined ? at : Math.min(next, at);
        continue;
      }
      this.events.record(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`);
      try {
        await this.client.resource(PODS).delete(pod.metadata.namespace, pod.metadata.name, { preconditions: { uid: pod.metadata.uid } });
      } catch (e) {
        if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict'))) throw e;
      }
    }
    if (next !== undefined) this.queue.addAfter(name, next - now);
  }
}
