/**
 * The API server and store under load and faults (issue 7, items 3-5), against real
 * `podbay server` processes:
 *   - the soak: concurrent writers and watchers; every acknowledged write listed and watched,
 *     in order, no 5xx (the full 20 x 500 is bench/api-soak.ts);
 *   - five watchers that never read do not grow the server's RSS without bound, and are closed;
 *   - 429 TooManyRequests with Retry-After beyond --max-(mutating-)requests-inflight;
 *   - one owner per data dir and run dir: a second server exits at once naming the first's PID;
 *   - kill -9 mid-burst, restart: every acknowledged write present, revisions only go up;
 *   - a corrupt store file is refused at start; backup while serving, restore while stopped.
 * Owns: bridge pbstore0, 10.218.0.0/24 (only the run-dir test starts a kubelet, and no pods).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import https from 'node:https';
import net from 'node:net';
import { PODBAY, PodbayServer, PodSuite, agentJanitor, freePort, hostLeftovers, hostportChainsExist, kubectlBinaries, watchReadyz } from './harness.js';
import { apiClient, apiSoak, openWatch, rssBytes } from './api-soak-driver.js';
import { ROOT_CA_CONFIGMAP } from '../../src/api/service-account.js';

const MiB = 1024 * 1024;

/** Run a podbay command to completion (or until it is killed after `ms`). */
function podbay(args: string[], ms = 20_000): Promise<{ code: number | null; out: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(PODBAY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, ms: Date.now() - t0 });
    });
  });
}

function configMap(name: string, data: Record<string, string> = { v: name }) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
}

describe('API soak: concurrent writers and watchers', () => {
  let s: PodbayServer;
  after(async () => s && (await s.teardown()));

  it('20 clients x 100 writes while 10 watchers follow: all acknowledged writes listed and watched in order, no 5xx', async () => {
    s = await PodbayServer.start(['--no-kubelet']);
    const ready = watchReadyz(s);
    const r = await apiSoak(s, { clients: 20, writesPerClient: 100, watchers: 10, namespace: 'soak' });
    const probes = await ready.stop();
    console.log(`soak: ${JSON.stringify({ ...r, problems: r.problems.length, readyzWorstMs: Math.round(probes.worstMs), readyzSamples: probes.samples })}`);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(Object.keys(r.statuses).sort(), ['200', '201']);
    assert.equal(r.statuses['201'] + r.statuses['200'], 2000);
    assert.ok(r.watcherEvents.every((n) => n === 2000), `every watcher saw every write: ${r.watcherEvents}`);
    // /readyz is printed, not asserted: with synchronous=FULL every write's fsync runs on the
    // event loop (better-sqlite3 is synchronous), so on a busy disk a probe can wait behind a
    // burst of 20 writes (up to ~1 s seen on a loaded CI machine).
  });
});

