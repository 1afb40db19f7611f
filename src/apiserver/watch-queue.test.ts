import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { WatchQueue } from './watch-queue.js';

/** A sink that takes `room` chunks, then refuses until refilled (like a socket's buffer). */
function sink(room: number) {
  const got: string[] = [];
  return {
    got,
    room,
    write(chunk: string): boolean {
      got.push(chunk);
      return --this.room > 0;
    },
  };
}

describe('WatchQueue', () => {
  it('writes straight through while the sink accepts', () => {
    const s = sink(100);
    const q = new WatchQueue(s, 10, () => assert.fail('no overflow'));
    for (let i = 0; i < 50; i++) q.push(`e${i}\n`);
    assert.equal(s.got.length, 50);
    assert.equal(q.queued, 0);
  });

  it('holds events once the sink refuses and sends them in order on drain', () => {
    const s = sink(2);
    const q = new WatchQueue(s, 1000, () => assert.fail('no overflow'));
    for (let i = 0; i < 6; i++) q.push(`e${i}\n`);
    assert.deepEqual(s.got, ['e0\n', 'e1\n']);
    assert.equal(q.queued, 12);
    s.room = 2;
    q.drained();
    assert.deepEqual(s.got, ['e0\n', 'e1\n', 'e2\n', 'e3\n']);
    assert.equal(q.queued, 6);
    q.push('e6\n'); // still blocked: queued behind e4, e5
    s.room = 100;
    q.drained();
    assert.deepEqual(s.got.slice(4), ['e4\n', 'e5\n', 'e6\n']);
    assert.equal(q.queued, 0);
    q.push('e7\n'); // unblocked: direct
    assert.equal(s.got.at(-1), 'e7\n');
  });

  it('gives up once more than the limit is queued, once, and takes nothing more', () => {
    const s = sink(1);
    let overflows = 0;
    let at = 0;
    const q = new WatchQueue(s, 25, (n) => {
      overflows++;
      at = n;
    });
    q.push('first line\n'); // written; the sink is now full
    for (let i = 0; i < 10; i++) q.push('0123456789\n');
    assert.equal(overflows, 1);
    assert.equal(at, 33);
    assert.ok(q.closed);
    assert.equal(q.queued, 0);
    s.room = 100;
    q.drained();
    q.push('late\n');
    assert.deepEqual(s.got, ['first line\n']);
  });

  it('flushAll hands what waited to the sink in one piece (normal end of the watch)', () => {
    const s = sink(1);
    const q = new WatchQueue(s, 1000, () => assert.fail('no overflow'));
    q.push('a\n');
    q.push('b\n');
    q.push('c\n');
    q.flushAll();
    assert.deepEqual(s.got, ['a\n', 'b\nc\n']);
    assert.equal(q.queued, 0);
  });
});
