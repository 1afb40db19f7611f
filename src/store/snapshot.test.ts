import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { backupStore, inspectSnapshot, restoreStore } from './snapshot.js';
import { SqliteStore } from './sqlite.js';
import { StoreError } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'podbay-snap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('store snapshots', () => {
  it('backs up a store that keeps being written, consistently, as a 0600 self-contained file', async () => {
    const db = join(dir, 'live', 'state.db');
    const s = SqliteStore.open(db);
    try {
      for (let i = 0; i < 300; i++) await s.create(`/registry/configmaps/default/c${i}`, JSON.stringify({ i, pad: 'x'.repeat(300) }));
      // writes keep landing while the backup runs
      let writing = true;
      let n = 300;
      const writer = (async () => {
        while (writing) {
          await s.create(`/registry/configmaps/default/c${n++}`, '{}');
          await new Promise((r) => setImmediate(r));
        }
      })();
      const file = join(dir, 'snap.db');
      const info = await backupStore(db, file);
      writing = false;
      await writer;
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(existsSync(`${file}-wal`), false);
      assert.ok(info.revision >= 300);
      // consistent: exactly the keys of the revision it reports
      assert.equal(info.keys, info.revision);
      assert.deepEqual(inspectSnapshot(file), info);
    } finally {
      await s.close();
    }
  });

  it('restores past every revision the replaced store handed out, and compacts before it', async () => {
    const db = join(dir, 'restore', 'state.db');
    let s = SqliteStore.open(db);
    await s.create('/registry/pods/default/a', 'v1');
    const file = join(dir, 'restore-snap.db');
    await backupStore(db, file);
    for (let i = 0; i < 10; i++) await s.update('/registry/pods/default/a', `v${i + 2}`);
    await s.create('/registry/pods/default/b', 'later');
    const before = await s.currentRevision();
    await s.close();

    const r = restoreStore(file, db, new Date('2026-01-02T03:04:05Z'));
    assert.equal(r.revision, 1);
    assert.equal(r.resumesAt, before + 2);
    assert.ok(r.previous && existsSync(r.previous));
    assert.ok(readdirSync(join(dir, 'restore')).includes('state.db.pre-restore-2026-01-02T03-04-05-000Z'));

    s = SqliteStore.open(db);
    try {
      assert.equal((await s.get('/registry/pods/default/a'))?.value, 'v1');
      assert.equal(await s.get('/registry/pods/default/b'), undefined);
      assert.equal(await s.currentRevision(), r.resumesAt);
      // a client still holding the newest old revision must re-list
      await assert.rejects(s.watch('/registry/pods/', before, () => {}), (e: unknown) => e instanceof StoreError && e.code === 'Compacted');
      await assert.rejects(s.list('/registry/pods/', { revision: before }), (e: unknown) => e instanceof StoreError && e.code === 'Compacted');
      const w = await s.watch('/registry/pods/', r.resumesAt, () => {});
      w.cancel();
      const next = await s.update('/registry/pods/default/a', 'v-new');
      assert.equal(next.modRevision, r.resumesAt + 1);
    } finally {
      await s.close();
    }
    // the replaced store is intact on its own
    const old = inspectSnapshot(r.previous!);
    assert.equal(old.revision, before);
    assert.equal(old.keys, 2);
  });

  it('refuses a file that is not a sound podbay store, leaving the store alone', async () => {
    const db = join(dir, 'keep', 'state.db');
    const s = SqliteStore.open(db);
    await s.create('/k', 'v');
    await s.close();
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'not sqlite'.repeat(500));
    assert.throws(() => restoreStore(junk, db), /corrupt|not a database/);
    assert.throws(() => restoreStore(join(dir, 'missing.db'), db), /no such file/);
    const s2 = SqliteStore.open(db);
    assert.equal((await s2.get('/k'))?.value, 'v');
    await s2.close();
  });
});
