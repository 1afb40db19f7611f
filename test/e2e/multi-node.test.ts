/**
 * Several nodes (issue 13, items 2 and 3), for real: a server and two agents, each agent in a
 * network namespace of this host standing for another machine on one link. A Deployment of 4
 * replicas is spread over all three nodes by the scheduler; pods reach pods of other nodes
 * through the host-gw routes each node installs, keeping their addresses; a Service's cluster
 * IP and its DNS name answer from a pod on every node; an agent killed with SIGKILL goes
 * Unknown within the node-monitor grace period set here, is tainted unreachable, and its pods
 * are replaced on the other nodes once their tolerationSeconds have passed.
 *
 * This suite owns bridges pbmn0 (the server's pods, 10.200.0.0/24), pbmn1 and pbmn2 (the
 * agents' pods, 10.200.1.0/24 and 10.200.2.0/24, inside netns pbmn-node1 and pbmn-node2), the
 * cluster CIDR 10.200.0.0/16, the node link pbmn9 (172.31.200.0/24: the host .1, the agents .11
 * and .12) with veths pbmn-v1 and pbmn-v2, the service range 10.199.0.0/24 and ports
 * 18740-18759 (the API on 18740). The host gets routes to 10.200.1.0/24 and 10.200.2.0/24 via
 * the agents; the suite asserts none is left. Traffic goes only to the server's link address
 * and this suite's pods and Services.
 *
 * Agents run under `nsenter --net=...` (see agents.test.ts for why not `ip netns exec`). Pods
 * on agents cannot be exec'd into (no kubelet server on agents yet): the client pods here say
 * what they saw in their termination message, which the agent's kubelet reports.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PODBAY, PodSuite, hostLeftovers, keepRunNetnsAsFound, kubectlBinaries, kubectlHelpers, podOf, waitFor, watchReadyz, agentJanitor as janitor, type PodWorld } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);
const LINK_BRIDGE = 'pbmn9';
const HOST_IP = '172.31.200.1';
const API_PORT = 18740;
const PORTS = /^187[45]\d$/;
const CLUSTER_CIDR = '10.200.0.0/16';
const SERVICE_RANGE = '10.199.0.0/24';
const DNS_IP = '10.199.0.10';
/** short enough for CI, long enough that a busy machine's late renewal is no death */
const LEASE_SECONDS = 4;
const GRACE = '10s';

