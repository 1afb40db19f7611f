/**
 * The scheduler's job for a one-node cluster: bind each unscheduled pod (schedulerName
 * default-scheduler) to this node, unless it cannot fit: a hostPort already taken by a pod
 * bound here, a hostPort that podbay's API server or a host process holds (see
 * src/network/host-ports.ts: portmap's DNAT would steal that service's traffic), or a
 * nodeSelector this node does not match. Such a pod stays Pending with the
 * PodScheduled=False/Unschedulable condition and a FailedScheduling event, worded as
 * kube-scheduler words them (a host holder is named in parentheses), and is retried when pods
 * come and go and every 5 s (a host process may stop listening).
 */
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { Client, ObjList, Typed, WatchEventOut } from '../client/types.js';

/** a pod as the API returns it: namespaced, with a spec */
type ApiPod = Typed<Pod> & { spec: NonNullable<Pod['spec']>; metadata: { namespace: string } };
import { EventRecorder } from '../client/events.js';
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { describeConflict, type HostPortGuard, type WantedPort } from '../network/host-ports.js';
import { ResourceFit } from './fit.js';
import { checkPodVolumes } from './volume-binding.js';
import { nodeMisfit } from './taints.js';
import { affinityMisfit } from './affinity.js';
import { rfc3339 } from '../api/time.js';

const PODS = resourceInfo('pods')!;
const NODES = resourceInfo('nodes')!;
const NAMESPACES = resourceInfo('namespaces')!;

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

const NO_FREE_PORTS = "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports";
const NO_VICTIMS = 'preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';

function active(pod: ApiPod): boolean {
  return !pod.metadata.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

export class Binder {
  private watch?: { cancel(): void };
  private timer?: NodeJS.Timeout;
  private busy = false;
  private again = false;
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
  }

  private listPods(fieldSelector: string): Promise<ObjList<ApiPod>> {
    return this.client.resource<ApiPod>(PODS).list(undefined, { fieldSelector });
  }

  async start(): Promise<void> {
    const list = await this.listPods('spec.nodeName=');
    this.watch = await this.client.resource(PODS).watch(undefined, { resourceVersion: list.metadata.resourceVersion }, {
      event: (ev: WatchEventOut) => {
        if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') return;
        if (ev.type === 'DELETED') {
          // what was kept per pod goes with it (the recorder's dedup state grew per pod before)
          const uid = ev.object.metadata?.uid;
          if (uid) {
            this.events.forget(uid);
            this.reported.delete(uid);
          }
        }
        // any pod change may free or take a port: schedule a pass
        this.kick();
      },
    });
    this.kick();
    this.timer = setInterval(() => this.kick(), 5000);
  }

  stop(): void {
    this.watch?.cancel();
    clearInterval(this.timer);
  }

  private kick(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.pass()
      .catch((e) => this.log(`scheduler: ${(e as Error).message}`))
      .finally(() => {
        this.busy = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pass(): Promise<void> {
    const pending = (await this.listPods('spec.nodeName=')).items.filter(
      (p) => active(p) && (p.spec.schedulerName ?? 'default-scheduler') === 'default-scheduler',
    );
    if (!pending.length) return;
    const node = await this.client.resource<Node>(NODES).tryGet(undefined, this.nodeName);
    const bound = (await this.listPods(`spec.nodeName=${this.nodeName}`)).items.filter(active);
    const taken = new Set(bound.flatMap(hostPorts));
    const fit = new ResourceFit(node?.status?.allocatable, bound);
    // namespaces' labels, for pod affinity terms with a namespaceSelector
    const namespaces = pending.some((p) => p.spec.affinity) ? new Map((await this.client.resource(NAMESPACES).list(undefined)).items.map((n) => [n.metadata.name, n.metadata.labels ?? {}])) : new Map();
    pending.sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
    for (const pod of pending) {
      const volumes = await checkPodVolumes(this.client, pod, this.nodeName, node);
      const why = this.misfit(pod, node, taken) ?? affinityMisfit(pod, node, bound, namespaces) ?? fit.misfit(pod) ?? (await this.hostMisfit(pod)) ?? ('misfit' in volumes ? volumes.misfit : undefined);
      if (why) {
        await this.unschedulable(pod, why);
        continue;
      }
      if ('wait' in volumes) {
        // its claims are being provisioned for this node: look again shortly (upstream's PreBind waits)
        setTimeout(() => this.kick(), 500).unref();
        continue;
      }
      try {
        if (process.env.PODBAY_TRACE === '1') process.stderr.write(`${new Date().toISOString()} trace ${pod.metadata.name}: binding\n`);
        await this.client.bind(pod.metadata.namespace, pod.metadata.name, this.nodeName);
        for (const hp of hostPorts(pod)) taken.add(hp);
        fit.add(pod);
        bound.push(pod);
        this.reported.delete(pod.metadata.uid);
        this.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${this.nodeName}`);
      } catch (e) {
        if (!(e instanceof ApiError && (e.reason === 'Conflict' || e.reason === 'NotFound'))) throw e;
      }
    }
  }

  private misfit(pod: ApiPod, node: Node | undefined, taken: Set<string>): string | undefined {
    const tainted = nodeMisfit(pod, node);
    if (tainted) return tainted;
    const labels = node?.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) {
      if (labels[k] !== v) return "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    }
    if (hostPorts(pod).some((hp) => taken.has(hp))) return `${NO_FREE_PORTS}. ${NO_VICTIMS}`;
    return undefined;
  }

  /** hostPorts (not a hostNetwork pod's: it binds them itself, no DNAT) held on the host */
  private async hostMisfit(pod: ApiPod): Promise<string | undefined> {
    if (!this.hostPortGuard || pod.spec.hostNetwork) return undefined;
    const wanted = podHostPorts(pod);
    if (!wanted.length) return undefined;
    let found;
    try {
      found = await this.hostPortGuard.conflicts(wanted);
    } catch (e) {
      // unknown is not free: the pod waits (and says why) rather than risk stealing a port
      return `${NO_FREE_PORTS} (checking the host's sockets failed: ${(e as Error).message}). ${NO_VICTIMS}`;
    }
    if (!found.length) return undefined;
    return `${NO_FREE_PORTS} (${found.map(describeConflict).join('; ')}). ${NO_VICTIMS}`;
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
