import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { LocalImageService } from './store.js';
import { tarDirectory } from './archive-build.js';
import { sha256 } from './digest.js';
import { goArch, MEDIA } from './archive-read.js';
import { ImagePuller, PullError, pickPlatform } from './pull.js';
import { parseRegistriesYaml, type RegistriesConfig } from './registries.js';
import { startFakeRegistry, type FakeRegistry } from './fake-registry.test-util.js';

let work: string;
let n = 0;
const layerBlobs: { blob: Buffer; diffId: string; mediaType: string }[] = [];

before(async () => {
  work = await fsp.mkdtemp(join(tmpdir(), 'podbay-pull-test-'));
  const empty = join(work, 'empty');
  await fsp.mkdir(empty);
  for (const [i, gzip] of [true, false, true].entries()) {
    const big = i === 2 ? randomBytes(400_000).toString('base64') : `layer ${i}`;
    const { blob, tar } = await tarDirectory({ dir: empty, raw: [{ path: `f${i}.txt`, type: 'File', data: big }] }, gzip);
    layerBlobs.push({ blob, diffId: sha256(tar), mediaType: gzip ? MEDIA.ociLayerGzip : MEDIA.ociLayer });
  }
});
after(async () => fsp.rm(work, { recursive: true, force: true }));

/** Fill `reg` with repo `library/app` (an OCI index: another arch + ours) tagged `tags`. */
function publish(reg: FakeRegistry, tags = ['1']): { manifestDigest: string; configDigest: string } {
  const config = Buffer.from(JSON.stringify({ architecture: goArch(), os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layerBlobs.map((l) => l.diffId) } }));
  reg.blobs.set(sha256(config), config);
  for (const l of layerBlobs) reg.blobs.set(sha256(l.blob), l.blob);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: sha256(config), size: config.length },
    layers: layerBlobs.map((l) => ({ mediaType: l.mediaType, digest: sha256(l.blob), size: l.blob.length })),
  };
  const manifestDigest = reg.putManifest('library/app', [], manifest, MEDIA.ociManifest);
  const mBytes = reg.manifests.get(`library/app:${manifestDigest}`)!.bytes;
  const other = reg.putManifest('library/app', [], { ...manifest, config: { ...manifest.config, digest: sha256('other') } }, MEDIA.ociManifest);
  reg.putManifest(
    'library/app',
    tags,
    {
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        { mediaType: MEDIA.ociManifest, digest: other, size: 10, platform: { os: 'linux', architecture: goArch() === 'amd64' ? 's390x' : 'amd64' } },
        { mediaType: MEDIA.ociManifest, digest: manifestDigest, size: mBytes.length, platform: { os: 'linux', architecture: goArch() } },
      ],
    },
    MEDIA.ociIndex,
  );
  return { manifestDigest, configDigest: sha256(config) };
}

function mirrorTo(reg: FakeRegistry): RegistriesConfig {
  return parseRegistriesYaml(`mirrors: {docker.io: {endpoint: ["${reg.url}"]}}`, 'test');
}

function setup(reg: FakeRegistry, extra: Partial<ConstructorParameters<typeof ImagePuller>[1]> = {}) {
  const store = new LocalImageService(join(work, `store-${n++}`, 'images'));
  const puller = new ImagePuller(store, { registries: () => mirrorTo(reg), disableDefaultEndpoint: true, retryDelayMs: () => 10, ...extra });
  return { store, puller };
}

function blobFiles(store: LocalImageService): string[] {
  return existsSync(store.blobsDir) ? readdirSync(store.blobsDir) : [];
}
function tmpFiles(store: LocalImageService): string[] {
  return existsSync(store.tmpDir) ? readdirSync(store.tmpDir) : [];
}

