import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultObject } from '../defaults/index.js';
import { type ValidationError, validationErrorText } from './field.js';
import { resourceVersionRequiredForUpdate, validateCreate, validateObjectMeta, validateStatusUpdate, validateUpdate } from './index.js';

const texts = (errs: ValidationError[]) => errs.map(validationErrorText);
const meta = (name: string, extra: object = {}) => ({ name, namespace: 'default', ...extra });

test('validateObjectMeta: name rules, namespaced vs cluster, generateName, owner refs, finalizers', () => {
  assert.deepEqual(validateObjectMeta({ name: 'a.b' }, false, 'dns1123-subdomain'), []);
  assert.deepEqual(texts(validateObjectMeta({ name: 'a.b' }, false, 'dns1123-label')), ['metadata.name: Invalid value: "a.b": must not contain dots']);
  assert.deepEqual(texts(validateObjectMeta({ name: 'a', namespace: 'x' }, false, 'dns1123-label')), [
    'metadata.namespace: Forbidden: not allowed on this type',
  ]);
  assert.deepEqual(texts(validateObjectMeta({ name: 'a%b' }, false, 'path-segment')), ["metadata.name: Invalid value: \"a%b\": may not contain '%'"]);
  assert.deepEqual(validateObjectMeta({ generateName: 'web-', name: 'web-x1z2q', namespace: 'default' }, true, 'dns1123-subdomain'), []);
  assert.deepEqual(texts(validateObjectMeta({ name: 'a', namespace: 'Def' }, true, 'dns1123-subdomain')).length, 1);
  assert.deepEqual(
    texts(validateObjectMeta({ name: 'a', ownerReferences: [{ apiVersion: 'v1', kind: 'Event', name: 'e', uid: 'u' }] }, false, 'dns1123-subdomain')),
    ['metadata.ownerReferences: Invalid value: {"apiVersion":"v1","kind":"Event","name":"e","uid":"u"}: /v1, Kind=Event is disallowed from being an owner'],
  );
  assert.deepEqual(texts(validateObjectMeta({ name: 'a', finalizers: ['custom'] }, false, 'dns1123-subdomain')), [
    'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'a', finalizers: ['example.com/x', 'kubernetes'] }, false, 'dns1123-subdomain'), []);
  assert.equal(validationErrorText(resourceVersionRequiredForUpdate()), 'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
});

test('Namespace', () => {
  const ns = defaultObject('Namespace', { metadata: { name: 'team-a' } });
  assert.deepEqual(validateCreate('Namespace', ns), []);
  assert.deepEqual(texts(validateCreate('Namespace', { metadata: { name: 'team.a' } })), ['metadata.name: Invalid value: "team.a": must not contain dots']);
  const old = { ...ns, metadata: { ...ns.metadata, resourceVersion: '1', uid: 'x' } };
  assert.deepEqual(texts(validateUpdate('Namespace', { ...old, metadata: { ...old.metadata, name: 'b' } }, old)), [
    'metadata.name: Invalid value: "b": field is immutable',
  ]);
  assert.deepEqual(texts(validateStatusUpdate('Namespace', { ...old, status: { phase: 'Terminating' } }, old)), [
    "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty",
  ]);
});

test('ConfigMap keys, size, data/binaryData overlap, immutable', () => {
  assert.deepEqual(validateCreate('ConfigMap', { metadata: meta('c'), data: { 'nginx.conf': 'x', 'A_b-c': 'y' } }), []);
  assert.deepEqual(texts(validateCreate('ConfigMap', { metadata: meta('c'), data: { '..': 'x', 'a b': 'y' } })), [
    "data[..]: Invalid value: \"..\": must not be '..'",
    "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
  ]);
  assert.deepEqual(texts(validateCreate('ConfigMap', { metadata: meta('c'), data: { k: 'x' }, binaryData: { k: 'eA==' } })), [
    'data[k]: Invalid value: "k": duplicate of key present in binaryData',
  ]);
  assert.deepEqual(texts(validateCreate('ConfigMap', { metadata: meta('c'), data: { k: 'x'.repeat(1024 * 1024 + 1) } })), [
    '[]: Too long: must have at most 1048576 bytes',
  ]);
  const old = { metadata: meta('c', { resourceVersion: '3' }), data: { k: 'v' }, immutable: true };
  assert.deepEqual(texts(validateUpdate('ConfigMap', { ...old, data: { k: 'w' } }, old)), [
    'data: Forbidden: field is immutable when `immutable` is set',
  ]);
  assert.deepEqual(texts(validateUpdate('ConfigMap', { ...old, immutable: false }, old)), [
    'immutable: Forbidden: field is immutable when `immutable` is set',
  ]);
  assert.deepEqual(validateUpdate('ConfigMap', { ...old, metadata: { ...old.metadata, labels: { a: 'b' } } }, old), []);
});

test('Secret: base64, size, type rules, immutability', () => {
  const s: any = defaultObject('Secret', { metadata: meta('s'), stringData: { password: 'hunter2' } });
  assert.equal(s.type, 'Opaque');
  assert.deepEqual(validateCreate('Secret', s), []);
  assert.deepEqual(texts(validateCreate('Secret', { metadata: meta('s'), type: 'Opaque', data: { k: 'not base64!' } })), [
    'data[k]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3',
  ]);
  assert.deepEqual(texts(validateCreate('Secret', { metadata: meta('s'), type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==' } })), [
    'data[tls.key]: Required value',
  ]);
  const big = Buffer.alloc(1024 * 1024 + 1).toString('base64');
  assert.deepEqual(texts(validateCreate('Secret', { metadata: meta('s'), type: 'Opaque', data: { k: big } })), ['data: Too long: must have at most 1048576 bytes']);
  const old = { metadata: meta('s', { resourceVersion: '1' }), type: 'Opaque', data: { k: 'eA==' }, immutable: true };
  assert.deepEqual(texts(validateUpdate('Secret', { ...old, type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } }, old)), [
    'type: Invalid value: "kubernetes.io/tls": field is immutable',
    'data: Forbidden: field is immutable when `immutable` is set',
  ]);
});

test('Event (core/v1 legacy rules)', () => {
  const ev = { metadata: meta('e'), involvedObject: { kind: 'Pod', namespace: 'default', name: 'p' }, reason: 'Started', message: 'ok' };
  assert.deepEqual(validateCreate('Event', ev), []);
  assert.deepEqual(texts(validateCreate('Event', { ...ev, involvedObject: { kind: 'Pod', namespace: 'other', name: 'p' } })), [
    'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
  ]);
  const v1 = { ...ev, eventTime: '2024-01-01T00:00:00.000000Z', reportingComponent: 'podbay', reportingInstance: 'host', action: 'Start' };
  assert.deepEqual(validateCreate('Event', v1), []);
  assert.deepEqual(texts(validateCreate('Event', { ...v1, reason: 'r'.repeat(129), message: 'm'.repeat(1025) })), [
    'reason: Invalid value: "": can have at most 128 characters',
    'message: Invalid value: "": can have at most 1024 characters',
  ]);
});

test('Node', () => {
  const node: any = defaultObject('Node', { metadata: { name: 'node-1.example' }, status: { capacity: { cpu: '4', memory: '8Gi' } } });
  assert.deepEqual(node.status.allocatable, { cpu: '4', memory: '8Gi' });
  assert.deepEqual(validateCreate('Node', node), []);
  assert.equal(texts(validateCreate('Node', { metadata: { name: 'Node_1' } })).length, 1);
  assert.deepEqual(texts(validateCreate('Node', { metadata: { name: 'n' }, spec: { taints: [{ key: 'k', effect: 'Sometimes' }] } })), [
    'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
  ]);
  const old = { metadata: { name: 'n', resourceVersion: '1' }, spec: { podCIDRs: ['10.88.0.0/16'] } };
  assert.deepEqual(texts(validateUpdate('Node', { ...old, spec: { podCIDRs: ['10.89.0.0/16'] } }, old)), [
    'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
  ]);
  assert.deepEqual(validateUpdate('Node', { ...old, spec: { ...old.spec, unschedulable: true } }, old), []);
});
