/**
 * Agents joining a server (issue 13, item 2), for real: `podbay token create` on the server, a
 * `podbay agent` on a simulated second machine (a network namespace of this host, reaching the
 * server over a veth and a test bridge) joining with the token and the CA's hash through a
 * CertificateSigningRequest the server approves and signs, its Node Ready beside the server's,
 * a pod pinned to it running in its namespace and cgroup root, and bad tokens refused.
 *
 * This suite owns bridges pbag0 (the server's pods, 10.253.0.0/24), pbag1 (the agent's pods,
 * 10.253.1.0/24, inside the agent's netns) and pbag2 (the node link, 10.253.255.0/24: the host
 * is .1, the agent .11), netns pbag-node1 and the veth pbag-v1, the service range
 * 10.254.0.0/24 and ports 18720-18739 (the API on 18720). Traffic goes only to the server on
 * the link address and to this suite's pods.
 *
 * The agent runs under `nsenter --net=...`, not `ip netns exec`: the latter also gives it a
 * mount namespace with a fresh /sys, without the cgroup hierarchies, and pods' mounts made
 * there would be invisible to the host; a second machine shares neither with the first, but
 * here they share the host's kernel, runc and /sys/fs/cgroup.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PODBAY, PodbayServer, PodSuite, hostLeftovers, hostportChainsExist, keepRunNetnsAsFound, kubectlBinaries, kubectlHelpers, podOf, waitFor, watchReadyz, cgroupMounts, agentJanitor as janitor, type PodWorld } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);
const NETNS = 'pbag-node1';
const LINK_BRIDGE = 'pbag2';
const HOST_VETH = 'pbag-v1';
const HOST_IP = '10.253.255.1';
const AGENT_IP = '10.253.255.11';
const API_PORT = 18720;
const PORTS = /^187[23]\d$/;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const inNode = (cmd: string, args: string[]) => spawnSync('nsenter', [`--net=/run/netns/${NETNS}`, cmd, ...args], { encoding: 'utf8' });

/** the simulated machine: netns + veth to the link bridge on the host */
function makeNode(): void {
  sh('ip', ['link', 'add', LINK_BRIDGE, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', LINK_BRIDGE]);
  sh('ip', ['link', 'set', LINK_BRIDGE, 'up']);
  sh('ip', ['netns', 'add', NETNS]);
  sh('ip', ['link', 'add', HOST_VETH, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NETNS]);
  sh('ip', ['link', 'set', HOST_VETH, 'master', LINK_BRIDGE, 'up']);
  sh('ip', ['-n', NETNS, 'addr', 'add', `${AGENT_IP}/24`, 'dev', 'eth0']);
  sh('ip', ['-n', NETNS, 'link', 'set', 'eth0', 'up']);
  sh('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
}

function removeNode(): void {
  spawnSync('ip', ['netns', 'del', NETNS]);
  spawnSync('ip', ['link', 'del', HOST_VETH]);
  spawnSync('ip', ['link', 'del', LINK_BRIDGE]);
}

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

  it('an agent in its own netns joins: CSR approved and issued, two Ready nodes, its Lease renewed', async () => {
    // the busybox image goes into the agent's own image store before it starts
    const { buildBusyboxRootfs, writeDockerArchive } = await import('../../src/image/archive-build.js');
    const rootfs = join(agentWork, 'busybox-rootfs');
    await buildBusyboxRootfs(rootfs);
    await writeDockerArchive(join(agentWork, 'busybox.tar'), { repoTags: ['busybox:1.36'], layers: [rootfs], config: { cmd: ['sh'] } });
    sh(PODBAY, ['image', 'load', '-i', join(agentWork, 'busybox.tar'), '--data-dir', join(agentWork, 'data')]);
    const ready = watchReadyz(server());
    agent = spawn('nsenter', [`--net=/run/netns/${NETNS}`, PODBAY, 'agent', ...joinCommand, '--node-name', NETNS, '--node-ip', AGENT_IP, '--data-dir', join(agentWork, 'data'), '--run-dir', agentWorld.runDir, '--cni-bridge', 'pbag1', '--pod-cidr', '10.253.1.0/24', '--cgroup-root', agentWorld.cgroupRoot, '--registries', join(server().dataDir, 'registries-offline.yaml'), '--disable-default-registry-endpoint'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' } });
    agent.stdout!.on('data', (d) => (agentLog += d));
    agent.stderr!.on('data', (d) => (agentLog += d));
    await waitFor('the agent joined', () => agentLog.includes('joined') || (agent!.exitCode !== null && assert.fail(`agent exited ${agent!.exitCode}:\n${agentLog}`)), 60_000);
    const csrs = JSON.parse(ok('get', 'csr', '-o', 'json')).items;
    assert.equal(csrs.length, 1, JSON.stringify(csrs));
    const csr = csrs[0];
    assert.equal(csr.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
    assert.match(csr.spec.username, /^system:bootstrap:[a-z0-9]{6}$/);
    assert.ok(csr.spec.groups.includes('system:bootstrappers'));
    assert.deepEqual(csr.status.conditions.map((c: any) => [c.type, c.status, c.reason]), [['Approved', 'True', 'AutoApproved']]);
    const row = ok('get', 'csr', csr.metadata.name, '--no-headers');
    assert.match(row, /kubernetes\.io\/kube-apiserver-client-kubelet\s+system:bootstrap:\S+\s+.*Approved,Issued/);
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
    const lease = JSON.parse(ok('get', 'lease', '-n', 'kube-node-lease', NETNS, '-o', 'json'));
    assert.equal(lease.spec.holderIdentity, NETNS);
    assert.equal(lease.spec.leaseDurationSeconds, 40);
    assert.ok(Date.now() - Date.parse(lease.spec.renewTime) < 15_000, `renewed lately: ${lease.spec.renewTime}`);
    const r = await ready.stop();
    assert.deepEqual(r.failures, []);
    assert.ok(r.worstMs < 1000, `readyz worst ${r.worstMs} ms`);
  });

  it('a pod pinned to the agent runs there: its address from the agent range, its bridge and cgroup the agent\'s', async () => {
    create(podOf('on-agent', { nodeName: NETNS, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', 'while true; do echo hello-from-agent | nc -l -p 8080; done & exec sleep 3600'] }] }));
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
    // logs and exec need a kubelet server on the agent, which it does not have yet: refused at
    // once with 501 naming the node, never answered by the server's own kubelet, never hanging
    for (const [what, args] of [['log', ['logs', 'on-agent']], ['exec', ['exec', 'on-agent', '--', 'true']]] as const) {
      const t0 = Date.now();
      const r = k(...args);
      assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} should fail`);
      assert.match(r.stderr, new RegExp(`pods/${what} for pod on-agent on node ${NETNS} is not implemented`), r.stderr);
      assert.ok(Date.now() - t0 < 10_000, `kubectl ${args[0]} answered in ${Date.now() - t0} ms`);
    }
    // a pod for the server's node stays on the server: the agent's kubelet leaves it alone
    const others = k('get', 'pods', '--field-selector', `spec.nodeName=${NETNS}`, '--no-headers').stdout.trim().split('\n');
    assert.equal(others.length, 1);
    ok('delete', 'pod', 'on-agent', '--wait=true');
    await waitFor('on-agent gone', () => k('get', 'pod', 'on-agent').code !== 0 || undefined, 30_000);
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
