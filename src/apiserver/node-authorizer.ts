/**
 * kube-apiserver's Node authorizer (plugin/pkg/auth/authorizer/node), the first of
 * --authorization-mode=Node,RBAC: a kubelet, user system:node:NAME in group system:nodes, may
 *
 *   secrets, configmaps          get/list/watch one named object a pod bound to NAME references
 *   persistentvolumeclaims       get one its pods use (and its status: get/update/patch)
 *   persistentvolumes            get one bound to a claim its pods use
 *   serviceaccounts/token        create for an account a pod bound to NAME runs as
 *   leases (kube-node-lease)     get/create/update/patch/delete its own
 *   anything else                what upstream's NodeRules allow (bootstrap-policy.ts NODE_RULES)
 *
 * Upstream keeps a graph (pod -> secret, pod -> pvc -> pv, ...) updated by informers; podbay asks
 * the store for the pods bound to the node on each such decision: the same answers (pods are the
 * only edges), without a cache to keep in step. Anything else gets no opinion, with upstream's
 * reason, so RBAC may still allow it; the 403 then carries the reason
 * (`... : no relationship found between node 'NAME' and this object`). Writes are confined
 * further by the NodeRestriction admission (src/registry/node-restriction.ts).
 */
import { ruleAllows, type Attributes, type PolicyRule } from '../api/rbac.js';
import type { Obj } from '../api/types.js';
import { nodeIdentity, podReferences } from '../api/node-graph.js';

/** where nodes' heartbeat Leases live (api.NamespaceNodeLease) */
const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** what the authorizer reads: the pods bound to a node (in one namespace, or all), and a claim */
export interface NodeGraphSource {
  podsOnNode(node: string, namespace?: string): Promise<Obj[]>;
  getClaim(namespace: string, name: string): Promise<Obj | undefined>;
}

export type NodeDecision = { allowed: true } | { allowed: false; reason: string };

const NO_OPINION = (reason: string): NodeDecision => ({ allowed: false, reason });
const ALLOW: NodeDecision = { allowed: true };

/** whether a pod bound to `node` references the object (hasPathFrom) */
async function hasPath(src: NodeGraphSource, node: string, kind: 'secrets' | 'configmaps' | 'claims' | 'serviceAccounts' | 'persistentvolumes', ns: string, name: string): Promise<boolean> {
  if (kind === 'persistentvolumes') {
    // pv <- pvc <- pod: a claim of a pod on this node bound to this volume
    for (const pod of await src.podsOnNode(node)) {
      for (const claim of podReferences(pod).claims) {
        const pvc = await src.getClaim(pod.metadata.namespace, claim);
        if (pvc?.spec?.volumeName === name) return true;
      }
    }
    return false;
  }
  for (const pod of await src.podsOnNode(node, ns)) if (podReferences(pod)[kind].has(name)) return true;
  return false;
}

export class NodeAuthorizer {
  constructor(
    private readonly src: NodeGraphSource,
    /** the statically granted rules (upstream's bootstrappolicy.NodeRules) */
    private readonly nodeRules: PolicyRule[],
  ) {}

  /** undefined: the user is not a node (no opinion, no reason); else allow or no opinion with why */
  async authorize(a: Attributes): Promise<NodeDecision | undefined> {
    const node = nodeIdentity(a.user);
    if (node === undefined) return undefined;
    if (node === '') return NO_OPINION(`unknown node for user ${JSON.stringify(a.user.username)}`);
    if (a.isResourceRequest) {
      const gr = `${a.apiGroup}/${a.resource}`;
      switch (gr) {
        case '/secrets':
          return this.readNamespaced(node, 'secrets', a);
        case '/configmaps':
          return this.readNamespaced(node, 'configmaps', a);
        case '/persistentvolumeclaims':
          if (a.subresource === 'status') return this.statusUpdate(node, a);
          return this.get(node, 'claims', a);
        case '/persistentvolumes':
          return this.get(node, 'persistentvolumes', a);
        case '/serviceaccounts':
          return this.createToken(node, a);
        case 'coordination.k8s.io/leases':
          return this.lease(node, a);
      }
    }
    if (this.nodeRules.some((r) => ruleAllows(a, r))) return ALLOW;
    return NO_OPINION('');
  }

  private async related(node: string, kind: Parameters<typeof hasPath>[2], a: Attributes): Promise<NodeDecision> {
    if (!a.name) return NO_OPINION('No Object name found');
    if (await hasPath(this.src, node, kind, a.namespace, a.name)) return ALLOW;
    return NO_OPINION(`no relationship found between node '${node}' and this object`);
  }

  private readNamespaced(node: string, kind: 'secrets' | 'configmaps', a: Attributes): Promise<NodeDecision> | NodeDecision {
    if (!['get', 'list', 'watch'].includes(a.verb)) return NO_OPINION('can only read resources of this type');
    if (a.subresource) return NO_OPINION('cannot read subresource');
    if (!a.namespace) return NO_OPINION('can only read namespaced object of this type');
    return this.related(node, kind, a);
  }

  private get(node: string, kind: 'claims' | 'persistentvolumes', a: Attributes): Promise<NodeDecision> | NodeDecision {
    if (a.verb !== 'get') return NO_OPINION('can only get individual resources of this type');
    if (a.subresource) return NO_OPINION('cannot get subresource');
    return this.related(node, kind, a);
  }

  private statusUpdate(node: string, a: Attributes): Promise<NodeDecision> | NodeDecision {
    if (!['update', 'patch', 'get'].includes(a.verb)) return NO_OPINION('can only get, update or patch the status');
    return this.related(node, 'claims', a);
  }

  private createToken(node: string, a: Attributes): Promise<NodeDecision> | NodeDecision {
    if (a.verb !== 'create' || !a.name) return NO_OPINION('can only create tokens for individual service accounts');
    if (a.subresource !== 'token') return NO_OPINION('can only create token subresource of serviceaccount');
    return this.related(node, 'serviceAccounts', a);
  }

  private lease(node: string, a: Attributes): NodeDecision {
    if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return NO_OPINION('can only get, create, update, patch, or delete a node lease');
    if (a.namespace !== NODE_LEASE_NAMESPACE) return NO_OPINION(`can only access leases in the ${JSON.stringify(NODE_LEASE_NAMESPACE)} system namespace`);
    // the name of a create is not known here: the NodeRestriction admission checks it
    if (a.verb !== 'create' && a.name !== node) return NO_OPINION('can only access node lease with the same name as the requesting node');
    return ALLOW;
  }
}
