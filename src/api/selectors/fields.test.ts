import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../errors.js';
import { escapeFieldValue, fieldSelector, parseFieldSelector, supportedFieldLabels } from './fields.js';

function bad(kind: string, text: string, message: string): void {
  try {
    fieldSelector(kind, text);
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    assert.equal(e.message, message);
    return;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

const pod = {
  metadata: { name: 'web-1', namespace: 'default' },
  spec: { nodeName: 'node-a', restartPolicy: 'Always', schedulerName: 'default-scheduler', serviceAccountName: 'default' },
  status: { phase: 'Running', podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }], nominatedNodeName: '' },
};

test('pod fields: =, ==, != and matching', () => {
  const s = fieldSelector('Pod', 'metadata.name=web-1,status.phase!=Pending,spec.nodeName==node-a');
  assert.equal(s.matches(pod), true);
  assert.equal(s.matches({ ...pod, status: { phase: 'Pending' } }), false);
  assert.equal(s.matches({ ...pod, metadata: { name: 'web-2' } }), false);
  assert.deepEqual(s.exact, { 'metadata.name': 'web-1', 'spec.nodeName': 'node-a' });
  for (const f of [
    'metadata.namespace=default',
    'spec.restartPolicy=Always',
    'spec.schedulerName=default-scheduler',
    'spec.serviceAccountName=default',
    'status.podIP=10.0.0.5',
    'status.nominatedNodeName=',
    'spec.hostNetwork=false',
  ]) {
    assert.equal(fieldSelector('pods', f).matches(pod), true, f);
  }
});

test('missing fields compare as the empty string', () => {
  assert.equal(fieldSelector('Pod', 'spec.nodeName=').matches({ metadata: { name: 'x' } }), true);
  assert.equal(fieldSelector('Pod', 'spec.nodeName!=').matches({ metadata: { name: 'x' } }), false);
});

test('spec.host is an alias of spec.nodeName', () => {
  const s = fieldSelector('Pod', 'spec.host=node-a');
  assert.equal(s.matches(pod), true);
  assert.deepEqual(s.exact, { 'spec.nodeName': 'node-a' });
});

test('empty selector selects everything', () => {
  const s = fieldSelector('Pod', '');
  assert.equal(s.empty(), true);
  assert.equal(s.matches({}), true);
  assert.deepEqual(s.exact, {});
});

test('unsupported fields: per-kind wording', () => {
  bad('Pod', 'foo=bar', 'field label not supported: foo');
  bad('pods', 'spec.containers=x', 'field label not supported: spec.containers');
  bad('Namespace', 'metadata.namespace=x', 'field label not supported: metadata.namespace');
  bad('ConfigMap', 'data.x=1', '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"');
});

test('other kinds: events, secrets, namespaces, default', () => {
  const ev = {
    metadata: { name: 'e', namespace: 'ns' },
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'ns', uid: 'u1' },
    reason: 'Started',
    source: { component: 'kubelet' },
    type: 'Normal',
  };
  assert.equal(
    fieldSelector('Event', 'involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.namespace=ns,involvedObject.uid=u1,reason=Started,source=kubelet,type=Normal').matches(ev),
    true,
  );
  assert.equal(fieldSelector('events', 'type=Warning').matches(ev), false);
  assert.equal(fieldSelector('Secret', 'type=kubernetes.io/tls').matches({ type: 'kubernetes.io/tls' }), true);
  assert.equal(fieldSelector('Namespace', 'status.phase=Active').matches({ status: { phase: 'Active' } }), true);
  assert.equal(fieldSelector('ConfigMap', 'metadata.name=c,metadata.namespace=n').matches({ metadata: { name: 'c', namespace: 'n' } }), true);
  assert.deepEqual(supportedFieldLabels('ConfigMap'), ['metadata.name', 'metadata.namespace']);
});

test('escaped values', () => {
  const s = fieldSelector('Pod', 'metadata.name=a\\,b\\=c\\\\d');
  assert.deepEqual(s.exact, { 'metadata.name': 'a,b=c\\d' });
  assert.equal(s.toString(), 'metadata.name=a\\,b\\=c\\\\d');
  assert.equal(escapeFieldValue('x,y'), 'x\\,y');
});

test('syntax errors use upstream wording', () => {
  bad('Pod', 'metadata.name', "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
  bad('Pod', 'metadata.name=a=b', 'invalid field selector: unescaped character in value: 61');
  bad('Pod', 'metadata.name=a\\x', 'invalid field selector: invalid escape sequence: \\x');
  bad('Pod', 'metadata.name=a\\', 'invalid field selector: invalid escape sequence: \\');
});

test('terms are sorted; empty terms skipped', () => {
  assert.deepEqual(
    parseFieldSelector('status.phase=Running,,metadata.name=a').map((r) => r.field),
    ['metadata.name', 'status.phase'],
  );
});
