import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { answerCluster, cidrContains, type ClusterView } from './records.js';

type Obj = Record<string, any>;

const svc = (ns: string, name: string, spec: Obj): Obj => ({ metadata: { namespace: ns, name }, spec });
const slice = (ns: string, svcName: string, endpoints: Obj[], ports: Obj[] = [{ name: 'http', port: 8080, protocol: 'TCP' }]): Obj => ({
  metadata: { namespace: ns, name: `${svcName}-x`, labels: { 'kubernetes.io/service-name': svcName } },
  addressType: 'IPv4',
  endpoints,
  ports,
});

function view(services: Obj[], slices: Obj[]): ClusterView {
  return {
    service: (ns, name) => services.find((s) => s.metadata.namespace === ns && s.metadata.name === name),
    services: () => services,
    slicesOf: (ns, name) => slices.filter((s) => s.metadata.namespace === ns && s.metadata.labels['kubernetes.io/service-name'] === name),
  };
}

const V = view(
  [
    svc('default', 'kubernetes', { type: 'ClusterIP', clusterIP: '10.43.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }),
    svc('shop', 'web', { type: 'ClusterIP', clusterIP: '10.43.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { port: 81 }] }),
    svc('shop', 'db', { type: 'ClusterIP', clusterIP: 'None', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }),
    svc('shop', 'ext', { type: 'ExternalName', externalName: 'Example.COM.' }),
    svc('shop', 'webd', { type: 'ExternalName', externalName: 'web.shop.svc.cluster.local' }),
    svc('shop', 'dbd', { type: 'ExternalName', externalName: 'db.shop.svc.cluster.local.' }),
    svc('shop', 'twice', { type: 'ExternalName', externalName: 'webd.shop.svc.cluster.local' }),
    svc('shop', 'outd', { type: 'ExternalName', externalName: 'ext.shop.svc.cluster.local' }),
    svc('shop', 'gone', { type: 'ExternalName', externalName: 'nope.shop.svc.cluster.local' }),
    svc('shop', 'self', { type: 'ExternalName', externalName: 'self.shop.svc.cluster.local' }),
    svc('shop', 'ping', { type: 'ExternalName', externalName: 'pong.shop.svc.cluster.local' }),
    svc('shop', 'pong', { type: 'ExternalName', externalName: 'ping.shop.svc.cluster.local' }),
    svc('shop', 'hl', { type: 'ClusterIP', clusterIP: 'None', ports: [{ port: 9000, protocol: 'TCP' }] }),
  ],
  [
    slice('shop', 'db', [
      { addresses: ['10.85.0.7'], hostname: 'db-0', conditions: { ready: true } },
      { addresses: ['10.85.0.5'], conditions: { ready: true } },
      { addresses: ['10.85.0.9'], conditions: { ready: false } },
    ]),
    slice('shop', 'web', [{ addresses: ['10.85.0.5'], conditions: { ready: true } }], [{ name: 'http', port: 8080, protocol: 'TCP' }]),
    slice('shop', 'hl', [{ addresses: ['10.85.0.24'], conditions: { ready: true } }, { addresses: ['10.85.0.3'], conditions: { ready: true } }], [{ port: 9000, protocol: 'TCP' }]),
  ],
);
const Z = { domain: 'cluster.local', reverseCIDRs: ['10.43.0.0/16', '10.85.0.0/16'] };
const ask = (name: string, type = 'A') => answerCluster({ name, type, class: 'IN' }, V, Z);
const data = (r: ReturnType<typeof ask>) => r!.answers.map((a) => a.data);

describe('cluster zone records', () => {
  it('a ClusterIP Service: A is its cluster IP, case-insensitively, with a trailing dot or not; AAAA is an empty answer with the SOA', () => {
    assert.deepEqual(data(ask('web.shop.svc.cluster.local')), ['10.43.0.20']);
    assert.deepEqual(data(ask('WEB.Shop.svc.cluster.local.')), ['10.43.0.20']);
    const aaaa = ask('web.shop.svc.cluster.local', 'AAAA')!;
    assert.equal(aaaa.rcode, 'NOERROR');
    assert.deepEqual(aaaa.answers, []);
    assert.equal(aaaa.authorities[0]!.type, 'SOA');
    assert.equal(aaaa.authorities[0]!.name, 'cluster.local');
  });

  it('a headless Service: every ready endpoint, not the unready one; an endpoint by hostname or dashed IP', () => {
    assert.deepEqual(data(ask('db.shop.svc.cluster.local')), ['10.85.0.5', '10.85.0.7']);
    assert.deepEqual(data(ask('db-0.db.shop.svc.cluster.local')), ['10.85.0.7']);
    assert.deepEqual(data(ask('10-85-0-5.db.shop.svc.cluster.local')), ['10.85.0.5']);
    assert.equal(ask('10-85-0-9.db.shop.svc.cluster.local')!.rcode, 'NXDOMAIN', 'not ready: not named');
    assert.equal(ask('db-0.web.shop.svc.cluster.local')!.rcode, 'NXDOMAIN', 'a ClusterIP Service has no endpoint names');
  });

  it('an ExternalName Service is a CNAME whatever the type asked (a target outside the zone is left to the server)', () => {
    for (const t of ['A', 'AAAA', 'CNAME', 'TXT']) {
      const r = ask('ext.shop.svc.cluster.local', t)!;
      assert.deepEqual(r.answers.map((a) => [a.type, a.data]), [['CNAME', 'example.com']]);
    }
  });

  it('an ExternalName Service with a target in the zone: A gets the CNAME and the target\'s records, as CoreDNS', () => {
    const rows = (r: ReturnType<typeof ask>) => r!.answers.map((a) => [a.name, a.type, a.data]);
    assert.deepEqual(rows(ask('webd.shop.svc.cluster.local')), [
      ['webd.shop.svc.cluster.local', 'CNAME', 'web.shop.svc.cluster.local'],
      ['web.shop.svc.cluster.local', 'A', '10.43.0.20'],
    ]);
    assert.deepEqual(rows(ask('dbd.shop.svc.cluster.local')), [
      ['dbd.shop.svc.cluster.local', 'CNAME', 'db.shop.svc.cluster.local'],
      ['db.shop.svc.cluster.local', 'A', '10.85.0.5'],
      ['db.shop.svc.cluster.local', 'A', '10.85.0.7'],
    ]);
    // a chain through two ExternalName Services; one that ends outside the zone stops at that CNAME
    assert.deepEqual(rows(ask('twice.shop.svc.cluster.local')), [
      ['twice.shop.svc.cluster.local', 'CNAME', 'webd.shop.svc.cluster.local'],
      ['webd.shop.svc.cluster.local', 'CNAME', 'web.shop.svc.cluster.local'],
      ['web.shop.svc.cluster.local', 'A', '10.43.0.20'],
    ]);
    assert.deepEqual(rows(ask('outd.shop.svc.cluster.local')), [
      ['outd.shop.svc.cluster.local', 'CNAME', 'ext.shop.svc.cluster.local'],
      ['ext.shop.svc.cluster.local', 'CNAME', 'example.com'],
    ]);
    // the target has no record of the type, does not exist, or loops: NODATA (NOERROR, no answer, the SOA)
    for (const [n, t] of [['webd', 'AAAA'], ['gone', 'A'], ['self', 'A'], ['ping', 'A']]) {
      const r = ask(`${n}.shop.svc.cluster.local`, t)!;
      assert.equal(r.rcode, 'NOERROR', n);
      assert.deepEqual(r.answers, [], n);
      assert.equal(r.authorities[0]!.type, 'SOA', n);
    }
    // other types keep the bare CNAME
    assert.deepEqual(rows(ask('webd.shop.svc.cluster.local', 'CNAME')), [['webd.shop.svc.cluster.local', 'CNAME', 'web.shop.svc.cluster.local']]);
  });

  it('SRV: a named port of a ClusterIP Service points at the Service; of a headless one at each endpoint, with their A records', () => {
    const r = ask('_https._tcp.kubernetes.default.svc.cluster.local', 'SRV')!;
    assert.deepEqual(r.answers.map((a) => a.data), [{ priority: 0, weight: 100, port: 443, target: 'kubernetes.default.svc.cluster.local' }]);
    assert.deepEqual(r.additionals.map((a) => [a.name, a.data]), [['kubernetes.default.svc.cluster.local', '10.43.0.1']]);
    const h = ask('_http._tcp.db.shop.svc.cluster.local', 'SRV')!;
    assert.deepEqual(h.answers.map((a) => [a.data.target, a.data.port]), [['10-85-0-5.db.shop.svc.cluster.local', 8080], ['db-0.db.shop.svc.cluster.local', 8080]]);
    assert.equal(ask('_nope._tcp.web.shop.svc.cluster.local', 'SRV')!.rcode, 'NXDOMAIN');
    assert.equal(ask('_http._udp.web.shop.svc.cluster.local', 'SRV')!.rcode, 'NXDOMAIN', 'the protocol must match');
  });

  it('SRV records are owned by the name asked: the Service name gives every port, named or not', () => {
    const owners = (r: ReturnType<typeof ask>) => [...new Set(r!.answers.map((a) => a.name))];
    assert.deepEqual(owners(ask('_https._tcp.kubernetes.default.svc.cluster.local', 'SRV')), ['_https._tcp.kubernetes.default.svc.cluster.local']);
    const web = ask('web.shop.svc.cluster.local', 'SRV')!;
    assert.deepEqual(owners(web), ['web.shop.svc.cluster.local']);
    assert.deepEqual(web.answers.map((a) => a.data), [
      { priority: 0, weight: 50, port: 80, target: 'web.shop.svc.cluster.local' },
      { priority: 0, weight: 50, port: 81, target: 'web.shop.svc.cluster.local' },
    ]);
    assert.deepEqual(web.additionals.map((a) => [a.name, a.data]), [['web.shop.svc.cluster.local', '10.43.0.20']]);
    const db = ask('DB.shop.svc.cluster.local', 'SRV')!;
    assert.deepEqual(owners(db), ['db.shop.svc.cluster.local']);
    assert.deepEqual(db.answers.map((a) => [a.data.target, a.data.port, a.data.weight]), [['10-85-0-5.db.shop.svc.cluster.local', 8080, 50], ['db-0.db.shop.svc.cluster.local', 8080, 50]]);
    // a headless Service whose port has no name: one SRV per ready endpoint, with its A record
    const hl = ask('hl.shop.svc.cluster.local', 'SRV')!;
    assert.deepEqual(hl.answers.map((a) => [a.name, a.data.target, a.data.port]), [
      ['hl.shop.svc.cluster.local', '10-85-0-3.hl.shop.svc.cluster.local', 9000],
      ['hl.shop.svc.cluster.local', '10-85-0-24.hl.shop.svc.cluster.local', 9000],
    ]);
    assert.deepEqual(hl.additionals.map((a) => [a.name, a.data]), [['10-85-0-3.hl.shop.svc.cluster.local', '10.85.0.3'], ['10-85-0-24.hl.shop.svc.cluster.local', '10.85.0.24']]);
  });

  it('pod A records from the dashed IP; malformed ones are NXDOMAIN', () => {
    assert.deepEqual(data(ask('10-85-0-3.shop.pod.cluster.local')), ['10.85.0.3']);
    assert.equal(ask('10-85-0-300.shop.pod.cluster.local')!.rcode, 'NXDOMAIN');
    assert.equal(ask('10-85-3.shop.pod.cluster.local')!.rcode, 'NXDOMAIN');
  });

  it('unknown names in the zone are NXDOMAIN with the SOA; zone apexes exist; names outside are not ours', () => {
    for (const n of ['nope.shop.svc.cluster.local', 'web.nons.svc.cluster.local', 'google.com.shop.svc.cluster.local', 'x.cluster.local', 'a.b.c.d.e.shop.svc.cluster.local']) {
      const r = ask(n)!;
      assert.equal(r.rcode, 'NXDOMAIN', n);
      assert.equal(r.authorities[0]!.type, 'SOA', n);
      assert.equal(r.authorities[0]!.data.minimum, 5);
    }
    for (const n of ['cluster.local', 'svc.cluster.local', 'shop.svc.cluster.local', 'pod.cluster.local']) assert.equal(ask(n)!.rcode, 'NOERROR', n);
    assert.equal(ask('nons.svc.cluster.local')!.rcode, 'NXDOMAIN', 'a namespace with no Service');
    assert.equal(ask('cluster.local', 'SOA')!.answers[0]!.type, 'SOA');
    assert.equal(ask('example.com'), undefined);
    assert.equal(ask('notcluster.local'), undefined);
    assert.equal(answerCluster({ name: 'web.shop.svc.cluster.local', type: 'A', class: 'CH' }, V, Z), undefined);
  });

  it('PTR for cluster IPs and ready endpoints; NXDOMAIN inside the ranges; other addresses are not ours', () => {
    assert.deepEqual(data(ask('20.0.43.10.in-addr.arpa', 'PTR')), ['web.shop.svc.cluster.local']);
    assert.deepEqual(data(ask('7.0.85.10.in-addr.arpa', 'PTR')), ['db-0.db.shop.svc.cluster.local']);
    // an endpoint without a hostname is named by its dashed IP, once per Service it serves (CoreDNS's serviceRecordForIP)
    assert.deepEqual(data(ask('24.0.85.10.in-addr.arpa', 'PTR')), ['10-85-0-24.hl.shop.svc.cluster.local']);
    assert.deepEqual(data(ask('5.0.85.10.in-addr.arpa', 'PTR')).sort(), ['10-85-0-5.db.shop.svc.cluster.local', '10-85-0-5.web.shop.svc.cluster.local']);
    assert.equal(ask('9.0.85.10.in-addr.arpa', 'PTR')!.rcode, 'NXDOMAIN', 'not ready: not named');
    assert.equal(ask('99.0.43.10.in-addr.arpa', 'PTR')!.rcode, 'NXDOMAIN');
    assert.equal(ask('1.1.168.192.in-addr.arpa', 'PTR'), undefined);
  });

  it('cidrContains', () => {
    assert.ok(cidrContains('10.85.0.0/16', '10.85.255.1'));
    assert.ok(!cidrContains('10.85.0.0/16', '10.86.0.1'));
    assert.ok(cidrContains('0.0.0.0/0', '1.2.3.4'));
    assert.ok(!cidrContains('10.85.0.0/16', 'fe80::1'));
  });
});
