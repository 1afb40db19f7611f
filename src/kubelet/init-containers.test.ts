import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextInitStep, type RunView } from './init-containers.js';

const step = (runs: Record<string, RunView>, init = ['a', 'b'], app = ['app']) => nextInitStep(init, app, (n) => runs[n]);

test('no init containers: done at once', () => {
  assert.deepEqual(nextInitStep([], ['app'], () => undefined), { done: true });
});

test('nothing ran yet: the first init container is next', () => {
  assert.deepEqual(step({}), { done: false, next: 'a' });
});

test('one at a time, in order: running waits, exit 0 moves on, the last exit 0 is done', () => {
  assert.deepEqual(step({ a: { state: 'running' } }), { done: false });
  assert.deepEqual(step({ a: { state: 'exited', exitCode: 0 } }), { done: false, next: 'b' });
  assert.deepEqual(step({ a: { state: 'exited', exitCode: 0 }, b: { state: 'running' } }), { done: false });
  assert.deepEqual(step({ a: { state: 'exited', exitCode: 0 }, b: { state: 'exited', exitCode: 0 } }), { done: true });
});

test('a failed init container is reported (the last failed one), whatever ran after it', () => {
  assert.deepEqual(step({ a: { state: 'exited', exitCode: 2 } }), { done: false, failed: 'a' });
  assert.deepEqual(step({ a: { state: 'exited', exitCode: 0 }, b: { state: 'exited', exitCode: 1 } }), { done: false, failed: 'b' });
  assert.deepEqual(step({ a: { state: 'unknown' } }), { done: false, failed: 'a' });
});

test('created but not started: start that one', () => {
  assert.deepEqual(step({ a: { state: 'exited', exitCode: 0 }, b: { state: 'created' } }), { done: false, next: 'b' });
});

test('a running app container means initialization happened before', () => {
  assert.deepEqual(step({ app: { state: 'running' } }), { done: true });
  // an exited app container does not: the init containers of this sandbox decide
  assert.deepEqual(step({ app: { state: 'exited', exitCode: 1 } }), { done: false, next: 'a' });
});
