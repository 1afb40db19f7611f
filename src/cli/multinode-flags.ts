/**
 * The flags that make one node part of a larger cluster, shared by `podbay server` and
 * `podbay agent` (checked before anything starts):
 *
 *   --cluster-cidr CIDR      the whole pod network, every node's podCIDR inside it (kube-
 *                            controller-manager's and flannel's). Pod-to-pod traffic inside it is
 *                            not masqueraded, and the service proxy treats it as pods'. Default:
 *                            the node's own --pod-cidr (one node: nothing else to reach).
 *   --node-ip IP             the node's InternalIP (default the first non-loopback IPv4 address);
 *                            other nodes route this node's pods via it, so it must be on the
 *                            link the nodes share
 *   --node-lease-duration-seconds N  the kubelet's nodeLeaseDurationSeconds (40): the Lease is
 *                            renewed every N/4 s
 * and, on the server, kube-controller-manager's:
 *   --node-monitor-grace-period D   heartbeats older than this make a node Unknown (40s)
 *   --node-monitor-period D         how often nodes' health is looked at (5s)
 */
import { isIP } from 'node:net';
import { cidrContains } from '../api/cidr.js';
import { parseDurationMs } from '../kubelet/log-rotation.js';
import { NODE_LEASE_DURATION_SECONDS } from '../kubelet/node.js';
import { NODE_MONITOR_GRACE_PERIOD_MS, NODE_MONITOR_PERIOD_MS } from '../controllers/node-lifecycle.js';

export const NODE_FLAGS = ['cluster-cidr', 'node-ip', 'node-lease-duration-seconds'];
export const NODE_MONITOR_FLAGS = ['node-monitor-grace-period', 'node-monitor-period'];

export interface NodeFlags {
  clusterCidr: string;
  nodeIP?: string;
  leaseDurationSeconds: number;
}

export function nodeFlags(flags: Map<string, string>, podCidr: string): NodeFlags {
  const clusterCidr = flags.get('cluster-cidr') ?? podCidr;
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(clusterCidr);
  if (!m || isIP(m[1]!) !== 4 || Number(m[2]) > 32) throw new Error(`--cluster-cidr ${JSON.stringify(clusterCidr)}: want an IPv4 CIDR such as 10.42.0.0/16`);
  const [podBase, podBits] = podCidr.split('/');
  if (!cidrContains(clusterCidr, podBase!) || Number(podBits) < Number(m[2])) throw new Error(`--pod-cidr ${podCidr} is not inside --cluster-cidr ${clusterCidr}: every node's pod range must be part of the cluster's`);
  const nodeIP = flags.get('node-ip');
  if (nodeIP !== undefined && (isIP(nodeIP) !== 4 || /^127\./.test(nodeIP) || nodeIP === '0.0.0.0')) throw new Error(`--node-ip ${JSON.stringify(nodeIP)}: want an IPv4 address of this host, other nodes reach it there`);
  const lease = flags.get('node-lease-duration-seconds');
  const leaseDurationSeconds = lease === undefined ? NODE_LEASE_DURATION_SECONDS : Number(lease);
  if (!Number.isInteger(leaseDurationSeconds) || leaseDurationSeconds < 1) throw new Error(`--node-lease-duration-seconds ${JSON.stringify(lease)}: want a whole number of seconds, at least 1`);
  return { clusterCidr, nodeIP, leaseDurationSeconds };
}

export interface NodeMonitorFlags {
  gracePeriodMs: number;
  monitorPeriodMs: number;
}

export function nodeMonitorFlags(flags: Map<string, string>): NodeMonitorFlags {
  const duration = (flag: string, dflt: number) => {
    const v = flags.get(flag);
    if (v === undefined) return dflt;
    const ms = parseDurationMs(v);
    if (ms === undefined || ms <= 0) throw new Error(`--${flag} ${JSON.stringify(v)}: want a duration such as 40s or 500ms`);
    return ms;
  };
  const gracePeriodMs = duration('node-monitor-grace-period', NODE_MONITOR_GRACE_PERIOD_MS);
  const monitorPeriodMs = duration('node-monitor-period', NODE_MONITOR_PERIOD_MS);
  if (monitorPeriodMs >= gracePeriodMs) throw new Error(`--node-monitor-period must be shorter than --node-monitor-grace-period (${monitorPeriodMs} ms >= ${gracePeriodMs} ms)`);
  return { gracePeriodMs, monitorPeriodMs };
}