describe('watch backpressure', () => {
  let s: PodbayServer;
  after(async () => s && (await s.teardown()));

  it('five watchers that never read do not grow the RSS past a bound while writes continue, and are closed', async () => {
    s = await PodbayServer.start(['--no-kubelet']);
    const c = apiClient(s);
    const pid = s.proc!.pid!;
    assert.equal((await c.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'slow' } })).status, 201);
    const big = 'x'.repeat(100 * 1024);
    // warm up (JIT, TLS, SQLite page cache) before the baseline
    for (let i = 0; i < 40; i++) assert.equal((await c.request('POST', '/api/v1/namespaces/slow/configmaps', configMap(`warm${i}`, { big }))).status, 201);
    const baseline = rssBytes(pid);

    // five watchers that send their request and then never read a byte
    const stuck = await Promise.all(
      Array.from({ length: 5 }, () => new Promise<tls.TLSSocket>((resolve, reject) => {
        const sock = tls.connect({ host: '127.0.0.1', port: s.port, ca: s.caPem }, () => {
          sock.write(`GET /api/v1/namespaces/slow/configmaps?watch=1&timeoutSeconds=3600 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.token}\r\n\r\n`);
          sock.pause();
          resolve(sock);
        });
        sock.on('error', reject);
      })),
    );
    const closed = stuck.map((sock) => new Promise<number>((resolve) => {
      let bytes = 0;
      sock.on('data', (d) => (bytes += d.length));
      sock.on('close', () => resolve(bytes));
      sock.on('error', () => {});
    }));
    // a healthy watcher alongside them keeps receiving everything
    const healthy = openWatch(s, '/api/v1/namespaces/slow/configmaps?watch=1&timeoutSeconds=3600');

    // 1000 x 100 KiB events per watcher: far past the kernel's socket buffers and the 16 MiB
    // cap (buffered without bound, this grows the RSS by 550 MiB)
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
    const writes = 1000;
    for (let i = 0; i < writes; i++) {
      const r = await c.request('POST', '/api/v1/namespaces/slow/configmaps', configMap(`cm${i}`, { big }));
      assert.equal(r.status, 201, r.body);
    }
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes(pid));
    const growth = peak - baseline;
    console.log(`slow watchers: RSS baseline ${Math.round(baseline / MiB)} MiB, peak ${Math.round(peak / MiB)} MiB (+${Math.round(growth / MiB)} MiB) over ${writes} x 100 KiB writes`);
    // 5 x (16 MiB queue cap + a socket buffer) plus the garbage of serializing the writes
    assert.ok(growth < 240 * MiB, `RSS grew by ${Math.round(growth / MiB)} MiB (bound 240 MiB; unbounded it is 535)`);
    assert.match(s.log, /forcing configmaps watcher close due to unresponsiveness: \d+ bytes queued \(limit 16777216\)/);

    // the stuck watchers were closed: once they read, their stream ends short of the full event
    // stream (the server dropped what it had queued for them)
    for (const sock of stuck) sock.resume();
    const got = await Promise.race([Promise.all(closed), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('a stuck watcher was never closed')), 15_000))]);
    for (const bytes of got) assert.ok(bytes < writes * big.length, `a stuck watcher got ${bytes} bytes: it should have been cut off`);

    await new Promise((r) => setTimeout(r, 200));
    assert.equal(healthy.ended, false);
    assert.equal(healthy.events.filter((e) => e.type === 'ADDED' && /^cm/.test(e.name ?? '')).length, writes, 'the reading watcher saw every write');
    healthy.close();
    const after = await c.request('GET', '/api/v1/namespaces/slow/configmaps?limit=1');
    assert.equal(after.status, 200);
    c.close();
  });
});

