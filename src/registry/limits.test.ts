import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { MAX_OBJECT_BYTES } from './index.js';
import { apiError, memoryRegistry } from './registry.test-util.js';

const PODS = resourceInfo('pods')!;
const CONFIGMAPS = resourceInfo('configmaps')!;


describe('Registry limits', () => {
  it('an object over 1.5 MiB is refused with 413 and not stored; at the limit it is stored', async () => {
    const svc = await memoryRegistry();
    const pod = (name: string, size: number) => ({
      metadata: { name },
      spec: { containers: [{ name: 'c', image: 'busybox', env: [{ name: 'A', value: 'x'.repeat(size) }] }] },
    });
    const err = await apiError(svc.create(PODS, 'default', pod('big', MAX_OBJECT_BYTES)));
    assert.equal(err.code, 413);
    assert.equal(err.reason, 'RequestEntityTooLarge');
    assert.equal(err.message, 'Request entity too large: etcdserver: request is too large');
    assert.equal(await svc.tryGet(PODS, 'default', 'big'), undefined);
    await svc.create(PODS, 'default', pod('small', MAX_OBJECT_BYTES - 4096));
    // an update that grows it past the limit is refused too, and the stored object stays
    const before = await svc.get(PODS, 'default', 'small');
    const grown = structuredClone(before);
    grown.spec.containers[0].image = 'x'.repeat(8192);
    const upd = await apiError(svc.update(PODS, 'default', 'small', grown));
    assert.equal(upd.code, 413);
    assert.equal((await svc.get(PODS, 'default', 'small')).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  it('a pod stored with a wrongly typed grace period (before typed decoding) is still deletable', async () => {
    const svc = await memoryRegistry();
    const store = svc.store;
    const bad = {
      metadata: { name: 'old', namespace: 'default', uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z' },
      spec: { nodeName: 'node', terminationGracePeriodSeconds: 'abc', containers: [{ name: 'c', image: 'i', command: 'ls' }] },
      status: { phase: 'Running' },
    };
    await store.create('/registry/pods/default/old', JSON.stringify(bad));
    const out = await svc.delete(PODS, 'default', 'old');
    assert.equal(out.gone, false);
    assert.equal(out.object.metadata.deletionGracePeriodSeconds, 30);
    const gone = await svc.delete(PODS, 'default', 'old', { gracePeriodSeconds: 0 });
    assert.equal(gone.gone, true);
  });

  it('a resourceVersion that is not an integer is 400, naming the field', async () => {
    const svc = await memoryRegistry();
    await svc.create(CONFIGMAPS, 'default', { metadata: { name: 'cm' } });
    const err = await apiError(svc.update(CONFIGMAPS, 'default', 'cm', { metadata: { name: 'cm', resourceVersion: 'abc' } }));
    assert.equal(err.code, 400);
    assert.equal(err.details?.causes?.[0]?.field, 'metadata.resourceVersion');
    const list = await apiError(svc.list(CONFIGMAPS, 'default', { resourceVersion: '1.5' }));
    assert.equal(list.message, 'invalid resource version: resourceVersion: Invalid value: "1.5": strconv.ParseUint: parsing "1.5": invalid syntax');
  });
});
