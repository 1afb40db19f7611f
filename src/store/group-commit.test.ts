import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from './group-commit.js';

/** a sync the test completes by hand */
function manualSync() {
  const calls: { resolve: () => void; reject: (e: Error) => void }[] = [];
  return { calls, sync: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })) };
}

const tick = () => new Promise((r) => setImmediate(r));

test('a write resolves only after an fsync that started after its commit; commits during an fsync share the next one', async () => {
  const m = manualSync();
  const log: string[] = [];
  const g = new GroupCommit({ durable: 10, sync: m.sync, onDurable: (upTo) => log.push(`durable ${upTo}`) });
  const done = (rev: number) => g.whenDurable(rev).then(() => log.push(`ack ${rev}`));
  g.committedUpTo(11);
  const a = done(11);
  assert.equal(m.calls.length, 1, 'the first commit starts an fsync at once');
  for (const r of [12, 13, 14]) {
    g.committedUpTo(r);
    void done(r);
  }
  assert.equal(m.calls.length, 1, 'no second fsync while one runs');
  await tick();
  assert.deepEqual(log, [], 'nothing acknowledged before its fsync');
  m.calls[0]!.resolve();
  await a;
  await tick();
  assert.deepEqual(log, ['durable 11', 'ack 11']);
  assert.equal(m.calls.length, 2, 'the writes committed meanwhile get one fsync together');
  m.calls[1]!.resolve();
  await tick();
  await tick();
  assert.deepEqual(log, ['durable 11', 'ack 11', 'durable 14', 'ack 12', 'ack 13', 'ack 14']);
  assert.equal(g.durableRevision, 14);
  assert.equal(g.syncs, 2);
  await g.whenDurable(9); // already durable: at once
  assert.equal(m.calls.length, 2, 'nothing new committed: no fsync');
});

test('a failed fsync fails every waiter and every later write', async () => {
  const m = manualSync();
  const g = new GroupCommit({ durable: 0, sync: m.sync, onDurable: () => assert.fail('nothing is durable') });
  g.committedUpTo(1);
  const w = g.whenDurable(1);
  m.calls[0]!.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
  await assert.rejects(w, /could not be synced to disk.*EIO/);
  assert.match(g.failed!.message, /restart podbay/);
  g.committedUpTo(2);
  await assert.rejects(g.whenDurable(2), /could not be synced/);
  assert.equal(m.calls.length, 1, 'no fsync after a failed one');
});

test('flush waits for everything committed', async () => {
  let syncs = 0;
  const g = new GroupCommit({ durable: 0, sync: async () => void syncs++, onDurable: () => {} });
  g.committedUpTo(3);
  await g.flush();
  assert.equal(g.durableRevision, 3);
  assert.equal(syncs, 1);
});
