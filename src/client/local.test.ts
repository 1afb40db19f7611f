/**
 * The in-process client writes as the component that holds it: its writes' managedFields name
 * that component (as kube-apiserver names client-go's by its User-Agent), never "".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import { memoryRegistry } from '../registry/registry.test-util.js';
import { LocalClient } from './local.js';

const CONFIGMAPS = resourceInfo('configmaps')!;
const DEPLOYMENTS = resourceInfo('deployments', 'apps')!;

const managers = (o: Obj) => (o.metadata?.managedFields ?? []).map((m: any) => `${m.manager} ${m.operation}${m.subresource ? ' ' + m.subresource : ''}`);

describe('LocalClient field manager', () => {
  it('create, update, patch and status writes are recorded under the client\'s name', async () => {
    const reg = await memoryRegistry();
    const kcm = new LocalClient(reg).as('kube-controller-manager');
    const cms = kcm.resource(CONFIGMAPS);
    await cms.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { x: '1' } });
    const patched = await cms.patch('default', 'a', 'application/merge-patch+json', { data: { y: '2' } });
    assert.deepEqual(managers(patched), ['kube-controller-manager Update']);

    const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } };
    const created = await new LocalClient(reg).as('helm').resource(DEPLOYMENTS).create('default', deploy);
    const withStatus = await kcm.resource(DEPLOYMENTS).update({ ...created, status: { observedGeneration: 1, replicas: 0 } }, { sub: 'status' });
    assert.deepEqual(managers(withStatus), ['helm Update', 'kube-controller-manager Update status']);
  });

  it('a write\'s own fieldManager wins; a client with no name stays as it was', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const own = await client.as('kube-controller-manager').resource(CONFIGMAPS).create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' }, data: { x: '1' } }, { fieldManager: 'endpointslice-controller' });
    assert.deepEqual(managers(own), ['endpointslice-controller Update']);
    const plain = await client.resource(CONFIGMAPS).create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { x: '1' } });
    assert.deepEqual(managers(plain), [' Update']);
  });
});

describe('LocalClient watch objects', () => {
  it('read-only watchers (the informers) share one deep-frozen object per change, but the first to get it, which decodes its own; any other watcher gets its own', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const cms = client.resource(CONFIGMAPS);
    const seen: Record<string, Obj[]> = { first: [], b: [], c: [], own: [] };
    const rv = (await cms.list('default')).metadata.resourceVersion;
    const start = (name: string, readOnly: boolean) => cms.watch('default', { resourceVersion: rv }, { event: (ev) => seen[name]!.push(ev.object), readOnly });
    const watches = [await start('first', true), await start('own', false), await start('b', true), await start('c', true)];
    try {
      await cms.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shared' }, data: { x: '1' } });
      const [first, b, c, own] = [seen.first![0]!, seen.b![0]!, seen.c![0]!, seen.own![0]!];
      assert.equal(b, c, 'one object for the later read-only watchers');
      assert.ok(Object.isFrozen(b) && Object.isFrozen(b.metadata) && Object.isFrozen(b.data));
      assert.throws(() => {
        b.data.x = '2';
      }, TypeError);
      for (const mine of [first, own]) {
        assert.notEqual(mine, b);
        assert.ok(!Object.isFrozen(mine));
        mine.data.x = 'mine';
      }
      assert.deepEqual({ ...b.data }, { x: '1' });
      assert.equal(b.metadata.resourceVersion, own.metadata.resourceVersion);
      assert.equal(b.metadata.resourceVersion, first.metadata.resourceVersion);
      assert.equal(b.kind, 'ConfigMap');
    } finally {
      for (const w of watches) w.cancel();
    }
  });
});
