import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceInfo } from '../registry.js';
import { toTable } from '../tables.js';
import { defaultObject } from '../defaults/index.js';
import { apiError, memoryRegistry } from '../../registry/registry.test-util.js';
import { parseCIDR, strictlyInside, validateNetworkPolicy } from './network-policy.js';

type Obj = Record<string, any>;
const NETPOL = resourceInfo('networkpolicies', 'networking.k8s.io', 'v1')!;
const np = (spec: Obj, name = 'p'): Obj => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'default' }, spec });

function errors(spec: Obj): string[] {
  return validateNetworkPolicy(defaultObject('NetworkPolicy', np(spec))).map((e) => `${e.field}: ${e.type}: ${e.detail}`);
}

test('served as networking.k8s.io/v1 networkpolicies, short name netpol, generation kept', () => {
  assert.equal(NETPOL.kind, 'NetworkPolicy');
  assert.deepEqual(NETPOL.shortNames, ['netpol']);
  assert.equal(NETPOL.namespaced, true);
  assert.equal(NETPOL.typeName, 'io.k8s.api.networking.v1.NetworkPolicy');
});

test('defaults: protocol TCP, podSelector {}, policyTypes Ingress, plus Egress when egress rules exist', () => {
  const a = defaultObject('NetworkPolicy', np({ ingress: [{ ports: [{ port: 80 }] }] }));
  assert.deepEqual(a.spec, { podSelector: {}, ingress: [{ ports: [{ port: 80, protocol: 'TCP' }] }], policyTypes: ['Ingress'] });
  assert.deepEqual(defaultObject('NetworkPolicy', np({ podSelector: {}, egress: [{}] })).spec.policyTypes, ['Ingress', 'Egress']);
  assert.deepEqual(defaultObject('NetworkPolicy', np({ podSelector: {}, policyTypes: ['Egress'] })).spec.policyTypes, ['Egress'], 'given types are kept');
});

test('validation: selectors, peers, ports, endPort, ipBlock, policyTypes, with field paths', () => {
  assert.deepEqual(errors({ podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: {} }, { namespaceSelector: {}, podSelector: {} }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 'http' }, { port: 80, endPort: 90 }] }] }), []);
  assert.deepEqual(errors({ podSelector: { matchExpressions: [{ key: 'a', operator: 'Bogus' }] } }), ['spec.podSelector.matchExpressions[0].operator: FieldValueInvalid: not a valid selector operator']);
  assert.deepEqual(errors({ ingress: [{ from: [{}] }] }), ['spec.ingress[0].from[0]: FieldValueRequired: must specify a peer']);
  assert.deepEqual(errors({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }), ['spec.egress[0].to[0]: FieldValueForbidden: may not specify both ipBlock and another peer']);
  assert.deepEqual(errors({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['192.168.0.0/16', '10.0.0.0/8', 'x'] } }] }] }), [
    'spec.ingress[0].from[0].ipBlock.except[0]: FieldValueInvalid: must be a strict subset of `cidr`',
    'spec.ingress[0].from[0].ipBlock.except[1]: FieldValueInvalid: must be a strict subset of `cidr`',
    'spec.ingress[0].from[0].ipBlock.except[2]: FieldValueInvalid: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
  ]);
  assert.deepEqual(errors({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.300/8' } }, { ipBlock: { cidr: '' } }] }] }), [
    'spec.ingress[0].from[0].ipBlock.cidr: FieldValueInvalid: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    'spec.ingress[0].from[1].ipBlock.cidr: FieldValueRequired: ',
  ]);
  assert.deepEqual(errors({ ingress: [{ ports: [{ endPort: 90 }, { port: 'http', endPort: 90 }, { port: 90, endPort: 80 }, { port: 0 }, { port: 80, protocol: 'ICMP' }] }] }), [
    'spec.ingress[0].ports[0].endPort: FieldValueInvalid: may not be specified when `port` is not specified',
    'spec.ingress[0].ports[1].endPort: FieldValueInvalid: may not be specified when `port` is non-numeric',
    'spec.ingress[0].ports[2].endPort: FieldValueInvalid: must be greater than or equal to `port`',
    'spec.ingress[0].ports[3].port: FieldValueInvalid: must be between 1 and 65535, inclusive',
    'spec.ingress[0].ports[4].protocol: FieldValueNotSupported: supported values: "TCP", "UDP", "SCTP"',
  ]);
  assert.deepEqual(errors({ ingress: [{ ports: [{ port: 'Http' }] }] }), ['spec.ingress[0].ports[0].port: FieldValueInvalid: must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)']);
  assert.deepEqual(errors({ policyTypes: ['Ingress', 'Sideways'] }), ['spec.policyTypes[1]: FieldValueNotSupported: supported values: "Ingress", "Egress"']);
  assert.deepEqual(errors({ policyTypes: ['Ingress', 'Egress', 'Ingress'] }), ['spec.policyTypes: FieldValueInvalid: may not specify more than two policyTypes']);
});

test('CIDR arithmetic: host bits cleared, strict subsets, IPv6', () => {
  assert.deepEqual(parseCIDR('10.1.2.3/16'), { family: 4, network: 0x0a010000n, prefix: 16 });
  assert.ok(strictlyInside(parseCIDR('10.1.5.0/24')!, parseCIDR('10.1.0.0/16')!));
  assert.ok(!strictlyInside(parseCIDR('10.2.5.0/24')!, parseCIDR('10.1.0.0/16')!));
  assert.ok(strictlyInside(parseCIDR('2001:db8::1:0/112')!, parseCIDR('2001:db8::/64')!));
  assert.ok(!strictlyInside(parseCIDR('2001:db9::/112')!, parseCIDR('2001:db8::/64')!));
  assert.equal(parseCIDR('10.0.0.0/33'), undefined);
});

test('the registry: 422 naming the field; stored with defaults; generation bumps on a spec change; kubectl columns', async () => {
  const reg = await memoryRegistry();
  const e = await apiError(reg.create(NETPOL, 'default', np({ podSelector: { matchLabels: { 'bad key!': 'x' } } })));
  assert.equal(e.code, 422);
  assert.match(e.message, /^NetworkPolicy.networking.k8s.io "p" is invalid: spec.podSelector.matchLabels: Invalid value: "bad key!"/);
  const made = await reg.create(NETPOL, 'default', np({ podSelector: { matchLabels: { app: 'web' } }, egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] }));
  assert.deepEqual(made.spec.policyTypes, ['Ingress', 'Egress']);
  assert.equal(made.metadata.generation, 1);
  const changed = await reg.update(NETPOL, 'default', 'p', { ...made, spec: { ...made.spec, ingress: [{}] } });
  assert.equal(changed.metadata.generation, 2);
  const t = toTable('NetworkPolicy', [{ ...made, metadata: { ...made.metadata, creationTimestamp: '2026-01-01T00:00:00Z' } }], {}, { now: Date.parse('2026-01-01T00:05:00Z') });
  assert.deepEqual(t.columnDefinitions.map((c: Obj) => c.name), ['Name', 'Pod-Selector', 'Age']);
  assert.deepEqual(t.rows[0].cells, ['p', 'app=web', '5m']);
  assert.equal(toTable('NetworkPolicy', [np({ podSelector: {} })], {}, {}).rows[0].cells[1], '<none>');
});
