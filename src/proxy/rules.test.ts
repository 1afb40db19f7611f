import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRules, chainNames, sepChain, servicePortName, svcChain, tagFor, type ServiceInfo } from './rules.js';
import { endpointsBySlices, serviceInfo } from './proxier.js';

const svc = (over: Partial<ServiceInfo> = {}): ServiceInfo => ({
  namespace: 'default',
  name: 'web',
  clusterIP: '10.43.0.20',
  type: 'ClusterIP',
  ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
  sessionAffinity: 'None',
  affinityTimeoutSeconds: 10800,
  externalIPs: [],
  loadBalancerIPs: [],
  ...over,
});

test('chain names are kube-proxy\'s for the default bridge and tagged for another', () => {
  assert.equal(tagFor('podbay0'), '');
  assert.match(tagFor('pbsvc0'), /^[A-Z2-7]{4}$/);
  assert.equal(chainNames('').services, 'KUBE-SERVICES');
  assert.equal(chainNames('ABCD').postrouting, 'KUBE-POSTROUTING-ABCD');
  assert.match(svcChain('default/web:http', 'TCP', ''), /^KUBE-SVC-[A-Z2-7]{16}$/);
  assert.notEqual(svcChain('default/web:http', 'TCP', ''), svcChain('default/web:http', 'TCP', 'ABCD'));
  assert.equal(servicePortName({ namespace: 'ns', name: 's' }, ''), 'ns/s');
});

