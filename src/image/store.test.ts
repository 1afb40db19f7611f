import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, existsSync, lstatSync, readFileSync, readlinkSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { run } from '../sys/exec.js';
import { LocalImageService, ImageNotFoundError, InvalidArchiveError, SnapshotError, overlayOptions, MOUNT_DATA_MAX, type StoredImage } from './store.js';
import { buildTestImageLayers, buildBusyboxRootfs, writeDockerArchive, writeOciArchive, writeRootfsTar, tarDirectory, type BuiltImage } from './archive-build.js';
import { digestHex, sha256 } from './digest.js';
import { mountsUsing, parseMountinfo } from '../sys/mountinfo.js';
import { goArch } from './archive-read.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot) throw new Error('these tests unpack image layers (ownership, device nodes) and mount overlays: run them as root (sudo npm test)');

let work: string;
let layers: { base: string; top: string };
let dockerFile: string;
let dockerBuilt: BuiltImage;
let ociFile: string;
let ociBuilt: BuiltImage;
let n = 0;

function newStore(): LocalImageService {
  return new LocalImageService(join(work, `store-${n++}`, 'images'));
}

async function getfattr(path: string, name: string): Promise<string> {
  const r = await run('getfattr', ['--only-values', '-n', name, path], { allowFailure: true });
  return r.code === 0 ? r.stdout : '';
}

before(async () => {
  work = await fsp.mkdtemp(join(tmpdir(), 'podbay-image-test-'));
  layers = await buildTestImageLayers(join(work, 'layers'));
  dockerFile = join(work, 'busybox-docker.tar');
  dockerBuilt = await writeDockerArchive(dockerFile, { repoTags: ['busybox:test', 'localhost:5000/tools/busybox:1'], layers: [layers.base, layers.top], config: { cmd: ['sh'], env: ['PATH=/bin'] } });
  ociFile = join(work, 'busybox-oci.tar.gz');
  ociBuilt = await writeOciArchive(ociFile, { refName: 'busybox:oci', layers: [layers.base, layers.top], config: { entrypoint: ['/bin/httpd'], cmd: ['-f'], exposedPorts: ['80/tcp'] }, platformIndex: true, gzipArchive: true });
});

