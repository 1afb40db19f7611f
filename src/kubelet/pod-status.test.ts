import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePodStatus, containerStatus, podPhase } from './pod-status.js';
import type { ContainerStatus } from '../runtime/types.js';
import { podSummary } from '../api/tables.js';

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

test('init containers: statuses, Initialized condition, Pending while initializing, kubectl STATUS', () => {
  const pod = (restartPolicy = 'Always') => ({ metadata: { name: 'p' }, spec: { restartPolicy, initContainers: [{ name: 'a' }, { name: 'b' }], containers: [{ name: 'app' }] }, status: {} });
  const view = (name: string, runs: ContainerStatus[], waiting?: { reason: string }) => ({ name, image: 'busybox', runs, waiting });
  const status = (p: any, a: ContainerStatus[], b: ContainerStatus[], app: ContainerStatus[], waiting?: { reason: string }) =>
    computePodStatus({ pod: p, initContainers: [view('a', a, waiting), view('b', b)], containers: [view('app', app)], sandboxReady: true, podIPs: ['10.0.0.2'], hostIP: 'h', now: 'T' });
  const cond = (st: any, type: string) => st.conditions.find((c: any) => c.type === type);

  // nothing ran: everyone waits with PodInitializing
  let st = status(pod(), [], [], []);
  assert.equal(st.phase, 'Pending');
  assert.deepEqual(st.initContainerStatuses.map((s: any) => s.state.waiting.reason), ['PodInitializing', 'PodInitializing']);
  assert.equal(st.containerStatuses[0].state.waiting.reason, 'PodInitializing');
  assert.deepEqual(
    { status: cond(st, 'Initialized').status, reason: cond(st, 'Initialized').reason, message: cond(st, 'Initialized').message },
    { status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [a b]' },
  );
  assert.equal(podSummary({ ...pod(), status: st }).status, 'Init:0/2');

  // the first is running: started, not ready
  st = status(pod(), [run({ id: 'a1' })], [], []);
  assert.equal(st.initContainerStatuses[0].started, true);
  assert.equal(st.initContainerStatuses[0].ready, false);
  assert.equal(podSummary({ ...pod(), status: st }).status, 'Init:0/2');

  // the first completed: ready, reason Completed; the message lists the second only
  st = status(pod(), [run({ id: 'a1', state: 'exited', exitCode: 0 })], [run({ id: 'b1' })], []);
  assert.equal(st.initContainerStatuses[0].state.terminated.reason, 'Completed');
  assert.equal(st.initContainerStatuses[0].ready, true);
  assert.equal(st.initContainerStatuses[0].started, false);
  assert.equal(cond(st, 'Initialized').message, 'containers with incomplete status: [b]');
  assert.equal(st.phase, 'Pending');
  assert.equal(podSummary({ ...pod(), status: st }).status, 'Init:1/2');

  // both completed, the app container not yet created: Initialized, PodInitializing
  const done = [run({ id: 'a1', state: 'exited', exitCode: 0 })];
  const doneB = [run({ id: 'b1', state: 'exited', exitCode: 0 })];
  st = status(pod(), done, doneB, []);
  assert.equal(cond(st, 'Initialized').status, 'True');
  assert.equal(cond(st, 'Initialized').reason, undefined);
  assert.equal(st.phase, 'Pending');
  assert.equal(podSummary({ ...pod(), status: st }).status, 'PodInitializing');
  st = status(pod(), done, doneB, [run({ id: 'app1' })]);
  assert.equal(st.phase, 'Running');
  assert.equal(cond(st, 'Ready').status, 'True');
  assert.equal(podSummary({ ...pod(), status: st }).status, 'Running');

  // a failure: Never -> Failed, Init:Error; OnFailure -> Pending, Init:CrashLoopBackOff
  const failed = [run({ id: 'a1', state: 'exited', exitCode: 1 })];
  st = status(pod('Never'), failed, [], []);
  assert.equal(st.phase, 'Failed');
  assert.equal(st.initContainerStatuses[0].state.terminated.reason, 'Error');
  assert.equal(cond(st, 'Initialized').status, 'False');
  assert.equal(podSummary({ ...pod('Never'), status: st }).status, 'Init:Error');
  st = status(pod('OnFailure'), failed, [], [], { reason: 'CrashLoopBackOff' });
  assert.equal(st.phase, 'Pending');
  assert.equal(st.initContainerStatuses[0].lastState.terminated.exitCode, 1);
  assert.equal(podSummary({ ...pod('OnFailure'), status: st }).status, 'Init:CrashLoopBackOff');

  // a pod without init containers has no initContainerStatuses
  const plain = computePodStatus({ pod: { metadata: { name: 'p' }, spec: { containers: [{ name: 'app' }] }, status: {} }, containers: [view('app', [])], sandboxReady: true, podIPs: [], hostIP: 'h', now: 'T' });
  assert.equal(plain.initContainerStatuses, undefined);
  assert.equal(plain.containerStatuses[0].state.waiting.reason, 'ContainerCreating');
});

test('probes decide started and ready of a running container', () => {
  const base = { name: 'app', image: 'busybox', runs: [run({})] };
  assert.deepEqual(pick(containerStatus(base)), { started: true, ready: true });
  assert.deepEqual(pick(containerStatus({ ...base, ready: false })), { started: true, ready: false });
  assert.deepEqual(pick(containerStatus({ ...base, started: false, ready: true })), { started: false, ready: false });
  assert.deepEqual(pick(containerStatus({ ...base, started: true, ready: true })), { started: true, ready: true });
  const exited = containerStatus({ ...base, runs: [run({ state: 'exited', exitCode: 0 })], ready: true });
  assert.equal(exited.ready, false);
  const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'app' }] }, status: {} };
  const st = computePodStatus({ pod, containers: [{ ...base, ready: false }], sandboxReady: true, podIPs: [], hostIP: 'h', now: 'T' });
  const ready = st.conditions.find((c: any) => c.type === 'Ready');
  assert.deepEqual([st.phase, ready.status, ready.reason, ready.message], ['Running', 'False', 'ContainersNotReady', 'containers with unready status: [app]']);
});

