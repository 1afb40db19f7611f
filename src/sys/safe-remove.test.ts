import { strict as assert } from 'node:assert';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { removeTreeUnder } from './safe-remove.js';

describe('removeTreeUnder', () => {
  it('removes a tree and never follows a link in it to what it names', async () => {
    const root = mkdtempSync(join(tmpdir(), 'safe-remove-'));
    try {
      const outside = join(root, 'outside');
      mkdirSync(outside);
      writeFileSync(join(outside, 'keep'), 'host file');
      const vol = join(root, 'base', 'pvc-1');
      mkdirSync(join(vol, 'a', 'b'), { recursive: true });
      writeFileSync(join(vol, 'a', 'b', 'f'), 'x');
      symlinkSync(outside, join(vol, 'link-dir'));
      symlinkSync(join(outside, 'keep'), join(vol, 'a', 'link-file'));
      await removeTreeUnder(join(root, 'base'), 'pvc-1');
      assert.equal(existsSync(vol), false);
      assert.equal(readFileSync(join(outside, 'keep'), 'utf8'), 'host file');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a volume dir that is itself a link is unlinked, its target untouched', async () => {
    const root = mkdtempSync(join(tmpdir(), 'safe-remove-'));
    try {
      mkdirSync(join(root, 'outside'));
      writeFileSync(join(root, 'outside', 'keep'), 'k');
      mkdirSync(join(root, 'base'));
      symlinkSync(join(root, 'outside'), join(root, 'base', 'pvc-2'));
      await removeTreeUnder(join(root, 'base'), 'pvc-2');
      assert.equal(existsSync(join(root, 'base', 'pvc-2')), false);
      assert.equal(readFileSync(join(root, 'outside', 'keep'), 'utf8'), 'k');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a name that is not one component, and a missing one is no error', async () => {
    const root = mkdtempSync(join(tmpdir(), 'safe-remove-'));
    try {
      await assert.rejects(removeTreeUnder(root, '../x'), /not a single path component/);
      await assert.rejects(removeTreeUnder(root, '..'), /not a single path component/);
      await removeTreeUnder(root, 'absent');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
