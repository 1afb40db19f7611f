/**
 * The informer on the memory store through the in-process client: list-then-watch, the cache and
 * its indexes, handlers, resync, and the relists client-go does (a 410 on re-watch, a watch ERROR).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { Informer, NAMESPACE_INDEX } from './informer.js';
import { LocalClient } from './local.js';
import type { Client, ResourceClient, WatchHandlers } from './types.js';

const CONFIGMAPS = resourceInfo('configmaps')!;
const NAMESPACES = resourceInfo('namespaces')!;

/** a client whose open watches the test can drop, as a lost connection would */
class DroppableClient implements Client {
  readonly open = new Set<WatchHandlers>();
  /** while set, a new watch waits for it (the connection is down) */
  gate?: Promise<void>;
  constructor(private readonly inner: Client) {}
  resource<T = Obj>(r: Parameters<Client['resource']>[0]): ResourceClient<T> {
    const res = this.inner.resource<T>(r);
    return {
      ...res,
      get: res.get.bind(res),
      tryGet: res.tryGet.bind(res),
      list: res.list.bind(res),
      create: res.create.bind(res),
      update: res.update.bind(res),
      patch: res.patch.bind(res),
      delete: res.delete.bind(res),
      watch: async (ns, q, h) => {
        await this.gate;
        const w = await res.watch(ns, q, h);
        this.open.add(h);
        return {
          cancel: () => {
            this.open.delete(h);
            w.cancel();
          },
        };
      },
    };
  }
  bind(ns: string, pod: string, node: string) {
    return this.inner.bind(ns, pod, node);
  }
  /** end every open watch as a closed connection (once one is open: an informer syncs before it watches) */
  async drop(): Promise<void> {
    await until('a watch open', () => this.open.size > 0);
    for (const h of [...this.open]) {
      this.open.delete(h);
      h.end?.(new Error('connection reset'));
    }
  }
}

function recorder() {
  const seen: string[] = [];
  return {
    seen,
    handlers: {
      add: (o: Obj) => seen.push(`add ${o.metadata.namespace}/${o.metadata.name}`),
      update: (old: Obj, o: Obj) => seen.push(`${old === o ? 'resync' : 'update'} ${o.metadata.namespace}/${o.metadata.name}`),
      delete: (o: Obj) => seen.push(`delete ${o.metadata.namespace}/${o.metadata.name}`),
    },
  };
}

