import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { Client } from '../client/types.js';
import { ClusterDNS, buildReply, encodeForUdp } from './server.js';
import type { ClusterView } from './records.js';

/** an upstream on 127.0.0.1 answering every A query with 192.0.2.1 (TTL 60), counting them */
async function upstream(): Promise<{ port: number; count: () => number; sock: dgram.Socket }> {
  const sock = dgram.createSocket('udp4');
  let n = 0;
  sock.on('message', (m, r) => {
    n++;
    const q = dnsPacket.decode(m);
    sock.send(dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers: [{ name: q.questions![0]!.name, type: 'A', class: 'IN', ttl: 60, data: '192.0.2.1' }] }), r.port, r.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { port: sock.address().port, count: () => n, sock };
}

// the informers are never started: the cluster zone is empty, which these tests do not need
const noClient = { resource: () => ({}) } as unknown as Client;
const query = (name: string, type = 'A', id = 42) => dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
const opts = { domain: 'cluster.local', serviceCIDR: '10.43.0.0/16', podCIDR: '10.85.0.0/16' };

describe('cluster DNS server', () => {
  const socks: dgram.Socket[] = [];
  after(() => socks.forEach((s) => s.close()));

  it('forwards other names for pods, keeping the client\'s id, and caches the answer', async () => {
    const u = await upstream();
    socks.push(u.sock);
    const dns = new ClusterDNS(noClient, { ...opts, upstreams: [{ host: '127.0.0.1', port: u.port }] });
    const r1 = dnsPacket.decode((await dns.handle(query('example.org', 'A', 7), '10.85.0.5', 'udp'))!);
    assert.equal(r1.id, 7);
    assert.equal(r1.rcode, 'NOERROR');
    assert.deepEqual(r1.answers!.map((a) => a.data), ['192.0.2.1']);
    const r2 = dnsPacket.decode((await dns.handle(query('EXAMPLE.org', 'A', 8), '10.85.0.6', 'tcp'))!);
    assert.equal(r2.id, 8);
    assert.deepEqual(r2.answers!.map((a) => a.data), ['192.0.2.1']);
    assert.equal(u.count(), 1, 'the second answer came from the cache');
  });

  it('refuses recursion to clients outside the pod range; SERVFAIL without upstreams; NXDOMAIN for the zone', async () => {
    const dns = new ClusterDNS(noClient, { ...opts, upstreams: [] });
    assert.equal(dnsPacket.decode((await dns.handle(query('example.org'), '192.168.1.9', 'udp'))!).rcode, 'REFUSED');
    assert.equal(dnsPacket.decode((await dns.handle(query('example.org'), '10.85.0.5', 'udp'))!).rcode, 'SERVFAIL');
    const nx = dnsPacket.decode((await dns.handle(query('nope.default.svc.cluster.local'), '192.168.1.9', 'udp'))!);
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.ok(nx.flag_aa, 'authoritative for the cluster zone');
    assert.equal(nx.authorities![0]!.type, 'SOA');
  });

  it('an ExternalName Service outside the zone: pods get the CNAME and the target\'s records looked up upstream; others the CNAME alone', async () => {
    const u = await upstream();
    socks.push(u.sock);
    const dns = new ClusterDNS(noClient, { ...opts, upstreams: [{ host: '127.0.0.1', port: u.port }] });
    const ext = { metadata: { namespace: 'd1', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.org' } };
    (dns as unknown as { view: ClusterView }).view = { service: (ns, n) => (ns === 'd1' && n === 'ext' ? ext : undefined), services: () => [ext], slicesOf: () => [] };
    const r = dnsPacket.decode((await dns.handle(query('ext.d1.svc.cluster.local', 'A', 9), '10.85.0.5', 'udp'))!);
    assert.equal(r.id, 9);
    assert.equal(r.rcode, 'NOERROR');
    assert.ok(r.flag_aa);
    assert.deepEqual(r.answers!.map((a) => [a.name, a.type, a.data]), [
      ['ext.d1.svc.cluster.local', 'CNAME', 'example.org'],
      ['example.org', 'A', '192.0.2.1'],
    ]);
    assert.equal(u.count(), 1);
    const outside = dnsPacket.decode((await dns.handle(query('ext.d1.svc.cluster.local'), '192.168.1.9', 'udp'))!);
    assert.deepEqual(outside.answers!.map((a) => [a.type, a.data]), [['CNAME', 'example.org']], 'no recursion for clients outside the pod range');
    assert.equal(u.count(), 1);
    const txt = dnsPacket.decode((await dns.handle(query('ext.d1.svc.cluster.local', 'TXT'), '10.85.0.5', 'udp'))!);
    assert.deepEqual(txt.answers!.map((a) => a.type), ['CNAME'], 'only A and AAAA are completed');
    // no upstream answering: the CNAME alone
    const none = new ClusterDNS(noClient, { ...opts, upstreams: [] });
    (none as unknown as { view: ClusterView }).view = dns.view;
    assert.deepEqual(dnsPacket.decode((await none.handle(query('ext.d1.svc.cluster.local'), '10.85.0.5', 'udp'))!).answers!.map((a) => a.type), ['CNAME']);
  });

  it('hostile input: garbage gets FORMERR with its id, or nothing without a header; responses are ignored', async () => {
    const dns = new ClusterDNS(noClient, { ...opts, upstreams: [] });
    const garbage = Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 9, 0, 0, 0, 0, 0, 0]), Buffer.from('zz')]);
    const r = dnsPacket.decode((await dns.handle(garbage, '10.85.0.5', 'udp'))!);
    assert.equal(r.id, 0x1234);
    assert.equal(r.rcode, 'FORMERR');
    assert.equal(await dns.handle(Buffer.from([1, 2, 3]), '10.85.0.5', 'udp'), undefined);
    const resp = dnsPacket.encode({ id: 1, type: 'response', questions: [{ name: 'a.b', type: 'A', class: 'IN' }] });
    assert.equal(await dns.handle(resp, '10.85.0.5', 'udp'), undefined);
  });

  it('a UDP answer past 512 bytes (or the EDNS size) is truncated, TC set, for the client to retry over TCP', () => {
    const q = dnsPacket.decode(query('big.example'));
    const answers = Array.from({ length: 40 }, (_, i) => ({ name: 'big.example', type: 'A', class: 'IN', ttl: 5, data: `10.0.0.${i}` }));
    const out = dnsPacket.decode(encodeForUdp(buildReply(q, 'NOERROR', { answers }), q));
    assert.equal(out.flag_tc, true);
    assert.deepEqual(out.answers, []);
    const edns = { ...q, additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096 }] };
    assert.equal(dnsPacket.decode(encodeForUdp(buildReply(q, 'NOERROR', { answers }), edns)).answers!.length, 40);
  });
});
