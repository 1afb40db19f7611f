/**
 * Control-plane benchmark: starts a real `podbay server` (sqlite store, temp data dir, free
 * port) and measures, over HTTPS with the admin token:
 *   - pod creates per second (sequential, and with 8 requests in flight)
 *   - list latency with 1,000 pods stored (JSON and Table, as kubectl asks)
 *   - watch latency: write sent -> event received on an open watch
 * Prints one JSON object. Usage: node dist/bench/api.js [--runs N]
 */
import https from 'node:https';
import { PodbayServer } from '../test/e2e/harness.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const r2 = (x: number) => Math.round(x * 100) / 100;

async function runOnce() {
  const s = await PodbayServer.start(['--no-kubelet']);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: s.caPem });
  const req = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = https.request(
        { host: '127.0.0.1', port: s.port, path, method, agent, headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json', ...headers } },
        (res) => {
          let data = '';
          res.on('data', (d) => (data += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        },
      );
      r.on('error', reject);
      if (body) r.write(body);
      r.end();
    });
  const pod = (name: string) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app: 'bench' } },
      spec: { containers: [{ name: 'httpd', image: 'busybox:1.36', ports: [{ containerPort: 80 }] }, { name: 'sleep', image: 'busybox:1.36' }] },
    });
  try {
    const base = '/api/v1/namespaces/default/pods';
    // sequential creates
    const seqN = 300;
    let t = performance.now();
    for (let i = 0; i < seqN; i++) {
      const r = await req('POST', base, pod(`seq-${i}`));
      if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.body}`);
    }
    const seqPerSec = seqN / ((performance.now() - t) / 1000);
    // concurrent creates up to 1000 pods in all
    const parN = 1000 - seqN;
    let next = 0;
    t = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < parN) {
          const i = next++;
          const r = await req('POST', base, pod(`par-${i}`));
          if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.body}`);
        }
      }),
    );
    const parPerSec = parN / ((performance.now() - t) / 1000);

    const listMs: number[] = [];
    const tableMs: number[] = [];
    for (let i = 0; i < 15; i++) {
      t = performance.now();
      const r = await req('GET', base);
      listMs.push(performance.now() - t);
      if (JSON.parse(r.body).items.length !== 1000) throw new Error('expected 1000 pods');
      t = performance.now();
      await req('GET', `${base}?limit=500`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
      tableMs.push(performance.now() - t);
    }

    // watch latency
    const watchMs: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const pending = new Map<string, number>();
      const w = https.request(
        { host: '127.0.0.1', port: s.port, path: '/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0', method: 'GET', ca: s.caPem, headers: { authorization: `Bearer ${s.token}` } },
        (res) => {
          let buf = '';
          res.on('data', (d) => {
            buf += d;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const ev = JSON.parse(buf.slice(0, nl));
              buf = buf.slice(nl + 1);
              const start = pending.get(ev.object.metadata.name);
              if (start !== undefined) {
                watchMs.push(performance.now() - start);
                pending.delete(ev.object.metadata.name);
              }
            }
          });
          void (async () => {
            for (let i = 0; i < 50; i++) {
              const name = `w-${i}`;
              pending.set(name, performance.now());
              await req('POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } }));
              while (pending.has(name)) await new Promise((r) => setImmediate(r));
            }
            w.destroy();
            resolve();
          })().catch(reject);
        },
      );
      w.on('error', (e) => (watchMs.length >= 50 ? resolve() : reject(e)));
      w.end();
    });
    return { seqPerSec, parPerSec, listMs: median(listMs), tableMs: median(tableMs), watchMs: median(watchMs), watchP90: [...watchMs].sort((a, b) => a - b)[Math.floor(watchMs.length * 0.9)] };
  } finally {
    agent.destroy();
    await s.teardown();
  }
}

const results: Awaited<ReturnType<typeof runOnce>>[] = [];
for (let i = 0; i < runs; i++) results.push(await runOnce());
const med = (k: keyof (typeof results)[number]) => r2(median(results.map((r) => r[k])));
console.log(
  JSON.stringify(
    {
      bench: 'control-plane',
      runs,
      store: 'sqlite',
      creates_per_sec_sequential: med('seqPerSec'),
      creates_per_sec_8_in_flight: med('parPerSec'),
      list_1000_pods_ms: med('listMs'),
      list_500_pods_table_ms: med('tableMs'),
      watch_latency_ms_median: med('watchMs'),
      watch_latency_ms_p90: med('watchP90'),
      per_run: results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, r2(v)]))),
    },
    null,
    2,
  ),
);
