/**
 * kubectl's path, as kubectl's disk cache sees it: the OpenAPI documents come compressed, a
 * document asked for by its hash is marked immutable (so a warm kubectl does not ask again), a
 * stale hash is sent on to the current one, and a second `kubectl apply` with the cache warm
 * sends only what it must (the /openapi/v3 index, answered 304, the GET and the POST).
 * With an empty cache, kubectl reads discovery from the two aggregated documents (/api and
 * /apis, apidiscovery.k8s.io/v2 or v2beta1) instead of one request per group version.
 * The API alone is under test: the server runs without a kubelet (no host state).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

describe('kubectl path: aggregated discovery', () => {
  let s: PodbayServer;
  before(async () => {
    s = await PodbayServer.start(['--no-kubelet', '--log-requests']);
  });
  after(async () => {
    await s.teardown();
  });

  const aggregated = async (path: string, accept = `${V2},${V2BETA1},application/json`) => {
    const r = await getRaw(s, path, { accept, 'accept-encoding': 'identity' });
    assert.equal(r.status, 200, r.body.toString());
    return { ...r, doc: JSON.parse(r.body.toString()) };
  };

  it('serves /api and /apis aggregated (v2 and v2beta1) with an ETag, 304 when unchanged, legacy to plain clients', async () => {
    const api = await aggregated('/api');
    assert.equal(api.headers['content-type'], V2);
    assert.equal(api.doc.kind, 'APIGroupDiscoveryList');
    assert.equal(api.doc.apiVersion, 'apidiscovery.k8s.io/v2');
    assert.match(api.headers.vary, /Accept/);
    assert.match(api.headers.etag, /^"[0-9A-F]{128}"$/);
    const core = api.doc.items[0].versions[0];
    assert.equal(core.version, 'v1');
    assert.equal(core.freshness, 'Current');
    const pods = core.resources.find((r: any) => r.resource === 'pods');
    assert.equal(pods.scope, 'Namespaced');
    assert.equal(pods.singularResource, 'pod');
    assert.deepEqual(pods.shortNames, ['po']);
    assert.deepEqual(pods.categories, ['all']);
    assert.deepEqual(pods.responseKind.kind, 'Pod');
    assert.deepEqual(pods.subresources.find((x: any) => x.subresource === 'eviction').responseKind, { group: 'policy', version: 'v1', kind: 'Eviction' });

    const apis = await aggregated('/apis');
    const apps = apis.doc.items.find((g: any) => g.metadata.name === 'apps');
    const deployments = apps.versions[0].resources.find((r: any) => r.resource === 'deployments');
    assert.deepEqual(deployments.subresources.find((x: any) => x.subresource === 'scale').responseKind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
    // every group the legacy list names is in the aggregated one, with the same versions
    const legacy = await getRaw(s, '/apis', { accept: 'application/json', 'accept-encoding': 'identity' });
    assert.match(legacy.headers['content-type'], /^application\/json/);
    assert.match(legacy.headers.vary, /Accept/);
    const groupList = JSON.parse(legacy.body.toString());
    assert.equal(groupList.kind, 'APIGroupList');
    assert.deepEqual(
      apis.doc.items.map((g: any) => `${g.metadata.name}:${g.versions.map((v: any) => v.version).join(',')}`),
      groupList.groups.map((g: any) => `${g.name}:${g.versions.map((v: any) => v.version).join(',')}`),
    );

    const again = await getRaw(s, '/apis', { accept: V2, 'if-none-match': apis.headers.etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const beta = await aggregated('/apis', `${V2BETA1},application/json`);
    assert.equal(beta.headers['content-type'], V2BETA1);
    assert.equal(beta.doc.apiVersion, 'apidiscovery.k8s.io/v2beta1');
    assert.notEqual(beta.headers.etag, apis.headers.etag);
    const plainApi = JSON.parse((await getRaw(s, '/api', { accept: 'application/json', 'accept-encoding': 'identity' })).body.toString());
    assert.equal(plainApi.kind, 'APIVersions');
  });

  it('a CRD changes the document and its ETag; deleting it changes them back', async () => {
    const before = await aggregated('/apis');
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.discovery.example.com' },
      spec: {
        group: 'discovery.example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wdg'], categories: ['all'] },
        versions: [{ name: 'v1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    };
    const made = await s.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: JSON.stringify(crd) });
    assert.equal(made.status, 201, made.body);
    let withCrd: Awaited<ReturnType<typeof aggregated>> | undefined;
    await waitFor('the CRD group in aggregated discovery', async () => {
      withCrd = await aggregated('/apis');
      return withCrd.doc.items.some((g: any) => g.metadata.name === 'discovery.example.com');
    }, 10_000);
    assert.notEqual(withCrd!.headers.etag, before.headers.etag);
    const widgets = withCrd!.doc.items.find((g: any) => g.metadata.name === 'discovery.example.com').versions[0].resources[0];
    assert.equal(widgets.resource, 'widgets');
    assert.equal(widgets.responseKind.kind, 'Widget');
    assert.deepEqual(widgets.shortNames, ['wdg']);
    assert.deepEqual(widgets.categories, ['all']);
    assert.deepEqual(widgets.subresources.map((x: any) => x.subresource), ['status']);
    const stale = await getRaw(s, '/apis', { accept: V2, 'if-none-match': before.headers.etag });
    assert.equal(stale.status, 200, 'the old ETag no longer matches');

    const gone = await s.request('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.discovery.example.com');
    assert.ok(gone.status === 200 || gone.status === 202, gone.body);
    await waitFor('the CRD group gone from aggregated discovery', async () => (await aggregated('/apis')).headers.etag === before.headers.etag, 15_000);
  });

  for (const k of kubectlBinaries()) {
    it(`${k.name}: get pods with an empty cache reads discovery from /api and /apis only`, async () => {
      const cache = mkdtempSync(join(tmpdir(), 'podbay-kubectl-cache-'));
      try {
        // the log of earlier requests reaches us late through a pipe: start after a marker
        const marker = `/version?before=${k.name.replace(/\W/g, '')}`;
        await s.request('GET', marker);
        await waitFor('the marker in the request log', () => s.log.includes(`GET ${marker} `), 5000);
        const at = s.log.indexOf(`GET ${marker} `);
        const r = s.kubectl(k.path, ['--cache-dir', cache, 'get', 'pods']);
        assert.equal(r.code, 0, r.stderr);
        await waitFor('the request log of the get', () => s.log.slice(at).includes('GET /api/v1/namespaces/default/pods'), 5000);
        const gets = s.log
          .slice(at)
          .split('\n')
          .map((l) => / GET (\S+) (\d{3}) /.exec(l))
          .filter((m) => m !== null)
          .map((m) => m![1]!.split('?')[0]!);
        const discovery = gets.filter((p) => /^\/(api|apis)(\/[^/]+){0,2}$/.test(p));
        assert.deepEqual(discovery.sort(), ['/api', '/apis'], `discovery requests of an empty-cache get:\n${gets.join('\n')}`);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    });
  }
});
