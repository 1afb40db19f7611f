/**
 * The pod contract, container-lifecycle half (issue 9): lifecycle hooks, activeDeadlineSeconds,
 * native sidecars, image changes on a running pod, termination messages and status fidelity,
 * each checked with real kubectl against a real podbay (runc, conmon, CNI). Each test's name
 * quotes the Kubernetes rule it checks. Hooks and termination order are observed by a small
 * HTTP recorder on 127.0.0.1 that hostNetwork pods call (hook httpGet, TERM traps).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, kubectlHelpers } from './harness.js';

const BRIDGE = 'pbpodlife0';
const CIDR = '10.219.0.0/24';
const RECORDER_PORT = 19860;

const [kc] = kubectlBinaries().slice(-1);

/** The requests hostNetwork pods make to 127.0.0.1:RECORDER_PORT, with when they came. */
class Recorder {
  readonly hits: { path: string; at: number }[] = [];
  private srv = http.createServer((q, r) => {
    this.hits.push({ path: q.url ?? '', at: Date.now() });
    r.end('ok');
  });
  start(): Promise<void> {
    return new Promise((res) => this.srv.listen(RECORDER_PORT, '127.0.0.1', res));
  }
  stop(): Promise<void> {
    return new Promise((res) => this.srv.close(() => res()));
  }
  at(path: string): number | undefined {
    return this.hits.find((h) => h.path === path)?.at;
  }
}

describe('pod contract: container lifecycle (hooks, deadlines, sidecars, spec updates, termination messages, status)', () => {
  let s: PodbayServer;
  const { k, ok, apply, pod, events } = kubectlHelpers(() => s, kc.path);
  const suite = new PodSuite(BRIDGE, CIDR, /^198[67]\d$/);
  const rec = new Recorder();
  const wget = (path: string) => `wget -q -O /dev/null http://127.0.0.1:${RECORDER_PORT}${path}`;
  const phase = (name: string) => pod(name).status.phase;
  const deleteAndWait = async (name: string) => {
    ok('delete', 'pod', name, '--wait=false');
    await waitFor(`${name} gone`, () => k('get', 'pod', name).code !== 0, 60_000);
  };

  before(async () => {
    s = await suite.start('podbay-e2e-contract-');
    const rootfs = await suite.loadBusybox();
    // the same busybox under a second name, with an env var that tells the images apart
    const { writeDockerArchive } = await import('../../src/image/archive-build.js');
    await writeDockerArchive(join(suite.work, 'busybox-b.tar'), { repoTags: ['busybox:b'], layers: [rootfs], config: { cmd: ['sh'], env: ['IMAGE_MARK=b', 'PATH=/bin:/usr/bin:/sbin:/usr/sbin'] } });
    suite.loadImage(join(suite.work, 'busybox-b.tar'));
    await rec.start();
  });

  after(async () => {
    await rec.stop();
    await suite.finish(kc.path);
  });

  it('postStart: "the container will not reach a running state until the PostStart hook has completed" (exec, after the container started)', async () => {
    const t0 = Date.now();
    apply(`apiVersion: v1
kind: Pod
metadata: {name: poststart-exec}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "touch /tmp/started; exec sleep 3600"]
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "test -f /tmp/started && sleep 3 && touch /tmp/hooked"]}
`);
    let sawPending = false;
    await waitFor('poststart-exec Running', () => {
      const p = pod('poststart-exec');
      const cs = p.status.containerStatuses?.[0];
      if (!cs?.state?.running) sawPending = true;
      return cs?.state?.running ? p : undefined;
    }, 30_000);
    // the hook had finished (it ran after the container's own start) before the container counted as running
    assert.equal(ok('exec', 'poststart-exec', '--', 'ls', '/tmp/hooked').trim(), '/tmp/hooked');
    assert.ok(Date.now() - t0 >= 3000, 'Running came only after the 3 s hook');
    assert.ok(sawPending, 'not running while the hook ran');
    assert.match(events('poststart-exec'), /Normal Started Started container app/);
    await deleteAndWait('poststart-exec');
  });

  it('postStart: "If a PostStart hook fails, it kills the Container" (FailedPostStartHook, restarted per restartPolicy)', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: poststart-fail}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    command: [sleep, "3600"]
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "echo nope; exit 7"]}
`);
    const p = await waitFor('poststart-fail restarted', () => {
      const x = pod('poststart-fail');
      return (x.status.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? x : undefined;
    }, 45_000);
    const ev = events('poststart-fail');
    assert.match(ev, /Warning FailedPostStartHook PostStartHook failed/);
    assert.match(ev, /Normal Killing FailedPostStartHook/);
    const cs = p.status.containerStatuses[0];
    assert.ok(cs.lastState.terminated, JSON.stringify(cs));
    // between attempts the container waits with the hook's error or the back-off
    await waitFor('waiting reason', () => {
      const w = pod('poststart-fail').status.containerStatuses[0].state.waiting;
      return w && /^(PostStartHookError|CrashLoopBackOff)$/.test(w.reason) ? w : undefined;
    }, 30_000);
    await deleteAndWait('poststart-fail');
  });

  it('preStop: "the PreStop hook ... is called immediately before a container is terminated"; httpGet postStart/preStop, then SIGTERM', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: hooks-http}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 20
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "trap '${wget('/http-term')}; exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      postStart: {httpGet: {host: 127.0.0.1, port: ${RECORDER_PORT}, path: /http-poststart}}
      preStop: {httpGet: {host: 127.0.0.1, port: ${RECORDER_PORT}, path: /http-prestop}}
`);
    await waitFor('hooks-http Running', () => phase('hooks-http') === 'Running', 30_000);
    assert.ok(rec.at('/http-poststart'), 'postStart httpGet reached the recorder');
    await deleteAndWait('hooks-http');
    const pre = rec.at('/http-prestop');
    const term = rec.at('/http-term');
    assert.ok(pre && term, JSON.stringify(rec.hits));
    assert.ok(pre <= term, 'preStop before SIGTERM');
  });

  it('preStop: "terminationGracePeriodSeconds ... includes the time to execute the PreStop hook" (sleep action; a failing hook is FailedPreStopHook)', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: prestop-sleep}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 10
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "trap '${wget('/sleep-term')}; exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      preStop: {sleep: {seconds: 3}}
---
apiVersion: v1
kind: Pod
metadata: {name: prestop-share}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 4
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "trap '${wget('/share-term')}; exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      preStop: {exec: {command: [sleep, "100"]}}
---
apiVersion: v1
kind: Pod
metadata: {name: prestop-fail}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: busybox:1.36
    command: [sleep, "3600"]
    lifecycle:
      preStop: {exec: {command: [sh, -c, "exit 3"]}}
