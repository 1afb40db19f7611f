import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { which } from './exec.js';

test('which: a tool found stays found; a missing one is looked for again on the next call', () => {
  const d = mkdtempSync(join(tmpdir(), 'podbay-which-'));
  try {
    const name = `podbay-which-test-${process.pid}`;
    assert.equal(which(name, d), undefined);
    writeFileSync(join(d, name), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(which(name, d), join(d, name));
    rmSync(join(d, name));
    assert.equal(which(name, d), join(d, name));
    // another PATH is another lookup
    assert.equal(which(name, join(d, 'nowhere')), undefined);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
