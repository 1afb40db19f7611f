/**
 * Cold start: `podbay server` with an existing data dir until /readyz answers 200, N times
 * (the data dir made by a first start that is not counted). Reports the median wall time and
 * the server's CPU (utime + stime from /proc/PID/stat, clock ticks) spent until ready: CPU
 * does not grow with machine load as wall time does.
 * Modes: `api` (--no-kubelet) and `node` (with the kubelet, in this bench's own world: bridge
 * pbperf0, pod CIDR 10.250.0.0/24, run dir /run/pbperf-cold; no pod is made).
 * Usage (root): node dist/bench/cold-start.js [--n 10] [--mode api|node|both]
 * The run dir /run/pbperf-cold is removed afterwards.
 *
 * Adoption (--pods N): a server with the kubelet (bridge pbperf0, 10.250.0.0/24) runs N
 * one-container pods until all are Ready; then it is stopped (its pods keep running: conmon is
 * their parent) and started again on the same data dir, --n times (default 3). Each restart
 * reports the ms to /readyz and the ms from /readyz until the kubelet has synced every pod it
 * found (its log line `kubelet: synced the N pods found at start in MS ms`: each pod's status
 * checked against the runtime once), the server's CPU until then, and whether anything was
 * restarted or made again: every pod's UID, IP, container IDs, restartCount and Ready
 * transition time from the API, and every runc container's pid, must be as before the stop.
 *   node dist/bench/cold-start.js --pods 100 [--n 3]
 * The pods are deleted and the host checked clean afterwards (PodSuite.finish). ADOPT_SERVER_LOG=FILE
 * writes the server's log of every start there (with PODBAY_TRACE=1 PODBAY_TRACE_EXEC=1: each
 * step and command).
 * Profile a start with PODBAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { PODBAY, PodSuite, freePort, keepRunNetnsAsFound, kubectlBinaries } from '../test/e2e/harness.js';
import { stats } from './stats.js';
import { podbayCpuMs, rssMb } from './proc.js';
import { benchApi, loadBenchImage } from './bench-server.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const PODS = Number(arg('pods', '0'));
const N = Number(arg('n', PODS ? '3' : '10'));
const MODE = arg('mode', 'both');
const RUN_DIR = '/run/pbperf-cold';
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);


function readyz(port: number, ca: string): Promise<number> {
  return new Promise((res) => {
    const r = https.get({ host: '127.0.0.1', port, path: '/readyz', ca, timeout: 1000 }, (resp) => {
      resp.resume();
      resp.on('end', () => res(resp.statusCode ?? 0));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => res(0));
  });
}

async function once(dataDir: string, port: number, extra: string[]): Promise<{ ms: number; servingMs: number; cpuMs: number; rssMb: number }> {
  const t0 = performance.now();
  const p = spawn(PODBAY, ['server', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, ...extra], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' } });
  let log = '';
  p.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  let ca = '';
  try {
    for (;;) {
      if (p.exitCode !== null) throw new Error(`podbay server exited ${p.exitCode}: ${log}`);
      if (performance.now() - t0 > 30_000) throw new Error(`not ready in 30 s: ${log}`);
      try {
        ca ||= readFileSync(join(dataDir, 'pki/ca.crt'), 'utf8');
      } catch {
        /* first start: not written yet */
      }
      if (ca && (await readyz(port, ca)) === 200) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - t0;
    const cpu = podbayCpuMs(p.pid!, 'self').total;
    // /readyz answers once the API serves; the controllers, the proxier and the kubelet start
    // after it, and the server says "serving" (and handles SIGTERM) once they have
    while (!log.includes('podbay: serving the Kubernetes API')) {
      if (p.exitCode !== null) throw new Error(`podbay server exited ${p.exitCode}: ${log}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const servingMs = performance.now() - t0;
    const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))![1]) / 1024;
    // the SIGTERM handler goes in just after the "serving" line (after the compactor starts)
    await new Promise((r) => setTimeout(r, 150));
    return { ms, servingMs, cpuMs: cpu, rssMb };
  } finally {
    p.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`podbay server exited ${code} on SIGTERM: ${log}`);
  }
}

async function mode(name: string, extra: string[]) {
  const dataDir = mkdtempSync(join(tmpdir(), 'podbay-cold-'));
  const offline = join(dataDir, 'registries-offline.yaml');
  writeFileSync(offline, 'mirrors:\n  "*":\n    endpoint: ["http://127.0.0.1:9"]\n');
  extra = [...extra, '--registries', offline, '--disable-default-registry-endpoint'];
  try {
    const port = await freePort();
    const first = await once(dataDir, port, extra);
    const runs = [];
    for (let i = 0; i < N; i++) runs.push(await once(dataDir, port, extra));
    const ms = stats(runs.map((r) => r.ms));
    const cpu = stats(runs.map((r) => r.cpuMs));
    return { mode: name, runs: N, first_start_ms: Math.round(first.ms), ready_ms: ms, serving_ms: stats(runs.map((r) => r.servingMs)), cpu_ms_until_ready: cpu, rss_mb_at_ready: +(runs.reduce((a, r) => a + r.rssMb, 0) / N).toFixed(1) };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  const out: unknown[] = [];
  if (MODE !== 'node') out.push(await mode('api', ['--no-kubelet']));
  if (MODE !== 'api') {
    try {
      out.push(await mode('node', ['--cni-bridge', 'pbperf0', '--pod-cidr', '10.250.0.0/24', '--run-dir', RUN_DIR, '--cluster-dns', 'none']));
    } finally {
      rmSync(RUN_DIR, { recursive: true, force: true }); // no pod ran: only the server's own files
    }
  }
  console.log(JSON.stringify({ bench: 'cold-start', cpu_tick_ms: TICK_MS, results: out }, null, 2));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isReady = (p: any) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');

/** what must not change across a restart: per pod from the API, per container from runc */
async function snapshot(api: ReturnType<typeof benchApi>, runcRoot: string): Promise<Record<string, unknown>> {
  const list = await api('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dadopt');
  const out: Record<string, unknown> = {};
  for (const p of list.json.items as any[]) {
    out[`pod ${p.metadata.name}`] = {
      uid: p.metadata.uid,
      ready: isReady(p),
      readySince: p.status?.conditions?.find((c: any) => c.type === 'Ready')?.lastTransitionTime,
      podIP: p.status?.podIP,
      containers: (p.status?.containerStatuses ?? []).map((c: any) => ({ id: c.containerID, restarts: c.restartCount, startedAt: c.state?.running?.startedAt })),
    };
  }
  const runc = spawnSync('runc', ['--root', runcRoot, 'list', '--format', 'json'], { encoding: 'utf8' });
  for (const c of JSON.parse(runc.stdout || '[]') ?? []) out[`runc ${c.id}`] = { pid: c.pid, status: c.status, created: c.created };
  return out;
}

function differences(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const diff: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = JSON.stringify(before[k]);
    const b = JSON.stringify(after[k]);
    if (a !== b) diff.push(`${k}: ${a ?? 'absent'} -> ${b ?? 'absent'}`);
  }
  return diff;
}

async function adoption() {
  if (!(PODS >= 1 && PODS <= 250)) throw new Error('--pods must be 1..250 (the pod CIDR is a /24)');
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const restoreRunNetns = keepRunNetnsAsFound();
  const suite = new PodSuite('pbperf0', '10.250.0.0/24', /^184[89]\d$/);
  const s = await suite.start('podbay-adopt-');
  const runcRoot = join(suite.runDir, 'runc');
  let api = benchApi(s);
  const kubectl = kubectlBinaries().at(-1)!.path;
  try {
    const image = await loadBenchImage(suite.work, s);
    const t0 = performance.now();
    const rs = await Promise.all(
      Array.from({ length: PODS }, (_, i) =>
        api('POST', '/api/v1/namespaces/default/pods', {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `adopt-${i}`, labels: { app: 'adopt' } },
          spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image, imagePullPolicy: 'Never', command: ['/bin/sleep', '36000'] }] },
        }),
      ),
    );
    const bad = rs.find((r) => r.status !== 201);
    if (bad) throw new Error(JSON.stringify(bad.json));
    for (;;) {
      const l = await api('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dadopt');
      if ((l.json.items as any[]).filter(isReady).length === PODS) break;
      if (performance.now() - t0 > 600_000) throw new Error(`not all ${PODS} pods Ready after 10 min`);
      await sleep(200);
    }
    const upMs = performance.now() - t0;
    const runs: { readyMs: number; adoptedAfterReadyMs: number; kubeletMs: number; cpuMsUntilReady: number; cpuMsUntilAdopted: number; rssMbAdopted: number; changed: string[] }[] = [];
    for (let i = 0; i < N; i++) {
      const before = await snapshot(api, runcRoot);
      api.close();
      const code = await s.stop();
      if (code !== 0) throw new Error(`podbay server exited ${code} on SIGTERM: ${s.log.slice(-4000)}`);
      const from = s.log.length;
      const start = performance.now();
      const p = s.launch(suite.serverArgs());
      const pid = p.pid!;
      for (;;) {
        if (p.exitCode !== null) throw new Error(`podbay server exited ${p.exitCode}: ${s.log.slice(from)}`);
        if (performance.now() - start > 60_000) throw new Error(`not ready in 60 s: ${s.log.slice(from)}`);
        if ((await readyz(s.port, s.caPem)) === 200) break;
        await sleep(5);
      }
      const readyMs = performance.now() - start;
      const cpuReady = podbayCpuMs(pid).total;
      let kubeletMs = -1;
      for (;;) {
        const m = /kubelet: synced the (\d+) pods found at start in (\d+) ms(.*)/.exec(s.log.slice(from));
        if (m) {
          if (Number(m[1]) !== PODS || m[3]) throw new Error(`the kubelet found ${m[1]} pods, not ${PODS}${m[3]}`);
          kubeletMs = Number(m[2]);
          break;
        }
        if (p.exitCode !== null) throw new Error(`podbay server exited ${p.exitCode}: ${s.log.slice(from)}`);
        if (performance.now() - start > 120_000) throw new Error(`pods not adopted in 120 s: ${s.log.slice(from)}`);
        await sleep(2);
      }
      const adoptedMs = performance.now() - start;
      const cpuAdopted = podbayCpuMs(pid).total;
      const rss = rssMb(pid);
      while (!s.log.slice(from).includes('podbay: serving the Kubernetes API')) await sleep(10);
      api = benchApi(s);
      const changed = differences(before, await snapshot(api, runcRoot));
      runs.push({ readyMs, adoptedAfterReadyMs: adoptedMs - readyMs, kubeletMs, cpuMsUntilReady: cpuReady, cpuMsUntilAdopted: cpuAdopted, rssMbAdopted: rss, changed });
    }
    const changed = runs.flatMap((r) => r.changed);
    const adopted = stats(runs.map((r) => r.adoptedAfterReadyMs));
    return {
      bench: 'cold-start',
      mode: 'adopt',
      pods: PODS,
      restarts: N,
      load_before: load,
      pods_up_ms: Math.round(upMs),
      // the server spawned -> /readyz 200
      ready_ms: stats(runs.map((r) => r.readyMs)),
      // /readyz 200 -> the kubelet's "synced the N pods found at start" line (issue 12: <= 1000)
      adopted_after_ready_ms: adopted,
      // the same, from the kubelet's start, as the kubelet measures it
      kubelet_start_to_adopted_ms: stats(runs.map((r) => r.kubeletMs)),
      // engine + spawner + the commands they waited for
      cpu_ms_until_ready: stats(runs.map((r) => r.cpuMsUntilReady)),
      cpu_ms_until_adopted: stats(runs.map((r) => r.cpuMsUntilAdopted)),
      rss_mb_adopted: stats(runs.map((r) => r.rssMbAdopted)),
      ratio_to_goal: Math.round((adopted.median / 1000) * 100) / 100,
      // a pod restarted, a container made again, an IP changed: must be empty
      changed: changed.slice(0, 20),
      changed_count: changed.length,
    };
  } finally {
    api.close();
    // with PODBAY_TRACE=1 / PODBAY_TRACE_EXEC=1 in the environment, the server's trace of every start
    if (process.env.ADOPT_SERVER_LOG) writeFileSync(process.env.ADOPT_SERVER_LOG, s.log);
    try {
      await suite.finish(kubectl);
    } finally {
      restoreRunNetns();
    }
  }
}

if (PODS) {
  adoption()
    .then((r) => {
      console.log(JSON.stringify(r, null, 2));
      if (r.changed_count) process.exit(1);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
} else main().catch((e) => {
  console.error(e);
  process.exit(1);
});
