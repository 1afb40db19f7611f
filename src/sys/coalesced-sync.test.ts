import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoalescedSync } from './coalesced-sync.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('schedules coalesce into one sync; a change during a sync brings exactly one more; stop waits and ends it', async () => {
  let runs = 0;
  let release: (() => void) | undefined;
  const s = new CoalescedSync(async () => {
    runs++;
    await new Promise<void>((r) => (release = r));
  }, 5, (e) => assert.fail(e));
  s.schedule();
  s.schedule();
  s.schedule();
  await tick(30);
  assert.equal(runs, 1, 'three asks, one sync');
  s.schedule(); // none pending: starts a timer, whose sync finds one running
  await tick(30);
  s.schedule();
  release!();
  await tick(30);
  assert.equal(runs, 2, 'the changes during the first sync made one more');
  release!();
  await tick(30);
  assert.equal(runs, 2);
  s.schedule();
  await s.stop();
  await tick(30);
  assert.equal(runs, 2, 'nothing runs after stop');
});

test('a failing sync is reported and does not wedge the next', async () => {
  const errors: string[] = [];
  let n = 0;
  const s = new CoalescedSync(async () => {
    if (n++ === 0) throw new Error('boom');
  }, 1, (e) => errors.push(e.message));
  s.schedule();
  await tick(20);
  await s.sync();
  assert.deepEqual(errors, ['boom']);
  assert.equal(n, 2);
});
