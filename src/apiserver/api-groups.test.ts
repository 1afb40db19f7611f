import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { groupEntry, groupOf } from './api-groups.js';
import { call } from './api-groups.test-util.js';
import { authenticationGroup, authorizationGroup, accessReview, rulesReview, subjectReview, tokenReview, type ReviewDeps } from './authz-review.js';
import { ADMIN_USER } from './authn.js';

/** the admin, answered as the authorizer answers a system:masters member */
const DEPS: ReviewDeps = {
  userOf: () => ADMIN_USER,
  authorize: async () => ({ allowed: true, reason: '' }),
  rulesFor: async () => [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }],
  // one good token, for the API's audience or "vault"; any other is refused
  authenticateToken: async (token, audiences) => {
    const good = (audiences.length ? audiences : ['api']).filter((a) => a === 'api' || a === 'vault');
    return token === 'good' && good.length ? { user: { username: 'system:serviceaccount:ns:bot', uid: 'u1', groups: ['system:serviceaccounts'], extra: { 'authentication.kubernetes.io/pod-name': ['p'] } }, audiences: good } : { error: 'invalid bearer token' };
  },
};
const AUTHENTICATION_GROUP = authenticationGroup(DEPS);
const AUTHORIZATION_GROUP = authorizationGroup(DEPS);
import { stubGroups, UNSERVED_KINDS, unservedKinds } from './unserved.js';

describe('API groups of their own: discovery', () => {
  it('lists each group with its preferred version first, and its resources per version', async () => {
    assert.deepEqual(groupEntry(AUTHENTICATION_GROUP).preferredVersion, { groupVersion: 'authentication.k8s.io/v1', version: 'v1' });
    assert.equal(groupOf([AUTHORIZATION_GROUP, AUTHENTICATION_GROUP], '/apis/authentication.k8s.io/v1/selfsubjectreviews'), AUTHENTICATION_GROUP);
    assert.equal(groupOf([AUTHORIZATION_GROUP], '/apis/apps/v1'), undefined);
    const g = await call(AUTHORIZATION_GROUP, 'GET', '/apis/authorization.k8s.io');
    assert.equal(g.body.kind, 'APIGroup');
    const list = await call(AUTHORIZATION_GROUP, 'GET', '/apis/authorization.k8s.io/v1');
    assert.deepEqual(list.body.resources.map((r: any) => [r.name, r.verbs]), [
      ['selfsubjectaccessreviews', ['create']],
      ['selfsubjectrulesreviews', ['create']],
      ['subjectaccessreviews', ['create']],
      ['localsubjectaccessreviews', ['create']],
    ]);
    const authn = await call(AUTHENTICATION_GROUP, 'GET', '/apis/authentication.k8s.io/v1');
    assert.deepEqual(authn.body.resources.map((r: any) => [r.name, r.kind, r.namespaced, r.verbs]), [
      ['tokenreviews', 'TokenReview', false, ['create']],
      ['selfsubjectreviews', 'SelfSubjectReview', false, ['create']],
    ]);
    const beta = await call(AUTHENTICATION_GROUP, 'GET', '/apis/authentication.k8s.io/v1beta1');
    assert.deepEqual(beta.body.resources.map((r: any) => r.name), ['selfsubjectreviews'], 'TokenReview v1beta1 went in 1.22');
    const nope = await call(AUTHORIZATION_GROUP, 'GET', '/apis/authorization.k8s.io/v2');
    assert.equal(nope.code, 404);
    assert.deepEqual(nope.body.details, {});
  });
});

