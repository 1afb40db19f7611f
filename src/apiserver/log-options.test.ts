import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError } from '../api/errors.js';
import { podLogOptions } from './log-options.js';

const opts = (qs: string) => podLogOptions(new URLSearchParams(qs), 'web');
function failure(qs: string): ApiError {
  try {
    opts(qs);
  } catch (e) {
    assert.ok(e instanceof ApiError);
    return e;
  }
  assert.fail(`expected ${qs} to be refused`);
}

describe('pods/log options, as kube-apiserver reads and validates them', () => {
  it('reads booleans as clients spell them and integers as ParseInt does', () => {
    assert.deepEqual(opts('follow=True&timestamps=1&previous=false&tailLines=10&container=c'), {
      container: 'c',
      follow: true,
      previous: false,
      timestamps: true,
      tailLines: 10,
      sinceSeconds: undefined,
      sinceTime: undefined,
      limitBytes: undefined,
    });
    assert.equal(failure('tailLines=ten').message, 'strconv.ParseInt: parsing "ten": invalid syntax');
  });

  it('ValidatePodLogOptions: 422 naming the field, in its words', () => {
    const e = failure('tailLines=-1');
    assert.equal(e.code, 422);
    assert.equal(e.message, 'PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0');
    assert.equal(failure('limitBytes=0').message, 'PodLogOptions "web" is invalid: limitBytes: Invalid value: 0: must be greater than 0');
    assert.equal(failure('sinceSeconds=0').message, 'PodLogOptions "web" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0');
    assert.match(failure('sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z').message, /at most one of `sinceTime` or `sinceSeconds` may be specified/);
    assert.equal(failure('sinceTime=yesterday').code, 400);
  });
});
