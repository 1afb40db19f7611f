/**
 * Three podbay servers on one 3-member etcd (Debian's etcd-server), API-only (--no-kubelet), on
 * loopback ports this suite owns (servers 18760-18762, a refused fourth 18763, etcd
 * 18770-18775), with short leader-election timings: one server runs the controllers, any
 * server takes writes, and when the leader is SIGKILLed another takes the controllers over
 * within the documented time with no acknowledged write lost, and the agents' client (the one
 * `podbay agent --server URL1,URL2,URL3` uses) moves its watch and its writes to a survivor.
 * A real `podbay agent` in its own netns (the second describe) keeps its node alive and runs a
 * new pod after the server it talked to is killed. The second and third servers
 * share the first one's CA and service-account key (copied, as README says); a server with its
 * own is refused.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PODBAY, PodbayServer, agentJanitor, hostLeftovers, makeSimulatedHost, removeSimulatedHost, hostportChainsExist, keepRunNetnsAsFound, kubectlBinaries, podOf, waitFor, type PodWorld } from './harness.js';
import { startEtcd, type EtcdCluster } from '../../src/store/etcd-harness.test-util.js';
import { HttpsClient } from '../../src/client/https.js';
import { Informer } from '../../src/client/informer.js';
import { resourceInfo } from '../../src/api/registry.js';

const SERVER_PORTS = [18760, 18761, 18762];
const REFUSED_PORT = 18763;
const ETCD_BASE_PORT = 18770;
const LEASE_S = 3;
const RETRY_S = 0.5;
const TIMINGS = ['--leader-elect-lease-duration', `${LEASE_S}s`, '--leader-elect-renew-deadline', '2s', '--leader-elect-retry-period', `${RETRY_S * 1000}ms`];
/** README: a dead leader's lease is taken within lease-duration + 2 x 2.2 x retry-period */
const TAKEOVER_BOUND_MS = (LEASE_S + 2 * 2.2 * RETRY_S) * 1000;
const SHARED_PKI = ['ca.crt', 'ca.key', 'sa.key', 'admin.token'];

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** the identity a server's log says acquired `lease` */
function acquired(s: PodbayServer, lease: string): string[] {
  const re = new RegExp(`leader election: (\\S+) acquired lease kube-system/${lease}`, 'g');
  return [...s.log.matchAll(re)].map((m) => m[1]);
}

