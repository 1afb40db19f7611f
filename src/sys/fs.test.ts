import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModeExact, processUmask, removeFast, removeTree } from './fs.js';

test('processUmask is the umask files are created with; createModeExact says when a chmod is still needed', () => {
  const mask = processUmask();
  assert.equal(mask, process.umask());
  assert.equal(createModeExact(0o4755), false, 'special bits always need the chmod');
  assert.equal(createModeExact(0o777), (0o777 & ~mask) === 0o777);
  assert.equal(createModeExact(0o400), (0o400 & ~mask) === 0o400);
  assert.equal(createModeExact(0o755), (0o755 & ~mask) === 0o755);
});

test('removeFast: a file, an empty dir, a dir with entries, a missing path; a link is removed, never followed', async () => {
  const d = mkdtempSync(join(tmpdir(), 'podbay-rmfast-'));
  try {
    writeFileSync(join(d, 'f'), 'x');
    mkdirSync(join(d, 'empty'));
    mkdirSync(join(d, 'full/sub'), { recursive: true });
    writeFileSync(join(d, 'full/sub/g'), 'y');
    mkdirSync(join(d, 'target'));
    writeFileSync(join(d, 'target/keep'), 'z');
    symlinkSync(join(d, 'target'), join(d, 'link'));
    await removeFast(join(d, 'f'), 'file');
    await removeFast(join(d, 'empty'), 'dir');
    await removeFast(join(d, 'full'), 'dir');
    await removeFast(join(d, 'missing'), 'file');
    await removeFast(join(d, 'missing'), 'dir');
    // the other kind than expected still goes
    await removeFast(join(d, 'link'), 'dir');
    assert.deepEqual(readdirSync(d), ['target']);
    assert.ok(existsSync(join(d, 'target/keep')));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('removeTree: nested dirs and files go; links inside and at the top are removed, never followed; a missing path is fine', async () => {
  const d = mkdtempSync(join(tmpdir(), 'podbay-rmtree-'));
  try {
    mkdirSync(join(d, 'outside'));
    writeFileSync(join(d, 'outside/keep'), 'z');
    mkdirSync(join(d, 'tree/a/b/c'), { recursive: true });
    mkdirSync(join(d, 'tree/empty'));
    writeFileSync(join(d, 'tree/f'), 'x');
    writeFileSync(join(d, 'tree/a/b/g'), 'y');
    symlinkSync(join(d, 'outside'), join(d, 'tree/a/dirlink'));
    symlinkSync(join(d, 'outside/keep'), join(d, 'tree/filelink'));
    symlinkSync(join(d, 'outside'), join(d, 'toplink'));
    await removeTree(join(d, 'tree'));
    await removeTree(join(d, 'toplink'));
    await removeTree(join(d, 'missing'));
    assert.deepEqual(readdirSync(d), ['outside']);
    assert.deepEqual(readdirSync(join(d, 'outside')), ['keep']);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
