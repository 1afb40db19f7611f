/**
 * The default RBAC policy kube-apiserver makes on start (plugin/pkg/auth/authorizer/rbac/
 * bootstrappolicy), trimmed to the kinds podbay serves: the superuser, user-facing and discovery
 * ClusterRoles and their ClusterRoleBindings. `admin`, `edit` and `view` are aggregated (the
 * clusterrole-aggregation controller fills their rules from the system:aggregate-to-* roles,
 * view into edit into admin, as upstream). Made when missing, never overwritten: a cluster admin
 * may change them, as with --rbac autoupdate annotations set to false.
 */
import type { Obj } from '../api/types.js';

const BOOT_LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const AUTOUPDATE = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };
const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const AGG = (to: string) => ({ [`rbac.authorization.k8s.io/aggregate-to-${to}`]: 'true' });

function role(name: string, rules: Obj[], labels: Record<string, string> = {}, aggregationRule?: Obj): Obj {
  return { metadata: { name, labels: { ...BOOT_LABELS, ...labels }, annotations: AUTOUPDATE }, rules, ...(aggregationRule ? { aggregationRule } : {}) };
}

function binding(name: string, roleName: string, groups: string[]): Obj {
  return {
    metadata: { name, labels: BOOT_LABELS, annotations: AUTOUPDATE },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
    subjects: groups.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
  };
}

const r = (apiGroups: string[], resources: string[], verbs: string[]) => ({ apiGroups, resources, verbs });

/**
 * What a node's kubelet does with its system:node:NAME credential: upstream's NodeRules
 * (bootstrappolicy.NodeRules), which the Node authorizer grants every node
 * (src/apiserver/node-authorizer.ts: secrets, configmaps, claims, volumes, tokens and leases
 * narrowed there to what the node's own pods use) and the NodeRestriction admission confines
 * (src/registry/node-restriction.ts: its own Node and Lease, its pods' status, mirror pods only).
 * Also the `system:node` ClusterRole, bound to no one, as upstream. podbay's one addition:
 * endpoints and endpointslices read, for a service proxy on an agent, which runs with the
 * node's credential (k3s gives its agents' kube-proxy a system:kube-proxy one).
 */
export const NODE_RULES: Obj[] = [
  r(['authentication.k8s.io'], ['tokenreviews'], ['create']),
  r(['authorization.k8s.io'], ['subjectaccessreviews', 'localsubjectaccessreviews'], ['create']),
  r([''], ['services'], READ),
  r([''], ['nodes'], ['create', 'get', 'list', 'watch']),
  r([''], ['nodes/status'], ['update', 'patch']),
  r([''], ['nodes'], ['update', 'patch']),
  r([''], ['events'], ['create', 'update', 'patch']),
  r([''], ['pods'], READ),
  r([''], ['pods'], ['create', 'delete']),
  r([''], ['pods/status'], ['update', 'patch']),
  r([''], ['pods/eviction'], ['create']),
  r([''], ['secrets', 'configmaps'], READ),
  r([''], ['persistentvolumeclaims', 'persistentvolumes'], ['get']),
  r([''], ['endpoints'], READ),
  r(['discovery.k8s.io'], ['endpointslices'], READ),
  r(['certificates.k8s.io'], ['certificatesigningrequests'], ['create', 'get', 'list', 'watch']),
  r(['coordination.k8s.io'], ['leases'], ['get', 'create', 'update', 'patch', 'delete']),
  r(['storage.k8s.io'], ['volumeattachments'], ['get']),
  r([''], ['persistentvolumeclaims/status'], ['get', 'update', 'patch']),
  r([''], ['serviceaccounts/token'], ['create']),
  r(['storage.k8s.io'], ['storageclasses'], READ),
];

