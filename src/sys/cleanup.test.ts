import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sideBySide } from './cleanup.js';

test('sideBySide runs the steps at once and waits for every one', async () => {
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const done = sideBySide([
    ['a', async () => { order.push('a start'); await gate; order.push('a end'); }],
    ['b', async () => { order.push('b start'); release(); }],
  ]);
  await done;
  assert.deepEqual(order, ['a start', 'b start', 'a end']);
});

test('sideBySide: one failure is thrown as it is, after the other steps finished', async () => {
  let otherFinished = false;
  const boom = new Error('CNI DEL failed');
  await assert.rejects(
    sideBySide([
      ['network', async () => { throw boom; }],
      ['pause', async () => { await new Promise((r) => setTimeout(r, 10)); otherFinished = true; }],
    ]),
    (e) => e === boom,
  );
  assert.equal(otherFinished, true);
});

test('sideBySide: several failures are named together', async () => {
  await assert.rejects(
    sideBySide([
      ['network', async () => { throw new Error('x'); }],
      ['ok', async () => undefined],
      ['shm', () => Promise.reject(new Error('busy'))],
    ]),
    { message: 'network: x; shm: busy' },
  );
});
