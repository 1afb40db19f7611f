/**
 * Which webhooks a request goes to, as kube-apiserver's webhook/predicates (rules.Matcher,
 * namespace.Matcher, object.Matcher) and generic.Webhook.ShouldCallHook decide: a rule names the
 * operation, group, version, resource (with "*" and "res/sub" forms) and scope; a webhook
 * with matchPolicy Equivalent also takes the same group and resource served at another version
 * (the request is then sent as that version). The namespace selector applies to namespaced
 * objects (and to Namespaces themselves), the object selector to the new or the old object.
 */
import type { ResourceInfo } from '../../api/registry.js';
import { selectorMatches } from '../../api/validation/label-selector.js';
import type { Obj } from '../../api/types.js';
import type { AdmissionAttributes } from './types.js';

/** one rule against a group/version/resource/subresource and operation (rules.Matcher.Matches) */
export function ruleMatches(rule: Obj, op: string, group: string, version: string, resource: string, sub: string, namespace: string, namespacedKind: boolean): boolean {
  const has = (list: unknown, v: string) => Array.isArray(list) && (list.includes('*') || list.includes(v));
  if (!has(rule.operations, op) || !has(rule.apiGroups, group) || !has(rule.apiVersions, version)) return false;
  const scope = rule.scope ?? '*';
  if (scope === 'Cluster' && (namespacedKind || namespace !== '')) return false;
  if (scope === 'Namespaced' && !namespacedKind) return false;
  const resources: string[] = Array.isArray(rule.resources) ? rule.resources : [];
  return resources.some((pattern) => {
    if (pattern === '*/*') return true;
    const slash = pattern.indexOf('/');
    if (slash < 0) return sub === '' && (pattern === '*' || pattern === resource);
    const res = pattern.slice(0, slash);
    const s = pattern.slice(slash + 1);
    return (res === '*' || res === resource) && (s === '*' || s === sub);
  });
}

/**
 * The kind a webhook is called with: the request's own when a rule matches it exactly, else
 * (matchPolicy Equivalent) the same group and resource at another served version, else none.
 */
export function matchingKind(hook: Obj, a: AdmissionAttributes, served: ResourceInfo[]): ResourceInfo | undefined {
  const rules: Obj[] = Array.isArray(hook.rules) ? hook.rules : [];
  const ns = a.r.namespaced || a.r.kind === 'Namespace' ? a.namespace : '';
  const test = (r: ResourceInfo) => rules.some((rule) => ruleMatches(rule, a.operation, r.group, r.version, r.resource, a.subResource, ns, r.namespaced));
  if (test(a.r)) return a.r;
  if ((hook.matchPolicy ?? 'Equivalent') !== 'Equivalent') return undefined;
  return served.find((r) => r !== a.r && r.group === a.r.group && r.resource === a.r.resource && r.version !== a.r.version && test(r));
}

/** object.Matcher: an empty selector matches everything, else the new object's labels or the old one's */
export function objectSelected(hook: Obj, a: AdmissionAttributes): boolean {
  const sel = hook.objectSelector ?? {};
  if (Object.keys(sel).length === 0) return true;
  // an object without metadata (a CONNECT's PodExecOptions ...) has no labels to match: kube's
  // meta.Accessor fails on it and the webhook is skipped
  const matches = (o: Obj | null) => !!o && typeof o.metadata === 'object' && o.metadata !== null && selectorMatches(sel, typeof o.metadata.labels === 'object' && o.metadata.labels ? o.metadata.labels : {}) === true;
  return matches(a.object) || matches(a.oldObject);
}

/**
 * namespace.Matcher: cluster-scoped objects (but Namespaces) are always selected; a
 * namespaced one by its namespace's labels (a Namespace by its own).
 */
export function namespaceSelected(hook: Obj, a: AdmissionAttributes, nsLabels: Record<string, string> | undefined): boolean {
  if (!a.r.namespaced && a.r.kind !== 'Namespace') return true;
  const sel = hook.namespaceSelector ?? {};
  if (Object.keys(sel).length === 0) return true;
  return selectorMatches(sel, nsLabels ?? {}) === true;
}

/** webhook configurations are never sent to webhooks (kube: IsExemptAdmissionConfigurationResource) */
export function exempt(r: ResourceInfo): boolean {
  return r.group === 'admissionregistration.k8s.io';
}
