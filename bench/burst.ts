/**
 * Burst benchmark (issue 12): N one-container pods applied at once until all are Ready, then
 * deleted until every host resource is gone. Beside podbay, in the same run:
 *   - `podman kube play` / `podman kube down` of the same N pods in one multi-document file
 *     (when podman is installed; `apt-get install -y podman`), with runc and the rlimits this
 *     VM needs, as ../shared/bench/peers/podman-bench.sh configures it;
 *   - the bare-tools floor (../shared/bench/floor/floor.sh) run N times in sequence: its
 *     N-cycle run gives `n x (median start + median teardown)`.
 * Prints one JSON document with the ratios.
 *
 * Usage (root):
 *   node dist/bench/burst.js [--n 100] [--hostports] [--via kubectl|api] [--no-peers]
 * --hostports gives every pod a hostPort (18500 + i) and waits until each answers curl, so the
 * hostPort rules (src/network/hostport-manager.ts) are part of the measure. With PODBAY_TRACE=1 PODBAY_TRACE_EXEC=1
 * BURST_SERVER_LOG=FILE, the server's trace of the run (every sync step, every command it ran
 * with its wall time) is written to FILE.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import { PodbayServer, ROOT, keepRunNetnsAsFound, kubectlBinaries, watchReadyz } from '../test/e2e/harness.js';
import { benchApi, keepPeerLeftoversAsFound, loadBenchImage, watchPods } from './bench-server.js';
import { hostBusyCpuMs, podbayCpuMs, rssMb, spawnersOf, threadCpuMs } from './proc.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('n', '100'));
const VIA = arg('via', 'kubectl');
const HOSTPORTS = process.argv.includes('--hostports');
const PEERS = !process.argv.includes('--no-peers');
const READYZ_EVERY = Number(arg('readyz-every', '50'));
const BASE_PORT = 18500;
const BRIDGE = 'pbburst0';
const CIDR = '10.243.0.0/23';
if (!(N >= 1 && N <= 400)) throw new Error('--n must be 1..400 (the pod CIDR is a /23)');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function get(url: string): Promise<boolean> {
  return new Promise((res) => {
    const r = http.get(url, { timeout: 1000 }, (resp) => {
      resp.resume();
      resp.on('end', () => res(resp.statusCode === 200));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => res(false));
  });
}

/** every hostPort answers (polled together, every 20 ms) */
async function allServing(ports: number[], deadline: number): Promise<void> {
  let left = [...ports];
  while (left.length) {
    const ok = await Promise.all(left.map((p) => get(`http://127.0.0.1:${p}/`)));
    left = left.filter((_, i) => !ok[i]);
    if (!left.length) return;
    if (performance.now() > deadline) throw new Error(`${left.length} hostPorts never answered (first: ${left[0]})`);
    await sleep(20);
  }
}

function podDoc(i: number, image: string) {
  const c: Record<string, unknown> = HOSTPORTS
    ? { name: 'web', image, imagePullPolicy: 'Never', command: ['/bin/httpd', '-f', '-p', '80', '-h', '/www'], ports: [{ containerPort: 80, hostPort: BASE_PORT + i, protocol: 'TCP' }] }
    : { name: 'app', image, imagePullPolicy: 'Never', command: ['/bin/sleep', '3600'] };
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: `burst-${i}`, labels: { app: 'burst' } }, spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 0, containers: [c] } };
}

const yamlOf = (docs: unknown[]) => docs.map((d) => JSON.stringify(d)).join('\n---\n') + '\n';

