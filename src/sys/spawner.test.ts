import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnerPid, spawnVia, stopSpawner, useSpawner } from './spawner.js';
import { run } from './exec.js';

after(() => stopSpawner());

test('commands run from the spawner process: input, env, cwd, exit codes and output come back', async () => {
  useSpawner(true);
  const r = await run('/bin/sh', ['-c', 'read x; echo "$x $FOO $(pwd) $PPID"; echo err >&2; exit 3'], { input: 'hello\n', env: { FOO: 'bar', PATH: '/usr/bin:/bin' }, cwd: '/tmp', allowFailure: true });
  assert.equal(r.code, 3);
  const [x, foo, cwd, ppid] = r.stdout.trim().split(' ');
  assert.deepEqual([x, foo, cwd], ['hello', 'bar', '/tmp']);
  assert.equal(Number(ppid), spawnerPid(), 'started by the spawner, not by this process');
  assert.notEqual(Number(ppid), process.pid);
  assert.equal(r.stderr, 'err\n');
  const b = await run('/bin/cat', [], { input: Buffer.from([1, 2, 3, 10]) });
  assert.equal(b.stdout, '\x01\x02\x03\n', 'a Buffer input arrives whole');
  await assert.rejects(run('/nonexistent/cmd', []), /nonexistent/);
  await assert.rejects(run('/bin/sh', ['-c', 'echo oops >&2; exit 1']), /failed \(exit 1\): oops/);
});

test('commands in flight when the spawner dies fail saying so; the next one starts a new spawner', async () => {
  useSpawner(true);
  await run('/bin/true', []);
  const first = spawnerPid()!;
  const slow = spawnVia({ command: '/bin/sleep', args: ['5'] });
  await new Promise((r) => setTimeout(r, 100));
  process.kill(first, 'SIGKILL');
  const out = await slow;
  assert.equal(out.code, null);
  assert.match(out.error ?? '', /spawner process exited \(SIGKILL\) before the command's result came back/);
  const r = await run('/bin/echo', ['again']);
  assert.equal(r.stdout, 'again\n');
  assert.notEqual(spawnerPid(), first);
});

test('a timeout kills the command in the spawner', async () => {
  useSpawner(true);
  const t0 = Date.now();
  const out = await spawnVia({ command: '/bin/sleep', args: ['5'], timeoutMs: 200 });
  assert.ok(Date.now() - t0 < 3000);
  assert.match(out.stderr, /killed after 200 ms/);
});

test('off, or with file descriptors to pass, commands start from this process', async () => {
  useSpawner(false);
  const r = await run('/bin/sh', ['-c', 'echo $PPID']);
  assert.equal(Number(r.stdout.trim()), process.pid);
  useSpawner(true);
  const fd = await run('/bin/sh', ['-c', 'echo $PPID'], { extraFds: ['pipe'] });
  assert.equal(Number(fd.stdout.trim()), process.pid);
});

test("a sync pipe on fd 3: its first line comes back, the run ends at it though a process the child forked keeps the pipe", async () => {
  useSpawner(true);
  // the child prints its line, forks a holder of fd 3 that outlives it, and exits (conmon's way)
  const r = await run('/bin/sh', ['-c', '(sleep 5 <&- >&- 2>&-) & echo "{\\"data\\": $$}" >&3; echo $PPID'], { syncPipe: true, timeoutMs: 10_000 });
  assert.equal(Number(r.stdout.trim()), spawnerPid());
  assert.match(r.sync ?? '', /^\{"data": \d+\}\n$/);
  assert.equal(r.timedOut, undefined);
  // nothing written and the pipe closed: an empty line, at the child's exit
  const none = await run('/bin/sh', ['-c', 'exit 3'], { syncPipe: true, allowFailure: true });
  assert.equal(none.code, 3);
  assert.equal(none.sync, '');
  // a line that never comes while a holder keeps the pipe open: the timeout ends the wait
  const t0 = Date.now();
  const stuck = await run('/bin/sh', ['-c', '(sleep 5 <&- >&- 2>&-) &'], { syncPipe: true, timeoutMs: 300, allowFailure: true });
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(stuck.timedOut, true);
  assert.equal(stuck.sync, '');
});
