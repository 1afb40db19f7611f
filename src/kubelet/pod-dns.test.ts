import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podDNS, podHostnameAndDomain, parseResolvConf, truncateHostname } from './pod-dns.js';
import { hostsFile, nodeHostsFile, resolvConfOf } from '../runtime/oci-spec.js';

const HOST = 'nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch corp.example. lab.example\noptions edns0 trust-ad\n';
const pod = (spec: Record<string, unknown>) => ({ metadata: { name: 'web', namespace: 'ns', uid: 'u1' }, spec });
const dns = (spec: Record<string, unknown>, clusterDNS: string[] = []) => podDNS({ pod: pod(spec), hostResolvConf: HOST, clusterDNS, clusterDomain: 'cluster.local' });

test('hostname: spec.hostname or the pod name, cut to 63 without a trailing - or .', () => {
  assert.equal(truncateHostname('a'.repeat(62) + '-b'), 'a'.repeat(62));
  assert.equal(truncateHostname('short'), 'short');
  assert.deepEqual(podHostnameAndDomain(pod({}), 'cluster.local'), { hostname: 'web', domain: '', utsHostname: 'web' });
  assert.deepEqual(podHostnameAndDomain(pod({ hostname: 'h', subdomain: 'sub' }), 'cluster.local'), { hostname: 'h', domain: 'sub.ns.svc.cluster.local', utsHostname: 'h' });
  assert.equal(podHostnameAndDomain(pod({ hostname: 'h', subdomain: 'sub', setHostnameAsFQDN: true }), 'cluster.local').utsHostname, 'h.sub.ns.svc.cluster.local');
  assert.throws(() => podHostnameAndDomain(pod({ hostname: 'h'.repeat(40), subdomain: 'sub', setHostnameAsFQDN: true }), 'cluster.local'), /FQDN h+\.sub\.ns\.svc\.cluster\.local is too long \(63 characters is the max, 65 characters requested\)/);
});

test('ClusterFirst without cluster DNS falls back to Default with MissingClusterDNS', () => {
  const r = dns({});
  assert.deepEqual(r.config, { servers: ['192.0.2.53'], searches: ['corp.example', 'lab.example'], options: ['edns0', 'trust-ad'] });
  assert.equal(r.notes[0]!.reason, 'MissingClusterDNS');
  assert.equal(r.notes[0]!.message, 'pod: "web_ns(u1)". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.');
  assert.equal(dns({ dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true }).notes[0]!.reason, 'MissingClusterDNS');
  assert.deepEqual(dns({ dnsPolicy: 'ClusterFirst', hostNetwork: true }).notes, [], 'hostNetwork ClusterFirst is Default');
  assert.deepEqual(dns({ dnsPolicy: 'Default', hostNetwork: true }).config.servers, ['127.0.0.53', '192.0.2.53'], 'the host netns keeps its loopback resolver');
});

test('ClusterFirst with cluster DNS: cluster search path first, ndots:5', () => {
  const r = dns({}, ['10.96.0.10']);
  assert.deepEqual(r.config, { servers: ['10.96.0.10'], searches: ['ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'lab.example'], options: ['ndots:5'] });
  assert.deepEqual(r.notes, []);
});

test('None + dnsConfig, merged and cut to the limits with DNSConfigForming', () => {
  const r = dns({ dnsPolicy: 'None', dnsConfig: { nameservers: ['127.0.0.53', '127.0.0.54', '127.0.0.53', '127.0.0.55', '127.0.0.56'], searches: ['a.example'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } });
  assert.deepEqual(r.config, { servers: ['127.0.0.53', '127.0.0.54', '127.0.0.55'], searches: ['a.example'], options: ['ndots:2', 'edns0'] });
  assert.deepEqual(r.notes, [{ type: 'Warning', reason: 'DNSConfigForming', message: 'Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 127.0.0.53 127.0.0.54 127.0.0.55' }]);
  const merged = dns({ dnsPolicy: 'Default', dnsConfig: { searches: ['lab.example', 'x.example'], options: [{ name: 'trust-ad', value: '1' }] } });
  assert.deepEqual(merged.config.searches, ['corp.example', 'lab.example', 'x.example'], 'duplicates omitted');
  assert.deepEqual(merged.config.options, ['edns0', 'trust-ad:1'], "the pod's option overrides the host's");
  const many = dns({ dnsPolicy: 'None', dnsConfig: { searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`) } });
  assert.equal(many.config.searches.length, 32);
  assert.match(many.notes[0]!.message, /^Search Line limits were exceeded, some search paths have been omitted, the applied search line is: d0\.example .* d31\.example$/);
  const long = dns({ dnsPolicy: 'None', dnsConfig: { searches: Array.from({ length: 10 }, (_, i) => `${String(i).repeat(250)}.x`) } });
  assert.ok(long.config.searches.join(' ').length <= 2048);
  assert.equal(long.config.searches.length, 8);
});

test('resolv.conf and hosts file as the kubelet and containerd write them', () => {
  assert.deepEqual(parseResolvConf('search a. b\nsearch c.\nnameserver 1.2.3.4 # x\noptions ndots:1\n'), { servers: ['1.2.3.4'], searches: ['c'], options: ['ndots:1'] });
  assert.equal(resolvConfOf({ servers: ['127.0.0.53'], searches: ['a', 'b'], options: ['ndots:2'] }), 'search a b\nnameserver 127.0.0.53\noptions ndots:2\n');
  const h = hostsFile('h', ['10.0.0.5'], 'sub.ns.svc.cluster.local', [{ ip: '127.0.0.2', hostnames: ['foo.local', 'bar.local'] }]);
  assert.ok(h.includes('10.0.0.5\th.sub.ns.svc.cluster.local\th\n'));
  assert.ok(h.endsWith('\n# Entries added by HostAliases.\n127.0.0.2\tfoo.local\tbar.local\n'));
  assert.equal(nodeHostsFile('127.0.0.1 localhost\n', [{ ip: '127.0.0.3', hostnames: ['x'] }]), '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n# Entries added by HostAliases.\n127.0.0.3\tx\n');
});
