/** Authentication of service-account tokens, impersonation, and the RBAC authorizer on the memory registry. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { resourceInfo } from '../api/registry.js';
import { MemoryStore } from '../store/memory.js';
import { Registry } from '../registry/index.js';
import { TokenIssuer } from '../registry/token-issuer.js';
import { Authenticator, ADMIN_USER, impersonate } from './authn.js';
import { CLUSTERROLES, RbacAuthorizer, ROLEBINDINGS, ROLES } from './authorizer.js';
import { requestAttributes } from './request-info.js';

const SAS = resourceInfo('serviceaccounts')!;
const PODS = resourceInfo('pods')!;

async function setup() {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const reg = new Registry(new MemoryStore(), { tokens: await TokenIssuer.fromPem(pem) });
  await reg.bootstrap();
  await reg.bootstrapPolicy();
  await reg.create(SAS, 'default', { metadata: { name: 'bot' } });
  return { reg, authn: new Authenticator('admin-secret', reg), authz: new RbacAuthorizer(reg) };
}

const request = (token: string, headers: Record<string, string> = {}) => {
  const raw = Object.entries(headers).flat();
  return { headers: { authorization: `Bearer ${token}`, ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) }, rawHeaders: raw } as unknown as IncomingMessage;
};

describe('authentication', () => {
  it('the admin token is system:masters; a service-account token is its account, while its pod lives', async () => {
    const { reg, authn } = await setup();
    assert.deepEqual(await authn.authenticate(request('admin-secret')), ADMIN_USER);
    assert.equal(await authn.authenticate(request('admin-secreT')), undefined);
    const pod = await reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { serviceAccountName: 'bot', containers: [{ name: 'c', image: 'busybox' }] } });
    const tr = await reg.createToken('default', 'bot', { spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p' } } });
    const u = await authn.authenticate(request(tr.status.token));
    assert.equal(u?.username, 'system:serviceaccount:default:bot');
    assert.deepEqual(u?.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
    assert.deepEqual(u?.extra?.['authentication.kubernetes.io/pod-uid'], [pod.metadata.uid]);
    await reg.delete(PODS, 'default', 'p', { gracePeriodSeconds: 0 });
    assert.equal(await authn.authenticate(request(tr.status.token)), undefined, "a deleted pod's token is refused");
    const unbound = await reg.createToken('default', 'bot', {});
    assert.ok(await authn.authenticate(request(unbound.status.token)));
    await reg.delete(SAS, 'default', 'bot');
    await reg.create(SAS, 'default', { metadata: { name: 'bot' } });
    assert.equal(await authn.authenticate(request(unbound.status.token)), undefined, 'an account made again has another uid');
    const vault = await reg.createToken('default', 'bot', { spec: { audiences: ['vault'] } });
    assert.equal(await authn.authenticate(request(vault.status.token)), undefined, 'another audience is not the API');
  });

  it('impersonation needs impersonate on the identity asked for; a service account gets its groups', async () => {
    const { authz } = await setup();
    const may = async (a: any) => (await authz.authorize(a)).allowed;
    const as = await impersonate(request('x', { 'Impersonate-User': 'system:serviceaccount:default:bot' }), ADMIN_USER, may);
    assert.deepEqual(as, { username: 'system:serviceaccount:default:bot', groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] });
    const bob = { username: 'bob', groups: ['system:authenticated'] };
    await assert.rejects(impersonate(request('x', { 'Impersonate-User': 'alice' }), bob, may), /users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope/);
    assert.equal(await impersonate(request('x'), bob, may), bob);
  });
});

describe('RBAC authorizer', () => {
  it('allows what a bound role allows, in its namespace only; refuses role writes beyond what the writer holds', async () => {
    const { reg, authz } = await setup();
    const bot = { username: 'system:serviceaccount:default:bot', groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] };
    const list = (ns: string) => requestAttributes(bot, 'GET', `/api/v1/namespaces/${ns}/pods`, new URLSearchParams());
    assert.equal((await authz.authorize(list('default'))).allowed, false);
    await reg.create(ROLES, 'default', { metadata: { name: 'pods' }, rules: [{ verbs: ['list', 'get'], apiGroups: [''], resources: ['pods'] }] });
    await reg.create(ROLEBINDINGS, 'default', { metadata: { name: 'bot-pods' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pods' }, subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: 'default' }] });
    const d = await authz.authorize(list('default'));
    assert.deepEqual(d, { allowed: true, reason: 'RBAC: allowed by RoleBinding "bot-pods/default" of Role "pods"' });
    assert.equal((await authz.authorize(list('kube-system'))).allowed, false);
    assert.equal((await authz.authorize(requestAttributes(bot, 'GET', '/version', new URLSearchParams()))).allowed, true, 'system:public-info-viewer');
    assert.equal((await authz.authorize(requestAttributes(bot, 'GET', '/openid/v1/jwks', new URLSearchParams()))).allowed, true, 'issuer discovery for service accounts');

    const r = await authz.escalationRefusal(bot, ROLES, 'default', { metadata: { name: 'more' }, rules: [{ verbs: ['delete', 'get'], apiGroups: [''], resources: ['pods'] }] });
    assert.equal(r?.code, 403);
    assert.equal(
      r?.message,
      'roles.rbac.authorization.k8s.io "more" is forbidden: user "system:serviceaccount:default:bot" (groups=["system:serviceaccounts" "system:serviceaccounts:default" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
    );
    assert.equal(await authz.escalationRefusal(bot, ROLES, 'default', { metadata: { name: 'less' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] }), undefined);
    const bind = await authz.escalationRefusal(bot, ROLEBINDINGS, 'default', { metadata: { name: 'b' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [] });
    assert.match(bind!.message, /rolebindings.rbac.authorization.k8s.io "b" is forbidden: .* not currently held:\n\{APIGroups:\["\*"\], Resources:\["\*"\], Verbs:\["\*"\]\}/);
    assert.ok(await reg.get(CLUSTERROLES, undefined, 'view'));
  });
});