function pick(s: any): { started: boolean; ready: boolean } {
  return { started: s.started, ready: s.ready };
}

test('native sidecars: started and ready like app containers, they initialize once started and count towards readiness', () => {
  const pod = { metadata: { name: 'p' }, spec: { restartPolicy: 'Never', initContainers: [{ name: 's', restartPolicy: 'Always' }], containers: [{ name: 'app' }] }, status: {} };
  const status = (s: ContainerStatus[], app: ContainerStatus[], sReady?: boolean) =>
    computePodStatus({
      pod,
      initContainers: [{ name: 's', image: 'busybox', runs: s, sidecar: true, ready: sReady }],
      containers: [{ name: 'app', image: 'busybox', runs: app }],
      sandboxReady: true,
      podIPs: ['10.0.0.2'],
      hostIP: 'h',
      now: 'T',
    });
  const cond = (st: any, type: string) => st.conditions.find((c: any) => c.type === type);
  let st = status([run({ id: 's1' })], []);
  assert.equal(st.initContainerStatuses[0].started, true);
  assert.equal(st.initContainerStatuses[0].ready, true);
  assert.equal(cond(st, 'Initialized').status, 'True');
  assert.equal(st.phase, 'Pending', 'the app container still waits');
  assert.equal(podSummary({ ...pod, status: st }).ready, '1/2');
  // both run; the sidecar's readiness probe fails: not ready, named first
  st = status([run({ id: 's1' })], [run({ id: 'a1' })], false);
  assert.equal(st.phase, 'Running');
  assert.deepEqual([cond(st, 'ContainersReady').status, cond(st, 'ContainersReady').message], ['False', 'containers with unready status: [s]']);
  assert.equal(cond(st, 'Ready').status, 'False');
  assert.equal(podSummary({ ...pod, status: st }).ready, '1/2');
  // the app is done, the sidecar was stopped: Succeeded (a terminated sidecar does not count)
  st = status([run({ id: 's1', state: 'exited', exitCode: 137, finishedAt: 'T2' })], [run({ id: 'a1', state: 'exited', exitCode: 0, finishedAt: 'T2' })]);
  assert.equal(st.phase, 'Succeeded');
  // a sidecar not yet started keeps the pod Pending
  assert.equal(podPhase('Always', [{ name: 'app', state: { waiting: {} } }], [{ name: 's', state: { running: {} }, started: false }], new Set(['s'])), 'Pending');
});

