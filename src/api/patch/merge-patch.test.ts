import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../errors.js';
import { applyMergePatch } from './merge-patch.js';

const pod = (): any => ({
  metadata: { name: 'p', labels: { app: 'x', tier: 'web' } },
  spec: { containers: [{ name: 'a', image: 'busybox' }, { name: 'b', image: 'nginx' }], nodeSelector: { disk: 'ssd' } },
});

test('maps merge, null deletes, arrays replaced', () => {
  const orig = pod();
  const out: any = applyMergePatch(orig, {
    metadata: { labels: { app: null, env: 'prod' } },
    spec: { containers: [{ name: 'a', image: 'busybox:1.37' }], nodeSelector: null },
  });
  assert.deepEqual(out.metadata.labels, { tier: 'web', env: 'prod' });
  assert.deepEqual(out.spec.containers, [{ name: 'a', image: 'busybox:1.37' }]);
  assert.ok(!('nodeSelector' in out.spec));
  assert.deepEqual(orig, pod());
});

test('raw body; nulls pruned in new subtrees, also in objects inside arrays', () => {
  const out: any = applyMergePatch(pod(), '{"metadata":{"annotations":{"a":"1","b":null}},"spec":{"tolerations":[{"key":"k","value":null},null]}}');
  assert.deepEqual(out.metadata.annotations, { a: '1' });
  assert.deepEqual(out.spec.tolerations, [{ key: 'k' }, null]);
});

test('object replaces scalar and vice versa', () => {
  const out: any = applyMergePatch({ a: 'x', b: { c: 1 } }, { a: { d: null, e: 1 }, b: 'y' });
  assert.deepEqual(out, { a: { e: 1 }, b: 'y' });
});

test('RFC 7386 appendix examples', () => {
  assert.deepEqual(applyMergePatch({ a: 'b' }, { a: 'c' }), { a: 'c' });
  assert.deepEqual(applyMergePatch({ a: 'b' }, { b: 'c' }), { a: 'b', b: 'c' });
  assert.deepEqual(applyMergePatch({ a: 'b' }, { a: null }), {});
  assert.deepEqual(applyMergePatch({ a: 'b', b: 'c' }, { a: null }), { b: 'c' });
  assert.deepEqual(applyMergePatch({ a: ['b'] }, { a: 'c' }), { a: 'c' });
  assert.deepEqual(applyMergePatch({ a: { b: 'c' } }, { a: { b: 'd', c: null } }), { a: { b: 'd' } });
  assert.deepEqual(applyMergePatch({ a: [{ b: 'c' }] }, { a: [1] }), { a: [1] });
  assert.deepEqual(applyMergePatch({}, { a: { bb: { ccc: null } } }), { a: { bb: {} } });
});

test('errors: invalid JSON 400, null body 400, non-object 422', () => {
  const code = (fn: () => unknown): [number, string] => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ApiError);
      return [e.code, e.message];
    }
    return [0, ''];
  };
  assert.deepEqual(code(() => applyMergePatch(pod(), '{')), [400, 'invalid JSON patch']);
  assert.deepEqual(code(() => applyMergePatch(pod(), 'null')), [400, 'Invalid JSON Patch']);
  const [c, m] = code(() => applyMergePatch(pod(), '[1]'));
  assert.equal(c, 422);
  assert.match(m, /^ "" is invalid: patch: Invalid value: "\[1\]": couldn't get version\/kind/);
});

test('__proto__ keys stay plain data', () => {
  const out: any = applyMergePatch({}, '{"__proto__":{"polluted":1}}');
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.keys(out), ['__proto__']);
  assert.equal(({} as any).polluted, undefined);
});