async function podbayRun() {
  const work = mkdtempSync(join(tmpdir(), 'podbay-burst-'));
  const runDir = join(work, 'run');
  const s = await PodbayServer.start(['--run-dir', runDir, '--cni-bridge', BRIDGE, '--pod-cidr', CIDR]);
  const api = benchApi(s);
  try {
    await loadBenchImage(work, s);
    const kubectl = kubectlBinaries().at(-1)!.path;
    const docs = Array.from({ length: N }, (_, i) => podDoc(i, 'busybox:bench'));
    const file = join(work, 'pods.yaml');
    writeFileSync(file, yamlOf(docs));

    const hostClean = () => {
      const runc = spawnSync('runc', ['--root', join(runDir, 'runc'), 'list', '-q'], { encoding: 'utf8' }).stdout.trim();
      const pins = existsSync(join(runDir, 'net/netns')) ? readdirSync(join(runDir, 'net/netns')) : [];
      const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
      // per-pod rules name a pod IP or a hostPort; the bridge's own masquerade names only the
      // CIDR, and the builtin Services (kubernetes, kube-dns) the gateway: both are the server's
      const prefix = CIDR.slice(0, CIDR.indexOf('.', CIDR.indexOf('.') + 1) + 1);
      const gateway = new RegExp(`${CIDR.replace(/\.0\/\d+$/, '.1').replace(/\./g, '\\.')}(?![0-9])`, 'g');
      const perPod = nat.split(CIDR).join('').replace(gateway, '').includes(prefix) || (HOSTPORTS && /--dports? 18[5-8]\d\d\b/.test(nat));
      return runc === '' && pins.length === 0 && !perPod;
    };
    // Ready and gone are seen through a watch, as `kubectl wait` sees them: polling a list every
    // 50 ms cost the server ~1 s of CPU (JSON decode of every pod, per poll) in a 50-pod burst
    const { seen, watch } = await watchPods(s, api, 'app=burst');

    // the API's responsiveness while the node works: GET /readyz every 50 ms, one at a time,
    // from a worker thread (this thread blocks in spawnSync host checks; a sampler here counted
    // those as podbay's latency)
    const sampler = READYZ_EVERY > 0 ? watchReadyz(s, READYZ_EVERY) : { stop: async () => ({ latencies: [] as number[], failures: [] as string[] }) };
    const pid = s.proc!.pid!;
    // the host's mount table, the lines of this server's mounts (every pod's lies under its dirs)
    const mountLines = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(s.dataDir) || l.includes(runDir)).length;
    const mounts0 = mountLines();
    const cpu0 = podbayCpuMs(pid).total;
    const host0 = hostBusyCpuMs();
    const self0 = podbayCpuMs(pid, 'self').engine;
    const main0 = threadCpuMs(pid);
    const t0 = performance.now();
    if (VIA === 'kubectl') {
      const r = spawnSync(kubectl, ['--kubeconfig', s.kubeconfig, 'apply', '-f', file], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(r.stderr);
    } else {
      const rs = await Promise.all(docs.map((d) => api('POST', '/api/v1/namespaces/default/pods', d)));
      const bad = rs.find((r) => r.status !== 201);
      if (bad) throw new Error(JSON.stringify(bad.json));
    }
    const applied = performance.now() - t0;
    while (seen.ready.size < N) {
      if (performance.now() - t0 > 600_000) throw new Error(`not all ${N} pods Ready after 10 min`);
      await sleep(10);
    }
    if (HOSTPORTS) await allServing(docs.map((_, i) => BASE_PORT + i), t0 + 600_000);
    const t1 = performance.now();
    const cpu1 = podbayCpuMs(pid).total;
    const host1 = hostBusyCpuMs();
    const mounts1 = mountLines();
    const rss = Math.round(rssMb(pid) * 1024);
    const spawnerRss = Math.round(spawnersOf(pid).reduce((a, p) => a + rssMb(p), 0) * 1024);

    if (VIA === 'kubectl') {
      const r = spawnSync(kubectl, ['--kubeconfig', s.kubeconfig, 'delete', '-f', file, '--grace-period=0', '--wait=false'], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(r.stderr);
    } else {
      await Promise.all(docs.map((d) => api('DELETE', `/api/v1/namespaces/default/pods/${d.metadata.name}`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 })));
    }
    for (;;) {
      if (seen.present.size === 0 && hostClean()) break;
      if (performance.now() - t1 > 600_000) throw new Error('teardown did not finish in 10 min');
      await sleep(seen.present.size ? 10 : 50);
    }
    watch.destroy();
    const t2 = performance.now();
    const sampled = await sampler.stop();
    const sorted = [...sampled.latencies].sort((a, b) => a - b);
    const pct = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))] ?? 0);
    const cpu2 = podbayCpuMs(pid).total;
    const host2 = hostBusyCpuMs();
    const self2 = podbayCpuMs(pid, 'self').engine;
    const main2 = threadCpuMs(pid);
    return {
      up_ms: Math.round(t1 - t0),
      apply_returned_ms: Math.round(applied),
      down_ms: Math.round(t2 - t1),
      // CPU of the engine, its spawner and every command they waited for (runc, CNI plugins,
      // iptables, mount), per pod: what load on the machine does not change
      cpu_ms_per_pod_up: Math.round((cpu1 - cpu0) / N),
      cpu_ms_per_pod_down: Math.round((cpu2 - cpu1) / N),
      // the whole host's busy CPU per pod while they came up / went: everything above plus
      // conmon and the `runc create` + init it runs (conmon daemonizes: podbay never waits for
      // it), kubectl, the kernel's threads, and this bench's own watch and sampler
      host_cpu_ms_per_pod_up: Math.round((host1 - host0) / N),
      host_cpu_ms_per_pod_down: Math.round((host2 - host1) / N),
      // of which the engine's own JavaScript and syscalls (up and down together)
      engine_self_cpu_ms_per_pod: Math.round((self2 - self0) / N),
      // of that, the engine's main thread (the rest: libuv's pool doing the async fs calls, V8's GC)
      engine_main_thread_cpu_ms_per_pod: Math.round((main2 - main0) / N),
      engine_rss_kb_at_n: rss,
      // lines each running pod adds to the host's /proc/self/mountinfo (which every runc reads)
      host_mountinfo_lines_per_pod: Math.round(((mounts1 - mounts0) / N) * 10) / 10,
      spawner_rss_kb_at_n: spawnerRss,
      readyz_ms_during: { p50: pct(50), p99: pct(99), max: Math.round(sorted.at(-1) ?? 0), samples: sorted.length, failures: sampled.failures.length },
      via: VIA,
    };
  } finally {
    api.close();
    await s.teardown();
    // with PODBAY_TRACE=1 / PODBAY_TRACE_EXEC=1 in the environment, the server's trace
    if (process.env.BURST_SERVER_LOG) writeFileSync(process.env.BURST_SERVER_LOG, s.log);
    rmSync(work, { recursive: true, force: true });
  }
}

