/**
 * The PersistentVolume controller, the local-path provisioner and the protection finalizers on
 * the memory store through the in-process client; the tests play the scheduler (the
 * selected-node annotation) and the kubelet (pods that finish).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync, symlinkSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { ownedDirName } from './local-path.js';
import { PersistentVolumeController } from './persistentvolume.js';
import { findMatchingVolume } from './volume-binding.js';
import { VolumeProtectionController } from './volume-protection.js';

const CLAIMS = resourceInfo('persistentvolumeclaims')!;
const VOLUMES = resourceInfo('persistentvolumes')!;
const CLASSES = resourceInfo('storageclasses', 'storage.k8s.io')!;
const EVENTS = resourceInfo('events')!;
const PODS = resourceInfo('pods')!;

const claim = (name: string, extra: Obj = {}): Obj => ({ metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...extra } });

async function world() {
  const dir = mkdtempSync(join(tmpdir(), 'podbay-pv-'));
  const reg = await memoryRegistry();
  const client = new LocalClient(reg);
  const log: string[] = [];
  const ctl = new PersistentVolumeController(client, { localPathDir: join(dir, 'storage'), nodeName: 'n1', log: (l) => log.push(l) });
  const protection = new VolumeProtectionController(client, { log: (l) => log.push(l) });
  await ctl.start();
  await protection.start();
  const claims = client.resource(CLAIMS);
  const volumes = client.resource(VOLUMES);
  const events = async (name: string) => (await client.resource(EVENTS).list('default')).items.filter((e) => e.involvedObject.name === name).map((e) => `${e.reason}: ${e.message}`);
  const stop = async () => {
    await ctl.stop();
    await protection.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, client, claims, volumes, events, stop, log };
}

describe('persistentvolume controller', () => {
  it('local-path: the default class; WaitForFirstConsumer until a node is selected, then a 0777 directory and a bound volume; Delete removes both', async () => {
    const w = await world();
    try {
      const sc = await w.client.resource(CLASSES).get(undefined, 'local-path');
      assert.equal(sc.provisioner, 'rancher.io/local-path');
      assert.equal(sc.volumeBindingMode, 'WaitForFirstConsumer');
      assert.equal(sc.reclaimPolicy, 'Delete');
      assert.equal(sc.metadata.annotations['storageclass.kubernetes.io/is-default-class'], 'true');

      // DefaultStorageClass admission and the protection finalizer
      const c = await w.claims.create('default', claim('data'));
      assert.equal(c.spec.storageClassName, 'local-path');
      assert.deepEqual(c.metadata.finalizers, ['kubernetes.io/pvc-protection']);
      await until('WaitForFirstConsumer', async () => (await w.events('data')).includes('WaitForFirstConsumer: waiting for first consumer to be created before binding'));
      assert.equal((await w.volumes.list(undefined)).items.length, 0);

      // the scheduler picks the node
      const now = await w.claims.get('default', 'data');
      await w.claims.update({ ...now, metadata: { ...now.metadata, annotations: { ...now.metadata.annotations, 'volume.kubernetes.io/selected-node': 'n1' } } });
      await until('Bound', async () => (await w.claims.get('default', 'data')).status?.phase === 'Bound');
      const bound = await w.claims.get('default', 'data');
      const pvName = `pvc-${c.metadata.uid}`;
      assert.equal(bound.spec.volumeName, pvName);
      assert.equal(bound.metadata.annotations['pv.kubernetes.io/bind-completed'], 'yes');
      assert.equal(bound.metadata.annotations['volume.kubernetes.io/storage-provisioner'], 'rancher.io/local-path');
      assert.deepEqual(bound.status.capacity, { storage: '1Gi' });
      await until('volume Bound', async () => (await w.volumes.get(undefined, pvName)).status?.phase === 'Bound');
      const pv = await w.volumes.get(undefined, pvName);
      const path = join(w.dir, 'storage', `${pvName}_default_data`);
      assert.deepEqual(pv.spec.hostPath, { path, type: 'DirectoryOrCreate' });
      assert.equal(pv.spec.claimRef.uid, c.metadata.uid);
      assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Delete');
      assert.deepEqual(pv.metadata.finalizers, ['kubernetes.io/pv-protection']);
      assert.equal(statSync(path).mode & 0o777, 0o777);
      const ev = await w.events('data');
      assert.ok(ev.includes(`Provisioning: External provisioner is provisioning volume for claim "default/data"`), ev.join('\n'));
      assert.ok(ev.includes(`ProvisioningSucceeded: Successfully provisioned volume ${pvName}`), ev.join('\n'));
      assert.ok(ev.some((e) => e.startsWith("ExternalProvisioning: Waiting for a volume to be created either by the external provisioner 'rancher.io/local-path'")), ev.join('\n'));

      // what a container wrote, a link to the host among it
      mkdirSync(join(w.dir, 'host'));
      writeFileSync(join(w.dir, 'host', 'keep'), 'host');
      writeFileSync(join(path, 'file'), 'x');
      symlinkSync(join(w.dir, 'host'), join(path, 'escape'));

      // a pod uses the claim: delete waits (Terminating) until the pod has finished
      const pod = await w.client.resource(PODS).create('default', { metadata: { name: 'user' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }] } });
      await w.claims.delete('default', 'data');
      await new Promise((r) => setTimeout(r, 150));
      assert.ok((await w.claims.get('default', 'data')).metadata.deletionTimestamp, 'kept while a pod uses it');
      assert.ok(existsSync(path));
      await w.client.resource(PODS).update({ ...pod, status: { ...pod.status, phase: 'Succeeded' } }, { sub: 'status' });
      await until('claim gone', async () => !(await w.claims.tryGet('default', 'data')));
      await until('volume gone', async () => !(await w.volumes.tryGet(undefined, pvName)));
      assert.equal(existsSync(path), false, 'the directory is removed');
      assert.equal(readFileSync(join(w.dir, 'host', 'keep'), 'utf8'), 'host', 'the link was not followed');
    } finally {
      await w.stop();
    }
  });

  it('static volumes: the smallest that fits; no class and nothing fits is FailedBinding; Retain leaves it Released', async () => {
    const w = await world();
    try {
      const pv = (name: string, size: string, extra: Obj = {}) => ({ metadata: { name, labels: { disk: name } }, spec: { capacity: { storage: size }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/srv/${name}` }, storageClassName: '', ...extra } });
      await w.volumes.create(undefined, pv('big', '10Gi'));
      await w.volumes.create(undefined, pv('small', '2Gi'));
      await w.volumes.create(undefined, pv('tiny', '100Mi'));
      await until('Available', async () => (await w.volumes.list(undefined)).items.every((v) => v.status?.phase === 'Available'));
      await w.claims.create('default', claim('want', { storageClassName: '' }));
      await until('Bound', async () => (await w.claims.get('default', 'want')).status?.phase === 'Bound');
      assert.equal((await w.claims.get('default', 'want')).spec.volumeName, 'small');
      await until('small Bound', async () => (await w.volumes.get(undefined, 'small')).status?.phase === 'Bound');
      assert.equal((await w.volumes.get(undefined, 'small')).metadata.annotations['pv.kubernetes.io/bound-by-controller'], 'yes');

      await w.claims.create('default', claim('huge', { storageClassName: '', resources: { requests: { storage: '50Gi' } } }));
      await until('FailedBinding', async () => (await w.events('huge')).includes('FailedBinding: no persistent volumes available for this claim and no storage class is set'));
      assert.equal((await w.claims.get('default', 'huge')).status.phase, 'Pending');

      // a selector picks by label
      await w.claims.create('default', claim('picky', { storageClassName: '', selector: { matchLabels: { disk: 'big' } } }));
      await until('picky Bound', async () => (await w.claims.get('default', 'picky')).spec.volumeName === 'big');

      await w.claims.delete('default', 'want');
      await until('Released', async () => (await w.volumes.get(undefined, 'small')).status?.phase === 'Released');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await w.volumes.get(undefined, 'small')).status.phase, 'Released', 'Retain keeps the volume');
    } finally {
      await w.stop();
    }
  });

  it('a Delete volume the provisioner did not make is Failed, never removed from disk', async () => {
    const w = await world();
    try {
      const outside = join(w.dir, 'precious');
      mkdirSync(outside);
      // the provisioner's annotation, but a path outside its directory
      await w.volumes.create(undefined, { metadata: { name: 'sneaky', annotations: { 'pv.kubernetes.io/provisioned-by': 'rancher.io/local-path' } }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: outside }, persistentVolumeReclaimPolicy: 'Delete', storageClassName: 'x', claimRef: { namespace: 'default', name: 'gone', uid: '00000000-0000-0000-0000-000000000000' } } });
      await until('Failed', async () => (await w.volumes.get(undefined, 'sneaky')).status?.phase === 'Failed');
      assert.match((await w.volumes.get(undefined, 'sneaky')).status.message, /is not a directory this provisioner made under/);
      assert.ok(existsSync(outside));
    } finally {
      await w.stop();
    }
  });

  it('matching rules: access modes, volume mode, a pre-bound volume first; owned directory names', () => {
    const c = { metadata: { name: 'c', namespace: 'd', uid: 'u1' }, spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } } };
    const v = (name: string, extra: Obj = {}) => ({ metadata: { name }, spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'], ...extra } });
    assert.equal(findMatchingVolume(c, [v('rwo')]), undefined);
    assert.equal(findMatchingVolume(c, [v('rwx', { accessModes: ['ReadWriteOnce', 'ReadWriteMany'] })])?.metadata.name, 'rwx');
    assert.equal(findMatchingVolume(c, [v('block', { accessModes: ['ReadWriteMany'], volumeMode: 'Block' })]), undefined);
    assert.equal(findMatchingVolume(c, [v('rwx', { accessModes: ['ReadWriteMany'] }), v('pre', { capacity: { storage: '1Ti' }, claimRef: { namespace: 'd', name: 'c' } })])?.metadata.name, 'pre');
    assert.equal(findMatchingVolume(c, [v('other', { accessModes: ['ReadWriteMany'], claimRef: { namespace: 'd', name: 'x' } })]), undefined);
    const uid = '0123abcd-0000-4000-8000-000000000000';
    assert.deepEqual(ownedDirName({ metadata: { name: `pvc-${uid}` }, spec: { hostPath: { path: `/s/pvc-${uid}_ns_c` } } }, '/s'), { name: `pvc-${uid}_ns_c` });
    assert.ok('refused' in ownedDirName({ metadata: { name: `pvc-${uid}` }, spec: { hostPath: { path: `/s/../etc` } } }, '/s'));
    assert.ok('refused' in ownedDirName({ metadata: { name: 'other' }, spec: { hostPath: { path: `/s/pvc-${uid}_ns_c` } } }, '/s'));
  });
});
