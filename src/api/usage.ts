/**
 * Resource usage as the kubelet reports it (its resource metrics and /stats/summary), measured
 * by src/kubelet/stats.ts and served by the API server's Metrics API and nodes/proxy: a shared
 * vocabulary on the bottom floor, so the API server need not import the kubelet.
 */

export interface ContainerUsage {
  name: string;
  /** CPU in nanocores (1e9 = one core busy) */
  cpuNanoCores: number;
  memoryWorkingSetBytes: number;
  /** cumulative CPU time, ns */
  cpuUsageCoreNanoSeconds: number;
}

export interface PodUsage {
  at: number;
  windowMs: number;
  containers: ContainerUsage[];
}

export interface NodeUsage {
  at: number;
  windowMs: number;
  cpuNanoCores: number;
  memoryWorkingSetBytes: number;
  cpuUsageCoreNanoSeconds: number;
}
