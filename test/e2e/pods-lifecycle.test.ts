/**
 * The pod lifecycle beyond "start the containers": init containers (in order, one at a time,
 * before the app containers; failures per restartPolicy; run again in a new sandbox) and
 * probes (httpGet and tcpSocket readiness, exec liveness that restarts a container), driven by
 * real kubectl against a real podbay server. Every pod is deleted and the host is checked for
 * leftovers at the end, as in pods.test.ts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, httpGet, waitFor, processesMentioning, kubectlHelpers } from './harness.js';

const BRIDGE = 'pbe2elife0';
const CIDR = '10.208.0.0/24';
const INIT_PORT = 19600;
const HTTP_READY_PORT = 19601;


const [kc] = kubectlBinaries().slice(-1);

describe('pod lifecycle: init containers and probes (runc, conmon, CNI)', () => {
  let s: PodbayServer;
  let runDir: string;
  const { ok, apply, pod } = kubectlHelpers(() => s, kc.path);
  const cond = (p: any, type: string) => (p.status.conditions ?? []).find((c: any) => c.type === type);
  /** READY, STATUS, RESTARTS of `kubectl get pod NAME` */
  const row = (name: string) => {
    const line = ok('get', 'pod', name, '--no-headers');
    const [, ready, status, restarts] = line.trim().split(/\s+/);
    return { line: line.trim(), ready, status, restarts };
  };
  const events = (name: string) =>
    ok('get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'jsonpath={range .items[*]}{.type} {.reason} {.message}{"\\n"}{end}');

  const suite = new PodSuite(BRIDGE, CIDR, /^196\d\d$/);

  before(async () => {
    s = await suite.start('podbay-e2e-life-');
    runDir = suite.runDir;
    await suite.loadBusybox();
  });

  after(() => suite.finish(kc.path));

  it('runs init containers one at a time before the app container: Init:0/2 -> Init:1/2 -> Running, each Completed', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: init-demo}
spec:
  volumes: [{name: www, emptyDir: {}}]
  initContainers:
  - name: write
    image: busybox:1.36
    command: [sh, -c, "sleep 2; echo writing; echo hello from init >> /www/index.html; date >> /www/runs"]
    volumeMounts: [{name: www, mountPath: /www}]
  - name: check
    image: busybox:1.36
    command: [sh, -c, "sleep 2; grep 'hello from init' /www/index.html"]
    volumeMounts: [{name: www, mountPath: /www}]
  containers:
  - name: web
    image: busybox:1.36
    command: [httpd, -f, -p, "8080", -h, /www]
    ports: [{containerPort: 8080, hostPort: ${INIT_PORT}}]
    volumeMounts: [{name: www, mountPath: /www}]
`);
    // watch what kubectl prints until the pod runs
    const seen: string[] = [];
    const lines: string[] = [];
    const p = await waitFor(
      'init-demo Running',
      () => {
        const r = row('init-demo');
        if (seen[seen.length - 1] !== r.status) {
          seen.push(r.status);
          lines.push(r.line);
        }
        if (r.status === 'Init:0/2' || r.status === 'Init:1/2') {
          const x = pod('init-demo');
          assert.equal(x.status.phase, 'Pending');
          assert.equal(cond(x, 'Initialized').status, 'False');
          assert.equal(cond(x, 'Initialized').reason, 'ContainersNotInitialized');
          assert.equal(x.status.containerStatuses[0].state.waiting?.reason, 'PodInitializing');
        }
        return r.status === 'Running' ? pod('init-demo') : undefined;
      },
      60_000,
    );
    console.log(`kubectl get pod init-demo, as it changed:\n${lines.join('\n')}`);
    assert.ok(seen.includes('Init:0/2'), `saw ${seen.join(' -> ')}`);
    assert.ok(seen.includes('Init:1/2') || seen.includes('PodInitializing'), `saw ${seen.join(' -> ')}`);
    const order = ['Pending', 'Init:0/2', 'Init:1/2', 'PodInitializing', 'Running'];
    const ranks = seen.map((x) => order.indexOf(x));
    assert.ok(ranks.every((r, i) => r >= 0 && (i === 0 || r > ranks[i - 1]!)), `statuses in order: ${seen.join(' -> ')}`);

    // statuses: both init containers Completed, in spec order, the second started after the first finished
    const [w, c] = p.status.initContainerStatuses;
    assert.deepEqual([w.name, c.name], ['write', 'check']);
    for (const st of [w, c]) {
      assert.equal(st.state.terminated.reason, 'Completed');
      assert.equal(st.state.terminated.exitCode, 0);
      assert.equal(st.ready, true);
      assert.equal(st.restartCount, 0);
    }
    assert.ok(Date.parse(c.state.terminated.startedAt) >= Date.parse(w.state.terminated.finishedAt), 'check started after write finished');
    assert.ok(Date.parse(p.status.containerStatuses[0].state.running.startedAt) >= Date.parse(c.state.terminated.finishedAt), 'web started after check finished');
    assert.equal(cond(p, 'Initialized').status, 'True');
    assert.equal(cond(p, 'Ready').status, 'True');
    assert.match(ok('get', 'pod', 'init-demo'), /^init-demo\s+1\/1\s+Running\s+0\s/m);
    // the app serves what the first init container wrote; init containers have their own logs
    const page = await waitFor('the page', async () => {
      const res = await httpGet(`http://127.0.0.1:${INIT_PORT}/index.html`);
      return res.status === 200 ? res : undefined;
    });
    assert.equal(page.body, 'hello from init\n');
    assert.equal(ok('logs', 'init-demo', '-c', 'write'), 'writing\n');
    assert.equal(ok('logs', 'init-demo', '-c', 'check'), 'hello from init\n');
    const ev = events('init-demo');
    for (const name of ['write', 'check', 'web']) assert.match(ev, new RegExp(`^Normal Started Started container ${name}$`, 'm'), ev);
  });

  it('runs the init containers again when the sandbox is recreated', async () => {
    const before = pod('init-demo');
    // kill the pause process: the sandbox is dead, the kubelet makes a new one
    const ids = new Set(before.status.containerStatuses.map((c: any) => c.containerID.replace('podbay://', '')));
    const list = JSON.parse(spawnSync('runc', ['--root', join(runDir, 'runc'), 'list', '--format', 'json'], { encoding: 'utf8' }).stdout || '[]') as { id: string; pid: number; status: string }[];
    const netOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/net`);
    const webNet = netOf(list.find((c) => ids.has(c.id))!.pid);
    const pause = list.find((c) => !ids.has(c.id) && c.status === 'running' && readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').includes('catatonit') && netOf(c.pid) === webNet);
    assert.ok(pause, 'the pause process of init-demo');
    process.kill(pause.pid, 'SIGKILL');
    const p = await waitFor(
      'init-demo running in a new sandbox',
      () => {
        const x = pod('init-demo');
        const w = x.status.initContainerStatuses?.[0];
        return x.status.phase === 'Running' && x.status.containerStatuses[0].ready && w?.containerID !== before.status.initContainerStatuses[0].containerID ? x : undefined;
      },
      60_000,
    );
    assert.equal(p.status.initContainerStatuses[0].state.terminated.reason, 'Completed');
    const runs = await waitFor('the second page', async () => {
      const res = await httpGet(`http://127.0.0.1:${INIT_PORT}/runs`);
      return res.status === 200 && res.body.trim().split('\n').length === 2 ? res : undefined;
    });
    assert.equal(runs.body.trim().split('\n').length, 2, 'the first init container ran twice');
    assert.match(events('init-demo'), /SandboxChanged Pod sandbox changed, it will be killed and re-created\./);
    ok('delete', 'pod', 'init-demo', '--grace-period=0', '--force');
  });

  it('a failing init container: restartPolicy Never fails the pod (Init:Error), OnFailure backs off (Init:CrashLoopBackOff)', async () => {
    const mk = (name: string, policy: string) =>
      apply(`apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: ${policy}
  initContainers:
  - {name: ok, image: busybox:1.36, command: [sh, -c, "exit 0"]}
  - {name: fail, image: busybox:1.36, command: [sh, -c, "echo failing; exit 3"]}
  containers:
  - {name: app, image: busybox:1.36, command: [sleep, "3600"]}
`);
    mk('init-never', 'Never');
    mk('init-onfailure', 'OnFailure');
    const never = await waitFor('init-never Failed', () => (pod('init-never').status.phase === 'Failed' ? pod('init-never') : undefined));
    const [okSt, failSt] = never.status.initContainerStatuses;
    assert.equal(okSt.state.terminated.reason, 'Completed');
    assert.equal(failSt.state.terminated.exitCode, 3);
    assert.equal(failSt.state.terminated.reason, 'Error');
    assert.equal(failSt.restartCount, 0);
    assert.equal(never.status.containerStatuses[0].state.waiting?.reason, 'PodInitializing', 'the app container never ran');
    assert.equal(cond(never, 'Initialized').status, 'False');
    assert.equal(cond(never, 'Initialized').message, 'containers with incomplete status: [fail]');
    assert.equal(row('init-never').status, 'Init:Error');
    assert.equal(ok('logs', 'init-never', '-c', 'fail'), 'failing\n');

    const looping = await waitFor(
      'init-onfailure Init:CrashLoopBackOff',
      () => (row('init-onfailure').status === 'Init:CrashLoopBackOff' ? pod('init-onfailure') : undefined),
      60_000,
    );
    assert.equal(looping.status.phase, 'Pending');
    const st = looping.status.initContainerStatuses[1];
    assert.ok(st.restartCount >= 1);
    assert.equal(st.lastState.terminated.exitCode, 3);
    assert.equal(looping.status.initContainerStatuses[0].restartCount, 0, 'a completed init container is not run again');
    assert.match(events('init-onfailure'), /Warning BackOff Back-off restarting failed container fail in pod/);
    ok('delete', 'pod', 'init-never', 'init-onfailure', '--grace-period=0', '--force');
  });

  it('readiness: httpGet (named port) and tcpSocket probes keep a running container unready until they pass', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: ready-http}
