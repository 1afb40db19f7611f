/**
 * NetworkPolicy for real: kubectl stores policies, the enforcer writes kube-router's iptables
 * chains, and busybox pods on the bridge feel it. A backend (busybox httpd) and clients (busybox
 * nc with short timeouts): default deny cuts a client off at once (refused, not a hang), an allow
 * rule for its label restores it, a namespaceSelector admits a pod of another namespace, an
 * egress policy cuts a client off at its own end and an ipBlock lets it out again, the same
 * through a Service's cluster IP (policies see the DNATed pod address), the kubelet's probes
 * from the node keep passing, rules follow pods and namespaces as their labels change, and when
 * the last policy goes, so does every rule.
 *
 * This suite owns bridge pbnetpol0, pod subnet 10.240.0.0/24, the service range 10.241.0.0/24
 * and ports 18380-18399 (node ports 18390-18399; none is used). Traffic goes only to this
 * suite's pod IPs and its Service's cluster IP.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, kubectlHelpers, podOf } from './harness.js';
import { tagFor } from '../../src/proxy/rules.js';

const [kc] = kubectlBinaries().slice(-1);
const TAG = tagFor('pbnetpol0');

function filterRules(): string {
  return spawnSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout;
}

/** this server's policy lines: its tagged top chains, and every rule naming one of its pod IPs */
function ourPolicyRules(): string[] {
  return filterRules()
    .split('\n')
    .filter((l) => l.includes(`KUBE-ROUTER-FORWARD-${TAG}`) || l.includes(`KUBE-ROUTER-INPUT-${TAG}`) || l.includes(`KUBE-ROUTER-OUTPUT-${TAG}`) || (/KUBE-(POD-FW|NWPLCY)-/.test(l) && l.includes('10.240.0.')));
}

