/**
 * The parts of kube-controller-manager's node lifecycle and taint-eviction controllers a single
 * node needs:
 *   - a cordoned node (spec.unschedulable) carries the node.kubernetes.io/unschedulable:NoSchedule
 *     taint, and loses it on uncordon (TaintNodesByCondition), so `kubectl describe node` shows it;
 *   - a NoExecute taint evicts the pods bound to the node that do not tolerate it: at once, or
 *     once the smallest tolerationSeconds of the tolerations that match has passed since the
 *     taint's timeAdded (event TaintManagerEviction `Marking for deletion Pod ns/name`, as upstream).
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
const BY_NODE = 'node';
export const UNSCHEDULABLE_TAINT = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

/** the node's taints with the unschedulable taint matching spec.unschedulable, or undefined when they already do */
export function unschedulableTaints(node: Obj): Obj[] | undefined {
  const taints: Obj[] = node.spec?.taints ?? [];
  const has = taints.some((t) => t.key === UNSCHEDULABLE_TAINT.key && t.effect === UNSCHEDULABLE_TAINT.effect);
  const want = node.spec?.unschedulable === true;
  if (has === want) return undefined;
  return want ? [...taints, { ...UNSCHEDULABLE_TAINT }] : taints.filter((t) => !(t.key === UNSCHEDULABLE_TAINT.key && t.effect === UNSCHEDULABLE_TAINT.effect));
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

export class NodeLifecycleController extends QueueController {
  private readonly nodes: Informer<Obj>;
  private readonly pods: Informer<Obj>;
  private readonly events: EventRecorder;

  constructor(client: Client, opts: { log?: (line: string) => void } = {}) {
    super(client, 'node lifecycle controller', opts);
    this.events = new EventRecorder(client, 'taint-eviction-controller', '', this.log);
    this.nodes = this.informer(NODES);
    this.pods = this.informer(PODS, { indexers: { [BY_NODE]: (p: Obj) => (p.spec?.nodeName ? [p.spec.nodeName] : []) } });
    const node = (n: Obj) => this.queue.add(n.metadata.name);
    this.nodes.addEventHandler({ add: node, update: (_o, n) => node(n) });
    const pod = (p: Obj) => p.spec?.nodeName && this.queue.add(p.spec.nodeName);
    this.pods.addEventHandler({ add: pod, update: (o, p) => o.spec?.nodeName !== p.spec?.nodeName && pod(p) });
  }

  protected async sync(name: string): Promise<void> {
    const node = this.nodes.cache.getByName(undefined, name);
    if (!node) return;
    const taints = unschedulableTaints(node);
    if (taints) {
      await this.client.resource(NODES).update({ ...node, spec: { ...node.spec, taints: taints.length ? taints : undefined } });
      return; // the update brings the node back
    }
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
