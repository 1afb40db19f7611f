import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWorkers, WorkQueue } from './workqueue.js';

describe('work queue', () => {
  it('queues a key once however often it is added, in order', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.len(), 0);
  });

  it('a key added while it is processed is not handed out twice, and is queued again on done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    assert.equal(q.len(), 0, 'not queued while processing');
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, undefined, 'no second worker gets it');
    q.done(key!);
    await new Promise((r) => setImmediate(r));
    assert.equal(second, 'a');
  });

  it('rate-limited requeues wait base * 2^n up to the cap; forget starts over', async () => {
    const q = new WorkQueue({ baseMs: 5, maxMs: 20 });
    assert.deepEqual([0, 1, 2, 3].map(() => {
      const w = q.when('k');
      q.addRateLimited('k');
      return w;
    }), [5, 10, 20, 20]);
    assert.equal(q.numRequeues('k'), 4);
    q.forget('k');
    assert.equal(q.when('k'), 5);
    const t0 = Date.now();
    assert.equal(await q.get(), 'k');
    assert.ok(Date.now() - t0 >= 4, 'the key came back after its delay');
    q.shutDown();
  });

  it('workers retry a failing key rate-limited until it succeeds; shutDown ends them', async () => {
    const q = new WorkQueue({ baseMs: 1, maxMs: 10 });
    const tries: string[] = [];
    const logged: string[] = [];
    let fails = 3;
    const running = runWorkers(q, 2, async (key) => {
      tries.push(key);
      if (key === 'bad' && fails-- > 0) throw new Error('not yet');
    }, (l) => logged.push(l));
    q.add('bad');
    q.add('good');
    while (tries.filter((k) => k === 'bad').length < 4) await new Promise((r) => setTimeout(r, 2));
    assert.equal(tries.filter((k) => k === 'good').length, 1);
    assert.deepEqual(logged, ['bad: not yet; retrying in 1 ms', 'bad: not yet; retrying in 2 ms', 'bad: not yet; retrying in 4 ms']);
    assert.equal(q.numRequeues('bad'), 0, 'success forgets the failures');
    q.shutDown();
    await running;
    q.add('late');
    assert.equal(q.len(), 0, 'a shut-down queue takes nothing');
  });
});
