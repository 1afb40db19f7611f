import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crashBackoff, crashBackoffEventMessage, crashBackoffMessage, type CrashBackoffEntry } from './crash-backoff.js';

const pod = { metadata: { name: 'live', namespace: 'default', uid: 'u-1' } };

test('a container that exits on its own: the first restart at once, then 10 s, 20 s, 40 s ... up to 5 min after each exit', () => {
  let entry: CrashBackoffEntry | undefined;
  let now = 1_000_000;
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    const finished = now; // it exits right after starting
    let d = crashBackoff(entry, finished, now);
    let waited = 0;
    while (!d.start) {
      waited += d.waitMs;
      now += d.waitMs;
      d = crashBackoff(entry, finished, now);
    }
    entry = d.entry;
    waits.push(waited / 1000);
  }
  assert.deepEqual(waits, [0, 10, 20, 40, 80, 160, 300, 300]);
});

test('a container killed by its liveness probe: decided before the kill, from the previous run\'s end (doBackOff)', () => {
  // the first run is killed: no exited run yet, so it restarts at once and no back-off starts
  let d = crashBackoff(undefined, undefined, 1000);
  assert.deepEqual(d, { start: true, entry: undefined });
  // the second run is killed: the first one's end is the reference, no entry yet: at once, 10 s from now on
  d = crashBackoff(undefined, 1000, 3000);
  assert.deepEqual(d, { start: true, entry: { delayMs: 10_000 } });
  // the third run is killed 2 s after the second ended: CrashLoopBackOff for the 8 s left
  d = crashBackoff({ delayMs: 10_000 }, 3000, 5000);
  assert.deepEqual(d, { start: false, waitMs: 8000, delayMs: 10_000 });
});

test('a killed run that had run longer than the delay restarts at once, and the delay doubles', () => {
  const d = crashBackoff({ delayMs: 10_000 }, 0, 60_000);
  assert.deepEqual(d, { start: true, entry: { delayMs: 20_000 } });
  assert.deepEqual(crashBackoff({ delayMs: 300_000 }, 0, 400_000), { start: true, entry: { delayMs: 300_000 } });
});

test('no exited run keeps an existing back-off as it is', () => {
  assert.deepEqual(crashBackoff({ delayMs: 40_000 }, undefined, 5), { start: true, entry: { delayMs: 40_000 } });
});

test('the waiting message and the event, as the kubelet words them', () => {
  assert.equal(crashBackoffMessage(10_000, 'c', pod), 'back-off 10s restarting failed container=c pod=live_default(u-1)');
  assert.equal(crashBackoffMessage(160_000, 'c', pod), 'back-off 2m40s restarting failed container=c pod=live_default(u-1)');
  assert.equal(crashBackoffMessage(300_000, 'c', pod), 'back-off 5m0s restarting failed container=c pod=live_default(u-1)');
  assert.equal(crashBackoffEventMessage('c', pod), 'Back-off restarting failed container c in pod live_default(u-1)');
});