`);
    await waitFor('all Running', () => ['prestop-sleep', 'prestop-share', 'prestop-fail'].every((n) => phase(n) === 'Running'), 30_000);
    const t0 = Date.now();
    ok('delete', 'pod', 'prestop-fail', 'prestop-share', '--wait=false');
    await deleteAndWait('prestop-sleep');
    const term = rec.at('/sleep-term');
    assert.ok(term, 'SIGTERM came after the hook');
    // the sleep action holds SIGTERM back for its 3 s
    assert.ok(term - t0 >= 2900 && term - t0 < 8000, `TERM ${term - t0} ms after delete`);
    // an exec preStop of 100 s is cut at the 4 s grace period, then TERM (with the kubelet's 2 s minimum)
    await waitFor('prestop-share gone', () => k('get', 'pod', 'prestop-share').code !== 0, 30_000);
    const share = rec.at('/share-term');
    assert.ok(share && share - t0 >= 3500 && share - t0 < 9000, `TERM ${share && share - t0} ms after delete`);
    await waitFor('prestop-fail gone', () => k('get', 'pod', 'prestop-fail').code !== 0, 30_000);
    assert.match(events('prestop-fail'), /Warning FailedPreStopHook PreStopHook failed/);
  });

  it('activeDeadlineSeconds: "the pod is Failed with reason DeadlineExceeded" once active longer than the deadline; lowering it on a running pod acts', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: deadline}
spec:
  activeDeadlineSeconds: 4
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: busybox:1.36, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: deadline-later}
spec:
  activeDeadlineSeconds: 3600
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: busybox:1.36, command: [sleep, "3600"]}]
`);
    await waitFor('deadline-later Running', () => phase('deadline-later') === 'Running', 30_000);
    ok('patch', 'pod', 'deadline-later', '--type=merge', '-p', '{"spec":{"activeDeadlineSeconds":2}}');
    for (const name of ['deadline', 'deadline-later']) {
      const p = await waitFor(`${name} Failed`, () => {
        const x = pod(name);
        return x.status.phase === 'Failed' && x.status.containerStatuses?.[0]?.state?.terminated ? x : undefined;
      }, 30_000);
      assert.equal(p.status.reason, 'DeadlineExceeded');
      assert.equal(p.status.message, 'Pod was active on the node longer than the specified deadline');
      assert.match(events(name), /Warning DeadlineExceeded Pod was active on the node longer than the specified deadline/);
    }
    await deleteAndWait('deadline');
    await deleteAndWait('deadline-later');
  });

  it('native sidecars: "started before the main application containers and ... keep running"; restarted on exit; readiness counted; stopped after the app containers', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: sidecar}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 10
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: setup
    image: busybox:1.36
    command: [sh, -c, "echo setup > /shared/setup"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: side
    image: busybox:1.36
    restartPolicy: Always
    command: [sh, -c, "trap '${wget('/side-term')}; exit 0' TERM; rm -f /shared/stop; echo up >> /shared/side; while [ ! -f /shared/stop ]; do sleep 0.2; done; exit 3"]
    startupProbe: {exec: {command: [cat, /shared/side]}, periodSeconds: 1}
    readinessProbe: {exec: {command: [sh, -c, 'test ! -f /shared/unready']}, periodSeconds: 1}
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: after-side
    image: busybox:1.36
    command: [sh, -c, "grep up /shared/side"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "trap '${wget('/app-term')}; sleep 1; exit 0' TERM; while true; do sleep 0.2; done"]
    volumeMounts: [{name: shared, mountPath: /shared}]
`);
    await waitFor('sidecar 2/2 Running', () => {
      const [, ready, status] = ok('get', 'pod', 'sidecar', '--no-headers').trim().split(/\s+/);
      return ready === '2/2' && status === 'Running';
    }, 45_000).catch((e) => {
      throw new Error(`${e.message}\n${JSON.stringify(pod('sidecar').status, null, 1)}\n${events('sidecar')}`);
    });
    let p = pod('sidecar');
    const side = p.status.initContainerStatuses.find((c: any) => c.name === 'side');
    assert.ok(side.state.running && side.started && side.ready, JSON.stringify(side));
    assert.equal(p.status.initContainerStatuses.find((c: any) => c.name === 'after-side').state.terminated.exitCode, 0);
    // readiness counts: the sidecar unready makes the pod unready
    ok('exec', 'sidecar', '-c', 'app', '--', 'sh', '-c', 'touch /shared/unready');
    await waitFor('pod not Ready', () => pod('sidecar').status.conditions.find((c: any) => c.type === 'Ready').status === 'False', 20_000);
    p = pod('sidecar');
    assert.equal(p.status.conditions.find((c: any) => c.type === 'ContainersReady').message, 'containers with unready status: [side]');
    ok('exec', 'sidecar', '-c', 'app', '--', 'sh', '-c', 'rm /shared/unready');
    // the sidecar exits: restarted, the pod keeps running, the regular init containers do not run again
    ok('exec', 'sidecar', '-c', 'app', '--', 'sh', '-c', 'touch /shared/stop');
    p = await waitFor('sidecar restarted', () => {
      const x = pod('sidecar');
      const st = x.status.initContainerStatuses.find((c: any) => c.name === 'side');
      return st.restartCount >= 1 && st.state.running ? x : undefined;
    }, 40_000);
    assert.equal(p.status.phase, 'Running');
    assert.equal(p.status.initContainerStatuses.find((c: any) => c.name === 'side').lastState.terminated.exitCode, 3);
    assert.equal(p.status.initContainerStatuses.find((c: any) => c.name === 'setup').restartCount, 0);
    assert.equal(ok('exec', 'sidecar', '-c', 'app', '--', 'cat', '/shared/setup').trim(), 'setup');
    // termination: the app container first, then the sidecar
    await deleteAndWait('sidecar');
    const app = rec.at('/app-term');
    const sideTerm = rec.at('/side-term');
    assert.ok(app && sideTerm, JSON.stringify(rec.hits));
    assert.ok(sideTerm >= app + 900, `sidecar TERM ${sideTerm - app} ms after the app's (the app takes 1 s to stop)`);
  });

  it('native sidecars: a sidecar "does not block pod completion" (restartPolicy Never: Succeeded once the app exits)', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: sidecar-job}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  initContainers:
  - {name: side, image: busybox:1.36, restartPolicy: Always, command: [sleep, "3600"]}
  containers:
  - {name: job, image: busybox:1.36, command: [sh, -c, "sleep 2; echo done"]}
