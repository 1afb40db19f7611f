import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { storeConformance } from './conformance.js';
import { MemoryStore, openStore } from './index.js';
import { SqliteStore, StoreCorruptError } from './sqlite.js';

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

describe('sqlite store durability', () => {
  it('two handles on one file never hand out the same revision (the next one is read in the transaction)', async () => {
    const path = freshPath();
    const a = SqliteStore.open(path);
    const b = SqliteStore.open(path);
    try {
      const revs: number[] = [];
      for (let i = 0; i < 5; i++) {
        revs.push((await a.create(`/a/${i}`, 'x')).modRevision);
        revs.push((await b.create(`/b/${i}`, 'y')).modRevision);
      }
      assert.deepEqual(revs, revs.map((_, i) => i + 1));
      await a.delete('/b/0');
      assert.equal((await b.update('/a/1', 'z')).modRevision, 12);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('fsyncs the WAL before a write resolves by default (group commit off the event loop); sync: normal relaxes it', async () => {
    const path = freshPath();
    const full = SqliteStore.open(path);
    await full.close();
    // PRAGMA synchronous is per connection: read it through a store's own handle; 'full' runs
    // NORMAL (no fsync inside the commit, which would block the event loop) plus podbay's fsync
    type Inner = { db: { pragma(q: string, o: object): number }; group?: { syncs: number; durableRevision: number } };
    const inner = (s: SqliteStore) => s as unknown as Inner;
    const s1 = SqliteStore.open(path);
    const s2 = SqliteStore.open(path, { sync: 'normal' });
    try {
      assert.equal(inner(s1).db.pragma('synchronous', { simple: true }), 1);
      assert.equal(inner(s2).db.pragma('synchronous', { simple: true }), 1);
      assert.equal(inner(s2).group, undefined, "'normal' never fsyncs");
      // 20 writes at once: each resolves durable, and they share fsyncs (fewer than 20)
      const kvs = await Promise.all(Array.from({ length: 20 }, (_, i) => s1.create(`/g/${i}`, 'v')));
      const g = inner(s1).group!;
      assert.equal(g.durableRevision, Math.max(...kvs.map((kv) => kv.modRevision)), 'every resolved write is durable');
      assert.ok(g.syncs >= 1 && g.syncs < 20, `${g.syncs} fsyncs for 20 concurrent writes`);
      // a watcher from "now" hears of a write only once it is durable, in order
      const seen: number[] = [];
      const w = await s1.watch('/g/', 0, (ev) => seen.push(ev.revision));
      const writes = [s1.update('/g/0', 'x'), s1.update('/g/1', 'y')];
      assert.deepEqual(seen, [], 'no event before the fsync');
      const done = await Promise.all(writes);
      assert.deepEqual(seen, done.map((kv) => kv.modRevision));
      w.cancel();
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('refuses a corrupt file with a clear message instead of serving from it', async () => {
    const path = freshPath();
    const s = SqliteStore.open(path);
    for (let i = 0; i < 200; i++) await s.create(`/registry/configmaps/default/c${i}`, JSON.stringify({ data: 'x'.repeat(500) }));
    await s.close();
    // scribble over the middle of the file (past the header page)
    const buf = readFileSync(path);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, Math.floor(buf.length / 2));
    closeSync(fd);
    assert.throws(() => SqliteStore.open(path), (e: unknown) => e instanceof StoreCorruptError && /is corrupt .*quick_check/.test(e.message) && e.message.includes('podbay restore'));
    // a file that is not a database at all
    const junk = freshPath();
    mkdirSync(dirname(junk), { recursive: true });
    writeFileSync(junk, 'this is not a database, just text that is long enough to have a header'.repeat(100));
    assert.throws(() => SqliteStore.open(junk), (e: unknown) => e instanceof StoreCorruptError && /not a database/.test(e.message));
  });
});
