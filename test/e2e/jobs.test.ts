/**
 * Jobs and CronJobs run by podbay's controllers with real pods (runc, conmon, CNI), driven by
 * real kubectl (1.27 and the newest). What a user sees: a Job with completions 5 / parallelism 2
 * never runs more than 2 pods at once and ends with exactly 5 succeeded (`kubectl wait
 * --for=condition=complete`, `kubectl logs job/x`), `kubectl create job`, an Indexed Job's
 * JOB_COMPLETION_INDEX, a failing Job's BackoffLimitExceeded, a Job that survives podbay being
 * SIGKILLed and started again with each pod counted once, and a CronJob every minute whose
 * Job completes and whose history limit removes the older run made by `kubectl create job
 * --from=cronjob/x`. The CronJob is made first and checked last, so its minute overlaps the rest.
 * A StatefulSet shares the world: ordered pods with stable names, `kubectl rollout status`, a
 * rolling update from the highest ordinal, `rollout undo` and `history`, scale to 0 (claim
 * templates: volumes-pvc.test.ts); and a DaemonSet: its one pod on the node, `kubectl rollout
 * status ds/x`, a rolling update, `rollout history`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PodbayServer, PodSuite, kubectlBinaries, kubectlHelpers, waitFor } from './harness.js';

const BRIDGE = 'pbctlb0';
const CIDR = '10.230.0.0/24';
const binaries = kubectlBinaries();
const oldest = binaries[0]!;
const newest = binaries[binaries.length - 1]!;

describe('jobs, cronjobs, statefulsets and daemonsets with real pods and kubectl', () => {
  let s: PodbayServer;
  const suite = new PodSuite(BRIDGE, CIDR, /^182[45]\d$/);
  const kNew = kubectlHelpers(() => s, newest.path);
  const kOld = kubectlHelpers(() => s, oldest.path);
  let cronCreatedAt = 0;

  before(async () => {
    s = await suite.start('podbay-e2e-jobs-');
    await suite.loadBusybox();
    // every minute, keeping one successful Job; made first so its minute passes while the rest runs
    kNew.ok('create', 'cronjob', 'tick', '--image=busybox:1.36', '--schedule=* * * * *', '--', 'sh', '-c', 'echo tick');
    kNew.ok('patch', 'cronjob', 'tick', '--type=merge', '-p', '{"spec":{"successfulJobsHistoryLimit":1}}');
    cronCreatedAt = Date.now();
    // a manual run first: it is the CronJob's too (kubectl sets the owner), so the history limit removes it later
    assert.match(kNew.ok('create', 'job', '--from=cronjob/tick', 'tick-manual'), /job.batch\/tick-manual created/);
  });

  after(async () => {
    // no garbage collector yet: the Jobs go (the controller lets go of their pods), then the pods
    kNew.k('delete', 'cronjobs,jobs,statefulsets,daemonsets', '--all', '--wait=true');
    await suite.finish(newest.path);
  });

  it(`completions 5 / parallelism 2: at most 2 at once, exactly 5 succeed; kubectl wait and logs job/x (${newest.name})`, async () => {
    kNew.apply(`apiVersion: batch/v1
kind: Job
metadata: {name: five}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
      - name: work
        image: busybox:1.36
        command: [sh, -c, 'echo done by $HOSTNAME; sleep 1']
`);
    let most = 0;
    let finished = false;
    const watching = (async () => {
      while (!finished) {
        const pods = JSON.parse(kNew.ok('get', 'pods', '-l', 'job-name=five', '-o', 'json')).items;
        most = Math.max(most, pods.filter((p: any) => !['Succeeded', 'Failed'].includes(p.status.phase)).length);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const w = kNew.k('wait', '--for=condition=complete', 'job/five', '--timeout=120s');
    finished = true;
    await watching;
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, /job.batch\/five condition met/);
    const job = JSON.parse(kNew.ok('get', 'job', 'five', '-o', 'json'));
    assert.deepEqual([job.status.succeeded, job.status.failed ?? 0, job.status.active ?? 0], [5, 0, 0]);
    const pods = JSON.parse(kNew.ok('get', 'pods', '-l', 'job-name=five', '-o', 'json')).items;
    assert.equal(pods.length, 5, 'exactly 5 pods were made');
    assert.ok(pods.every((p: any) => p.status.phase === 'Succeeded'));
    assert.ok(most <= 2 && most >= 1, `never more than parallelism pods at once (saw ${most})`);
    assert.match(kNew.ok('logs', 'job/five'), /^done by five-[a-z0-9]{5}\n$/);
    const row = kNew.ok('get', 'job', 'five', '--no-headers').trim().split(/\s+/);
    assert.deepEqual(row.slice(0, 3), ['five', 'Complete', '5/5']);
    assert.match(kNew.events('five'), /Normal SuccessfulCreate Created pod: five-/);
    assert.match(kNew.events('five'), /Normal Completed Job completed/);
    const described = kNew.ok('describe', 'job', 'five');
    assert.match(described, /Pods Statuses:\s+0 Active \(0 Ready\) \/ 5 Succeeded \/ 0 Failed/);
    assert.match(described, /Completions:\s+5/);
  });

  it(`kubectl create job, an Indexed Job, a failing Job (${oldest.name})`, async () => {
    assert.match(kOld.ok('create', 'job', 'once', '--image=busybox:1.36', '--', 'sh', '-c', 'echo hello from a job'), /job.batch\/once created/);
    kOld.apply(`apiVersion: batch/v1
kind: Job
metadata: {name: idx}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
      - name: work
        image: busybox:1.36
        command: [sh, -c, 'echo index $JOB_COMPLETION_INDEX on $(hostname)']
---
apiVersion: batch/v1
kind: Job
metadata: {name: doomed}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
      - name: work
        image: busybox:1.36
        command: [sh, -c, 'exit 3']
`);
    const w = kOld.k('wait', '--for=condition=complete', 'job/once', 'job/idx', '--timeout=120s');
    assert.equal(w.code, 0, w.stderr);
    assert.equal(kOld.ok('logs', 'job/once'), 'hello from a job\n');
    const idx = JSON.parse(kOld.ok('get', 'job', 'idx', '-o', 'json'));
    assert.equal(idx.status.completedIndexes, '0-2');
    const logs = JSON.parse(kOld.ok('get', 'pods', '-l', 'job-name=idx', '-o', 'json'))
      .items.map((p: any) => kOld.ok('logs', p.metadata.name).trim())
      .sort();
    assert.deepEqual(logs, ['index 0 on idx-0', 'index 1 on idx-1', 'index 2 on idx-2']);

    const f = kOld.k('wait', '--for=condition=failed', 'job/doomed', '--timeout=120s');
    assert.equal(f.code, 0, f.stderr);
    const doomed = JSON.parse(kOld.ok('get', 'job', 'doomed', '-o', 'json'));
    const failed = doomed.status.conditions.find((c: any) => c.type === 'Failed');
    assert.deepEqual([failed.reason, failed.message, doomed.status.failed], ['BackoffLimitExceeded', 'Job has reached the specified backoff limit', 1]);
    assert.equal(JSON.parse(kOld.ok('get', 'pods', '-l', 'job-name=doomed', '-o', 'json')).items.length, 1, 'no pod after the backoff limit');
  });

  it(`podbay killed mid-Job and started again: the Job completes with each pod counted once (${newest.name})`, async () => {
    kNew.apply(`apiVersion: batch/v1
kind: Job
metadata: {name: survive}
spec:
  completions: 4
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
      - name: work
        image: busybox:1.36
        command: [sh, -c, 'sleep 2; echo ok']
`);
    await waitFor('a first success', () => (JSON.parse(kNew.ok('get', 'job', 'survive', '-o', 'json')).status.succeeded ?? 0) >= 1 || undefined, 60_000);
    const exited = new Promise((r) => s.proc!.once('exit', r));
    s.proc!.kill('SIGKILL');
    await exited;
    await s.spawn(suite.serverArgs());
    const w = kNew.k('wait', '--for=condition=complete', 'job/survive', '--timeout=120s');
    assert.equal(w.code, 0, `${w.stderr}\n${s.log.slice(-3000)}`);
    const job = JSON.parse(kNew.ok('get', 'job', 'survive', '-o', 'json'));
    assert.deepEqual([job.status.succeeded, job.status.failed ?? 0], [4, 0]);
    const pods = JSON.parse(kNew.ok('get', 'pods', '-l', 'job-name=survive', '-o', 'json')).items;
    assert.equal(pods.filter((p: any) => p.status.phase === 'Succeeded').length, 4, 'exactly 4 pods succeeded: none made twice');
    assert.ok(pods.every((p: any) => !(p.metadata.finalizers ?? []).includes('batch.kubernetes.io/job-tracking')), 'every pod counted and let go');
  });

  it(`a StatefulSet: ordered pods with stable names, rollout status, a rolling update highest first, rollout undo and history, scale to 0 (${newest.name})`, async () => {
    kNew.apply(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 2
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox:1.36
        command: [sh, -c, 'echo up as $(hostname); exec sleep 3600']
`);
    const r = kNew.k('rollout', 'status', 'sts/web', '--timeout=120s');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /partitioned roll out complete: 2 new pods have been updated|statefulset rolling update complete 2 pods at revision web-/);
    const first = new Map(JSON.parse(kNew.ok('get', 'pods', '-l', 'app=web', '-o', 'json')).items.map((p: any) => [p.metadata.name, p]));
    assert.deepEqual([...first.keys()].sort(), ['web-0', 'web-1']);
    assert.ok(Date.parse((first.get('web-0') as any).status.startTime) <= Date.parse((first.get('web-1') as any).metadata.creationTimestamp), 'web-1 is made after web-0 runs');
    assert.equal(kNew.ok('logs', 'web-1'), 'up as web-1\n');

    kNew.ok('set', 'env', 'sts/web', 'ROUND=2');
    const u = kNew.k('rollout', 'status', 'sts/web', '--timeout=120s');
    assert.equal(u.code, 0, u.stderr);
    const sts = JSON.parse(kNew.ok('get', 'sts', 'web', '-o', 'json'));
    assert.equal(sts.status.currentRevision, sts.status.updateRevision);
    assert.deepEqual([sts.status.replicas, sts.status.readyReplicas, sts.status.updatedReplicas], [2, 2, 2]);
    const second = new Map(JSON.parse(kNew.ok('get', 'pods', '-l', 'app=web', '-o', 'json')).items.map((p: any) => [p.metadata.name, p]));
    for (const [n, p] of second as Map<string, any>) {
      assert.equal(p.metadata.labels['controller-revision-hash'], sts.status.updateRevision, n);
      assert.notEqual(p.metadata.uid, (first.get(n) as any).metadata.uid, `${n} replaced`);
    }
    assert.ok(Date.parse((second.get('web-1') as any).metadata.creationTimestamp) <= Date.parse((second.get('web-0') as any).metadata.creationTimestamp), 'web-1 is replaced before web-0');
    assert.match(kNew.ok('get', 'controllerrevisions', '-o', 'name'), new RegExp(`controllerrevision.apps/${sts.status.updateRevision}`));

    // undo: back to the first template, which becomes revision 3
    assert.match(kNew.ok('rollout', 'undo', 'sts/web'), /statefulset.apps\/web rolled back/);
    const un = kNew.k('rollout', 'status', 'sts/web', '--timeout=120s');
    assert.equal(un.code, 0, un.stderr);
    await waitFor('pods back on the first revision', () => {
      const items = JSON.parse(kNew.ok('get', 'pods', '-l', 'app=web', '-o', 'json')).items;
      return items.length === 2 && items.every((p: any) => p.metadata.labels['controller-revision-hash'] === (first.get('web-0') as any).metadata.labels['controller-revision-hash'] && !p.spec.containers[0].env) || undefined;
    }, 60_000);
    assert.match(kNew.ok('rollout', 'history', 'sts/web'), /REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>/);

    kNew.ok('scale', 'sts/web', '--replicas=0');
    await waitFor('the set\'s pods gone', () => JSON.parse(kNew.ok('get', 'pods', '-l', 'app=web', '-o', 'json')).items.length === 0 || undefined, 60_000);
  });

  it(`a DaemonSet: one pod on the node, kubectl rollout status, a rolling update (${oldest.name})`, async () => {
    kOld.apply(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox:1.36
        command: [sh, -c, 'echo agent on $NODE; exec sleep 3600']
        env: [{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
`);
    const r = kOld.k('rollout', 'status', 'ds/agent', '--timeout=120s');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /daemon set "agent" successfully rolled out/);
    const node = JSON.parse(kOld.ok('get', 'nodes', '-o', 'json')).items[0].metadata.name;
    const pods = JSON.parse(kOld.ok('get', 'pods', '-l', 'app=agent', '-o', 'json')).items;
    assert.equal(pods.length, 1);
    assert.equal(pods[0].spec.nodeName, node);
    assert.equal(kOld.ok('logs', pods[0].metadata.name), `agent on ${node}\n`);
    const row = kOld.ok('get', 'ds', 'agent', '--no-headers').trim().split(/\s+/);
    assert.deepEqual(row.slice(0, 6), ['agent', '1', '1', '1', '1', '1']);
    kOld.ok('set', 'env', 'ds/agent', 'ROUND=2');
    const u = kOld.k('rollout', 'status', 'ds/agent', '--timeout=120s');
    assert.equal(u.code, 0, u.stderr);
    const after = await waitFor('one new pod', () => {
      const items = JSON.parse(kOld.ok('get', 'pods', '-l', 'app=agent', '-o', 'json')).items;
      return items.length === 1 && items[0].metadata.uid !== pods[0].metadata.uid ? items[0] : undefined;
    }, 60_000);
    assert.ok(after.spec.containers[0].env.some((e: any) => e.name === 'ROUND'));
    assert.match(kOld.ok('rollout', 'history', 'ds/agent'), /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
    kOld.ok('delete', 'ds', 'agent');
    kOld.ok('delete', 'pods', '-l', 'app=agent', '--wait=true');
  });

  it('a CronJob every minute: its Job completes, the history limit keeps one, status as kube shows it', async () => {
    // the manual run completes on its own; the first scheduled one within a minute of creation
    const scheduled = await waitFor(
      'a scheduled Job complete',
      () => {
        const jobs = JSON.parse(kNew.ok('get', 'jobs', '-o', 'json')).items.filter((j: any) => /^tick-\d+$/.test(j.metadata.name));
        return jobs.find((j: any) => (j.status.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True'));
      },
      Math.max(10_000, cronCreatedAt + 95_000 - Date.now()),
    );
    const minutes = Number(scheduled.metadata.name.slice('tick-'.length));
    assert.ok(Math.abs(minutes * 60_000 - cronCreatedAt) < 120_000, 'named by its scheduled minute');
    assert.equal(scheduled.metadata.ownerReferences[0].kind, 'CronJob');
    await waitFor('the manual run deleted by the history limit', () => !kNew.k('get', 'job', 'tick-manual').stdout || undefined, 30_000);
    const cj = JSON.parse(kNew.ok('get', 'cronjob', 'tick', '-o', 'json'));
    assert.ok(cj.status.lastScheduleTime && cj.status.lastSuccessfulTime, JSON.stringify(cj.status));
    assert.equal(kNew.ok('logs', `job/${scheduled.metadata.name}`), 'tick\n');
    const row = kNew.ok('get', 'cronjob', 'tick', '--no-headers').trim().split(/\s+/);
    assert.deepEqual(row.slice(0, 5), ['tick', '*', '*', '*', '*']);
    assert.match(row.slice(9).join(' '), /^\d+s /, `LAST SCHEDULE is a few seconds ago: ${row.join(' ')}`);
    assert.match(kNew.events('tick'), /Normal SuccessfulCreate Created job tick-\d+/);
    assert.match(kNew.events('tick'), /Normal SawCompletedJob Saw completed job: tick-\d+, condition: Complete/);
  });
});
