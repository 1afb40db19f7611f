import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const mod = fileURLToPath(new URL('./stop-signal.js', import.meta.url));

/** a child process that uses the module as `podbay server` does, with signals sent to itself */
function child(script: string): { status: number | null; signal: string | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import * as s from ${JSON.stringify(mod)};\n${script}`], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout };
}

describe('stop signals', () => {
  it('a SIGTERM during start-up is held until start-up is done, then shutdown runs', () => {
    const r = child(`s.catchStopSignals('podbay');
      process.kill(process.pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 100)); // "start-up" still running: the process must live on
      console.log('started', s.stopRequested());
      console.log('stop', await s.whenStopRequested());`);
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'started SIGTERM\nstop SIGTERM\n');
    assert.match(r.stderr, /podbay: SIGTERM: shutting down/);
  });

  it('a second signal while shutting down exits at once with status 1', () => {
    const r = child(`s.catchStopSignals('podbay agent');
      setInterval(() => {}, 1000); // a server's sockets keep it alive
      setTimeout(() => process.kill(process.pid, 'SIGINT'), 10);
      await s.whenStopRequested();
      process.kill(process.pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 5000)); // a shutdown that hangs
      console.log('not reached');`);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /podbay agent: SIGINT: shutting down/);
    assert.match(r.stderr, /podbay agent: SIGTERM again while shutting down: exiting now/);
  });

  it('no signal: nothing is requested', () => {
    const r = child(`s.catchStopSignals(); console.log(String(s.stopRequested()));`);
    assert.equal(r.stdout, 'undefined\n');
    assert.equal(r.status, 0);
  });
});
