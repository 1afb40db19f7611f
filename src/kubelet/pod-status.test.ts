import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePodStatus, containerStatus, podPhase } from './pod-status.js';
import type { ContainerStatus } from '../runtime/types.js';

function run(over: Partial<ContainerStatus> & { restartCount?: number }): ContainerStatus {
  return {
    id: over.id ?? 'c1',
    sandboxId: 's',
    config: { name: 'app', image: 'busybox', argv: [], env: [], mounts: [], logPath: '', restartCount: over.restartCount ?? 0, labels: {}, annotations: {} },
    state: over.state ?? 'running',
    pid: 1,
    exitCode: over.exitCode,
    reason: over.reason,
    createdAt: 't0',
    startedAt: 't1',
    finishedAt: over.finishedAt,
    imageId: 'sha256:abc',
  };
}

test('a running container is ready and started; its previous run is the last state', () => {
  const s = containerStatus({ name: 'app', image: 'busybox', runs: [run({ id: 'c2', restartCount: 1 }), run({ id: 'c1', state: 'exited', exitCode: 2 })] });
  assert.deepEqual(s.state, { running: { startedAt: 't1' } });
  assert.equal(s.ready, true);
  assert.equal(s.restartCount, 1);
  assert.equal(s.containerID, 'podbay://c2');
  assert.equal(s.lastState.terminated.exitCode, 2);
  assert.equal(s.lastState.terminated.reason, 'Error');
});

test('waiting reasons from the kubelet win, and keep the last termination', () => {
  const s = containerStatus({ name: 'app', image: 'busybox', runs: [run({ state: 'exited', exitCode: 1 })], waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } });
  assert.deepEqual(s.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } });
  assert.equal(s.lastState.terminated.exitCode, 1);
  const none = containerStatus({ name: 'app', image: 'busybox', runs: [] });
  assert.deepEqual(none.state, { waiting: { reason: 'ContainerCreating' } });
});

test("phases follow kubelet's getPhase for each restart policy", () => {
  const running = { state: { running: {} } };
  const ok = { state: { terminated: { exitCode: 0 } } };
  const bad = { state: { terminated: { exitCode: 1 } } };
  const fresh = { state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} };
  const looping = { state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } };
  assert.equal(podPhase('Always', [fresh, running]), 'Pending');
  assert.equal(podPhase('Always', [running, ok]), 'Running');
  assert.equal(podPhase('Always', [looping]), 'Running');
  assert.equal(podPhase('Never', [ok, ok]), 'Succeeded');
  assert.equal(podPhase('Never', [ok, bad]), 'Failed');
  assert.equal(podPhase('OnFailure', [ok]), 'Succeeded');
  assert.equal(podPhase('OnFailure', [bad]), 'Running');
});

test('the pod status: IPs, conditions, and terminal phases stay terminal', () => {
  const pod = { metadata: { name: 'p' }, spec: { restartPolicy: 'Never', containers: [{ name: 'app' }] }, status: { phase: 'Pending', qosClass: 'BestEffort' } };
  const st = computePodStatus({ pod, containers: [{ name: 'app', image: 'busybox', runs: [run({})] }], sandboxReady: true, podIPs: ['10.0.0.2'], hostIP: '192.0.2.1', now: 'T' });
  assert.equal(st.phase, 'Running');
  assert.equal(st.podIP, '10.0.0.2');
  assert.deepEqual(st.podIPs, [{ ip: '10.0.0.2' }]);
  assert.equal(st.conditions.find((c: any) => c.type === 'Ready').status, 'True');
  assert.equal(st.qosClass, 'BestEffort');
  const done = computePodStatus({ pod: { ...pod, status: { phase: 'Failed' } }, containers: [{ name: 'app', image: 'busybox', runs: [run({})] }], sandboxReady: false, podIPs: [], hostIP: 'h', now: 'T' });
  assert.equal(done.phase, 'Failed');
  assert.equal(done.conditions.find((c: any) => c.type === 'Ready').reason, 'PodCompleted');
});