`);
    const p = await waitFor('sidecar-job Succeeded', () => {
      const x = pod('sidecar-job');
      return x.status.phase === 'Succeeded' ? x : undefined;
    }, 45_000);
    assert.equal(p.status.containerStatuses[0].state.terminated.exitCode, 0);
    assert.ok(p.status.initContainerStatuses[0].state.terminated, 'the sidecar was stopped');
    await deleteAndWait('sidecar-job');
  });

  it('a container that cannot start under restartPolicy Never is terminated (StartError, 128), not waiting: the pod fails', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: no-start}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: busybox:1.36, command: [/no/such/binary]}
`);
    const p = await waitFor('no-start Failed', () => {
      const x = pod('no-start');
      return x.status.phase === 'Failed' && x.status.containerStatuses?.[0]?.state?.terminated ? x : undefined;
    }, 30_000);
    const cs = p.status.containerStatuses[0];
    assert.deepEqual([cs.state.terminated.reason, cs.state.terminated.exitCode, cs.restartCount], ['StartError', 128, 0], JSON.stringify(cs));
    assert.match(cs.state.terminated.message, /no\/such\/binary/);
    assert.deepEqual(cs.lastState, {}, 'nothing ran before it');
    assert.match(ok('get', 'pod', 'no-start', '--no-headers'), /^no-start\s+0\/1\s+StartError\s+0\s/);
    await deleteAndWait('no-start');
  });

  it('image update: "the kubelet ... will restart the container" when its image changes (kubectl set image; Killing, Pulled, Created, Started)', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: set-image}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: busybox:1.36, command: [sleep, "3600"]}
  - {name: other, image: busybox:1.36, command: [sleep, "3600"]}
