import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError } from '../api/errors.js';
import { decodeTypedOrThrow, patchDecodeError, validateDeleteOptions, validateListOptions } from './request-options.js';

function thrown(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError);
    return e;
  }
  assert.fail('expected an ApiError');
}

describe('request options and decoding answers', () => {
  it('a type error in a body: 400 as transformDecodeError words it, with the field as a cause', () => {
    const obj = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', command: 'ls' }] } };
    const e = thrown(() => decodeTypedOrThrow('io.k8s.api.core.v1.Pod', 'Pod', 'v1', obj, true));
    assert.equal(e.code, 400);
    assert.equal(e.message, 'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field Container.spec.containers.command of type []string');
    assert.equal(e.details?.causes?.[0]?.field, 'spec.containers[0].command');
    const fine = { metadata: { name: 'p', bogus: 1 } };
    decodeTypedOrThrow('io.k8s.api.core.v1.Pod', 'Pod', 'v1', fine, true);
    assert.deepEqual(fine, { metadata: { name: 'p' } });
  });

  it('a patch whose result does not decode: 422 on the field patch (echo capped)', () => {
    const e = patchDecodeError('{"spec":1}', { message: 'json: cannot unmarshal number into Go struct field Pod.spec of type v1.PodSpec', field: 'spec' });
    assert.equal(e.code, 422);
    assert.equal(e.message, ' "" is invalid: patch: Invalid value: "{\\"spec\\":1}": json: cannot unmarshal number into Go struct field Pod.spec of type v1.PodSpec');
    assert.deepEqual(e.details?.causes?.map((c) => c.field), ['patch', 'spec']);
    assert.ok(patchDecodeError('x'.repeat(100_000), { message: 'm', field: 'f' }).message.length < 2000);
  });

  it('ListOptions: resourceVersionMatch as ValidateListOptions checks it', () => {
    validateListOptions({});
    validateListOptions({ resourceVersion: '5', resourceVersionMatch: 'NotOlderThan' });
    const e = thrown(() => validateListOptions({ resourceVersion: '5', resourceVersionMatch: 'Bogus' }));
    assert.equal(e.code, 422);
    assert.equal(e.message, 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Bogus": supported values: "Exact", "NotOlderThan", ""');
    assert.match(thrown(() => validateListOptions({ resourceVersionMatch: 'Exact' })).message, /forbidden unless resourceVersion is provided/);
    assert.match(thrown(() => validateListOptions({ resourceVersion: '0', resourceVersionMatch: 'Exact' })).message, /forbidden for resourceVersion "0"/);
  });

  it('DeleteOptions: propagationPolicy and dryRun values', () => {
    validateDeleteOptions(undefined, undefined);
    validateDeleteOptions('Background', ['All']);
    const e = thrown(() => validateDeleteOptions('Sometimes', ['Maybe']));
    assert.equal(e.code, 422);
    assert.deepEqual(e.details?.causes?.map((c) => c.field), ['propagationPolicy', 'dryRun']);
    assert.match(e.message, /^DeleteOptions\.meta\.k8s\.io "" is invalid: \[propagationPolicy: Unsupported value: "Sometimes": supported values: "Foreground", "Background", "Orphan", "nil", dryRun: Unsupported value: "Maybe"/);
  });
});
