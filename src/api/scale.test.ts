import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './errors.js';
import { resourceInfo } from './registry.js';
import { applyScale, patchScale, toScale } from './scale.js';

const DEPLOY = resourceInfo('deployments', 'apps', 'v1')!;
const RC = resourceInfo('replicationcontrollers')!;
const deploy = {
  metadata: { name: 'web', namespace: 'd', uid: 'u', resourceVersion: '7', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { replicas: 3, selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe'] }] } },
  status: { replicas: 2 },
};

test('toScale: spec.replicas, status.replicas and the selector as a string', () => {
  assert.deepEqual(toScale(DEPLOY, deploy), {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: 'web', namespace: 'd', uid: 'u', resourceVersion: '7', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { replicas: 3 },
    status: { replicas: 2, selector: 'app=web,tier in (fe)' },
  });
  assert.equal(toScale(RC, { metadata: { name: 'rc' }, spec: { selector: { app: 'rc' } } }).status.selector, 'app=rc');
});

test('applyScale: replicas onto the object, the Scale resourceVersion as precondition; negative refused', () => {
  const out = applyScale(deploy, { metadata: { resourceVersion: '6' }, spec: { replicas: 5 } });
  assert.equal(out.spec.replicas, 5);
  assert.equal(out.metadata.resourceVersion, '6');
  assert.equal(deploy.spec.replicas, 3, 'the input is not changed');
  assert.equal(applyScale(deploy, { spec: { replicas: 0 } }).spec.replicas, 0);
  assert.throws(
    () => applyScale(deploy, { spec: { replicas: -1 } }),
    (e: unknown) => e instanceof ApiError && e.code === 422 && e.message === 'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
  );
});

test('patchScale: merge and JSON patches on the Scale; a wrongly typed value is a 400', () => {
  assert.equal(patchScale(DEPLOY, deploy, 'application/merge-patch+json', '{"spec":{"replicas":4}}').spec.replicas, 4);
  assert.equal(patchScale(DEPLOY, deploy, 'application/json-patch+json', '[{"op":"replace","path":"/spec/replicas","value":1}]').spec.replicas, 1);
  assert.throws(
    () => patchScale(DEPLOY, deploy, 'application/merge-patch+json', '{"spec":{"replicas":"many"}}'),
    (e: unknown) => e instanceof ApiError && e.code === 400 && /cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32/.test(e.message),
  );
});
