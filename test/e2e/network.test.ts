/**
 * The network room against the real host (root): unshare-pinned netns, the Debian CNI plugins
 * (loopback, bridge, host-local), podbay's hostport rules (iptables-restore). This suite owns its world: bridge
 * pbnettest0, subnet 10.201.0.0/24, network pbnettest, hostPorts 19180-19199, and a temp dir for
 * runDir and confDir. Traffic goes only to 127.0.0.1 and to the pod namespaces it creates.
 * After every scenario it checks that nothing is left: pins, mounts, DNAT/masquerade rules,
 * IPAM leases, veths on the bridge, cache files; after destroy(), the bridge itself.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { httpGet, until } from './harness.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/sys/exec.js';
import { bridgeMasqChain, CniPodNetwork } from '../../src/network/pod-network.js';
import type { NetworkAttachment, NetworkSettings, PodNetworkRequest } from '../../src/network/types.js';

const BRIDGE = 'pbnettest0';
const NET = 'pbnettest';
const SUBNET_PREFIX = '10.201.0.';
const PORT_A = 19180;
const T = mkdtempSync(join(tmpdir(), 'podbay-nettest-'));
const settings: NetworkSettings = {
  runDir: join(T, 'run'),
  confDir: join(T, 'conf'),
  binDirs: ['/usr/lib/cni', '/opt/cni/bin'],
  networkName: NET,
  bridge: BRIDGE,
  podCidr: '10.201.0.0/24',
};
const network = new CniPodNetwork(settings);
const children: ChildProcess[] = [];
/** every sandbox id, pod IP and hostPort any scenario used: none may survive its teardown */
const seen = { ids: new Set<string>(), ips: new Set<string>(), ports: new Set<number>() };

function req(sandboxId: string, portMappings: PodNetworkRequest['portMappings'] = []): PodNetworkRequest {
  seen.ids.add(sandboxId);
  for (const p of portMappings) seen.ports.add(p.hostPort);
  return { sandboxId, podName: `pod-${sandboxId}`, podNamespace: 'nettest', podUid: `uid-${sandboxId}`, portMappings };
}

// (no `wget -T`: Debian's busybox 1.35 wget segfaults with it; the exec timeout bounds it instead)
const inNs = (pin: string, args: string[], allowFailure = false) => run('nsenter', [`--net=${pin}`, ...args], { allowFailure, timeoutMs: 5_000 });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const httpGetBody = async (port: number) => (await httpGet(`http://127.0.0.1:${port}/`)).body;

