/**
 * kube-scheduler's NodeUnschedulable and TaintToleration filters for a node: a cordoned
 * node (spec.unschedulable) takes only pods that tolerate node.kubernetes.io/unschedulable
 * (DaemonSet pods do); a NoSchedule or NoExecute taint takes only pods that tolerate it. The
 * messages are upstream's (`1 node(s) were unschedulable`, `1 node(s) had untolerated taint
 * {key: value}`), in its FailedScheduling sentence.
 */
import type { Obj } from '../api/types.js';
import { tolerated } from '../api/taints.js';
import { misfit, oneNode, type Misfit } from './diagnosis.js';

export { toleratesTaint } from '../api/taints.js';

export const UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable';
/** why the node cannot take the pod (unschedulable, an untolerated taint), or undefined */
export function taintMisfit(pod: Obj, node: Obj | undefined): Misfit | undefined {
  if (!node) return undefined;
  const tolerations: Obj[] = pod.spec?.tolerations ?? [];
  if (node.spec?.unschedulable && !tolerated(tolerations, { key: UNSCHEDULABLE_TAINT, effect: 'NoSchedule' })) {
    return misfit('node(s) were unschedulable', true);
  }
  for (const taint of (node.spec?.taints ?? []) as Obj[]) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (tolerated(tolerations, taint)) continue;
    return misfit(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`, true);
  }
  return undefined;
}

/** taintMisfit as the one-node FailedScheduling message */
export const nodeMisfit = (pod: Obj, node: Obj | undefined): string | undefined => oneNode(taintMisfit(pod, node));

/** how many PreferNoSchedule taints of the node the pod does not tolerate (TaintToleration's score) */
export function intolerablePreferNoSchedule(pod: Obj, node: Obj): number {
  const tolerations: Obj[] = (pod.spec?.tolerations ?? []).filter((t: Obj) => !t.effect || t.effect === 'PreferNoSchedule');
  return ((node.spec?.taints ?? []) as Obj[]).filter((t) => t.effect === 'PreferNoSchedule' && !tolerated(tolerations, t)).length;
}
