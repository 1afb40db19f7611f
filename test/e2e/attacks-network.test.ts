/**
 * Network attacks by an ordinary pod against the host (issue 6, escapes 4 and 5), against a
 * real podbay server driven by real kubectl, with busybox pods:
 *   - a hostPort over podbay's own API port, or over a port a host process listens on: its
 *     DNAT would steal that service's traffic. The pod stays Pending (Unschedulable, named
 *     holder); a pod that bypasses the scheduler (spec.nodeName) fails its sandbox instead.
 *   - CVE-2020-8558: podbay sets route_localnet on its bridge (hostPorts on 127.0.0.1); a pod
 *     with NET_ADMIN routes 127.0.0.1 via its gateway to reach a host service bound to
 *     loopback. The per-bridge DROP guard must stop it.
 * podbay must keep answering /readyz within 1 s throughout each attack, and the host must be
 * as found afterwards (route_localnet values, filter-table guard, bridge).
 *
 * World: bridge pbnetsec0, pod CIDR 10.212.0.0/24, hostPorts and host test services on
 * 127.0.0.1:19720-19739. kubectl runs asynchronously here: this process also serves the host
 * test services and polls /readyz, which a blocking spawnSync would stall.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { PodbayServer, PodSuite, ROOT, kubectlBinaries, httpGet, waitFor, watchReadyz, type RunResult } from './harness.js';
import { run } from '../../src/sys/exec.js';
import { localnetChain, localnetSaveLines } from '../../src/network/localnet-guard.js';
import { tagFor } from '../../src/proxy/rules.js';

const BRIDGE = 'pbnetsec0';
const CIDR = '10.212.0.0/24';
const GATEWAY = '10.212.0.1';
const HELD_PORT = 19721; // a host process listens here; a pod asks for it as hostPort
const LATE_PORT = 19723; // a host process listens here; a pod with spec.nodeName asks for it
const SECRET_PORT = 19725; // a host service on 127.0.0.1 only: the CVE-2020-8558 target

const [kc] = kubectlBinaries().slice(-1);
const readSysctl = (dev: string) => readFileSync(`/proc/sys/net/ipv4/conf/${dev}/route_localnet`, 'utf8').trim();
const myComm = readFileSync('/proc/self/comm', 'utf8').trim();

/** A TCP service on 127.0.0.1:port in this process: greets with `banner`, records who came. */
async function hostService(port: number, banner: string): Promise<{ peers: string[]; close(): Promise<void> }> {
  const peers: string[] = [];
  const server = net.createServer((c) => {
    peers.push(c.remoteAddress ?? '?');
    c.end(banner);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { peers, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** What a client on the host reads from 127.0.0.1:port. */
function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const c = net.connect(port, '127.0.0.1');
    c.setTimeout(2000, () => c.destroy(new Error('timeout')));
    c.on('data', (d) => (data += d));
    c.on('end', () => resolve(data));
    c.on('error', reject);
  });
}

describe('network attacks by pods (hostPort over host services, CVE-2020-8558)', () => {
  const suite = new PodSuite(BRIDGE, CIDR, /^197[23]\d$/);
  let s: PodbayServer;
  const before_ = { all: '', default: '', filter: '' };

  /** kubectl without blocking this process's event loop */
  const k = (args: string[], input?: string): Promise<RunResult> =>
    new Promise((resolve) => {
      const child = spawn(kc.path, ['--kubeconfig', s.kubeconfig, ...args], {
        env: { ...process.env, KUBECONFIG: '', HOME: s.dataDir },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (code) => {
        clearTimeout(t);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(input ?? '');
    });
  const ok = async (args: string[], input?: string) => {
    const r = await k(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const pod = async (name: string) => JSON.parse(await ok(['get', 'pod', name, '-o', 'json']));
  const apply = (obj: object) => ok(['apply', '-f', '-'], JSON.stringify(obj));
  const events = async (name: string) =>
    JSON.parse(await ok(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])).items as { reason: string; message: string; type: string }[];
  const unschedulable = (name: string) =>
    waitFor(`${name} Unschedulable`, async () => {
      const c = ((await pod(name)).status.conditions ?? []).find((c: any) => c.type === 'PodScheduled');
      return c?.status === 'False' ? c : undefined;
    });
  const nat = async () => (await run('iptables-save', ['-t', 'nat'])).stdout;
  const webPod = (name: string, hostPort: number, extra: object = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      ...extra,
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'web',
          image: 'busybox:1.36',
          command: ['sh', '-c', `mkdir -p /www && echo "${name} answers" > /www/index.html && exec httpd -f -p 8080 -h /www`],
          ports: [{ containerPort: 8080, hostPort }],
        },
      ],
    },
  });
  /** run an attack while polling /readyz; podbay must answer within 1 s throughout */
  const duringAttack = async <T>(t: { diagnostic(m: string): void }, attack: () => Promise<T>): Promise<T> => {
    const w = watchReadyz(s);
    let result: T;
    try {
      result = await attack();
    } finally {
      const r = await w.stop();
      assert.deepEqual(r.failures, [], 'podbay answered /readyz throughout');
      assert.ok(r.worstMs < 1000, `slowest /readyz: ${r.worstMs.toFixed(0)} ms`);
      assert.ok(r.samples > 0);
      t.diagnostic(`/readyz during the attack: ${r.samples} samples, slowest ${r.worstMs.toFixed(0)} ms`);
    }
    return result;
  };

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'the network attack suite needs root');
    assert.ok(!existsSync(`/sys/class/net/${BRIDGE}`), `bridge ${BRIDGE} exists before the test: a leftover of an earlier run? (ip link del ${BRIDGE})`);
    before_.all = readSysctl('all');
    before_.default = readSysctl('default');
    before_.filter = (await run('iptables-save', ['-t', 'filter'])).stdout;
    assert.ok(!before_.filter.includes(localnetChain(BRIDGE)), `iptables chain ${localnetChain(BRIDGE)} exists before the test`);
    s = await suite.start('podbay-e2e-netsec-');
    await suite.loadBusybox();
  });

  after(async () => {
    await suite.finish(kc.path);
    // the host as found: route_localnet untouched host-wide, no guard chain or hook left
    assert.equal(readSysctl('all'), before_.all, 'net.ipv4.conf.all.route_localnet as found');
    assert.equal(readSysctl('default'), before_.default, 'net.ipv4.conf.default.route_localnet as found');
    const filter = (await run('iptables-save', ['-t', 'filter'])).stdout;
    const ours = filter.split('\n').filter((l) => l.includes(localnetChain(BRIDGE)) || l.includes(BRIDGE));
    assert.deepEqual(ours, [], 'no localnet guard (chain, DROP rule, INPUT hook) after the server stopped');
  });

  it("refuses a hostPort on the API server's own port: Pending, Unschedulable, the reason named", async (t) => {
    await duringAttack(t, async () => {
      await apply(webPod('steal-api', s.port));
      const cond = await unschedulable('steal-api');
      assert.equal(cond.reason, 'Unschedulable');
      assert.match(cond.message, /didn't have free ports for the requested pod ports/);
      assert.ok(cond.message.includes(`hostPort ${s.port}/TCP is the podbay API server's port`), cond.message);
      t.diagnostic(`PodScheduled: ${cond.message}`);
      const ev = await waitFor('FailedScheduling event', async () => (await events('steal-api')).find((e) => e.reason === 'FailedScheduling'));
      assert.equal(ev.type, 'Warning');
      assert.equal(ev.message, cond.message);
      const p = await pod('steal-api');
      assert.equal(p.status.phase, 'Pending');
      assert.equal(p.spec.nodeName, undefined, 'not bound');
      // the API still answers (kubectl just did) and no DNAT was made for its port
      assert.ok(!new RegExp(`--dport ${s.port}\\b`).test(await nat()), 'no DNAT for the API port');
    });
    await ok(['delete', 'pod', 'steal-api', '--grace-period=0', '--force']);
  });

  it('refuses a hostPort a host process listens on, naming it; binds once the port is free', async (t) => {
    const svc = await hostService(HELD_PORT, 'host service on 19721\n');
    let closed = false;
    try {
      await duringAttack(t, async () => {
        await apply(webPod('steal-host', HELD_PORT));
        const cond = await unschedulable('steal-host');
        assert.equal(cond.reason, 'Unschedulable');
        const holder = `hostPort ${HELD_PORT}/TCP is held by a host process: ${myComm} (pid ${process.pid}) listening on 127.0.0.1:${HELD_PORT}`;
        assert.ok(cond.message.includes(holder), `${cond.message}\nshould name: ${holder}`);
        t.diagnostic(`PodScheduled: ${cond.message}`);
        assert.equal((await waitFor('FailedScheduling event', async () => (await events('steal-host')).find((e) => e.reason === 'FailedScheduling'))).message, cond.message);
        assert.equal((await pod('steal-host')).status.phase, 'Pending');
        // the host service still gets its own traffic
        assert.equal(await readBanner(HELD_PORT), 'host service on 19721\n');
        assert.ok(!/--dport 19721\b/.test(await nat()), 'no DNAT for the held port');
      });
      // once the host process lets go, the binder retries and the pod gets the port
      await svc.close();
      closed = true;
      await waitFor('steal-host Running', async () => ((await pod('steal-host')).status.phase === 'Running' ? true : undefined), 30_000);
      const page = await waitFor('the hostPort answers on 127.0.0.1 (bridge route_localnet + podbay\'s DNAT)', async () => {
        const r = await httpGet(`http://127.0.0.1:${HELD_PORT}/`);
        return r.status === 200 ? r : undefined;
      });
      assert.equal(page.body, 'steal-host answers\n');
    } finally {
      if (!closed) await svc.close();
    }
    await ok(['delete', 'pod', 'steal-host', '--grace-period=0', '--force']);
  });

  it('a pod that bypasses the scheduler (spec.nodeName) fails its sandbox instead of stealing a held port', async (t) => {
    const svc = await hostService(LATE_PORT, 'host service on 19723\n');
    try {
      const node = (await ok(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
      await duringAttack(t, async () => {
        await apply(webPod('late-steal', LATE_PORT, { nodeName: node }));
        const ev = await waitFor('FailedCreatePodSandBox event', async () => (await events('late-steal')).find((e) => e.reason === 'FailedCreatePodSandBox'), 30_000);
        t.diagnostic(`event ${ev.reason}: ${ev.message}`);
        assert.equal(ev.type, 'Warning');
        assert.equal(
          ev.message,
          `Failed to create pod sandbox: hostPort ${LATE_PORT}/TCP is held by a host process: ${myComm} (pid ${process.pid}) listening on 127.0.0.1:${LATE_PORT}`,
        );
        const p = await pod('late-steal');
        assert.equal(p.status.phase, 'Pending');
        assert.equal(await readBanner(LATE_PORT), 'host service on 19723\n');
        assert.ok(!/--dport 19723\b/.test(await nat()), 'no DNAT for the held port');
      });
    } finally {
      await svc.close();
    }
    await ok(['delete', 'pod', 'late-steal', '--grace-period=0', '--force']);
  });

  it('CVE-2020-8558: a NET_ADMIN pod routing 127.0.0.1 via its gateway cannot reach a host service on loopback', async (t) => {
    const svc = await hostService(SECRET_PORT, 'SECRET of the host\n');
    try {
      await apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'attacker' },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'], securityContext: { capabilities: { add: ['NET_ADMIN'] } } }],
        },
      });
      await waitFor('attacker Running', async () => ((await pod('attacker')).status.phase === 'Running' ? true : undefined), 60_000);
      const attack = await duringAttack(t, () =>
        ok(['exec', 'attacker', '--', 'sh', '-c', 'ip addr del 127.0.0.1/8 dev lo && ip route get 127.0.0.1 && echo routed; nc -w 3 127.0.0.1 ' + SECRET_PORT + ' </dev/null; echo "nc exit $?"']),
      );
      // the attack's preconditions held: 127.0.0.1 left the pod through its gateway
      assert.match(attack, new RegExp(`^127\\.0\\.0\\.1 via ${GATEWAY.replace(/\./g, '\\.')} dev eth0`, 'm'), attack);
      assert.match(attack, /^routed$/m, attack);
      t.diagnostic(`in the pod: ${attack.trim().replace(/\n/g, ' | ')}`);
      // and it got nothing: the host service saw no one, the pod no secret
      assert.doesNotMatch(attack, /SECRET/, 'the pod read the host service');
      assert.match(attack, /^nc exit [1-9]\d*$/m, attack);
      assert.deepEqual(svc.peers, [], 'the host service on 127.0.0.1 saw no connection from the pod');
      // what the hostport manager turned on, and podbay's guard in front of it
      assert.equal(readSysctl(BRIDGE), '1', 'route_localnet is on for the pod bridge');
      assert.equal(readSysctl('all'), before_.all, 'and not changed host-wide');
      const filter = (await run('iptables-save', ['-t', 'filter'])).stdout.split('\n');
      for (const line of localnetSaveLines(BRIDGE)) assert.ok(filter.includes(line), `iptables-save shows: ${line}`);
      // first in INPUT, but for other podbay servers' guards and service proxies' jumps (each for
      // its own bridge, chains tagged with it: suites running beside this one insert theirs at
      // the top too, and may start after this guard went in)
      const own = tagFor(BRIDGE);
      const others = (l: string) => (l.includes('-j PODBAY-LNET-') && !l.includes(`PODBAY-LNET-${BRIDGE}`)) || (/-j KUBE-[A-Z-]+-[A-Z2-7]{4}$/.test(l) && !l.endsWith(`-${own}`));
      const input = filter.filter((l) => l.startsWith('-A INPUT ') && !others(l));
      assert.equal(input[0], localnetSaveLines(BRIDGE)[1], 'the guard is the first rule of INPUT');
      const out = (await run('iptables', ['-w', '-t', 'filter', '-nvxL', localnetChain(BRIDGE)])).stdout;
      assert.ok(Number(/^\s*(\d+)\s+\d+\s+DROP\b/m.exec(out)?.[1]) > 0, `the guard dropped the martian packets:\n${out}`);
      // the host itself still reaches its service
      assert.equal(await readBanner(SECRET_PORT), 'SECRET of the host\n');
    } finally {
      await svc.close();
    }
    await ok(['delete', 'pod', 'attacker', '--grace-period=0', '--force']);
  });
});

