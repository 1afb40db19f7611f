/**
 * What a pod's resources mean for its cgroups and for scheduling, as the kubelet and
 * kube-scheduler compute them. The QoS class comes from one function, computeQOSClass (the
 * API's, which also fills status.qosClass at create), so the class a user sees is the class
 * whose cgroup the pod runs in.
 *
 *   pod requests/limits   max(sum over app containers, largest init container) + overhead
 *   pod cgroup            Guaranteed: shares, quota, memory;  Burstable: shares, and quota /
 *                         memory only when every app container declares that limit;
 *                         BestEffort: shares 2;  pids.max = --pod-pids-limit
 *   container cgroup      shares from the cpu request (or limit), quota from the cpu limit,
 *                         memory limit
 */
import { computeQOSClass } from '../api/defaults/index.js';
import { parseQuantity } from '../api/validation/quantity.js';
import type { Obj } from '../api/types.js';
import type { ContainerResources, PodCgroupConfig, QOSClass } from '../runtime/types.js';

export const MIN_SHARES = 2;
export const SHARES_PER_CPU = 1024;
export const QUOTA_PERIOD_US = 100_000;
export const MIN_QUOTA_PERIOD_US = 1_000;

/** The pod's QoS class: the same function the API used for status.qosClass. */
export function qosClassOf(pod: Obj): QOSClass {
  return computeQOSClass(pod);
}

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

/** cm.MilliCPUToShares */
export function milliCPUToShares(milliCPU: number): number {
  if (milliCPU === 0) return MIN_SHARES;
  const shares = Math.floor((milliCPU * SHARES_PER_CPU) / 1000);
  return Math.max(shares, MIN_SHARES);
}

/** cm.MilliCPUToQuota: 0 (no quota) for no limit; at least 1 ms per period. */
export function milliCPUToQuota(milliCPU: number, period = QUOTA_PERIOD_US): number {
  if (milliCPU === 0) return 0;
  return Math.max(Math.floor((milliCPU * period) / 1000), MIN_QUOTA_PERIOD_US);
}

/** A container's cgroup resources (kuberuntime's generateLinuxContainerResources). */
export function containerResources(c: Obj): ContainerResources {
  const req = c.resources?.requests ?? {};
  const lim = c.resources?.limits ?? {};
  const cpuReq = milliValue(req.cpu);
  const cpuLim = milliValue(lim.cpu);
  const out: ContainerResources = { cpuShares: milliCPUToShares(cpuReq === 0 && cpuLim !== 0 ? cpuLim : cpuReq) };
  if (cpuLim) {
    out.cpuQuota = milliCPUToQuota(cpuLim);
    out.cpuPeriod = QUOTA_PERIOD_US;
  }
  const mem = bytesValue(lim.memory);
  if (mem) out.memoryLimitBytes = mem;
  return out;
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
 * The pod-level cgroup (the kubelet's ResourceConfigForPod), with pids.max from
 * --pod-pids-limit (undefined or <= 0: unlimited).
 */
export function podCgroupConfig(pod: Obj, pidsLimit?: number): PodCgroupConfig {
  const qosClass = qosClassOf(pod);
  const pids = pidsLimit !== undefined && pidsLimit > 0 ? { pidsLimit } : {};
  if (qosClass === 'BestEffort') return { qosClass, resources: { cpuShares: MIN_SHARES, ...pids } };
  const req = podAmounts(pod, 'requests');
  const lim = podAmounts(pod, 'limits');
  const apps = (pod.spec?.containers ?? []) as Obj[];
  const cpuLimitsDeclared = apps.every((c) => milliValue(c.resources?.limits?.cpu) > 0);
  const memoryLimitsDeclared = apps.every((c) => bytesValue(c.resources?.limits?.memory) > 0);
  const resources: PodCgroupConfig['resources'] = { cpuShares: milliCPUToShares(req.milliCpu), ...pids };
  if (qosClass === 'Guaranteed' || cpuLimitsDeclared) {
    resources.cpuQuota = milliCPUToQuota(lim.milliCpu);
    resources.cpuPeriod = QUOTA_PERIOD_US;
  }
  if (qosClass === 'Guaranteed' || memoryLimitsDeclared) resources.memoryLimitBytes = lim.memory;
  return { qosClass, resources };
}