describe('informer', () => {
  it('lists, then watches: the cache and handlers follow creates, updates and deletes; indexes by namespace and custom keys', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const cms = client.resource(CONFIGMAPS);
    await cms.create('default', { metadata: { name: 'a', labels: { app: 'web' } } });
    const inf = new Informer(client, CONFIGMAPS, { indexers: { app: (o) => (o.metadata.labels?.app ? [o.metadata.labels.app] : []) } });
    const rec = recorder();
    inf.addEventHandler(rec.handlers);
    assert.equal(inf.hasSynced(), false);
    await inf.start();
    assert.equal(inf.hasSynced(), true);
    assert.deepEqual(rec.seen, ['add default/a']);

    const b = await cms.create('kube-system', { metadata: { name: 'b', labels: { app: 'web' } } });
    await cms.update({ ...b, data: { x: '1' } });
    await cms.create('default', { metadata: { name: 'c', labels: { app: 'db' } } });
    await cms.delete('default', 'a');
    await until('four more events', () => rec.seen.length === 5);
    assert.deepEqual(rec.seen, ['add default/a', 'add kube-system/b', 'update kube-system/b', 'add default/c', 'delete default/a']);
    assert.deepEqual(inf.cache.keys().sort(), ['default/c', 'kube-system/b']);
    assert.deepEqual(inf.cache.getByName('kube-system', 'b')?.data, { x: '1' });
    assert.deepEqual(inf.cache.byIndex(NAMESPACE_INDEX, 'default').map((o) => o.metadata.name), ['c']);
    assert.deepEqual(inf.cache.byIndex('app', 'web').map((o) => o.metadata.name), ['b']);
    assert.deepEqual(inf.cache.byIndex('app', 'none'), []);
    // a late handler hears of what is there
    const late = recorder();
    inf.addEventHandler(late.handlers);
    assert.deepEqual(late.seen.sort(), ['add default/c', 'add kube-system/b']);
    inf.stop();
    await cms.create('default', { metadata: { name: 'after' } });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(inf.cache.getByName('default', 'after'), undefined, 'a stopped informer hears nothing');
  });

  it('a dropped watch resumes from the last resourceVersion without a relist', async () => {
    const reg = await memoryRegistry();
    const client = new DroppableClient(new LocalClient(reg));
    const inf = new Informer(client, CONFIGMAPS, { backoffMs: { initial: 10, max: 50 } });
    const rec = recorder();
    inf.addEventHandler(rec.handlers);
    await inf.start();
    await client.drop();
    await client.resource(CONFIGMAPS).create('default', { metadata: { name: 'while-away' } });
    await until('the object seen', () => rec.seen.includes('add default/while-away'));
    assert.equal(inf.lists, 1);
    inf.stop();
  });

  it('a re-watch from a compacted revision gets 410: the informer lists again and hands over the difference', async () => {
    const reg = await memoryRegistry();
    const client = new DroppableClient(new LocalClient(reg));
    const cms = client.resource(CONFIGMAPS);
    await cms.create('default', { metadata: { name: 'stays' } });
    await cms.create('default', { metadata: { name: 'goes' } });
    const changes = await cms.create('default', { metadata: { name: 'changes' } });
    const inf = new Informer(client, CONFIGMAPS, { backoffMs: { initial: 10, max: 50 } });
    const rec = recorder();
    inf.addEventHandler(rec.handlers);
    await inf.start();
    const before = inf.lastSyncResourceVersion();
    // the connection drops; meanwhile objects change and the history is compacted away
    let reconnect!: () => void;
    client.gate = new Promise((r) => (reconnect = r));
    await client.drop();
    await cms.delete('default', 'goes');
    await cms.update({ ...changes, data: { v: '2' } });
    await cms.create('default', { metadata: { name: 'new' } });
    await reg.store.compact(await reg.store.currentRevision());
    reconnect();
    await until('a second list', () => inf.lists === 2);
    await until('the difference handed over', () => rec.seen.length === 6);
    assert.deepEqual(rec.seen.slice(3).sort(), ['add default/new', 'delete default/goes', 'update default/changes']);
    assert.deepEqual(inf.cache.keys().sort(), ['default/changes', 'default/new', 'default/stays']);
    assert.ok(Number(inf.lastSyncResourceVersion()) > Number(before));
    // and it watches again after the relist
    await cms.create('default', { metadata: { name: 'later' } });
    await until('the next event', () => rec.seen.includes('add default/later'));
    inf.stop();
  });

  it('resync hands every cached object to update(obj, obj); a throwing handler does not stop the others', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const logged: string[] = [];
    const inf = new Informer(client, NAMESPACES, { resyncPeriodMs: 30, log: (l) => logged.push(l) });
    inf.addEventHandler({ add: () => { throw new Error('boom'); } });
    const rec = recorder();
    inf.addEventHandler(rec.handlers);
    await inf.start();
    assert.equal(rec.seen.filter((s) => s.startsWith('add')).length, 4, 'the four built-in namespaces (kube-node-lease too)');
    assert.equal(logged.filter((l) => /add handler failed: Error: boom/.test(l)).length, 4);
    await until('a resync', () => rec.seen.filter((s) => s.startsWith('resync')).length >= 3);
    inf.stop();
  });

  it('a list that fails is retried with backoff until it succeeds', async () => {
    const reg = await memoryRegistry();
    const inner = new LocalClient(reg);
    let failures = 2;
    const flaky: Client = {
      bind: inner.bind.bind(inner),
      resource: <T = Obj>(r: Parameters<Client['resource']>[0]) => {
        const res = inner.resource<T>(r);
        return Object.assign(Object.create(res), {
          list: (ns: string | undefined, q: object) => (failures-- > 0 ? Promise.reject(new Error('connection refused')) : res.list(ns, q)),
        }) as ResourceClient<T>;
      },
    };
    const logged: string[] = [];
    const inf = new Informer(flaky, NAMESPACES, { backoffMs: { initial: 5, max: 20 }, log: (l) => logged.push(l) });
    await inf.start();
    assert.equal(inf.lists, 3);
    assert.deepEqual(logged.map((l) => /retrying in (\d+) ms/.exec(l)?.[1]), ['5', '10']);
    assert.equal(inf.cache.list().length, 4);
    inf.stop();
  });
});
