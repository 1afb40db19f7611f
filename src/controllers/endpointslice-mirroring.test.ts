import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { EndpointSliceMirroringController, mirroredSlices, mirrors } from './endpointslice-mirroring.js';

const SERVICES = resourceInfo('services')!;
const ENDPOINTS = resourceInfo('endpoints')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io', 'v1')!;

test('which Endpoints are mirrored, and into what', () => {
  const ep = { metadata: { name: 'db', labels: {} }, subsets: [] };
  assert.equal(mirrors({ spec: {} }, ep), true);
  assert.equal(mirrors({ spec: { selector: { app: 'db' } } }, ep), false, 'the endpoints controller keeps a selector Service\'s slices');
  assert.equal(mirrors(undefined, ep), false, 'no Service');
  assert.equal(mirrors({ spec: {} }, { metadata: { labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } } }), false);
  const slices = mirroredSlices({
    metadata: { name: 'db' },
    subsets: [
      { addresses: [{ ip: '192.0.2.10', hostname: 'a' }, { ip: '2001:db8::1' }], notReadyAddresses: [{ ip: '192.0.2.11', nodeName: 'n1' }], ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] },
      { addresses: [{ ip: '192.0.2.12' }], ports: [{ port: 80 }] },
    ],
  });
  assert.deepEqual(slices, [
    { addressType: 'IPv4', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }], endpoints: [{ addresses: ['192.0.2.10'], conditions: { ready: true }, hostname: 'a' }, { addresses: ['192.0.2.11'], conditions: { ready: false }, nodeName: 'n1' }] },
    { addressType: 'IPv6', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }], endpoints: [{ addresses: ['2001:db8::1'], conditions: { ready: true } }] },
    { addressType: 'IPv4', ports: [{ name: '', port: 80, protocol: 'TCP' }], endpoints: [{ addresses: ['192.0.2.12'], conditions: { ready: true } }] },
  ]);
});

test('a selector-less Service\'s hand-written Endpoints get a mirrored slice, kept in step and removed with them', async () => {
  const reg = await memoryRegistry();
  const ctl = new EndpointSliceMirroringController(new LocalClient(reg), { resyncPeriodMs: 0 });
  await ctl.start();
  try {
    await reg.create(SERVICES, 'default', { metadata: { name: 'ext' }, spec: { ports: [{ port: 8080 }] } });
    const ep = await reg.create(ENDPOINTS, 'default', {
      metadata: { name: 'ext', labels: { team: 'x' }, annotations: { note: 'y', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
      subsets: [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 8080 }] }],
    });
    const slicesOf = async () => (await reg.list(SLICES, 'default', { labelSelector: 'kubernetes.io/service-name=ext' })).items;
    await until('mirrored', async () => (await slicesOf()).length === 1);
    const [s] = await slicesOf();
    assert.match(s.metadata.name, /^ext-[a-z0-9]{5}$/);
    assert.deepEqual(s.metadata.labels, { team: 'x', 'kubernetes.io/service-name': 'ext', 'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io' });
    assert.deepEqual(s.metadata.annotations, { note: 'y' });
    assert.deepEqual(s.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Endpoints', name: 'ext', uid: ep.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual([s.addressType, s.endpoints, s.ports], ['IPv4', [{ addresses: ['192.0.2.10'], conditions: { ready: true } }], [{ name: '', port: 8080, protocol: 'TCP' }]]);
    // a new address
    await reg.update(ENDPOINTS, 'default', 'ext', { ...(await reg.get(ENDPOINTS, 'default', 'ext')), subsets: [{ addresses: [{ ip: '192.0.2.10' }, { ip: '192.0.2.11' }], ports: [{ port: 8080 }] }] });
    await until('two endpoints', async () => (await slicesOf())[0]?.endpoints.length === 2);
    // the Service gets a selector: the endpoints controller's business now, the mirror goes
    const svc = await reg.get(SERVICES, 'default', 'ext');
    await reg.update(SERVICES, 'default', 'ext', { ...svc, spec: { ...svc.spec, selector: { app: 'x' } } });
    await until('mirror gone', async () => (await slicesOf()).length === 0);
  } finally {
    await ctl.stop();
  }
});
