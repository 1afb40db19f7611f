/**
 * Service accounts for real: a pod gets its `kube-api-access-*` volume (a bound token, the
 * cluster CA, its namespace) from the ServiceAccount admission and the kubelet; with nothing
 * but that token and ca.crt, read from the pod's mount, it asks the API server for the pods of
 * its namespace (403 in kube-apiserver's words until its account is bound to `view`, then the
 * list); the token of a deleted pod is refused (401); `kubectl create token`, `create role`,
 * `create rolebinding` and `auth can-i --as` as on a cluster; TokenReview says whom a pod's
 * token is (and that a deleted pod's is not), for system:auth-delegator's holders only; a
 * request with no credentials is system:anonymous (health and version only, 403 elsewhere),
 * or 401 with --anonymous-auth=false.
 *
 * How the pod reaches the API: as a client in a pod does, at https://kubernetes.default.svc on
 * KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT from the pod's environment (the `kubernetes`
 * Service's cluster IP, which the service proxy DNATs to the API server's advertise address, the
 * bridge gateway). The server itself listens on 127.0.0.1 (plus that advertise address, as
 * --advertise-address does). The request leaves from the pod's network namespace (the host's curl
 * run under `nsenter --net` of the pod's process; busybox has no TLS client), the name pinned to
 * the Service's IP with --resolve (the host's resolver does not know the cluster zone), and
 * checks the serving certificate, whose names include kubernetes.default.svc, against the pod's
 * ca.crt.
 *
 * This suite owns bridge pbsa0, pod subnet 10.236.0.0/24, the service range 10.237.0.0/24 and
 * port 18320 (the API server's). Traffic goes only to 127.0.0.1, the bridge gateway and the kubernetes Service's cluster IP (answered on this machine).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, kubectlHelpers, podOf } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);
const PORT = 18320;
const MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

function hostTool(name: string, pkg: string): void {
  if (spawnSync('bash', ['-c', `command -v ${name}`]).status !== 0) throw new Error(`${name} is not installed: install ${pkg} to run this suite`);
}

/** the host pid of the process whose environment carries `marker` (the pod's sleep) */
function pidWithMarker(marker: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'latin1').split('\0').includes(`SA_E2E_MARK=${marker}`)) return Number(d);
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}

