/**
 * kubectl's path: what one `kubectl apply` of the seed pod (test/fixtures/ghost-fixed.yaml, a new
 * name each time) costs the API server, in CPU time and in requests.
 *
 * The server runs with --no-kubelet (the API alone: what is measured is serving kubectl, not
 * running the pod) and --log-requests (to count what kubectl asks for). Its CPU is read from
 * /proc/PID/task/TID/schedstat (time on a CPU, in ns, of every thread of the server and of its
 * spawner) around each apply and around each batch of applies; the server's idle CPU over the
 * same wall time, measured just before, is subtracted from the batch's. `engine_thread` is the
 * main thread alone (the event loop every request and the kubelet share). The per-apply
 * median leaves out what lands between applies (the scheduler's bind, a GC, a heartbeat).
 * Two modes:
 *   warm: kubectl keeps its disk cache (~/.kube/cache) between applies, as a user's does;
 *   cold: every apply starts with an empty cache (discovery and OpenAPI fetched again).
 * The other threads (V8's concurrent GC, libuv's pool: fdatasync, gzip) add 5-10 ms to one
 * apply in ten; the main thread's figure is the steadier one.
 * Usage (root): node dist/bench/kubectl-path.js [--n 20] [--kubectl 1.33] [--only warm|cold]
 * (KUBECTL_PATH_EACH=1: also every apply's figures, in order)
 * Prints JSON. CPU figures do not depend on machine load as wall times do.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodbayServer, kubectlBinaries } from '../test/e2e/harness.js';
import { ghostFixedYaml } from '../test/fixtures/seed.js';
import { spawnersOf } from './proc.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('n', '20'));
const WANT = arg('kubectl', '1.33');
const ONLY = arg('only', '');

/** time on a CPU of one thread so far, in ms (schedstat: ns; 0 once it is gone) */
function threadMs(pid: number, tid: number | string): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return 0;
  }
}

/** CPU the server (every thread: the event loop, libuv's pool, V8's GC and compiler threads) and its spawner have used so far, in ms */
function cpuMs(pid: number): { total: number; engine: number } {
  let total = 0;
  for (const p of [pid, ...spawnersOf(pid)]) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      /* gone */
    }
    for (const t of tids) total += threadMs(p, t);
  }
  return { total, engine: threadMs(pid, pid) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : 0;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : 0;
};
const ms2 = (x: number) => +x.toFixed(2);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
/** the standard error of the mean (sample standard deviation / sqrt(n)) */
const stderr = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
};

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
  const idle0 = cpuMs(pid).total;
  const t0 = Date.now();
  await sleep(2000);
  const idleRate = (cpuMs(pid).total - idle0) / (Date.now() - t0);
  const logAt = s.log.length;
  const c0 = cpuMs(pid);
  const w0 = Date.now();
  let kubectlMs = 0;
  const each: number[] = [];
  const eachEngine: number[] = [];
  for (let i = first; i < first + N; i++) {
    const h = mode === 'warm' ? home : mkdtempSync(join(tmpdir(), 'podbay-kubectl-home-'));
    const k0 = Date.now();
    const a0 = cpuMs(pid);
    apply(i, h);
    const a1 = cpuMs(pid);
    each.push(a1.total - a0.total);
    eachEngine.push(a1.engine - a0.engine);
    kubectlMs += Date.now() - k0;
    if (h !== home) rmSync(h, { recursive: true, force: true });
  }
  await sleep(200); // what an apply sets off (the scheduler's bind) lands inside the window
  const wall = Date.now() - w0;
  const c1 = cpuMs(pid);
  const cpu = c1.total - c0.total;
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
    server_cpu_ms_per_apply: ms2(cpu / N),
    server_cpu_ms_per_apply_minus_idle: ms2((cpu - idleRate * wall) / N),
    engine_thread_ms_per_apply: ms2((c1.engine - c0.engine) / N),
    server_cpu_ms_per_apply_median: ms2(median(each)),
    engine_thread_ms_per_apply_median: ms2(median(eachEngine)),
    server_cpu_ms_per_apply_p10_p90: [ms2(quantile(each, 0.1)), ms2(quantile(each, 0.9))],
    ...(process.env.KUBECTL_PATH_EACH ? { each: each.map(ms2), each_engine: eachEngine.map(ms2) } : {}),
    // the mean of the per-apply figures and its 95 % interval (1.96 standard errors)
    server_cpu_ms_per_apply_mean_ci95: [ms2(mean(each)), ms2(1.96 * stderr(each))],
    engine_thread_ms_per_apply_mean_ci95: [ms2(mean(eachEngine)), ms2(1.96 * stderr(eachEngine))],
    idle_cpu_ms_per_s: ms2(idleRate * 1000),
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
    const warm = ONLY === 'cold' ? undefined : await batch(s, kubectl, 'warm', 1);
    const cold = ONLY === 'warm' ? undefined : await batch(s, kubectl, 'cold', 1);
    console.log(JSON.stringify({ bench: 'kubectl-path', kubectl: WANT, cpu_clock: 'schedstat (ns)', warm, cold }, null, 2));
  } finally {
    await s.teardown();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
