/**
 * The garbage collector on the memory store: background, orphan and foreground deletion
 * (blockOwnerDeletion dependents first), an object with a surviving owner kept, the API side's
 * finalizers for each propagation policy, and orphans found at start.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import type { Registry } from '../registry/index.js';
import { GarbageCollector } from './garbage-collector.js';
import { SharedInformers } from './informers.js';

const CM = resourceInfo('configmaps')!;
const RC = resourceInfo('replicationcontrollers')!;
const DEPLOY = resourceInfo('deployments', 'apps')!;

const ref = (o: Obj, block = false) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata.name, uid: o.metadata.uid, ...(block ? { blockOwnerDeletion: true } : {}) });

async function withGc(fn: (reg: Registry, client: LocalClient) => Promise<void>, reg?: Registry): Promise<void> {
  reg ??= await memoryRegistry();
  const client = new LocalClient(reg);
  const informers = new SharedInformers(client);
  const logs: string[] = [];
  const gc = new GarbageCollector(client, informers, { log: (l) => logs.push(l) });
  await gc.start();
  try {
    await fn(reg, client);
    assert.deepEqual(logs.filter((l) => /retrying/.test(l)), [], 'no failed syncs');
  } finally {
    await gc.stop();
    informers.stop();
  }
}

const cm = (client: LocalClient, name: string, meta: Obj = {}) => client.resource(CM).create('default', { metadata: { name, ...meta } });
const exists = async (reg: Registry, name: string) => !!(await reg.tryGet(CM, 'default', name));

describe('garbage collector', () => {
  it('background: the owner goes at once, its dependents after', async () => {
    await withGc(async (reg, client) => {
      const owner = await cm(client, 'owner');
      await cm(client, 'a', { ownerReferences: [ref(owner)] });
      await cm(client, 'b', { ownerReferences: [ref(owner)] });
      const gone = await client.resource(CM).delete('default', 'owner', { propagationPolicy: 'Background' });
      assert.equal(gone.metadata.finalizers, undefined);
      assert.ok(!(await exists(reg, 'owner')));
      await until('dependents deleted', async () => !(await exists(reg, 'a')) && !(await exists(reg, 'b')));
    });
  });

  it('keeps a dependent another owner still holds, dropping the gone owner', async () => {
    await withGc(async (reg, client) => {
      const o1 = await cm(client, 'o1');
      const o2 = await cm(client, 'o2');
      await cm(client, 'shared', { ownerReferences: [ref(o1), ref(o2)] });
      await client.resource(CM).delete('default', 'o1');
      await until('reference dropped', async () => (await reg.get(CM, 'default', 'shared')).metadata.ownerReferences?.length === 1);
      assert.equal((await reg.get(CM, 'default', 'shared')).metadata.ownerReferences[0].name, 'o2');
    });
  });

  it('orphan: the owner waits with the orphan finalizer while its dependents are let go', async () => {
    await withGc(async (reg, client) => {
      const owner = await cm(client, 'owner');
      await cm(client, 'a', { ownerReferences: [ref(owner)] });
      const marked = await client.resource(CM).delete('default', 'owner', { propagationPolicy: 'Orphan' });
      assert.deepEqual(marked.metadata.finalizers, ['orphan']);
      assert.ok(marked.metadata.deletionTimestamp);
      await until('owner gone', async () => !(await exists(reg, 'owner')));
      const a = await reg.get(CM, 'default', 'a');
      assert.equal(a.metadata.ownerReferences, undefined, 'the dependent stays, its reference removed');
    });
  });

  it('foreground: dependents with blockOwnerDeletion go first, then the owner', async () => {
    await withGc(async (reg, client) => {
      const owner = await cm(client, 'owner');
      const child = await cm(client, 'child', { ownerReferences: [ref(owner, true)], finalizers: ['example.com/hold'] });
      await cm(client, 'grandchild', { ownerReferences: [ref(child, true)] });
      const marked = await client.resource(CM).delete('default', 'owner', { propagationPolicy: 'Foreground' });
      assert.deepEqual(marked.metadata.finalizers, ['foregroundDeletion']);
      await until('grandchild deleted first', async () => !(await exists(reg, 'grandchild')));
      await until('child marked', async () => !!(await reg.get(CM, 'default', 'child')).metadata.deletionTimestamp);
      await new Promise((r) => setTimeout(r, 100));
      const o = await reg.get(CM, 'default', 'owner');
      assert.ok(o.metadata.deletionTimestamp, 'the owner waits for its blocking dependent');
      await client.resource(CM).patch('default', 'child', 'application/merge-patch+json', { metadata: { finalizers: null } });
      await until('child gone', async () => !(await exists(reg, 'child')));
      await until('owner gone', async () => !(await exists(reg, 'owner')));
    });
  });

  it('a cluster-scoped dependent of a namespaced owner has no valid owner: collected, as kube does', async () => {
    await withGc(async (reg, client) => {
      const owner = await cm(client, 'owner');
      const SC = resourceInfo('storageclasses', 'storage.k8s.io')!;
      await client.resource(SC).create(undefined, { metadata: { name: 'owned', ownerReferences: [ref(owner)] }, provisioner: 'example.com/x' });
      await until('collected', async () => !(await reg.tryGet(SC, undefined, 'owned')));
      assert.ok(await exists(reg, 'owner'));
    });
  });

  it('collects dependents whose owner vanished while it was not running', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const owner = await cm(client, 'owner');
    await cm(client, 'left', { ownerReferences: [ref(owner)] });
    await reg.delete(CM, 'default', 'owner');
    await withGc(async () => {
      await until('the orphan collected', async () => !(await exists(reg, 'left')));
    }, reg);
  });
});

describe('delete propagation (API side)', () => {
  it('sets the finalizers as kube-apiserver does, with each kind default', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const rc = { metadata: { name: 'rc' }, spec: { replicas: 0, selector: { a: 'b' }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } };
    await client.resource(RC).create('default', rc);
    // core/v1 ReplicationController orphans by default
    assert.deepEqual((await client.resource(RC).delete('default', 'rc')).metadata.finalizers, ['orphan']);
    const d = { metadata: { name: 'd' }, spec: { replicas: 0, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } };
    await client.resource(DEPLOY).create('default', d);
    const gone = await reg.delete(DEPLOY, 'default', 'd');
    assert.equal(gone.gone, true, 'apps/v1 defaults to background: gone at once');
    await cm(client, 'x');
    assert.deepEqual((await client.resource(CM).delete('default', 'x', { orphanDependents: true })).metadata.finalizers, ['orphan']);
    // a later delete with another policy swaps the finalizer
    assert.deepEqual((await client.resource(CM).delete('default', 'x', { propagationPolicy: 'Foreground' })).metadata.finalizers, ['foregroundDeletion']);
  });
});