function jwtClaims(token: string): any {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

describe('service accounts: tokens, authentication and RBAC', () => {
  const suite = new PodSuite('pbsa0', '10.236.0.0/24', /^1832\d$|^1833\d$/);
  let s: PodbayServer;
  const { k, ok, pod, create } = kubectlHelpers(() => s, kc.path);
  const sleeper = (name: string, spec: Record<string, any> = {}) =>
    podOf(name, { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'], env: [{ name: 'SA_E2E_MARK', value: name }] }], ...spec });
  const running = (name: string) => waitFor(`${name} running`, () => (pod(name).status.phase === 'Running' ? true : undefined), 60_000);
  const inPod = (name: string, file: string) => ok('exec', name, '--', 'cat', `${MOUNT}/${file}`);

  /** GET `path` from inside the pod's network namespace, with only what the pod's mount holds */
  const fromPod = (name: string, path: string): { status: number; body: any } => {
    const token = inPod(name, 'token');
    const caFile = join(suite.work, `${name}-ca.crt`);
    writeFileSync(caFile, inPod(name, 'ca.crt'));
    const host = ok('exec', name, '--', 'sh', '-c', 'echo $KUBERNETES_SERVICE_HOST').trim();
    const port = ok('exec', name, '--', 'sh', '-c', 'echo $KUBERNETES_SERVICE_PORT').trim();
    assert.equal(host, ok('get', 'svc', 'kubernetes', '-o', 'jsonpath={.spec.clusterIP}'), 'KUBERNETES_SERVICE_HOST is the kubernetes Service');
    const pid = pidWithMarker(name);
    assert.ok(pid, `the process of pod ${name} on the host`);
    const r = spawnSync(
      'nsenter',
      ['--net=/proc/' + pid + '/ns/net', 'curl', '-s', '--max-time', '5', '--cacert', caFile, '--resolve', `kubernetes.default.svc:${port}:${host}`, '-H', `Authorization: Bearer ${token}`, '-w', '\n%{http_code}', `https://kubernetes.default.svc:${port}${path}`],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, `curl from the pod's netns: ${r.stderr}`);
    const nl = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(nl + 1)), body: JSON.parse(r.stdout.slice(0, nl)) };
  };
  /** GET from the host over 127.0.0.1 with a bearer token */
  const withToken = async (token: string, path: string) => s.request('GET', path, { token });

  before(async () => {
    hostTool('nsenter', 'util-linux');
    hostTool('curl', 'curl');
    s = await suite.start('podbay-e2e-sa-', ['--listen', `127.0.0.1:${PORT}`, '--service-cluster-ip-range', '10.237.0.0/24']);
    // the harness picked a port of its own before the --listen above replaced it
    s.port = PORT;
    await suite.loadBusybox();
  });

  after(async () => {
    await suite.finish(kc.path);
  });

  it('every namespace has `default` and kube-root-ca.crt; a pod gets the kube-api-access volume with a bound token', async () => {
    await waitFor('default in kube-system', () => (k('get', 'sa', 'default', '-n', 'kube-system').code === 0 ? true : undefined));
    const cm = JSON.parse(ok('get', 'configmap', 'kube-root-ca.crt', '-o', 'json'));
    assert.equal(cm.data['ca.crt'], s.caPem);
    ok('create', 'serviceaccount', 'reader');
    create(sleeper('reader-pod', { serviceAccountName: 'reader' }));
    await running('reader-pod');
    const p = pod('reader-pod');
    const vol = p.spec.volumes.find((v: any) => v.name.startsWith('kube-api-access-'));
    assert.ok(vol, 'the admission added the volume');
    assert.deepEqual(p.spec.containers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: MOUNT }]);
    assert.equal(inPod('reader-pod', 'namespace'), 'default');
    assert.equal(inPod('reader-pod', 'ca.crt'), s.caPem);
    const claims = jwtClaims(inPod('reader-pod', 'token'));
    assert.equal(claims.sub, 'system:serviceaccount:default:reader');
    // the admission's 3607 s token, signed for a year with a warning at the hour (--service-account-extend-token-expiration)
    assert.equal(claims.exp - claims.iat, 365 * 24 * 3600);
    assert.equal(claims['kubernetes.io'].warnafter, claims.iat + 3607);
    assert.deepEqual(claims['kubernetes.io'].pod, { name: 'reader-pod', uid: p.metadata.uid });
    // the container cannot write its token
    assert.notEqual(k('exec', 'reader-pod', '--', 'sh', '-c', `echo x > ${MOUNT}/token`).code, 0);

    // a pod that names an account that does not exist is refused as kube-apiserver refuses it
    const bad = s.kubectl(kc.path, ['create', '-f', '-'], JSON.stringify(sleeper('ghost-pod', { serviceAccountName: 'ghost' })));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /pods "ghost-pod" is forbidden: error looking up service account default\/ghost: serviceaccount "ghost" not found/);
    // automountServiceAccountToken: false: nothing mounted
    create(sleeper('quiet-pod', { automountServiceAccountToken: false }));
    assert.equal(pod('quiet-pod').spec.volumes, undefined);
  });

  it("with only its mounted token, the pod gets 403 until its account is bound to view, then lists its namespace's pods", async () => {
    const denied = fromPod('reader-pod', '/api/v1/namespaces/default/pods');
    assert.equal(denied.status, 403);
    assert.equal(denied.body.message, 'pods is forbidden: User "system:serviceaccount:default:reader" cannot list resource "pods" in API group "" in the namespace "default"');
    assert.equal(k('auth', 'can-i', 'list', 'pods', '--as=system:serviceaccount:default:reader').stdout.trim(), 'no');

    ok('create', 'rolebinding', 'reader-view', '--clusterrole=view', '--serviceaccount=default:reader');
    // view is aggregated from system:aggregate-to-view by the controller
    await waitFor('view aggregated', () => (k('auth', 'can-i', 'list', 'pods', '--as=system:serviceaccount:default:reader').stdout.trim() === 'yes' ? true : undefined));
    const listed = fromPod('reader-pod', '/api/v1/namespaces/default/pods');
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.ok(listed.body.items.some((i: any) => i.metadata.name === 'reader-pod'));
    // what view does not grant: secrets, and other namespaces
    assert.equal(fromPod('reader-pod', '/api/v1/namespaces/default/secrets').status, 403);
    assert.equal(fromPod('reader-pod', '/api/v1/namespaces/kube-system/pods').status, 403);
    assert.equal(k('auth', 'can-i', 'list', 'secrets', '--as=system:serviceaccount:default:reader').stdout.trim(), 'no');
    assert.equal(k('auth', 'can-i', 'list', 'pods', '-n', 'kube-system', '--as=system:serviceaccount:default:reader').stdout.trim(), 'no');
  });

  it('kubectl create token / role / rolebinding; a token bound to a deleted pod is 401', async () => {
    ok('create', 'serviceaccount', 'deployer');
    const token = ok('create', 'token', 'deployer', '--duration=15m').trim();
    assert.equal(jwtClaims(token).exp - jwtClaims(token).iat, 900);
    const who = await withToken(token, '/api/v1/namespaces/default/configmaps');
    assert.equal(who.status, 403);
    ok('create', 'role', 'cm-reader', '--verb=get,list', '--resource=configmaps');
    ok('create', 'rolebinding', 'deployer-cm', '--role=cm-reader', '--serviceaccount=default:deployer');
    assert.equal((await withToken(token, '/api/v1/namespaces/default/configmaps')).status, 200);
    // allowed to write roles, the account still cannot hand out more than it holds (escalation check)
    ok('create', 'role', 'role-writer', '--verb=create,patch,get', '--resource=roles.rbac.authorization.k8s.io');
    ok('create', 'rolebinding', 'deployer-roles', '--role=role-writer', '--serviceaccount=default:deployer');
    const notHeld = /is attempting to grant RBAC permissions not currently held:\n\{APIGroups:\[""\], Resources:\["pods"\], Verbs:\["delete"\]\}/;
    const esc = await s.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles', {
      token,
      body: JSON.stringify({ metadata: { name: 'more' }, rules: [{ verbs: ['delete'], apiGroups: [''], resources: ['pods'] }] }),
      contentType: 'application/json',
    });
    assert.equal(esc.status, 403);
    assert.match(esc.json.message, /^roles.rbac.authorization.k8s.io "more" is forbidden: user "system:serviceaccount:default:deployer"/);
    assert.match(esc.json.message, notHeld);
    const escPatch = await s.request('PATCH', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/cm-reader', {
      token,
      body: JSON.stringify({ rules: [{ verbs: ['delete'], apiGroups: [''], resources: ['pods'] }] }),
      contentType: 'application/merge-patch+json',
    });
    assert.equal(escPatch.status, 403);
    assert.match(escPatch.json.message, notHeld);
    const fine = await s.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles', {
      token,
      body: JSON.stringify({ metadata: { name: 'less' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'] }] }),
      contentType: 'application/json',
    });
    assert.equal(fine.status, 201, fine.body);

    create(sleeper('bound-pod', { serviceAccountName: 'deployer' }));
    await running('bound-pod');
    const bound = ok('create', 'token', 'deployer', '--bound-object-kind=Pod', '--bound-object-name=bound-pod').trim();
    const mounted = inPod('bound-pod', 'token');
    assert.equal((await withToken(bound, '/api/v1/namespaces/default/configmaps')).status, 200);
    assert.equal((await withToken(mounted, '/api/v1/namespaces/default/configmaps')).status, 200);
    // TokenReview of the pod's own token, through kubectl as a webhook's operator would
    const review = (token: string, audiences?: string[]) => JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) } });
    const reviewed = s.kubectl(kc.path, ['create', '-o', 'json', '-f', '-'], review(mounted));
    assert.equal(reviewed.code, 0, reviewed.stderr);
    const st = JSON.parse(reviewed.stdout).status;
    assert.equal(st.authenticated, true);
    assert.equal(st.user.username, 'system:serviceaccount:default:deployer');
    assert.equal(st.user.uid, JSON.parse(ok('get', 'sa', 'deployer', '-o', 'json')).metadata.uid);
    assert.deepEqual(st.user.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
    assert.deepEqual(st.user.extra['authentication.kubernetes.io/pod-name'], ['bound-pod']);
    assert.deepEqual(st.audiences, ['https://kubernetes.default.svc.cluster.local']);
    const otherAud = JSON.parse(s.kubectl(kc.path, ['create', '-o', 'json', '-f', '-'], review(mounted, ['vault'])).stdout).status;
    assert.equal(otherAud.authenticated, undefined, 'not a token for vault');
    assert.match(otherAud.error, /token audiences \["https:\/\/kubernetes.default.svc.cluster.local"\] is invalid for the target audiences \["vault"\]/);
    // asking is itself a permission: create tokenreviews, which system:auth-delegator holds
    const asDeployer = () => s.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { token, body: review(mounted), contentType: 'application/json' });
    const refused = await asDeployer();
    assert.equal(refused.status, 403);
    assert.equal(refused.json.message, 'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:default:deployer" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope');
    ok('create', 'clusterrolebinding', 'deployer-auth-delegator', '--clusterrole=system:auth-delegator', '--serviceaccount=default:deployer');
    const delegated = await asDeployer();
    assert.equal(delegated.status, 201, delegated.body);
    assert.equal(delegated.json.status.user.username, 'system:serviceaccount:default:deployer');
    ok('delete', 'clusterrolebinding', 'deployer-auth-delegator');

    ok('delete', 'pod', 'bound-pod', '--grace-period=0', '--force', '--wait=true');
    await waitFor('bound-pod gone', () => (k('get', 'pod', 'bound-pod').code !== 0 ? true : undefined));
    for (const t of [bound, mounted]) {
      const r = await withToken(t, '/api/v1/namespaces/default/configmaps');
      assert.equal(r.status, 401);
      assert.equal(r.json.reason, 'Unauthorized');
    }
    const gone = JSON.parse(s.kubectl(kc.path, ['create', '-o', 'json', '-f', '-'], review(mounted)).stdout).status;
    assert.deepEqual(gone, { user: {}, error: '[invalid bearer token, service account token has been invalidated]' }, "a deleted pod's token reviewed: not authenticated");
    // deleting the account ends its other tokens too
    ok('delete', 'serviceaccount', 'deployer');
    assert.equal((await withToken(token, '/api/v1/namespaces/default/configmaps')).status, 401);
    // OIDC discovery, for relying parties
    const disc = await s.request('GET', '/.well-known/openid-configuration');
    assert.equal(disc.json.issuer, 'https://kubernetes.default.svc.cluster.local');
    const jwks = await s.request('GET', '/openid/v1/jwks');
    assert.equal(jwks.json.keys[0].alg, 'ES256');
  });
  it('no credentials: system:anonymous reads /version and health only, 403 elsewhere in kube-apiserver words; a wrong token is 401; --anonymous-auth=false: 401', async () => {
    const version = await s.request('GET', '/version', { token: null });
    assert.equal(version.status, 200);
    assert.equal(version.json.major, '1');
    assert.equal((await s.request('GET', '/livez', { token: null })).status, 200);
    const pods = await s.request('GET', '/api/v1/namespaces/default/pods', { token: null });
    assert.equal(pods.status, 403);
    assert.equal(pods.json.reason, 'Forbidden');
    assert.equal(pods.json.message, 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"');
    const api = await s.request('GET', '/api', { token: null });
    assert.equal(api.status, 403);
    assert.equal(api.json.message, 'forbidden: User "system:anonymous" cannot get path "/api"');
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/pods', { token: 'not-a-token' })).status, 401);
    const closed = await PodbayServer.start(['--no-kubelet', '--anonymous-auth=false']);
    try {
      const r = await closed.request('GET', '/api/v1/namespaces/default/pods', { token: null });
      assert.equal(r.status, 401);
      assert.equal(r.json.reason, 'Unauthorized');
      assert.equal((await closed.request('GET', '/version', { token: null })).status, 401);
      assert.equal((await closed.request('GET', '/readyz', { token: null })).status, 200, 'health is answered to anyone');
      assert.equal((await closed.request('GET', '/api/v1/namespaces/default/pods')).status, 200);
    } finally {
      await closed.teardown();
    }
  });
});
