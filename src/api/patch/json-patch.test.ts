import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../errors.js';
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from './json-patch.js';

const pod = (): any => ({
  metadata: { name: 'p', labels: { app: 'x' } },
  spec: { containers: [{ name: 'a', image: 'busybox' }, { name: 'b', image: 'nginx' }] },
});

function fails(fn: () => unknown, code: number, message: string, cause?: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.message, message);
    if (cause !== undefined) assert.equal(e.details?.causes?.[0]?.message, cause);
    return;
  }
  assert.fail('expected an error');
}

const REJECTED = 'the server rejected our request due to an error in our request';

test('add / replace / remove / move / copy / test', () => {
  const orig = pod();
  const out: any = applyJsonPatch(orig, [
    { op: 'test', path: '/metadata/name', value: 'p' },
    { op: 'replace', path: '/spec/containers/0/image', value: 'busybox:1.37' },
    { op: 'add', path: '/metadata/labels/tier', value: 'web' },
    { op: 'remove', path: '/metadata/labels/app' },
    { op: 'add', path: '/spec/containers/-', value: { name: 'c', image: 'redis' } },
    { op: 'copy', from: '/metadata/name', path: '/metadata/annotations' },
    { op: 'move', from: '/metadata/annotations', path: '/metadata/generateName' },
  ]);
  assert.equal(out.spec.containers[0].image, 'busybox:1.37');
  assert.deepEqual(out.metadata.labels, { tier: 'web' });
  assert.equal(out.spec.containers.length, 3);
  assert.equal(out.metadata.generateName, 'p');
  assert.ok(!('annotations' in out.metadata));
  // input untouched
  assert.deepEqual(orig, pod());
});

test('accepts the raw request body; a ~1-escaped key', () => {
  const out: any = applyJsonPatch(pod(), '[{"op":"add","path":"/metadata/labels/example.com~1team","value":"a"}]');
  assert.equal(out.metadata.labels['example.com/team'], 'a');
});

test('failed test op -> 422 Invalid with the reason as cause', () => {
  fails(
    () => applyJsonPatch(pod(), [{ op: 'test', path: '/metadata/name', value: 'q' }]),
    422,
    REJECTED,
    'testing value /metadata/name failed: test failed',
  );
});

test('missing paths -> 422', () => {
  fails(() => applyJsonPatch(pod(), [{ op: 'replace', path: '/spec/nodeName', value: 'n' }]), 422, REJECTED,
    'replace operation does not apply: doc is missing key: /spec/nodeName: missing value');
  fails(() => applyJsonPatch(pod(), [{ op: 'remove', path: '/metadata/annotations' }]), 422, REJECTED,
    'remove operation does not apply: doc is missing path: "/metadata/annotations": missing value');
  fails(() => applyJsonPatch(pod(), [{ op: 'add', path: '/metadata/annotations/a', value: 'x' }]), 422, REJECTED,
    'add operation does not apply: doc is missing path: "/metadata/annotations/a": missing value');
  fails(() => applyJsonPatch(pod(), [{ op: 'add', path: '/spec/containers/5', value: {} }]), 422, REJECTED,
    'Unable to access invalid index: 5: invalid index referenced');
  fails(() => applyJsonPatch(pod(), [{ op: 'move', from: '/nope', path: '/x' }]), 422, REJECTED);
});

test('malformed operations -> 422', () => {
  fails(() => applyJsonPatch(pod(), [{ op: 'frob', path: '/a' }]), 422, REJECTED, 'Unexpected kind: frob');
  fails(() => applyJsonPatch(pod(), [{ path: '/a' }]), 422, REJECTED, 'Unexpected kind: unknown');
  fails(() => applyJsonPatch(pod(), [{ op: 'add', path: '/a' }]), 422, REJECTED, 'operation, missing value field: missing value');
  fails(() => applyJsonPatch(pod(), [{ op: 'add', value: 1 }]), 422, REJECTED, 'operation missing path field: missing value');
  fails(() => applyJsonPatch(pod(), [null]), 422, REJECTED);
});

test('malformed bodies -> 400', () => {
  fails(() => applyJsonPatch(pod(), '{not json'), 400, 'invalid JSON patch');
  fails(() => applyJsonPatch(pod(), '{"op":"add"}'), 400, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  fails(() => applyJsonPatch(pod(), '[1]'), 400, 'json: cannot unmarshal number into Go value of type jsonpatch.Operation');
  fails(() => applyJsonPatch(pod(), '["x"]'), 400, 'json: cannot unmarshal string into Go value of type jsonpatch.Operation');
});

test('empty and null patches are no-ops', () => {
  assert.deepEqual(applyJsonPatch(pod(), '[]'), pod());
  assert.deepEqual(applyJsonPatch(pod(), 'null'), pod());
});

test('replacing the root with a non-object -> 422 Invalid on "patch"', () => {
  fails(
    () => applyJsonPatch(pod(), [{ op: 'replace', path: '', value: [1] }]),
    422,
    ' "" is invalid: patch: Invalid value: "[1]": couldn\'t get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }',
  );
});

test('__proto__ paths are refused', () => {
  fails(() => applyJsonPatch(pod(), [{ op: 'add', path: '/__proto__/polluted', value: 1 }]), 422, REJECTED);
  assert.equal(({} as any).polluted, undefined);
});

test('too many operations -> 413', () => {
  const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/metadata/name', value: 'p' }));
  fails(() => applyJsonPatch(pod(), ops), 413, `The allowed maximum operations in a JSON patch is 10000, got 10001`);
});
