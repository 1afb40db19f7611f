import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from './memory.js';
import { PrefixCache } from './prefix-cache.js';
import type { KeyValue, Store, WatchEvent } from './types.js';

const decode = (kv: KeyValue) => JSON.parse(kv.value) as { n: number };

test('a prefix copy lists once, then follows the watch: creates, updates and deletes, in key order, nothing outside the prefix', async () => {
  const store = new MemoryStore();
  await store.create('/registry/things/b', '{"n":2}');
  await store.create('/registry/other/x', '{"n":9}');
  const cache = new PrefixCache(store, '/registry/things/', decode);
  const c = await cache.ready();
  assert.ok(c);
  assert.deepEqual(c.values(), [{ n: 2 }]);
  await store.create('/registry/things/a', '{"n":1}');
  const upd = await store.update('/registry/things/b', '{"n":3}');
  await store.create('/registry/thingsmore/z', '{"n":7}');
  assert.deepEqual(c.values(), [{ n: 1 }, { n: 3 }]);
  assert.equal(c.revision, upd.modRevision);
  await store.delete('/registry/things/a');
  assert.deepEqual(c.values(), [{ n: 3 }]);
  assert.equal(c.get('/registry/things/a'), undefined);
  assert.deepEqual(c.get('/registry/things/b'), { n: 3 });
  cache.stop();
  assert.equal(await cache.ready(), undefined, 'a stopped copy sends its reader to the store');
});

test('waitFor resolves once the copy has the revision; a watch that ends on its own makes the copy list again', async () => {
  const inner = new MemoryStore();
  let endWatch: ((e: Error) => void) | undefined;
  let held: WatchEvent[] | undefined;
  let deliver: ((ev: WatchEvent) => void) | undefined;
  // a store whose watch can be held back (etcd's events arrive after the write answers) and ended
  const store: Store = Object.assign(Object.create(inner) as Store, {
    watch: (prefix: string, from: number, onEvent: (ev: WatchEvent) => void, onError?: (e: Error) => void) => {
      endWatch = onError;
      deliver = onEvent;
      return inner.watch(prefix, from, (ev) => (held ? held.push(ev) : onEvent(ev)));
    },
  });
  const cache = new PrefixCache(store, '/p/', decode);
  const c = (await cache.ready())!;
  held = [];
  const kv = await store.create('/p/a', '{"n":1}');
  assert.deepEqual(c.values(), []);
  let done = false;
  const waiting = c.waitFor(kv.modRevision).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(done, false, 'waits while the event is in flight');
  for (const ev of held.splice(0)) deliver!(ev);
  held = undefined;
  await waiting;
  assert.deepEqual(c.values(), [{ n: 1 }]);

  endWatch!(new Error('compacted'));
  await inner.create('/p/b', '{"n":2}');
  const again = await cache.ready();
  assert.ok(again, 'lists and watches again on next use');
  assert.deepEqual(again.values(), [{ n: 1 }, { n: 2 }]);
  cache.stop();
});
