/**
 * kubectl's path, as kubectl's disk cache sees it: the OpenAPI documents come compressed, a
 * document asked for by its hash is marked immutable (so a warm kubectl does not ask again), a
 * stale hash is sent on to the current one, and a second `kubectl apply` with the cache warm
 * sends only what it must (the /openapi/v3 index, answered 304, the GET and the POST).
 * The API alone is under test: the server runs without a kubelet (no host state).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import https from 'node:https';
import { PodbayServer, kubectlBinaries, waitFor } from './harness.js';
import { ghostFixedYaml } from '../fixtures/seed.js';

/** GET with gzip allowed, the body kept as bytes */
function getRaw(s: PodbayServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, any>; body: Buffer }> {
  return new Promise((res, rej) => {
    const r = https.get({ host: '127.0.0.1', port: s.port, path, ca: s.caPem, headers: { authorization: `Bearer ${s.token}`, 'accept-encoding': 'gzip', ...headers } }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => res({ status: resp.statusCode ?? 0, headers: resp.headers, body: Buffer.concat(chunks) }));
    });
    r.on('error', rej);
  });
}

describe('kubectl path: OpenAPI caching', () => {
  let s: PodbayServer;
  before(async () => {
    s = await PodbayServer.start(['--no-kubelet', '--log-requests']);
  });
  after(async () => {
    await s.teardown();
  });

  it('serves /openapi/v3/api/v1 gzipped, immutable under its hash, and redirects a stale hash', async () => {
    const index = JSON.parse((await getRaw(s, '/openapi/v3', { 'accept-encoding': 'identity' })).body.toString());
    const url: string = index.paths['api/v1'].serverRelativeURL;
    const hash = new URL(url, 'https://x').searchParams.get('hash')!;
    const doc = await getRaw(s, url);
    assert.equal(doc.status, 200);
    assert.equal(doc.headers['content-encoding'], 'gzip');
    assert.equal(doc.headers['cache-control'], 'public, immutable');
    assert.ok(Date.parse(doc.headers.expires) > Date.now() + 300 * 86400_000, `Expires a year ahead: ${doc.headers.expires}`);
    assert.equal(doc.headers.etag, `"${hash}"`);
    const body = gunzipSync(doc.body);
    assert.ok(doc.body.length * 4 < body.length, `compressed ${doc.body.length} of ${body.length} bytes`);
    assert.ok(JSON.parse(body.toString()).components.schemas['io.k8s.api.core.v1.Pod']);

    const plain = await getRaw(s, '/openapi/v3/api/v1', { 'accept-encoding': 'identity' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['cache-control'], 'no-cache, private', 'without the hash the client must revalidate');
    assert.deepEqual(plain.body, body);

    const again = await getRaw(s, '/openapi/v3/api/v1', { 'if-none-match': `"${hash}"` });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);

    const stale = await getRaw(s, '/openapi/v3/api/v1?hash=0123ABCD');
    assert.equal(stale.status, 301);
    assert.equal(stale.headers.location, url);
  });

  for (const k of kubectlBinaries()) {
    it(`${k.name}: a second apply with a warm cache fetches no discovery and no OpenAPI document`, async () => {
        const apply = async (name: string) => {
          const at = s.log.length;
          const r = s.kubectl(k.path, ['apply', '-f', '-'], ghostFixedYaml().replace('name: ghost\n', `name: ${name}\n`));
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, new RegExp(`pod/${name} created`));
          // the server's request log reaches us through a pipe the sync spawn kept us from reading
          await waitFor('the request log of the apply', () => s.log.slice(at).includes('POST /api/v1/namespaces/default/pods'), 5000);
          return s.log.slice(at).split('\n').map((l) => / (GET|POST|PUT|PATCH) (\S+) (\d{3}) /.exec(l)).filter((m) => m !== null).map((m) => `${m![1]} ${m![2].split('?')[0]} ${m![3]}`);
        };
        const first = await apply(`ghost-${k.name.replace(/\D/g, '')}-a`);
        assert.ok(first.some((l) => /^GET \/openapi\/v[23]/.test(l)), first.join('\n'));
        const second = await apply(`ghost-${k.name.replace(/\D/g, '')}-b`);
        const refetched = second.filter((l) => /^GET \/(openapi\/\S*|api|api\/v1|apis(\/[^/ ]+){0,2}) /.test(l) && !l.endsWith(' 304'));
        assert.deepEqual(refetched, [], `the warm apply fetched again:\n${second.join('\n')}`);
        // the group-version document is named by its hash and immutable: not even revalidated
        assert.ok(!second.some((l) => /^GET \/openapi\/v3\/\S/.test(l)), `the warm apply asked for an OpenAPI v3 document again:\n${second.join('\n')}`);
        assert.ok(second.length <= 4, `requests of a warm apply:\n${second.join('\n')}`);
    });
  }
});
