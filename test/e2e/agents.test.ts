/**
 * Agents joining a server (issue 13, item 2), for real: `podbay token create` on the server, a
 * `podbay agent` on a simulated second machine (a network namespace of this host, reaching the
 * server over a veth and a test bridge) joining with the token and the CA's hash through a
 * CertificateSigningRequest the server approves and signs, its Node Ready beside the server's,
 * a pod pinned to it running in its namespace and cgroup root, and bad tokens refused. The
 * agent's kubelet server (its serving certificate from a kubelet-serving CSR) answers real
 * kubectl's logs, exec and port-forward through the API server; the agent's own credential is
 * confined by the Node authorizer and NodeRestriction.
 *
 * This suite owns bridges pbag0 (the server's pods, 10.253.0.0/24), pbag1 (the agent's pods,
 * 10.253.1.0/24, inside the agent's netns) and pbag2 (the node link, 10.253.255.0/24: the host
 * is .1, the agent .11), netns pbag-node1 and the veth pbag-v1, the service range
 * 10.254.0.0/24 and ports 18720-18739 (the API on 18720, the agent's kubelet server on 18725,
 * kubectl port-forward's local end on 18726). Traffic goes only to the server on the link
 * address, the agent's kubelet server on its link address and to this suite's pods.
 *
 * The agent runs under `nsenter --net=...`, not `ip netns exec`: the latter also gives it a
 * mount namespace with a fresh /sys, without the cgroup hierarchies, and pods' mounts made
 * there would be invisible to the host; a second machine shares neither with the first, but
 * here they share the host's kernel, runc and /sys/fs/cgroup.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PODBAY, PodbayServer, PodSuite, agentJanitor as janitor, hostLeftovers, makeSimulatedHost, removeSimulatedHost, hostportChainsExist, keepRunNetnsAsFound, kubectlBinaries, kubectlHelpers, podOf, waitFor, watchReadyz, cgroupMounts, type PodWorld } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);
const NETNS = 'pbag-node1';
const LINK_BRIDGE = 'pbag2';
const HOST_VETH = 'pbag-v1';
const HOST_IP = '10.253.255.1';
const AGENT_IP = '10.253.255.11';
const API_PORT = 18720;
const KUBELET_PORT = 18725;
const FORWARD_PORT = 18726;
const PORTS = /^187[23]\d$/;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const inNode = (cmd: string, args: string[]) => spawnSync('nsenter', [`--net=/run/netns/${NETNS}`, cmd, ...args], { encoding: 'utf8' });

/** the simulated machine: netns + veth to the link bridge on the host */
const HOST = { netns: NETNS, linkBridge: LINK_BRIDGE, hostVeth: HOST_VETH, hostIP: HOST_IP, nodeIP: AGENT_IP };
const makeNode = () => makeSimulatedHost(HOST);
const removeNode = () => removeSimulatedHost(HOST);