function sh(cmd: string, args: string[], env: Record<string, string> = {}, input?: string) {
  return spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30 * 60_000, input, maxBuffer: 1 << 26 });
}

const shared = resolve(ROOT, '../shared/bench');

async function podmanRun() {
  const work = mkdtempSync(join(tmpdir(), 'podbay-burst-podman-'));
  const clean = join(shared, 'peers/cleanup.sh');
  const env = { PEERS_WORK: work, CONTAINERS_CONF: join(work, 'containers.conf') };
  sh('bash', [clean, 'snapshot'], env);
  try {
    // the same private containers.conf podman-bench.sh writes (runc; rlimits under the hard ones)
    const hardNofile = Math.min(Number(sh('bash', ['-c', 'ulimit -Hn']).stdout.trim()) || 1048576, 1048576);
    const hardNproc = Math.min(Number(sh('bash', ['-c', 'ulimit -Hu']).stdout.trim()) || 32768, 32768);
    writeFileSync(env.CONTAINERS_CONF, `[containers]\ndefault_ulimits = ["nofile=${hardNofile}:${hardNofile}", "nproc=${hardNproc}:${hardNproc}"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_backend = "cni"\n`);
    const tar = join(work, 'rootfs.tar');
    const b = sh('bash', [join(shared, 'peers/build-rootfs.sh'), tar], env);
    if (b.status !== 0) throw new Error(b.stderr);
    const image = 'localhost/busybox:burst';
    const imp = sh('podman', ['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', tar, image], env);
    if (imp.status !== 0) throw new Error(imp.stderr);
    const file = join(work, 'pods.yaml');
    writeFileSync(file, yamlOf(Array.from({ length: N }, (_, i) => podDoc(i, image))));
    const running = () => {
      const r = sh('podman', ['ps', '-q', '--filter', 'label=app=burst', '--filter', 'status=running'], env);
      return r.stdout.trim() ? r.stdout.trim().split('\n').length : 0;
    };
    const t0 = performance.now();
    const play = sh('podman', ['kube', 'play', file], env);
    if (play.status !== 0) throw new Error(play.stderr.slice(-800));
    // kube play returns once the containers started; count them as podman reports them. Only
    // the app containers carry the pod's labels (podman 4.3's infra containers do not), and an
    // app container runs only once its pod's infra container does
    while (running() < N) {
      if (performance.now() - t0 > 600_000) throw new Error('podman pods not running after 10 min');
      await sleep(50);
    }
    if (HOSTPORTS) await allServing(Array.from({ length: N }, (_, i) => BASE_PORT + i), t0 + 600_000);
    const t1 = performance.now();
    const down = sh('podman', ['kube', 'down', file], env);
    if (down.status !== 0) throw new Error(down.stderr.slice(-800));
    while (sh('podman', ['pod', 'ps', '-q'], env).stdout.trim()) {
      if (performance.now() - t1 > 600_000) throw new Error('podman pods not gone after 10 min');
      await sleep(50);
    }
    const t2 = performance.now();
    sh('podman', ['rmi', '-f', image], env);
    return { up_ms: Math.round(t1 - t0), down_ms: Math.round(t2 - t1), version: sh('podman', ['--version']).stdout.trim() };
  } finally {
    sh('bash', [clean, 'restore'], env);
    rmSync(work, { recursive: true, force: true });
  }
}

