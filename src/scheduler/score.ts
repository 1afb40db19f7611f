/**
 * kube-scheduler's default scoring, for the nodes that passed the filters: each plugin scores a
 * node 0-100, the weighted sum ranks them, and the best wins. Upstream picks at random among
 * equal scores; podbay takes the first by node name, so a placement can be reproduced.
 *
 *   PodTopologySpread (weight 2), with the system default constraint on kubernetes.io/hostname:
 *     fewer pods of the same group on a node scores higher. The group is upstream's
 *     DefaultSelector: the pods of the same controller (the owner with controller: true: a
 *     ReplicaSet, StatefulSet, ...) that every Service selecting the pod also selects; a pod
 *     with neither is not spread. 100 * (max + min - count) / max, 100 when none has any.
 *   NodeResourcesFit LeastAllocated (1) and NodeResourcesBalancedAllocation (1), on cpu and
 *     memory with the scheduler's non-zero defaults (100m, 200Mi for a container requesting none).
 *   TaintToleration (3): fewer PreferNoSchedule taints the pod does not tolerate.
 *   NodeAffinity (2): the weights of the preferred node terms the node matches.
 */
import { bytesValue, milliValue } from '../api/pod-resources.js';
import { nodeSelectorTermsMatch } from '../api/node-selector.js';
import type { Obj } from '../api/types.js';
import { intolerablePreferNoSchedule } from './taints.js';

/** upstream's DefaultMilliCPURequest and DefaultMemoryRequest, for scoring only */
export const DEFAULT_MILLI_CPU = 100;
export const DEFAULT_MEMORY = 200 * 1024 * 1024;

export const WEIGHTS = { spread: 2, leastAllocated: 1, balanced: 1, taints: 3, nodeAffinity: 2 };

/** what scoring knows of a node that passed the filters */
export interface Candidate {
  node: Obj;
  /** the active pods bound to it */
  pods: readonly Obj[];
}

/** a pod's requests as scoring counts them: a container requesting nothing counts the defaults */
export function nonZeroRequests(pod: Obj): { milliCpu: number; memory: number } {
  let milliCpu = 0;
  let memory = 0;
  for (const c of (pod.spec?.containers ?? []) as Obj[]) {
    const r = c.resources?.requests ?? {};
    milliCpu += r.cpu !== undefined && milliValue(r.cpu) > 0 ? milliValue(r.cpu) : DEFAULT_MILLI_CPU;
    memory += r.memory !== undefined && bytesValue(r.memory) > 0 ? bytesValue(r.memory) : DEFAULT_MEMORY;
  }
  return { milliCpu, memory };
}

const controllerUid = (p: Obj): string | undefined => (p.metadata?.ownerReferences ?? []).find((r: Obj) => r.controller)?.uid;
const selects = (sel: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(sel).every(([k, v]) => labels[k] === v);

/** which pods count as the pod's group for spreading (DefaultSelector), or undefined: none */
export function spreadGroup(pod: Obj, services: readonly Obj[]): ((other: Obj) => boolean) | undefined {
  const ns = pod.metadata?.namespace;
  const owner = controllerUid(pod);
  const selectors = services
    .filter((s) => s.metadata?.namespace === ns && s.spec?.selector && Object.keys(s.spec.selector).length && selects(s.spec.selector, pod.metadata?.labels))
    .map((s) => s.spec.selector as Record<string, string>);
  if (!owner && !selectors.length) return undefined;
  return (o) => o.metadata?.namespace === ns && (!owner || controllerUid(o) === owner) && selectors.every((sel) => selects(sel, o.metadata?.labels));
}

function allocatable(node: Obj): { milliCpu: number; memory: number } {
  const a = node.status?.allocatable ?? {};
  return { milliCpu: a.cpu !== undefined ? milliValue(a.cpu) : 0, memory: a.memory !== undefined ? bytesValue(a.memory) : 0 };
}

/** the weighted score of each candidate (by node name) */
export function scoreNodes(pod: Obj, candidates: readonly Candidate[], services: readonly Obj[]): Map<string, number> {
  const group = spreadGroup(pod, services);
  const counts = candidates.map((c) => (group ? c.pods.filter(group).length : 0));
  const maxCount = Math.max(0, ...counts);
  const minCount = Math.min(...counts);
  const intolerable = candidates.map((c) => intolerablePreferNoSchedule(pod, c.node));
  const maxIntolerable = Math.max(0, ...intolerable);
  const preferred: Obj[] = pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  const affinity = candidates.map((c) => preferred.reduce((sum, t) => sum + (t.preference && nodeSelectorTermsMatch([t.preference], c.node) ? Number(t.weight ?? 0) : 0), 0));
  const maxAffinity = Math.max(0, ...affinity);
  const wants = nonZeroRequests(pod);
  const out = new Map<string, number>();
  candidates.forEach((c, i) => {
    const spread = maxCount === 0 ? 100 : (100 * (maxCount + minCount - counts[i]!)) / maxCount;
    const alloc = allocatable(c.node);
    const used = c.pods.map(nonZeroRequests).reduce((a, b) => ({ milliCpu: a.milliCpu + b.milliCpu, memory: a.memory + b.memory }), wants);
    const free = (cap: number, req: number) => (cap > 0 && req <= cap ? ((cap - req) * 100) / cap : 0);
    const least = (free(alloc.milliCpu, used.milliCpu) + free(alloc.memory, used.memory)) / 2;
    const frac = (cap: number, req: number) => (cap > 0 ? Math.min(1, req / cap) : 1);
    const balanced = (1 - Math.abs(frac(alloc.milliCpu, used.milliCpu) - frac(alloc.memory, used.memory)) / 2) * 100;
    const taints = maxIntolerable === 0 ? 100 : 100 - (intolerable[i]! * 100) / maxIntolerable;
    const nodeAffinity = maxAffinity === 0 ? 0 : (affinity[i]! * 100) / maxAffinity;
    out.set(c.node.metadata.name, WEIGHTS.spread * spread + WEIGHTS.leastAllocated * least + WEIGHTS.balanced * balanced + WEIGHTS.taints * taints + WEIGHTS.nodeAffinity * nodeAffinity);
  });
  return out;
}

/** the best-scoring candidate; equal scores go to the first by node name */
export function pickNode(pod: Obj, candidates: readonly Candidate[], services: readonly Obj[]): Candidate | undefined {
  const scores = scoreNodes(pod, candidates, services);
  let best: Candidate | undefined;
  for (const c of [...candidates].sort((a, b) => (a.node.metadata.name < b.node.metadata.name ? -1 : a.node.metadata.name > b.node.metadata.name ? 1 : 0))) {
    // a difference below rounding is a tie (sums of fractions)
    if (!best || scores.get(c.node.metadata.name)! > scores.get(best.node.metadata.name)! + 1e-9) best = c;
  }
  return best;
}
