import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { graceAfterPreStop, runHandler, LifecycleHooks, hookAction } from './lifecycle-hooks.js';

const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: {} };
const target = (container: any) => ({ pod, container, containerId: 'cid', ip: '127.0.0.1' });

test('preStop shares the grace period: SIGTERM gets what is left, never under 2 s; 0 stays 0', () => {
  assert.equal(graceAfterPreStop(30, 10.7), 20);
  assert.equal(graceAfterPreStop(30, 29), 2);
  assert.equal(graceAfterPreStop(5, 60), 2);
  assert.equal(graceAfterPreStop(0, 0), 0);
  assert.equal(hookAction({ sleep: { seconds: 1 } }), 'sleep');
  assert.equal(hookAction({}), undefined);
});

test('exec hooks: exit 0 succeeds; otherwise the kubelet message naming the command, container and pod', async () => {
  const runtime = { execSync: async (_id: string, argv: string[]) => ({ exitCode: argv[2] === 'ok' ? 0 : 3, stdout: 'out', stderr: 'err', timedOut: false }) };
  assert.equal(await runHandler(runtime, { exec: { command: ['sh', '-c', 'ok'] } }, target({ name: 'c' }), 10), undefined);
  const msg = await runHandler(runtime, { exec: { command: ['sh', '-c', 'bad'] } }, target({ name: 'c' }), 10);
  assert.equal(msg, 'Exec lifecycle hook ([sh -c bad]) for Container "c" in Pod "p_ns(u1)" failed - error: command \'sh -c bad\' exited with 3: err, message: "outerr"');
});

test('httpGet hooks: any answer is success (the kubelet ignores the status); no answer fails', async () => {
  const srv = http.createServer((_q, r) => {
    r.statusCode = 500;
    r.end('no');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as any).port;
  try {
    const runtime = { execSync: async () => assert.fail('no exec') };
    assert.equal(await runHandler(runtime as any, { httpGet: { port, path: '/hook' } }, target({ name: 'c' }), 5), undefined);
    srv.close();
    const msg = await runHandler(runtime as any, { httpGet: { port, path: '/hook' } }, target({ name: 'c' }), 5);
    assert.match(msg!, /^HTTP lifecycle hook \(\/hook\) for Container "c" in Pod "p_ns\(u1\)" failed - error: .*connection refused/);
  } finally {
    srv.close();
  }
});

test('kill: preStop runs first, its time comes off the grace; a failed preStop is a FailedPreStopHook event and the kill goes on', async () => {
  const calls: string[] = [];
  const events: string[] = [];
  const hooks = new LifecycleHooks({
    runtime: {
      execSync: async () => {
        calls.push('exec');
        return { exitCode: 1, stdout: '', stderr: '', timedOut: false };
      },
      stopContainer: async (_id: string, grace: number) => void calls.push(`stop ${grace}`),
    },
    record: (_p, type, reason, message) => events.push(`${type} ${reason} ${message}`),
  });
  await hooks.kill(target({ name: 'c', lifecycle: { preStop: { exec: { command: ['false'] } } } }), 'cid', 30);
  assert.deepEqual(calls, ['exec', 'stop 30']);
  assert.deepEqual(events, ['Warning FailedPreStopHook PreStopHook failed']);
  calls.length = 0;
  const t0 = Date.now();
  await hooks.kill(target({ name: 'c', lifecycle: { preStop: { sleep: { seconds: 100 } } } }), 'cid', 1);
  assert.ok(Date.now() - t0 < 1500, 'a sleep is cut at the grace period');
  assert.deepEqual(calls, ['stop 2']);
  calls.length = 0;
  await hooks.kill(target({ name: 'c', lifecycle: { preStop: { exec: { command: ['x'] } } } }), 'cid', 0);
  assert.deepEqual(calls, ['stop 0'], 'no preStop without a grace period');
});
