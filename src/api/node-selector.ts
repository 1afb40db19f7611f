/**
 * A NodeSelector (a PersistentVolume's nodeAffinity.required, a pod's required node affinity)
 * against a node's labels, as component-helpers' nodeaffinity matches it: the terms are ORed,
 * each term's matchExpressions ANDed; an empty term matches nothing; Gt/Lt compare integers.
 * matchFields supports metadata.name only, as upstream.
 */
import type { Obj } from './types.js';

function expressionMatches(e: Obj, value: string | undefined): boolean {
  const values: string[] = e.values ?? [];
  switch (e.operator) {
    case 'In': return value !== undefined && values.includes(value);
    case 'NotIn': return value === undefined || !values.includes(value);
    case 'Exists': return value !== undefined;
    case 'DoesNotExist': return value === undefined;
    case 'Gt': return value !== undefined && /^-?\d+$/.test(value) && Number(value) > Number(values[0]);
    case 'Lt': return value !== undefined && /^-?\d+$/.test(value) && Number(value) < Number(values[0]);
    default: return false;
  }
}

/** whether a node (its labels and name) matches any of `terms` */
export function nodeSelectorTermsMatch(terms: readonly Obj[] | undefined, node: Obj | undefined): boolean {
  if (!terms?.length) return false;
  const labels: Record<string, string> = node?.metadata?.labels ?? {};
  const name: string | undefined = node?.metadata?.name;
  return terms.some((t) => {
    const exprs: Obj[] = t.matchExpressions ?? [];
    const fields: Obj[] = t.matchFields ?? [];
    if (!exprs.length && !fields.length) return false;
    return exprs.every((e) => expressionMatches(e, labels[e.key])) && fields.every((f) => f.key === 'metadata.name' && expressionMatches(f, name));
  });
}

/** a PersistentVolume's required node affinity allows `node` (no affinity: any node) */
export function volumeAllowsNode(pv: Obj, node: Obj | undefined): boolean {
  const terms: Obj[] | undefined = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  return !terms?.length || nodeSelectorTermsMatch(terms, node);
}

/**
 * a StorageClass's allowedTopologies allows `node` (none: any node). Each term's
 * matchLabelExpressions (key and values: In) are ANDed, the terms ORed, as
 * v1helper.MatchTopologySelectorTerms.
 */
export function classAllowsNode(sc: Obj | undefined, node: Obj | undefined): boolean {
  const terms: Obj[] = sc?.allowedTopologies ?? [];
  if (!terms.length) return true;
  const labels: Record<string, string> = node?.metadata?.labels ?? {};
  return terms.some((t) => ((t.matchLabelExpressions ?? []) as Obj[]).every((e) => (e.values ?? []).includes(labels[e.key])));
}