spec:
  containers:
  - name: web
    image: busybox:1.36
    command: [sh, -c, "mkdir -p /www && httpd -p 8080 -h /www && sleep 4 && echo ok > /www/ready && exec sleep 3600"]
    ports: [{name: http, containerPort: 8080, hostPort: ${HTTP_READY_PORT}}]
    readinessProbe:
      httpGet: {path: /ready, port: http, httpHeaders: [{name: X-Probe, value: podbay}]}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: ready-tcp}
spec:
  containers:
  - name: srv
    image: busybox:1.36
    command: [sh, -c, "sleep 4; exec httpd -f -p 9000 -h /"]
    readinessProbe:
      tcpSocket: {port: 9000}
      periodSeconds: 1
`);
    for (const name of ['ready-http', 'ready-tcp']) {
      const unready = await waitFor(`${name} running, not ready`, () => {
        const x = pod(name);
        return x.status.containerStatuses?.[0]?.state.running ? x : undefined;
      });
      assert.equal(unready.status.phase, 'Running');
      assert.equal(unready.status.containerStatuses[0].ready, false);
      assert.equal(unready.status.containerStatuses[0].started, true);
      assert.equal(cond(unready, 'Ready').status, 'False');
      assert.equal(cond(unready, 'ContainersReady').reason, 'ContainersNotReady');
      assert.match(row(name).line, new RegExp(`^${name}\\s+0/1\\s+Running\\s`));
    }
    for (const name of ['ready-http', 'ready-tcp']) {
      const ready = await waitFor(`${name} Ready`, () => (cond(pod(name), 'Ready')?.status === 'True' ? pod(name) : undefined));
      assert.equal(ready.status.containerStatuses[0].ready, true);
      assert.equal(ready.status.containerStatuses[0].restartCount, 0);
      assert.match(row(name).line, new RegExp(`^${name}\\s+1/1\\s+Running\\s`));
    }
    assert.match(events('ready-http'), /^Warning Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 404$/m);
    assert.match(events('ready-tcp'), /^Warning Unhealthy Readiness probe failed: dial tcp 10\.208\.0\.\d+:9000: connect: connection refused$/m);
    assert.equal((await httpGet(`http://127.0.0.1:${HTTP_READY_PORT}/ready`)).body, 'ok\n');
    ok('delete', 'pod', 'ready-http', 'ready-tcp', '--grace-period=0', '--force');
  });

  it('a startup probe holds readiness back until it passes; an exec probe that times out fails and its process is killed', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: startup-exec}