describe('NetworkPolicy enforced with iptables (kube-router\'s chains)', () => {
  const suite = new PodSuite('pbnetpol0', '10.240.0.0/24', /^18(3[89])\d$/);
  let s: PodbayServer;
  const { k, ok, pod, create, apply } = kubectlHelpers(() => s, kc.path);
  const ready = (name: string, ns = 'default') =>
    waitFor(`${name} ready`, () => {
      const p = JSON.parse(ok('get', 'pod', name, '-n', ns, '-o', 'json'));
      return (p.status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, 60_000);
  /** an HTTP GET by busybox nc from a pod; connect and read time out after 2 s */
  const get = (from: string, ip: string, port: number, ns = 'default') => {
    const t0 = Date.now();
    const r = k('exec', '-n', ns, from, '--', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} ${port}`);
    return { ok: r.code === 0 && /\r\n\r\nbackend\n$/.test(r.stdout), ms: Date.now() - t0, out: `${r.stdout}${r.stderr}` };
  };
  /** waits until `from` reaches (or no longer reaches) the address, as a sync lands */
  const settles = (what: string, from: string, ip: string, port: number, reach: boolean, ns = 'default') =>
    waitFor(what, () => (get(from, ip, port, ns).ok === reach ? true : undefined), 20_000).catch((e) => {
      const log = s.log.split('\n').filter((l) => /network policy|iptables/.test(l)).slice(-10);
      throw new Error(`${(e as Error).message}\nserver log:\n${log.join('\n')}\npolicy rules:\n${ourPolicyRules().join('\n')}`);
    });
  let web = '';

  before(async () => {
    s = await suite.start('podbay-e2e-netpol-', ['--service-cluster-ip-range', '10.241.0.0/24', '--service-node-port-range', '18390-18399']);
    await suite.loadBusybox();
    ok('create', 'namespace', 'team-b');
    ok('label', 'namespace', 'team-b', 'team=b');
    const client = (name: string, labels: Record<string, string>, namespace = 'default') =>
      podOf(name, { containers: [{ name: 'nc', image: 'busybox:1.36', command: ['sleep', '3600'] }] }, { labels, namespace });
    create(podOf('backend', { containers: [{ name: 'web', image: 'busybox:1.36', command: ['sh', '-c', 'mkdir -p /www && echo backend > /www/index.html && exec httpd -f -p 8080 -h /www'], ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 2 } }] }, { labels: { app: 'web' } }));
    create(client('client', { role: 'client' }));
    create(client('stranger', { role: 'other' }));
    create(client('remote', { role: 'client' }, 'team-b'));
    web = (await ready('backend')).status.podIP;
    await ready('client');
    await ready('stranger');
    await ready('remote', 'team-b');
  });

  after(async () => {
    k('delete', 'networkpolicies', '--all', '-A');
    k('delete', 'namespace', 'team-b', '--wait=true');
    await suite.finish(kc.path);
    assert.deepEqual(ourPolicyRules(), [], 'no policy chain or rule of this server is left');
  });

  it('without a policy every pod reaches the backend and the host carries no policy chain', () => {
    assert.equal(get('client', web, 8080).ok, true);
    assert.equal(get('stranger', web, 8080).ok, true);
    assert.equal(get('remote', web, 8080, 'team-b').ok, true);
    assert.deepEqual(ourPolicyRules(), []);
  });

  it('an invalid policy is refused with the field; kubectl lists policies as NAME POD-SELECTOR AGE', () => {
    const r = s.kubectl(kc.path, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'bad' }, spec: { podSelector: { matchExpressions: [{ key: 'app', operator: 'Within', values: ['x'] }] }, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['192.168.0.0/16'] } }], ports: [{ port: 'http', endPort: 90 }] }] } }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.podSelector\.matchExpressions\[0\]\.operator: Invalid value: "Within": not a valid selector operator/);
    assert.match(r.stderr, /spec\.ingress\[0\]\.from\[0\]\.ipBlock\.except\[0\]: Invalid value: "192\.168\.0\.0\/16": must be a strict subset of `cidr`/);
    assert.match(r.stderr, /spec\.ingress\[0\]\.ports\[0\]\.endPort: Invalid value: 90: may not be specified when `port` is non-numeric/);
  });

  it('default deny ingress cuts every client off at once; the node (kubelet probes, the host) still reaches the pod', async () => {
    apply('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n');
    assert.match(ok('get', 'netpol'), /^NAME\s+POD-SELECTOR\s+AGE\ndefault-deny\s+app=web\s+\d+s\n$/);
    assert.deepEqual(JSON.parse(ok('get', 'netpol', 'default-deny', '-o', 'json')).spec.policyTypes, ['Ingress']);
    await settles('the client cut off', 'client', web, 8080, false);
    const refused = get('client', web, 8080);
    assert.equal(refused.ok, false);
    assert.match(refused.out, /refused/i, 'REJECTed, not dropped');
    assert.ok(refused.ms < 2000, `refused at once, not after nc's timeout (${refused.ms} ms)`);
    assert.equal(get('stranger', web, 8080).ok, false);
    assert.equal(get('remote', web, 8080, 'team-b').ok, false);
    assert.ok(ourPolicyRules().some((l) => l.includes(`-A KUBE-ROUTER-FORWARD-${TAG} -d ${web}/32`)), 'the backend has its firewall chain');
    // the jump comes before this server's service proxy's KUBE-FORWARD, which accepts
    // masqueraded service traffic (other test worlds on this host may insert theirs above both)
    const forward = filterRules().split('\n').filter((l) => l.startsWith('-A FORWARD '));
    const ours = forward.findIndex((l) => l.endsWith(`-j KUBE-ROUTER-FORWARD-${TAG}`));
    assert.ok(ours >= 0 && ours < forward.findIndex((l) => l.endsWith(`-j KUBE-FORWARD-${TAG}`)), forward.join('\n'));
    // the node: a readiness probe every second (2 failures would make it unready), and the host's own curl
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok((pod('backend').status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'), 'the kubelet probes still pass');
    const host = spawnSync('curl', ['-s', '--max-time', '3', `http://${web}:8080/`], { encoding: 'utf8' });
    assert.equal(host.stdout.trim(), 'backend');
  });

  it('an allow rule for the client\'s label, on the named port, restores the client alone', async () => {
    apply('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-client}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {role: client}}}]\n    ports: [{port: http}]\n');
    await settles('the client restored', 'client', web, 8080, true);
    assert.equal(get('stranger', web, 8080).ok, false, 'another label stays cut off');
    assert.equal(get('remote', web, 8080, 'team-b').ok, false, 'a podSelector alone means the policy\'s own namespace');
    // rules follow pods: a pod that takes the label is let in, and cut off when it drops it
    ok('label', 'pod', 'stranger', 'role=client', '--overwrite');
    await settles('the relabelled stranger let in', 'stranger', web, 8080, true);
    ok('label', 'pod', 'stranger', 'role=other', '--overwrite');
    await settles('the stranger cut off again', 'stranger', web, 8080, false);
  });

  it('a namespaceSelector with a podSelector admits the labelled pod of the selected namespace', async () => {
    apply('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-team-b}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {role: client}}}]\n    ports: [{port: 8000, endPort: 8100}]\n');
    await settles('the team-b client admitted', 'remote', web, 8080, true, 'team-b');
    assert.equal(get('stranger', web, 8080).ok, false);
    // rules follow namespaces: without the label the namespace is no longer selected
    ok('label', 'namespace', 'team-b', 'team-');
    await settles('team-b unselected', 'remote', web, 8080, false, 'team-b');
    ok('label', 'namespace', 'team-b', 'team=b');
    await settles('team-b selected again', 'remote', web, 8080, true, 'team-b');
  });

  it('through a Service\'s cluster IP the same policies hold (they see the DNATed backend address)', async () => {
    ok('create', 'service', 'clusterip', 'web', '--tcp=80:8080');
    const ip = ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}');
    assert.match(ip, /^10\.241\.0\.\d+$/);
    await settles('the client through the cluster IP', 'client', ip, 80, true);
    const stranger = get('stranger', ip, 80);
    assert.equal(stranger.ok, false, 'the stranger is refused through the Service too');
    assert.ok(stranger.ms < 2000, `refused at once (${stranger.ms} ms)`);
  });

  it('egress: deny all from the client cuts it off at its end; an ipBlock with an except lets it out only where allowed', async () => {
    const ip = ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}');
    const egress = (rules: string) => apply(`apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: client-egress}\nspec:\n  podSelector: {matchLabels: {role: client}}\n  policyTypes: [Egress]\n${rules}`);
    egress('  egress: []\n');
    await settles('the client cut off by its own egress policy', 'client', web, 8080, false);
    assert.equal(get('client', ip, 80).ok, false, 'through the Service as well');
    assert.equal(get('remote', web, 8080, 'team-b').ok, true, 'the policy is of the default namespace only');
    egress(`  egress:\n  - to: [{ipBlock: {cidr: 10.240.0.0/24, except: [10.240.0.0/31]}}]\n    ports: [{protocol: TCP, port: 8080}]\n`);
    await settles('the client out again through the ipBlock', 'client', web, 8080, true);
    await settles('and through the Service', 'client', ip, 80, true);
    egress(`  egress:\n  - to: [{ipBlock: {cidr: 10.240.0.0/24, except: [${web}/32]}}]\n`);
    await settles('the backend excepted from the block', 'client', web, 8080, false);
    const t = get('client', ip, 80);
    assert.equal(t.ok, false, 'through the Service as well');
    assert.ok(t.ms < 2000, `refused at once (${t.ms} ms)`);
  });

  it('when the last policy goes every chain and jump goes, and traffic flows again', async () => {
    ok('delete', 'networkpolicies', '--all');
    await waitFor('no policy rule left', () => (ourPolicyRules().length === 0 ? true : undefined), 15_000);
    assert.equal(get('stranger', web, 8080).ok, true);
    assert.doesNotMatch(filterRules(), new RegExp(`KUBE-ROUTER-\\w+-${TAG}`));
  });
});
