/**
 * kube-scheduler's NodeResourcesFit for a node: a pod fits when its requests (cpu,
 * memory, as resource.PodRequests sums them) fit in the node's allocatable minus what the pods
 * already bound there request, and the node has room for one more pod. A request of zero
 * always fits, as upstream.
 */
import type { Obj } from '../api/types.js';
import { bytesValue, milliValue, podAmounts } from '../api/pod-resources.js';
import { oneNode, type Misfit } from './diagnosis.js';

/** What the node's allocatable leaves, with the bound pods' requests taken off. */
export class ResourceFit {
  private cpu: number;
  private memory: number;
  private pods: number;

  constructor(allocatable: Record<string, unknown> | undefined, bound: readonly Obj[]) {
    // a node that reports nothing (no status yet) is not held against pods
    this.cpu = allocatable?.cpu !== undefined ? milliValue(allocatable.cpu) : Infinity;
    this.memory = allocatable?.memory !== undefined ? bytesValue(allocatable.memory) : Infinity;
    this.pods = allocatable?.pods !== undefined ? Number(allocatable.pods) : Infinity;
    for (const p of bound) this.add(p);
  }

  /** Take a pod's requests off what is left (it was bound). */
  add(pod: Obj): void {
    const r = podAmounts(pod, 'requests');
    this.cpu -= r.milliCpu;
    this.memory -= r.memory;
    this.pods -= 1;
  }

  /** kube-scheduler's reasons ("Insufficient cpu", ...), sorted; empty when the pod fits. */
  reasons(pod: Obj): string[] {
    const r = podAmounts(pod, 'requests');
    const out: string[] = [];
    if (this.pods < 1) out.push('Too many pods');
    if (r.milliCpu > 0 && r.milliCpu > this.cpu) out.push('Insufficient cpu');
    if (r.memory > 0 && r.memory > this.memory) out.push('Insufficient memory');
    return out.sort();
  }

  /** Why the pod does not fit (preemption might make room), or undefined. */
  reason(pod: Obj): Misfit | undefined {
    const reasons = this.reasons(pod);
    return reasons.length ? { reasons, unresolvable: false } : undefined;
  }

  /** The one-node FailedScheduling message for a pod that does not fit, or undefined. */
  misfit(pod: Obj): string | undefined {
    return oneNode(this.reason(pod));
  }
}
