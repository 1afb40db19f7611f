/**
 * How long /readyz waits while the store takes a write burst (docs/reliability.md, "Durability"):
 * 20 clients x 500 writes (ConfigMap creates and merge patches, the API soak's mix) against a
 * real `podbay server`, while a separate process asks GET /readyz every 20 ms on a keep-alive
 * connection (a prober in the same process would measure its own event loop too). Each run
 * prints /readyz p50 / p99 / max and the write throughput; the last line is the median of each
 * over the runs.
 * Usage: node dist/bench/readyz-under-writes.js [--runs 3] [--clients 20] [--writes 500] [--watchers 0] [--store-sync full|normal]
 */
import { spawn } from 'node:child_process';
import https from 'node:https';
import { PodbayServer } from '../test/e2e/harness.js';
import { apiSoak, percentile } from '../test/e2e/api-soak-driver.js';

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 10) / 10;

/** the prober: its own process; prints every latency (ms) as JSON when stdin closes */
async function probe(port: number, ca: string): Promise<void> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  let stop = false;
  process.stdin.on('end', () => (stop = true)).resume();
  while (!stop) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      https
        .get({ host: '127.0.0.1', port, path: '/readyz', ca, agent }, (res) => res.resume().on('end', resolve))
        .on('error', () => resolve());
    });
    samples.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  process.stdout.write(JSON.stringify(samples));
  agent.destroy();
}

async function runOnce(opts: { clients: number; writes: number; watchers: number; sync: string }, i: number) {
  const s = await PodbayServer.start(['--no-kubelet', '--store-sync', opts.sync]);
  try {
    const prober = spawn(process.execPath, [process.argv[1]!, '--probe', String(s.port)], { stdio: ['pipe', 'pipe', 'inherit'] });
    prober.stdin.write(s.caPem);
    let out = '';
    prober.stdout.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 500)); // the prober's first answers: an idle server
    const r = await apiSoak(s, { clients: opts.clients, writesPerClient: opts.writes, watchers: opts.watchers, namespace: `bench${i}` });
    prober.stdin.end();
    await new Promise((r) => prober.once('exit', r));
    const lat: number[] = JSON.parse(out);
    if (r.problems.length) throw new Error(`the soak found problems: ${r.problems.slice(0, 5).join('; ')}`);
    return { readyzP50: percentile(lat, 50), readyzP99: percentile(lat, 99), readyzMax: Math.max(...lat), samples: lat.length, writesPerSecond: r.writesPerSecond, writeP99: r.p99Ms };
  } finally {
    await s.teardown();
  }
}

if (process.argv.includes('--probe')) {
  // the CA arrives first on stdin (one PEM), then stdin stays open until the run is over
  let ca = '';
  process.stdin.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    const onData = (d: string) => {
      ca += d;
      if (ca.includes('-----END CERTIFICATE-----')) {
        process.stdin.off('data', onData);
        resolve();
      }
    };
    process.stdin.on('data', onData);
  });
  await probe(Number(flag('probe', '0')), ca);
} else {
  const opts = { clients: Number(flag('clients', '20')), writes: Number(flag('writes', '500')), watchers: Number(flag('watchers', '0')), sync: flag('store-sync', 'full') };
  const runs = Number(flag('runs', '3'));
  const results = [];
  for (let i = 0; i < runs; i++) {
    const r = await runOnce(opts, i);
    results.push(r);
    console.log(JSON.stringify({ run: i + 1, ...opts, readyzP50Ms: round(r.readyzP50), readyzP99Ms: round(r.readyzP99), readyzMaxMs: round(r.readyzMax), samples: r.samples, writesPerSecond: r.writesPerSecond, writeP99Ms: r.writeP99 }));
  }
  console.log(
    JSON.stringify({
      medianOf: runs,
      ...opts,
      readyzP50Ms: round(median(results.map((r) => r.readyzP50))),
      readyzP99Ms: round(median(results.map((r) => r.readyzP99))),
      readyzMaxMs: round(median(results.map((r) => r.readyzMax))),
      writesPerSecond: median(results.map((r) => r.writesPerSecond)),
    }),
  );
}
