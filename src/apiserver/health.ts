/**
 * /healthz, /livez and /readyz as kube-apiserver serves them (k8s.io/apiserver/pkg/server/healthz):
 * each runs its checks; all pass -> 200 "ok" (with `?verbose`: one `[+]NAME ok` line per check
 * and "readyz check passed"); one fails -> 500 with every line, the failed ones as
 * `[-]NAME failed: reason withheld`, and "readyz check failed" (always verbose on failure).
 * `?exclude=NAME` skips a check (`[+]NAME excluded: ok`); `/readyz/NAME` runs one check: "ok", or
 * 500 "internal server error: WHY". The endpoints need no credentials; the reasons go to the log.
 *
 * podbay's checks: ping (the server answers), etcd (the store answers a read within 2 s, the
 * SQLite file or etcd alike: kube-apiserver's check is named etcd with kine's SQLite as well) and,
 * for /readyz only, shutdown (fails once the server has begun to stop).
 */
import type { ServerResponse } from 'node:http';

export interface HealthCheck {
  name: string;
  /** resolves when healthy; rejects (or throws) with why not */
  check(): Promise<void>;
}

export type HealthEndpoint = 'healthz' | 'livez' | 'readyz';

const HEADERS = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };

/** a check that fails when `p` has not settled within `ms` */
export function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Answer `path` (already stripped of a trailing slash) when it is a health endpoint; false when
 * it is not one. `log` gets the reasons of failed checks.
 */
export async function serveHealth(path: string, query: URLSearchParams, checks: Record<HealthEndpoint, readonly HealthCheck[]>, res: ServerResponse, log: (line: string) => void): Promise<boolean> {
  const m = /^\/(healthz|livez|readyz)(?:\/([^/]+))?$/.exec(path);
  if (!m) return false;
  const endpoint = m[1] as HealthEndpoint;
  const list = checks[endpoint];
  if (m[2] !== undefined) {
    const one = list.find((c) => c.name === m[2]);
    if (!one) {
      res.writeHead(404, HEADERS).end('404 page not found\n');
      return true;
    }
    try {
      await one.check();
      res.writeHead(200, HEADERS).end('ok');
    } catch (e) {
      res.writeHead(500, HEADERS).end(`internal server error: ${(e as Error).message}\n`);
    }
    return true;
  }
  const excluded = new Set(query.getAll('exclude').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean));
  const results = await Promise.all(
    list.map(async (c): Promise<[string, Error | undefined | 'excluded']> => {
      if (excluded.has(c.name)) return [c.name, 'excluded'];
      try {
        await c.check();
        return [c.name, undefined];
      } catch (e) {
        return [c.name, e instanceof Error ? e : new Error(String(e))];
      }
    }),
  );
  let out = '';
  const failed: string[] = [];
  for (const [name, r] of results) {
    excluded.delete(name);
    if (r === 'excluded') out += `[+]${name} excluded: ok\n`;
    else if (r) {
      out += `[-]${name} failed: reason withheld\n`;
      failed.push(name);
      log(`${endpoint} check ${name} failed: ${r.message}`);
    } else out += `[+]${name} ok\n`;
  }
  if (excluded.size) out += `warn: some health checks cannot be excluded: no matches for ${[...excluded].sort().map((n) => `"${n}"`).join(',')}\n`;
  if (failed.length) {
    res.writeHead(500, HEADERS).end(`${out}${endpoint} check failed\n`);
    return true;
  }
  res.writeHead(200, HEADERS).end(query.has('verbose') ? `${out}${endpoint} check passed\n` : 'ok');
  return true;
}