test('container times are RFC 3339 whole seconds: startedAt never after finishedAt', () => {
  const st = containerStatus({ name: 'app', image: 'b', runs: [{ ...run({ state: 'exited', exitCode: 0 }), startedAt: '2026-11-29T10:00:00.999Z', finishedAt: '2026-11-29T10:00:01.001Z' }] });
  assert.equal(st.state.terminated.startedAt, '2026-11-29T10:00:00Z');
  assert.equal(st.state.terminated.finishedAt, '2026-11-29T10:00:01Z');
});

test('allocatedResources once the container exists, resources while it runs (InPlacePodVerticalScaling, on in 1.33)', () => {
  const resources = { limits: { memory: '32Mi', cpu: '100m' }, requests: { cpu: '50m' } };
  const running = containerStatus({ name: 'app', image: 'busybox', runs: [run({})], resources });
  assert.deepEqual(running.allocatedResources, { cpu: '50m' });
  assert.deepEqual(running.resources, resources);
  const exited = containerStatus({ name: 'app', image: 'busybox', runs: [run({ state: 'exited', exitCode: 0 })], resources });
  assert.deepEqual(exited.allocatedResources, { cpu: '50m' });
  assert.equal(exited.resources, undefined);
  const creating = containerStatus({ name: 'app', image: 'busybox', runs: [], resources });
  assert.equal(creating.allocatedResources, undefined);
  const none = containerStatus({ name: 'app', image: 'busybox', runs: [run({})] });
  assert.equal(none.resources, undefined);
  assert.equal(none.allocatedResources, undefined);
});

test('ephemeral containers get their own statuses, never ready, and move neither phase nor readiness', () => {
  const pod = { metadata: { name: 'p' }, spec: { restartPolicy: 'Always', containers: [{ name: 'app' }], ephemeralContainers: [{ name: 'dbg' }] }, status: {} };
  const app = { name: 'app', image: 'busybox', runs: [run({})] };
  const st = computePodStatus({ pod, containers: [app], ephemeralContainers: [{ name: 'dbg', image: 'busybox', runs: [run({ id: 'e1', state: 'exited', exitCode: 3 })] }], sandboxReady: true, podIPs: ['10.0.0.2'], hostIP: 'h', now: 'T' });
  assert.equal(st.phase, 'Running');
  assert.equal(st.conditions.find((c: { type: string }) => c.type === 'Ready').status, 'True');
  assert.equal(st.ephemeralContainerStatuses.length, 1);
  assert.equal(st.ephemeralContainerStatuses[0].name, 'dbg');
  assert.equal(st.ephemeralContainerStatuses[0].state.terminated.exitCode, 3);
  assert.equal(st.ephemeralContainerStatuses[0].ready, false);
  const waiting = computePodStatus({ pod, containers: [app], ephemeralContainers: [{ name: 'dbg', image: 'nope', runs: [], waiting: { reason: 'ErrImageNeverPull', message: 'x' } }], sandboxReady: true, podIPs: [], hostIP: 'h', now: 'T' });
  assert.equal(waiting.phase, 'Running');
  assert.deepEqual(waiting.ephemeralContainerStatuses[0].state, { waiting: { reason: 'ErrImageNeverPull', message: 'x' } });
  const none = computePodStatus({ pod: { ...pod, spec: { ...pod.spec, ephemeralContainers: undefined } }, containers: [app], sandboxReady: true, podIPs: [], hostIP: 'h', now: 'T' });
  assert.equal(none.ephemeralContainerStatuses, undefined);
});

test('kubectl\'s READY for an initialized pod whose sidecar crash-loops: the running app container counts (printPod)', () => {
  const pod = {
    metadata: { name: 'p' },
    spec: { initContainers: [{ name: 's', restartPolicy: 'Always' }], containers: [{ name: 'c' }] },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Initialized', status: 'True' }],
      initContainerStatuses: [{ name: 's', started: false, ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } } }],
      containerStatuses: [{ name: 'c', started: true, ready: true, restartCount: 0, state: { running: { startedAt: '2026-12-01T00:00:00Z' } } }],
    },
  };
  const s = podSummary(pod);
  assert.deepEqual([s.ready, s.status, s.restarts], ['1/2', 'Init:CrashLoopBackOff', '2']);
  // not yet initialized: the init container decides alone
  const early = podSummary({ ...pod, status: { ...pod.status, conditions: [{ type: 'Initialized', status: 'False' }] } });
  assert.deepEqual([early.ready, early.status], ['0/2', 'Init:CrashLoopBackOff']);
});
