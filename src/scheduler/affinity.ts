/**
 * kube-scheduler's NodeAffinity and InterPodAffinity filters for a node (required terms; the
 * preferred node terms rank nodes, see score.ts):
 *   - nodeAffinity.required: the node must match one of its terms (src/api/node-selector.ts);
 *   - podAffinity.required: for each term, the node has the topologyKey label and a pod on a node
 *     with the same value of it (in the term's namespaces) matches its selector; a pod whose term
 *     matches no pod anywhere but matches itself may start the group, as upstream allows;
 *   - podAntiAffinity.required: no pod in the node's domain of the term's key matches a term;
 *   - and the pods whose own anti-affinity terms match the incoming pod keep it out of their
 *     domain of those terms' keys.
 * Messages are upstream's FailedScheduling reasons, in its order; anti-affinity failures are
 * "Unschedulable" upstream (preemption is tried and finds no victims), the others "unresolvable".
 */
import { nodeSelectorTermsMatch } from '../api/node-selector.js';
import { labelSelectorFromObject } from '../api/selectors/labels.js';
import type { Obj } from '../api/types.js';
import { misfit, oneNode, type Misfit } from './diagnosis.js';

/** anti-affinity is Unschedulable (preemption is tried: other pods of the same priority are no victims); the rest UnschedulableAndUnresolvable */
const unresolvable = (why: string) => misfit(`node(s) ${why}`, true);
const noVictims = (why: string) => misfit(`node(s) ${why}`, false);

/** the bound pods of the cluster and the labels of the nodes they are on */
export interface Placement {
  pods: readonly Obj[];
  nodeLabels(nodeName: string): Record<string, string> | undefined;
}

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

/** the pods in `node`'s domain of `key`: on a node whose label `key` has the node's value */
function inDomain(placement: Placement, labels: Record<string, string>, key: string, p: Obj): boolean {
  const v = labels[key];
  return v !== undefined && placement.nodeLabels(p.spec?.nodeName)?.[key] === v;
}

/** why the node cannot take the pod by affinity, or undefined */
export function affinityReason(pod: Obj, node: Obj | undefined, placement: Placement, namespaces: NamespaceLabels = new Map()): Misfit | undefined {
  const labels: Record<string, string> = node?.metadata?.labels ?? {};
  const nodeTerms: Obj[] | undefined = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (nodeTerms && !nodeSelectorTermsMatch(nodeTerms, node)) return unresolvable("didn't match Pod's node affinity/selector");
  const ns = pod.metadata?.namespace;
  const others = placement.pods.filter((p) => p.metadata?.uid !== pod.metadata?.uid);
  for (const term of required(pod, 'podAffinity')) {
    const key = term.topologyKey;
    if (labels[key] !== undefined && others.some((p) => inDomain(placement, labels, key, p) && termSelects(term, ns, p, namespaces))) continue;
    // the first pod of a group: no pod matches anywhere, but the pod matches its own term
    const selfMatch = !others.some((p) => termSelects(term, ns, p, namespaces)) && termSelects(term, ns, pod, namespaces);
    if (!(selfMatch && labels[key] !== undefined)) return unresolvable("didn't match pod affinity rules");
  }
  for (const term of required(pod, 'podAntiAffinity')) {
    if (others.some((p) => inDomain(placement, labels, term.topologyKey, p) && termSelects(term, ns, p, namespaces))) return noVictims("didn't match pod anti-affinity rules");
  }
  // existing pods' anti-affinity against this one (checked last, as upstream's Filter)
  for (const p of others) {
    for (const term of required(p, 'podAntiAffinity')) {
      if (inDomain(placement, labels, term.topologyKey, p) && termSelects(term, p.metadata.namespace, pod, namespaces)) return noVictims("didn't satisfy existing pods anti-affinity rules");
    }
  }
  return undefined;
}

/** affinityReason for a one-node cluster (`bound`: the pods on it), as the one-node message */
export function affinityMisfit(pod: Obj, node: Obj | undefined, bound: readonly Obj[], namespaces: NamespaceLabels = new Map()): string | undefined {
  const name = node?.metadata?.name ?? '';
  const placement: Placement = { pods: bound.map((p) => ({ ...p, spec: { ...(p.spec ?? {}), nodeName: name } })), nodeLabels: () => node?.metadata?.labels ?? {} };
  return oneNode(affinityReason(pod, node, placement, namespaces));
}
