/**
 * Several API servers on one store: each holds its identity Lease, and the `kubernetes`
 * Service's Endpoints list the live ones, written by every server without fighting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import { microTime } from '../client/leader-election.js';
import { memoryRegistry } from '../registry/registry.test-util.js';
import { ApiserverIdentityLease, identityLeaseName, liveApiserverAddresses } from './apiserver-identity.js';
import { BuiltinServicesController, kubernetesService } from './kubernetes-service.js';

const LEASES = resourceInfo('leases', 'coordination.k8s.io')!;
const ENDPOINTS = resourceInfo('endpoints')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io', 'v1')!;

describe('API server identity leases and the kubernetes Endpoints', () => {
  it('each server holds a labeled Lease named after its identity; the live ones are the Endpoints; a stopped one leaves, an expired one is left out', async () => {
    const client = new LocalClient(await memoryRegistry());
    const a = new ApiserverIdentityLease(client, { hostname: 'node1', port: 6443, address: '192.0.2.1' });
    const b = new ApiserverIdentityLease(client, { hostname: 'node1', port: 6444, address: '192.0.2.2' });
    const c = new ApiserverIdentityLease(client, { hostname: 'node1', port: 6445 });
    await Promise.all([a.start(), b.start(), c.start()]);
    assert.notEqual(a.name, b.name, 'two servers of one host have two identities');
    assert.equal(a.name, identityLeaseName('node1', 6443), 'the same server keeps its name across restarts');
    const lease = await client.resource(LEASES).get('kube-system', a.name);
    assert.equal(lease.metadata.labels['apiserver.kubernetes.io/identity'], 'kube-apiserver');
    assert.equal(lease.spec.holderIdentity, a.name);
    assert.equal(lease.spec.leaseDurationSeconds, 15);
    assert.deepEqual(await liveApiserverAddresses(client), ['192.0.2.1', '192.0.2.2'], 'a server with no advertise address is up but not an endpoint');

    const k1 = new BuiltinServicesController(client, [{ ...kubernetesService('10.43.0.1', '192.0.2.1', 6443), addresses: () => liveApiserverAddresses(client) }]);
    const k2 = new BuiltinServicesController(client, [{ ...kubernetesService('10.43.0.1', '192.0.2.2', 6443), addresses: () => liveApiserverAddresses(client) }]);
    // both at once: the loser of a write waits for the next round instead of failing
    await Promise.all([k1.reconcile(), k2.reconcile(), k1.reconcile(), k2.reconcile()]);
    await k1.reconcile();
    const rv = (await client.resource(ENDPOINTS).get('default', 'kubernetes')).metadata.resourceVersion;
    await Promise.all([k1.reconcile(), k2.reconcile()]);
    const eps = await client.resource(ENDPOINTS).get('default', 'kubernetes');
    assert.deepEqual(eps.subsets, [{ addresses: [{ ip: '192.0.2.1' }, { ip: '192.0.2.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
    assert.equal(eps.metadata.resourceVersion, rv, 'servers that agree do not rewrite it');
    const slice = await client.resource(SLICES).get('default', 'kubernetes');
    assert.deepEqual(slice.endpoints.map((e: any) => e.addresses[0]), ['192.0.2.1', '192.0.2.2']);

    // b stops cleanly: gone at once
    await b.stop();
    await k1.reconcile();
    assert.deepEqual((await client.resource(ENDPOINTS).get('default', 'kubernetes')).subsets[0].addresses, [{ ip: '192.0.2.1' }]);
    // a server that died: its lease is not renewed, and is left out once expired
    const dead = await client.resource(LEASES).get('kube-system', a.name);
    await client.resource(LEASES).update({ ...dead, spec: { ...dead.spec, renewTime: microTime(Date.now() - 16_000) } });
    assert.deepEqual(await liveApiserverAddresses(client), []);
    await a.stop();
    await c.stop();
  });
});
