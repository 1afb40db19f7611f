import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { storeConformance } from './conformance.js';
import { MemoryStore, openStore } from './index.js';
import { SqliteStore } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'podbay-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const freshPath = () => join(dir, `t${++n}`, 'store.db');

storeConformance('sqlite', async () => SqliteStore.open(freshPath()), {
  persistent: () => {
    const path = freshPath();
    return async () => SqliteStore.open(path);
  },
});

describe('sqlite store file', () => {
  it('creates parent directories and a 0600 file in WAL mode', async () => {
    const path = join(dir, 'nested', 'deeper', 'podbay.db');
    const s = SqliteStore.open(path);
    try {
      await s.create('/k', 'v');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600);
    } finally {
      await s.close();
    }
  });
});

describe('openStore', () => {
  it('opens either backend', async () => {
    const m = openStore('memory');
    assert.ok(m instanceof MemoryStore);
    await m.close();
    const s = openStore('sqlite', join(dir, 'open-store', 'x.db'));
    assert.ok(s instanceof SqliteStore);
    await s.create('/k', 'v');
    await s.close();
    assert.throws(() => openStore('sqlite'), /needs a file path/);
  });
});