/** a server of the cluster on `etcd`, with the first one's CA, service-account key and admin token when `pkiFrom` is given (README's second server) */
async function startHaServer(dataDir: string, port: number, etcd: EtcdCluster, pkiFrom?: string, extra: string[] = []): Promise<PodbayServer> {
  const s = new PodbayServer();
  s.dataDir = dataDir;
  s.port = port;
  s.kubeconfig = join(s.dataDir, 'kubeconfig.yaml');
  mkdirSync(join(s.dataDir, 'pki'), { recursive: true, mode: 0o700 });
  if (pkiFrom) for (const f of SHARED_PKI) copyFileSync(join(pkiFrom, 'pki', f), join(s.dataDir, 'pki', f));
  await s.spawn(['--no-kubelet', '--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','), ...TIMINGS, ...extra]);
  return s;
}

describe('several servers on one etcd', () => {
  let etcd: EtcdCluster;
  let root: string;
  const servers: PodbayServer[] = [];
  let killed: PodbayServer | undefined;
  const kubectl = kubectlBinaries()[0]!.path;
  const names = ['a', 'b', 'c'];

  const startServer = (i: number, pkiFrom?: string) => startHaServer(join(root, names[i]), SERVER_PORTS[i], etcd, pkiFrom);

  const lease = async (s: PodbayServer, name: string) => (await s.request('GET', `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`)).json;

  before(async () => {
    for (const p of [...SERVER_PORTS, REFUSED_PORT, ...Array.from({ length: 6 }, (_, i) => ETCD_BASE_PORT + i)]) {
      assert.ok(await portFree(p), `port ${p} of this suite's range is in use on 127.0.0.1: stop what holds it (ss -ltnp 'sport = :${p}')`);
    }
    root = mkdtempSync(join(tmpdir(), 'podbay-ha-'));
    etcd = await startEtcd(3, { basePort: ETCD_BASE_PORT });
    servers.push(await startServer(0));
    // both started at once; one that fails must not leave the other running past after()
    const started = await Promise.allSettled([startServer(1, servers[0].dataDir), startServer(2, servers[0].dataDir)]);
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
  });

  after(async () => {
    try {
      for (const s of servers) if (s !== killed) await s.teardown();
    } finally {
      await etcd?.stop();
      if (root) rmSync(root, { recursive: true, force: true });
    }
  });

  it('exactly one server holds the kube-controller-manager Lease; every server holds its identity Lease; a server with a CA of its own is refused', async () => {
    const holder = await waitFor('a holder of kube-system/kube-controller-manager', async () => (await lease(servers[1], 'kube-controller-manager'))?.spec?.holderIdentity || undefined, 20_000);
    const claims = servers.map((s) => acquired(s, 'kube-controller-manager'));
    assert.deepEqual(claims.filter((c) => c.length).length, 1, `one server acquired it: ${JSON.stringify(claims)}`);
    assert.deepEqual(claims.flat(), [holder]);
    const l = await lease(servers[2], 'kube-controller-manager');
    assert.equal(l.spec.leaseDurationSeconds, LEASE_S);
    assert.equal(l.spec.leaseTransitions, 0);
    // no kubelet: no scheduler, so no scheduler lease
    assert.equal((await servers[0].request('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler')).status, 404);
    const ids = servers[0].kubectl(kubectl, ['get', 'leases', '-n', 'kube-system', '-l', 'apiserver.kubernetes.io/identity=kube-apiserver', '-o', 'name']);
    assert.equal(ids.code, 0, ids.stderr);
    assert.equal(ids.stdout.trim().split('\n').length, 3, ids.stdout);
    // the admin token is shared too: one kubeconfig's token works on every server
    assert.equal((await servers[2].request('GET', '/api/v1/namespaces/default', { token: servers[0].token })).status, 200);

    const own = join(root, 'own-pki');
    const r = spawnSync(PODBAY, ['server', '--data-dir', own, '--listen', `127.0.0.1:${REFUSED_PORT}`, '--no-kubelet', '--ingress-http-port', '0', '--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(',')], { encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /differ from those of the cluster it joins \(ConfigMap kube-system\/podbay-cluster-pki\)/);
    assert.match(r.stderr, /copy ca\.crt, ca\.key, sa\.key and admin\.token from an existing server's DIR\/pki/);
    assert.equal(await portFree(REFUSED_PORT), true, 'the refused server never served');
  });

  it('a Deployment created through a follower gets its ReplicaSet and pods from the leader', async () => {
    const holder = (await lease(servers[0], 'kube-controller-manager')).spec.holderIdentity;
    const follower = servers.find((s) => !acquired(s, 'kube-controller-manager').includes(holder))!;
    const other = servers.find((s) => s !== follower)!;
    const r = follower.kubectl(kubectl, ['create', 'deployment', 'web', '--image=busybox:stable', '--replicas=2']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(
      'the ReplicaSet of web and its 2 pods',
      () => {
        const rs = other.kubectl(kubectl, ['get', 'rs', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.ownerReferences[0].name}']).stdout;
        const pods = other.kubectl(kubectl, ['get', 'pods', '-l', 'app=web', '-o', 'name']).stdout.trim().split('\n').filter(Boolean);
        return rs === 'web' && pods.length === 2;
      },
      20_000,
    );
  });

  it('SIGKILL the leader: another takes the lease within the documented time, runs the controllers, and no acknowledged write is lost', async () => {
    const N = 30;
    for (let i = 0; i < N; i++) {
      const s = servers[i % 3];
      const res = await s.request('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `acked-${i}` }, data: { n: String(i), via: String(s.port) } }) });
      assert.equal(res.status, 201, res.body);
    }
    const before = await lease(servers[0], 'kube-controller-manager');
    const leader = servers.find((s) => acquired(s, 'kube-controller-manager').includes(before.spec.holderIdentity))!;
    const survivors = servers.filter((s) => s !== leader);
    // an agent's client, talking to the leader first, watching ConfigMaps through it
    const url = (s: PodbayServer) => `https://127.0.0.1:${s.port}`;
    const agentClient = new HttpsClient({ server: url(leader), servers: servers.map(url), caPem: leader.caPem, token: leader.token });
    const informer = new Informer(agentClient, resourceInfo('configmaps')!, { namespace: 'default', backoffMs: { initial: 100, max: 1000 } });
    await informer.start();
    assert.equal(informer.cache.list().filter((c: any) => c.metadata.name.startsWith('acked-')).length, N);
    const exited = new Promise((r) => leader.proc!.once('exit', r));
    leader.proc!.kill('SIGKILL');
    const t0 = Date.now();
    killed = leader;
    await exited;

    const next = await waitFor(
      'a new holder of kube-controller-manager',
      async () => {
        const l = await lease(survivors[0], 'kube-controller-manager');
        return l?.spec?.holderIdentity && l.spec.holderIdentity !== before.spec.holderIdentity ? l : undefined;
      },
      TAKEOVER_BOUND_MS + 10_000,
    );
    const took = Date.now() - t0;
    assert.ok(took <= TAKEOVER_BOUND_MS + 1000, `the lease was taken over after ${took} ms (bound ${TAKEOVER_BOUND_MS} ms)`);
    assert.ok(took >= (LEASE_S - 2 * RETRY_S) * 1000, `taken over after only ${took} ms: before the lease could have expired`);
    assert.equal(next.spec.leaseTransitions, before.spec.leaseTransitions + 1);
    assert.deepEqual(survivors.map((s) => acquired(s, 'kube-controller-manager').includes(next.spec.holderIdentity)).filter(Boolean).length, 1, 'a survivor holds it');

    // the agent's client: a write goes to a survivor, and its watch resumes on one
    try {
      await agentClient.resource(resourceInfo('configmaps')!).create('default', { metadata: { name: 'via-agent-client' }, data: { after: 'kill' } });
      assert.notEqual(agentClient.server, url(leader));
      const made = await survivors[1].request('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify({ metadata: { name: 'seen-by-watch' } }) });
      assert.equal(made.status, 201, made.body);
      await waitFor('the agent client\'s informer sees both ConfigMaps made after the kill', () => ['via-agent-client', 'seen-by-watch'].every((n) => informer.cache.getByName('default', n)) || undefined, 15_000);
    } finally {
      informer.stop();
      agentClient.close();
    }

    const r = survivors[1].kubectl(kubectl, ['create', 'deployment', 'api', '--image=busybox:stable', '--replicas=1']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the ReplicaSet of the Deployment made after the takeover', () => survivors[0].kubectl(kubectl, ['get', 'rs', '-l', 'app=api', '-o', 'name']).stdout.trim() || undefined, 20_000);

    for (const s of survivors) {
      const list = await s.request('GET', '/api/v1/namespaces/default/configmaps?labelSelector=');
      assert.equal(list.status, 200, list.body);
      const have = new Map<string, string>(list.json.items.map((c: any) => [c.metadata.name, c.data?.n]));
      const missing = Array.from({ length: N }, (_, i) => i).filter((i) => have.get(`acked-${i}`) !== String(i));
      assert.deepEqual(missing, [], `server ${s.port} lost acknowledged writes`);
    }
    // the dead leader's identity lease is no longer renewed, the survivors' are (every 5 s: the
    // test may get here sooner after the kill, so wait for one renewal of each)
    const identities = () => JSON.parse(survivors[0].kubectl(kubectl, ['get', 'leases', '-n', 'kube-system', '-l', 'apiserver.kubernetes.io/identity=kube-apiserver', '-o', 'json']).stdout).items as any[];
    const stale = await waitFor('every survivor renewing its identity Lease after the kill', () => {
      const old = identities().filter((l) => Date.parse(l.spec.renewTime) < t0);
      return old.length <= 1 ? old : undefined;
    }, 15_000).catch((e) => assert.fail(`${(e as Error).message}: ${JSON.stringify(identities().map((l) => [l.metadata.name, l.spec.renewTime]))}`));
    assert.equal(stale.length, 1, `the dead leader's lease: ${JSON.stringify(identities().map((l) => [l.metadata.name, l.spec.renewTime]))}`);
    assert.ok(readFileSync(join(leader.dataDir, 'pki', 'ca.crt'), 'utf8') === survivors[0].caPem, 'one CA for all');
  });
});

// ---------------------------------------------------------------- a real agent failing over
// netns pbha-node1 (172.31.201.11) on the link bridge pbha9 (the host 172.31.201.1), the agent's
// pods on pbha1 10.198.1.0/24 inside it, Services 10.197.0.0/24; servers 18764-18766, etcd 18780-18785

const NETNS = 'pbha-node1';
const LINK_BRIDGE = 'pbha9';
const HOST_VETH = 'pbha-v1';
const HOST_IP = '172.31.201.1';
const AGENT_IP = '172.31.201.11';
const AGENT_SERVER_PORTS = [18764, 18765, 18766];
const HOST = { netns: NETNS, linkBridge: LINK_BRIDGE, hostVeth: HOST_VETH, hostIP: HOST_IP, nodeIP: AGENT_IP };

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('an agent fails over between servers', { timeout: 180_000 }, () => {
  let etcd: EtcdCluster;
  let root: string;
  const servers: PodbayServer[] = [];
  let killed: PodbayServer | undefined;
  let agent: ChildProcess | undefined;
  let agentLog = '';
  let world: PodWorld | undefined;
  let restoreRunNetns = () => {};
  const kubectl = kubectlBinaries()[0]!.path;

  before(async () => {
    const links = sh('ip', ['-o', 'link']);
    for (const l of [LINK_BRIDGE, HOST_VETH, 'pbha1']) assert.ok(!links.includes(`${l}:`), `${l} exists before the suite: a previous run left it`);
    assert.equal(existsSync(`/run/netns/${NETNS}`), false, `netns ${NETNS} exists before the suite`);
    for (const p of [...AGENT_SERVER_PORTS, ...Array.from({ length: 6 }, (_, i) => 18780 + i)]) assert.ok(await portFree(p), `port ${p} of this suite's range is in use`);
    root = mkdtempSync(join(tmpdir(), 'podbay-ha-agent-'));
    // the agent's world apart from the servers' dirs (hostLeftovers looks for processes under it)
    const node = join(root, 'node1');
    mkdirSync(node);
    world = { work: node, runDir: join(node, 'run'), bridge: 'pbha1', subnetPrefix: '10.198.1.', hostPorts: /^187[6-8]\d$/, hadHostportChains: hostportChainsExist(), cgroupRoot: '/podbay-e2e-pbha1' };
    restoreRunNetns = keepRunNetnsAsFound();
    makeSimulatedHost(HOST);
    etcd = await startEtcd(3, { basePort: 18780 });
    // each server also listens on the link address (--advertise-address), where the agent reaches it
    const extra = ['--advertise-address', HOST_IP, '--service-cluster-ip-range', '10.197.0.0/24'];
    servers.push(await startHaServer(join(root, 'a'), AGENT_SERVER_PORTS[0], etcd, undefined, extra));
    const started = await Promise.allSettled([1, 2].map((i) => startHaServer(join(root, 'abc'[i]), AGENT_SERVER_PORTS[i], etcd, servers[0].dataDir, extra)));
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
  });

  after(async () => {
    try {
      if (agent && agent.exitCode === null) {
        servers.find((s) => s !== killed)?.kubectl(kubectl, ['delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true']);
        agent.kill('SIGTERM');
        await new Promise((r) => agent!.once('exit', r));
      }
      for (const s of servers) if (s !== killed) await s.teardown();
    } finally {
      agentJanitor(world);
      removeSimulatedHost(HOST);
      restoreRunNetns();
      await etcd?.stop();
      if (root) rmSync(root, { recursive: true, force: true });
    }
    const links = sh('ip', ['-o', 'link']);
    for (const l of [LINK_BRIDGE, HOST_VETH, 'pbha1']) assert.ok(!links.includes(`${l}:`), `${l} left behind`);
  });

  it('joins through the first server; when that one is SIGKILLed its node stays Ready and a new pod pinned to it runs', async () => {
    const join_ = spawnSync(PODBAY, ['token', 'create', '--print-join-command', '--data-dir', servers[0].dataDir], { encoding: 'utf8' });
    assert.equal(join_.status, 0, join_.stderr);
    const m = /--token ([a-z0-9]{6}\.[a-z0-9]{16}) --ca-cert-hash (sha256:[0-9a-f]{64})/.exec(join_.stdout);
    assert.ok(m, join_.stdout);
    const { buildBusyboxRootfs, writeDockerArchive } = await import('../../src/image/archive-build.js');
    const rootfs = join(root, 'busybox-rootfs');
    await buildBusyboxRootfs(rootfs);
    await writeDockerArchive(join(root, 'busybox.tar'), { repoTags: ['busybox:1.36'], layers: [rootfs], config: { cmd: ['sh'] } });
    sh(PODBAY, ['image', 'load', '-i', join(root, 'busybox.tar'), '--data-dir', join(world!.work, 'data')]);
    const serverList = AGENT_SERVER_PORTS.map((p) => `https://${HOST_IP}:${p}`).join(',');
    agent = spawn(
      'nsenter',
      [`--net=/run/netns/${NETNS}`, PODBAY, 'agent', '--server', serverList, '--token', m[1], '--ca-cert-hash', m[2], '--node-name', NETNS, '--node-ip', AGENT_IP, '--data-dir', join(world!.work, 'data'), '--run-dir', world!.runDir, '--cni-bridge', 'pbha1', '--pod-cidr', '10.198.1.0/24', '--cgroup-root', world!.cgroupRoot, '--registries', join(servers[0].dataDir, 'registries-offline.yaml'), '--disable-default-registry-endpoint'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' } },
    );
    agent.stdout!.on('data', (d) => (agentLog += d));
    agent.stderr!.on('data', (d) => (agentLog += d));
    await waitFor('the agent joined', () => agentLog.includes('joined') || (agent!.exitCode !== null && assert.fail(`agent exited ${agent!.exitCode}:\n${agentLog}`)), 60_000);
    const [first, b, c] = servers;
    const nodeReady = (s: PodbayServer) => s.kubectl(kubectl, ['get', 'node', NETNS, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).stdout === 'True';
    await waitFor('the agent\'s node Ready', () => nodeReady(b) || undefined, 30_000);

    // the server the agent talks to (the first of its list) dies
    const exited = new Promise((r) => first.proc!.once('exit', r));
    first.proc!.kill('SIGKILL');
    killed = first;
    await exited;
    const t0 = Date.now();
    // its node Lease goes on being renewed, through another server (every 10 s)
    await waitFor('the node Lease renewed after the kill', () => {
      const renew = b.kubectl(kubectl, ['get', 'lease', '-n', 'kube-node-lease', NETNS, '-o', 'jsonpath={.spec.renewTime}']).stdout;
      return Date.parse(renew) > t0 || undefined;
    }, 30_000).catch((e) => assert.fail(`${e.message}\nagent log:\n${agentLog}`));
    // its kubelet's watch moved too: a pod pinned to it after the kill runs
    const made = c.kubectl(kubectl, ['create', '-f', '-'], JSON.stringify(podOf('after-kill', { nodeName: NETNS, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] })));
    assert.equal(made.code, 0, made.stderr);
    await waitFor('after-kill Running on the agent', () => c.kubectl(kubectl, ['get', 'pod', 'after-kill', '-o', 'jsonpath={.status.phase}']).stdout === 'Running' || undefined, 60_000).catch((e) =>
      assert.fail(`${e.message}\npod: ${c.kubectl(kubectl, ['get', 'pod', 'after-kill', '-o', 'json']).stdout}\nagent log:\n${agentLog}`),
    );
    assert.ok(nodeReady(c));
    assert.equal(c.kubectl(kubectl, ['get', 'pod', 'after-kill', '-o', 'jsonpath={.status.hostIP}']).stdout, AGENT_IP);
    assert.match(c.kubectl(kubectl, ['get', 'pod', 'after-kill', '-o', 'jsonpath={.status.podIP}']).stdout, /^10\.198\.1\.\d+$/);

    // the pod goes, the agent stops cleanly, nothing is left
    const del = c.kubectl(kubectl, ['delete', 'pod', 'after-kill', '--wait=true']);
    assert.equal(del.code, 0, del.stderr);
    agent.kill('SIGTERM');
    const code = await new Promise((r) => agent!.once('exit', r));
    assert.equal(code, 0, agentLog);
    assert.deepEqual(hostLeftovers(world!), []);
  });
});
