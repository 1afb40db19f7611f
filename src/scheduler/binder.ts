/**
 * The scheduler (kube-scheduler's default profile, for podbay's scale): bind each unscheduled
 * pod (schedulerName default-scheduler) to a node. Every Node is considered; a node is
 * filtered out when it cannot take the pod:
 *   - cordoned, or a NoSchedule/NoExecute taint the pod does not tolerate (taints.ts; the node
 *     lifecycle controller taints NotReady and unreachable nodes, so those are out too);
 *   - a nodeSelector it does not match; a hostPort a pod bound to THAT node already holds;
 *   - required (anti-)affinity (affinity.ts), resources (fit.ts, against that node's
 *     allocatable and the pods bound to it), its volumes (volume-binding.ts);
 *   - on podbay's own node only (`nodeName`, where this process runs): a hostPort that
 *     podbay's API server or a host process holds (src/network/host-ports.ts: the hostPort's DNAT
 *     would steal that service's traffic). An agent's host sockets are not visible from here.
 * The nodes left are scored (score.ts: spreading a controller's pods, least allocated) and the
 * best taken. When none is left the pod stays Pending with the PodScheduled=False/Unschedulable
 * condition and a FailedScheduling event, worded as kube-scheduler words them (diagnosis.ts;
 * a host holder is named in parentheses), and is retried when pods or nodes change and every
 * 5 s (a host process may stop listening).
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Client, Obj, Typed } from '../client/types.js';
import { Informer } from '../client/informer.js';

/** a pod as the API returns it: namespaced, with a spec */
type ApiPod = Typed<Pod> & { spec: NonNullable<Pod['spec']>; metadata: { namespace: string } };
import { EventRecorder } from '../client/events.js';
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { describeConflict, type HostPortGuard, type WantedPort } from '../network/host-ports.js';
import { ResourceFit } from './fit.js';
import { checkPodVolumes } from './volume-binding.js';
import { taintMisfit } from './taints.js';
import { affinityReason, type NamespaceLabels, type Placement } from './affinity.js';
import { fitErrorMessage, misfit, preFilterMessage, type Misfit } from './diagnosis.js';
import { pickNode, type Candidate } from './score.js';
import { rfc3339 } from '../api/time.js';
import { byString } from '../api/order.js';

const PODS = resourceInfo('pods')!;
const NODES = resourceInfo('nodes')!;
const NAMESPACES = resourceInfo('namespaces')!;
const SERVICES = resourceInfo('services')!;

/** The hostPorts a pod asks for; a hostNetwork pod's container ports are its host ports. */
function podHostPorts(pod: ApiPod): WantedPort[] {
  const out: WantedPort[] = [];
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      const hostPort = pod.spec.hostNetwork ? p.containerPort : p.hostPort;
      if (!hostPort) continue;
      out.push({ hostPort, protocol: String(p.protocol ?? 'TCP').toLowerCase() as WantedPort['protocol'], ...(p.hostIP ? { hostIP: p.hostIP } : {}) });
    }
  }
  return out;
}

/** keys for the ports pods bound here hold (pods conflict on protocol and port) */
function hostPorts(pod: ApiPod): string[] {
  return podHostPorts(pod).map((p) => `${p.protocol}/${p.hostPort}`);
}

const NO_FREE_PORTS = "node(s) didn't have free ports for the requested pod ports";

/** one node as a pass sees it: what is bound there, updated as the pass binds */
interface NodeState extends Candidate {
  pods: ApiPod[];
  taken: Set<string>;
  fit: ResourceFit;
}

