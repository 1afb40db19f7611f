/**
 * The store conformance suite: one set of node:test cases every Store backend must pass.
 * A backend's test file calls `storeConformance('sqlite', open)`; `open` must return a fresh,
 * empty store on every call. Backends that persist pass `persistent` to also run the reopen
 * tests.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { StoreError, type KeyValue, type Store, type StoreErrorCode, type WatchEvent, type Watcher } from './types.js';

export interface ConformanceOptions {
  /**
   * For persistent backends: returns an opener for a new location; each call of that opener
   * opens the store at the same location again (the test closes the previous one first).
   */
  persistent?: () => () => Promise<Store>;
  /**
   * The revision an empty store reports: 0 for podbay's own backends, 1 for etcd (whose first
   * revision is 1, as kube-apiserver sees it).
   */
  initialRevision?: number;
  /**
   * etcd's compaction at revision C drops a key whose newest write at or below C is a delete,
   * so a watch from C-1 cannot replay a delete made exactly at C (kube-apiserver lives with the
   * same): such a backend is not asked to.
   */
  compactionDropsTombstoneAtRevision?: boolean;
}

/** Wait (polling the event loop) until `cond` holds, so async-delivering backends pass too. */
async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Give an asynchronously-delivering backend a chance to (wrongly) deliver more events. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1));
}

function recorder() {
  const events: WatchEvent[] = [];
  return {
    events,
    onEvent: (ev: WatchEvent) => {
      events.push(ev);
    },
    revisions: () => events.map((e) => e.revision),
    waitFor: (n: number) => until(() => events.length >= n, `${n} events (have ${events.length})`),
  };
}

function isStoreError(code: StoreErrorCode, revision?: number) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof StoreError, `expected StoreError(${code}), got ${String(err)}`);
    assert.equal(err.code, code);
    if (revision !== undefined) assert.equal(err.revision, revision);
    return true;
  };
}

function assertContiguous(revs: number[], from: number, to: number): void {
  const expected = Array.from({ length: to - from }, (_, i) => from + 1 + i);
  assert.deepEqual(revs, expected, 'events must be every revision in order, exactly once');
}

const keys = (items: KeyValue[]) => items.map((i) => i.key);

