/** RBAC rule semantics and kube-apiserver's wording of a denial. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactRule, forbiddenMessage, ruleAllows, selectorMatches, subjectMatches, uncoveredRules, type Attributes } from './rbac.js';

const user = { username: 'system:serviceaccount:default:x', groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] };
const at = (p: Partial<Attributes>): Attributes => ({ user, verb: 'get', isResourceRequest: true, path: '', namespace: 'default', apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', name: '', ...p });

describe('RBAC rules', () => {
  it('match verbs, groups, resources with subresources, names and URLs', () => {
    const pods = { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] };
    assert.equal(ruleAllows(at({ verb: 'list' }), pods), true);
    assert.equal(ruleAllows(at({ verb: 'delete' }), pods), false);
    assert.equal(ruleAllows(at({ apiGroup: 'apps' }), pods), false);
    assert.equal(ruleAllows(at({ subresource: 'log' }), pods), false, 'pods does not grant pods/log');
    assert.equal(ruleAllows(at({ subresource: 'log' }), { verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }), true);
    assert.equal(ruleAllows(at({ subresource: 'log' }), { verbs: ['get'], apiGroups: [''], resources: ['*/log'] }), true);
    assert.equal(ruleAllows(at({ subresource: 'log' }), { verbs: ['*'], apiGroups: ['*'], resources: ['*'] }), true);
    const named = { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['web'] };
    assert.equal(ruleAllows(at({ name: 'web' }), named), true);
    assert.equal(ruleAllows(at({ name: 'db' }), named), false);
    assert.equal(ruleAllows(at({ verb: 'list' }), { ...named, verbs: ['list'] }), false, 'a list has no name');
    const urls = { verbs: ['get'], nonResourceURLs: ['/healthz', '/apis/*'] };
    assert.equal(ruleAllows(at({ isResourceRequest: false, path: '/apis/apps/v1' }), urls), true);
    assert.equal(ruleAllows(at({ isResourceRequest: false, path: '/metrics' }), urls), false);
    assert.equal(ruleAllows(at({ isResourceRequest: false, path: '/healthz' }), urls), true);
  });

  it('binding subjects: users, groups, service accounts (namespace defaulting to the binding)', () => {
    assert.equal(subjectMatches({ kind: 'ServiceAccount', name: 'x', namespace: 'default' }, user, ''), true);
    assert.equal(subjectMatches({ kind: 'ServiceAccount', name: 'x' }, user, 'default'), true);
    assert.equal(subjectMatches({ kind: 'ServiceAccount', name: 'x', namespace: 'other' }, user, 'default'), false);
    assert.equal(subjectMatches({ kind: 'Group', name: 'system:serviceaccounts:default' }, user, ''), true);
    assert.equal(subjectMatches({ kind: 'User', name: 'system:serviceaccount:default:x' }, user, ''), true);
    assert.equal(subjectMatches({ kind: 'User', name: 'bob' }, user, ''), false);
  });

  it('words a denial as kube-apiserver', () => {
    assert.equal(forbiddenMessage(at({ verb: 'list' })), 'pods is forbidden: User "system:serviceaccount:default:x" cannot list resource "pods" in API group "" in the namespace "default"');
    assert.equal(
      forbiddenMessage(at({ verb: 'get', apiGroup: 'apps', resource: 'deployments', name: 'web', subresource: 'scale', namespace: '' })),
      'deployments.apps "web" is forbidden: User "system:serviceaccount:default:x" cannot get resource "deployments/scale" in API group "apps" at the cluster scope',
    );
    assert.equal(forbiddenMessage(at({ isResourceRequest: false, path: '/metrics' })), 'forbidden: User "system:serviceaccount:default:x" cannot get path "/metrics"');
  });

  it('finds the permissions a role would grant that its writer lacks', () => {
    const held = [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }];
    assert.deepEqual(uncoveredRules(held, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]), []);
    const missing = uncoveredRules(held, [{ verbs: ['list', 'delete'], apiGroups: [''], resources: ['pods', 'secrets'] }]);
    assert.deepEqual(missing.map(compactRule), ['{APIGroups:[""], Resources:["secrets"], Verbs:["list"]}', '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}', '{APIGroups:[""], Resources:["secrets"], Verbs:["delete"]}']);
    assert.equal(uncoveredRules(held, [{ verbs: ['*'], apiGroups: [''], resources: ['pods'] }]).length, 1, 'a "*" asked for needs a "*" held');
  });

  it('aggregation selectors: labels picked, an empty selector picks nothing', () => {
    assert.equal(selectorMatches({ matchLabels: { a: 'true' } }, { a: 'true', b: 'x' }), true);
    assert.equal(selectorMatches({ matchLabels: { a: 'true' } }, { b: 'x' }), false);
    assert.equal(selectorMatches({}, { a: 'true' }), false);
  });
});
