/**
 * The namespace controller on the memory store through the in-process client: a deleted
 * namespace is emptied (a bound pod gracefully, for its node) and then removed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { NamespaceController, updateConditions } from './namespace.js';

const PODS = resourceInfo('pods')!;
const CONFIGMAPS = resourceInfo('configmaps')!;
const NAMESPACES = resourceInfo('namespaces')!;

describe('namespace controller', () => {
  it('empties a terminating namespace, waits for its pods, then finalizes it', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const logged: string[] = [];
    const ctl = new NamespaceController(client, { log: (l) => logged.push(l) });
    await ctl.start();
    try {
      const nss = client.resource(NAMESPACES);
      await nss.create(undefined, { metadata: { name: 'scratch' } });
      await client.resource(CONFIGMAPS).create('scratch', { metadata: { name: 'inside' } });
      await client.resource(CONFIGMAPS).create('scratch', { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
      await client.resource(PODS).create('scratch', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
      await client.bind('scratch', 'p', 'n1');
      await client.resource(CONFIGMAPS).create('default', { metadata: { name: 'elsewhere' } });

      await nss.delete(undefined, 'scratch');
      await until('the config map deleted', async () => !(await reg.tryGet(CONFIGMAPS, 'scratch', 'inside')));
      const p = await reg.get(PODS, 'scratch', 'p');
      assert.ok(p.metadata.deletionTimestamp, 'the bound pod is deleted gracefully, for its node to stop');
      const held = await reg.get(CONFIGMAPS, 'scratch', 'held');
      assert.ok(held.metadata.deletionTimestamp, 'an object with a finalizer is marked and waits');
      await new Promise((r) => setTimeout(r, 150));
      assert.ok(await reg.tryGet(NAMESPACES, undefined, 'scratch'), 'the namespace waits for its contents');

      // the node confirms the pod stopped; the finalizer's owner lets go
      await client.resource(PODS).delete('scratch', 'p', { gracePeriodSeconds: 0 });
      await client.resource(CONFIGMAPS).patch('scratch', 'held', 'application/merge-patch+json', { metadata: { finalizers: null } });
      await until('the namespace gone', async () => !(await reg.tryGet(NAMESPACES, undefined, 'scratch')));
      assert.ok(await reg.tryGet(CONFIGMAPS, 'default', 'elsewhere'), 'other namespaces are untouched');
      assert.deepEqual(logged, []);
    } finally {
      await ctl.stop();
    }
  });

  it('finalizes namespaces found terminating when it starts (a restart mid-deletion)', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    await client.resource(NAMESPACES).create(undefined, { metadata: { name: 'left' } });
    await client.resource(CONFIGMAPS).create('left', { metadata: { name: 'x' } });
    await client.resource(NAMESPACES).delete(undefined, 'left');
    const ctl = new NamespaceController(client);
    await ctl.start();
    try {
      await until('the namespace gone', async () => !(await reg.tryGet(NAMESPACES, undefined, 'left')));
    } finally {
      await ctl.stop();
    }
  });

  it('reports what holds a terminating namespace in its status conditions, as the upstream deleter words them', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const ctl = new NamespaceController(client);
    await ctl.start();
    try {
      await client.resource(NAMESPACES).create(undefined, { metadata: { name: 'stuck' } });
      await client.resource(CONFIGMAPS).create('stuck', { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
      await client.resource(NAMESPACES).delete(undefined, 'stuck');
      const conditions = async () => ((await reg.get(NAMESPACES, undefined, 'stuck')).status?.conditions ?? []).map((c: any) => [c.type, c.status, c.reason, c.message]);
      await until('the conditions written', async () => (await conditions()).length === 5);
      assert.deepEqual(await conditions(), [
        ['NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered', 'All resources successfully discovered'],
        ['NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'],
        ['NamespaceDeletionContentFailure', 'False', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'],
        ['NamespaceContentRemaining', 'True', 'SomeResourcesRemain', 'Some resources are remaining: configmaps. has 1 resource instances'],
        ['NamespaceFinalizersRemaining', 'True', 'SomeFinalizersRemain', 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances'],
      ]);
      const ns = await reg.get(NAMESPACES, undefined, 'stuck');
      assert.equal(ns.status.phase, 'Terminating');
      assert.ok(ns.status.conditions.every((c: any) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(c.lastTransitionTime)));
      await client.resource(CONFIGMAPS).patch('stuck', 'held', 'application/merge-patch+json', { metadata: { finalizers: null } });
      await until('the namespace gone', async () => !(await reg.tryGet(NAMESPACES, undefined, 'stuck')));
    } finally {
      await ctl.stop();
    }
  });

  it('updateConditions: the ok variant for what is not reported; the transition time moves only when the status flips', () => {
    const status: any = { phase: 'Terminating' };
    const remain = { type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: 'Some resources are remaining: pods. has 2 resource instances' };
    assert.equal(updateConditions(status, [remain], 't1'), true);
    assert.equal(updateConditions(status, [remain], 't2'), false, 'nothing changed, nothing to write');
    assert.equal(updateConditions(status, [{ ...remain, message: 'Some resources are remaining: pods. has 1 resource instances' }], 't3'), true);
    let c = status.conditions.find((x: any) => x.type === 'NamespaceContentRemaining');
    assert.deepEqual([c.lastTransitionTime, c.message], ['t1', 'Some resources are remaining: pods. has 1 resource instances']);
    assert.equal(updateConditions(status, [], 't4'), true);
    c = status.conditions.find((x: any) => x.type === 'NamespaceContentRemaining');
    assert.deepEqual([c.status, c.reason, c.message, c.lastTransitionTime], ['False', 'ContentRemoved', 'All content successfully removed', 't4']);
    assert.equal(status.conditions.find((x: any) => x.type === 'NamespaceDeletionDiscoveryFailure').lastTransitionTime, 't1');
  });
});
