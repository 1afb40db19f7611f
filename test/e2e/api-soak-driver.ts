/**
 * The API-level soak, shared by test/e2e/api-soak.test.ts (short, for CI) and
 * bench/api-soak.ts (the full 20 x 500): N clients write ConfigMaps concurrently (creates, and
 * merge patches of what they created) while M watchers follow the namespace from the
 * revision of the initial list. Afterwards:
 *   - every acknowledged write is in the final list, with its resourceVersion and data;
 *   - every watcher saw every acknowledged revision, in strictly increasing order, and no
 *     revision nobody was told about;
 *   - no answer was a 5xx (nor any other failure).
 * Everything odd is collected in `problems`, so a caller asserts one list and prints it.
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { PodbayServer } from './harness.js';
import { ROOT_CA_CONFIGMAP } from '../../src/api/service-account.js';

export interface SoakOptions {
  clients: number;
  writesPerClient: number;
  watchers: number;
  namespace: string;
}

export interface SoakResult {
  writes: number;
  durationMs: number;
  writesPerSecond: number;
  /** HTTP status -> count, over every write */
  statuses: Record<string, number>;
  /** events each watcher received */
  watcherEvents: number[];
  /** 50th/99th percentile write latency, ms */
  p50Ms: number;
  p99Ms: number;
  problems: string[];
}

interface Answer {
  status: number;
  body: string;
  json: any;
}

/** JSON requests through the harness, on this client's own keep-alive connections. */
export function apiClient(s: PodbayServer, maxSockets = 32) {
  const agent = new https.Agent({ keepAlive: true, maxSockets });
  const request = (method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> =>
    s.request(method, path, { agent, ...(body === undefined ? {} : { body: JSON.stringify(body), contentType }) });
  return { request, close: () => agent.destroy() };
}

/** A watch read line by line; `events` fills as they arrive. */
export function openWatch(s: PodbayServer, path: string) {
  const events: { type: string; name?: string; rv: number; object: any }[] = [];
  let ended = false;
  let error: Error | undefined;
  let statusCode = 0;
  const req = https.request(
    { host: '127.0.0.1', port: s.port, path, method: 'GET', ca: s.caPem, agent: false, headers: { authorization: `Bearer ${s.token}` } },
    (res) => {
      statusCode = res.statusCode ?? 0;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          const ev = JSON.parse(line);
          // the root CA publisher's ConfigMap (every namespace has one) is not a write of ours
          if (ev.object?.metadata?.name === ROOT_CA_CONFIGMAP) continue;
          events.push({ type: ev.type, name: ev.object?.metadata?.name, rv: Number(ev.object?.metadata?.resourceVersion), object: ev.object });
        }
      });
      res.on('end', () => (ended = true));
      res.on('error', (e) => (error = e));
    },
  );
  req.on('error', (e) => (error = e));
  req.end();
  return {
    events,
    get ended() {
      return ended;
    },
    get error() {
      return error;
    },
    get status() {
      return statusCode;
    },
    close: () => req.destroy(),
  };
}

export function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
}

