/**
 * kube-scheduler's NodeAffinity and InterPodAffinity filters for the one node (required terms
 * only: the preferred ones rank nodes, and there is one):
 *   - nodeAffinity.required: the node must match one of its terms (src/api/node-selector.ts);
 *   - podAffinity.required: for each term, the node has the topologyKey label and a pod bound
 *     here (in the term's namespaces) matches its selector; a pod whose term matches no pod
 *     anywhere but matches itself may start the group, as upstream allows;
 *   - podAntiAffinity.required: no pod bound here matches a term (the node has the key);
 *   - and the pods bound here whose own anti-affinity terms match the incoming pod keep it away.
 * Messages are upstream's FailedScheduling sentences, in its order; anti-affinity failures are
 * "Unschedulable" upstream (preemption is tried and finds no victims), the others "unresolvable".
 */
import { nodeSelectorTermsMatch } from '../api/node-selector.js';
import { labelSelectorFromObject } from '../api/selectors/labels.js';
import type { Obj } from '../api/types.js';

const NOT_HELPFUL = 'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';
/** anti-affinity is Unschedulable (preemption is tried: other pods of the same priority are no victims); the rest UnschedulableAndUnresolvable */
const NO_VICTIMS = 'preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';
const unschedulable = (why: string, preemption = NOT_HELPFUL) => `0/1 nodes are available: 1 node(s) ${why}. ${preemption}`;

/** the namespaces' labels, for terms with a namespaceSelector */
export type NamespaceLabels = ReadonlyMap<string, Record<string, string>>;

/** whether `other` is a pod `term` (of a pod in namespace `ns`) selects */
function termSelects(term: Obj, ns: string, other: Obj, namespaces: NamespaceLabels): boolean {
  const otherNs = other.metadata?.namespace;
  const listed: string[] = term.namespaces ?? [];
  let inScope: boolean;
  if (term.namespaceSelector != null) {
    inScope = listed.includes(otherNs) || labelSelectorFromObject(term.namespaceSelector).matches(namespaces.get(otherNs) ?? {});
  } else {
    inScope = listed.length ? listed.includes(otherNs) : otherNs === ns;
  }
  if (!inScope) return false;
  // a nil labelSelector selects nothing
  return term.labelSelector != null && labelSelectorFromObject(term.labelSelector).matches(other.metadata?.labels ?? {});
}

const required = (pod: Obj, kind: 'podAffinity' | 'podAntiAffinity'): Obj[] => pod.spec?.affinity?.[kind]?.requiredDuringSchedulingIgnoredDuringExecution ?? [];

/** why the node cannot take the pod by affinity, or undefined; `bound`: the active pods bound to the node */
export function affinityMisfit(pod: Obj, node: Obj | undefined, bound: readonly Obj[], namespaces: NamespaceLabels = new Map()): string | undefined {
  const labels: Record<string, string> = node?.metadata?.labels ?? {};
  const nodeTerms: Obj[] | undefined = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (nodeTerms && !nodeSelectorTermsMatch(nodeTerms, node)) return unschedulable("didn't match Pod's node affinity/selector");
  const ns = pod.metadata?.namespace;
  const others = bound.filter((p) => p.metadata?.uid !== pod.metadata?.uid);
  for (const term of required(pod, 'podAffinity')) {
    const matched = labels[term.topologyKey] !== undefined && others.some((p) => termSelects(term, ns, p, namespaces));
    if (matched) continue;
    // the first pod of a group: no pod matches anywhere on this one node, but the pod matches its own term
    const selfMatch = !others.some((p) => termSelects(term, ns, p, namespaces)) && termSelects(term, ns, pod, namespaces);
    if (!(selfMatch && labels[term.topologyKey] !== undefined)) return unschedulable("didn't match pod affinity rules");
  }
  for (const term of required(pod, 'podAntiAffinity')) {
    if (labels[term.topologyKey] !== undefined && others.some((p) => termSelects(term, ns, p, namespaces))) return unschedulable("didn't match pod anti-affinity rules", NO_VICTIMS);
  }
  // existing pods' anti-affinity against this one (checked last, as upstream's Filter)
  for (const p of others) {
    for (const term of required(p, 'podAntiAffinity')) {
      if (labels[term.topologyKey] !== undefined && termSelects(term, p.metadata.namespace, pod, namespaces)) return unschedulable("didn't satisfy existing pods anti-affinity rules", NO_VICTIMS);
    }
  }
  return undefined;
}
