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

test('native sidecars: started in order, do not block the next init container once started, kept with the app containers', () => {
  const sidecar = { restartable: (n: string) => n === 's' };
  const st = (runs: Record<string, RunView>, started = true) =>
    nextInitStep(['a', 's', 'b'], ['app'], (n) => runs[n], { ...sidecar, started: () => started });
  assert.deepEqual(st({ a: { state: 'exited', exitCode: 0 } }), { done: false, next: 's' });
  // running but its startup probe has not passed: the next init container waits
  assert.deepEqual(st({ a: { state: 'exited', exitCode: 0 }, s: { state: 'running' } }, false), { done: false, sidecars: ['s'] });
  // running and started: the next one goes while the sidecar keeps running
  assert.deepEqual(st({ a: { state: 'exited', exitCode: 0 }, s: { state: 'running' } }), { done: false, next: 'b', sidecars: ['s'] });
  assert.deepEqual(st({ a: { state: 'exited', exitCode: 0 }, s: { state: 'running' }, b: { state: 'exited', exitCode: 0 } }), { done: true, sidecars: ['s'] });
  // an exited sidecar (whatever its code) is restarted, and does not block initialization
  assert.deepEqual(st({ a: { state: 'exited', exitCode: 0 }, s: { state: 'exited', exitCode: 1 }, b: { state: 'exited', exitCode: 0 } }), { done: true, sidecars: ['s'] });
  // once the app runs, only the sidecars are kept
  assert.deepEqual(st({ s: { state: 'running' }, app: { state: 'running' } }), { done: true, sidecars: ['s'] });
});

test('a sidecar alone (no regular init container) lets the app containers start once it runs', () => {
  const view = { restartable: () => true, started: () => true };
  assert.deepEqual(nextInitStep(['s'], ['app'], () => undefined, view), { done: false, next: 's' });
  assert.deepEqual(nextInitStep(['s'], ['app'], () => ({ state: 'running' }), view), { done: true, sidecars: ['s'] });
});