export async function apiSoak(s: PodbayServer, o: SoakOptions): Promise<SoakResult> {
  const problems: string[] = [];
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  const c = apiClient(s, o.clients + 2);
  const ns = o.namespace;
  const base = `/api/v1/namespaces/${ns}/configmaps`;
  const made = await c.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  if (made.status !== 201) throw new Error(`creating namespace ${ns}: ${made.status} ${made.body}`);
  const first = await c.request('GET', base);
  const fromRv = first.json.metadata.resourceVersion;
  const watchers = Array.from({ length: o.watchers }, () => openWatch(s, `${base}?watch=1&resourceVersion=${fromRv}&timeoutSeconds=3600`));

  /** name -> the last acknowledged write to it */
  const acked = new Map<string, { rv: number; v: string }>();
  const ackedRvs = new Set<number>();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.clients }, async (_, ci) => {
      for (let k = 0; k < o.writesPerClient; k++) {
        let name: string;
        let v: string;
        let r: Answer;
        const t = performance.now();
        try {
          if (k % 4 === 3) {
            name = `c${ci}-${k - 1}`;
            v = `patched-${k}`;
            r = await c.request('PATCH', `${base}/${name}`, { data: { v } }, 'application/merge-patch+json');
          } else {
            name = `c${ci}-${k}`;
            v = `created-${k}`;
            r = await c.request('POST', base, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });
          }
        } catch (e) {
          problems.push(`client ${ci} write ${k}: ${(e as Error).message}`);
          continue;
        }
        latencies.push(performance.now() - t);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status >= 300) {
          problems.push(`client ${ci} write ${k} (${name}): ${r.status} ${r.body.slice(0, 300)}`);
          continue;
        }
        const rv = Number(r.json?.metadata?.resourceVersion);
        if (!Number.isSafeInteger(rv) || rv <= 0) problems.push(`client ${ci} write ${k}: resourceVersion ${r.json?.metadata?.resourceVersion}`);
        if (ackedRvs.has(rv)) problems.push(`resourceVersion ${rv} acknowledged twice (again for ${name})`);
        ackedRvs.add(rv);
        acked.set(name, { rv, v });
      }
    }),
  );
  const durationMs = performance.now() - t0;
  const writes = o.clients * o.writesPerClient;

  const final = await c.request('GET', base);
  if (final.status !== 200) problems.push(`final list: ${final.status} ${final.body.slice(0, 300)}`);
  // every namespace also holds the root CA publisher's kube-root-ca.crt: not one of ours
  const listed = new Map<string, any>((final.json?.items ?? []).filter((i: any) => i.metadata.name !== ROOT_CA_CONFIGMAP).map((i: any) => [i.metadata.name, i]));
  for (const [name, a] of acked) {
    const item = listed.get(name);
    if (!item) problems.push(`acknowledged ${name} (rv ${a.rv}) is missing from the final list`);
    else if (Number(item.metadata.resourceVersion) !== a.rv || item.data?.v !== a.v) {
      problems.push(`${name}: final list has rv ${item.metadata.resourceVersion} v=${item.data?.v}, last acknowledged rv ${a.rv} v=${a.v}`);
    }
  }
  if (listed.size !== acked.size) problems.push(`the final list has ${listed.size} ConfigMaps, ${acked.size} were acknowledged`);

  const newest = Math.max(0, ...ackedRvs);
  const deadline = Date.now() + 30_000;
  while (watchers.some((w) => !w.error && !w.ended && (w.events.at(-1)?.rv ?? 0) < newest) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const sortedAcked = [...ackedRvs].sort((a, b) => a - b);
  watchers.forEach((w, i) => {
    if (w.status !== 200) problems.push(`watcher ${i}: HTTP ${w.status}`);
    if (w.error) problems.push(`watcher ${i}: ${w.error.message}`);
    if (w.ended) problems.push(`watcher ${i}: the watch ended early`);
    const rvs = w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => e.rv);
    for (const e of w.events) if (e.type === 'ERROR') problems.push(`watcher ${i}: ERROR event ${JSON.stringify(e.object)}`);
    for (let j = 1; j < rvs.length; j++) {
      if (rvs[j]! <= rvs[j - 1]!) {
        problems.push(`watcher ${i}: revision ${rvs[j]} after ${rvs[j - 1]} (event ${j})`);
        break;
      }
    }
    const seen = new Set(rvs);
    const missed = sortedAcked.filter((rv) => !seen.has(rv));
    if (missed.length) problems.push(`watcher ${i}: missed ${missed.length} acknowledged revisions, first ${missed.slice(0, 5).join(', ')}`);
    const unknown = rvs.filter((rv) => !ackedRvs.has(rv));
    if (unknown.length) problems.push(`watcher ${i}: ${unknown.length} revisions nobody was acknowledged, e.g. ${unknown.slice(0, 5).join(', ')}`);
    w.close();
  });
  c.close();
  return {
    writes,
    durationMs: Math.round(durationMs),
    writesPerSecond: Math.round((writes / durationMs) * 1000),
    statuses,
    watcherEvents: watchers.map((w) => w.events.length),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    problems,
  };
}

/** VmRSS of a process in bytes (/proc/PID/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for PID ${pid}`);
  return Number(m[1]) * 1024;
}