function active(pod: ApiPod): boolean {
  return !pod.metadata.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

/** a pod this scheduler has to place */
function waitsForNode(pod: ApiPod): boolean {
  return active(pod) && !pod.spec?.nodeName && (pod.spec?.schedulerName ?? 'default-scheduler') === 'default-scheduler';
}

export class Binder {
  /**
   * Pods, nodes and services as informers keep them (a list, then a watch; listed again when
   * the watch ends). A pass reads these caches: listing every pod per pass decoded all of them
   * once per created pod (O(N^2) in a burst). The caches are shared with nothing else and are
   * only read here.
   */
  private readonly pods: Informer<ApiPod>;
  private readonly nodes: Informer<Obj>;
  private readonly services: Informer<Obj>;
  private timer?: NodeJS.Timeout;
  private synced = false;
  private busy = false;
  private again: false | 'pending' | 'full' = false;
  /**
   * The pods waiting for a node, as the watch shows them. A pod's change kicks a pass only
   * while some wait (a burst's status updates need no pass). The 5 s timer and node changes
   * always pass.
   */
  private readonly waiting = new Set<string>();
  private readonly reported = new Map<string, string>();
  private readonly events: EventRecorder;

  constructor(
    private readonly client: Client,
    private readonly nodeName: string,
    private readonly log: (line: string) => void,
    /** host sockets and podbay's reserved ports; without it only pods' hostPorts are checked */
    private readonly hostPortGuard?: HostPortGuard,
  ) {
    this.events = new EventRecorder(client, 'default-scheduler', nodeName, log);
    this.pods = new Informer<ApiPod>(client, PODS, { log });
    this.nodes = new Informer<Obj>(client, NODES, { log });
    this.services = new Informer<Obj>(client, SERVICES, { log });
  }

  async start(): Promise<void> {
    this.pods.addEventHandler({
      add: (pod) => this.podChanged(pod, false),
      update: (_old, pod) => this.podChanged(pod, false),
      delete: (pod) => this.podChanged(pod, true),
    });
    // a node joining, becoming Ready or losing a taint may take the pods that wait
    this.nodes.addEventHandler({ add: () => this.kick(), update: () => this.kick(), delete: () => this.kick() });
    await Promise.all([this.pods.start(), this.nodes.start(), this.services.start()]);
    this.synced = true;
    this.kick();
    this.timer = setInterval(() => this.kick(), 5000);
  }

  stop(): void {
    this.pods.stop();
    this.nodes.stop();
    this.services.stop();
    clearInterval(this.timer);
  }

  private podChanged(pod: ApiPod, deleted: boolean): void {
    if (!deleted && waitsForNode(pod)) this.waiting.add(pod.metadata.uid);
    else this.waiting.delete(pod.metadata?.uid);
    if (deleted) {
      // what was kept per pod goes with it (the recorder's dedup state grew per pod before)
      const uid = pod.metadata?.uid;
      if (uid) {
        this.events.forget(uid);
        this.reported.delete(uid);
      }
    }
    // any pod change may free or take a port or resources: a pass, if some pod waits
    this.kick('pending');
  }

  private kick(scope: 'pending' | 'full' = 'full'): void {
    // no pass before all three caches are filled (an empty node cache would say "no nodes")
    if (!this.synced) return;
    if (this.busy) {
      if (this.again !== 'full') this.again = scope;
      return;
    }
    if (scope === 'pending' && !this.waiting.size) return;
    this.busy = true;
    void this.pass()
      .catch((e) => this.log(`scheduler: ${(e as Error).message}`))
      .finally(() => {
        this.busy = false;
        const again = this.again;
        this.again = false;
        if (again) this.kick(again);
      });
  }

  private async pass(): Promise<void> {
    const all = this.pods.cache.list().filter(active);
    const pending = all.filter(waitsForNode);
    if (!pending.length) return;
    const nodes = this.nodes.cache.list().sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const states = new Map<string, NodeState>();
    for (const node of nodes) {
      const pods = all.filter((p) => p.spec.nodeName === node.metadata.name);
      states.set(node.metadata.name, { node, pods, taken: new Set(pods.flatMap(hostPorts)), fit: new ResourceFit(node.status?.allocatable, pods) });
    }
    const placement: Placement = {
      get pods() {
        return [...states.values()].flatMap((s) => s.pods);
      },
      nodeLabels: (name) => states.get(name)?.node.metadata?.labels ?? undefined,
    };
    // namespaces' labels, for pod affinity terms with a namespaceSelector
    const namespaces: NamespaceLabels = pending.some((p) => p.spec.affinity) ? new Map((await this.client.resource(NAMESPACES).list(undefined)).items.map((n) => [n.metadata.name, n.metadata.labels ?? {}])) : new Map();
    const services = this.services.cache.list();
    pending.sort((a, b) => byString(String(a.metadata.creationTimestamp), String(b.metadata.creationTimestamp)));
    for (const pod of pending) {
      if (!nodes.length) {
        await this.unschedulable(pod, 'no nodes available to schedule pods');
        continue;
      }
      const fits: NodeState[] = [];
      const misfits: Misfit[] = [];
      let prefilter: string | undefined;
      for (const state of states.values()) {
        const why = await this.nodeMisfit(pod, state, placement, namespaces);
        if (typeof why === 'string') {
          prefilter = why;
          break;
        }
        if (why) misfits.push(why);
        else fits.push(state);
      }
      if (prefilter !== undefined || !fits.length) {
        await this.unschedulable(pod, prefilter !== undefined ? preFilterMessage(nodes.length, prefilter) : fitErrorMessage(nodes.length, misfits));
        continue;
      }
      const chosen = pickNode(pod, fits, services) as NodeState;
      const name: string = chosen.node.metadata.name;
      const volumes = await checkPodVolumes(this.client, pod, name, chosen.node, true);
      if ('wait' in volumes) {
        // its claims are being provisioned for this node: look again shortly (upstream's PreBind waits)
        setTimeout(() => this.kick(), 500).unref();
        continue;
      }
      try {
        if (process.env.PODBAY_TRACE === '1') process.stderr.write(`${new Date().toISOString()} trace ${pod.metadata.name}: binding to ${name}\n`);
        await this.client.bind(pod.metadata.namespace, pod.metadata.name, name);
        for (const hp of hostPorts(pod)) chosen.taken.add(hp);
        chosen.fit.add(pod);
        chosen.pods.push({ ...pod, spec: { ...pod.spec, nodeName: name } });
        this.reported.delete(pod.metadata.uid);
        this.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${name}`);
      } catch (e) {
        if (!(e instanceof ApiError && (e.reason === 'Conflict' || e.reason === 'NotFound'))) throw e;
      }
    }
  }

  /** why `state`'s node cannot take the pod (a string: no node can, the pod's own volumes say), in upstream's filter order */
  private async nodeMisfit(pod: ApiPod, state: NodeState, placement: Placement, namespaces: NamespaceLabels): Promise<Misfit | string | undefined> {
    const { node } = state;
    const tainted = taintMisfit(pod, node);
    if (tainted) return tainted;
    const labels = node.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) {
      if (labels[k] !== v) return misfit("node(s) didn't match Pod's node affinity/selector", true);
    }
    if (hostPorts(pod).some((hp) => state.taken.has(hp))) return misfit(NO_FREE_PORTS, false);
    const why = affinityReason(pod, node, placement, namespaces) ?? state.fit.reason(pod) ?? (node.metadata?.name === this.nodeName ? await this.hostMisfit(pod) : undefined);
    if (why) return why;
    const volumes = await checkPodVolumes(this.client, pod, node.metadata.name, node, false);
    if ('prefilter' in volumes) return volumes.prefilter;
    return 'misfit' in volumes ? volumes.misfit : undefined;
  }

  /** hostPorts (not a hostNetwork pod's: it binds them itself, no DNAT) held on this host */
  private async hostMisfit(pod: ApiPod): Promise<Misfit | undefined> {
    if (!this.hostPortGuard || pod.spec.hostNetwork) return undefined;
    const wanted = podHostPorts(pod);
    if (!wanted.length) return undefined;
    let found;
    try {
      found = await this.hostPortGuard.conflicts(wanted);
    } catch (e) {
      // unknown is not free: the pod waits (and says why) rather than risk stealing a port
      return misfit(`${NO_FREE_PORTS} (checking the host's sockets failed: ${(e as Error).message})`, false);
    }
    if (!found.length) return undefined;
    return misfit(`${NO_FREE_PORTS} (${found.map(describeConflict).join('; ')})`, false);
  }

  private async unschedulable(pod: ApiPod, message: string): Promise<void> {
    if (this.reported.get(pod.metadata.uid) === message) return;
    this.reported.set(pod.metadata.uid, message);
    this.events.record(pod, 'Warning', 'FailedScheduling', message);
    const now = rfc3339();
    const conds = (pod.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
    // the API serves an unset lastProbeTime as null (kubernetes-types says string)
    conds.push({ type: 'PodScheduled', status: 'False', lastProbeTime: null as unknown as string, lastTransitionTime: now, reason: 'Unschedulable', message });
    try {
      await this.client.resource(PODS).update({ ...pod, status: { ...(pod.status ?? {}), phase: 'Pending', conditions: conds } }, { sub: 'status' });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.reported.delete(pod.metadata.uid);
    }
  }
}
