import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRules, extChain, sepChain, svcChain, svlChain, type ServiceInfo } from './rules.js';
import { conntrackFlushes } from './conntrack.js';
import { healthResponse } from './healthcheck.js';
import { endpointsBySlices, healthCheckWants, serviceInfo } from './proxier.js';

const lb = (over: Partial<ServiceInfo> = {}): ServiceInfo => ({
  namespace: 'default',
  name: 'web',
  clusterIP: '10.43.0.20',
  type: 'LoadBalancer',
  ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }],
  sessionAffinity: 'None',
  affinityTimeoutSeconds: 10800,
  externalIPs: [],
  loadBalancerIPs: ['127.0.0.51'],
  ...over,
});
const spn = 'default/web:http';

test('externalTrafficPolicy Cluster: the LB IP goes through the EXT chain, masqueraded, to every endpoint', () => {
  const eps = new Map([[spn, [{ ip: '10.85.0.5', port: 8080, local: true }]]]);
  const lines = buildRules({ services: [lb()], endpoints: eps, clusterCIDR: '10.85.0.0/16', tag: '' }).text.split('\n');
  const ext = extChain(spn, 'TCP', '');
  assert.ok(lines.includes(`-A KUBE-SERVICES -d 127.0.0.51/32 -m comment --comment "${spn} loadbalancer IP" -p tcp -m tcp --dport 80 -j ${ext}`));
  assert.ok(lines.includes(`-A ${ext} -m comment --comment "masquerade traffic for ${spn} external destinations" -j KUBE-MARK-MASQ`));
  assert.ok(lines.includes(`-A ${ext} -j ${svcChain(spn, 'TCP', '')}`));
  assert.ok(!lines.some((l) => l.includes('KUBE-SVL-')));
});