/** Start `busybox httpd` inside a pod's netns serving `text` on :8080. */
function httpdIn(pin: string, text: string): ChildProcess {
  const www = mkdtempSync(join(T, 'www-'));
  writeFileSync(join(www, 'index.html'), text);
  const child = spawn('nsenter', [`--net=${pin}`, 'busybox', 'httpd', '-f', '-p', '8080', '-h', www], { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function killChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

/** Fail on anything the network room left on the host for the scenarios so far. */
async function assertNothingLeft(): Promise<void> {
  const run_ = settings.runDir;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(T));
  assert.deepEqual(mounts, [], 'no mounts under the test dir');
  const pins = existsSync(join(run_, 'netns')) ? readdirSync(join(run_, 'netns')) : [];
  assert.deepEqual(pins, [], 'no netns pin files');
  const cache = existsSync(join(run_, 'cni')) ? readdirSync(join(run_, 'cni')) : [];
  assert.deepEqual(cache, [], 'no CNI cache entries');
  const ipamDir = join(run_, 'ipam', NET);
  const leases = existsSync(ipamDir) ? readdirSync(ipamDir).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip')) : [];
  assert.deepEqual(leases, [], 'no IPAM leases');
  const nat = (await run('iptables-save', ['-t', 'nat'])).stdout.split('\n');
  const bad: string[] = [];
  for (const line of nat) {
    for (const id of seen.ids) {
      const { chain } = bridgeMasqChain(NET, id);
      const dn = `CNI-DN-${chain.slice(4)}`.slice(0, 28);
      if (line.includes(`id: \\"${id}\\"`) || line.includes(chain) || line.includes(dn)) bad.push(line);
    }
    for (const ip of seen.ips) if (line.includes(`${ip}/`) || line.includes(`${ip}:`)) bad.push(line);
    for (const port of seen.ports) if (new RegExp(`\\b${port}\\b`).test(line)) bad.push(line);
  }
  assert.deepEqual([...new Set(bad)], [], 'no nat rules or chains for our pods, IPs or hostPorts');
  if (existsSync(`/sys/class/net/${BRIDGE}`)) {
    // a veth's host end goes when its netns peer does; the kernel may take a moment
    await until('veths detached from the bridge', async () => {
      const links = (await run('ip', ['-o', 'link', 'show', 'master', BRIDGE])).stdout.trim();
      assert.equal(links, '', 'no veth attached to the bridge');
    });
  }
  assert.deepEqual(await network.list(), []);
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the network end-to-end test needs root');
  assert.ok(!existsSync(`/sys/class/net/${BRIDGE}`), `bridge ${BRIDGE} exists before the test: a leftover of an earlier run? (ip link del ${BRIDGE})`);
  const nat = (await run('iptables-save', ['-t', 'nat'])).stdout;
  assert.ok(!/\b191[89]\d\b/.test(nat), 'no nat rules use hostPorts 19180-19199 before the test');
});

after(async () => {
  for (const c of children) await killChild(c);
  for (const id of await network.list().catch(() => [])) await network.tearDown(id).catch(() => {});
  await network.destroy().catch(() => {});
  rmSync(T, { recursive: true, force: true });
});

test('two pods: lo and eth0 up, they reach each other, a hostPort answers on 127.0.0.1, teardown leaves nothing', async (t) => {
  const t0 = performance.now();
  const [a, b] = await Promise.all([
    network.setUp(req('pa', [{ hostPort: PORT_A, containerPort: 8080, protocol: 'tcp' }])),
    network.setUp(req('pb')),
  ]);
  t.diagnostic(`two setUps in parallel: ${(performance.now() - t0).toFixed(0)} ms (includes creating the bridge)`);
  for (const att of [a, b]) for (const ip of att.ips) seen.ips.add(ip);

  for (const [att, id] of [[a, 'pa'], [b, 'pb']] as [NetworkAttachment, string][]) {
    assert.equal(att.sandboxId, id);
    assert.equal(att.netnsPath, join(settings.runDir, 'netns', id));
    assert.equal(att.interfaceName, 'eth0');
    assert.equal(att.gateway, `${SUBNET_PREFIX}1`);
    assert.equal(att.ips.length, 1);
    assert.ok(att.ips[0]!.startsWith(SUBNET_PREFIX), `pod IP ${att.ips[0]} in 10.201.0.0/24`);
    assert.deepEqual(await network.status(id), att);

    const links = (await inNs(att.netnsPath, ['ip', '-o', 'link'])).stdout;
    assert.match(links, /^\d+: lo: <[^>]*\bUP\b[^>]*>/m, 'lo is up');
    assert.match(links, /^\d+: eth0@\S+: <[^>]*\bUP\b[^>]*>/m, 'eth0 is up');
    const addrs = (await inNs(att.netnsPath, ['ip', '-o', 'addr'])).stdout;
    assert.match(addrs, /\blo\s+inet 127\.0\.0\.1\/8/);
    assert.ok(addrs.includes(`eth0    inet ${att.ips[0]}/24`) || new RegExp(`eth0\\s+inet ${att.ips[0]!.replace(/\./g, '\\.')}/24`).test(addrs), addrs);
    const routes = (await inNs(att.netnsPath, ['ip', 'route'])).stdout;
    assert.match(routes, /^default via 10\.201\.0\.1 dev eth0/m);
  }
  assert.notEqual(a.ips[0], b.ips[0]);
  assert.deepEqual(await network.list(), ['pa', 'pb']);
  const cacheFile = join(settings.runDir, 'cni', 'pa.json');
  assert.equal(statSync(cacheFile).mode & 0o777, 0o600);
  const conflist = JSON.parse(readFileSync(join(settings.confDir, `${NET}.conflist`), 'utf8')) as { plugins: { type: string }[] };
  assert.deepEqual(conflist.plugins.map((p) => p.type), ['bridge']);
  // the hostPort is podbay's own rule set for the bridge, jumped to from PREROUTING and OUTPUT
  const natNow = (await run('iptables-save', ['-t', 'nat'])).stdout;
  assert.match(natNow, new RegExp(`^-A PREROUTING .*-j PODBAY-HP-${BRIDGE}$`, 'm'));
  assert.match(natNow, new RegExp(`^-A OUTPUT .*-j PODBAY-HP-${BRIDGE}$`, 'm'));
  assert.match(natNow, new RegExp(`^-A POSTROUTING -o ${BRIDGE} .*-j PODBAY-HPM-${BRIDGE}$`, 'm'));
  assert.match(natNow, new RegExp(`^-A PODBAY-HPD-\\S+ -p tcp .*-j DNAT --to-destination ${a.ips[0]!.replace(/\./g, '\\.')}:8080$`, 'm'));
  assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${BRIDGE}/route_localnet`, 'utf8').trim(), '1', 'route_localnet on the bridge (127.0.0.1 hostPorts)');
  // idempotent
  assert.deepEqual(await network.setUp(req('pa', [{ hostPort: PORT_A, containerPort: 8080, protocol: 'tcp' }])), a);

  const httpd = httpdIn(a.netnsPath, 'hello from pod a\n');
  // pod a reaches itself over lo (the loopback plugin)
  const self = await until('pod a -> 127.0.0.1:8080', async () => (await inNs(a.netnsPath, ['busybox', 'wget', '-q', '-O', '-', 'http://127.0.0.1:8080/'])).stdout);
  assert.equal(self, 'hello from pod a\n');
  // pod b reaches pod a across the bridge
  const across = await until('pod b -> pod a', async () => (await inNs(b.netnsPath, ['busybox', 'wget', '-q', '-O', '-', `http://${a.ips[0]}:8080/`])).stdout);
  assert.equal(across, 'hello from pod a\n');
  // the host reaches pod a through its hostPort on 127.0.0.1 (DNAT in OUTPUT, masquerade + route_localnet)
  assert.equal(await until('127.0.0.1:hostPort', () => httpGetBody(PORT_A)), 'hello from pod a\n');
  // pod b through the gateway's address (local, PREROUTING), and pod a to its own hostPort (hairpin, masqueraded)
  assert.equal(await until('pod b -> gateway:hostPort', async () => (await inNs(b.netnsPath, ['busybox', 'wget', '-q', '-O', '-', `http://${SUBNET_PREFIX}1:${PORT_A}/`])).stdout), 'hello from pod a\n');
  assert.equal(await until('pod a -> gateway:hostPort (hairpin)', async () => (await inNs(a.netnsPath, ['busybox', 'wget', '-q', '-O', '-', `http://${SUBNET_PREFIX}1:${PORT_A}/`])).stdout), 'hello from pod a\n');
  await killChild(httpd);

  const t1 = performance.now();
  await Promise.all([network.tearDown('pa'), network.tearDown('pb')]);
  t.diagnostic(`two tearDowns in parallel: ${(performance.now() - t1).toFixed(0)} ms`);
  assert.equal(await network.status('pa'), undefined);
  await network.tearDown('pa'); // idempotent
  await assertNothingLeft();
  await assert.rejects(httpGetBody(PORT_A), 'the hostPort no longer answers');
});

test('a portMapping with an invalid protocol is refused before anything is made', async () => {
  await assert.rejects(
    network.setUp(req('rb-proto', [{ hostPort: 19181, containerPort: 80, protocol: 'bogus' as 'tcp' }])),
    /unknown protocol "bogus" \(want tcp, udp or sctp\)/,
  );
  await assertNothingLeft();
});

test('rollback: a chained plugin failing after bridge succeeded leaves nothing', async () => {
  const failing = new CniPodNetwork({ ...settings, extraPlugins: [{ type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.podbay_no_such_sysctl': '1' } }] });
  await assert.rejects(failing.setUp(req('rb-tuning', [{ hostPort: 19182, containerPort: 80, protocol: 'tcp' }])), /CNI plugin tuning ADD failed: /);
  await assertNothingLeft();
  const missing = new CniPodNetwork({ ...settings, extraPlugins: [{ type: 'podbay-no-such-plugin' }] });
  await assert.rejects(
    missing.setUp(req('rb-missing', [{ hostPort: 19183, containerPort: 80, protocol: 'udp' }])),
    /"podbay-no-such-plugin" not found in \/usr\/lib\/cni, \/opt\/cni\/bin: install the Debian package containernetworking-plugins/,
  );
  await assertNothingLeft();
});

test('tearDown after the netns vanished, and after a crash that left only a pin, releases everything', async () => {
  const c = await network.setUp(req('gone', [{ hostPort: 19184, containerPort: 80, protocol: 'tcp' }]));
  for (const ip of c.ips) seen.ips.add(ip);
  await network.pins.delete('gone'); // someone removed the namespace under us
  assert.equal(await network.status('gone'), undefined);
  assert.deepEqual(await network.list(), ['gone'], 'the cache entry still lists it for garbage collection');
  await network.tearDown('gone');
  await assertNothingLeft();

  await network.pins.create('crashed'); // a crash right after the pin, before any cache or ADD
  seen.ids.add('crashed');
  assert.deepEqual(await network.list(), ['crashed']);
  await network.tearDown('crashed');
  await assertNothingLeft();
});

test('a restarted podbay keeps the hostPorts of the pods it adopts: its first write rebuilds them from the CNI cache', async () => {
  const kept = await network.setUp(req('kept', [{ hostPort: 19185, containerPort: 8080, protocol: 'tcp' }]));
  for (const ip of kept.ips) seen.ips.add(ip);
  seen.ids.add('restarted');
  seen.ports.add(19186);
  const httpd = httpdIn(kept.netnsPath, 'hello from the kept pod\n');
  assert.equal(await until('kept pod on 127.0.0.1:19185', () => httpGetBody(19185)), 'hello from the kept pod\n');
  const child = await run(process.execPath, [join(import.meta.dirname, 'hostport-restart-child.js'), JSON.stringify(settings), '19186'], { timeoutMs: 60_000 });
  const seenByChild = JSON.parse(child.stdout) as { ips: string[]; afterSetUp: string; afterTearDown: string };
  for (const ip of seenByChild.ips) seen.ips.add(ip);
  const dnatTo = (save: string, ip: string) => new RegExp(`-j DNAT --to-destination ${ip.replace(/\./g, '\\.')}:8080$`, 'm').test(save);
  assert.ok(dnatTo(seenByChild.afterSetUp, kept.ips[0]!) && dnatTo(seenByChild.afterSetUp, seenByChild.ips[0]!), `both pods mapped after the new process's set-up:\n${seenByChild.afterSetUp}`);
  assert.ok(dnatTo(seenByChild.afterTearDown, kept.ips[0]!) && !dnatTo(seenByChild.afterTearDown, seenByChild.ips[0]!), 'its tear-down removed only its own pod');
  assert.equal(await httpGetBody(19185), 'hello from the kept pod\n', 'the adopted pod still answers on its hostPort');
  await killChild(httpd);
  await network.tearDown('kept');
  await assertNothingLeft();
});

test('setUp/tearDown timings (sequential, one hostPort each)', async (t) => {
  const ups: number[] = [];
  const downs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const id = `time${i}`;
    const t0 = performance.now();
    const att = await network.setUp(req(id, [{ hostPort: 19190 + i, containerPort: 80, protocol: 'tcp' }]));
    const t1 = performance.now();
    for (const ip of att.ips) seen.ips.add(ip);
    await network.tearDown(id);
    const t2 = performance.now();
    ups.push(t1 - t0);
    downs.push(t2 - t1);
  }
  const report = { setUp_ms: { median: +median(ups).toFixed(1), min: +Math.min(...ups).toFixed(1), max: +Math.max(...ups).toFixed(1) }, tearDown_ms: { median: +median(downs).toFixed(1), min: +Math.min(...downs).toFixed(1), max: +Math.max(...downs).toFixed(1) }, n: ups.length };
  t.diagnostic(JSON.stringify(report));
  await assertNothingLeft();
});

test('destroy removes the bridge, the IPAM dir and the config list', async () => {
  await network.destroy();
  assert.ok(!existsSync(`/sys/class/net/${BRIDGE}`), 'bridge gone');
  assert.ok(!existsSync(join(settings.runDir, 'ipam')), 'IPAM dir gone');
  assert.ok(!existsSync(join(settings.confDir, `${NET}.conflist`)), 'config list gone');
  await assertNothingLeft();
  // destroy with no state at all is fine too
  await network.destroy();
});