describe('in-flight limits', () => {
  let s: PodbayServer;
  after(async () => s && (await s.teardown()));

  it('answers 429 TooManyRequests with Retry-After beyond --max-(mutating-)requests-inflight; watches do not count', async () => {
    s = await PodbayServer.start(['--no-kubelet', '--max-requests-inflight', '1', '--max-mutating-requests-inflight', '1']);
    // a watch is long-running: it holds no slot
    const w = openWatch(s, '/api/v1/namespaces/default/configmaps?watch=1');
    await new Promise((r) => setTimeout(r, 200));
    const list = await s.request('GET', '/api/v1/namespaces/default/configmaps');
    assert.equal(list.status, 200, 'a watch does not count against --max-requests-inflight');

    // hold the only mutating slot: a create whose body never finishes arriving
    const body = JSON.stringify(configMap('held'));
    const held = https.request({
      host: '127.0.0.1', port: s.port, method: 'POST', path: '/api/v1/namespaces/default/configmaps', ca: s.caPem, agent: false,
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', 'content-length': String(body.length) },
    });
    const heldAnswer = new Promise<number>((resolve, reject) => {
      held.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      held.on('error', reject);
    });
    held.write(body.slice(0, 10));
    await new Promise((r) => setTimeout(r, 300));

    const refused = await s.request('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify(configMap('refused')) });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.json.kind, 'Status');
    assert.equal(refused.json.reason, 'TooManyRequests');
    assert.equal(refused.json.message, 'Too many requests, please try again later.');
    assert.equal(refused.json.details.retryAfterSeconds, 1);
    // reads have their own budget
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps/held')).status, 404);

    held.end(body.slice(10));
    assert.equal(await heldAnswer, 201);
    assert.equal((await s.request('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify(configMap('after')) })).status, 201);

    // a burst of reads against a limit of 1: some are refused, none fails otherwise
    const burst = await Promise.all(Array.from({ length: 60 }, () => s.request('GET', '/api/v1/namespaces/default/configmaps')));
    const codes = burst.map((r) => r.status);
    assert.ok(codes.every((c) => c === 200 || c === 429), `only 200 or 429: ${codes}`);
    assert.ok(codes.includes(429), 'a burst of 60 reads against --max-requests-inflight 1 gets some 429s');
    // the watch saw the writes that were let in, and not the refused one
    await new Promise((r) => setTimeout(r, 200));
    // (the root CA publisher's kube-root-ca.crt is in every namespace: not one of this test's)
    assert.deepEqual(w.events.map((e) => e.name).filter((n) => n !== ROOT_CA_CONFIGMAP), ['held', 'after']);
    w.close();
    // health probes are exempt
    assert.equal((await s.request('GET', '/readyz', { token: null })).status, 200);
  });

  it('--max-connections drops connections beyond the limit', async () => {
    const t = await PodbayServer.start(['--no-kubelet', '--max-connections', '3']);
    const socks: tls.TLSSocket[] = [];
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) {
        outcomes.push(await new Promise<string>((resolve) => {
          const sock = tls.connect({ host: '127.0.0.1', port: t.port, ca: t.caPem }, () => resolve('connected'));
          socks.push(sock);
          sock.on('error', () => resolve('dropped'));
          sock.on('close', () => resolve('dropped'));
        }));
      }
      assert.deepEqual(outcomes, ['connected', 'connected', 'connected', 'dropped', 'dropped']);
      for (const sk of socks) sk.destroy();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await t.request('GET', '/api/v1/namespaces')).status, 200);
      // an idle TLS connection that never sends a request does not keep the server from stopping
      socks.push(await new Promise<tls.TLSSocket>((resolve) => {
        const sock = tls.connect({ host: '127.0.0.1', port: t.port, ca: t.caPem }, () => resolve(sock));
        sock.on('error', () => {});
      }));
    } finally {
      await t.teardown();
      for (const sk of socks) sk.destroy();
    }
  });
});