test('externalTrafficPolicy Local: pods and the host reach all endpoints, the rest only local ones without masquerade', () => {
  const eps = new Map([[spn, [{ ip: '10.85.0.5', port: 8080, local: true }, { ip: '10.85.0.6', port: 8080 }]]]);
  const { text, natChains } = buildRules({ services: [lb({ externalPolicyLocal: true })], endpoints: eps, clusterCIDR: '10.85.0.0/16', tag: '' });
  const lines = text.split('\n');
  const ext = extChain(spn, 'TCP', '');
  const svl = svlChain(spn, 'TCP', '');
  const svc = svcChain(spn, 'TCP', '');
  assert.deepEqual(lines.filter((l) => l.startsWith(`-A ${ext} `)), [
    `-A ${ext} -s 10.85.0.0/16 -m comment --comment "pod traffic for ${spn} external destinations" -j ${svc}`,
    `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ${spn} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
    `-A ${ext} -m comment --comment "route LOCAL traffic for ${spn} external destinations" -m addrtype --src-type LOCAL -j ${svc}`,
    `-A ${ext} -j ${svl}`,
  ]);
  assert.ok(natChains.includes(svl));
  assert.deepEqual(lines.filter((l) => l.startsWith(`-A ${svl} `)), [`-A ${svl} -m comment --comment "${spn} -> 10.85.0.5:8080" -j ${sepChain(spn, 'TCP', '10.85.0.5:8080', '')}`]);
  // no local endpoint: external traffic is dropped (kube-proxy's "has no local endpoints")
  const none = new Map([[spn, [{ ip: '10.85.0.6', port: 8080 }]]]);
  const r = buildRules({ services: [lb({ externalPolicyLocal: true })], endpoints: none, clusterCIDR: '10.85.0.0/16', tag: '' }).text.split('\n');
  assert.ok(!r.some((l) => l.includes(svl)));
  assert.ok(r.includes(`-A KUBE-EXTERNAL-SERVICES -d 127.0.0.51/32 -m comment --comment "${spn} has no local endpoints" -p tcp -m tcp --dport 80 -j DROP`));
  assert.ok(r.includes(`-A KUBE-EXTERNAL-SERVICES -m comment --comment "${spn} has no local endpoints" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -j DROP`));
});

test('endpoints on this node are local; serviceInfo reads the policy; health check wants count local endpoints', () => {
  const slice = { metadata: { namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: ['10.85.0.5'], nodeName: 'n1' }, { addresses: ['10.85.0.6'], nodeName: 'n2' }] };
  const eps = endpointsBySlices([slice], 'n1');
  assert.deepEqual(eps.get(spn), [{ ip: '10.85.0.5', port: 8080, local: true }, { ip: '10.85.0.6', port: 8080 }]);
  const svcObj = { metadata: { namespace: 'default', name: 'web' }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30999, clusterIP: '10.43.0.20', ports: [{ name: 'http', port: 80 }] } };
  assert.equal(serviceInfo(svcObj).externalPolicyLocal, true);
  assert.equal(serviceInfo({ ...svcObj, spec: { ...svcObj.spec, type: 'ClusterIP' } }).externalPolicyLocal, false);
  assert.deepEqual(healthCheckWants([svcObj], eps), [{ namespace: 'default', name: 'web', port: 30999, localEndpoints: 1 }]);
  assert.deepEqual(healthCheckWants([{ ...svcObj, spec: { ...svcObj.spec, externalTrafficPolicy: 'Cluster' } }], eps), []);
});

test("the health check answers as kube-proxy's: 200 with local endpoints, 503 without", () => {
  const ok = healthResponse({ namespace: 'default', name: 'web', localEndpoints: 2 });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['X-Load-Balancing-Endpoint-Weight'], '2');
  assert.deepEqual(JSON.parse(ok.body), { service: { namespace: 'default', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true });
  assert.equal(healthResponse({ namespace: 'default', name: 'web', localEndpoints: 0 }).status, 503);
});

test('UDP conntrack: a gone endpoint and a first endpoint flush their flows; TCP and unchanged ports do not', () => {
  const dns = lb({ type: 'NodePort', loadBalancerIPs: [], ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }, { name: 'tcp', port: 53, protocol: 'TCP', nodePort: 30054 }] });
  const before = { services: [dns], endpoints: new Map([['default/web:dns', [{ ip: '10.85.0.5', port: 53 }, { ip: '10.85.0.6', port: 53 }]], ['default/web:tcp', [{ ip: '10.85.0.5', port: 53 }]]]) };
  const after = { services: [dns], endpoints: new Map([['default/web:dns', [{ ip: '10.85.0.6', port: 53 }]], ['default/web:tcp', []]]) };
  assert.deepEqual(conntrackFlushes(before, after), [
    ['-D', '-p', 'udp', '--orig-dst', '10.43.0.20', '--dst-nat', '10.85.0.5'],
    ['-D', '-p', 'udp', '--orig-port-dst', '30053', '--dst-nat', '10.85.0.5'],
  ]);
  assert.deepEqual(conntrackFlushes(after, after), []);
  assert.deepEqual(conntrackFlushes(undefined, after), []);
  const empty = { services: [dns], endpoints: new Map() };
  assert.deepEqual(conntrackFlushes(empty, after), [
    ['-D', '-p', 'udp', '--orig-dst', '10.43.0.20', '--orig-port-dst', '53'],
    ['-D', '-p', 'udp', '--orig-port-dst', '30053'],
  ]);
});

test('a partial restore writes only the chains that changed: one endpoint added is its service chain and one new endpoint chain', async () => {
  const { restoreText } = await import('./rules.js');
  const svc2 = lb({ name: 'other', clusterIP: '10.43.0.21', loadBalancerIPs: [] , type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
  const one = new Map([[spn, [{ ip: '10.85.0.5', port: 8080 }]], ['default/other:http', [{ ip: '10.85.0.9', port: 8080 }]]]);
  const two = new Map([[spn, [{ ip: '10.85.0.5', port: 8080 }, { ip: '10.85.0.6', port: 8080 }]], ['default/other:http', [{ ip: '10.85.0.9', port: 8080 }]]]);
  const a = buildRules({ services: [lb(), svc2], endpoints: one, clusterCIDR: '10.85.0.0/16', tag: '' });
  const b = buildRules({ services: [lb(), svc2], endpoints: two, clusterCIDR: '10.85.0.0/16', tag: '' });
  const declared = (text: string) => text.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1, l.indexOf(' ')));
  const added = restoreText(b.tables, a.tables, false);
  assert.deepEqual(declared(added), [svcChain(spn, 'TCP', ''), sepChain(spn, 'TCP', '10.85.0.6:8080', '')]);
  assert.ok(added.split('\n').filter((l) => l.startsWith('-A ')).every((l) => l.startsWith(`-A ${svcChain(spn, 'TCP', '')} `) || l.startsWith(`-A ${sepChain(spn, 'TCP', '10.85.0.6:8080', '')} `)));
  // removed again: the service chain rewritten, the endpoint's chain flushed and deleted after it
  const removed = restoreText(a.tables, b.tables, false);
  assert.deepEqual(declared(removed), [svcChain(spn, 'TCP', ''), sepChain(spn, 'TCP', '10.85.0.6:8080', '')]);
  assert.match(removed, new RegExp(`-X ${sepChain(spn, 'TCP', '10.85.0.6:8080', '')}\nCOMMIT`));
  assert.equal(restoreText(a.tables, a.tables, false), '*nat\nCOMMIT\n*filter\nCOMMIT\n', 'nothing changed, nothing written');
  // full: every chain
  assert.equal(declared(restoreText(b.tables, a.tables, true)).length, b.natChains.length + b.filterChains.length);
});

test('internalTrafficPolicy Local: the cluster IP goes to the local endpoints only, or is dropped without one', () => {
  const cip = (over: Partial<ServiceInfo>) => lb({ type: 'ClusterIP', loadBalancerIPs: [], ports: [{ name: 'http', port: 80, protocol: 'TCP' }], internalPolicyLocal: true, ...over });
  const eps = new Map([[spn, [{ ip: '10.85.0.5', port: 8080, local: true }, { ip: '10.85.0.6', port: 8080 }]]]);
  const { text, natChains } = buildRules({ services: [cip({})], endpoints: eps, clusterCIDR: '10.85.0.0/16', tag: '' });
  const lines = text.split('\n');
  const svl = svlChain(spn, 'TCP', '');
  assert.ok(lines.includes(`-A KUBE-SERVICES -d 10.43.0.20/32 -m comment --comment "${spn} cluster IP" -p tcp -m tcp --dport 80 -j ${svl}`));
  assert.ok(!lines.some((l) => l.startsWith('-A KUBE-SERVICES ') && l.includes(`-j ${svcChain(spn, 'TCP', '')}`)));
  assert.ok(natChains.includes(svl));
  assert.deepEqual(lines.filter((l) => l.startsWith(`-A ${svl} `)).length, 1);
  const remote = new Map([[spn, [{ ip: '10.85.0.6', port: 8080 }]]]);
  const r = buildRules({ services: [cip({})], endpoints: remote, clusterCIDR: '10.85.0.0/16', tag: '' }).text.split('\n');
  assert.ok(r.includes(`-A KUBE-SERVICES -d 10.43.0.20/32 -m comment --comment "${spn} has no local endpoints" -p tcp -m tcp --dport 80 -j DROP`));
  assert.equal(serviceInfo({ metadata: { namespace: 'default', name: 'web' }, spec: { internalTrafficPolicy: 'Local', ports: [] } }).internalPolicyLocal, true);
});

test('sessionAffinityConfig.clientIP.timeoutSeconds is the affinity window of the recent match', () => {
  const s = serviceInfo({ metadata: { namespace: 'default', name: 'web' }, spec: { clusterIP: '10.43.0.20', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 42 } }, ports: [{ name: 'http', port: 80 }] } });
  assert.equal(s.affinityTimeoutSeconds, 42);
  const text = buildRules({ services: [s], endpoints: new Map([[spn, [{ ip: '10.85.0.5', port: 8080 }]]]), clusterCIDR: '10.85.0.0/16', tag: '' }).text;
  assert.match(text, /--rcheck --seconds 42 --reap -j KUBE-SEP-/);
});
