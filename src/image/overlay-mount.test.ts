/**
 * The one image test that mounts: the Mount[] prepareSnapshot returns, applied with mount(8),
 * must show the image as a container would see it. Root only; leaves no mount behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { run } from '../sys/exec.js';
import { LocalImageService, SnapshotError } from './store.js';
import { buildTestImageLayers, writeOciArchive } from './archive-build.js';
import { readMountinfo } from '../sys/mountinfo.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot) throw new Error('these tests unpack image layers (ownership, device nodes) and mount overlays: run them as root (sudo npm test)');

test('an overlay from prepareSnapshot shows the image, hides whiteouts, and is cleaned up', async () => {
  const work = await fsp.mkdtemp(join(tmpdir(), 'podbay-overlay-test-'));
  const target = join(work, 'rootfs');
  let mounted = false;
  try {
    const { base, top } = await buildTestImageLayers(join(work, 'src'));
    const archive = join(work, 'img.tar');
    await writeOciArchive(archive, { refName: 'overlay-test:1', layers: [base, top] });
    const store = new LocalImageService(join(work, 'data', 'images'));
    await store.loadArchive(archive);
    const [m] = await store.prepareSnapshot('ovl-1', 'overlay-test:1');
    await fsp.mkdir(target);
    await run('mount', ['-t', m.type, m.source, '-o', m.options.join(','), target]);
    mounted = true;

    assert.equal((await run(join(target, 'bin', 'busybox'), ['echo', 'ok'])).stdout, 'ok\n');
    assert.equal(readFileSync(join(target, 'srv', 'owned'), 'utf8'), 'owned\n');
    assert.equal(readFileSync(join(target, 'srv', 'added.txt'), 'utf8'), 'added\n');
    assert.equal(existsSync(join(target, 'etc', 'motd')), false, 'whiteout hides etc/motd');
    assert.ok(existsSync(join(target, 'etc', 'passwd')));
    assert.deepEqual(readdirSync(join(target, 'data')), ['new.txt'], 'opaque directory hides the lower data/*');
    // writes land in the snapshot's upper dir, never in a layer
    writeFileSync(join(target, 'tmp', 'written'), 'w');
    assert.ok(existsSync(join(store.snapshotsDir, 'ovl-1', 'upper', 'tmp', 'written')));

    await assert.rejects(store.removeSnapshot('ovl-1'), (e: Error) => e instanceof SnapshotError && /still mounted/.test(e.message) && e.message.includes(target));
    assert.ok(existsSync(join(store.snapshotsDir, 'ovl-1', 'upper', 'tmp', 'written')), 'nothing deleted through the mount');

    await run('umount', [target]);
    mounted = false;
    await store.removeSnapshot('ovl-1');
    await store.remove('overlay-test:1');
    assert.deepEqual(await store.listSnapshots(), []);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await fsp.readdir(store.layersDir), []);
    assert.deepEqual(await fsp.readdir(store.blobsDir), []);
  } finally {
    if (mounted) await run('umount', ['-l', target], { allowFailure: true });
    const leaked = readMountinfo().filter((mi) => mi.mountPoint.startsWith(work) || mi.superOptions.some((o) => o.includes(work)));
    await fsp.rm(work, { recursive: true, force: true });
    assert.deepEqual(leaked, [], 'no mount is left behind');
  }
});
