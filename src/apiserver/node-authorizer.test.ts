/** The Node authorizer's decisions over a fake store (what pods are bound where), and NodeRestriction's. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NodeAuthorizer } from './node-authorizer.js';
import { podReferences } from '../api/node-graph.js';
import { forbiddenMessage, type Attributes, type PolicyRule } from '../api/rbac.js';
import { NODE_RULES } from '../registry/bootstrap-policy.js';
import { nodeRestriction, tokenRequestRestriction } from '../registry/node-restriction.js';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import type { AdmissionAttributes } from '../registry/webhooks/types.js';

const n1 = { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const at = (p: Partial<Attributes>): Attributes => ({ user: n1, verb: 'get', isResourceRequest: true, path: '', namespace: 'default', apiGroup: '', apiVersion: 'v1', resource: 'secrets', subresource: '', name: '', ...p });

const pods: Obj[] = [
  {
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      nodeName: 'n1',
      serviceAccountName: 'web-sa',
      imagePullSecrets: [{ name: 'pull' }],
      containers: [{ name: 'c', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } }, { name: 'B', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'k' } } }], envFrom: [{ configMapRef: { name: 'from-cm' } }] }],
      volumes: [
        { name: 'v', secret: { secretName: 'vol-secret' } },
        { name: 'p', projected: { sources: [{ configMap: { name: 'proj-cm' } }, { secret: { name: 'proj-secret' } }] } },
        { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
        { name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: {} } } },
        { name: 'csi', csi: { driver: 'x', nodePublishSecretRef: { name: 'csi-secret' } } },
      ],
    },
  },
  { metadata: { name: 'other', namespace: 'default' }, spec: { nodeName: 'n2', containers: [{ name: 'c' }], volumes: [{ name: 'v', secret: { secretName: 'n2-only' } }] } },
  { metadata: { name: 'elsewhere', namespace: 'kube-system' }, spec: { nodeName: 'n1', containers: [{ name: 'c' }], volumes: [{ name: 'v', configMap: { name: 'ks-cm' } }] } },
];
const claims: Record<string, Obj> = { 'default/data': { spec: { volumeName: 'pv-data' } }, 'default/web-scratch': { spec: { volumeName: 'pv-scratch' } }, 'default/unused': { spec: { volumeName: 'pv-unused' } } };

const authz = new NodeAuthorizer(
  {
    podsOnNode: async (node, ns) => pods.filter((p) => p.spec.nodeName === node && (ns === undefined || p.metadata.namespace === ns)),
    getClaim: async (ns, name) => claims[`${ns}/${name}`],
  },
  NODE_RULES as PolicyRule[],
);

describe('Node authorizer', () => {
  it('finds every reference of a pod', () => {
    const r = podReferences(pods[0]);
    assert.deepEqual([...r.secrets].sort(), ['csi-secret', 'env-secret', 'proj-secret', 'pull', 'vol-secret']);
    assert.deepEqual([...r.configmaps].sort(), ['env-cm', 'from-cm', 'proj-cm']);
    assert.deepEqual([...r.claims].sort(), ['data', 'web-scratch']);
    assert.deepEqual([...r.serviceAccounts], ['web-sa']);
  });

  it('lets a node read the secrets and configmaps its own pods reference, and no others', async () => {
    for (const name of ['pull', 'env-secret', 'vol-secret', 'proj-secret', 'csi-secret']) assert.deepEqual(await authz.authorize(at({ name })), { allowed: true }, name);
    for (const name of ['env-cm', 'from-cm', 'proj-cm']) assert.deepEqual(await authz.authorize(at({ resource: 'configmaps', name })), { allowed: true }, name);
    assert.deepEqual(await authz.authorize(at({ resource: 'configmaps', namespace: 'kube-system', name: 'ks-cm' })), { allowed: true });
    // a watch of one name (fieldSelector metadata.name) counts as that name
    assert.deepEqual(await authz.authorize(at({ verb: 'watch', name: 'pull' })), { allowed: true });
    const none = { allowed: false, reason: "no relationship found between node 'n1' and this object" };
    assert.deepEqual(await authz.authorize(at({ name: 'n2-only' })), none, "another node's pod's secret");
    assert.deepEqual(await authz.authorize(at({ namespace: 'kube-system', name: 'pull' })), none, 'the same name in another namespace');
    assert.deepEqual(await authz.authorize(at({ resource: 'configmaps', name: 'ks-cm' })), none);
    assert.deepEqual(await authz.authorize(at({ verb: 'list' })), { allowed: false, reason: 'No Object name found' });
    assert.deepEqual(await authz.authorize(at({ verb: 'update', name: 'pull' })), { allowed: false, reason: 'can only read resources of this type' });
    assert.deepEqual(await authz.authorize(at({ namespace: '', verb: 'list' })), { allowed: false, reason: 'can only read namespaced object of this type' });
  });

  it('claims, volumes and tokens follow the pods too', async () => {
    assert.deepEqual(await authz.authorize(at({ resource: 'persistentvolumeclaims', name: 'data' })), { allowed: true });
    assert.deepEqual(await authz.authorize(at({ resource: 'persistentvolumeclaims', name: 'web-scratch' })), { allowed: true });
    assert.equal((await authz.authorize(at({ resource: 'persistentvolumeclaims', name: 'unused' })))!.allowed, false);
    assert.deepEqual(await authz.authorize(at({ resource: 'persistentvolumeclaims', verb: 'list' })), { allowed: false, reason: 'can only get individual resources of this type' });
    assert.deepEqual(await authz.authorize(at({ resource: 'persistentvolumes', namespace: '', name: 'pv-data' })), { allowed: true });
    assert.equal((await authz.authorize(at({ resource: 'persistentvolumes', namespace: '', name: 'pv-unused' })))!.allowed, false);
    assert.deepEqual(await authz.authorize(at({ resource: 'serviceaccounts', subresource: 'token', verb: 'create', name: 'web-sa' })), { allowed: true });
    assert.deepEqual(await authz.authorize(at({ resource: 'serviceaccounts', subresource: 'token', verb: 'create', name: 'default' })), { allowed: false, reason: "no relationship found between node 'n1' and this object" });
    assert.deepEqual(await authz.authorize(at({ resource: 'serviceaccounts', verb: 'get', name: 'web-sa' })), { allowed: false, reason: 'can only create tokens for individual service accounts' });
  });

  it('leases: its own in kube-node-lease', async () => {
    const lease = (p: Partial<Attributes>) => at({ apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', ...p });
    assert.deepEqual(await authz.authorize(lease({ verb: 'update', name: 'n1' })), { allowed: true });
    assert.deepEqual(await authz.authorize(lease({ verb: 'create' })), { allowed: true });
    assert.deepEqual(await authz.authorize(lease({ verb: 'update', name: 'n2' })), { allowed: false, reason: 'can only access node lease with the same name as the requesting node' });
    assert.deepEqual(await authz.authorize(lease({ verb: 'get', namespace: 'default', name: 'n1' })), { allowed: false, reason: 'can only access leases in the "kube-node-lease" system namespace' });
    assert.deepEqual(await authz.authorize(lease({ verb: 'list' })), { allowed: false, reason: 'can only get, create, update, patch, or delete a node lease' });
  });

  it('the rest as the system:node rules say; not a node: no say at all', async () => {
    assert.deepEqual(await authz.authorize(at({ resource: 'pods', verb: 'list', namespace: '' })), { allowed: true });
    assert.deepEqual(await authz.authorize(at({ resource: 'services', verb: 'watch', namespace: '' })), { allowed: true });
    assert.deepEqual(await authz.authorize(at({ resource: 'nodes', verb: 'patch', namespace: '', name: 'n2' })), { allowed: true }, 'NodeRestriction confines it');
    assert.deepEqual(await authz.authorize(at({ resource: 'pods', subresource: 'status', verb: 'update', name: 'x' })), { allowed: true });
    assert.deepEqual(await authz.authorize(at({ resource: 'deployments', apiGroup: 'apps', verb: 'create' })), { allowed: false, reason: '' });
    assert.deepEqual(await authz.authorize(at({ resource: 'pods', subresource: 'exec', verb: 'create', name: 'web' })), { allowed: false, reason: '' });
    assert.equal(await authz.authorize(at({ user: { username: 'system:node:n1', groups: ['system:authenticated'] }, name: 'pull' })), undefined, 'the group makes the node');
    assert.deepEqual(await authz.authorize(at({ user: { username: 'kubelet', groups: ['system:nodes'] }, name: 'pull' })), { allowed: false, reason: 'unknown node for user "kubelet"' });
  });

  it('a denial reads as kube-apiserver words it', () => {
    const a = at({ name: 'n2-only' });
    assert.equal(forbiddenMessage(a, "no relationship found between node 'n1' and this object"), `secrets "n2-only" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node 'n1' and this object`);
  });
});

const write = (p: Partial<AdmissionAttributes> & { resource: string; group?: string }): AdmissionAttributes => ({
  r: resourceInfo(p.resource, p.group ?? '')!,
  subResource: '',
  operation: 'UPDATE',
  namespace: '',
  name: '',
  object: null,
  oldObject: null,
  dryRun: false,
  options: {},
  user: n1,
  ...p,
});

describe('NodeRestriction', () => {
  it('a node writes its own Node, not another, and not its taints', () => {
    const node = (name: string, taints?: Obj[]) => ({ metadata: { name, labels: { a: 'b' } }, spec: taints ? { taints } : {} });
    assert.equal(nodeRestriction(write({ resource: 'nodes', name: 'n1', object: node('n1'), oldObject: node('n1') })), undefined);
    assert.equal(nodeRestriction(write({ resource: 'nodes', name: 'n1', subResource: 'status', object: node('n1'), oldObject: node('n1') })), undefined);
    assert.equal(nodeRestriction(write({ resource: 'nodes', name: 'srv', object: node('srv'), oldObject: node('srv') }))?.message, 'nodes "srv" is forbidden: node "n1" is not allowed to modify node "srv"');
    assert.equal(nodeRestriction(write({ resource: 'nodes', operation: 'CREATE', object: node('srv') }))?.code, 403);
    const tainted = node('n1', [{ key: 'k', effect: 'NoSchedule' }]);
    assert.equal(nodeRestriction(write({ resource: 'nodes', name: 'n1', object: node('n1'), oldObject: tainted }))?.message, 'nodes "n1" is forbidden: node "n1" is not allowed to modify taints');
    assert.equal(nodeRestriction(write({ resource: 'nodes', operation: 'DELETE', name: 'n2', oldObject: node('n2') }))?.code, 403);
  });

  it("pods: status of its own only, mirror pods only, deletes of its own", () => {
    const pod = (nodeName: string, extra: Obj = {}) => ({ metadata: { name: 'p', namespace: 'default', ...extra }, spec: { nodeName, containers: [{ name: 'c' }] } });
    assert.equal(nodeRestriction(write({ resource: 'pods', subResource: 'status', namespace: 'default', name: 'p', object: pod('n1'), oldObject: pod('n1') })), undefined);
    assert.equal(nodeRestriction(write({ resource: 'pods', subResource: 'status', namespace: 'default', name: 'p', object: pod('n2'), oldObject: pod('n2') }))?.message, 'pods "p" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself');
    assert.equal(nodeRestriction(write({ resource: 'pods', operation: 'CREATE', namespace: 'default', object: pod('n1') }))?.message, 'pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods');
    const mirror = (nodeName: string) => pod(nodeName, { annotations: { 'kubernetes.io/config.mirror': 'x' } });
    assert.equal(nodeRestriction(write({ resource: 'pods', operation: 'CREATE', namespace: 'default', object: mirror('n1') })), undefined);
    assert.equal(nodeRestriction(write({ resource: 'pods', operation: 'CREATE', namespace: 'default', object: mirror('n2') }))?.message, 'pods "p" is forbidden: node "n1" can only create pods with spec.nodeName set to itself');
    const withSecret = mirror('n1');
    (withSecret.spec as Obj).volumes = [{ name: 's', secret: { secretName: 's' } }];
    assert.equal(nodeRestriction(write({ resource: 'pods', operation: 'CREATE', namespace: 'default', object: withSecret }))?.message, 'pods "p" is forbidden: node "n1" can not create pods that reference secrets');
    assert.equal(nodeRestriction(write({ resource: 'pods', operation: 'DELETE', namespace: 'default', name: 'p', oldObject: pod('n1') })), undefined);
    assert.equal(nodeRestriction(write({ resource: 'pods', operation: 'DELETE', namespace: 'default', name: 'p', oldObject: pod('n2') }))?.message, 'pods "p" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself');
    assert.equal(nodeRestriction(write({ resource: 'pods', namespace: 'default', name: 'p', object: pod('n1'), oldObject: pod('n1') }))?.message, 'pods "p" is forbidden: unexpected operation "UPDATE", node "n1" can only create and delete mirror pods');
  });

  it("tokens: bound to a pod of its own, named with its uid", () => {
    const mine = { metadata: { name: 'web', uid: 'u1' }, spec: { nodeName: 'n1' } };
    const tr = (ref: Obj | undefined) => ({ spec: { audiences: [], boundObjectRef: ref } });
    const ref = { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'u1' };
    assert.equal(tokenRequestRestriction('n1', 'sa', tr(ref), mine), undefined);
    assert.equal(tokenRequestRestriction('n1', 'sa', tr(undefined), undefined)?.message, 'serviceaccounts "sa" is forbidden: node requested token not bound to a pod');
    assert.equal(tokenRequestRestriction('n1', 'sa', tr({ ...ref, kind: 'Secret' }), undefined)?.message, 'serviceaccounts "sa" is forbidden: node requested token not bound to a pod');
    assert.equal(tokenRequestRestriction('n1', 'sa', tr({ ...ref, uid: '' }), mine)?.message, 'serviceaccounts "sa" is forbidden: node requested token with a pod binding without a uid');
    assert.equal(tokenRequestRestriction('n1', 'sa', tr({ ...ref, uid: 'old' }), mine)?.message, 'serviceaccounts "sa" is forbidden: the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated');
    assert.equal(tokenRequestRestriction('n2', 'sa', tr(ref), mine)?.message, 'serviceaccounts "sa" is forbidden: node requested token bound to a pod scheduled on a different node');
  });

  it('leases: kube-node-lease/NAME; anyone not a node is not its business', () => {
    const lease = (name: string, ns = 'kube-node-lease') => ({ metadata: { name, namespace: ns } });
    assert.equal(nodeRestriction(write({ resource: 'leases', group: 'coordination.k8s.io', operation: 'CREATE', namespace: 'kube-node-lease', object: lease('n1') })), undefined);
    assert.equal(nodeRestriction(write({ resource: 'leases', group: 'coordination.k8s.io', operation: 'CREATE', namespace: 'kube-node-lease', object: lease('n2') }))?.message, 'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node');
    assert.equal(nodeRestriction(write({ resource: 'leases', group: 'coordination.k8s.io', namespace: 'default', name: 'n1', object: lease('n1', 'default') }))?.code, 403);
    const admin = { username: 'podbay-admin', groups: ['system:masters'] };
    assert.equal(nodeRestriction(write({ resource: 'nodes', name: 'srv', user: admin, object: { metadata: { name: 'srv' } }, oldObject: { metadata: { name: 'srv' } } })), undefined);
  });
});

describe('Node authorizer and NodeRestriction on a registry', () => {
  it('the union: the Node authorizer, then RBAC; a node write goes through NodeRestriction', async () => {
    const { memoryRegistry, apiError } = await import('../registry/registry.test-util.js');
    const { RbacAuthorizer } = await import('./authorizer.js');
    const reg = await memoryRegistry();
    await reg.bootstrapPolicy();
    const PODS = resourceInfo('pods')!;
    const NODES = resourceInfo('nodes')!;
    const secrets = resourceInfo('secrets')!;
    await reg.create(secrets, 'default', { metadata: { name: 'mine' }, data: {} });
    await reg.create(secrets, 'default', { metadata: { name: 'theirs' }, data: {} });
    await reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x', envFrom: [{ secretRef: { name: 'mine' } }] }] } });
    const authz = new RbacAuthorizer(reg);
    assert.deepEqual(await authz.authorize(at({ name: 'mine' })), { allowed: true, reason: '' });
    assert.deepEqual(await authz.authorize(at({ name: 'theirs' })), { allowed: false, reason: "no relationship found between node 'n1' and this object" });
    // an admin's RoleBinding still counts (RBAC after the Node authorizer, as Node,RBAC)
    await reg.create(resourceInfo('roles', 'rbac.authorization.k8s.io')!, 'default', { metadata: { name: 'read-secrets' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] });
    await reg.create(resourceInfo('rolebindings', 'rbac.authorization.k8s.io')!, 'default', { metadata: { name: 'n1-secrets' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-secrets' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:node:n1' }] });
    assert.equal((await authz.authorize(at({ name: 'theirs' }))).allowed, true);
    // no binding of system:nodes to system:node any more
    assert.equal(await reg.tryGet(resourceInfo('clusterrolebindings', 'rbac.authorization.k8s.io')!, undefined, 'podbay:nodes'), undefined);
    // NodeRestriction through the registry: its own Node yes, another no
    const admission = { user: n1 };
    await reg.create(NODES, undefined, { metadata: { name: 'n1' } }, { admission });
    await reg.create(NODES, undefined, { metadata: { name: 'srv' } });
    const err = await apiError(reg.create(NODES, undefined, { metadata: { name: 'n3' } }, { admission }));
    assert.equal(err.code, 403);
    assert.equal(err.message, 'nodes "n3" is forbidden: node "n1" is not allowed to modify node "n3"');
    const srv = await reg.get(NODES, undefined, 'srv');
    assert.equal((await apiError(reg.update(NODES, undefined, 'srv', { ...srv, metadata: { ...srv.metadata, labels: { x: 'y' } } }, { admission }))).code, 403);
    assert.equal((await apiError(reg.delete(NODES, undefined, 'srv', { admission }))).code, 403);
    const pod = await reg.get(PODS, 'default', 'p');
    await reg.update(PODS, 'default', 'p', { ...pod, status: { ...pod.status, phase: 'Running' } }, { sub: 'status', admission });
  });
});
