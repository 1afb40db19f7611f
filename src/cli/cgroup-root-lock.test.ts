import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockCgroupRoot } from './server.js';

test('one server per cgroup root: a second one is refused with what to do; another root is fine; released, it is free', () => {
  const base = mkdtempSync(join(tmpdir(), 'podbay-cgroot-'));
  try {
    const a = lockCgroupRoot('/podbay', base);
    assert.throws(() => lockCgroupRoot('/podbay', base), /^Error: --cgroup-root \/podbay is in use by another podbay server \(PID \d+\): give this one a --cgroup-root of its own$/);
    const b = lockCgroupRoot('/podbay-2', base);
    a.release();
    lockCgroupRoot('/podbay', base).release();
    b.release();
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
