/**
 * RBAC's rule semantics (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac and
 * pkg/apis/rbac/v1/evaluation_helpers.go), pure: who a binding's subjects are, what a rule
 * allows, and the message kube-apiserver answers a denied request with. The API server's
 * authorizer (src/apiserver/authorizer.ts) feeds it the stored roles and bindings.
 */
import { labelSelectorFromObject } from './selectors/labels.js';

type Obj = Record<string, any>;

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** authorizer.Attributes: what a request asks to do */
export interface Attributes {
  user: UserInfo;
  verb: string;
  isResourceRequest: boolean;
  /** non-resource requests: the URL path */
  path: string;
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  name: string;
}

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** appliesTo: a binding's subject is this user (User and ServiceAccount by name, Group by membership) */
export function subjectMatches(subject: Obj, user: UserInfo, bindingNamespace: string): boolean {
  switch (subject?.kind) {
    case 'User':
      return subject.name === user.username;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      // an empty subject namespace means the binding's (RoleBindings only)
      const ns = subject.namespace || bindingNamespace;
      return Boolean(ns) && user.username === `system:serviceaccount:${ns}:${subject.name}`;
    }
  }
  return false;
}

function has(list: string[] | undefined, value: string): boolean {
  return (list ?? []).some((v) => v === '*' || v === value);
}

/** ResourceMatches: "pods", "pods/log", "*", and "* /log" (any resource's log) */
function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource && r === `*/${subresource}`) return true;
  }
  return false;
}

/** NonResourceURLMatches: exact, or a prefix ending in * */
function urlMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

/** RuleAllows */
export function ruleAllows(a: Omit<Attributes, 'user'>, rule: PolicyRule): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.isResourceRequest) return urlMatches(rule, a.path);
  if (!has(rule.apiGroups, a.apiGroup)) return false;
  if (!resourceMatches(rule, a.resource, a.subresource)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(a.name);
}

/** forbiddenMessage + apierrors.NewForbidden, as responsewriters.Forbidden words a denial */
export function forbiddenMessage(a: Attributes, reason = ''): string {
  let what: string;
  if (!a.isResourceRequest) what = `User ${JSON.stringify(a.user.username)} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  else {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    const where = a.namespace ? `in the namespace ${JSON.stringify(a.namespace)}` : 'at the cluster scope';
    what = `User ${JSON.stringify(a.user.username)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} ${where}`;
  }
  if (reason) what += `: ${reason}`;
  const qualified = a.isResourceRequest ? (a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource) : '';
  if (!qualified) return `forbidden: ${what}`;
  return a.name ? `${qualified} ${JSON.stringify(a.name)} is forbidden: ${what}` : `${qualified} is forbidden: ${what}`;
}

/** every single permission a rule grants, for the escalation check (a '*' stays a literal '*') */
export function ruleAtoms(rule: PolicyRule): Omit<Attributes, 'user'>[] {
  const out: Omit<Attributes, 'user'>[] = [];
  const base = { namespace: '', apiVersion: '', path: '', apiGroup: '', resource: '', subresource: '', name: '' };
  for (const verb of rule.verbs ?? []) {
    for (const path of rule.nonResourceURLs ?? []) out.push({ ...base, verb, isResourceRequest: false, path });
    for (const apiGroup of rule.apiGroups ?? []) {
      for (const res of rule.resources ?? []) {
        const [resource, ...sub] = res.split('/');
        const names = rule.resourceNames?.length ? rule.resourceNames : [''];
        for (const name of names) out.push({ ...base, verb, isResourceRequest: true, apiGroup, resource, subresource: sub.join('/'), name });
      }
    }
  }
  return out;
}

/** an owner covers an atom when one of its rules allows it (a '*' asked for needs a '*' held) */
export function covers(ownerRules: PolicyRule[], atom: Omit<Attributes, 'user'>): boolean {
  return ownerRules.some((r) => {
    if (atom.name === '' && (r.resourceNames ?? []).length) return false;
    return ruleAllows(atom, r);
  });
}

/** the rules of `requested` the owner does not hold, in kube's compact form for the message */
export function uncoveredRules(ownerRules: PolicyRule[], requested: PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const rule of requested) {
    for (const atom of ruleAtoms(rule)) {
      if (covers(ownerRules, atom)) continue;
      if (!atom.isResourceRequest) missing.push({ verbs: [atom.verb], nonResourceURLs: [atom.path] });
      else {
        const r: PolicyRule = { apiGroups: [atom.apiGroup], resources: [atom.subresource ? `${atom.resource}/${atom.subresource}` : atom.resource], verbs: [atom.verb] };
        if (atom.name) r.resourceNames = [atom.name];
        missing.push(r);
      }
    }
  }
  return missing;
}

/** rbacv1helpers.CompactString: {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]} */
export function compactRule(r: PolicyRule): string {
  const q = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;
  const parts: string[] = [];
  if (r.nonResourceURLs?.length) parts.push(`NonResourceURLs:${q(r.nonResourceURLs)}`);
  if (r.apiGroups?.length) parts.push(`APIGroups:${q(r.apiGroups)}`);
  if (r.resources?.length) parts.push(`Resources:${q(r.resources)}`);
  if (r.resourceNames?.length) parts.push(`ResourceNames:${q(r.resourceNames)}`);
  parts.push(`Verbs:${q(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** does an aggregationRule's selector pick these labels? (an empty selector picks nothing, as upstream) */
export function selectorMatches(sel: Obj | undefined, labels: Record<string, string>): boolean {
  if (!sel || (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length)) return false;
  return labelSelectorFromObject(sel).matches(labels);
}