`);
    await waitFor('set-image Running', () => phase('set-image') === 'Running', 30_000);
    assert.equal(ok('exec', 'set-image', '-c', 'app', '--', 'sh', '-c', 'echo "[$IMAGE_MARK]"').trim(), '[]');
    ok('set', 'image', 'pod/set-image', 'app=busybox:b');
    const p = await waitFor('restarted on the new image', () => {
      const x = pod('set-image');
      const cs = x.status.containerStatuses.find((c: any) => c.name === 'app');
      return cs.restartCount === 1 && cs.state.running ? x : undefined;
    }, 30_000);
    const cs = p.status.containerStatuses.find((c: any) => c.name === 'app');
    assert.equal(cs.image, 'busybox:b');
    assert.ok(cs.lastState.terminated, 'the old run is the last state');
    assert.equal(p.status.containerStatuses.find((c: any) => c.name === 'other').restartCount, 0, 'the other container is untouched');
    assert.equal(ok('exec', 'set-image', '-c', 'app', '--', 'sh', '-c', 'echo "[$IMAGE_MARK]"').trim(), '[b]');
    // repeated events are counted on one Event object, as the kubelet's recorder does
    const ev = ok('get', 'events', '--field-selector', 'involvedObject.name=set-image', '-o', 'jsonpath={range .items[*]}{.involvedObject.fieldPath} {.reason} {.count} {.message}{"\\n"}{end}');
    assert.match(ev, /^spec\.containers\{app\} Killing 1 Container app definition changed, will be restarted$/m);
    assert.match(ev, /^spec\.containers\{app\} Pulled 1 Container image "busybox:b" already present on machine$/m);
    assert.match(ev, /^spec\.containers\{app\} Created 2 Created container: app$/m);
    assert.match(ev, /^spec\.containers\{app\} Started 2 Started container app$/m);
    await deleteAndWait('set-image');
  });

  it('termination messages: "the contents of terminationMessagePath" become the message; FallbackToLogsOnError "uses the last chunk of container log output"', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: term-msg}
spec:
  restartPolicy: Never
  containers:
  - name: file
    image: busybox:1.36
    securityContext: {runAsUser: 1000}
    command: [sh, -c, "printf 'bye from file' > /dev/termination-log; exit 3"]
  - name: custom
    image: busybox:1.36
    terminationMessagePath: /tmp/my-msg
    command: [sh, -c, "printf 'custom path' > /tmp/my-msg"]
  - name: logs
    image: busybox:1.36
    terminationMessagePolicy: FallbackToLogsOnError
    command: [sh, -c, "i=1; while [ $i -le 100 ]; do echo line $i; i=$((i+1)); done; exit 1"]
  - name: logs-ok
    image: busybox:1.36
    terminationMessagePolicy: FallbackToLogsOnError
    command: [sh, -c, "echo fine"]
  - name: big
    image: busybox:1.36
    command: [sh, -c, "head -c 10000 /dev/zero | tr '\\\\0' x > /dev/termination-log"]
`);
    const p = await waitFor('term-msg Failed', () => {
      const x = pod('term-msg');
      return x.status.phase === 'Failed' ? x : undefined;
    }, 45_000);
    const t = (name: string) => p.status.containerStatuses.find((c: any) => c.name === name).state.terminated;
    assert.equal(t('file').message, 'bye from file');
    assert.equal(t('file').exitCode, 3);
    assert.equal(t('custom').message, 'custom path');
    const lines = Array.from({ length: 80 }, (_, i) => `line ${i + 21}`).join('\n') + '\n';
    assert.equal(t('logs').message, lines);
    assert.equal(t('logs-ok').message, undefined, 'no fallback on exit 0');
    assert.equal(t('big').message.length, 4096, 'the kubelet reads at most 4096 bytes');
    await deleteAndWait('term-msg');
  });

  it('status: startedAt <= finishedAt, lastState keeps the previous termination, conditions in the kubelet\'s order, and `kubectl logs` keeps the last line without a newline', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: status-fast}