test('platform choice from an index: linux and this architecture', () => {
  const ms = [
    { digest: 'a', size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { digest: 'b', size: 1, platform: { os: 'windows', architecture: 'amd64' } },
    { digest: 'c', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { digest: 'd', size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ];
  assert.equal(pickPlatform(ms, 'amd64')?.digest, 'c');
  assert.equal(pickPlatform(ms, 'arm64')?.digest, 'd');
  assert.equal(pickPlatform(ms, 'riscv64'), undefined);
});

test('pull through a docker.io mirror: index -> this platform, gzip and plain layers verified, stored, named; a second pull fetches only the manifest', async () => {
  const reg = await startFakeRegistry();
  try {
    const { manifestDigest, configDigest } = publish(reg);
    const { store, puller } = setup(reg);
    const phases = new Set<string>();
    const r = await puller.pull('app:1', { onProgress: (p) => phases.add(p.phase) });
    assert.equal(r.image.id, configDigest);
    assert.equal(r.repoDigest, `docker.io/library/app@${manifestDigest}`);
    assert.deepEqual(r.image.repoTags, ['docker.io/library/app:1']);
    assert.equal(r.size, layerBlobs.reduce((s, l) => s + l.blob.length, 0));
    assert.ok(['resolved', 'waiting', 'downloading', 'verifying', 'done'].every((p) => phases.has(p)), [...phases].join());
    const got = await store.get('app:1');
    assert.equal(got?.chainIds.length, 3);
    assert.ok(got?.repoDigests.includes(`docker.io/library/app@${manifestDigest}`));
    assert.equal((await store.get(`app@${manifestDigest}`))?.id, configDigest);
    assert.equal(blobFiles(store).length, 5); // config, manifest, 3 layers
    assert.deepEqual(tmpFiles(store), []);
    // the other platform's manifest was never asked for
    const otherAsked = reg.log.filter((l) => l.includes('/manifests/sha256:') && !l.includes(manifestDigest));
    assert.deepEqual(otherAsked, []);

    reg.log.length = 0;
    const again = await puller.pull('docker.io/library/app:1');
    assert.equal(again.fetched, 0);
    assert.ok(reg.log.every((l) => l.includes('/manifests/')), reg.log.join('\n'));
  } finally {
    await reg.close();
  }
});

test('two callers asking for one image share one pull', async () => {
  const reg = await startFakeRegistry();
  try {
    publish(reg);
    reg.faults.delayBlobMs = 100;
    const { puller } = setup(reg);
    const [a, b] = await Promise.all([puller.pull('app:1'), puller.pull('docker.io/library/app:1')]);
    assert.equal(a, b);
    const blobGets = reg.log.filter((l) => l.startsWith('GET') && l.includes('/blobs/'));
    assert.equal(blobGets.length, 4, blobGets.join('\n'));
    assert.equal(puller.running, 0);
  } finally {
    await reg.close();
  }
});

test('a digest mismatch fails the pull and stores nothing', async () => {
  const reg = await startFakeRegistry();
  try {
    publish(reg);
    const bad = sha256(layerBlobs[2].blob);
    reg.faults.corrupt = bad;
    const { store, puller } = setup(reg);
    await assert.rejects(puller.pull('app:1'), (e: unknown) => e instanceof PullError && e.message.includes(`does not match the expected ${bad}`) && e.message.includes('docker.io/library/app:1'));
    assert.deepEqual(blobFiles(store), []);
    assert.deepEqual(tmpFiles(store), []);
    assert.equal(await store.get('app:1'), undefined);
  } finally {
    await reg.close();
  }
});

test('a connection dropped mid-layer is retried; dropped every time it fails cleanly; a later pull succeeds', async () => {
  const reg = await startFakeRegistry();
  try {
    publish(reg);
    const big = sha256(layerBlobs[2].blob);
    const { store, puller } = setup(reg, { attempts: 3 });
    reg.faults.dropAfter = { digest: big, bytes: 200_000, times: 1 };
    const r = await puller.pull('app:1');
    assert.equal(r.image.repoTags[0], 'docker.io/library/app:1');
    assert.equal(reg.log.filter((l) => l === `GET /v2/library/app/blobs/${big}`).length, 2);

    const { store: s2, puller: p2 } = setup(reg, { attempts: 2 });
    reg.faults.dropAfter = { digest: big, bytes: 200_000, times: 2 };
    await assert.rejects(p2.pull('app:1'), (e: unknown) => e instanceof PullError && /gave up after 2 attempts/.test(e.message) && e.message.includes(reg.host));
    // nothing partial: no layer blob, nothing left in tmp/
    assert.ok(!blobFiles(s2).includes(big.slice(7)));
    assert.deepEqual(tmpFiles(s2), []);
    assert.equal(await s2.get('app:1'), undefined);
    const ok = await p2.pull('app:1');
    assert.equal(ok.image.id, r.image.id);
    assert.ok(store);
  } finally {
    await reg.close();
  }
});

test('an unknown tag is a 404 naming the reference and the registry', async () => {
  const reg = await startFakeRegistry();
  try {
    publish(reg);
    const { puller } = setup(reg);
    await assert.rejects(puller.pull('app:nope'), (e: unknown) => {
      assert.ok(e instanceof PullError);
      assert.equal(e.status, 404);
      assert.match(e.message, /^failed to pull and unpack image "docker.io\/library\/app:nope": 127\.0\.0\.1:\d+: manifest library\/app:nope not found/);
      return true;
    });
  } finally {
    await reg.close();
  }
});

test('a mirror that is down: the pull fails naming it, and with the default endpoint disabled docker.io is never tried', async () => {
  const reg = await startFakeRegistry();
  const url = reg.url;
  await reg.close();
  const store = new LocalImageService(join(work, `store-${n++}`, 'images'));
  const puller = new ImagePuller(store, { registries: () => parseRegistriesYaml(`mirrors: {docker.io: {endpoint: ["${url}"]}}`, 't'), disableDefaultEndpoint: true });
  await assert.rejects(puller.pull('busybox'), (e: unknown) => e instanceof PullError && e.message.includes(reg.host) && /ECONNREFUSED/.test(e.message) && !/docker\.io:|registry-1/.test(e.message.replace('docker.io/library', '')));
});

test('bearer token flow: credentials go to the realm, the token to the registry; without credentials the registry is named', async () => {
  const reg = await startFakeRegistry({ bearer: { username: 'alice', password: 's3cret', token: 'tok123' } });
  try {
    publish(reg);
    const { puller } = setup(reg);
    await assert.rejects(puller.pull('app:1'), (e: unknown) => e instanceof PullError && e.status === 401 && e.message.includes(reg.host) && /refused anonymous access/.test(e.message));
    const creds = new Map([[reg.host, { username: 'alice', password: 's3cret' }]]);
    const r = await puller.pull('app:1', { credentials: [creds] });
    assert.ok(r.image.id);
    assert.ok(reg.log.some((l) => l.startsWith('GET /token?service=fake&scope=repository%3Alibrary%2Fapp%3Apull')), reg.log.join('\n'));
  } finally {
    await reg.close();
  }
});

test('basic auth: wrong password is refused naming the registry, the right one works', async () => {
  const reg = await startFakeRegistry({ basic: { username: 'bob', password: 'pw' } });
  try {
    publish(reg);
    const { puller } = setup(reg);
    await assert.rejects(puller.pull('app:1'), (e: unknown) => e instanceof PullError && e.status === 401 && e.message.includes(`${reg.host}: authentication required`));
    await assert.rejects(puller.pull('app:1', { credentials: [new Map([[reg.host, { username: 'bob', password: 'no' }]])] }), /authorization failed with the credentials given/);
    const r = await puller.pull('app:1', { credentials: [new Map([[reg.host, { username: 'bob', password: 'pw' }]])] });
    assert.ok(r.image.id);
  } finally {
    await reg.close();
  }
});

test('a layer listed twice in a manifest is downloaded once and stored once', async () => {
  const reg = await startFakeRegistry();
  try {
    const [a, b] = layerBlobs;
    const config = Buffer.from(JSON.stringify({ architecture: goArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: [a.diffId, b.diffId, a.diffId] } }));
    reg.blobs.set(sha256(config), config);
    for (const l of [a, b]) reg.blobs.set(sha256(l.blob), l.blob);
    const desc = (l: typeof a) => ({ mediaType: l.mediaType, digest: sha256(l.blob), size: l.blob.length });
    reg.putManifest('library/dup', ['1'], { schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(config), size: config.length }, layers: [desc(a), desc(b), desc(a)] }, MEDIA.dockerManifest);
    const { store, puller } = setup(reg, { concurrency: 3 });
    const r = await puller.pull('dup:1');
    assert.equal(r.image.chainIds.length, 3);
    assert.equal(reg.log.filter((l) => l === `GET /v2/library/dup/blobs/${sha256(a.blob)}`).length, 1);
    assert.deepEqual(tmpFiles(store), []);
  } finally {
    await reg.close();
  }
});
