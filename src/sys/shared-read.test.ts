import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedNextRead } from './shared-read.js';

test('callers share a read, and one that asks while a read runs gets the next read, never an older one', async () => {
  let reads = 0;
  const gates: (() => void)[] = [];
  const read = sharedNextRead(async () => {
    const n = ++reads;
    await new Promise<void>((r) => gates.push(r));
    return n;
  });
  const a = read();
  const b = read(); // asked before the first read started: the same read
  await new Promise((r) => setImmediate(r));
  assert.equal(reads, 1);
  const c = read(); // asked while read 1 runs: the next one
  const d = read();
  gates.shift()!();
  assert.deepEqual(await Promise.all([a, b]), [1, 1]);
  await new Promise((r) => setImmediate(r));
  assert.equal(reads, 2, 'one more read for every caller that asked meanwhile');
  gates.shift()!();
  assert.deepEqual(await Promise.all([c, d]), [2, 2]);
  const e = read();
  await new Promise((r) => setImmediate(r));
  gates.shift()!();
  assert.equal(await e, 3);
});

test('a failed read fails its callers only; the next caller reads again', async () => {
  let n = 0;
  const read = sharedNextRead(async () => {
    if (++n === 1) throw new Error('EIO');
    return n;
  });
  await assert.rejects(Promise.all([read(), read()]), /EIO/);
  assert.equal(await read(), 2);
});