spec:
  restartPolicy: OnFailure
  volumes: [{name: state, emptyDir: {}}]
  containers:
  - name: a
    image: busybox:1.36
    command: [sh, -c, "printf 'one\\\\ntwo\\\\nno newline'; test -f /state/x || { touch /state/x; exit 1; }"]
    volumeMounts: [{name: state, mountPath: /state}]
  - {name: b, image: busybox:1.36, command: ["true"]}
  - {name: c, image: busybox:1.36, command: ["true"]}
`);
    const p = await waitFor('status-fast Succeeded or restarted', () => {
      const x = pod('status-fast');
      const a = x.status.containerStatuses?.find((c: any) => c.name === 'a');
      return a?.restartCount >= 1 && a.state.terminated && x.status.containerStatuses.every((c: any) => c.state.terminated) ? x : undefined;
    }, 60_000);
    for (const cs of p.status.containerStatuses) {
      for (const t of [cs.state.terminated, cs.lastState.terminated].filter(Boolean)) {
        assert.match(t.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.ok(Date.parse(t.startedAt) <= Date.parse(t.finishedAt), `${cs.name}: ${t.startedAt} > ${t.finishedAt}`);
      }
    }
    const a = p.status.containerStatuses.find((c: any) => c.name === 'a');
    assert.equal(a.lastState.terminated.exitCode, 1);
    assert.equal(a.lastState.terminated.reason, 'Error');
    assert.deepEqual(p.status.conditions.map((c: any) => c.type), ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']);
    assert.equal(ok('logs', 'status-fast', '-c', 'a'), 'one\ntwo\nno newline');
    assert.equal(ok('logs', 'status-fast', '-c', 'a', '--previous'), 'one\ntwo\nno newline');
    await deleteAndWait('status-fast');
  });
});
