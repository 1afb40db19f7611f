import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StartUndo } from './start-undo.js';

describe('StartUndo', () => {
  it('a failed start undoes its steps last first, the `last` one after all; a failing step is reported and the rest still run', async () => {
    const ran: string[] = [];
    const reports: string[] = [];
    await assert.rejects(
      StartUndo.around(async (undo) => {
        undo.push('locks', () => ran.push('locks'));
        undo.last('run dir', () => ran.push('run dir'));
        undo.push('store', () => {
          ran.push('store');
          throw new Error('already closed');
        });
        undo.push('heartbeat', async () => ran.push('heartbeat'));
        throw new Error('listen EADDRINUSE');
      }, (l) => reports.push(l)),
      /listen EADDRINUSE/,
    );
    assert.deepEqual(ran, ['heartbeat', 'store', 'locks', 'run dir']);
    assert.deepEqual(reports, ['podbay: after the failed start, store: already closed']);
  });

  it('once the start serves, nothing is undone; a start that returns undoes nothing', async () => {
    const ran: string[] = [];
    await assert.rejects(
      StartUndo.around(async (undo) => {
        undo.push('locks', () => ran.push('locks'));
        undo.done();
        throw new Error('later');
      }, () => {}),
    );
    assert.equal(await StartUndo.around(async (undo) => (undo.push('x', () => ran.push('x')), 0), () => {}), 0);
    assert.deepEqual(ran, []);
  });
});