interface Agent {
  name: string;
  veth: string;
  ip: string;
  bridge: string;
  podCidr: string;
  world: PodWorld;
  proc?: ChildProcess;
  log: string;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const inNode = (a: Agent, cmd: string, args: string[]) => spawnSync('nsenter', [`--net=/run/netns/${a.name}`, cmd, ...args], { encoding: 'utf8' });
/** the host's routes into the cluster CIDR through a gateway (the server's own bridge route is the kernel's) */
const hostRoutes = () => sh('ip', ['-4', 'route', 'show']).split('\n').filter((l) => l.startsWith('10.200.') && l.includes(' via '));

function makeLink(): void {
  sh('ip', ['link', 'add', LINK_BRIDGE, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', LINK_BRIDGE]);
  sh('ip', ['link', 'set', LINK_BRIDGE, 'up']);
}

/** what a killed agent left running (its pods' containers, mounts, cgroups), as a power cut takes it; the address leases stay in its run dir */
function agentJanitorWithoutIpam(w: PodWorld): void {
  janitor(w);
  assert.deepEqual(hostLeftovers(w).filter((l) => !l.startsWith('IPAM lease')), []);
}

/** a simulated machine: netns + veth to the link bridge */
function makeNode(a: Agent): void {
  sh('ip', ['netns', 'add', a.name]);
  sh('ip', ['link', 'add', a.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', a.name]);
  sh('ip', ['link', 'set', a.veth, 'master', LINK_BRIDGE, 'up']);
  sh('ip', ['-n', a.name, 'addr', 'add', `${a.ip}/24`, 'dev', 'eth0']);
  sh('ip', ['-n', a.name, 'link', 'set', 'eth0', 'up']);
  sh('ip', ['-n', a.name, 'link', 'set', 'lo', 'up']);
}

describe('several nodes: spreading, pod network between nodes, a dead node', { timeout: 240_000 }, () => {
  const suite = new PodSuite('pbmn0', '10.200.0.0/24', PORTS);
  const agents: Agent[] = [1, 2].map((i) => ({
    name: `pbmn-node${i}`,
    veth: `pbmn-v${i}`,
    ip: `172.31.200.${10 + i}`,
    bridge: `pbmn${i}`,
    podCidr: `10.200.${i}.0/24`,
    world: undefined as unknown as PodWorld,
    log: '',
  }));
  const server = () => suite.server;
  let serverNode = '';
  let restoreRunNetns = () => {};
  const { ok, k, create, pod } = kubectlHelpers(server, kc.path);

  /** the Deployment's pods that are not being deleted */
  const webPods = () => JSON.parse(ok('get', 'pods', '-l', 'app=web', '-o', 'json')).items.filter((p: any) => !p.metadata.deletionTimestamp);
  const runningReady = (p: any) => p.status.phase === 'Running' && (p.status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  /** a one-shot pod on `node` running `script`; its termination message (what it saw) once it Succeeded */
  const probe = async (name: string, node: string, script: string): Promise<string> => {
    create(podOf(name, { nodeSelector: { 'kubernetes.io/hostname': node }, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', script], terminationMessagePolicy: 'File' }] }));
    const p = await waitFor(`${name} finished`, () => {
      const p = pod(name);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p : undefined;
    }, 60_000);
    const message = p.status.containerStatuses?.[0]?.state?.terminated?.message ?? '';
    assert.equal(p.status.phase, 'Succeeded', `${name} on ${node} failed: ${message}\n${JSON.stringify(p.status)}`);
    assert.equal(p.spec.nodeName, node);
    ok('delete', 'pod', name, '--wait=false');
    return message.trim();
  };
  /** a shell loop asking `target` (host:port) for / until it answers; the body's last line */
  const fetch = (target: string, path = '/') => `i=0; while [ $i -lt 40 ]; do r=$(printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${target.replace(':', ' ')}) && [ -n "$r" ] && break; i=$((i+1)); sleep 0.5; done`;

  let joinArgs: string[] = [];
  const startAgent = (a: Agent) => {
    a.log = '';
    a.proc = spawn('nsenter', [
      `--net=/run/netns/${a.name}`, PODBAY, 'agent', ...joinArgs,
      '--node-name', a.name, '--node-ip', a.ip, '--data-dir', join(a.world.work, 'data'), '--run-dir', a.world.runDir,
      '--cni-bridge', a.bridge, '--pod-cidr', a.podCidr, '--cluster-cidr', CLUSTER_CIDR,
      '--service-cluster-ip-range', SERVICE_RANGE, '--cluster-dns', DNS_IP,
      '--node-lease-duration-seconds', String(LEASE_SECONDS), '--cgroup-root', a.world.cgroupRoot,
      '--registries', join(server().dataDir, 'registries-offline.yaml'), '--disable-default-registry-endpoint',
    ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' } });
    a.proc.stdout!.on('data', (d) => (a.log += d));
    a.proc.stderr!.on('data', (d) => (a.log += d));
  };
  const joined = (a: Agent) => waitFor(`${a.name} joined`, () => a.log.includes('joined') || (a.proc!.exitCode !== null && assert.fail(`${a.name} exited ${a.proc!.exitCode}:\n${a.log}`)), 60_000);

  before(async () => {
    const links = sh('ip', ['-o', 'link']);
    for (const l of [LINK_BRIDGE, 'pbmn0', ...agents.map((a) => a.veth)]) assert.ok(!links.includes(`${l}:`), `${l} exists before the suite: a previous run left it`);
    for (const a of agents) assert.equal(existsSync(`/run/netns/${a.name}`), false, `netns ${a.name} exists before the suite`);
    assert.deepEqual(hostRoutes(), [], 'routes into 10.200.0.0/16 before the suite');
    restoreRunNetns = keepRunNetnsAsFound();
    makeLink();
    for (const a of agents) makeNode(a);
    await suite.startOnPort('podbay-multinode-', API_PORT, [
      '--cluster-cidr', CLUSTER_CIDR,
      '--node-ip', HOST_IP,
      '--service-cluster-ip-range', SERVICE_RANGE,
      '--advertise-address', HOST_IP,
      '--cluster-dns-upstream', 'none',
      '--node-lease-duration-seconds', String(LEASE_SECONDS),
      '--node-monitor-grace-period', GRACE,
      '--node-monitor-period', '1s',
    ]);
    serverNode = ok('get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}');
    for (const a of agents) {
      const work = mkdtempSync(join(tmpdir(), `podbay-${a.name}-`));
      a.world = { work, runDir: join(work, 'run'), bridge: a.bridge, subnetPrefix: a.podCidr.replace(/0\/24$/, ''), hostPorts: PORTS, hadHostportChains: suite.hadHostportChains, cgroupRoot: `/podbay-e2e-${a.bridge}` };
    }
  });

  after(async () => {
    try {
      k('delete', 'deployment', '--all', '--wait=true');
      for (const a of agents) {
        if (a.proc && a.proc.exitCode === null && a.proc.signalCode === null) {
          // the agent's pods go first (a kubelet leaves its pods running when it stops)
          k('delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true');
          await waitFor(`${a.name}'s pods gone`, () => !inNode(a, 'ip', ['-o', 'link']).stdout.includes('veth') || undefined, 30_000).catch(() => undefined);
          a.proc.kill('SIGTERM');
          await new Promise((r) => a.proc!.once('exit', r));
        }
      }
      if (suite.server?.proc) await suite.finish(kc.path);
    } finally {
      for (const a of agents) janitor(a.world);
      for (const a of agents) {
        spawnSync('ip', ['netns', 'del', a.name]);
        spawnSync('ip', ['link', 'del', a.veth]);
      }
      spawnSync('ip', ['link', 'del', LINK_BRIDGE]);
      // a server that did not stop cleanly may have left its routes: removed, and reported below
      const left = hostRoutes();
      for (const r of left) spawnSync('ip', ['route', 'del', ...r.split(' ').slice(0, 1)]);
      restoreRunNetns();
      for (const a of agents) if (a.world?.work) rmSync(a.world.work, { recursive: true, force: true });
      assert.deepEqual(left, [], 'the server removed its routes to the agents\' pods at stop');
    }
    const links = sh('ip', ['-o', 'link']);
    for (const l of [LINK_BRIDGE, 'pbmn0', ...agents.flatMap((a) => [a.veth, a.bridge])]) assert.ok(!links.includes(`${l}:`), `${l} left behind`);
    for (const a of agents) assert.equal(existsSync(`/run/netns/${a.name}`), false);
    assert.deepEqual(hostRoutes(), []);
  });

  it('two agents join: three Ready nodes, each with its podCIDR; every node routes the others\' pods via their InternalIP', async () => {
    await suite.loadBusybox();
    const joinCmd = spawnSync(PODBAY, ['token', 'create', '--print-join-command', '--data-dir', server().dataDir], { encoding: 'utf8' });
    assert.equal(joinCmd.status, 0, joinCmd.stderr);
    const m = /--token (\S+) --ca-cert-hash (\S+)$/.exec(joinCmd.stdout.trim());
    assert.ok(m, joinCmd.stdout);
    joinArgs = ['--server', `https://${HOST_IP}:${API_PORT}`, '--token', m[1]!, '--ca-cert-hash', m[2]!];
    for (const a of agents) {
      sh(PODBAY, ['image', 'load', '-i', join(suite.work, 'busybox.tar'), '--data-dir', join(a.world.work, 'data')]);
      startAgent(a);
    }
    for (const a of agents) await joined(a);
    await waitFor('three Ready nodes', () => {
      const lines = ok('get', 'nodes', '--no-headers').trim().split('\n');
      return lines.length === 3 && lines.every((l) => /\sReady\s/.test(l)) ? lines : undefined;
    }, 30_000);
    const nodes = JSON.parse(ok('get', 'nodes', '-o', 'json')).items;
    const cidrs = Object.fromEntries(nodes.map((n: any) => [n.metadata.name, `${n.spec.podCIDR} ${n.status.addresses.find((x: any) => x.type === 'InternalIP').address}`]));
    assert.deepEqual(cidrs, { [serverNode]: `10.200.0.0/24 ${HOST_IP}`, 'pbmn-node1': `10.200.1.0/24 172.31.200.11`, 'pbmn-node2': `10.200.2.0/24 172.31.200.12` });
    // host-gw: the host (the server's node) and each agent route the others' pod ranges via them
    await waitFor('the host\'s routes', () => (hostRoutes().length === 2 ? true : undefined), 15_000);
    assert.deepEqual(hostRoutes().map((r) => r.replace(/\s+proto \S+/, '').replace(/\s+$/, '')).sort(), ['10.200.1.0/24 via 172.31.200.11 dev pbmn9', '10.200.2.0/24 via 172.31.200.12 dev pbmn9']);
    for (const a of agents) {
      const other = agents.find((o) => o !== a)!;
      const routes = await waitFor(`${a.name}'s routes`, () => {
        const r = inNode(a, 'ip', ['-4', 'route', 'show', 'proto', '211']).stdout.trim().split('\n').filter(Boolean);
        return r.length === 2 ? r : undefined;
      }, 15_000);
      assert.deepEqual(routes.map((r) => r.trim()).sort(), [`10.200.0.0/24 via ${HOST_IP} dev eth0`, `${other.podCidr} via ${other.ip} dev eth0`]);
    }
  });

  it('a Deployment of 4 replicas lands on all three nodes', async () => {
    // tolerating an unreachable node for 2 s (not the default 300 s) keeps the dead-node case short
    const tolerations = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 }));
    create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 0,
            tolerations,
            containers: [{ name: 'web', image: 'busybox:1.36', command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }],
          },
        },
      },
    });
    create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
    const pods = await waitFor('4 web pods Running and Ready', () => {
      const p = webPods();
      return p.length === 4 && p.every(runningReady) ? p : undefined;
    }, 90_000).catch((e) => assert.fail(`${e.message}\n${ok('get', 'pods', '-o', 'wide')}\n${agents.map((a) => a.log.slice(-3000)).join('\n---\n')}`));
    const byNode = new Map<string, number>();
    for (const p of pods) byNode.set(p.spec.nodeName, (byNode.get(p.spec.nodeName) ?? 0) + 1);
    assert.deepEqual([...byNode.keys()].sort(), [serverNode, 'pbmn-node1', 'pbmn-node2'].sort(), `spread: ${JSON.stringify([...byNode])}`);
    assert.deepEqual([...byNode.values()].sort(), [1, 1, 2]);
    for (const p of pods) {
      const range = p.spec.nodeName === serverNode ? '10.200.0.' : p.spec.nodeName === 'pbmn-node1' ? '10.200.1.' : '10.200.2.';
      assert.ok(p.status.podIP.startsWith(range), `${p.metadata.name} on ${p.spec.nodeName} has ${p.status.podIP}`);
    }
    const scheduled = ok('get', 'events', '--field-selector', 'reason=Scheduled', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}');
    assert.match(scheduled, /Successfully assigned default\/web-\S+ to pbmn-node2/);
  });

  it('pod to pod across nodes, with the pod\'s own address: node1 -> node2, node2 -> the server\'s node, the server\'s node -> node1', async () => {
    const pods = webPods();
    const on = (node: string) => pods.find((p: any) => p.spec.nodeName === node);
    const [n1, n2, sv] = [on('pbmn-node1'), on('pbmn-node2'), on(serverNode)];
    // httpd logs nothing; the answer is the pod's hostname, so who answered is known
    const seen1 = await probe('from-node1', 'pbmn-node1', `${fetch(`${n2.status.podIP}:8080`)}; echo "$r" | tail -n 1 > /dev/termination-log; [ -n "$r" ]`);
    assert.equal(seen1, n2.metadata.name);
    const seen2 = await probe('from-node2', 'pbmn-node2', `${fetch(`${sv.status.podIP}:8080`)}; echo "$r" | tail -n 1 > /dev/termination-log; [ -n "$r" ]`);
    assert.equal(seen2, sv.metadata.name);
    // from a pod on the server's node (exec works there), and the source address it arrives with
    const fromServer = k('exec', sv.metadata.name, '--', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${n1.status.podIP} 8080`);
    assert.equal(fromServer.code, 0, fromServer.stderr);
    assert.match(fromServer.stdout, new RegExp(`\\r\\n\\r\\n${n1.metadata.name}\\n$`));
    // not masqueraded: a server on the server's node (busybox httpd's CGI says REMOTE_ADDR) sees
    // the address of the client pod on node2, not node2's
    const cgi = '#!/bin/sh\necho Content-Type: text/plain\necho\necho $REMOTE_ADDR\n';
    create(podOf('whoami', { nodeName: serverNode, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', `mkdir -p /www/cgi-bin && printf '${cgi.replace(/\n/g, '\\n')}' > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www`] }] }));
    const whoami = await waitFor('whoami running', () => {
      const p = pod('whoami');
      return p.status.phase === 'Running' && p.status.podIP ? p : undefined;
    }, 30_000);
    const echo = await probe('echo-src', 'pbmn-node2', `${fetch(`${whoami.status.podIP}:8080`, '/cgi-bin/ip')}; me=$(ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1); echo "$(echo "$r" | tail -n 1) $me" > /dev/termination-log; [ -n "$r" ]`);
    // httpd listens on IPv6 too, so it says the v4-mapped form
    const [seenAs, own] = echo.replace(/^\[::ffff:([\d.]+)\]/, '$1').split(' ');
    assert.match(own!, /^10\.200\.2\.\d+$/, `the client pod on node2 has an address of node2's range: ${echo}`);
    assert.equal(seenAs, own, 'the server saw the client pod\'s own address');
    ok('delete', 'pod', 'whoami', '--wait=false');
    const masq = inNode(agents[1]!, 'iptables-save', ['-t', 'nat']).stdout;
    assert.match(masq, /-A PODBAY-MASQ-pbmn2 -d 10\.200\.0\.0\/16 .*-j RETURN/, `pod-to-pod across nodes keeps its source:\n${masq}`);
  });

  it('the Service answers by cluster IP and by DNS name from a pod on every node', async () => {
    const ip = ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}');
    assert.match(ip, /^10\.199\.0\.\d+$/);
    for (const node of [serverNode, 'pbmn-node1', 'pbmn-node2']) {
      const name = `svc-from-${node === serverNode ? 'server' : node}`;
      const seen = await probe(name, node, `${fetch(`${ip}:80`)}; a=$(echo "$r" | tail -n 1); d=$(nslookup web.default.svc.cluster.local ${DNS_IP} 2>&1 | grep -c '${ip}'); echo "$a dns:$d" > /dev/termination-log; [ -n "$a" ]`);
      assert.match(seen, /^web-\S+ dns:[1-9]$/, `from ${node}: ${seen}`);
    }
  });

  it('an agent killed with SIGKILL: its node goes Unknown and tainted within the grace period, its pods are replaced on the other nodes', async () => {
    const dead = agents[1]!;
    const ready = watchReadyz(server());
    const t0 = Date.now();
    dead.proc!.kill('SIGKILL');
    await new Promise((r) => (dead.proc!.exitCode !== null || dead.proc!.signalCode !== null ? r(null) : dead.proc!.once('exit', r)));
    const cond = await waitFor('pbmn-node2 Unknown', () => {
      const c = JSON.parse(ok('get', 'node', dead.name, '-o', 'json')).status.conditions.find((x: any) => x.type === 'Ready');
      return c.status === 'Unknown' ? c : undefined;
    }, 30_000);
    const unknownAfter = Date.now() - t0;
    assert.equal(cond.reason, 'NodeStatusUnknown');
    assert.equal(cond.message, 'Kubelet stopped posting node status.');
    // the grace period (10 s) after the last renewal (at most a lease quarter before the kill), plus a monitor period and slack
    assert.ok(unknownAfter < 10_000 + 1000 + 6000, `Unknown after ${unknownAfter} ms`);
    assert.match(ok('get', 'nodes', '--no-headers'), /pbmn-node2\s+NotReady/);
    await waitFor('the NodeNotReady event', () => /^Normal node-controller Node pbmn-node2 status is now: NodeNotReady$/m.test(ok('get', 'events', '--field-selector', 'involvedObject.name=pbmn-node2,reason=NodeNotReady', '-o', 'jsonpath={range .items[*]}{.type} {.source.component} {.message}{"\\n"}{end}')) || undefined, 10_000);
    const taints = await waitFor('unreachable taints', () => {
      const t = JSON.parse(ok('get', 'node', dead.name, '-o', 'json')).spec.taints ?? [];
      return t.length === 2 ? t : undefined;
    }, 10_000);
    assert.deepEqual(taints.map((t: any) => `${t.key}:${t.effect}`).sort(), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    const replaced = await waitFor('4 web pods Ready on the other nodes', () => {
      const p = webPods();
      return p.length === 4 && p.every((x: any) => runningReady(x) && x.spec.nodeName !== dead.name) ? p : undefined;
    }, 60_000).catch((e) => assert.fail(`${e.message}\n${ok('get', 'pods', '-o', 'wide')}`));
    const replacedAfter = Date.now() - t0;
    assert.deepEqual([...new Set(replaced.map((p: any) => p.spec.nodeName))].sort(), [serverNode, 'pbmn-node1'].sort());
    const evicted = ok('get', 'events', '--field-selector', 'reason=TaintManagerEviction', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}');
    assert.match(evicted, /Marking for deletion Pod default\/web-/);
    const r = await ready.stop();
    assert.deepEqual(r.failures, []);
    assert.ok(r.worstMs < 1000, `readyz worst ${r.worstMs} ms`);
    process.stderr.write(`# multi-node: node Unknown ${unknownAfter} ms after SIGKILL, pods replaced after ${replacedAfter} ms\n`);
    // the evicted pods stay Terminating: only their node's kubelet can confirm they stopped
    assert.ok(JSON.parse(ok('get', 'pods', '--field-selector', `spec.nodeName=${dead.name}`, '-o', 'json')).items.every((p: any) => p.metadata.deletionTimestamp));
  });

  it('the killed agent comes back: Ready again, its taints gone, the pods left on it finished', async () => {
    const dead = agents[1]!;
    // a machine that lost power loses its processes: the pods the killed agent left running go
    agentJanitorWithoutIpam(dead.world);
    const t0 = Date.now();
    startAgent(dead);
    await joined(dead);
    await waitFor('pbmn-node2 Ready and untainted', () => {
      const n = JSON.parse(ok('get', 'node', dead.name, '-o', 'json'));
      return n.status.conditions.find((c: any) => c.type === 'Ready').status === 'True' && !(n.spec.taints ?? []).length ? true : undefined;
    }, 30_000);
    await waitFor('no pod left on pbmn-node2', () => (JSON.parse(ok('get', 'pods', '--field-selector', `spec.nodeName=${dead.name}`, '-o', 'json')).items.length === 0 ? true : undefined), 30_000);
    process.stderr.write(`# multi-node: node back Ready and untainted ${Date.now() - t0} ms after the agent restarted\n`);
  });

  it('a node off the shared link gets no route, and an event says why', async () => {
    create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'pbmn-far', labels: { 'kubernetes.io/hostname': 'pbmn-far' } }, spec: { podCIDR: '10.200.9.0/24', unschedulable: true } });
    ok('patch', 'node', 'pbmn-far', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { addresses: [{ type: 'InternalIP', address: '198.51.100.99' }] } }));
    // (an address on no subnet of this host, nor of the agents: TEST-NET-2; a Node is only data)
    const refused = (node: string) => new RegExp(`^Warning podbay-node-routes Could not create route to 10\\.200\\.9\\.0/24 \\(node pbmn-far\\) from node ${node}: its InternalIP 198\\.51\\.100\\.99 is not on a link this node shares \\(host-gw routes only between nodes on one subnet; VXLAN is not built yet\\)$`, 'm');
    await waitFor('FailedToCreateRoute from every node', () => {
      const e = ok('get', 'events', '--field-selector', 'involvedObject.name=pbmn-far,reason=FailedToCreateRoute', '-o', 'jsonpath={range .items[*]}{.type} {.source.component} {.message}{"\\n"}{end}');
      return [serverNode, ...agents.map((a) => a.name)].every((n) => refused(n).test(e)) || undefined;
    }, 15_000);
    assert.ok(!hostRoutes().some((r) => r.startsWith('10.200.9.')), 'no route for it on the host');
    assert.ok(!inNode(agents[0]!, 'ip', ['-4', 'route', 'show']).stdout.includes('10.200.9.'), 'nor on node1');
    ok('delete', 'node', 'pbmn-far');
  });

