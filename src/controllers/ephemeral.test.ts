import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { EphemeralVolumeController } from './ephemeral.js';

const PODS = resourceInfo('pods')!;
const CLAIMS = resourceInfo('persistentvolumeclaims')!;

test('a generic ephemeral volume gets the claim <pod>-<volume> owned by the pod; a claim of that name it does not own is left alone', async () => {
  const client = new LocalClient(await memoryRegistry());
  const ctl = new EphemeralVolumeController(client);
  await ctl.start();
  try {
    const tpl = { metadata: { labels: { kind: 'scratch' } }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
    const spec = (vol: string) => ({ containers: [{ name: 'c', image: 'busybox:1.36' }], volumes: [{ name: vol, ephemeral: { volumeClaimTemplate: tpl } }] });
    const pod = await client.resource(PODS).create('default', { metadata: { name: 'app' }, spec: spec('scratch') });
    await until('claim made', async () => Boolean(await client.resource(CLAIMS).tryGet('default', 'app-scratch')));
    const claim = await client.resource(CLAIMS).get('default', 'app-scratch');
    assert.deepEqual(claim.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Pod', name: 'app', uid: pod.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(claim.metadata.labels, { kind: 'scratch' });
    assert.deepEqual(claim.spec.resources, { requests: { storage: '1Gi' } });

    await client.resource(CLAIMS).create('default', { metadata: { name: 'other-data' }, spec: tpl.spec });
    await client.resource(PODS).create('default', { metadata: { name: 'other' }, spec: spec('data') });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await client.resource(CLAIMS).get('default', 'other-data')).metadata.ownerReferences, undefined);
  } finally {
    await ctl.stop();
  }
});
