import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../store/memory.js';
import { Registry } from './index.js';
import { resourceInfo } from '../api/registry.js';
import { apiError } from './registry.test-util.js';
import { IpRange, PortRange } from './allocators.js';

const SERVICES = resourceInfo('services')!;

async function registry(range = '10.43.0.0/29', ports = '30000-30002') {
  const reg = new Registry(new MemoryStore(), { services: { clusterIPRange: range, nodePortRange: ports } });
  await reg.bootstrap();
  return reg;
}

const svc = (name: string, spec: Record<string, unknown> = {}) => ({ metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } });

test('ranges: network and broadcast are never handed out; a full range says so', () => {
  const r = new IpRange('10.43.0.0/30');
  assert.equal(r.first(), '10.43.0.1');
  const got = [r.any(), r.any()].sort();
  assert.deepEqual(got, ['10.43.0.1', '10.43.0.2']);
  assert.throws(() => r.any(), /RangeFull|range/i);
  assert.throws(() => new IpRange('10.43.0.0/31'), /between \/8 and \/30/);
  assert.throws(() => PortRange.parse('32767-30000'), /first not above the last/);
});

test('a Service gets a cluster IP from the range, a NodePort Service its node ports; both come back on delete', async () => {
  const reg = await registry();
  const a = await reg.create(SERVICES, 'default', svc('a'));
  assert.match(a.spec.clusterIP, /^10\.43\.0\.[1-6]$/);
  assert.deepEqual(a.spec.clusterIPs, [a.spec.clusterIP]);
  assert.deepEqual(a.spec.ipFamilies, ['IPv4']);
  assert.equal(a.spec.ipFamilyPolicy, 'SingleStack');
  const np = await reg.create(SERVICES, 'default', svc('np', { type: 'NodePort', ports: [{ port: 80, name: 'http' }, { port: 443, name: 'https' }] }));
  const nodePorts = np.spec.ports.map((p: any) => p.nodePort);
  assert.ok(nodePorts.every((p: number) => p >= 30000 && p <= 30002), String(nodePorts));
  assert.notEqual(nodePorts[0], nodePorts[1]);

  // the taken IP and port are refused with kube-apiserver's words
  const dupIP = await apiError(reg.create(SERVICES, 'default', svc('dup', { clusterIP: a.spec.clusterIP })));
  assert.equal(dupIP.code, 422);
  assert.equal(dupIP.message, `Service "dup" is invalid: spec.clusterIPs[0]: Invalid value: "${a.spec.clusterIP}": failed to allocate IP ${a.spec.clusterIP}: provided IP is already allocated`);
  const outside = await apiError(reg.create(SERVICES, 'default', svc('out', { clusterIP: '10.96.0.5' })));
  assert.match(outside.message, /the provided IP \(10\.96\.0\.5\) is not in the valid range\. The range of valid IPs is 10\.43\.0\.0\/29/);
  const dupPort = await apiError(reg.create(SERVICES, 'default', svc('dupport', { type: 'NodePort', ports: [{ port: 80, nodePort: nodePorts[0] }] })));
  assert.match(dupPort.message, new RegExp(`spec.ports\\[0\\].nodePort: Invalid value: ${nodePorts[0]}: provided port is already allocated`));
  const badPort = await apiError(reg.create(SERVICES, 'default', svc('badport', { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] })));
  assert.match(badPort.message, /provided port is not in the valid range\. The range of valid ports is 30000-30002/);
  // a failed create took nothing: the last node port is still free for a valid one
  const third = await reg.create(SERVICES, 'default', svc('third', { type: 'NodePort' }));
  assert.ok(!nodePorts.includes(third.spec.ports[0].nodePort));
  const full = await apiError(reg.create(SERVICES, 'default', svc('full', { type: 'NodePort' })));
  assert.equal(full.code, 500);
  assert.match(full.message, /range is full/);

  await reg.delete(SERVICES, 'default', 'np');
  const again = await reg.create(SERVICES, 'default', svc('again', { type: 'NodePort', ports: [{ port: 80, nodePort: nodePorts[0] }] }));
  assert.equal(again.spec.ports[0].nodePort, nodePorts[0]);
});

