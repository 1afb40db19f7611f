/**
 * The scheduler's job for a one-node cluster: bind each unscheduled pod (schedulerName
 * default-scheduler) to this node, unless it cannot fit: a hostPort already taken by a pod
 * bound here, or a nodeSelector this node does not match. Such a pod stays Pending with the
 * PodScheduled=False/Unschedulable condition and a FailedScheduling event, worded as
 * kube-scheduler words them, and is retried when pods come and go.
 */
import type { KubeletClient } from './client.js';
import type { EventRecorder } from './events.js';
import type { Obj, WatchEventOut } from '../apiserver/resources.js';
import { ApiError } from '../api/errors.js';
import { ResourceFit } from './fit.js';

function hostPorts(pod: Obj): string[] {
  const out: string[] = [];
  if (pod.spec.hostNetwork) {
    for (const c of pod.spec.containers ?? []) for (const p of c.ports ?? []) out.push(`${p.protocol ?? 'TCP'}/${p.containerPort}`);
    return out;
  }
  for (const c of pod.spec.containers ?? []) for (const p of c.ports ?? []) if (p.hostPort) out.push(`${p.protocol ?? 'TCP'}/${p.hostPort}`);
  return out;
}

function active(pod: Obj): boolean {
  return !pod.metadata.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

export class Binder {
  private watch?: { cancel(): void };
  private timer?: NodeJS.Timeout;
  private busy = false;
  private again = false;
  private readonly reported = new Map<string, string>();

  constructor(
    private readonly client: KubeletClient,
    private readonly nodeName: string,
    private readonly events: EventRecorder,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    const list = await this.client.listPods('spec.nodeName=');
    this.watch = await this.client.watchPods('', list.resourceVersion, (ev: WatchEventOut) => {
      if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') return;
      // any pod change may free or take a port: schedule a pass
      this.kick();
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
    const pending = (await this.client.listPods('spec.nodeName=')).items.filter(
      (p) => active(p) && (p.spec.schedulerName ?? 'default-scheduler') === 'default-scheduler',
    );
    if (!pending.length) return;
    const node = await this.client.getNode(this.nodeName);
    const bound = (await this.client.listPods(`spec.nodeName=${this.nodeName}`)).items.filter(active);
    const taken = new Set(bound.flatMap(hostPorts));
    const fit = new ResourceFit(node?.status?.allocatable, bound);
    pending.sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
    for (const pod of pending) {
      const why = this.misfit(pod, node, taken) ?? fit.misfit(pod);
      if (why) {
        await this.unschedulable(pod, why);
        continue;
      }
      try {
        if (process.env.PODBAY_TRACE === '1') process.stderr.write(`${new Date().toISOString()} trace ${pod.metadata.name}: binding\n`);
        await this.client.bindPod(pod.metadata.namespace, pod.metadata.name, this.nodeName);
        for (const hp of hostPorts(pod)) taken.add(hp);
        fit.add(pod);
        this.reported.delete(pod.metadata.uid);
        this.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${this.nodeName}`);
      } catch (e) {
        if (!(e instanceof ApiError && (e.reason === 'Conflict' || e.reason === 'NotFound'))) throw e;
      }
    }
  }

  private misfit(pod: Obj, node: Obj | undefined, taken: Set<string>): string | undefined {
    const labels = node?.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) {
      if (labels[k] !== v) return "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    }
    if (hostPorts(pod).some((hp) => taken.has(hp))) {
      return "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";
    }
    return undefined;
  }

  private async unschedulable(pod: Obj, message: string): Promise<void> {
    if (this.reported.get(pod.metadata.uid) === message) return;
    this.reported.set(pod.metadata.uid, message);
    this.events.record(pod, 'Warning', 'FailedScheduling', message);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const conds = (pod.status?.conditions ?? []).filter((c: Obj) => c.type !== 'PodScheduled');
    conds.push({ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: now, reason: 'Unschedulable', message });
    try {
      await this.client.updatePodStatus({ ...pod, status: { ...(pod.status ?? {}), phase: 'Pending', conditions: conds } });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      this.reported.delete(pod.metadata.uid);
    }
  }
}
