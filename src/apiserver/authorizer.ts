/**
 * Authorization on every request, as kube-apiserver's --authorization-mode=Node,RBAC:
 * system:masters may do anything (the privileged-group authorizer); a node (system:node:NAME)
 * what the Node authorizer allows it (node-authorizer.ts); everyone, nodes too, what the RBAC
 * roles bound to them allow (src/api/rbac.ts for the rule semantics). The roles and bindings are
 * read on each decision from the registry's in-memory copies (kept current by a watch of the
 * store, as kube's RBAC authorizer reads its informers): ClusterRoleBindings, then the
 * RoleBindings of the request's namespace. A denial carries the Node authorizer's reason, as the union authorizer
 * joins them.
 */
import { resourceInfo, storageKey } from '../api/registry.js';
import { compactRule, ruleAllows, subjectMatches, uncoveredRules, type Attributes, type PolicyRule, type UserInfo } from '../api/rbac.js';
import { ApiError } from '../api/errors.js';
import type { ResourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import type { Registry } from '../registry/index.js';
import { NODE_RULES } from '../registry/bootstrap-policy.js';
import { NodeAuthorizer } from './node-authorizer.js';
import { nodeIdentity } from '../api/node-graph.js';

const RBAC = 'rbac.authorization.k8s.io';
export const ROLES = resourceInfo('roles', 'rbac.authorization.k8s.io')!;
export const CLUSTERROLES = resourceInfo('clusterroles', 'rbac.authorization.k8s.io')!;
export const ROLEBINDINGS = resourceInfo('rolebindings', 'rbac.authorization.k8s.io')!;
export const CLUSTERROLEBINDINGS = resourceInfo('clusterrolebindings', 'rbac.authorization.k8s.io')!;

export interface Decision {
  allowed: boolean;
  /** RBAC's reason on an allow: which binding of which role; on a denial, the Node authorizer's */
  reason: string;
}

const PODS = resourceInfo('pods')!;
const CLAIMS = resourceInfo('persistentvolumeclaims')!;

export class RbacAuthorizer {
  private readonly nodes: NodeAuthorizer;

  constructor(private readonly resources: Registry) {
    this.nodes = new NodeAuthorizer(
      {
        podsOnNode: async (node, ns) => (await resources.list(PODS, ns, { fieldSelector: `spec.nodeName=${node}` })).items,
        getClaim: (ns, name) => resources.tryGet(CLAIMS, ns, name),
      },
      NODE_RULES as PolicyRule[],
    );
  }

  /** one role, from the registry's copy (the store while the copy is not following it) */
  private async read(r: ResourceInfo, ns: string | undefined, name: string): Promise<Obj | undefined> {
    const copy = await this.resources.cachedCopy(r);
    return copy ? copy.get(storageKey(r, ns, name)) : this.resources.tryGet(r, ns, name);
  }

  /** the rules of a role reference (undefined: the role is not there) */
  async roleRules(ref: Obj | undefined, ns: string): Promise<PolicyRule[] | undefined> {
    if (!ref || ref.apiGroup !== 'rbac.authorization.k8s.io') return undefined;
    const role = ref.kind === 'ClusterRole' ? await this.read(CLUSTERROLES, undefined, ref.name) : ref.kind === 'Role' && ns ? await this.read(ROLES, ns, ref.name) : undefined;
    return role ? ((role.rules ?? []) as PolicyRule[]) : undefined;
  }

  /** every binding (cluster-wide, then of `ns`) whose subjects include the user */
  private async bindingsOf(user: UserInfo, ns: string): Promise<{ binding: Obj; ns: string }[]> {
    const out: { binding: Obj; ns: string }[] = [];
    for (const b of await this.resources.listCached(CLUSTERROLEBINDINGS, undefined)) {
      if ((b.subjects ?? []).some((s: Obj) => subjectMatches(s, user, ''))) out.push({ binding: b, ns: '' });
    }
    if (ns) {
      for (const b of await this.resources.listCached(ROLEBINDINGS, ns)) {
        if ((b.subjects ?? []).some((s: Obj) => subjectMatches(s, user, ns))) out.push({ binding: b, ns });
      }
    }
    return out;
  }

  async authorize(a: Attributes): Promise<Decision> {
    if (a.user.groups.includes('system:masters')) return { allowed: true, reason: '' };
    const node = await this.nodes.authorize(a);
    if (node?.allowed) return { allowed: true, reason: '' };
    for (const { binding, ns } of await this.bindingsOf(a.user, a.namespace)) {
      const rules = await this.roleRules(binding.roleRef, ns);
      if (rules?.some((r) => ruleAllows(a, r))) {
        const kind = ns ? 'RoleBinding' : 'ClusterRoleBinding';
        const name = ns ? `${binding.metadata.name}/${ns}` : binding.metadata.name;
        return { allowed: true, reason: `RBAC: allowed by ${kind} ${JSON.stringify(name)} of ${binding.roleRef.kind} ${JSON.stringify(binding.roleRef.name)}` };
      }
    }
    return { allowed: false, reason: node?.reason ?? '' };
  }

  /** every rule the user holds in `ns` (cluster-wide ones included): SelfSubjectRulesReview, escalation checks */
  async rulesFor(user: UserInfo, ns: string): Promise<PolicyRule[]> {
    if (user.groups.includes('system:masters')) return [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }];
    // a node holds upstream's NodeRules besides its bindings (the Node authorizer's RulesFor)
    const out: PolicyRule[] = nodeIdentity(user) ? [...(NODE_RULES as PolicyRule[])] : [];
    for (const { binding, ns: bns } of await this.bindingsOf(user, ns)) out.push(...((await this.roleRules(binding.roleRef, bns)) ?? []));
    return out;
  }

  /**
   * The escalation check of the RBAC storage (pkg/registry/rbac): a user may write a role only
   * with rules it holds itself (or with `escalate` on roles), and bind a role only when it holds
   * the role's rules (or has `bind` on it). Undefined when the write may go on.
   */
  async escalationRefusal(user: UserInfo, r: ResourceInfo, ns: string, obj: Obj): Promise<ApiError | undefined> {
    if (user.groups.includes('system:masters')) return undefined;
    const name: string = obj.metadata?.name ?? '';
    const attrs = (verb: string, resource: string, n: string): Attributes => ({ user, verb, isResourceRequest: true, path: '', namespace: ns, apiGroup: RBAC, apiVersion: 'v1', resource, subresource: '', name: n });
    let requested: PolicyRule[];
    if (r.kind === 'Role' || r.kind === 'ClusterRole') {
      if ((await this.authorize(attrs('escalate', r.resource, name))).allowed) return undefined;
      requested = obj.rules ?? [];
    } else {
      const ref = obj.roleRef ?? {};
      const refResource = ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
      if ((await this.authorize(attrs('bind', refResource, ref.name ?? ''))).allowed) return undefined;
      const rules = await this.roleRules(ref, ns);
      if (!rules) return undefined; // a binding to a missing role grants nothing (yet): validation's and the authorizer's concern
      requested = rules;
    }
    const missing = uncoveredRules(await this.rulesFor(user, ns), requested);
    if (!missing.length) return undefined;
    const groups = `[${user.groups.map((g) => JSON.stringify(g)).join(' ')}]`;
    const message = `${r.resource}.${RBAC} ${JSON.stringify(name)} is forbidden: user ${JSON.stringify(user.username)} (groups=${groups}) is attempting to grant RBAC permissions not currently held:\n${missing.map(compactRule).join('\n')}`;
    return new ApiError(403, 'Forbidden', message, { name, group: RBAC, kind: r.resource });
  }
}