export function storeConformance(name: string, open: () => Promise<Store>, opts: ConformanceOptions = {}): void {
  const R0 = opts.initialRevision ?? 0;
  /** run `fn` against a fresh store, closing it afterwards */
  const withStore = (fn: (s: Store) => Promise<void>) => async () => {
    const s = await open();
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  };

  describe(`store conformance: ${name}`, () => {
    describe('basic operations', () => {
      it('starts empty', withStore(async (s) => {
        assert.equal(await s.currentRevision(), R0);
        assert.equal(await s.compactedRevision(), 0);
        assert.equal(await s.get('/registry/pods/default/a'), undefined);
        assert.deepEqual(await s.list('/registry/'), { items: [], revision: R0, remaining: 0 });
        assert.equal(await s.count('/registry/'), 0);
      }));

      it('create then get', withStore(async (s) => {
        const kv = await s.create('/registry/pods/default/a', '{"a":1}');
        assert.equal(kv.key, '/registry/pods/default/a');
        assert.equal(kv.value, '{"a":1}');
        assert.ok(kv.modRevision > 0);
        assert.equal(kv.createRevision, kv.modRevision);
        assert.deepEqual(await s.get('/registry/pods/default/a'), kv);
        assert.equal(await s.currentRevision(), kv.modRevision);
      }));

      it('create of an existing key throws KeyExists and writes nothing', withStore(async (s) => {
        await s.create('/k', 'v1');
        const rev = await s.currentRevision();
        await assert.rejects(s.create('/k', 'v2'), isStoreError('KeyExists'));
        assert.equal((await s.get('/k'))?.value, 'v1');
        assert.equal(await s.currentRevision(), rev);
      }));

      it('update with the right expected revision, without one, and with a stale one', withStore(async (s) => {
        const c = await s.create('/k', 'v1');
        const u1 = await s.update('/k', 'v2', c.modRevision);
        assert.equal(u1.value, 'v2');
        assert.equal(u1.createRevision, c.createRevision);
        assert.ok(u1.modRevision > c.modRevision);
        const u2 = await s.update('/k', 'v3');
        assert.ok(u2.modRevision > u1.modRevision);
        assert.equal(u2.createRevision, c.createRevision);

        const rev = await s.currentRevision();
        await assert.rejects(s.update('/k', 'stale', u1.modRevision), isStoreError('Conflict', u2.modRevision));
        await assert.rejects(s.delete('/k', c.modRevision), isStoreError('Conflict', u2.modRevision));
        assert.deepEqual(await s.get('/k'), u2);
        assert.equal(await s.currentRevision(), rev, 'a failed write consumes no revision');
      }));

      it('update and delete of a missing key throw KeyNotFound', withStore(async (s) => {
        await assert.rejects(s.update('/nope', 'v'), isStoreError('KeyNotFound'));
        await assert.rejects(s.update('/nope', 'v', 1), isStoreError('KeyNotFound'));
        await assert.rejects(s.delete('/nope'), isStoreError('KeyNotFound'));
        await s.create('/k', 'v');
        await s.delete('/k');
        await assert.rejects(s.update('/k', 'v'), isStoreError('KeyNotFound'));
        await assert.rejects(s.delete('/k'), isStoreError('KeyNotFound'));
      }));

      it('delete returns the last value at the delete revision; the key can be created again', withStore(async (s) => {
        const c = await s.create('/k', 'v1');
        const u = await s.update('/k', 'v2');
        const d = await s.delete('/k', u.modRevision);
        assert.deepEqual(d, { key: '/k', value: 'v2', createRevision: c.createRevision, modRevision: d.modRevision });
        assert.ok(d.modRevision > u.modRevision);
        assert.equal(await s.currentRevision(), d.modRevision);
        assert.equal(await s.get('/k'), undefined);
        assert.equal(await s.count('/'), 0);

        const again = await s.create('/k', 'v3');
        assert.ok(again.modRevision > d.modRevision);
        assert.equal(again.createRevision, again.modRevision, 'a new incarnation has its own createRevision');
      }));

      it('revisions strictly increase across keys and operations', withStore(async (s) => {
        const revs: number[] = [];
        revs.push((await s.create('/a', '1')).modRevision);
        revs.push((await s.create('/b', '1')).modRevision);
        revs.push((await s.update('/a', '2')).modRevision);
        revs.push((await s.delete('/b')).modRevision);
        revs.push((await s.create('/b', '2')).modRevision);
        // concurrent writes still get distinct revisions, all after the earlier ones (in which
        // order concurrent requests commit is the store's to choose)
        const many = await Promise.all(Array.from({ length: 20 }, (_, i) => s.create(`/c/${i}`, 'x')));
        revs.push(...many.map((kv) => kv.modRevision).sort((a, b) => a - b));
        for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, `revisions ${revs.join(',')}`);
        assert.equal(new Set(revs).size, revs.length);
        assert.equal(await s.currentRevision(), revs[revs.length - 1]);
      }));

      it('operations after close reject with Closed; close is idempotent', async () => {
        const s = await open();
        await s.create('/k', 'v');
        await s.close();
        await s.close();
        await assert.rejects(s.get('/k'), isStoreError('Closed'));
        await assert.rejects(s.create('/x', 'v'), isStoreError('Closed'));
        await assert.rejects(s.list('/'), isStoreError('Closed'));
        await assert.rejects(s.watch('/', 0, () => {}), isStoreError('Closed'));
      });
    });

    describe('list', () => {
      it('selects by prefix without leaking into sibling prefixes', withStore(async (s) => {
        await s.create('/registry/pods/default2/c', 'c');
        await s.create('/registry/pods/default/b', 'b');
        await s.create('/registry/pods/default/a', 'a');
        await s.create('/registry/pods/default', 'bare');
        await s.create('/registry/pods/defaul', 'short');
        await s.create('/registry/podsx/default/z', 'other resource');

        const def = await s.list('/registry/pods/default/');
        assert.deepEqual(keys(def.items), ['/registry/pods/default/a', '/registry/pods/default/b']);
        assert.deepEqual(def.items.map((i) => i.value), ['a', 'b']);
        assert.equal(def.revision, await s.currentRevision());
        assert.equal(def.remaining, 0);
        assert.equal(await s.count('/registry/pods/default/'), 2);
        assert.deepEqual(keys((await s.list('/registry/pods/default2/')).items), ['/registry/pods/default2/c']);
        assert.equal((await s.list('/registry/pods/')).items.length, 5);
        assert.equal(await s.count('/registry/pods/'), 5);
        assert.equal(await s.count(''), 6);
        assert.deepEqual(keys((await s.list('')).items), [
          '/registry/pods/defaul',
          '/registry/pods/default',
          '/registry/pods/default/a',
          '/registry/pods/default/b',
          '/registry/pods/default2/c',
          '/registry/podsx/default/z',
        ]);
      }));

      it('returns the latest value of each key and skips deleted keys', withStore(async (s) => {
        await s.create('/p/a', 'a1');
        await s.create('/p/b', 'b1');
        await s.create('/p/c', 'c1');
        const a2 = await s.update('/p/a', 'a2');
        await s.delete('/p/b');
        const list = await s.list('/p/');
        assert.deepEqual(list.items.map((i) => [i.key, i.value]), [['/p/a', 'a2'], ['/p/c', 'c1']]);
        assert.deepEqual(list.items[0], a2);
        assert.equal(await s.count('/p/'), 2);
      }));

      it('pages with limit and startAfter, reporting remaining', withStore(async (s) => {
        const names = ['p05', 'p01', 'p09', 'p00', 'p03', 'p07', 'p02', 'p08', 'p06', 'p04'];
        for (const n of names) await s.create(`/p/${n}`, n);
        await s.create('/q/p99', 'outside the prefix');
        await s.delete('/p/p04');

        const seen: string[] = [];
        const remainings: number[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await s.list('/p/', { limit: 3, startAfter: after });
          assert.ok(page.items.length <= 3);
          seen.push(...keys(page.items));
          remainings.push(page.remaining);
          if (page.remaining === 0) break;
          after = page.items[page.items.length - 1]!.key;
        }
        assert.deepEqual(seen, ['p00', 'p01', 'p02', 'p03', 'p05', 'p06', 'p07', 'p08', 'p09'].map((n) => `/p/${n}`));
        assert.deepEqual(remainings, [6, 3, 0]);

        // startAfter need not be an existing key; limit larger than the rest; limit 0 = all
        const mid = await s.list('/p/', { startAfter: '/p/p06x', limit: 10 });
        assert.deepEqual(keys(mid.items), ['/p/p07', '/p/p08', '/p/p09']);
        assert.equal(mid.remaining, 0);
        assert.equal((await s.list('/p/', { limit: 0 })).items.length, 9);
        const exact = await s.list('/p/', { limit: 9 });
        assert.equal(exact.items.length, 9);
        assert.equal(exact.remaining, 0);
      }));

      it('lists as of an older revision', withStore(async (s) => {
        const a1 = await s.create('/r/a', 'a1');
        const b1 = await s.create('/r/b', 'b1');
        const a2 = await s.update('/r/a', 'a2');
        const bd = await s.delete('/r/b');
        const c1 = await s.create('/r/c', 'c1');
        const b2 = await s.create('/r/b', 'b2');

        const at = async (revision: number) => {
          const l = await s.list('/r/', { revision });
          assert.equal(l.revision, revision);
          return l.items.map((i) => `${i.key.slice(3)}=${i.value}@${i.modRevision}`);
        };
        assert.deepEqual(await at(a1.modRevision), [`a=a1@${a1.modRevision}`]);
        assert.deepEqual(await at(b1.modRevision), [`a=a1@${a1.modRevision}`, `b=b1@${b1.modRevision}`]);
        assert.deepEqual(await at(a2.modRevision), [`a=a2@${a2.modRevision}`, `b=b1@${b1.modRevision}`]);
        assert.deepEqual(await at(bd.modRevision), [`a=a2@${a2.modRevision}`]);
        assert.deepEqual(await at(c1.modRevision), [`a=a2@${a2.modRevision}`, `c=c1@${c1.modRevision}`]);
        assert.deepEqual(await at(b2.modRevision), [
          `a=a2@${a2.modRevision}`,
          `b=b2@${b2.modRevision}`,
          `c=c1@${c1.modRevision}`,
        ]);

        // paging at a fixed revision is unaffected by later writes
        await s.create('/r/aa', 'new');
        const page = await s.list('/r/', { revision: a2.modRevision, limit: 1 });
        assert.deepEqual(keys(page.items), ['/r/a']);
        assert.equal(page.remaining, 1);
        const next = await s.list('/r/', { revision: a2.modRevision, limit: 1, startAfter: '/r/a' });
        assert.deepEqual(keys(next.items), ['/r/b']);
        assert.equal(next.items[0]!.value, 'b1');
        assert.equal(next.remaining, 0);
      }));
    });

    describe('watch', () => {
      it('from revision 0 delivers only new events', withStore(async (s) => {
        await s.create('/w/old', 'x');
        await s.update('/w/old', 'y');
        const r = recorder();
        const w = await s.watch('/w/', 0, r.onEvent);
        const n = await s.create('/w/new', 'z');
        await r.waitFor(1);
        await settle();
        assert.equal(r.events.length, 1);
        assert.deepEqual(r.events[0], { type: 'ADDED', kv: n, revision: n.modRevision });
        w.cancel();
      }));

      it('events carry kv and prev; DELETED has the last value; a deleted key is seen from an old revision', withStore(async (s) => {
        await s.create('/other', 'x'); // (watching from 0 would mean "only new events")
        const start = await s.currentRevision();
        const c = await s.create('/w/k', 'v1');
        const u = await s.update('/w/k', 'v2');
        const d = await s.delete('/w/k');
        const r = recorder();
        const w = await s.watch('/w/', start, r.onEvent);
        await r.waitFor(3);
        const [added, modified, deleted] = r.events;
        assert.deepEqual(added, { type: 'ADDED', kv: c, revision: c.modRevision });
        assert.deepEqual(modified, { type: 'MODIFIED', kv: u, prev: c, revision: u.modRevision });
        assert.deepEqual(deleted, {
          type: 'DELETED',
          kv: { key: '/w/k', value: 'v2', createRevision: c.createRevision, modRevision: d.modRevision },
          prev: u,
          revision: d.modRevision,
        });
        // and the same shapes live
        const c2 = await s.create('/w/k', 'v3');
        const d2 = await s.delete('/w/k');
        await r.waitFor(5);
        assert.deepEqual(r.events[3], { type: 'ADDED', kv: c2, revision: c2.modRevision });
        assert.equal(r.events[4]!.type, 'DELETED');
        assert.deepEqual(r.events[4]!.kv, { ...c2, modRevision: d2.modRevision });
        assert.deepEqual(r.events[4]!.prev, c2);
        w.cancel();
      }));

      it('from revision N replays N+1.. then goes live, without gaps or duplicates', withStore(async (s) => {
        for (let i = 0; i < 6; i++) await s.create(`/w/k${i}`, `v${i}`);
        const from = 2;
        const r = recorder();
        let injected = false;
        const pending: Promise<unknown>[] = [];
        const w = await s.watch('/w/', from, (ev) => {
          r.onEvent(ev);
          // write while the history is being replayed
          if (!injected) {
            injected = true;
            pending.push(s.create('/w/during1', 'x'), s.update('/w/k0', 'changed'), s.delete('/w/k1'));
          }
        });
        // and write right after the watch starts (a networked store may deliver the first
        // event only later: wait for the writes made from inside the callback)
        pending.push(s.create('/w/after1', 'y'));
        await until(() => injected, 'the first replayed event');
        await Promise.all(pending);
        await s.update('/w/during1', 'x2');
        const last = await s.currentRevision();
        await r.waitFor(last - from);
        await settle();
        assertContiguous(r.revisions(), from, last);
        w.cancel();
      }));

      it('many concurrent writers and watchers all see one consistent order', withStore(async (s) => {
        for (let i = 0; i < 10; i++) await s.create(`/c/seed${i}`, 'x');
        const base = await s.currentRevision();
        const early = recorder();
        const wEarly = await s.watch('/c/', 3, early.onEvent);
        const writes: Promise<unknown>[] = [];
        const late = recorder();
        let wLate: Promise<Watcher> | undefined;
        for (let i = 0; i < 50; i++) {
          writes.push(s.create(`/c/k${i}`, String(i)));
          if (i % 3 === 0) writes.push(s.update(`/c/seed${i % 10}`, `u${i}`));
          if (i === 25) wLate = s.watch('/c/', base + 5, late.onEvent); // starts mid-stream
        }
        await Promise.all(writes);
        const last = await s.currentRevision();
        await early.waitFor(last - 3);
        await late.waitFor(last - base - 5);
        await settle();
        assertContiguous(early.revisions(), 3, last);
        assertContiguous(late.revisions(), base + 5, last);
        wEarly.cancel();
        (await wLate!).cancel();
      }));

      it('filters by prefix, in replay and live', withStore(async (s) => {
        await s.create('/other', 'x');
        const start = await s.currentRevision();
        await s.create('/registry/pods/default/a', 'a');
        await s.create('/registry/pods/default2/b', 'b');
        const r = recorder();
        const w = await s.watch('/registry/pods/default/', start, r.onEvent);
        await s.create('/registry/pods/default2/c', 'c');
        await s.create('/registry/pods/default', 'bare');
        await s.create('/registry/pods/default/d', 'd');
        await r.waitFor(2);
        await settle();
        assert.deepEqual(r.events.map((e) => e.kv.key), ['/registry/pods/default/a', '/registry/pods/default/d']);
        w.cancel();
      }));

      it('cancel stops delivery, is idempotent, and works from inside the callback', withStore(async (s) => {
        const r = recorder();
        const w = await s.watch('/x/', 0, r.onEvent);
        await s.create('/x/1', '1');
        await r.waitFor(1);
        w.cancel();
        w.cancel();
        await s.create('/x/2', '2');
        await settle();
        assert.equal(r.events.length, 1);

        // a watcher cancelling itself gets nothing more, even events already queued for it
        // (here by another watcher whose callback writes)
        const seen: number[] = [];
        const writer = await s.watch('/y/', 0, (ev) => {
          if (ev.kv.key === '/y/1') void s.create('/y/2', '2');
        });
        const self: { w?: Watcher } = {};
        self.w = await s.watch('/y/', 0, (ev) => {
          seen.push(ev.revision);
          self.w?.cancel();
        });
        await s.create('/y/1', '1');
        await until(() => seen.length > 0, 'the first event');
        await settle();
        assert.equal(await s.count('/y/'), 2);
        assert.equal(seen.length, 1, `got ${seen.join(',')}`);
        writer.cancel();
      }));

      it('a throwing callback does not break writes or other watchers', withStore(async (s) => {
        const bad = await s.watch('/t/', 0, () => {
          throw new Error('callback failure (expected by the test)');
        });
        const r = recorder();
        const good = await s.watch('/t/', 0, r.onEvent);
        const a = await s.create('/t/a', '1');
        const b = await s.update('/t/a', '2');
        await r.waitFor(2);
        assert.deepEqual(r.revisions(), [a.modRevision, b.modRevision]);
        assert.equal((await s.get('/t/a'))?.value, '2');
        bad.cancel();
        good.cancel();
      }));

      it('a watch from the current revision sees only later events', withStore(async (s) => {
        await s.create('/n/a', '1');
        const cur = await s.currentRevision();
        const r = recorder();
        const w = await s.watch('/n/', cur, r.onEvent);
        await settle();
        assert.equal(r.events.length, 0);
        const b = await s.create('/n/b', '2');
        await r.waitFor(1);
        assert.deepEqual(r.revisions(), [b.modRevision]);
        w.cancel();
      }));
    });

    describe('compaction', () => {
      it('rejects old lists and watches, keeps latest values, and never reuses revisions', withStore(async (s) => {
        const a1 = await s.create('/m/a', 'a1'); // 1
        const a2 = await s.update('/m/a', 'a2'); // 2
        await s.create('/m/b', 'b1'); // 3
        await s.delete('/m/b'); // 4
        const c1 = await s.create('/m/c', 'c1'); // 5
        const c2 = await s.update('/m/c', 'c2'); // 6
        const d1 = await s.create('/m/d', 'd1'); // 7
        const gone = await s.create('/m/gone', 'g'); // 8
        const goneDel = await s.delete('/m/gone'); // 9 (the newest row is a tombstone)
        assert.equal(a1.modRevision, R0 + 1);

        const C = c1.modRevision;
        assert.equal(await s.compact(C), C);
        assert.equal(await s.compactedRevision(), C);

        // below the compacted revision: Compacted, carrying the compacted revision
        await assert.rejects(s.list('/m/', { revision: C - 1 }), isStoreError('Compacted', C));
        await assert.rejects(s.list('/m/', { revision: 1 }), isStoreError('Compacted', C));
        await assert.rejects(s.watch('/m/', C - 2, () => {}), isStoreError('Compacted', C));
        await assert.rejects(s.watch('/m/', 1, () => {}), isStoreError('Compacted', C));

        // at the compacted revision and later: still exact
        const atC = await s.list('/m/', { revision: C });
        assert.deepEqual(atC.items, [a2, c1]);
        const atC1 = await s.list('/m/', { revision: c2.modRevision });
        assert.deepEqual(atC1.items, [a2, c2]);
        const r = recorder();
        const w = await s.watch('/m/', C - 1, r.onEvent);
        await r.waitFor(5);
        assertContiguous(r.revisions(), C - 1, goneDel.modRevision);
        assert.deepEqual(r.events[1], { type: 'MODIFIED', kv: c2, prev: c1, revision: c2.modRevision });
        w.cancel();

        // latest values survive
        assert.deepEqual(await s.get('/m/a'), a2);
        assert.equal(await s.get('/m/b'), undefined);
        assert.deepEqual((await s.list('/m/')).items, [a2, c2, d1]);
        assert.equal(await s.count('/m/'), 3);

        // compacting everything, including the newest row (a tombstone)
        const cur = await s.currentRevision();
        assert.equal(cur, goneDel.modRevision);
        assert.equal(await s.compact(cur + 100), cur, 'compaction is capped at the current revision');
        assert.equal(await s.compact(2), cur, 'compacting lower is a no-op');
        assert.equal(await s.compactedRevision(), cur);
        assert.deepEqual((await s.list('/m/')).items, [a2, c2, d1]);
        assert.equal(await s.get('/m/gone'), undefined);
        await assert.rejects(s.watch('/m/', cur - 2, () => {}), isStoreError('Compacted', cur));

        // revisions continue after compaction
        const r2 = recorder();
        const w2 = await s.watch('/m/', cur - 1, r2.onEvent); // oldest allowed watch start
        const again = await s.create('/m/gone', 'back');
        assert.equal(again.modRevision, cur + 1);
        assert.ok(again.modRevision > gone.modRevision);
        if (opts.compactionDropsTombstoneAtRevision) {
          await r2.waitFor(1);
          assert.deepEqual(r2.revisions(), [cur + 1]);
        } else {
          await r2.waitFor(2);
          assert.deepEqual(r2.revisions(), [cur, cur + 1]);
          assert.equal(r2.events[0]!.type, 'DELETED');
        }
        w2.cancel();
      }));
    });

    if (opts.persistent) {
      const persistent = opts.persistent;
      describe('persistence', () => {
        it('reopening keeps data, the revision counter and the compacted revision', async () => {
          const reopen = persistent();
          let s = await reopen();
          try {
            const a = await s.create('/registry/pods/default/a', '{"a":1}');
            const a2 = await s.update('/registry/pods/default/a', '{"a":2}');
            const b = await s.create('/registry/pods/default/b', '{"b":1}');
            await s.create('/registry/pods/default/tmp', 'x');
            const tmpDel = await s.delete('/registry/pods/default/tmp');
            await s.compact(b.modRevision);
            await s.close();

            s = await reopen();
            assert.equal(await s.currentRevision(), tmpDel.modRevision);
            assert.equal(await s.compactedRevision(), b.modRevision);
            assert.deepEqual(await s.get('/registry/pods/default/a'), a2);
            assert.deepEqual((await s.list('/registry/pods/default/')).items, [a2, b]);
            assert.deepEqual((await s.list('/registry/pods/', { revision: b.modRevision })).items, [a2, b]);
            await assert.rejects(s.list('/', { revision: a.modRevision }), isStoreError('Compacted', b.modRevision));
            const r = recorder();
            const w = await s.watch('/registry/', b.modRevision - 1, r.onEvent);
            await r.waitFor(3);
            assertContiguous(r.revisions(), b.modRevision - 1, tmpDel.modRevision);
            w.cancel();

            // compact away the newest row (a tombstone); the counter must still not go back
            const last = await s.delete('/registry/pods/default/b');
            await s.compact(last.modRevision);
            await s.close();

            s = await reopen();
            assert.equal(await s.currentRevision(), last.modRevision);
            assert.equal(await s.compactedRevision(), last.modRevision);
            const next = await s.create('/registry/pods/default/b', 'new');
            assert.equal(next.modRevision, last.modRevision + 1, 'a revision is never handed out twice');
            assert.deepEqual(keys((await s.list('/')).items), [
              '/registry/pods/default/a',
              '/registry/pods/default/b',
            ]);
          } finally {
            await s.close();
          }
        });
      });
    }
  });
}
