import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { serveHealth, within, type HealthCheck } from './health.js';

function fakeRes() {
  const r = { code: 0, headers: {} as Record<string, string>, body: '' };
  const res = {
    writeHead(code: number, headers: Record<string, string>) {
      r.code = code;
      r.headers = headers;
      return res;
    },
    end(body: string) {
      r.body = body;
    },
  };
  return { r, res: res as unknown as ServerResponse };
}

const ok = (name: string): HealthCheck => ({ name, check: async () => {} });
const bad = (name: string, why: string): HealthCheck => ({ name, check: async () => Promise.reject(new Error(why)) });

async function ask(url: string, checks: HealthCheck[], log: string[] = []) {
  const u = new URL(url, 'https://x');
  const { r, res } = fakeRes();
  const served = await serveHealth(u.pathname, u.searchParams, { healthz: checks, livez: checks, readyz: checks }, res, (l) => log.push(l));
  return { served, ...r };
}

test('all checks pass: "ok", or with ?verbose a line per check and "<endpoint> check passed"', async () => {
  assert.deepEqual(await ask('/readyz', [ok('ping'), ok('etcd')]).then((a) => [a.served, a.code, a.body, a.headers['X-Content-Type-Options']]), [true, 200, 'ok', 'nosniff']);
  assert.equal((await ask('/livez?verbose', [ok('ping'), ok('etcd')])).body, '[+]ping ok\n[+]etcd ok\nlivez check passed\n');
  assert.equal((await ask('/api', [ok('ping')])).served, false);
});

test('a failing check: 500, every line, the reason withheld (and logged); ?exclude skips a check', async () => {
  const log: string[] = [];
  const a = await ask('/readyz', [ok('ping'), bad('etcd', 'connection refused'), ok('shutdown')], log);
  assert.equal(a.code, 500);
  assert.equal(a.body, '[+]ping ok\n[-]etcd failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n');
  assert.deepEqual(log, ['readyz check etcd failed: connection refused']);
  const x = await ask('/readyz?verbose&exclude=etcd&exclude=nope', [ok('ping'), bad('etcd', 'down')]);
  assert.equal(x.code, 200);
  assert.equal(x.body, '[+]ping ok\n[+]etcd excluded: ok\nwarn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n');
});

test('one check by name: "ok", 500 with the reason, 404 for an unknown name', async () => {
  assert.deepEqual(await ask('/readyz/ping', [ok('ping')]).then((a) => [a.code, a.body]), [200, 'ok']);
  assert.deepEqual(await ask('/healthz/etcd', [bad('etcd', 'down')]).then((a) => [a.code, a.body]), [500, 'internal server error: down\n']);
  assert.equal((await ask('/readyz/nope', [ok('ping')])).code, 404);
});

test('within: a check that does not settle in time fails, naming what', async () => {
  const alive = setTimeout(() => {}, 1000); // within's timer does not hold the process open
  await assert.rejects(within(20, new Promise(() => {}), 'the store'), /the store did not answer within 20 ms/);
  clearTimeout(alive);
  assert.equal(await within(1000, Promise.resolve(7), 'x'), 7);
});
