/**
 * A pod's resource amounts as Kubernetes sums them (k8s.io/component-helpers/resource), for
 * both the scheduler (does it fit the node) and the kubelet (its cgroups): pure arithmetic on
 * quantities, no node and no cgroup in it.
 */
import { parseQuantity } from './validation/quantity.js';
import { isExtendedResourceName } from './validation/resources.js';
import type { Obj } from './types.js';

/** Quantity.MilliValue() (rounded up); 0 for absent or malformed. */
export function milliValue(raw: unknown): number {
  const q = parseQuantity(raw);
  if (!q || q.num <= 0n) return 0;
  return Number((q.num * 1000n + q.den - 1n) / q.den);
}

/** Quantity.Value() (rounded up); 0 for absent or malformed. */
export function bytesValue(raw: unknown): number {
  const q = parseQuantity(raw);
  if (!q || q.num <= 0n) return 0;
  return Number((q.num + q.den - 1n) / q.den);
}

export interface PodAmounts {
  milliCpu: number;
  memory: number;
}

/** resource.PodRequests / PodLimits: max(sum of app containers, any init container) + overhead. */
export function podAmounts(pod: Obj, which: 'requests' | 'limits'): PodAmounts {
  const of = (c: Obj): PodAmounts => ({ milliCpu: milliValue(c.resources?.[which]?.cpu), memory: bytesValue(c.resources?.[which]?.memory) });
  const sum: PodAmounts = { milliCpu: 0, memory: 0 };
  for (const c of (pod.spec?.containers ?? []) as Obj[]) {
    const a = of(c);
    sum.milliCpu += a.milliCpu;
    sum.memory += a.memory;
  }
  for (const c of (pod.spec?.initContainers ?? []) as Obj[]) {
    const a = of(c);
    sum.milliCpu = Math.max(sum.milliCpu, a.milliCpu);
    sum.memory = Math.max(sum.memory, a.memory);
  }
  const overhead = pod.spec?.overhead ?? {};
  if (which === 'requests' || sum.milliCpu) sum.milliCpu += milliValue(overhead.cpu);
  if (which === 'requests' || sum.memory) sum.memory += bytesValue(overhead.memory);
  return sum;
}


/**
 * v1helper.IsScalarResourceName: what the scheduler counts besides cpu, memory, ephemeral-storage
 * and pods: extended resources (example.com/foo, nvidia.com/gpu), hugepages-<size>, prefixed
 * native resources (*kubernetes.io/*) and attachable-volumes-*.
 */
export function isScalarResourceName(name: string): boolean {
  return isExtendedResourceName(name) || name.startsWith('hugepages-') || name.includes('kubernetes.io/') || name.startsWith('attachable-volumes-');
}

/**
 * resource.PodRequests for the scalar resources, each as Quantity.Value() (an integer count or
 * bytes): max(sum of app containers, any init container) + overhead. Zero amounts are left out.
 */
export function podScalarRequests(pod: Obj): Map<string, number> {
  const sum = new Map<string, number>();
  const each = (list: unknown, f: (name: string, v: number) => void): void => {
    for (const [name, raw] of Object.entries((list ?? {}) as Record<string, unknown>)) if (isScalarResourceName(name)) f(name, bytesValue(raw));
  };
  for (const c of (pod.spec?.containers ?? []) as Obj[]) each(c.resources?.requests, (n, v) => sum.set(n, (sum.get(n) ?? 0) + v));
  for (const c of (pod.spec?.initContainers ?? []) as Obj[]) each(c.resources?.requests, (n, v) => sum.set(n, Math.max(sum.get(n) ?? 0, v)));
  each(pod.spec?.overhead, (n, v) => sum.set(n, (sum.get(n) ?? 0) + v));
  for (const [n, v] of sum) if (v <= 0) sum.delete(n);
  return sum;
}
