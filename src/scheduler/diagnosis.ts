/**
 * kube-scheduler's FitError wording for a pod no node takes. Each node that filtered the pod out
 * gives its reasons (one filter's: the first that failed, as upstream stops there) and whether
 * preemption could help there (UnschedulableAndUnresolvable: it cannot). The sentence counts
 * each reason over the nodes, as "N reason", sorted as strings, then the preemption sentence:
 *
 *   0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {a: b}.
 *   preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod,
 *   2 Preemption is not helpful for scheduling.
 */
export interface Misfit {
  /** the filter's reasons on this node (NodeResourcesFit may give several) */
  reasons: string[];
  /** UnschedulableAndUnresolvable: evicting pods would not make room */
  unresolvable: boolean;
}

export const misfit = (reason: string, unresolvable: boolean): Misfit => ({ reasons: [reason], unresolvable });

const NO_VICTIMS = 'No preemption victims found for incoming pod';
const NOT_HELPFUL = 'Preemption is not helpful for scheduling';

function counted(items: readonly string[]): string {
  const n = new Map<string, number>();
  for (const r of items) n.set(r, (n.get(r) ?? 0) + 1);
  return [...n].map(([r, c]) => `${c} ${r}`).sort().join(', ');
}

/** the FailedScheduling message for `total` nodes, each of which gave a misfit */
export function fitErrorMessage(total: number, misfits: readonly Misfit[]): string {
  const reasons = counted(misfits.flatMap((m) => m.reasons));
  const preemption = counted(misfits.map((m) => (m.unresolvable ? NOT_HELPFUL : NO_VICTIMS)));
  return `0/${total} nodes are available: ${reasons}. preemption: 0/${total} nodes are available: ${preemption}.`;
}

/** the message when the one node of a cluster cannot take the pod (the single-node wording) */
export const oneNode = (m: Misfit | undefined): string | undefined => (m ? fitErrorMessage(1, [m]) : undefined);

/** the message when no node can take the pod for one reason of the pod's own (a PreFilter's) */
export function preFilterMessage(total: number, reason: string): string {
  return `0/${total} nodes are available: ${reason}. preemption: 0/${total} nodes are available: ${total} ${NOT_HELPFUL}.`;
}
