/**
 * kubectl's path: what one `kubectl apply` of the seed pod (test/fixtures/ghost-fixed.yaml, a new
 * name each time) costs the API server, in CPU time and in requests.
 *
 * The server runs with --no-kubelet (the API alone: what is measured is serving kubectl, not
 * running the pod) and --log-requests (to count what kubectl asks for). Its CPU is read from
 * /proc/PID/stat (utime + stime, clock ticks) around each batch of applies; the server's idle
 * CPU over the same wall time, measured just before, is subtracted. Two modes:
 *   warm: kubectl keeps its disk cache (~/.kube/cache) between applies, as a user's does;
 *   cold: every apply starts with an empty cache (discovery and OpenAPI fetched again).
 * Usage (root): node dist/bench/kubectl-path.js [--n 20] [--kubectl 1.33]
 * Prints JSON. CPU figures do not depend on machine load as wall times do.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodbayServer, kubectlBinaries } from '../test/e2e/harness.js';
import { ghostFixedYaml } from '../test/fixtures/seed.js';
import { podbayCpuMs } from './proc.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('n', '20'));
const WANT = arg('kubectl', '1.33');
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** CPU (user + system) the server and its spawner have used so far, in ms (bench/proc.ts) */
const cpuMs = (pid: number) => podbayCpuMs(pid, 'self').total;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function batch(s: PodbayServer, kubectl: string, mode: 'warm' | 'cold', first: number) {
  const pid = s.proc!.pid!;
  const home = mkdtempSync(join(tmpdir(), 'podbay-kubectl-home-'));
  const yaml = ghostFixedYaml();
  const apply = (i: number, h: string) => {
    const r = spawnSync(kubectl, ['--kubeconfig', s.kubeconfig, 'apply', '-f', '-'], {
      input: yaml.replace('name: ghost\n', `name: ghost-${mode}-${i}\n`),
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: '', HOME: h },
    });
    if (r.status !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
  };
  // one apply outside the measurement fills the warm cache (and the server's own caches)
  apply(first - 1, home);
  await sleep(300);
  // idle: the server's background CPU (controllers, heartbeats) over a comparable wall time
  const idle0 = cpuMs(pid);
  const t0 = Date.now();
  await sleep(2000);
  const idleRate = (cpuMs(pid) - idle0) / (Date.now() - t0);
  const logAt = s.log.length;
  const c0 = cpuMs(pid);
  const w0 = Date.now();
  let kubectlMs = 0;
  for (let i = first; i < first + N; i++) {
    const h = mode === 'warm' ? home : mkdtempSync(join(tmpdir(), 'podbay-kubectl-home-'));
    const k0 = Date.now();
    apply(i, h);
    kubectlMs += Date.now() - k0;
    if (h !== home) rmSync(h, { recursive: true, force: true });
  }
  await sleep(200); // what an apply sets off (the scheduler's bind) lands inside the window
  const wall = Date.now() - w0;
  const cpu = cpuMs(pid) - c0;
  rmSync(home, { recursive: true, force: true });
  const lines = s.log.slice(logAt).split('\n').filter((l) => / (GET|POST|PUT|PATCH|DELETE) \/\S* \d{3} /.test(l));
  const byPath = new Map<string, number>();
  for (const l of lines) {
    const m = / (GET|POST|PUT|PATCH|DELETE) (\S+) (\d+)/.exec(l);
    if (!m) continue;
    const key = `${m[1]} ${m[2].split('?')[0].replace(/ghost-(warm|cold)-\d+/, 'ghost-*')} ${m[3]}`;
    byPath.set(key, (byPath.get(key) ?? 0) + 1);
  }
  return {
    mode,
    applies: N,
    server_cpu_ms_per_apply: +(cpu / N).toFixed(2),
    server_cpu_ms_per_apply_minus_idle: +((cpu - idleRate * wall) / N).toFixed(2),
    idle_cpu_ms_per_s: +(idleRate * 1000).toFixed(2),
    requests_per_apply: +(lines.length / N).toFixed(2),
    requests: Object.fromEntries([...byPath].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, +(v / N).toFixed(2)])),
    kubectl_wall_ms_per_apply: Math.round(kubectlMs / N),
  };
}

async function main() {
  const bins = kubectlBinaries();
  const dir = spawnSync('dirname', [bins[0].path], { encoding: 'utf8' }).stdout.trim();
  const kubectl = join(dir, `kubectl.${WANT}`);
  const s = await PodbayServer.start(['--no-kubelet', '--log-requests']);
  try {
    const warm = await batch(s, kubectl, 'warm', 1);
    const cold = await batch(s, kubectl, 'cold', 1);
    console.log(JSON.stringify({ bench: 'kubectl-path', kubectl: WANT, cpu_tick_ms: TICK_MS, warm, cold }, null, 2));
  } finally {
    await s.teardown();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
