/** Authentication of service-account tokens, impersonation, and the RBAC authorizer on the memory registry. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { resourceInfo } from '../api/registry.js';
import { MemoryStore } from '../store/memory.js';
import { Registry } from '../registry/index.js';
import { TokenIssuer } from '../registry/token-issuer.js';
import { Authenticator, ADMIN_USER, ANONYMOUS_USER, bearerToken, impersonate } from './authn.js';
import { forbiddenMessage } from '../api/rbac.js';
import { CLUSTERROLES, RbacAuthorizer, ROLEBINDINGS, ROLES } from './authorizer.js';
import { requestAttributes } from './request-info.js';

const SAS = resourceInfo('serviceaccounts')!;
const PODS = resourceInfo('pods')!;
const SECRETS = resourceInfo('secrets')!;

async function setup() {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const reg = new Registry(new MemoryStore(), { tokens: await TokenIssuer.fromPem(pem) });
  await reg.bootstrap();
  await reg.bootstrapPolicy();
  await reg.create(SAS, 'default', { metadata: { name: 'bot' } });
  return { reg, authn: new Authenticator('admin-secret', reg), authz: new RbacAuthorizer(reg) };
}

const API = 'https://kubernetes.default.svc.cluster.local';
const INVALIDATED = '[invalid bearer token, service account token has been invalidated]';

/** a request with this Authorization header (or none), over plain TCP: no client certificate */
const bare = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization }, rawHeaders: [], socket: {} }) as unknown as IncomingMessage;

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

describe('anonymous requests (--anonymous-auth)', () => {
  it('no credentials is system:anonymous in system:unauthenticated; with anonymous auth off, none (401)', async () => {
    const { reg, authn } = await setup();
    assert.deepEqual(await authn.authenticate(bare()), ANONYMOUS_USER);
    assert.deepEqual(await authn.authenticate(bare('Basic dXNlcjpwdw==')), ANONYMOUS_USER, 'another scheme carries no bearer token');
    assert.deepEqual(await authn.authenticate(bare('Bearer ')), ANONYMOUS_USER, 'nor does an empty token');
    assert.equal(await authn.authenticate(bare('Bearer wrong')), undefined, 'a wrong token is 401, anonymous or not');
    const closed = new Authenticator('admin-secret', reg, { anonymous: false });
    assert.equal(await closed.authenticate(bare()), undefined);
    assert.deepEqual(await closed.authenticate(bare('bearer admin-secret')), ADMIN_USER, 'the scheme in any case');
  });

  it('bearerToken reads the header as bearertoken.go does', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('  BEARER abc  '), 'abc');
    assert.equal(bearerToken('Bearer abc def'), 'abc');
    assert.equal(bearerToken('Bearer  abc'), undefined, 'two spaces: an empty token');
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });

  it('RBAC lets the anonymous user read health and version only, and words every other refusal as kube-apiserver', async () => {
    const { authz } = await setup();
    const get = (path: string) => requestAttributes(ANONYMOUS_USER, 'GET', path, new URLSearchParams());
    for (const path of ['/healthz', '/livez', '/readyz', '/version', '/version/']) assert.equal((await authz.authorize(get(path))).allowed, true, path);
    for (const path of ['/api', '/apis', '/openapi/v2', '/openid/v1/jwks']) assert.equal((await authz.authorize(get(path))).allowed, false, path);
    const pods = get('/api/v1/namespaces/default/pods');
    assert.equal((await authz.authorize(pods)).allowed, false);
    assert.equal(forbiddenMessage(pods), 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"');
    assert.equal(forbiddenMessage(get('/api')), 'forbidden: User "system:anonymous" cannot get path "/api"');
  });
});

