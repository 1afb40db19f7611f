import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterFlags, ingressFlags } from './server.js';

const ctx = { serviceRange: '10.43.0.0/16', podCidr: '10.85.0.0/16', withKubelet: true, listenHost: '127.0.0.1' };
const flags = (o: Record<string, string> = {}) => new Map(Object.entries(o));
const resolv = () => 'nameserver 127.0.0.53\nnameserver 192.168.1.1 # router\nsearch lan\n';

describe('podbay server: cluster DNS and advertise flags', () => {
  it('defaults as k3s: kubernetes at the first IP, DNS at the tenth, cluster.local, the host resolvers upstream, the gateway advertised', () => {
    const c = clusterFlags(flags(), ctx, resolv);
    assert.equal(c.kubernetesIP, '10.43.0.1');
    assert.equal(c.dnsIP, '10.43.0.10');
    assert.equal(c.domain, 'cluster.local');
    assert.deepEqual(c.upstreams, [{ host: '127.0.0.53', port: 53 }, { host: '192.168.1.1', port: 53 }]);
    assert.equal(c.gateway, '10.85.0.1');
    assert.equal(c.advertiseAddress, '10.85.0.1');
  });

  it('flags override; none disables the DNS and forwarding; without a kubelet nothing is advertised on loopback', () => {
    const c = clusterFlags(flags({ 'cluster-dns': 'none', 'cluster-dns-upstream': 'none', 'cluster-domain': 'Corp.Example.', 'advertise-address': '192.168.1.5' }), ctx, resolv);
    assert.equal(c.dnsIP, undefined);
    assert.deepEqual(c.upstreams, []);
    assert.equal(c.domain, 'corp.example');
    assert.equal(c.advertiseAddress, '192.168.1.5');
    assert.deepEqual(clusterFlags(flags({ 'cluster-dns-upstream': '127.0.0.1:5353,[::1]:53,fd00::1' }), ctx, resolv).upstreams, [
      { host: '127.0.0.1', port: 5353 },
      { host: '::1', port: 53 },
      { host: 'fd00::1', port: 53 },
    ]);
    assert.equal(clusterFlags(flags(), { ...ctx, withKubelet: false }, resolv).advertiseAddress, undefined);
    assert.equal(clusterFlags(flags(), { ...ctx, withKubelet: false, listenHost: '192.168.1.5' }, resolv).advertiseAddress, '192.168.1.5');
  });

  it('bad values are refused, naming the flag', () => {
    assert.throws(() => clusterFlags(flags({ 'cluster-dns': '10.44.0.10' }), ctx, resolv), /--cluster-dns "10.44.0.10": want an IP of the service range 10.43.0.0\/16/);
    assert.throws(() => clusterFlags(flags({ 'cluster-dns': '10.43.0.1' }), ctx, resolv), /the kubernetes Service's/);
    assert.throws(() => clusterFlags(flags({ 'cluster-domain': 'bad_domain' }), ctx, resolv), /--cluster-domain/);
    assert.throws(() => clusterFlags(flags({ 'cluster-dns-upstream': 'dns.google' }), ctx, resolv), /--cluster-dns-upstream "dns.google"/);
    assert.throws(() => clusterFlags(flags({ 'cluster-dns-upstream': '1.2.3.4:70000' }), ctx, resolv), /--cluster-dns-upstream/);
    assert.throws(() => clusterFlags(flags({ 'advertise-address': '127.0.0.1' }), ctx, resolv), /pods cannot reach this host's loopback/);
    assert.throws(() => clusterFlags(flags({ 'advertise-address': 'example.com' }), ctx, resolv), /--advertise-address "example.com": want an IP address/);
  });
});

describe('podbay server: ingress controller flags', () => {
  it('defaults 0.0.0.0:80/443; --ingress-http-port 0 runs none; bad values are refused naming the flag', () => {
    assert.deepEqual(ingressFlags(flags()), { address: '0.0.0.0', http: 80, https: 443 });
    assert.deepEqual(ingressFlags(flags({ 'ingress-http-port': '18420', 'ingress-https-port': '18421', 'ingress-bind-address': '127.0.0.1' })), { address: '127.0.0.1', http: 18420, https: 18421 });
    assert.equal(ingressFlags(flags({ 'ingress-http-port': '0' })), undefined);
    assert.throws(() => ingressFlags(flags({ 'ingress-http-port': '70000' })), /--ingress-http-port "70000": want a port number 0-65535/);
    assert.throws(() => ingressFlags(flags({ 'ingress-https-port': '80' })), /the same as --ingress-http-port/);
    assert.throws(() => ingressFlags(flags({ 'ingress-https-port': '0' })), /needs an HTTPS port too/);
    assert.throws(() => ingressFlags(flags({ 'ingress-bind-address': 'localhost' })), /want an IPv4 address/);
  });
});
