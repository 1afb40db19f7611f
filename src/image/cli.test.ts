/** `podbay image` (src/cli/image.ts), driven in-process against a temporary data dir. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { imageCommand, humanSize } from '../cli/image.js';
import { buildBusyboxRootfs, writeDockerArchive, writeRootfsTar } from './archive-build.js';

if (process.getuid?.() !== 0) throw new Error('these tests unpack image layers (ownership, device nodes) and mount overlays: run them as root (sudo npm test)');
let work: string;
let dataDir: string;
let archive: string;
let rootfs: string;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await imageCommand(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

before(async () => {
  work = await fsp.mkdtemp(join(tmpdir(), 'podbay-image-cli-'));
  dataDir = join(work, 'data');
  const dir = join(work, 'rootfs');
  await buildBusyboxRootfs(dir);
  archive = join(work, 'bb.tar');
  await writeDockerArchive(archive, { repoTags: ['busybox:1.36', 'busybox:latest'], layers: [dir], config: { cmd: ['sh'] } });
  rootfs = join(work, 'rootfs.tar.gz');
  await writeRootfsTar(rootfs, dir, true);
});

after(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

test('humanSize prints like crictl (go-units)', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(2_224_000), '2.224MB');
  assert.equal(humanSize(718_000), '718kB');
  assert.equal(humanSize(1_500_000_000), '1.5GB');
});

test('load, import, ls, rm', async () => {
  let r = await cli('load', '-i', archive, '--data-dir', dataDir);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'Loaded image: docker.io/library/busybox:1.36\nLoaded image: docker.io/library/busybox:latest\n');

  r = await cli('import', rootfs, 'mybox:v1', `--data-dir=${dataDir}`, '--kubeconfig', '/nonexistent');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^sha256:[0-9a-f]{64}\n$/);
  const importedId = r.out.trim();

  r = await cli('ls', '--data-dir', dataDir);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.match(lines[0], /^IMAGE {3,}TAG {3,}IMAGE ID {3,}SIZE$/);
  assert.equal(lines.length, 4);
  assert.match(lines[1], /^docker\.io\/library\/busybox +1\.36 +[0-9a-f]{13} +[\d.]+[kM]B$/);
  assert.match(lines[2], /^docker\.io\/library\/busybox +latest +/);
  assert.ok(lines[3].startsWith('docker.io/library/mybox') && lines[3].includes(importedId.slice(7, 20)));

  r = await cli('ls', '-q', '--data-dir', dataDir);
  assert.equal(r.out.trim().split('\n').length, 2);

  r = await cli('rm', 'busybox:1.36', 'nginx', '--data-dir', dataDir);
  assert.equal(r.code, 1);
  assert.equal(r.out, 'Deleted: docker.io/library/busybox:1.36\n');
  assert.match(r.err, /image "docker.io\/library\/nginx:latest" is not present: pull it with 'podbay image pull docker.io\/library\/nginx:latest', load it with 'podbay image load -i FILE'/);

  r = await cli('rm', importedId.slice(7, 19), 'busybox', '--data-dir', dataDir);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `Deleted: ${importedId}\nDeleted: docker.io/library/busybox:latest\n`);
  r = await cli('ls', '--data-dir', dataDir);
  assert.equal(r.out, 'IMAGE   TAG   IMAGE ID   SIZE\n');
});

test('prune removes the images no container uses, and their layers', async () => {
  const dir = join(work, 'prune');
  assert.equal((await cli('load', '-i', archive, '--data-dir', dir)).code, 0);
  assert.equal((await cli('import', rootfs, 'mybox:v1', '--data-dir', dir)).code, 0);
  const { LocalImageService } = await import('./store.js');
  const s = new LocalImageService(join(dir, 'images'));
  await s.prepareSnapshot('ctr1', 'mybox:v1');
  const r = await cli('prune', '--data-dir', dir);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Deleted: docker\.io\/library\/busybox:1\.36\nTotal reclaimed space: [\d.]+[kM]B\n$/);
  assert.deepEqual((await s.list()).map((i) => i.repoTags), [['docker.io/library/mybox:v1']]);
  const layers = await fsp.readdir(s.layersDir);
  assert.deepEqual(layers, (await s.list())[0].chainIds.map((c) => c.slice(7)));
  await s.removeSnapshot('ctr1');
  assert.match((await cli('prune', '--data-dir', dir)).out, /Deleted: docker\.io\/library\/mybox:v1/);
  assert.deepEqual(await fsp.readdir(s.blobsDir), []);
});

test('usage errors exit 2 and say what is wrong; help exits 0', async () => {
  const cases: [string[], RegExp][] = [
    [['load'], /needs the archive/],
    [['load', '-i'], /flag --i needs a value/],
    [['import', 'only-a-file'], /needs a file and a name/],
    [['rm'], /needs at least one image/],
    [['ls', '--bogus'], /unknown flag: --bogus/],
    [['load', '--bogus', 'x', '-i', 'f'], /unknown flag: --bogus \(podbay image load accepts: --data-dir, --kubeconfig, --help, --input\)/],
    [['ls', 'extra'], /takes no arguments/],
    [['frobnicate'], /unknown image command "frobnicate"/],
  ];
  for (const [argv, want] of cases) {
    const r = await cli('--data-dir', join(work, 'unused'), ...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, want, argv.join(' '));
    assert.match(r.err, /Usage:/);
  }
  for (const argv of [[], ['--help'], ['ls', '--help'], ['load', '-h']]) {
    const r = await cli(...argv);
    assert.equal(r.code, 0);
    assert.match(r.out, /--kubeconfig FILE +accepted for uniformity/);
  }
  const r = await cli('load', '-i', join(work, 'nope.tar'), '--data-dir', join(work, 'd2'));
  assert.equal(r.code, 1);
  assert.match(r.err, /^podbay image load: .*nope\.tar: no such file/);
});
