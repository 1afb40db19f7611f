import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { LocalImageService } from './store.js';
import { importAirgapImages } from './airgap.js';
import { writeDockerArchive } from './archive-build.js';

const work = await fsp.mkdtemp(join(tmpdir(), 'podbay-airgap-test-'));
after(() => fsp.rm(work, { recursive: true, force: true }));

test('archives in the import directory are loaded at start, once; a bad one is reported, not fatal', async () => {
  const dir = join(work, 'import');
  const layer = join(work, 'layer');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.mkdir(layer, { recursive: true });
  await fsp.writeFile(join(layer, 'hello'), 'hi\n');
  await writeDockerArchive(join(dir, 'a.tar'), { repoTags: ['app:1'], layers: [layer] });
  await fsp.writeFile(join(dir, 'broken.tar.gz'), 'not an archive');
  await fsp.writeFile(join(dir, 'README'), 'ignored');
  const store = new LocalImageService(join(work, 'data', 'images'));
  const lines: string[] = [];
  const first = await importAirgapImages(store, dir, (l) => lines.push(l));
  assert.deepEqual(first.imported, ['a.tar']);
  assert.equal(first.failed.length, 1);
  assert.match(first.failed[0].error, /broken\.tar\.gz/);
  assert.ok(await store.get('app:1'));
  assert.ok(lines.some((l) => l.includes('imported docker.io/library/app:1')));
  const second = await importAirgapImages(store, dir);
  assert.deepEqual(second.imported, []);
  assert.deepEqual(second.skipped, ['a.tar']);
  assert.deepEqual(await importAirgapImages(store, join(work, 'none')), { imported: [], skipped: [], failed: [] });
});
