import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DirLockedError, lockDir, lockHolder } from './owner-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'podbay-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('lockDir', () => {
  it('refuses a second owner in the same process, naming the PID, until released', () => {
    const d = join(dir, 'a');
    const first = lockDir(d, 'data dir');
    assert.equal(lockHolder(d), process.pid);
    assert.throws(
      () => lockDir(d, 'data dir'),
      (e: unknown) => e instanceof DirLockedError && e.pid === process.pid && e.message.includes(`PID ${process.pid}`) && e.message.includes('data dir'),
    );
    first.release();
    first.release();
    lockDir(d, 'data dir').release();
  });

  it('refuses while another process holds it, and is free once that process is killed', async () => {
    const d = join(dir, 'b');
    const mod = fileURLToPath(new URL('./owner-lock.js', import.meta.url));
    const child = spawn(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(mod)}); m.lockDir(${JSON.stringify(d)}, 'data dir'); console.log('locked'); setInterval(() => {}, 1000);`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b) => String(b).includes('locked') && resolve());
      child.once('exit', (c) => reject(new Error(`child exited ${c}`)));
    });
    try {
      assert.throws(() => lockDir(d, "run dir"), (e: unknown) => { assert.ok(e instanceof DirLockedError); assert.equal(e.pid, child.pid); assert.match(e.message, /run dir .*\(PID \d+/); return true; });
    } finally {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    // the kernel dropped the dead holder's lock
    lockDir(d, 'data dir').release();
  });
});
