/**
 * kube-scheduler's NodeResourcesFit for a node: a pod fits when its requests (cpu,
 * memory and the scalar resources: extended ones such as nvidia.com/gpu, hugepages-2Mi; as
 * resource.PodRequests sums them) fit in the node's allocatable minus what the pods already
 * bound there request, and the node has room for one more pod. A request of zero always fits,
 * as upstream; a scalar resource the node does not list has allocatable 0 (fitsRequest), so a
 * pod asking for a GPU this node lacks stays Pending with "Insufficient nvidia.com/gpu".
 */
import type { Obj } from '../api/types.js';
import { bytesValue, isScalarResourceName, milliValue, podAmounts, podScalarRequests } from '../api/pod-resources.js';
import { oneNode, type Misfit } from './diagnosis.js';

/** What the node's allocatable leaves, with the bound pods' requests taken off. */
export class ResourceFit {
  private cpu: number;
  private memory: number;
  private pods: number;
  /** scalar resources left; undefined: the node reports no allocatable, nothing held against pods */
  private scalar: Map<string, number> | undefined;

  constructor(allocatable: Record<string, unknown> | undefined, bound: readonly Obj[]) {
    // a node that reports nothing (no status yet) is not held against pods
    this.cpu = allocatable?.cpu !== undefined ? milliValue(allocatable.cpu) : Infinity;
    this.memory = allocatable?.memory !== undefined ? bytesValue(allocatable.memory) : Infinity;
    this.pods = allocatable?.pods !== undefined ? Number(allocatable.pods) : Infinity;
    if (allocatable) {
      this.scalar = new Map();
      for (const [name, raw] of Object.entries(allocatable)) if (isScalarResourceName(name)) this.scalar.set(name, bytesValue(raw));
    }
    for (const p of bound) this.add(p);
  }

  /** Take a pod's requests off what is left (it was bound). */
  add(pod: Obj): void {
    const r = podAmounts(pod, 'requests');
    this.cpu -= r.milliCpu;
    this.memory -= r.memory;
    this.pods -= 1;
    if (this.scalar) for (const [name, v] of podScalarRequests(pod)) this.scalar.set(name, (this.scalar.get(name) ?? 0) - v);
  }

  /** kube-scheduler's reasons ("Insufficient cpu", ...), sorted; empty when the pod fits. */
  reasons(pod: Obj): string[] {
    const r = podAmounts(pod, 'requests');
    const out: string[] = [];
    if (this.pods < 1) out.push('Too many pods');
    if (r.milliCpu > 0 && r.milliCpu > this.cpu) out.push('Insufficient cpu');
    if (r.memory > 0 && r.memory > this.memory) out.push('Insufficient memory');
    // ScalarResources: a resource the node does not list has allocatable 0
    if (this.scalar) for (const [name, v] of podScalarRequests(pod)) if (v > (this.scalar.get(name) ?? 0)) out.push(`Insufficient ${name}`);
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
