import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyncBackoff } from './sync-backoff.js';

test('delays double from the initial one up to the cap; waiting until each is over', () => {
  let now = 1_000_000;
  const b = new SyncBackoff({ initialMs: 2000, maxMs: 10_000, now: () => now });
  assert.equal(b.waiting('u'), false);
  assert.deepEqual([b.failed('u'), b.failed('u'), b.failed('u'), b.failed('u')], [2000, 4000, 8000, 10_000]);
  assert.equal(b.waiting('u'), true);
  now += 9_000;
  assert.equal(b.waiting('u'), true);
  now += 960; // within the timer slack of the due time
  assert.equal(b.waiting('u'), false);
});

test('success starts afresh; forget drops the pod and its containers, not other pods', () => {
  let now = 0;
  const b = new SyncBackoff({ initialMs: 1000, maxMs: 60_000, now: () => now });
  b.failed('u');
  b.failed('u');
  b.succeeded('u');
  assert.equal(b.waiting('u'), false);
  assert.equal(b.failed('u'), 1000);
  b.failed('u/c');
  b.failed('u2');
  b.failed('u2/c');
  b.forget('u');
  assert.equal(b.waiting('u'), false);
  assert.equal(b.waiting('u/c'), false);
  assert.equal(b.waiting('u2'), true);
  assert.equal(b.size, 2);
});

test('failedBefore: true from a failure until success or forget, also once the delay is over', () => {
  let now = 0;
  const b = new SyncBackoff({ initialMs: 1000, maxMs: 60_000, now: () => now });
  assert.equal(b.failedBefore('u'), false);
  b.failed('u');
  now = 5000;
  assert.equal(b.waiting('u'), false);
  assert.equal(b.failedBefore('u'), true, 'a retry after the delay is still not a first try');
  assert.equal(b.failedBefore('u2'), false);
  b.succeeded('u');
  assert.equal(b.failedBefore('u'), false);
  b.failed('u');
  b.forget('u');
  assert.equal(b.failedBefore('u'), false);
});