describe('review APIs: the admin identity, answered as a system:masters member', () => {
  it('SelfSubjectAccessReview: allowed, the spec echoed back; exactly one kind of attributes', async () => {
    const spec = { resourceAttributes: { namespace: 'default', verb: 'create', resource: 'pods' } };
    const r = await call(AUTHORIZATION_GROUP, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec });
    assert.equal(r.code, 201);
    assert.deepEqual(r.body.status, { allowed: true });
    assert.deepEqual(r.body.spec, spec);
    await assert.rejects(accessReview('SelfSubjectAccessReview', { spec: {} }, ADMIN_USER, DEPS), /SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified/);
    await assert.rejects(accessReview('SelfSubjectAccessReview', { spec: { resourceAttributes: {}, nonResourceAttributes: { path: '/x', verb: 'get' } } }, ADMIN_USER, DEPS), /cannot be specified in combination with resourceAttributes/);
  });

  it('SelfSubjectRulesReview: the "*" rules, complete; SelfSubjectReview: the user and groups', async () => {
    assert.deepEqual((await rulesReview({ spec: { namespace: 'default' } }, ADMIN_USER, DEPS)).status.resourceRules, [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]);
    assert.deepEqual(subjectReview({}, 'v1beta1', ADMIN_USER).status.userInfo, { username: 'podbay-admin', groups: ['system:masters', 'system:authenticated'] });
    const r = await call(AUTHENTICATION_GROUP, 'POST', '/apis/authentication.k8s.io/v1beta1/selfsubjectreviews', {});
    assert.equal(r.body.apiVersion, 'authentication.k8s.io/v1beta1');
  });

  it('TokenReview: the user, uid, groups, extra and audiences of a good token; authenticated left out and the error for a bad one', async () => {
    const r = await call(AUTHENTICATION_GROUP, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', spec: { token: 'good' } });
    assert.equal(r.code, 201);
    assert.deepEqual(r.body, {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { token: 'good' },
      status: { authenticated: true, user: { username: 'system:serviceaccount:ns:bot', uid: 'u1', groups: ['system:serviceaccounts'], extra: { 'authentication.kubernetes.io/pod-name': ['p'] } }, audiences: ['api'] },
    });
    const vault = await tokenReview({ spec: { token: 'good', audiences: ['vault', 'consul'] } }, DEPS);
    assert.deepEqual(vault.status.audiences, ['vault']);
    const bad = await tokenReview({ spec: { token: 'bad' } }, DEPS);
    assert.deepEqual(bad.status, { user: {}, error: 'invalid bearer token' });
    const other = await tokenReview({ spec: { token: 'good', audiences: ['consul'] } }, DEPS);
    assert.equal(other.status.authenticated, undefined);
  });

  it('TokenReview refuses what kube-apiserver refuses: no token (400), a wrong kind (400), GET (405), v1beta1 (404)', async () => {
    const none = await call(AUTHENTICATION_GROUP, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { spec: {} });
    assert.equal(none.code, 400);
    assert.equal(none.body.message, 'token is required for TokenReview in authentication');
    assert.equal((await call(AUTHENTICATION_GROUP, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { kind: 'SelfSubjectReview', spec: { token: 'good' } })).code, 400);
    assert.equal((await call(AUTHENTICATION_GROUP, 'GET', '/apis/authentication.k8s.io/v1/tokenreviews')).code, 405);
    assert.equal((await call(AUTHENTICATION_GROUP, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews/x', { spec: { token: 'good' } })).code, 404);
    const beta = await call(AUTHENTICATION_GROUP, 'POST', '/apis/authentication.k8s.io/v1beta1/tokenreviews', { spec: { token: 'good' } });
    assert.equal(beta.code, 404);
    assert.match(beta.body.message, /authentication.k8s.io\/v1beta1 serves selfsubjectreviews$/);
  });

  it('LocalSubjectAccessReview: confined to the namespace of its path', async () => {
    const spec = { user: 'bob', resourceAttributes: { verb: 'get', resource: 'pods' } };
    const r = await call(AUTHORIZATION_GROUP, 'POST', '/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews', { kind: 'LocalSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec });
    assert.equal(r.code, 201);
    assert.equal(r.body.spec.resourceAttributes.namespace, 'team');
    assert.equal(r.body.metadata.namespace, 'team');
    const other = await call(AUTHORIZATION_GROUP, 'POST', '/apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews', { spec: { user: 'bob', resourceAttributes: { namespace: 'else', verb: 'get', resource: 'pods' } } });
    assert.equal(other.code, 400);
  });

  it('reviews are create-only and never stored: GET is 405, a wrong kind 400', async () => {
    assert.equal((await call(AUTHORIZATION_GROUP, 'GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).code, 405);
    const wrong = await call(AUTHENTICATION_GROUP, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { kind: 'Pod' });
    assert.equal(wrong.code, 400);
  });
});

describe('the empty Deployment list (a kind answered as a stub)', () => {
  const stub = stubGroups(UNSERVED_KINDS.filter((u) => u.resource === 'deployments'), async () => 42)[0]!;
  it('lists nothing at the current revision; a name is 404 with details naming it', async () => {
    const l = await call(stub, 'GET', '/apis/apps/v1/namespaces/default/deployments');
    assert.deepEqual(l.body, { kind: 'DeploymentList', apiVersion: 'apps/v1', metadata: { resourceVersion: '42' }, items: [] });
    const g = await call(stub, 'GET', '/apis/apps/v1/namespaces/default/deployments/web');
    assert.equal(g.code, 404);
    assert.deepEqual(g.body.details, { name: 'web', group: 'apps', kind: 'deployments' });
    assert.equal(g.body.message, 'deployments.apps "web" not found');
  });

  it('create is refused saying the kind is not served, naming the object', async () => {
    const c = await call(stub, 'POST', '/apis/apps/v1/namespaces/default/deployments', { metadata: { name: 'web' } });
    assert.equal(c.code, 405);
    assert.match(c.body.message, /podbay does not serve Deployment objects yet: deployments.apps "web" cannot be created/);
  });

  it('discovery lists only the verbs a stub answers; a kind or group the registry serves is never stubbed', async () => {
    const d = await call(stub, 'GET', '/apis/apps/v1');
    assert.deepEqual(d.body.resources[0].verbs, ['delete', 'deletecollection', 'get', 'list', 'watch']);
    const kinds = unservedKinds((g, r) => g === '' && r === 'services', (g) => g === 'apps');
    assert.ok(!kinds.some((u) => u.resource === 'services'), 'a served core kind wins');
    assert.ok(!kinds.some((u) => u.group === 'apps'), 'a served group is left whole to the registry');
    assert.ok(kinds.some((u) => u.resource === 'endpoints') && kinds.some((u) => u.resource === 'jobs'));
  });

  it('Ingress is served by the registry now: no stub of it is left', () => {
    assert.ok(!UNSERVED_KINDS.some((u) => u.resource === 'ingresses'));
  });

  it('a stub in a group the registry serves other kinds of is routed beside them', async () => {
    const { groupStubRoute, stubsInServedGroups } = await import('./unserved.js');
    const served = (g: string, r: string) => g === 'apps' && r === 'deployments';
    const beside = stubsInServedGroups(served, (g) => g === 'apps');
    assert.deepEqual(beside.map((u) => u.resource), ['replicasets', 'statefulsets', 'daemonsets']);
    assert.ok(!unservedKinds(served, (g) => g === 'apps').some((u) => u.group === 'apps'), 'no second handler for the group');
    const rs = groupStubRoute('/apis/apps/v1/namespaces/default/replicasets/web', beside)!;
    assert.deepEqual([rs.u.kind, rs.ns, rs.name], ['ReplicaSet', 'default', 'web']);
    assert.equal(groupStubRoute('/apis/apps/v1/namespaces/default/deployments/p', beside), undefined, 'the registry answers its own kinds');
    assert.equal(groupStubRoute('/apis/apps/v2/replicasets', beside), undefined);
  });
});

describe('routes to the kinds not served yet', () => {
  it('core paths: namespaced, all namespaces, watch paths; a cluster-scoped kind under a namespace is not one of them', async () => {
    const { coreStubRoute, UNSERVED_KINDS } = await import('./unserved.js');
    const svc = coreStubRoute('/api/v1/namespaces/default/services/web', UNSERVED_KINDS)!;
    assert.deepEqual([svc.u.kind, svc.ns, svc.name, svc.watchPath], ['Service', 'default', 'web', false]);
    assert.equal(coreStubRoute('/api/v1/services', UNSERVED_KINDS)!.ns, undefined);
    assert.equal(coreStubRoute('/api/v1/watch/namespaces/x/endpoints', UNSERVED_KINDS)!.watchPath, true);
    assert.equal(coreStubRoute('/api/v1/persistentvolumes/pv1', UNSERVED_KINDS)!.name, 'pv1');
    assert.equal(coreStubRoute('/api/v1/namespaces/x/persistentvolumes/pv1', UNSERVED_KINDS), undefined);
    assert.equal(coreStubRoute('/api/v1/namespaces/default/pods/web', UNSERVED_KINDS), undefined);
    assert.equal(coreStubRoute('/apis/apps/v1/deployments', UNSERVED_KINDS), undefined, 'group kinds are routed by their group handler');
  });
});