after(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

/** The checks every loaded copy of the test image must pass. */
function assertTestLayers(store: LocalImageService, img: StoredImage) {
  assert.equal(img.chainIds.length, 2);
  const base = store.layerPath(img.chainIds[0]);
  const top = store.layerPath(img.chainIds[1]);
  // base: busybox, applet symlinks, files with their modes and owners, hardlinks
  assert.ok(statSync(join(base, 'bin', 'busybox')).isFile());
  assert.equal(statSync(join(base, 'bin', 'busybox')).mode & 0o7777, 0o755);
  assert.equal(readlinkSync(join(base, 'bin', 'sh')), 'busybox');
  assert.equal(readFileSync(join(base, 'etc', 'motd'), 'utf8'), 'hello from the base layer\n');
  const owned = statSync(join(base, 'srv', 'owned'));
  assert.equal(owned.mode & 0o7777, 0o640);
  assert.equal(owned.uid, 1000);
  assert.equal(owned.gid, 1000);
  assert.equal(statSync(join(base, 'srv', 'suid')).mode & 0o7777, 0o4755, 'set-uid bit survives the chown');
  assert.equal(statSync(join(base, 'srv', 'ro')).mode & 0o7777, 0o555, 'directory mode as archived, not forced u+w');
  assert.equal(statSync(join(base, 'srv', 'hard-a')).ino, statSync(join(base, 'srv', 'hard-b')).ino);
  assert.equal(statSync(join(base, 'tmp')).mode & 0o7777, 0o1777);
  // top: only its own files; whiteouts in overlayfs form
  assert.equal(existsSync(join(top, 'bin')), false, 'a layer dir holds only its own files');
  const wh = lstatSync(join(top, 'etc', 'motd'));
  assert.ok(wh.isCharacterDevice(), 'whiteout becomes a character device');
  assert.equal(wh.rdev, 0);
  assert.equal(wh.uid, 0);
  assert.equal(wh.gid, 0);
  assert.equal(existsSync(join(top, 'etc', '.wh.motd')), false);
  assert.equal(existsSync(join(top, 'data', '.wh..wh..opq')), false);
  assert.equal(readFileSync(join(top, 'data', 'new.txt'), 'utf8'), 'new\n');
  assert.equal(readFileSync(join(top, 'srv', 'added.txt'), 'utf8'), 'added\n');
}

describe('docker-archive', () => {
  test('load, get (by name, ID, ID prefix, repo digest), list, layers unpacked with whiteouts', async () => {
    const store = newStore();
    const loaded = await store.loadArchive(dockerFile);
    assert.equal(loaded.length, 1);
    const img = loaded[0];
    assert.equal(img.id, dockerBuilt.id);
    assert.deepEqual(img.repoTags, ['docker.io/library/busybox:test', 'localhost:5000/tools/busybox:1']);
    assert.deepEqual(img.chainIds, dockerBuilt.chainIds);
    assert.deepEqual(img.config, { cmd: ['sh'], env: ['PATH=/bin'] });
    assert.ok(img.size > 1_000_000, 'size counts the layer blobs');
    assert.equal(img.repoDigests[0], `docker.io/library/busybox@${img.manifestDigest}`);

    for (const ref of ['busybox:test', 'docker.io/library/busybox:test', 'localhost:5000/tools/busybox:1', img.id, digestHex(img.id).slice(0, 12), `sha256:${digestHex(img.id).slice(0, 20)}`, `busybox@${img.manifestDigest}`]) {
      assert.equal((await store.get(ref))?.id, img.id, ref);
    }
    assert.equal(await store.get('busybox'), undefined, 'busybox means busybox:latest');
    assert.equal(await store.get('busybox@sha256:' + '0'.repeat(64)), undefined);
    assert.equal((await store.list()).length, 1);

    // blobs: config, manifest, layers; the manifest names them all
    const manifest = JSON.parse(readFileSync(store.blobPath(img.manifestDigest), 'utf8'));
    assert.equal(manifest.config.digest, img.id);
    assert.deepEqual(manifest.layers.map((l: { digest: string }) => l.digest), img.layers.map((l) => l.digest));
    for (const d of [img.id, img.manifestDigest, ...img.layers.map((l) => l.digest)]) assert.ok(existsSync(store.blobPath(d)), d);
    assert.equal(sha256(readFileSync(store.blobPath(img.id))), img.id);

    assertTestLayers(store, img);
    assert.equal(await getfattr(join(store.layerPath(img.chainIds[1]), 'data'), 'trusted.overlay.opaque'), 'y');
    assert.equal(await getfattr(join(store.layerPath(img.chainIds[1]), 'srv'), 'trusted.overlay.opaque'), '');
    // nothing left in tmp/ or ingest/
    assert.deepEqual(await fsp.readdir(store.tmpDir), []);
    assert.deepEqual(await fsp.readdir(store.ingestDir), []);
  });

  test('loading again is idempotent; gzip layers inside a docker archive work', async () => {
    const store = newStore();
    await store.loadArchive(dockerFile);
    await store.loadArchive(dockerFile);
    assert.equal((await store.list()).length, 1);
    const gz = join(work, 'gz-layers.tar');
    const built = await writeDockerArchive(gz, { repoTags: ['gz:1'], layers: [layers.base, layers.top], gzipLayers: true });
    const [img] = await store.loadArchive(gz);
    assert.deepEqual(img.chainIds, built.chainIds);
    assert.notEqual(img.layers[0].digest, img.layers[0].diffId);
    assert.equal(img.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    // same content as the plain one: the layer directories are shared
    assert.deepEqual(img.chainIds, (await store.get('busybox:test'))!.chainIds);
  });

  test('a damaged archive is refused with the file named, and leaves nothing behind', async () => {
    const store = newStore();
    const bad = join(work, 'bad.tar');
    await writeDockerArchive(bad, { repoTags: ['bad:1'], layers: [layers.top] });
    // rewrite the config with a wrong diff_id
    const dir = join(work, 'bad-x');
    mkdirSync(dir);
    await run('tar', ['-xf', bad, '-C', dir]);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const cfg = JSON.parse(readFileSync(join(dir, m[0].Config), 'utf8'));
    cfg.rootfs.diff_ids = ['sha256:' + '1'.repeat(64)];
    writeFileSync(join(dir, m[0].Config), JSON.stringify(cfg));
    await run('tar', ['-cf', bad, '-C', dir, '.']);
    await assert.rejects(store.loadArchive(bad), (e: Error) => e instanceof InvalidArchiveError && e.message.includes(bad) && /damaged/.test(e.message));
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await fsp.readdir(store.blobsDir), []);
    assert.deepEqual(await fsp.readdir(store.tmpDir), []);

    const notAnImage = join(work, 'plain.tar');
    await writeRootfsTar(notAnImage, layers.top);
    await assert.rejects(store.loadArchive(notAnImage), /podbay image import/);
    await assert.rejects(store.loadArchive(join(work, 'missing.tar')), /no such file/);
  });
});

describe('OCI archive', () => {
  test('load (gzip archive, multi-platform index): names from ref.name, real manifest digest', async () => {
    const store = newStore();
    const [img] = await store.loadArchive(ociFile);
    assert.equal(img.id, ociBuilt.id);
    assert.deepEqual(img.repoTags, ['docker.io/library/busybox:oci']);
    assert.equal(img.manifestDigest, ociBuilt.manifestDigest);
    assert.deepEqual(img.repoDigests, [`docker.io/library/busybox@${ociBuilt.manifestDigest}`]);
    assert.deepEqual(img.config, { entrypoint: ['/bin/httpd'], cmd: ['-f'], exposedPorts: ['80/tcp'] });
    assert.deepEqual(img.chainIds, ociBuilt.chainIds);
    assert.equal((await store.get(`busybox@${ociBuilt.manifestDigest}`))?.id, img.id);
    assertTestLayers(store, img);
    assert.equal(await getfattr(join(store.layerPath(img.chainIds[1]), 'data'), 'trusted.overlay.opaque'), 'y');
  });

  test('io.containerd.image.name wins over ref.name; uncompressed layers; no name -> untagged', async () => {
    const store = newStore();
    const f = join(work, 'named.tar');
    await writeOciArchive(f, { refName: 'latest', containerdName: 'quay.io/x/y:z', layers: [layers.top], gzip: false });
    const [img] = await store.loadArchive(f);
    assert.deepEqual(img.repoTags, ['quay.io/x/y:z']);
    assert.equal(img.layers[0].digest, img.layers[0].diffId);

    const anon = join(work, 'anon.tar');
    const built = await writeOciArchive(anon, { layers: [layers.top], config: { cmd: ['true'] } });
    const [a] = await store.loadArchive(anon);
    assert.deepEqual(a.repoTags, []);
    assert.equal((await store.get(built.id))?.id, built.id);
  });

  test('device nodes and FIFOs in a layer are created with their numbers, modes and owners', async () => {
    const store = newStore();
    const f = join(work, 'dev.tar');
    const dir = join(work, 'devlayer');
    mkdirSync(join(dir, 'dev'), { recursive: true });
    await writeOciArchive(f, {
      refName: 'dev:1',
      layers: [{ dir, devices: [{ path: 'dev/null', type: 'char', major: 1, minor: 3, mode: 0o666 }, { path: 'dev/fifo', type: 'fifo', mode: 0o600, uid: 5, gid: 6 }, { path: 'dev/loop9', type: 'block', major: 7, minor: 9, mode: 0o660 }] }],
    });
    const [img] = await store.loadArchive(f);
    const l = store.layerPath(img.chainIds[0]);
    const nul = lstatSync(join(l, 'dev', 'null'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, (1 << 8) | 3);
    assert.equal(nul.mode & 0o7777, 0o666);
    const fifo = lstatSync(join(l, 'dev', 'fifo'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o600);
    assert.equal(fifo.uid, 5);
    assert.equal(fifo.gid, 6);
    assert.ok(lstatSync(join(l, 'dev', 'loop9')).isBlockDevice());
  });

  test('hostile layers: paths climbing out, writes and whiteouts through symlinks are refused; nothing is left', async () => {
    const outside = join(work, 'outside');
    mkdirSync(outside, { recursive: true });
    const empty = join(work, 'empty-layer');
    mkdirSync(empty, { recursive: true });
    const cases: [string, { path: string; type: 'File' | 'SymbolicLink'; data?: string; linkpath?: string }[]][] = [
      ['dotdot', [{ path: '../escape', type: 'File', data: 'x' }]],
      ['through-symlink', [{ path: 'evil', type: 'SymbolicLink', linkpath: outside }, { path: 'evil/planted', type: 'File', data: 'x' }]],
      ['whiteout-through-symlink', [{ path: 'evil', type: 'SymbolicLink', linkpath: outside }, { path: 'evil/.wh.planted', type: 'File' }]],
      ['opaque-through-symlink', [{ path: 'evil', type: 'SymbolicLink', linkpath: outside }, { path: 'evil/.wh..wh..opq', type: 'File' }]],
    ];
    for (const [name, raw] of cases) {
      const store = newStore();
      const f = join(work, `hostile-${name}.tar`);
      await writeOciArchive(f, { refName: `hostile:${name}`, layers: [{ dir: empty, raw }], gzip: false });
      await assert.rejects(store.loadArchive(f), (e: Error) => e instanceof InvalidArchiveError && e.message.startsWith(`${f}: layer 0 (sha256:`), name);
      assert.deepEqual(await store.list(), [], name);
      assert.deepEqual(await fsp.readdir(store.layersDir), [], name);
      assert.deepEqual(await fsp.readdir(store.blobsDir), [], name);
      assert.deepEqual(await fsp.readdir(store.tmpDir), [], name);
    }
    assert.deepEqual(await fsp.readdir(outside), []);
    assert.equal(await getfattr(outside, 'trusted.overlay.opaque'), '');
    assert.equal(existsSync(join(work, 'escape')), false);
  });

  test('a layer that does not match its digest is refused', async () => {
    const store = newStore();
    const f = join(work, 'tampered.tar');
    await writeOciArchive(f, { refName: 't:1', layers: [layers.top], gzip: false });
    const dir = join(work, 'tampered-x');
    mkdirSync(dir);
    await run('tar', ['-xf', f, '-C', dir]);
    const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', digestHex(idx.manifests[0].digest)), 'utf8'));
    const layer = join(dir, 'blobs', 'sha256', digestHex(manifest.layers[0].digest));
    writeFileSync(layer, (await tarDirectory(layers.base)).tar);
    await run('tar', ['-cf', f, '-C', dir, '.']);
    await assert.rejects(store.loadArchive(f), /does not match its digest/);
  });
});

describe('importRootfs', () => {
  test('a rootfs tarball becomes a one-layer image with a made-up OCI config', async () => {
    const store = newStore();
    const f = join(work, 'rootfs.tar');
    await writeRootfsTar(f, layers.base);
    const img = await store.importRootfs(f, 'myimg:1');
    assert.deepEqual(img.repoTags, ['docker.io/library/myimg:1']);
    assert.deepEqual(img.config, { cmd: ['sh'] });
    assert.equal(img.chainIds.length, 1);
    assert.equal(img.chainIds[0], sha256(readFileSync(f)));
    const cfg = JSON.parse(readFileSync(store.blobPath(img.id), 'utf8'));
    assert.equal(cfg.os, 'linux');
    assert.equal(cfg.architecture, goArch());
    assert.deepEqual(cfg.rootfs, { type: 'layers', diff_ids: [img.layers[0].diffId] });
    const manifest = JSON.parse(readFileSync(store.blobPath(img.manifestDigest), 'utf8'));
    assert.equal(manifest.config.digest, img.id);
    assert.equal(manifest.layers[0].digest, img.layers[0].digest);
    assert.ok(existsSync(join(store.layerPath(img.chainIds[0]), 'bin', 'busybox')));
    assert.ok(existsSync(f), 'the input file is left alone');
  });

  test('gzip input; no /bin/sh means no default Cmd; an explicit config is used as given', async () => {
    const store = newStore();
    const gz = join(work, 'rootfs.tar.gz');
    await writeRootfsTar(gz, layers.top, true);
    const a = await store.importRootfs(gz, 'quay.io/x/y:z');
    assert.deepEqual(a.repoTags, ['quay.io/x/y:z']);
    assert.deepEqual(a.config, {});
    assert.equal(a.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.notEqual(a.layers[0].digest, a.layers[0].diffId);
    const b = await store.importRootfs(gz, 'localhost:5000/a', { entrypoint: ['/srv/added.txt'], env: ['A=1'], workingDir: '/srv', user: '65534' });
    assert.deepEqual(b.repoTags, ['localhost:5000/a:latest']);
    assert.deepEqual(b.config, { entrypoint: ['/srv/added.txt'], env: ['A=1'], workingDir: '/srv', user: '65534' });
  });

  test('/bin/sh behind a /bin -> usr/bin link counts; bad input is refused clearly', async () => {
    const store = newStore();
    const dir = join(work, 'merged-usr');
    mkdirSync(join(dir, 'usr', 'bin'), { recursive: true });
    await fsp.copyFile('/usr/bin/busybox', join(dir, 'usr', 'bin', 'sh'));
    await fsp.symlink('usr/bin', join(dir, 'bin'));
    const f = join(work, 'merged-usr.tar');
    await writeRootfsTar(f, dir);
    assert.deepEqual((await store.importRootfs(f, 'merged')).config, { cmd: ['sh'] });

    const junk = join(work, 'junk.tar');
    writeFileSync(junk, gzipSync(Buffer.from('this is not a tar archive at all'.repeat(40))));
    await assert.rejects(store.importRootfs(junk, 'junk'), (e: Error) => e instanceof InvalidArchiveError && e.message.startsWith(junk));
    await assert.rejects(store.importRootfs(f, 'x@sha256:' + 'a'.repeat(64)), /not a digest/);
  });
});

describe('remove', () => {
  test('untag one tag; the image goes with its last tag; unreferenced layers and blobs go', async () => {
    const store = newStore();
    const [img] = await store.loadArchive(dockerFile);
    await store.remove('localhost:5000/tools/busybox:1');
    const left = await store.get('busybox:test');
    assert.deepEqual(left?.repoTags, ['docker.io/library/busybox:test']);
    assert.deepEqual(left?.repoDigests, [`docker.io/library/busybox@${img.manifestDigest}`]);
    assert.ok(existsSync(store.layerPath(img.chainIds[0])));
    await store.remove('busybox:test');
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await fsp.readdir(store.layersDir), []);
    assert.deepEqual(await fsp.readdir(store.blobsDir), []);
    await assert.rejects(store.remove('busybox:test'), (e: Error) => {
      assert.ok(e instanceof ImageNotFoundError);
      assert.equal(
        e.message,
        `image "docker.io/library/busybox:test" is not present: pull it with 'podbay image pull docker.io/library/busybox:test', load it with 'podbay image load -i FILE' or import a rootfs with 'podbay image import FILE NAME:TAG'`,
      );
      return true;
    });
  });

  test('by ID removes every tag; shared layers stay while another image uses them', async () => {
    const store = newStore();
    const [a] = await store.loadArchive(dockerFile);
    const other = join(work, 'shared-base.tar');
    const b = await writeDockerArchive(other, { repoTags: ['other:1'], layers: [layers.base] });
    await store.loadArchive(other);
    assert.equal(b.chainIds[0], a.chainIds[0]);
    await store.remove(digestHex(a.id).slice(0, 12));
    assert.equal(await store.get('busybox:test'), undefined);
    assert.equal(await store.get('localhost:5000/tools/busybox:1'), undefined);
    assert.ok(existsSync(store.layerPath(a.chainIds[0])), 'still used by other:1');
    assert.equal(existsSync(store.layerPath(a.chainIds[1])), false);
    assert.equal(existsSync(store.blobPath(a.id)), false);
  });

  test('a tag loaded again moves to the new image; the old one goes when it has no tag left', async () => {
    const store = newStore();
    const f1 = join(work, 'v1.tar');
    const f2 = join(work, 'v2.tar');
    const one = await writeDockerArchive(f1, { repoTags: ['app:1'], layers: [layers.top], config: { cmd: ['one'] } });
    const two = await writeDockerArchive(f2, { repoTags: ['app:1'], layers: [layers.top], config: { cmd: ['two'] } });
    await store.loadArchive(f1);
    await store.loadArchive(f2);
    assert.equal((await store.get('app:1'))?.id, two.id);
    assert.equal(await store.get(one.id), undefined);
    assert.equal((await store.list()).length, 1);
  });

  test('layers used by a snapshot survive the removal of their image until the snapshot goes', async () => {
    const store = newStore();
    const [img] = await store.loadArchive(dockerFile);
    await store.prepareSnapshot('c1', 'busybox:test');
    await store.remove(img.id);
    assert.deepEqual(await store.list(), []);
    for (const c of img.chainIds) assert.ok(existsSync(store.layerPath(c)));
    assert.equal(existsSync(store.blobPath(img.id)), false, 'blobs are not pinned by snapshots');
    // an existing snapshot still answers, from its meta
    const again = await store.prepareSnapshot('c1', 'busybox:test');
    assert.match(again[0].options[0], new RegExp(digestHex(img.chainIds[1])));
    await store.removeSnapshot('c1');
    assert.deepEqual(await fsp.readdir(store.layersDir), []);
  });
});

describe('snapshots', () => {
  test('overlay mount options: top layer first; idempotent; meta recorded; listed; removed', async () => {
    const store = newStore();
    const [img] = await store.loadArchive(dockerFile);
    const mounts = await store.prepareSnapshot('ctr-1', 'busybox:test');
    const dir = join(store.snapshotsDir, 'ctr-1');
    assert.deepEqual(mounts, [
      {
        type: 'overlay',
        source: 'overlay',
        options: [`lowerdir=${store.layerPath(img.chainIds[1])}:${store.layerPath(img.chainIds[0])}`, `upperdir=${join(dir, 'upper')}`, `workdir=${join(dir, 'work')}`],
      },
    ]);
    assert.deepEqual(await store.prepareSnapshot('ctr-1', 'busybox:test'), mounts);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    assert.equal(meta.key, 'ctr-1');
    assert.equal(meta.imageId, img.id);
    assert.equal(meta.ref, 'busybox:test');
    assert.deepEqual(meta.chainIds, img.chainIds);
    assert.ok(statSync(join(dir, 'upper')).isDirectory());
    assert.ok(statSync(join(dir, 'work')).isDirectory());

    const single = await writeDockerArchive(join(work, 'single.tar'), { repoTags: ['single:1'], layers: [layers.base] });
    await store.loadArchive(join(work, 'single.tar'));
    const m2 = await store.prepareSnapshot('ctr-2', 'single:1');
    assert.equal(m2[0].options[0], `lowerdir=${store.layerPath(single.chainIds[0])}`);
    assert.deepEqual(await store.listSnapshots(), ['ctr-1', 'ctr-2']);

    await store.removeSnapshot('ctr-1');
    await store.removeSnapshot('ctr-1');
    assert.deepEqual(await store.listSnapshots(), ['ctr-2']);
    assert.equal(existsSync(dir), false);
  });

  test('a burst of snapshots made and removed at once: the layers of a removed image go with the last one, the lock is let go', async () => {
    const store = newStore();
    const [img] = await store.loadArchive(dockerFile);
    const keys = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
    await Promise.all(keys.map((k) => store.prepareSnapshot(k, 'busybox:test')));
    assert.deepEqual(await store.listSnapshots(), [...keys].sort());
    for (const k of keys) assert.equal(JSON.parse(readFileSync(join(store.snapshotsDir, k, 'meta.json'), 'utf8')).imageId, img.id);
    assert.equal(existsSync(store.lockPath), false, 'the index lock is released once the queue is empty');
    await store.remove(img.id);
    for (const c of img.chainIds) assert.ok(existsSync(store.layerPath(c)), 'pinned by the snapshots');
    await Promise.all(keys.map((k) => store.removeSnapshot(k)));
    assert.deepEqual(await store.listSnapshots(), []);
    assert.deepEqual(await fsp.readdir(store.layersDir), [], 'collected after the last snapshot went');
    assert.equal(existsSync(store.lockPath), false);
    assert.deepEqual(await fsp.readdir(store.tmpDir), []);
  });

  test('a snapshot of this process pins its layers against another process that removes the image (CLI beside the server)', async () => {
    const root = join(work, `store-${n++}`, 'images');
    const server = new LocalImageService(root);
    const cli = new LocalImageService(root);
    const [img] = await server.loadArchive(dockerFile);
    assert.ok(await server.get('busybox:test'));
    await server.prepareSnapshot('pinned', 'busybox:test');
    await cli.remove(img.id);
    // the server's cached index follows the other writer
    assert.equal(await server.get('busybox:test'), undefined);
    await assert.rejects(server.prepareSnapshot('other', 'busybox:test'), ImageNotFoundError);
    for (const c of img.chainIds) assert.ok(existsSync(server.layerPath(c)));
    await server.removeSnapshot('pinned');
    assert.deepEqual(await fsp.readdir(server.layersDir), []);
    await cli.loadArchive(dockerFile);
    assert.equal((await server.get('busybox:test'))?.id, img.id);
  });

  test('unknown image and bad keys are refused', async () => {
    const store = newStore();
    await assert.rejects(store.prepareSnapshot('k', 'nginx'), (e: Error) => e instanceof ImageNotFoundError && e.message.includes('"docker.io/library/nginx:latest"'));
    for (const key of ['../x', 'a/b', '', '.hidden']) await assert.rejects(store.prepareSnapshot(key, 'busybox'), SnapshotError, key);
    assert.deepEqual(await store.listSnapshots(), []);
  });
});

test('mountsUsing finds mounts on, below, or built from a directory', () => {
  const info = parseMountinfo(
    [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '90 22 0:50 / /run/ctr/rootfs rw,relatime - overlay overlay rw,lowerdir=/d/images/layers/aa:/d/images/layers/bb,upperdir=/d/images/snapshots/k1/upper,workdir=/d/images/snapshots/k1/work',
      '91 22 0:51 / /d/images/snapshots/k2/upper/mnt rw - tmpfs tmpfs rw',
      '92 22 0:52 / /with\\040space rw - tmpfs tmpfs rw',
    ].join('\n'),
  );
  assert.equal(info[3].mountPoint, '/with space');
  assert.deepEqual(mountsUsing('/d/images/snapshots/k1', info).map((m) => m.mountPoint), ['/run/ctr/rootfs']);
  assert.deepEqual(mountsUsing('/d/images/snapshots/k2', info).map((m) => m.mountPoint), ['/d/images/snapshots/k2/upper/mnt']);
  assert.deepEqual(mountsUsing('/d/images/layers/bb', info).map((m) => m.mountPoint), ['/run/ctr/rootfs']);
  assert.deepEqual(mountsUsing('/d/images/snapshots/k', info), []);
});

describe('concurrency', () => {
  test('two services on one root (as CLI and server would be) load at once without losing an image', async () => {
    const root = join(work, `store-${n++}`, 'images');
    const a = new LocalImageService(root);
    const b = new LocalImageService(root);
    const files: string[] = [];
    for (let i = 0; i < 4; i++) {
      const f = join(work, `conc-${i}.tar`);
      await writeDockerArchive(f, { repoTags: [`conc:${i}`], layers: [layers.top], config: { cmd: [`c${i}`] } });
      files.push(f);
    }
    await Promise.all(files.map((f, i) => (i % 2 ? a : b).loadArchive(f)));
    const tags = (await a.list()).flatMap((i) => i.repoTags).sort();
    assert.deepEqual(tags, [0, 1, 2, 3].map((i) => `docker.io/library/conc:${i}`));
    // a remove racing a load of an image sharing its layer never leaves the survivor without it
    const f5 = join(work, 'conc-5.tar');
    await writeDockerArchive(f5, { repoTags: ['conc:5'], layers: [layers.top], config: { cmd: ['c5'] } });
    await Promise.all([a.remove('conc:0'), a.remove('conc:1'), a.remove('conc:2'), a.remove('conc:3'), b.loadArchive(f5)]);
    const [img] = await b.list();
    assert.deepEqual(img.repoTags, ['docker.io/library/conc:5']);
    assert.ok(existsSync(b.layerPath(img.chainIds[0])));
    assert.equal(existsSync(join(root, 'index.lock')), false);
  });

  test('another process loading into the same store at the same time (CLI beside the server)', async () => {
    const root = join(work, `store-${n++}`, 'images');
    const mine = join(work, 'xproc-a.tar');
    const theirs = join(work, 'xproc-b.tar');
    await writeDockerArchive(mine, { repoTags: ['xproc:a'], layers: [layers.base, layers.top], config: { cmd: ['a'] } });
    await writeDockerArchive(theirs, { repoTags: ['xproc:b'], layers: [layers.base], config: { cmd: ['b'] } });
    const storeJs = new URL('./store.js', import.meta.url).href;
    const script = `const { LocalImageService } = await import(${JSON.stringify(storeJs)}); await new LocalImageService(${JSON.stringify(root)}).loadArchive(${JSON.stringify(theirs)});`;
    const child = run(process.execPath, ['--input-type=module', '-e', script]);
    await new LocalImageService(root).loadArchive(mine);
    await child;
    const store = new LocalImageService(root);
    assert.deepEqual((await store.list()).flatMap((i) => i.repoTags).sort(), ['docker.io/library/xproc:a', 'docker.io/library/xproc:b']);
    assert.equal(existsSync(store.lockPath), false);
    assert.deepEqual(await fsp.readdir(store.ingestDir), []);
  });

  test('a stale lock left by a dead process does not block the store', async () => {
    const store = newStore();
    await store.loadArchive(dockerFile);
    writeFileSync(store.lockPath, JSON.stringify({ pid: 999_999_999, start: '1' }));
    await store.remove('busybox:test');
    assert.equal(existsSync(store.lockPath), false);
  });
});

test('buildBusyboxRootfs makes the applets, passwd and group', async () => {
  const dir = join(work, 'bb-only');
  await buildBusyboxRootfs(dir);
  for (const a of ['sh', 'httpd', 'nc', 'ip', 'wget']) assert.equal(readlinkSync(join(dir, 'bin', a)), 'busybox');
  assert.match(readFileSync(join(dir, 'etc', 'passwd'), 'utf8'), /^root:x:0:0:.*\nnobody:x:65534:65534:/);
  assert.match(readFileSync(join(dir, 'etc', 'group'), 'utf8'), /nobody:x:65534:/);
  const r = await run(join(dir, 'bin', 'sh'), ['-c', 'echo ok']);
  assert.equal(r.stdout, 'ok\n');
});

test('overlay options: an image whose layer list does not fit in the page mount(2) takes is refused, saying so', () => {
  const layer = (i: number) => `/var/lib/podbay/images/layers/${i.toString(16).padStart(64, '0')}`;
  const few = Array.from({ length: 40 }, (_, i) => layer(i));
  const opts = overlayOptions('k', 'busybox:1.36', few, '/s/upper', '/s/work');
  assert.deepEqual(opts, [`lowerdir=${few.join(':')}`, 'upperdir=/s/upper', 'workdir=/s/work']);
  assert.ok(opts.join(',').length <= MOUNT_DATA_MAX);
  const many = Array.from({ length: 70 }, (_, i) => layer(i));
  assert.throws(
    () => overlayOptions('k', 'tall:1', many, '/s/upper', '/s/work'),
    (e: unknown) => e instanceof SnapshotError && /image tall:1 has 70 layers: .* is longer than the 4096-byte page mount\(2\) takes/.test(e.message),
  );
});