spec:
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "sleep 3; touch /tmp/started; exec sleep 3600"]
    startupProbe: {exec: {command: [cat, /tmp/started]}, periodSeconds: 1, failureThreshold: 30}
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
  - name: slow
    image: busybox:1.36
    command: [sleep, "3600"]
    readinessProbe: {exec: {command: [sleep, "27"]}, timeoutSeconds: 1, periodSeconds: 1}
`);
    const early = await waitFor('startup-exec running', () => {
      const x = pod('startup-exec');
      return x.status.containerStatuses?.every((c: any) => c.state.running) ? x : undefined;
    });
    const app = early.status.containerStatuses.find((c: any) => c.name === 'app');
    assert.deepEqual([app.started, app.ready], [false, false], 'not started, so not ready');
    const later = await waitFor('app started and ready', () => {
      const x = pod('startup-exec');
      const a = x.status.containerStatuses.find((c: any) => c.name === 'app');
      return a.started && a.ready ? x : undefined;
    });
    const slow = later.status.containerStatuses.find((c: any) => c.name === 'slow');
    assert.deepEqual([slow.started, slow.ready], [true, false]);
    assert.equal(cond(later, 'Ready').message, 'containers with unready status: [slow]');
    assert.match(row('startup-exec').line, /^startup-exec\s+1\/2\s+Running\s+0\s/);
    const ev = await waitFor('the timeout event', () => {
      const e = events('startup-exec');
      return /Readiness probe failed: command "sleep 27" timed out/.test(e) ? e : undefined;
    });
    assert.match(ev, /^Warning Unhealthy Startup probe failed: cat: can't open '\/tmp\/started': No such file or directory$/m, ev);
    // every timed-out probe process was killed: at most the one running now is left
    const sleepers = processesMentioning('sleep 27').filter((l) => /^\d+: sleep 27$/.test(l));
    assert.ok(sleepers.length <= 1, `probe processes left behind: ${sleepers.join('; ')}`);
    ok('delete', 'pod', 'startup-exec', '--grace-period=0', '--force');
  });

  it('liveness: an exec probe that starts failing gets the container killed and restarted', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: live-exec}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "touch /tmp/healthy; sleep 5; rm -f /tmp/healthy; sleep 3600"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 2
`);
    const first = await waitFor('live-exec running', () => (pod('live-exec').status.containerStatuses?.[0]?.state.running ? pod('live-exec') : undefined));
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(pod('live-exec').status.containerStatuses[0].restartCount, 0, 'a passing exec probe leaves the container alone');
    const restarted = await waitFor(
      'live-exec restarted',
      () => {
        const x = pod('live-exec');
        const c = x.status.containerStatuses[0];
        return c.restartCount >= 1 && c.state.running ? x : undefined;
      },
      30_000,
    );
    const c = restarted.status.containerStatuses[0];
    assert.notEqual(c.containerID, first.status.containerStatuses[0].containerID);
    assert.equal(c.lastState.terminated.exitCode, 137, 'sh ignores SIGTERM as PID 1: killed after the grace period');
    assert.equal(restarted.status.phase, 'Running');
    const ev = events('live-exec');
    assert.match(ev, /^Warning Unhealthy Liveness probe failed: cat: can't open '\/tmp\/healthy': No such file or directory$/m, ev);
    assert.match(ev, /^Normal Killing Container app failed liveness probe, will be restarted$/m, ev);
    assert.match(row('live-exec').restarts!, /^[1-9]/);
    ok('delete', 'pod', 'live-exec', '--grace-period=0', '--force');
  });

  it('liveness: a container its probe kills again and again goes into CrashLoopBackOff, as one that exits does', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: live-loop}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    livenessProbe: {exec: {command: ["false"]}, periodSeconds: 1, failureThreshold: 1}
`);
    // the kubelet decides before each kill, from the previous run's end: two restarts at once, then 10 s
    const p = await waitFor('live-loop in CrashLoopBackOff', () => {
      const x = pod('live-loop');
      return x.status.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff' ? x : undefined;
    }, 40_000);
    const c = p.status.containerStatuses[0];
    const uid = p.metadata.uid;
    assert.equal(c.state.waiting.message, `back-off 10s restarting failed container=c pod=live-loop_default(${uid})`);
    assert.ok(c.restartCount >= 2 && c.restartCount <= 3, `restartCount ${c.restartCount}`);
    assert.match(events('live-loop'), new RegExp(`^Warning BackOff Back-off restarting failed container c in pod live-loop_default\\(${uid}\\)$`, 'm'));
    // 8 s later: at most one more restart (the 10 s back-off), not one a second
    await new Promise((r) => setTimeout(r, 8000));
    const later = pod('live-loop').status.containerStatuses[0].restartCount;
    assert.ok(later <= c.restartCount + 1, `restartCount ${c.restartCount} -> ${later} in 8 s`);
    ok('delete', 'pod', 'live-loop', '--grace-period=0', '--force');
  });
});