  it('the agents stop cleanly and leave nothing in their netns or on the host; their Nodes deleted, the host\'s routes to them go', async () => {
    ok('delete', 'deployment', 'web', '--wait=true');
    for (const a of agents) {
      await waitFor(`no web pod on ${a.name}`, () => (JSON.parse(ok('get', 'pods', '--field-selector', `spec.nodeName=${a.name}`, '-o', 'json')).items.length === 0 ? true : undefined), 60_000);
      a.proc!.kill('SIGTERM');
      const code = await new Promise((r) => a.proc!.once('exit', r));
      assert.equal(code, 0, a.log);
      assert.ok(!inNode(a, 'ip', ['-o', 'link']).stdout.includes(a.bridge), `${a.name} removed its bridge`);
      assert.equal(inNode(a, 'ip', ['-4', 'route', 'show', 'proto', '211']).stdout.trim(), '', `${a.name} removed its routes`);
      assert.ok(!inNode(a, 'iptables-save', []).stdout.includes(a.podCidr.replace(/0\/24$/, '')));
      assert.deepEqual(hostLeftovers(a.world), []);
    }
    assert.equal(hostRoutes().length, 2, `the server keeps routing to stopped nodes until they are deleted: ${hostRoutes().join('; ')}`);
    ok('delete', 'node', ...agents.map((a) => a.name));
    await waitFor('the host\'s routes gone with the Nodes', () => (hostRoutes().length === 0 ? true : undefined), 10_000);
  });
});