function floorRun() {
  const r = sh('bash', [join(shared, 'floor/floor.sh')], { N: String(N), PORT: String(BASE_PORT + 450) });
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
  const up = j.floor_start_to_serving_ms?.median;
  const down = j.floor_teardown_ms?.median;
  if (up == null || down == null) return { error: (r.stderr || r.stdout).slice(-500) };
  return { sequential_up_ms: Math.round(N * up), sequential_down_ms: Math.round(N * down), per_pod: j, note: 'n x the medians of an n-cycle floor run (two containers + hostPort per cycle)' };
}

const restoreRunNetns = keepRunNetnsAsFound();
const restorePeerLeftovers = keepPeerLeftoversAsFound();
const result: Record<string, any> = { bench: 'burst', n: N, hostports: HOSTPORTS, load_before: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') };
result.podbay = await podbayRun();
const hasPodman = spawnSync('bash', ['-c', 'command -v podman']).status === 0;
if (PEERS && hasPodman) {
  try {
    result.podman_kube_play = await podmanRun();
  } catch (e) {
    result.podman_kube_play = { error: String((e as Error).message).slice(-800) };
  }
} else if (PEERS) result.podman_kube_play = { error: 'podman is not installed (apt-get install -y --no-install-recommends podman)' };
if (PEERS && existsSync(join(shared, 'floor/floor.sh'))) result.floor = floorRun();
restoreRunNetns();
restorePeerLeftovers();

const ratio = (a?: number, b?: number) => (a && b ? Math.round((a / b) * 100) / 100 : undefined);
result.ratios = {
  up_over_podman: ratio(result.podbay.up_ms, result.podman_kube_play?.up_ms),
  down_over_podman: ratio(result.podbay.down_ms, result.podman_kube_play?.down_ms),
  up_over_floor_sequential: ratio(result.podbay.up_ms, result.floor?.sequential_up_ms),
  down_over_floor_sequential: ratio(result.podbay.down_ms, result.floor?.sequential_down_ms),
};
console.log(JSON.stringify(result, null, 2));
