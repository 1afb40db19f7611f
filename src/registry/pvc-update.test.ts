/**
 * PersistentVolumeClaim updates as kube-apiserver takes them: the spec is immutable but for a
 * bound claim's storage request (ValidatePersistentVolumeClaimUpdate), a smaller request never
 * at or below status.capacity, and a larger one only for a bound claim whose StorageClass allows
 * expansion (the PersistentVolumeClaimResize admission).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceInfo } from '../api/registry.js';
import { ApiError } from '../api/errors.js';
import { memoryRegistry } from './registry.test-util.js';

const PVCS = resourceInfo('persistentvolumeclaims')!;
const CLASSES = resourceInfo('storageclasses', 'storage.k8s.io')!;

async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return { code: e.code, message: e.message };
    throw e;
  }
  assert.fail('the update was taken');
}

test('a claim\'s spec is immutable until bound; then its storage may grow where the class allows it, and shrink only above its capacity', async () => {
  const reg = await memoryRegistry();
  await reg.create(CLASSES, undefined, { metadata: { name: 'grows' }, provisioner: 'example.com/x', allowVolumeExpansion: true });
  await reg.create(CLASSES, undefined, { metadata: { name: 'fixed' }, provisioner: 'example.com/x' });
  const claim = (name: string, cls: string) => ({ metadata: { name }, spec: { storageClassName: cls, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
  const withSize = (o: any, storage: string) => ({ ...o, spec: { ...o.spec, resources: { requests: { storage } } } });

  // Pending: nothing in the spec may change, the request neither
  let a = await reg.create(PVCS, 'default', claim('a', 'grows'));
  let r = await refusal(reg.update(PVCS, 'default', 'a', withSize(a, '2Gi')));
  assert.equal(r.code, 422);
  assert.match(r.message, /spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims/);

  // Bound (by the PV controller's status write) with 1Gi: it may grow, not change anything else
  a = await reg.update(PVCS, 'default', 'a', { ...a, status: { phase: 'Bound', capacity: { storage: '1Gi' } } }, { sub: 'status' });
  a = await reg.update(PVCS, 'default', 'a', withSize(a, '3Gi'));
  assert.equal(a.spec.resources.requests.storage, '3Gi');
  r = await refusal(reg.update(PVCS, 'default', 'a', { ...a, spec: { ...a.spec, accessModes: ['ReadWriteMany'] } }));
  assert.equal(r.code, 422);
  // back down, but not to what the volume has
  a = await reg.update(PVCS, 'default', 'a', withSize(a, '2Gi'));
  r = await refusal(reg.update(PVCS, 'default', 'a', withSize(a, '1Gi')));
  assert.match(r.message, /spec.resources.requests.storage: Forbidden: field can not be less than status.capacity/);

  // a class without allowVolumeExpansion: 403 from the resize admission
  let b = await reg.create(PVCS, 'default', claim('b', 'fixed'));
  b = await reg.update(PVCS, 'default', 'b', { ...b, status: { phase: 'Bound', capacity: { storage: '1Gi' } } }, { sub: 'status' });
  r = await refusal(reg.update(PVCS, 'default', 'b', withSize(b, '2Gi')));
  assert.deepEqual(r, { code: 403, message: 'persistentvolumeclaims "b" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize' });
  // an unchanged request passes the admission (labels, say)
  await reg.update(PVCS, 'default', 'b', { ...b, metadata: { ...b.metadata, labels: { x: 'y' } } });
});
