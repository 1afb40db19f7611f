import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { parentPid, pidAlive, signalInit } from './procs.js';

// this process stands in for conmon: its command line must mention the container id
const self = readFileSync('/proc/self/cmdline', 'utf8').split('\0')[0]!;

test('signalInit signals a live child of the given parent', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await once(child, 'spawn');
  const exited = once(child, 'exit');
  assert.equal(signalInit(child.pid!, process.pid, self, 'SIGKILL'), true);
  const [code, signal] = await exited;
  assert.equal(code, null);
  assert.equal(signal, 'SIGKILL');
});

test('signalInit refuses a process that is not the parent\'s child, and a parent that does not mention the id', async () => {
  // a grandchild: its parent is the shell, not this process
  const sh = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = (await once(sh.stdout!, 'data')) as [Buffer];
  const grandchild = Number(line.toString().trim());
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await once(child, 'spawn');
  try {
    assert.equal(signalInit(grandchild, process.pid, self, 'SIGKILL'), false);
    assert.equal(signalInit(child.pid!, process.pid, 'not-this-container-0123456789abcdef', 'SIGKILL'), false);
    assert.equal(signalInit(child.pid!, 0, self, 'SIGKILL'), false);
    assert.equal(signalInit(0, process.pid, self, 'SIGKILL'), false);
    assert.equal(pidAlive(grandchild), true);
    assert.equal(pidAlive(child.pid!), true);
  } finally {
    process.kill(grandchild, 'SIGKILL');
    child.kill('SIGKILL');
    sh.kill('SIGKILL');
  }
});

test('signalInit: a process that has exited is not signalled', async () => {
  const child = spawn('true', [], { stdio: 'ignore' });
  const pid = child.pid!;
  await once(child, 'exit');
  assert.equal(signalInit(pid, process.pid, self, 'SIGKILL'), false);
  assert.equal(pidAlive(pid), false);
});

test("parentPid reads the kernel's parent field; 0 for a pid that does not exist", () => {
  assert.equal(parentPid(process.pid), process.ppid);
  assert.equal(parentPid(0x7ffffff0), 0);
});