/** kubeadm's join RBAC: bootstrap tokens may ask for a node client certificate and have it auto-approved */
export const NODE_BOOTSTRAP_ROLES: Obj[] = [
  role('system:node', NODE_RULES),
  role('system:node-bootstrapper', [r(['certificates.k8s.io'], ['certificatesigningrequests'], ['create', 'get', 'list', 'watch'])]),
  role('system:certificates.k8s.io:certificatesigningrequests:nodeclient', [r(['certificates.k8s.io'], ['certificatesigningrequests/nodeclient'], ['create'])]),
  role('system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [r(['certificates.k8s.io'], ['certificatesigningrequests/selfnodeclient'], ['create'])]),
];

export const BOOTSTRAP_CLUSTER_ROLES: Obj[] = [
  role('cluster-admin', [r(['*'], ['*'], ['*']), { nonResourceURLs: ['*'], verbs: ['*'] }]),
  role('system:discovery', [{ nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
  role('system:public-info-viewer', [{ nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
  role('system:basic-user', [r(['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], ['create']), r(['authentication.k8s.io'], ['selfsubjectreviews'], ['create'])]),
  // what a webhook or an aggregated server delegating authentication and authorization needs: "who is this token", "may they"
  role('system:auth-delegator', [r(['authentication.k8s.io'], ['tokenreviews'], ['create']), r(['authorization.k8s.io'], ['subjectaccessreviews'], ['create'])]),
  role('system:service-account-issuer-discovery', [{ nonResourceURLs: ['/.well-known/openid-configuration', '/.well-known/openid-configuration/', '/openid/v1/jwks', '/openid/v1/jwks/'], verbs: ['get'] }]),
  role('admin', [], {}, { clusterRoleSelectors: [{ matchLabels: AGG('admin') }] }),
  role('edit', [], AGG('admin'), { clusterRoleSelectors: [{ matchLabels: AGG('edit') }] }),
  role('view', [], AGG('edit'), { clusterRoleSelectors: [{ matchLabels: AGG('view') }] }),
  role(
    'system:aggregate-to-admin',
    [r([''], ['namespaces'], READ), r(['authorization.k8s.io'], ['localsubjectaccessreviews'], ['create']), r(['rbac.authorization.k8s.io'], ['rolebindings', 'roles'], [...WRITE, ...READ])],
    AGG('admin'),
  ),
  role(
    'system:aggregate-to-edit',
    [
      r([''], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy'], READ),
      r([''], ['serviceaccounts'], ['impersonate']),
      r([''], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy'], WRITE),
      r([''], ['pods/eviction'], ['create']),
      r([''], ['configmaps', 'endpoints', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets', 'serviceaccounts', 'services', 'services/proxy'], WRITE),
      r([''], ['serviceaccounts/token'], ['create']),
      r(['apps'], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale'], WRITE),
      r(['autoscaling'], ['horizontalpodautoscalers'], WRITE),
      r(['batch'], ['cronjobs', 'jobs'], WRITE),
      r(['policy'], ['poddisruptionbudgets'], WRITE),
      r(['networking.k8s.io'], ['ingresses', 'networkpolicies'], WRITE),
      r(['coordination.k8s.io'], ['leases'], [...WRITE, ...READ]),
    ],
    AGG('edit'),
  ),
  role(
    'system:aggregate-to-view',
    [
      r([''], ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status'], READ),
      r([''], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status'], READ),
      r([''], ['namespaces'], READ),
      r(['discovery.k8s.io'], ['endpointslices'], READ),
      r(['apps'], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status'], READ),
      r(['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status'], READ),
      r(['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status'], READ),
      r(['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status'], READ),
      r(['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies'], READ),
    ],
    AGG('view'),
  ),
  ...NODE_BOOTSTRAP_ROLES,
];

/**
 * Bindings earlier podbays made and this one removes at start (when they still carry the
 * bootstrapping label, i.e. were not an admin's): podbay:nodes bound system:nodes to
 * system:node before the Node authorizer, letting any node read every Secret.
 */
export const RETIRED_CLUSTER_ROLE_BINDINGS = ['podbay:nodes'];

export const BOOTSTRAP_CLUSTER_ROLE_BINDINGS: Obj[] = [
  // kubeadm's kubeadm:kubelet-bootstrap and kubeadm:node-autoapprove-bootstrap (to all bootstrappers)
  binding('podbay:kubelet-bootstrap', 'system:node-bootstrapper', ['system:bootstrappers']),
  binding('podbay:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', ['system:bootstrappers']),
  binding('podbay:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', ['system:nodes']),
  binding('cluster-admin', 'cluster-admin', ['system:masters']),
  binding('system:discovery', 'system:discovery', ['system:authenticated']),
  binding('system:basic-user', 'system:basic-user', ['system:authenticated']),
  binding('system:public-info-viewer', 'system:public-info-viewer', ['system:authenticated', 'system:unauthenticated']),
  binding('system:service-account-issuer-discovery', 'system:service-account-issuer-discovery', ['system:serviceaccounts']),
];
