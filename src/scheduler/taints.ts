/**
 * kube-scheduler's NodeUnschedulable and TaintToleration filters for the one node: a cordoned
 * node (spec.unschedulable) takes only pods that tolerate node.kubernetes.io/unschedulable
 * (DaemonSet pods do); a NoSchedule or NoExecute taint takes only pods that tolerate it. The
 * messages are upstream's (`1 node(s) were unschedulable`, `1 node(s) had untolerated taint
 * {key: value}`), in its FailedScheduling sentence.
 */
import type { Obj } from '../api/types.js';
import { tolerated } from '../api/taints.js';

export { toleratesTaint } from '../api/taints.js';

export const UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable';
const NOT_HELPFUL = 'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';

/** why the node cannot take the pod (unschedulable, an untolerated taint), or undefined */
export function nodeMisfit(pod: Obj, node: Obj | undefined): string | undefined {
  if (!node) return undefined;
  const tolerations: Obj[] = pod.spec?.tolerations ?? [];
  if (node.spec?.unschedulable && !tolerated(tolerations, { key: UNSCHEDULABLE_TAINT, effect: 'NoSchedule' })) {
    return `0/1 nodes are available: 1 node(s) were unschedulable. ${NOT_HELPFUL}`;
  }
  for (const taint of (node.spec?.taints ?? []) as Obj[]) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (tolerated(tolerations, taint)) continue;
    return `0/1 nodes are available: 1 node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}. ${NOT_HELPFUL}`;
  }
  return undefined;
}
