import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, utimesSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FileLock, LockTimeoutError, Mutex, processStartTime, ownerAlive } from './lock.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'podbay-lock-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function deadPid(): Promise<number> {
  const c = spawn('true');
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

test('Mutex runs one operation at a time, in order, and survives a failure', async () => {
  const m = new Mutex();
  const log: string[] = [];
  const op = (name: string, ms: number, fail = false) =>
    m.run(async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
    });
  const results = await Promise.allSettled([op('a', 20, true), op('b', 1), op('c', 5)]);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.equal(results[0].status, 'rejected');
  assert.equal(results[2].status, 'fulfilled');
});

test('FileLock writes its owner and removes the file on release', async (t) => {
  const dir = tempDir(t);
  const l = new FileLock(join(dir, 'index.lock'));
  await l.acquire();
  const owner = JSON.parse(readFileSync(join(dir, 'index.lock'), 'utf8'));
  assert.equal(owner.pid, process.pid);
  assert.equal(owner.start, processStartTime(process.pid));
  await l.release();
  assert.equal(existsSync(join(dir, 'index.lock')), false);
});

test('FileLock takes over a lock whose owner is dead, or whose pid was reused', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'index.lock');
  const pid = await deadPid();
  assert.equal(ownerAlive({ pid }), false);
  writeFileSync(path, JSON.stringify({ pid, start: '1' }));
  const l = new FileLock(path, 2000);
  await l.acquire();
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  await l.release();

  // our own pid, but another start time: a recycled pid, so the lock is stale
  writeFileSync(path, JSON.stringify({ pid: process.pid, start: 'not-the-start-time' }));
  await l.acquire();
  await l.release();
});

test('FileLock waits for a live owner, then times out naming it; proceeds once it is gone', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'index.lock');
  const child = spawn('sleep', ['30']);
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.on('spawn', r));
  writeFileSync(path, JSON.stringify({ pid: child.pid, start: processStartTime(child.pid!) }));
  const l = new FileLock(path, 300);
  await assert.rejects(l.acquire(), (e: Error) => {
    assert.ok(e instanceof LockTimeoutError);
    assert.match(e.message, new RegExp(`held by pid ${child.pid}`));
    assert.match(e.message, /index\.lock/);
    return true;
  });
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
  await new FileLock(path, 2000).acquire();
});

test('FileLock: an unreadable lock file is left alone briefly, then treated as debris', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'index.lock');
  writeFileSync(path, '');
  await assert.rejects(new FileLock(path, 100).acquire(), LockTimeoutError);
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  const l = new FileLock(path, 2000);
  await l.acquire();
  await l.release();
});