test('headless and ExternalName Services get no IP; an update without clusterIP or nodePort keeps them; a type change releases', async () => {
  const reg = await registry();
  const headless = await reg.create(SERVICES, 'default', svc('h', { clusterIP: 'None' }));
  assert.deepEqual(headless.spec.clusterIPs, ['None']);
  const ext = await reg.create(SERVICES, 'default', { metadata: { name: 'e' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } });
  assert.equal(ext.spec.clusterIP, undefined);

  const np = await reg.create(SERVICES, 'default', svc('np', { type: 'NodePort' }));
  const port = np.spec.ports[0].nodePort;
  // as kubectl apply of a manifest that names neither
  const body = structuredClone(np);
  delete body.spec.clusterIP;
  delete body.spec.clusterIPs;
  delete body.spec.ports[0].nodePort;
  body.metadata.labels = { touched: 'yes' };
  const kept = await reg.update(SERVICES, 'default', 'np', body);
  assert.equal(kept.spec.clusterIP, np.spec.clusterIP);
  assert.equal(kept.spec.ports[0].nodePort, port);

  const toClusterIP = structuredClone(kept);
  toClusterIP.spec.type = 'ClusterIP';
  delete toClusterIP.spec.externalTrafficPolicy;
  delete toClusterIP.spec.ports[0].nodePort;
  const changed = await reg.update(SERVICES, 'default', 'np', toClusterIP);
  assert.equal(changed.spec.ports[0].nodePort, undefined);
  const reuse = await reg.create(SERVICES, 'default', svc('reuse', { type: 'NodePort', ports: [{ port: 80, nodePort: port }] }));
  assert.equal(reuse.spec.ports[0].nodePort, port, 'the port NodePort -> ClusterIP gave back is free again');
});

test('allocations are rebuilt from the store by a new registry (a restart)', async () => {
  const store = new MemoryStore();
  const first = new Registry(store, { services: { clusterIPRange: '10.43.0.0/30', nodePortRange: '30000-30001' } });
  await first.bootstrap();
  const a = await first.create(SERVICES, 'default', svc('a'));
  const second = new Registry(store, { services: { clusterIPRange: '10.43.0.0/30', nodePortRange: '30000-30001' } });
  const b = await second.create(SERVICES, 'default', svc('b'));
  assert.notEqual(b.spec.clusterIP, a.spec.clusterIP);
  const c = await apiError(second.create(SERVICES, 'default', svc('c')));
  assert.match(c.message, /range is full/);
});

test('servers sharing a store (sharedStore): what one hands out the other does not, even when it started first', async () => {
  const store = new MemoryStore();
  const opts = { services: { clusterIPRange: '10.43.0.0/29', nodePortRange: '30000-30002' }, sharedStore: true };
  const one = new Registry(store, opts);
  const two = new Registry(store, opts);
  await one.bootstrap();
  // both have loaded their allocators before either made a Service
  const warm = [await one.create(SERVICES, 'default', svc('warm-1')), await two.create(SERVICES, 'default', svc('warm-2'))];
  // an address neither warm-up Service drew (they draw at random)
  const held = new Set([...warm.map((s) => s.spec.clusterIP), ...(await one.list(SERVICES, '')).items.map((s: any) => s.spec.clusterIP)]);
  const free = ['10.43.0.6', '10.43.0.5', '10.43.0.4', '10.43.0.3', '10.43.0.2'].find((x) => !held.has(x))!;
  const a = await one.create(SERVICES, 'default', svc('a', { clusterIP: free, type: 'NodePort', ports: [{ port: 80, nodePort: 30001 }] }));
  assert.equal(a.spec.clusterIP, free);
  const ip = await apiError(two.create(SERVICES, 'default', svc('b', { clusterIP: free })));
  assert.match(ip.message, new RegExp(`spec\\.clusterIPs\\[0\\]: Invalid value: "${free.replaceAll('.', '\\.')}": failed to allocate IP ${free.replaceAll('.', '\\.')}: provided IP is already allocated`));
  const port = await apiError(two.create(SERVICES, 'default', svc('c', { type: 'NodePort', ports: [{ port: 80, nodePort: 30001 }] })));
  assert.match(port.message, /provided port is already allocated/);
  // the range has 6 addresses (.1-.6): .1-.6 minus what is held; every one handed out is distinct
  const ips = new Set([a.spec.clusterIP, ...(await one.list(SERVICES, 'default')).items.map((s: any) => s.spec.clusterIP)]);
  for (const [i, reg] of [one, two, one].entries()) {
    const s = await reg.create(SERVICES, 'default', svc(`more-${i}`));
    assert.ok(!ips.has(s.spec.clusterIP), `${s.spec.clusterIP} handed out twice`);
    ips.add(s.spec.clusterIP);
  }
});
