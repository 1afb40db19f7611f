import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaderWork, type Component } from './leader-work.js';

/** a component that records its life; `slow` holds its start until released */
function recorder(log: string[], name: string, slow?: Promise<void>): Component {
  return {
    what: name,
    async start() {
      log.push(`start ${name}`);
      await slow;
      log.push(`started ${name}`);
    },
    stop() {
      log.push(`stop ${name}`);
    },
  };
}

describe('the leader\'s work', () => {
  it('is made fresh for each term, started on lead and stopped on resign; a second lead does nothing', async () => {
    const log: string[] = [];
    let made = 0;
    const work = new LeaderWork(() => [recorder(log, `c${++made}`)]);
    await work.lead();
    await work.lead();
    await new Promise((r) => setImmediate(r));
    await work.resign();
    await work.resign();
    await work.lead();
    await new Promise((r) => setImmediate(r));
    await work.resign();
    assert.deepEqual(log, ['start c1', 'started c1', 'stop c1', 'start c2', 'started c2', 'stop c2']);
    assert.equal(work.started, 2);
    assert.equal(work.active, false);
  });

  it('one that fails to start is logged and the others run; one still starting at resign is stopped again when its start ends', async () => {
    const log: string[] = [];
    const lines: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const work = new LeaderWork(
      () => [
        { what: 'the broken controller', start: () => Promise.reject(new Error('no informer')), stop: () => log.push('stop broken') },
        recorder(log, 'slow', slow),
      ],
      (l) => lines.push(l),
    );
    await work.lead();
    await work.resign();
    assert.deepEqual(log, ['start slow', 'stop broken', 'stop slow']);
    release();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(log, ['start slow', 'stop broken', 'stop slow', 'started slow', 'stop slow']);
    assert.deepEqual(lines, ['podbay: the broken controller did not start: no informer']);
  });
});