describe('route_localnet is needed on the pod bridge only (a scratch network namespace with it off host-wide)', () => {
  it('a hostPort answers on 127.0.0.1 with the bridge setting alone, not without it; two bridges keep separate guards', async () => {
    // This host has net.ipv4.conf.all.route_localnet=1 (earlier podbay versions set it), which
    // would hide whether the bridge's setting is enough; a new netns can have it at 0.
    const T = mkdtempSync(join(tmpdir(), 'podbay-netsec-scope-'));
    try {
      const child = join(ROOT, 'dist/test/e2e/localnet-scope-child.js');
      const r = await run('unshare', ['--net', process.execPath, child, T], { allowFailure: true, timeoutMs: 60_000 });
      const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}');
      assert.equal(out.error, undefined, `${out.error}\n${r.stderr}`);
      for (const k of ['aTearDownError', 'aDestroyError', 'bTearDownError', 'bDestroyError']) assert.equal(out[k], undefined, `${k}: ${out[k]}`);
      assert.equal(out.all, '0', 'route_localnet off host-wide (in the scratch netns)');
      assert.equal(out.bridge, '1', 'the hostport manager turned it on for the bridge');
      assert.equal(out.withBridge, 'pod answers\n', 'the hostPort answers on 127.0.0.1');
      assert.match(out.withoutBridge, /^error: /, 'without route_localnet on the bridge it does not');
      assert.equal(out.bridgeAgain, 'pod answers\n');
      const up = out.filterWhileUp.split('\n');
      for (const line of [...localnetSaveLines(BRIDGE), ...localnetSaveLines('pbnetsec1')]) assert.ok(up.includes(line), `guard present while pods are attached: ${line}`);
      // one network destroyed: its guard and bridge are gone, the other's stay and work
      const afterFirst = out.filterAfterFirstDestroy.split('\n');
      assert.equal(out.firstBridgeAfterDestroy, false);
      assert.ok(!out.filterAfterFirstDestroy.includes(localnetChain(BRIDGE)), `first guard gone:\n${out.filterAfterFirstDestroy}`);
      for (const line of localnetSaveLines('pbnetsec1')) assert.ok(afterFirst.includes(line), `the other bridge's guard stays: ${line}`);
      assert.equal(out.otherStillAnswers, 'other pod answers\n');
      // both gone: nothing left
      assert.deepEqual(out.bridgesAfterDestroy, []);
      assert.ok(!/PODBAY-LNET|pbnetsec/.test(out.filterAfterDestroy), `guards gone after destroy:\n${out.filterAfterDestroy}`);
      assert.equal(out.allAfterDestroy, '0');
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(T));
      assert.deepEqual(mounts, [], 'no netns pins left mounted');
    } finally {
      rmSync(T, { recursive: true, force: true });
    }
  });
});
