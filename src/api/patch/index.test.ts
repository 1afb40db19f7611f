import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../errors.js';
import { applyPatch, patchMediaType, APPLY_CBOR_UNSUPPORTED_MESSAGE } from './index.js';
import { POD, TEST_SCHEMAS } from './test-schemas.js';

const pod = (): any => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'a', image: 'busybox:1.36' }, { name: 'b', image: 'nginx' }] },
});

const run = (ct: string, body: string): any => applyPatch(ct, pod(), body, POD, TEST_SCHEMAS);

function err(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return e;
  }
  assert.fail('expected an error');
}

test('dispatches on content type (parameters ignored)', () => {
  const smp = run(
    'application/strategic-merge-patch+json; charset=utf-8',
    '{"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],"containers":[{"image":"busybox:1.37","name":"a"}]}}',
  );
  assert.deepEqual(smp.spec.containers, [{ name: 'a', image: 'busybox:1.37' }, { name: 'b', image: 'nginx' }]);

  const merge = run('application/merge-patch+json', '{"spec":{"containers":[{"name":"z"}]}}');
  assert.deepEqual(merge.spec.containers, [{ name: 'z' }]);

  const jp = run('application/json-patch+json', '[{"op":"replace","path":"/spec/containers/1/image","value":"nginx:1.27"}]');
  assert.equal(jp.spec.containers[1].image, 'nginx:1.27');
});

test('server-side apply in CBOR -> 415 naming the YAML form (apply itself is the registry\'s, not a patch)', () => {
  const e = err(() => run('application/apply-patch+cbor', 'x'));
  assert.equal(e.code, 415);
  assert.equal(e.reason, 'UnsupportedMediaType');
  assert.equal(e.message, APPLY_CBOR_UNSUPPORTED_MESSAGE);
});

test('unknown content type -> 415 listing the supported types', () => {
  const e = err(() => run('application/json', '{}'));
  assert.equal(e.code, 415);
  assert.equal(
    e.message,
    'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json',
  );
});

test('malformed JSON bodies -> 400 for every patch type', () => {
  for (const ct of ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']) {
    const e = err(() => run(ct, '{"spec":'));
    assert.equal(e.code, 400, ct);
    assert.equal(e.message, 'invalid JSON patch');
  }
  const e = err(() => run('application/strategic-merge-patch+json', '[]'));
  assert.equal(e.code, 400);
  assert.equal(e.message, 'json: cannot unmarshal array into Go value of type map[string]interface {}');
});

test('patchMediaType', () => {
  assert.equal(patchMediaType('Application/Merge-Patch+JSON ; charset=UTF-8'), 'application/merge-patch+json');
});