test('a service with two endpoints: one random pick each, DNAT per endpoint, hairpin masquerade', () => {
  const eps = new Map([['default/web:http', [{ ip: '10.85.0.5', port: 8080 }, { ip: '10.85.0.6', port: 8080 }]]]);
  const { text, natChains } = buildRules({ services: [svc()], endpoints: eps, clusterCIDR: '10.85.0.0/16', tag: '' });
  const svcName = svcChain('default/web:http', 'TCP', '');
  const sep5 = sepChain('default/web:http', 'TCP', '10.85.0.5:8080', '');
  const sep6 = sepChain('default/web:http', 'TCP', '10.85.0.6:8080', '');
  const lines = text.split('\n');
  assert.ok(lines.includes(`-A KUBE-SERVICES -d 10.43.0.20/32 -m comment --comment "default/web:http cluster IP" -p tcp -m tcp --dport 80 -j ${svcName}`));
  assert.ok(lines.includes(`-A ${svcName} ! -s 10.85.0.0/16 -d 10.43.0.20/32 -m comment --comment "default/web:http cluster IP" -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ`));
  assert.ok(lines.includes(`-A ${svcName} -m comment --comment "default/web:http -> 10.85.0.5:8080" -m statistic --mode random --probability 0.5000000000 -j ${sep5}`));
  assert.ok(lines.includes(`-A ${svcName} -m comment --comment "default/web:http -> 10.85.0.6:8080" -j ${sep6}`));
  assert.ok(lines.includes(`-A ${sep5} -s 10.85.0.5/32 -m comment --comment default/web:http -j KUBE-MARK-MASQ`));
  assert.ok(lines.includes(`-A ${sep5} -p tcp -m comment --comment default/web:http -m tcp -j DNAT --to-destination 10.85.0.5:8080`));
  assert.equal(lines.filter((l) => l.startsWith('-A KUBE-SERVICES')).pop(), '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  assert.ok(natChains.includes(sep6));
  assert.ok(!text.includes('REJECT'));
});

test('what reaches the service range untranslated is refused there', () => {
  const { text } = buildRules({ services: [], endpoints: new Map(), clusterCIDR: '10.85.0.0/16', serviceCIDR: '10.43.0.0/16', tag: '' });
  assert.match(text, /-A KUBE-SERVICES -d 10\.43\.0\.0\/16 -m comment --comment "no service port answers at this address" -j REJECT --reject-with icmp-port-unreachable/);
});

test('no endpoints: REJECT in filter, nothing in nat; a NodePort rejects on its node port too', () => {
  const { text } = buildRules({ services: [svc({ type: 'NodePort', ports: [{ name: '', port: 80, protocol: 'TCP', nodePort: 30080 }] })], endpoints: new Map(), clusterCIDR: '10.85.0.0/16', tag: '' });
  assert.match(text, /-A KUBE-SERVICES -d 10\.43\.0\.20\/32 -m comment --comment "default\/web has no endpoints" -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable/);
  assert.match(text, /-A KUBE-EXTERNAL-SERVICES -m comment --comment "default\/web has no endpoints" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -j REJECT/);
  assert.doesNotMatch(text, /KUBE-SVC-/);
});

test('NodePort and LoadBalancer IPs go through KUBE-EXT; ClientIP affinity uses -m recent; stale chains are deleted', () => {
  const eps = new Map([['default/web', [{ ip: '10.85.0.5', port: 80 }]]]);
  const s = svc({ type: 'LoadBalancer', ports: [{ name: '', port: 80, protocol: 'TCP', nodePort: 31000 }], loadBalancerIPs: ['192.0.2.10'], sessionAffinity: 'ClientIP', affinityTimeoutSeconds: 60 });
  const first = buildRules({ services: [s], endpoints: eps, clusterCIDR: '10.85.0.0/16', tag: 'ABCD' });
  assert.match(first.text, /-A KUBE-NODEPORTS-ABCD -m comment --comment default\/web -p tcp -m tcp --dport 31000 -j KUBE-EXT-/);
  assert.match(first.text, /-A KUBE-SERVICES-ABCD -d 192\.0\.2\.10\/32 -m comment --comment "default\/web loadbalancer IP" -p tcp -m tcp --dport 80 -j KUBE-EXT-/);
  assert.match(first.text, /-m recent --name KUBE-SEP-\w+ --mask 255\.255\.255\.255 --rsource --rcheck --seconds 60 --reap/);
  const second = buildRules({ services: [], endpoints: new Map(), clusterCIDR: '10.85.0.0/16', tag: 'ABCD' }, { nat: first.natChains, filter: first.filterChains });
  for (const ch of first.natChains.filter((c) => c.startsWith('KUBE-SVC') || c.startsWith('KUBE-SEP') || c.startsWith('KUBE-EXT'))) {
    assert.ok(second.text.includes(`:${ch} - [0:0]`) && second.text.includes(`-X ${ch}`), `stale ${ch} is flushed and deleted`);
  }
});

test('endpoints come from ready slice endpoints by port name; headless and ExternalName get no rules', () => {
  const slices = [
    {
      metadata: { namespace: 'default', name: 'web-x', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.85.0.6'], conditions: { ready: true } },
        { addresses: ['10.85.0.5'], conditions: { ready: true } },
        { addresses: ['10.85.0.7'], conditions: { ready: false } },
      ],
    },
  ];
  assert.deepEqual(endpointsBySlices(slices).get('default/web:http'), [
    { ip: '10.85.0.5', port: 8080 },
    { ip: '10.85.0.6', port: 8080 },
  ]);
  const headless = serviceInfo({ metadata: { namespace: 'd', name: 'h' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } });
  const { text } = buildRules({ services: [headless], endpoints: new Map(), clusterCIDR: '10.85.0.0/16', tag: '' });
  assert.doesNotMatch(text, /d\/h/);
});

test("linkedChains: a tagged server's chains, a crashed run's left-over SEP/SVC chains included, never another server's", async () => {
  const { linkedChains } = await import('./rules.js');
  const save = [
    ':KUBE-SERVICES-AB12 - [0:0]',
    ':KUBE-MARK-MASQ-AB12 - [0:0]',
    ':KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]',
    ':KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]',
    ':KUBE-SEP-CCCCCCCCCCCCCCCC - [0:0]',
    ':KUBE-SVC-DDDDDDDDDDDDDDDD - [0:0]',
    ':KUBE-SEP-EEEEEEEEEEEEEEEE - [0:0]',
    ':KUBE-MARK-MASQ-ZZ99 - [0:0]',
    '-A KUBE-SERVICES-AB12 -d 10.43.0.1/32 -j KUBE-SVC-AAAAAAAAAAAAAAAA',
    '-A KUBE-SVC-AAAAAAAAAAAAAAAA -j KUBE-SEP-BBBBBBBBBBBBBBBB',
    '-A KUBE-SEP-BBBBBBBBBBBBBBBB -s 10.1.0.1/32 -j KUBE-MARK-MASQ-AB12',
    // left by a crash: no longer jumped to from the services chain, but still marks with our chain
    '-A KUBE-SEP-CCCCCCCCCCCCCCCC -s 10.1.0.9/32 -j KUBE-MARK-MASQ-AB12',
    '-A KUBE-SVC-DDDDDDDDDDDDDDDD -j KUBE-SEP-CCCCCCCCCCCCCCCC',
    // another server's
    '-A KUBE-SEP-EEEEEEEEEEEEEEEE -s 10.2.0.1/32 -j KUBE-MARK-MASQ-ZZ99',
  ].join('\n');
  const got = linkedChains(save, ['KUBE-SERVICES-AB12', 'KUBE-MARK-MASQ-AB12']).sort();
  assert.deepEqual(got, ['KUBE-MARK-MASQ-AB12', 'KUBE-SEP-BBBBBBBBBBBBBBBB', 'KUBE-SEP-CCCCCCCCCCCCCCCC', 'KUBE-SERVICES-AB12', 'KUBE-SVC-AAAAAAAAAAAAAAAA', 'KUBE-SVC-DDDDDDDDDDDDDDDD']);
});
