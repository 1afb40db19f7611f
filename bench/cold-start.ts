/**
 * Cold start: `podbay server` with an existing data dir until /readyz answers 200, N times
 * (the data dir made by a first start that is not counted). Reports the median wall time and
 * the server's CPU (utime + stime from /proc/PID/stat, clock ticks) spent until ready: CPU
 * does not grow with machine load as wall time does.
 * Modes: `api` (--no-kubelet) and `node` (with the kubelet, in this bench's own world: bridge
 * pbperf0, pod CIDR 10.250.0.0/24, run dir /run/pbperf-cold; no pod is made).
 * Usage (root): node dist/bench/cold-start.js [--n 10] [--mode api|node|both]
 * The run dir /run/pbperf-cold is removed afterwards.
 * Profile a start with PODBAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { PODBAY, freePort } from '../test/e2e/harness.js';
import { stats } from './stats.js';
import { podbayCpuMs } from './proc.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('n', '10'));
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

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
