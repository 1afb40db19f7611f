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

const SMP = 'application/strategic-merge-patch+json';

test('what a type does not allow is refused before anything is taken: None on NodePort/LoadBalancer, a cluster IP on ExternalName', async () => {
  const reg = await registry('10.43.0.0/29', '30000-30000');
  for (const type of ['NodePort', 'LoadBalancer']) {
    const e = await apiError(reg.create(SERVICES, 'default', svc('h', { type, clusterIP: 'None' })));
    assert.equal(e.code, 422);
    assert.equal(e.message, `Service "h" is invalid: spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for ${type} services`);
    assert.deepEqual(e.details?.causes, [{ reason: 'FieldValueInvalid', message: `Invalid value: "None": may not be set to 'None' for ${type} services`, field: 'spec.clusterIPs[0]' }]);
  }
  const ext = await apiError(reg.create(SERVICES, 'default', { metadata: { name: 'e' }, spec: { type: 'ExternalName', externalName: 'a.b', clusterIP: '10.43.0.3' } }));
  assert.equal(ext.message, 'Service "e" is invalid: spec.clusterIPs: Forbidden: may not be set for ExternalName services');
  assert.equal((await reg.list(SERVICES, 'default')).items.length, 0);
  // the one node port and 10.43.0.3 are still free
  const np = await reg.create(SERVICES, 'default', svc('np', { type: 'NodePort', clusterIP: '10.43.0.3' }));
  assert.equal(np.spec.ports[0].nodePort, 30000);
});

test('a change to ExternalName clears and releases the cluster IP, node ports and health-check port; back to ClusterIP allocates again', async () => {
  const reg = await registry('10.43.0.0/29', '30000-30002');
  const lb = await reg.create(SERVICES, 'default', svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
  const ip = lb.spec.clusterIP;
  const held = [lb.spec.ports[0].nodePort, lb.spec.healthCheckNodePort];
  assert.equal(held.length, 2);
  // as `kubectl patch svc lb -p '{"spec":{"type":"ExternalName","externalName":"a.b"}}'`
  const ext = await reg.patch(SERVICES, 'default', 'lb', SMP, JSON.stringify({ spec: { type: 'ExternalName', externalName: 'a.b' } }));
  for (const k of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy', 'healthCheckNodePort', 'allocateLoadBalancerNodePorts', 'externalTrafficPolicy']) assert.equal(ext.spec[k], undefined, k);
  assert.equal(ext.spec.ports[0].nodePort, undefined);
  const stored = await reg.get(SERVICES, 'default', 'lb');
  assert.equal(stored.spec.clusterIP, undefined);
  // what it held is free: another Service takes the IP and both node ports
  const other = await reg.create(SERVICES, 'default', svc('other', { type: 'NodePort', clusterIP: ip, ports: [{ port: 80, name: 'a', nodePort: held[0] }, { port: 81, name: 'b', nodePort: held[1] }] }));
  assert.equal(other.spec.clusterIP, ip);
  // and back: a fresh IP, not the one now taken
  const back = await reg.patch(SERVICES, 'default', 'lb', SMP, JSON.stringify({ spec: { type: 'ClusterIP', externalName: null } }));
  assert.match(back.spec.clusterIP, /^10\.43\.0\.[1-6]$/);
  assert.notEqual(back.spec.clusterIP, ip);
  assert.deepEqual(back.spec.clusterIPs, [back.spec.clusterIP]);
});

test('a cluster IP written out on a change to ExternalName is released too; one the client changes itself is refused', async () => {
  const reg = await registry();
  const a = await reg.create(SERVICES, 'default', svc('a', { type: 'NodePort' }));
  // an IP other than the one the allocator picked (at random in the /29) for `a`
  const mine = a.spec.clusterIP === '10.43.0.5' ? '10.43.0.6' : '10.43.0.5';
  const changed = await apiError(reg.patch(SERVICES, 'default', 'a', SMP, JSON.stringify({ spec: { type: 'ExternalName', externalName: 'a.b', clusterIP: mine, clusterIPs: [mine] } })));
  assert.equal(changed.message, 'Service "a" is invalid: spec.clusterIPs: Forbidden: may not be set for ExternalName services');
  assert.equal((await reg.get(SERVICES, 'default', 'a')).spec.type, 'NodePort', 'nothing stored');
  // as a `kubectl apply` of an ExternalName manifest: no clusterIP in the body
  const body = structuredClone(a);
  body.spec = { type: 'ExternalName', externalName: 'a.b', ports: [{ port: 80 }], clusterIP: '', clusterIPs: null };
  const ext = await reg.update(SERVICES, 'default', 'a', body);
  assert.equal(ext.spec.clusterIP, undefined);
  const again = await reg.create(SERVICES, 'default', svc('b', { clusterIP: a.spec.clusterIP, type: 'NodePort', ports: [{ port: 80, nodePort: a.spec.ports[0].nodePort }] }));
  assert.equal(again.spec.clusterIP, a.spec.clusterIP);
});

test('a patch of clusterIPs alone is refused as kube-apiserver refuses it, and nothing is stored', async () => {
  const reg = await registry();
  const a = await reg.create(SERVICES, 'default', svc('a'));
  const other = a.spec.clusterIP === '10.43.0.6' ? '10.43.0.5' : '10.43.0.6';
  const e = await apiError(reg.patch(SERVICES, 'default', 'a', SMP, JSON.stringify({ spec: { clusterIPs: [other] } }), { fieldManager: 'kubectl-patch' }));
  assert.equal(e.code, 422);
  assert.equal(
    e.message,
    `Service "a" is invalid: [spec.clusterIPs[0]: Invalid value: []string{"${other}"}: may not change once set, spec.clusterIPs: Invalid value: []string{"${other}"}: first value must match \`clusterIP\`]`,
  );
  const stored = await reg.get(SERVICES, 'default', 'a');
  assert.equal(stored.metadata.resourceVersion, a.metadata.resourceVersion);
  assert.ok(!JSON.stringify(stored.metadata.managedFields).includes('kubectl-patch'));
  // clusterIP alone: clusterIPs follows it, and the change is refused the same way
  const single = await apiError(reg.patch(SERVICES, 'default', 'a', SMP, JSON.stringify({ spec: { clusterIP: other } })));
  assert.equal(single.message, `Service "a" is invalid: spec.clusterIPs[0]: Invalid value: []string{"${other}"}: may not change once set`);
  // the other address was never taken
  assert.equal((await reg.create(SERVICES, 'default', svc('b', { clusterIP: other }))).spec.clusterIP, other);
});