describe('the token authenticator (what a TokenReview answers)', () => {
  it('says whom a token is, for which audiences, or why not, in kube-apiserver words', async () => {
    const { reg, authn } = await setup();
    const admin = await authn.authenticateToken('admin-secret');
    assert.deepEqual(admin, { user: ADMIN_USER, audiences: [API] });
    assert.deepEqual(await authn.authenticateToken('admin-secret', ['vault']), { error: 'invalid bearer token' }, 'the admin token is for the API only');
    assert.deepEqual(await authn.authenticateToken('nonsense'), { error: 'invalid bearer token' });

    const pod = await reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { serviceAccountName: 'bot', containers: [{ name: 'c', image: 'busybox' }] } });
    const tr = await reg.createToken('default', 'bot', { spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p' } } });
    const ok = await authn.authenticateToken(tr.status.token);
    assert.ok(ok.user);
    assert.equal(ok.user.username, 'system:serviceaccount:default:bot');
    assert.deepEqual(ok.audiences, [API]);
    assert.deepEqual(await authn.authenticateToken(tr.status.token, ['vault']), { error: `[invalid bearer token, token audiences ["${API}"] is invalid for the target audiences ["vault"]]` });
    const vault = await reg.createToken('default', 'bot', { spec: { audiences: ['vault', 'other'] } });
    const forVault = await authn.authenticateToken(vault.status.token, ['vault', 'nomad']);
    assert.deepEqual(forVault.user && forVault.audiences, ['vault'], 'the audiences asked for that the token names');

    await reg.delete(PODS, 'default', 'p', { gracePeriodSeconds: 0 });
    assert.deepEqual(await authn.authenticateToken(tr.status.token), { error: INVALIDATED });
    await reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { serviceAccountName: 'bot', containers: [{ name: 'c', image: 'busybox' }] } });
    const again = await authn.authenticateToken(tr.status.token);
    assert.match(again.user ? '' : again.error, new RegExp(`^\\[invalid bearer token, pod UID \\(\\S+\\) does not match claim \\(${pod.metadata.uid}\\)\\]$`), 'a pod made again under the name is another pod');

    const issuer = reg.options.tokens!;
    const sa = await reg.get(SAS, 'default', 'bot');
    const issue = (now: number, seconds = 600) => issuer.issue({ namespace: 'default', account: { name: 'bot', uid: sa.metadata.uid }, audiences: [API], expirationSeconds: seconds, now });
    const t = Math.floor(Date.now() / 1000);
    assert.deepEqual(await authn.authenticateToken((await issue(t - 7200)).token), { error: '[invalid bearer token, service account token has expired]' });
    assert.deepEqual(await authn.authenticateToken((await issue(t + 3600)).token), { error: '[invalid bearer token, service account token is not valid yet]' });
    const good = (await issue(t)).token;
    assert.deepEqual(await authn.authenticateToken(good.slice(0, -6) + 'AAAAAA'), { error: 'invalid bearer token' }, 'a bad signature: not one of ours');
    await reg.delete(SAS, 'default', 'bot');
    assert.deepEqual(await authn.authenticateToken(good), { error: INVALIDATED });
    const remade = await reg.create(SAS, 'default', { metadata: { name: 'bot' } });
    assert.deepEqual(await authn.authenticateToken(good), { error: `[invalid bearer token, service account UID (${remade.metadata.uid}) does not match claim (${sa.metadata.uid})]` });
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

describe('legacy service-account tokens (a kubernetes.io/service-account-token Secret\'s)', () => {
  it('are the account while the Secret holds them and the account is the one named, in legacy.go\'s words', async () => {
    const { reg, authn } = await setup();
    const issuer = reg.options.tokens!;
    const sa = await reg.get(SAS, 'default', 'bot');
    const token = await issuer.issueLegacy({ namespace: 'default', account: { name: 'bot', uid: sa.metadata.uid }, secretName: 'bot-token' });
    const [, payload] = token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(payload!, 'base64url').toString()), {
      iss: 'kubernetes/serviceaccount',
      sub: 'system:serviceaccount:default:bot',
      'kubernetes.io/serviceaccount/namespace': 'default',
      'kubernetes.io/serviceaccount/secret.name': 'bot-token',
      'kubernetes.io/serviceaccount/service-account.name': 'bot',
      'kubernetes.io/serviceaccount/service-account.uid': sa.metadata.uid,
    }, 'no audience, no time, no id');
    const refused = (why: string) => ({ error: `[invalid bearer token, ${why}]` });
    assert.deepEqual(await authn.authenticateToken(token), refused('Token has been invalidated'), 'no Secret holds it');
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const secret = await reg.create(SECRETS, 'default', {
      metadata: { name: 'bot-token', annotations: { 'kubernetes.io/service-account.name': 'bot' } },
      type: 'kubernetes.io/service-account-token',
      data: { token: b64(token.slice(0, -1) + 'x') },
    });
    assert.deepEqual(await authn.authenticateToken(token), refused("Token does not match server's copy"));
    await reg.update(SECRETS, 'default', 'bot-token', { ...secret, data: { token: b64(token) } });
    const ok = await authn.authenticateToken(token);
    assert.deepEqual(ok, { user: { username: 'system:serviceaccount:default:bot', uid: sa.metadata.uid, groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'], extra: {} }, audiences: [API] });
    assert.deepEqual(await authn.authenticateToken(token, ['vault']), refused(`token audiences ["${API}"] is invalid for the target audiences ["vault"]`), 'the API\'s audiences only');
    const today = new Date().toISOString().slice(0, 10);
    assert.equal((await reg.get(SECRETS, 'default', 'bot-token')).metadata.labels?.['kubernetes.io/legacy-token-last-used'], today, 'its use is tracked');
    const rv = (await reg.get(SECRETS, 'default', 'bot-token')).metadata.resourceVersion;
    await authn.authenticateToken(token);
    assert.equal((await reg.get(SECRETS, 'default', 'bot-token')).metadata.resourceVersion, rv, 'once a day');

    await reg.patch(SECRETS, 'default', 'bot-token', 'application/merge-patch+json', JSON.stringify({ metadata: { labels: { 'kubernetes.io/legacy-token-invalid-since': today } } }));
    assert.deepEqual(
      await authn.authenticateToken(token),
      refused("the token in secret default/bot-token for service account default/bot has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label from the secret to temporarily allow use of this token"),
    );
    await reg.patch(SECRETS, 'default', 'bot-token', 'application/merge-patch+json', JSON.stringify({ metadata: { labels: { 'kubernetes.io/legacy-token-invalid-since': null } } }));
    assert.ok((await authn.authenticateToken(token)).user);

    await reg.delete(SAS, 'default', 'bot');
    assert.deepEqual(await authn.authenticateToken(token), refused('serviceaccounts "bot" not found'));
    const remade = await reg.create(SAS, 'default', { metadata: { name: 'bot' } });
    assert.deepEqual(await authn.authenticateToken(token), refused(`ServiceAccount UID (${remade.metadata.uid}) does not match claim (${sa.metadata.uid})`));
    await reg.delete(SECRETS, 'default', 'bot-token');
    assert.deepEqual(await authn.authenticateToken(token), refused('Token has been invalidated'));

    // the claims are checked before any lookup
    const other = await issuer.issueLegacy({ namespace: 'default', account: { name: 'bot', uid: '' }, secretName: 'x' });
    assert.deepEqual(await authn.authenticateToken(other), refused('serviceAccountUID claim is missing'));
  });
});
