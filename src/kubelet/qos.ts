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
import { bytesValue, milliValue, podAmounts } from '../api/pod-resources.js';
import type { Obj } from '../api/types.js';
import type { ContainerResources, PodCgroupConfig, QOSClass } from '../runtime/types.js';

// where they were first written; the scheduler and the kubelet share them from src/api
export { bytesValue, milliValue, podAmounts, type PodAmounts } from '../api/pod-resources.js';

export const MIN_SHARES = 2;
export const SHARES_PER_CPU = 1024;
export const QUOTA_PERIOD_US = 100_000;
export const MIN_QUOTA_PERIOD_US = 1_000;

/** The pod's QoS class: the same function the API used for status.qosClass. */
export function qosClassOf(pod: Obj): QOSClass {
  return computeQOSClass(pod);
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