describe('one owner per data dir and run dir', () => {
  it('a second server on the same data dir exits at once naming the PID; the first keeps working', async () => {
    const s = await PodbayServer.start(['--no-kubelet']);
    try {
      const port = await freePort();
      const second = await podbay(['server', '--no-kubelet', '--data-dir', s.dataDir, '--listen', `127.0.0.1:${port}`]);
      assert.notEqual(second.code, 0);
      assert.ok(second.ms < 5000, `exited at once (${second.ms} ms)`);
      assert.match(second.out, new RegExp(`data dir ${s.dataDir} is in use by another podbay process \\(PID ${s.proc!.pid}\\b`));
      for (let i = 0; i < 20; i++) {
        const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify(configMap(`still-mine-${i}`)) });
        assert.equal(r.status, 201, r.body);
      }
      // and restore refuses while the server owns the dir
      const restore = await podbay(['restore', join(s.dataDir, 'state.db'), '--data-dir', s.dataDir]);
      assert.notEqual(restore.code, 0);
      assert.match(restore.out, new RegExp(`PID ${s.proc!.pid}\\b`));
      assert.equal((await s.request('GET', '/api/v1/namespaces/default/configmaps/still-mine-19')).status, 200);
    } finally {
      await s.teardown();
    }
  });

  it('a second kubelet on the same run dir exits at once naming the PID', async () => {
    const suite = new PodSuite('pbstore0', '10.218.0.0/24', /^1984\d$|^1985\d$/);
    const s = await suite.start('podbay-e2e-store-');
    const otherData = mkdtempSync(join(tmpdir(), 'podbay-e2e-store2-'));
    try {
      const port = await freePort();
      const second = await podbay(['server', '--data-dir', otherData, '--listen', `127.0.0.1:${port}`, ...suite.serverArgs()]);
      assert.notEqual(second.code, 0);
      assert.match(second.out, new RegExp(`run dir ${suite.runDir} is in use by another podbay process \\(PID ${s.proc!.pid}\\b`));
      // it gave its own data dir back: a server may start there
      const third = await podbay(['server', '--data-dir', otherData, '--listen', `127.0.0.1:${port}`, ...suite.serverArgs()]);
      assert.match(third.out, /run dir/);
      assert.doesNotMatch(third.out, /data dir/);
      assert.equal((await s.request('GET', '/api/v1/nodes')).status, 200);
    } finally {
      rmSync(otherData, { recursive: true, force: true });
      await suite.finish(kubectlBinaries().at(-1)!.path);
    }
  });

  it('a server whose API port is taken exits naming it, and takes the run dir\'s tmpfs it mounted off again', async () => {
    const work = mkdtempSync(join(tmpdir(), 'podbay-e2e-store-taken-'));
    const world = { work, runDir: join(work, 'run'), bridge: 'pbstore0', subnetPrefix: '10.218.0.', hostPorts: /^1984\d$|^1985\d$/, hadHostportChains: hostportChainsExist(), cgroupRoot: '/podbay-e2e-pbstore0' };
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = await podbay(['server', '--data-dir', join(work, 'data'), '--listen', `127.0.0.1:${port}`, '--run-dir', world.runDir, '--cni-bridge', world.bridge, '--pod-cidr', '10.218.0.0/24', '--cgroup-root', world.cgroupRoot, '--ingress-http-port', '0']);
      assert.notEqual(r.code, 0);
      assert.ok(r.ms < 10_000, `exited at once (${r.ms} ms)`);
      assert.match(r.out, new RegExp(`EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(r.out, /after the failed start/, 'every step was undone without an error');
      assert.doesNotMatch(r.out, /lease renewal failed/);
      // the run dir was mounted (it is on /tmp's disk and was empty) and is a plain directory again
      assert.ok(existsSync(world.runDir));
      assert.deepEqual(hostLeftovers(world), []);
    } finally {
      holder.close();
      agentJanitor(world); // what a failed assertion above found left (its mounts)
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('crash and corruption', () => {
  it('kill -9 mid-write-burst, restart: every acknowledged write is there and revisions only go up', async () => {
    const s = await PodbayServer.start(['--no-kubelet']);
    try {
      const c = apiClient(s);
      const acked = new Map<string, number>();
      let stop = false;
      const writers = Array.from({ length: 10 }, async (_, ci) => {
        for (let k = 0; !stop; k++) {
          const name = `k${ci}-${k}`;
          try {
            const r = await c.request('POST', '/api/v1/namespaces/default/configmaps', configMap(name));
            if (r.status === 201) acked.set(name, Number(r.json.metadata.resourceVersion));
            else if (r.status) assert.fail(`write ${name}: ${r.status} ${r.body}`);
          } catch {
            return; // the server died under us: this write was never acknowledged
          }
        }
      });
      await new Promise((r) => setTimeout(r, 1500));
      const exited = new Promise((r) => s.proc!.once('exit', r));
      s.proc!.kill('SIGKILL');
      await exited;
      stop = true;
      await Promise.all(writers);
      c.close();
      const highest = Math.max(...acked.values());
      assert.ok(acked.size > 50, `a real burst was acknowledged before the kill (${acked.size})`);
      assert.equal(new Set(acked.values()).size, acked.size, 'no revision acknowledged twice');

      await s.spawn(['--no-kubelet']);
      const list = await s.request('GET', '/api/v1/namespaces/default/configmaps');
      assert.equal(list.status, 200);
      const have = new Map<string, number>(list.json.items.map((i: any) => [i.metadata.name, Number(i.metadata.resourceVersion)]));
      const lost = [...acked].filter(([name, rv]) => have.get(name) !== rv);
      assert.deepEqual(lost, [], 'every acknowledged write survived kill -9 with its resourceVersion');
      assert.ok(Number(list.json.metadata.resourceVersion) >= highest);
      const next = await s.request('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify(configMap('after-crash')) });
      assert.equal(next.status, 201, next.body);
      const rv = Number(next.json.metadata.resourceVersion);
      assert.ok(rv > Math.max(highest, ...have.values()), `the first write after the restart (rv ${rv}) is past every revision before it (${highest})`);
      console.log(`kill -9: ${acked.size} writes acknowledged before the kill, all present; next revision ${rv} > ${highest}`);
    } finally {
      await s.teardown();
    }
  });

  it('a corrupt store file is refused at start with a clear message; backup while serving and restore while stopped', async () => {
    const s = await PodbayServer.start(['--no-kubelet']);
    const copy = mkdtempSync(join(tmpdir(), 'podbay-e2e-corrupt-'));
    try {
      const c = apiClient(s);
      const pad = 'y'.repeat(1000);
      for (let i = 0; i < 300; i++) assert.equal((await c.request('POST', '/api/v1/namespaces/default/configmaps', configMap(`d${i}`, { pad }))).status, 201);
      // backup while the server serves (and keeps being written)
      const snapshot = join(copy, 'snapshot.db');
      const writing = (async () => {
        for (let i = 0; i < 50; i++) await c.request('POST', '/api/v1/namespaces/default/configmaps', configMap(`during${i}`));
      })();
      const backup = await podbay(['backup', snapshot, '--data-dir', s.dataDir]);
      await writing;
      assert.equal(backup.code, 0, backup.out);
      assert.match(backup.out, /backed up \d+ objects at revision \d+/);
      assert.equal(statSync(snapshot).mode & 0o777, 0o600);
      await c.request('POST', '/api/v1/namespaces/default/configmaps', configMap('after-backup'));
      c.close();
      assert.equal(await s.stop(), 0);

      // a copy of the data dir with bytes of its store overwritten
      const bad = join(copy, 'data');
      cpSync(s.dataDir, bad, { recursive: true });
      const db = join(bad, 'state.db');
      const size = statSync(db).size;
      const fd = openSync(db, 'r+');
      writeSync(fd, Buffer.alloc(16384, 0x5a), 0, 16384, Math.floor(size / 2));
      closeSync(fd);
      const port = await freePort();
      const refused = await podbay(['server', '--no-kubelet', '--data-dir', bad, '--listen', `127.0.0.1:${port}`]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.out, new RegExp(`the store database ${db} is corrupt \\([\\s\\S]*\\); podbay will not serve from it`));
      assert.match(refused.out, /podbay restore/);
      assert.equal(existsSync(join(bad, 'kubeconfig.yaml')) && readFileSync(join(bad, 'kubeconfig.yaml'), 'utf8').includes(String(port)), false, 'it never served');

      // restore the snapshot into the stopped server's dir: the state as of the backup
      const restore = await podbay(['restore', snapshot, '--data-dir', s.dataDir]);
      assert.equal(restore.code, 0, restore.out);
      assert.match(restore.out, /revisions resume at \d+; the replaced store is kept as .*state\.db\.pre-restore-/);
      await s.spawn(['--no-kubelet']);
      const list = await s.request('GET', '/api/v1/namespaces/default/configmaps');
      const names = new Set<string>(list.json.items.map((i: any) => i.metadata.name));
      for (let i = 0; i < 300; i++) assert.ok(names.has(`d${i}`), `d${i} restored`);
      assert.equal(names.has('after-backup'), false, 'a write after the backup is not in it');
      const resumes = Number(/revisions resume at (\d+)/.exec(restore.out)![1]);
      // (the server's start-up writes, e.g. its Node, come after it)
      assert.ok(Number(list.json.metadata.resourceVersion) >= resumes);
      // a watch from before the restore must re-list
      const old = await s.request('GET', `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${resumes - 2}&timeoutSeconds=1`);
      assert.match(old.body, /"code":410|"Expired"|too old resource version/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
      await s.teardown();
    }
  });
});

// no process of ours survives the suite
after(() => {
  const left = spawnSync('pgrep', ['-af', 'podbay-e2e-(store|corrupt)'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(left, '', `leftover processes: ${left}`);
});