/** a request to the API at the link address with a bearer token (the agent's view of the server) */
function requestAs(token: string, path: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: HOST_IP, port: API_PORT, path, ca: caPem, headers: { Authorization: `Bearer ${token}` }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('agents join a server', { timeout: 240_000 }, () => {
  const suite = new PodSuite('pbag0', '10.253.0.0/24', PORTS);
  let agentWork = '';
  let agentWorld = undefined as unknown as PodWorld;
  let agent: ChildProcess | undefined;
  let agentLog = '';
  let joinCommand: string[] = [];
  const server = () => suite.server;
  let restoreRunNetns = () => {};
  let runNetnsMountsBefore = 0;
  const { ok, k, create, pod } = kubectlHelpers(server, kc.path);

  before(async () => {
    for (const l of [LINK_BRIDGE, HOST_VETH, 'pbag0']) assert.ok(!sh('ip', ['-o', 'link']).includes(`${l}:`), `${l} exists before the suite: a previous run left it`);
    assert.equal(existsSync(`/run/netns/${NETNS}`), false, `netns ${NETNS} exists before the suite`);
    runNetnsMountsBefore = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/run/netns').length;
    restoreRunNetns = keepRunNetnsAsFound();
    makeNode();
    // PodSuite.start with a fixed port of this suite's range, the API also on the link address
    suite.hadHostportChains = hostportChainsExist();
    suite.work = mkdtempSync(join(tmpdir(), 'podbay-agents-'));
    suite.runDir = join(suite.work, 'run');
    const s = new PodbayServer();
    s.dataDir = mkdtempSync(join(tmpdir(), 'podbay-e2e-'));
    s.port = API_PORT;
    s.kubeconfig = join(s.dataDir, 'kubeconfig.yaml');
    await s.spawn([...suite.serverArgs(), '--service-cluster-ip-range', '10.254.0.0/24', '--advertise-address', HOST_IP, '--cluster-dns', 'none']);
    suite.server = s;
    agentWork = mkdtempSync(join(tmpdir(), 'podbay-agent1-'));
    agentWorld = { work: agentWork, runDir: join(agentWork, 'run'), bridge: 'pbag1', subnetPrefix: '10.253.1.', hostPorts: PORTS, hadHostportChains: suite.hadHostportChains, cgroupRoot: '/podbay-e2e-pbag1' };
  });

  after(async () => {
    try {
      if (agent && agent.exitCode === null) {
        // the agent's pods go first (a kubelet leaves its pods running when it stops)
        k('delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true');
        await waitFor('the agent\'s pods gone', () => !inNode('ip', ['-o', 'link']).stdout.includes('veth') || undefined, 30_000).catch(() => undefined);
        agent.kill('SIGTERM');
        await new Promise((r) => agent!.once('exit', r));
      }
      if (suite.server?.proc) await suite.finish(kc.path);
    } finally {
      // a run that failed with the agent stopped leaves its pods: removed here so the host stays
      // clean (the assertions above have already reported it)
      janitor(agentWorld);
      removeNode();
      restoreRunNetns();
      rmSync(agentWork, { recursive: true, force: true });
    }
    const links = sh('ip', ['-o', 'link']);
    for (const l of [LINK_BRIDGE, HOST_VETH, 'pbag1']) assert.ok(!links.includes(`${l}:`), `${l} left behind`);
    assert.equal(existsSync(`/run/netns/${NETNS}`), false);
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === '/run/netns').length, runNetnsMountsBefore, '/run/netns mounted as before');
  });

  it('token create prints a bootstrap token kept as a kube-system Secret; list shows it; the join command pins the CA', () => {
    const token = spawnSync(PODBAY, ['token', 'create', '--data-dir', server().dataDir], { encoding: 'utf8' });
    assert.equal(token.status, 0, token.stderr);
    const t = token.stdout.trim();
    assert.match(t, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    const secret = JSON.parse(ok('get', 'secret', '-n', 'kube-system', `bootstrap-token-${t.slice(0, 6)}`, '-o', 'json'));
    assert.equal(secret.type, 'bootstrap.kubernetes.io/token');
    const d = (key: string) => Buffer.from(secret.data[key], 'base64').toString();
    assert.equal(d('token-id'), t.slice(0, 6));
    assert.equal(d('token-secret'), t.slice(7));
    assert.equal(d('usage-bootstrap-authentication'), 'true');
    assert.equal(d('auth-extra-groups'), 'system:bootstrappers:kubeadm:default-node-token');
    const left = Date.parse(d('expiration')) - Date.now();
    assert.ok(left > 23.9 * 3_600_000 && left <= 24 * 3_600_000, `24h ttl by default, got ${left} ms`);
    const list = spawnSync(PODBAY, ['token', 'list', '--data-dir', server().dataDir], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^TOKEN\s+TTL\s+EXPIRES\s+USAGES\s+EXTRA GROUPS$/m);
    assert.match(list.stdout, new RegExp(`^${t.replace('.', '\\.')}\\s+23h\\s+\\S+\\s+authentication,signing\\s+system:bootstrappers:kubeadm:default-node-token$`, 'm'));
    const join = spawnSync(PODBAY, ['token', 'create', '--print-join-command', '--data-dir', server().dataDir], { encoding: 'utf8' });
    assert.equal(join.status, 0, join.stderr);
    const m = /^podbay agent --server (https:\/\/\S+) --token ([a-z0-9]{6}\.[a-z0-9]{16}) --ca-cert-hash (sha256:[0-9a-f]{64})$/.exec(join.stdout.trim());
    assert.ok(m, join.stdout);
    joinCommand = ['--server', `https://${HOST_IP}:${API_PORT}`, '--token', m[2], '--ca-cert-hash', m[3]];
  });

  it('the API refuses unknown, wrong, expired and deleted bootstrap tokens with 401, and lets a good one ask for a CSR only', async () => {
    const ca = server().caPem;
    assert.equal((await requestAs('abcdef.0123456789abcdef', '/api/v1/namespaces', ca)).status, 401);
    const good = joinCommand[3];
    assert.equal((await requestAs(`${good.slice(0, 7)}0000000000000000`, '/api/v1/namespaces', ca)).status, 401, 'right id, wrong secret');
    // a good token is authenticated, but may only read and write CSRs
    const forbidden = await requestAs(good, '/api/v1/namespaces/kube-system/secrets', ca);
    assert.equal(forbidden.status, 403);
    assert.match(JSON.parse(forbidden.body).message, new RegExp(`User "system:bootstrap:${good.slice(0, 6)}" cannot list resource "secrets"`));
    assert.equal((await requestAs(good, '/apis/certificates.k8s.io/v1/certificatesigningrequests', ca)).status, 200);
    const short = spawnSync(PODBAY, ['token', 'create', '--ttl', '1s', '--data-dir', server().dataDir], { encoding: 'utf8' }).stdout.trim();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await requestAs(short, '/apis/certificates.k8s.io/v1/certificatesigningrequests', ca)).status, 401, 'expired');
    const doomed = spawnSync(PODBAY, ['token', 'create', '--data-dir', server().dataDir], { encoding: 'utf8' }).stdout.trim();
    assert.equal((await requestAs(doomed, '/apis/certificates.k8s.io/v1/certificatesigningrequests', ca)).status, 200);
    const del = spawnSync(PODBAY, ['token', 'delete', doomed, '--data-dir', server().dataDir], { encoding: 'utf8' });
    assert.equal(del.status, 0, del.stderr);
    assert.equal(del.stdout.trim(), `bootstrap token "${doomed.slice(0, 6)}" deleted`);
    assert.equal((await requestAs(doomed, '/apis/certificates.k8s.io/v1/certificatesigningrequests', ca)).status, 401, 'deleted');
  });

  it('an agent with a wrong token exits naming the refusal, and takes the run dir\'s tmpfs it mounted off again', async () => {
    const bad = join(agentWork, 'bad-token');
    const runDir = join(bad, 'run');
    const wrong = ['--server', joinCommand[1], '--token', `${joinCommand[3].slice(0, 7)}0000000000000000`, '--ca-cert-hash', joinCommand[5]];
    const r = spawnSync('nsenter', [`--net=/run/netns/${NETNS}`, PODBAY, 'agent', ...wrong, '--node-name', NETNS, '--node-ip', AGENT_IP, '--data-dir', join(bad, 'data'), '--run-dir', runDir, '--cni-bridge', 'pbag1', '--pod-cidr', '10.253.1.0/24', '--kubelet-port', String(KUBELET_PORT), '--cgroup-root', agentWorld.cgroupRoot], { encoding: 'utf8', timeout: 30_000 });
    try {
      assert.notEqual(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stderr, /401|Unauthorized/);
      assert.doesNotMatch(r.stderr, /after the failed start/, 'every step was undone without an error');
      // the run dir was mounted (it is on /tmp's disk and was empty) and is a plain directory again
      assert.ok(existsSync(runDir));
      assert.deepEqual(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(bad)), []);
    } finally {
      janitor({ ...agentWorld, work: bad, runDir });
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('an agent in its own netns joins: CSR approved and issued, two Ready nodes, its Lease renewed', async () => {
    // the busybox image goes into the agent's own image store before it starts
    const { buildBusyboxRootfs, writeDockerArchive } = await import('../../src/image/archive-build.js');
    const rootfs = join(agentWork, 'busybox-rootfs');
    await buildBusyboxRootfs(rootfs);
    await writeDockerArchive(join(agentWork, 'busybox.tar'), { repoTags: ['busybox:1.36'], layers: [rootfs], config: { cmd: ['sh'] } });
    sh(PODBAY, ['image', 'load', '-i', join(agentWork, 'busybox.tar'), '--data-dir', join(agentWork, 'data')]);
    const ready = watchReadyz(server());
    agent = spawn('nsenter', [`--net=/run/netns/${NETNS}`, PODBAY, 'agent', ...joinCommand, '--node-name', NETNS, '--node-ip', AGENT_IP, '--data-dir', join(agentWork, 'data'), '--run-dir', agentWorld.runDir, '--cni-bridge', 'pbag1', '--pod-cidr', '10.253.1.0/24', '--kubelet-port', String(KUBELET_PORT), '--cgroup-root', agentWorld.cgroupRoot, '--registries', join(server().dataDir, 'registries-offline.yaml'), '--disable-default-registry-endpoint'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' } });
    agent.stdout!.on('data', (d) => (agentLog += d));
    agent.stderr!.on('data', (d) => (agentLog += d));
    await waitFor('the agent joined', () => agentLog.includes('joined') || (agent!.exitCode !== null && assert.fail(`agent exited ${agent!.exitCode}:\n${agentLog}`)), 60_000);
    const csrs = JSON.parse(ok('get', 'csr', '-o', 'json')).items;
    assert.equal(csrs.length, 2, JSON.stringify(csrs));
    const csr = csrs.find((c: any) => c.spec.signerName === 'kubernetes.io/kube-apiserver-client-kubelet');
    assert.equal(csr.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
    assert.match(csr.spec.username, /^system:bootstrap:[a-z0-9]{6}$/);
    assert.ok(csr.spec.groups.includes('system:bootstrappers'));
    assert.deepEqual(csr.status.conditions.map((c: any) => [c.type, c.status, c.reason]), [['Approved', 'True', 'AutoApproved']]);
    const row = ok('get', 'csr', csr.metadata.name, '--no-headers');
    assert.match(row, /kubernetes\.io\/kube-apiserver-client-kubelet\s+system:bootstrap:\S+\s+.*Approved,Issued/);
    // the kubelet server's certificate: asked for by the node itself, for its own address and name
    const serving = csrs.find((c: any) => c.spec.signerName === 'kubernetes.io/kubelet-serving');
    assert.ok(serving, JSON.stringify(csrs));
    assert.equal(serving.spec.username, `system:node:${NETNS}`);
    assert.deepEqual([...serving.spec.usages].sort(), ['digital signature', 'key encipherment', 'server auth']);
    assert.match(ok('get', 'csr', serving.metadata.name, '--no-headers'), /kubernetes\.io\/kubelet-serving\s+system:node:pbag-node1\s+.*Approved,Issued/);
    const servingCert = new X509Certificate(readFileSync(join(agentWork, 'data', 'pki', 'kubelet-server.crt')));
    assert.equal(servingCert.subjectAltName, `IP Address:${AGENT_IP}, DNS:${NETNS}`);
    assert.ok(servingCert.checkIssued(new X509Certificate(server().caPem)));
    // the credential: a cert for system:node:pbag-node1 from the server's CA, in a kubeconfig kubectl can use
    const nodeKubeconfig = join(agentWork, 'data', 'kubelet.kubeconfig');
    const who = spawnSync(kc.path, ['--kubeconfig', nodeKubeconfig, '--server', `https://127.0.0.1:${API_PORT}`, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username} {.status.userInfo.groups}'], { encoding: 'utf8', env: { ...process.env, HOME: agentWork } });
    assert.equal(who.status, 0, who.stderr);
    assert.equal(who.stdout, `system:node:${NETNS} ["system:nodes","system:authenticated"]`);
    await waitFor('two Ready nodes', () => {
      const lines = ok('get', 'nodes', '--no-headers').trim().split('\n');
      return lines.length === 2 && lines.every((l) => /\sReady\s/.test(l)) ? lines : undefined;
    }, 30_000);
    const node = JSON.parse(ok('get', 'node', NETNS, '-o', 'json'));
    assert.equal(node.spec.podCIDR, '10.253.1.0/24');
    assert.deepEqual(node.status.addresses, [{ type: 'InternalIP', address: AGENT_IP }, { type: 'Hostname', address: NETNS }]);
    assert.equal(node.metadata.labels['kubernetes.io/hostname'], NETNS);
    assert.equal(node.status.daemonEndpoints.kubeletEndpoint.Port, KUBELET_PORT);
    const lease = JSON.parse(ok('get', 'lease', '-n', 'kube-node-lease', NETNS, '-o', 'json'));
    assert.equal(lease.spec.holderIdentity, NETNS);
    assert.equal(lease.spec.leaseDurationSeconds, 40);
    assert.ok(Date.now() - Date.parse(lease.spec.renewTime) < 15_000, `renewed lately: ${lease.spec.renewTime}`);
    const r = await ready.stop();
    assert.deepEqual(r.failures, []);
    assert.ok(r.worstMs < 1000, `readyz worst ${r.worstMs} ms`);
  });

  it('a pod pinned to the agent runs there: its address from the agent range, its bridge and cgroup the agent\'s', async () => {
    ok('create', 'configmap', 'agent-cm', '--from-literal=greeting=hello-from-config');
    ok('create', 'configmap', 'not-agent-cm', '--from-literal=x=y');
    // c: the one logs, exec and port-forward use (the default container); ticker: one to attach to
    create(podOf('on-agent', {
      nodeName: NETNS,
      containers: [
        { name: 'c', image: 'busybox:1.36', env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'agent-cm', key: 'greeting' } } }], command: ['sh', '-c', 'echo "started $GREETING"; echo second line; while true; do echo hello-from-agent | nc -l -p 8080; done & exec sleep 3600'] },
        { name: 'ticker', image: 'busybox:1.36', command: ['sh', '-c', 'while true; do echo tick; sleep 1; done'] },
      ],
    }, { annotations: { 'kubectl.kubernetes.io/default-container': 'c' } }));
    const p = await waitFor('on-agent running', () => {
      const p = pod('on-agent');
      return p.status.phase === 'Running' ? p : p.status.phase === 'Failed' ? assert.fail(JSON.stringify(p.status)) : undefined;
    }, 60_000).catch((e) => assert.fail(`${e.message}\npod: ${JSON.stringify(pod('on-agent').status)}\nagent log:\n${agentLog}`));
    assert.equal(p.status.hostIP, AGENT_IP);
    assert.match(p.status.podIP, /^10\.253\.1\.\d+$/);
    // the agent's bridge is inside its netns, not on the host
    assert.ok(!sh('ip', ['-o', 'link']).includes('pbag1:'), 'pbag1 is not on the host');
    assert.match(inNode('ip', ['-o', 'addr', 'show', 'pbag1']).stdout, /inet 10\.253\.1\.1\/24/);
    // the pod answers on its port from its node's netns
    const dial = `const s=require('net').connect(8080,'${p.status.podIP}');let b='';s.on('data',d=>b+=d);s.on('end',()=>{process.stdout.write(b);});s.on('error',e=>{process.stdout.write('ERR '+e.code);});s.setTimeout(3000,()=>{process.stdout.write('TIMEOUT');s.destroy();});`;
    const answer = await waitFor('the pod answers on its node', () => {
      const out = inNode(process.execPath, ['-e', dial]).stdout;
      return out.includes('hello-from-agent') ? out : undefined;
    }, 15_000);
    assert.equal(answer.trim(), 'hello-from-agent');
    // its process is in the agent's cgroup root
    const pidsRoot = cgroupMounts().map((m) => join(m, agentWorld.cgroupRoot)).find((d) => existsSync(d) && d.includes('pids'));
    assert.ok(pidsRoot, 'the agent made its cgroup root');
    const procs = (readdirSync(pidsRoot, { recursive: true }) as string[]).filter((f) => f.endsWith('cgroup.procs')).flatMap((f) => readFileSync(join(pidsRoot, f), 'utf8').split('\n').filter(Boolean));
    assert.ok(procs.some((pid) => existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\x003600')), `a sleep 3600 among ${procs.join(',')}`);
    // a pod for the server's node stays on the server: the agent's kubelet leaves it alone
    const others = k('get', 'pods', '--field-selector', `spec.nodeName=${NETNS}`, '--no-headers').stdout.trim().split('\n');
    assert.equal(others.length, 1);
  });

  it("kubectl logs, exec, attach and port-forward of the agent's pod go through the server to the agent's kubelet server", async () => {
    const ready = watchReadyz(server());
    // logs (the kubelet server's /containerLogs), with the options kubectl sends
    assert.equal(ok('logs', 'on-agent'), 'started hello-from-config\nsecond line\n');
    assert.equal(ok('logs', 'on-agent', '--tail=1'), 'second line\n');
    const stamped = ok('logs', 'on-agent', '-c', 'c', '--timestamps', '--limit-bytes=40');
    assert.match(stamped, /^\d{4}-\d\d-\d\dT[\d:.]+Z started h/);
    assert.equal(stamped.length, 40, 'limitBytes counts the timestamps too, as the kubelet does');
    const missing = k('logs', 'on-agent', '-c', 'nope');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /container nope is not valid for pod on-agent/, missing.stderr);
    // a followed log ends when kubectl goes away, and the kubelet server's stream with it
    const follow = spawn(kc.path, ['--kubeconfig', server().kubeconfig, 'logs', '-f', 'on-agent'], { env: { ...process.env, KUBECONFIG: '', HOME: server().dataDir } });
    let followed = '';
    follow.stdout.on('data', (d) => (followed += d));
    await waitFor('the followed log', () => followed.includes('second line') || undefined, 15_000);
    follow.kill('SIGTERM');
    await new Promise((r) => follow.once('exit', r));
    // exec: its output, its exit code, stdin
    assert.equal(ok('exec', 'on-agent', '--', 'cat', '/etc/hostname').trim(), 'on-agent');
    assert.equal(ok('exec', 'on-agent', '--', 'sh', '-c', 'echo $GREETING').trim(), 'hello-from-config');
    assert.equal(k('exec', 'on-agent', '--', 'sh', '-c', 'exit 3').code, 3);
    const piped = server().kubectl(kc.path, ['exec', '-i', 'on-agent', '--', 'sh', '-c', 'tr a-z A-Z'], 'through the agent\n');
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'THROUGH THE AGENT\n');
    const bad = k('exec', 'on-agent', '--', '/no/such/binary');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no such file or directory|not found/i, bad.stderr);
    // attach: the ticker's output as it comes
    const attach = spawn(kc.path, ['--kubeconfig', server().kubeconfig, 'attach', 'on-agent', '-c', 'ticker'], { env: { ...process.env, KUBECONFIG: '', HOME: server().dataDir } });
    let attached = '';
    attach.stdout.on('data', (d) => (attached += d));
    attach.stderr.on('data', (d) => (attached += d));
    try {
      await waitFor('ticks through kubectl attach', () => (attached.match(/^tick$/gm) ?? []).length >= 2 || (attach.exitCode !== null && assert.fail(attached)), 15_000);
    } finally {
      attach.kill('SIGTERM');
      await new Promise((r) => (attach.exitCode !== null ? r(undefined) : attach.once('exit', r)));
    }
    // port-forward: 127.0.0.1:FORWARD_PORT on this host to the pod's 8080 on the agent
    const pf = spawn(kc.path, ['--kubeconfig', server().kubeconfig, 'port-forward', '--address', '127.0.0.1', 'pod/on-agent', `${FORWARD_PORT}:8080`], { env: { ...process.env, KUBECONFIG: '', HOME: server().dataDir } });
    let pfOut = '';
    pf.stdout.on('data', (d) => (pfOut += d));
    pf.stderr.on('data', (d) => (pfOut += d));
    try {
      await waitFor('port-forward listening', () => pfOut.includes('Forwarding from') || (pf.exitCode !== null && assert.fail(pfOut)), 15_000);
      const answer = await new Promise<string>((resolve, reject) => {
        const c = net.connect(FORWARD_PORT, '127.0.0.1');
        let b = '';
        c.on('data', (d) => (b += d));
        c.on('end', () => resolve(b));
        c.on('error', reject);
        c.setTimeout(10_000, () => c.destroy(new Error(`no answer through port-forward: ${pfOut}`)));
      });
      assert.equal(answer.trim(), 'hello-from-agent');
    } finally {
      pf.kill('SIGTERM');
      await new Promise((r) => (pf.exitCode !== null ? r(undefined) : pf.once('exit', r)));
    }
    // nodes/proxy of the agent's node: answered by its kubelet server
    assert.equal(ok('get', '--raw', `/api/v1/nodes/${NETNS}/proxy/healthz`), 'ok');
    assert.deepEqual(JSON.parse(ok('get', '--raw', `/api/v1/nodes/${NETNS}/proxy/pods`)).items.map((p: any) => p.metadata.name), ['on-agent']);
    const r = await ready.stop();
    assert.deepEqual(r.failures, []);
    assert.ok(r.worstMs < 1000, `readyz worst ${r.worstMs} ms`);
  });

  it("the agent's kubelet server lets in only the API server", async () => {
    const pki = join(agentWork, 'data', 'pki');
    const call = (cert?: { cert: string; key: string }) =>
      new Promise<number>((resolve, reject) => {
        const req = https.get({ host: AGENT_IP, port: KUBELET_PORT, path: '/containerLogs/default/on-agent/c', ca: server().caPem, ...cert, agent: false, timeout: 5000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
      });
    // from the host, over the link: anonymous 401, the node's own client certificate 403
    assert.equal(await call(), 401);
    assert.equal(await call({ cert: readFileSync(join(pki, 'kubelet-client.crt'), 'utf8'), key: readFileSync(join(pki, 'kubelet-client.key'), 'utf8') }), 403);
    // the API server's kubelet client certificate, as kubeadm names it
    const apiPki = join(server().dataDir, 'pki');
    const kcCert = new X509Certificate(readFileSync(join(apiPki, 'apiserver-kubelet-client.crt')));
    assert.match(kcCert.subject, /CN=kube-apiserver-kubelet-client/);
    assert.equal(await call({ cert: readFileSync(join(apiPki, 'apiserver-kubelet-client.crt'), 'utf8'), key: readFileSync(join(apiPki, 'apiserver-kubelet-client.key'), 'utf8') }), 200);
  });

  it("the agent's own credential: the Node authorizer and NodeRestriction confine it to its pods", () => {
    const nodeKubeconfig = join(agentWork, 'data', 'kubelet.kubeconfig');
    const asNode = (...args: string[]) => {
      const r = spawnSync(kc.path, ['--kubeconfig', nodeKubeconfig, '--server', `https://127.0.0.1:${API_PORT}`, ...args], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '', HOME: agentWork } });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    // what its pod uses: yes
    const cm = asNode('get', 'configmap', 'agent-cm', '-o', 'jsonpath={.data.greeting}');
    assert.equal(cm.code, 0, cm.stderr);
    assert.equal(cm.stdout, 'hello-from-config');
    // a configmap no pod of its uses, a secret of another namespace, every secret: no
    const other = asNode('get', 'configmap', 'not-agent-cm');
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, new RegExp(`configmaps "not-agent-cm" is forbidden: User "system:node:${NETNS}" cannot get resource "configmaps" in API group "" in the namespace "default": no relationship found between node '${NETNS}' and this object`));
    const tokenSecret = `bootstrap-token-${joinCommand[3].slice(0, 6)}`;
    const secret = asNode('get', 'secret', '-n', 'kube-system', tokenSecret);
    assert.notEqual(secret.code, 0);
    assert.match(secret.stderr, new RegExp(`secrets "${tokenSecret}" is forbidden: User "system:node:${NETNS}" cannot get resource "secrets" in API group "" in the namespace "kube-system": no relationship found between node '${NETNS}' and this object`));
    const all = asNode('get', 'secrets', '-A');
    assert.notEqual(all.code, 0);
    assert.match(all.stderr, /cannot list resource "secrets"/);
    // cluster-wide reads the kubelet needs: yes
    assert.equal(asNode('get', 'pods', '-A').code, 0);
    assert.equal(asNode('get', 'nodes').code, 0);
    assert.equal(asNode('get', 'services', '-A').code, 0);
    // another node's object: no (the server's own Node)
    const serverNode = ok('get', 'nodes', '-o', 'name').trim().split('\n').map((n) => n.replace('node/', '')).find((n) => n !== NETNS)!;
    const label = asNode('label', 'node', serverNode, 'stolen=yes');
    assert.notEqual(label.code, 0);
    assert.match(label.stderr, new RegExp(`nodes "${serverNode}" is forbidden: node "${NETNS}" is not allowed to modify node "${serverNode}"`));
    const lease = asNode('annotate', 'lease', '-n', 'kube-node-lease', serverNode, 'x=y');
    assert.notEqual(lease.code, 0);
    assert.match(lease.stderr, /can only access node lease with the same name as the requesting node/);
    // its own Node: yes (and not its taints)
    assert.equal(asNode('label', 'node', NETNS, 'podbay.test/mine=yes').code, 0);
    const taint = asNode('taint', 'node', NETNS, 'mine=yes:NoSchedule');
    assert.notEqual(taint.code, 0);
    assert.match(taint.stderr, new RegExp(`node "${NETNS}" is not allowed to modify taints`));
    // tokens: for the account its pod runs as, bound to that pod; never a free-standing one
    const unbound = asNode('create', 'token', 'default');
    assert.notEqual(unbound.code, 0);
    assert.match(unbound.stderr, /serviceaccounts "default" is forbidden: node requested token not bound to a pod/);
    const uid = pod('on-agent').metadata.uid;
    const bound = asNode('create', 'token', 'default', '--bound-object-kind', 'Pod', '--bound-object-name', 'on-agent', '--bound-object-uid', uid);
    assert.equal(bound.code, 0, bound.stderr);
    assert.match(bound.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    // pods: only mirror pods may be made, and a pod of the server's node is not its to delete
    const made = spawnSync(kc.path, ['--kubeconfig', nodeKubeconfig, '--server', `https://127.0.0.1:${API_PORT}`, 'create', '-f', '-'], { input: JSON.stringify(podOf('sneaky', { nodeName: NETNS, containers: [{ name: 'c', image: 'busybox:1.36' }] })), encoding: 'utf8', env: { ...process.env, KUBECONFIG: '', HOME: agentWork } });
    assert.notEqual(made.status, 0);
    assert.match(made.stderr, new RegExp(`pod does not have "kubernetes.io/config.mirror" annotation, node "${NETNS}" can only create mirror pods`));
  });

  it("the agent's pod is deleted through the server", async () => {
    ok('delete', 'pod', 'on-agent', '--wait=true');
    await waitFor('on-agent gone', () => k('get', 'pod', 'on-agent').code !== 0 || undefined, 30_000);
    ok('delete', 'configmap', 'agent-cm', 'not-agent-cm');
  });

  it('the agent stops cleanly and leaves nothing in its netns or on the host', async () => {
    agent!.kill('SIGTERM');
    const code = await new Promise((r) => agent!.once('exit', r));
    assert.equal(code, 0, agentLog);
    assert.ok(!inNode('ip', ['-o', 'link']).stdout.includes('pbag1'), 'the agent removed its bridge');
    const nat = inNode('iptables-save', []).stdout;
    assert.ok(!nat.includes('10.253.1.'), `iptables in the agent's netns:\n${nat}`);
    assert.deepEqual(hostLeftovers(agentWorld), []);
  });
});
