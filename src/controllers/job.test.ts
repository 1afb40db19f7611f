/**
 * The Job controller on the memory store through the in-process client. No kubelet runs: the
 * tests play it, moving pods to Running/Succeeded/Failed through pods/status.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { JobController } from './job.js';
import { backoffDelay, formatIndexes, matchPodFailurePolicy, parseIndexes, podForJob, TRACKING_FINALIZER } from './job-logic.js';

const PODS = resourceInfo('pods')!;
const JOBS = resourceInfo('jobs', 'batch')!;
const EVENTS = resourceInfo('events')!;

function jobSpec(extra: Obj = {}): Obj {
  return { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } }, ...extra };
}

async function world(opts: { now?: () => number; backoffBaseMs?: number } = {}) {
  const reg = await memoryRegistry();
  const client = new LocalClient(reg);
  const logged: string[] = [];
  const ctl = new JobController(client, { backoffBaseMs: opts.backoffBaseMs ?? 10, backoffMaxMs: 100, now: opts.now, log: (l) => logged.push(l) });
  await ctl.start();
  const pods = client.resource(PODS);
  const jobs = client.resource(JOBS);
  const podsOf = async (job: string) => (await pods.list('default', { labelSelector: `job-name=${job}` })).items;
  /** the kubelet's part: a pod ends with `phase` (exit code for a Failed one) */
  const finish = async (p: Obj, phase: 'Succeeded' | 'Failed', exitCode = phase === 'Succeeded' ? 0 : 1, conditions: Obj[] = []) => {
    const cur = await pods.get('default', p.metadata.name);
    cur.status = { ...cur.status, phase, conditions, containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason: phase === 'Succeeded' ? 'Completed' : 'Error' } } }] };
    await pods.update(cur, { sub: 'status' });
  };
  const running = (items: Obj[]) => items.filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase) && !p.metadata.deletionTimestamp);
  const cond = (j: Obj, type: string) => (j.status?.conditions ?? []).find((c: Obj) => c.type === type && c.status === 'True');
  return { reg, client, ctl, pods, jobs, podsOf, finish, running, cond, logged };
}

describe('job controller', () => {
  it('completions 5 / parallelism 2: never more than 2 running, exactly 5 succeed, then Complete', async () => {
    const w = await world();
    try {
      await w.jobs.create('default', { metadata: { name: 'five' }, spec: jobSpec({ completions: 5, parallelism: 2 }) });
      let most = 0;
      for (let round = 0; round < 10; round++) {
        const job = await w.jobs.get('default', 'five');
        if (w.cond(job, 'Complete')) break;
        await until('pods to run', async () => w.running(await w.podsOf('five')).length > 0 || !!w.cond(await w.jobs.get('default', 'five'), 'Complete'));
        await new Promise((r) => setTimeout(r, 30)); // give the controller a chance to over-create
        const run = w.running(await w.podsOf('five'));
        most = Math.max(most, run.length);
        if (run[0]) await w.finish(run[0], 'Succeeded');
      }
      await until('the job complete', async () => !!w.cond(await w.jobs.get('default', 'five'), 'Complete'));
      const job = await w.jobs.get('default', 'five');
      const all = await w.podsOf('five');
      assert.equal(most, 2, 'at most parallelism pods at once, and that many');
      assert.equal(all.length, 5);
      assert.equal(all.filter((p) => p.status.phase === 'Succeeded').length, 5);
      // failed and active are 0: omitted, as JobStatus's omitempty counters are
      assert.deepEqual([job.status.succeeded, job.status.failed, job.status.active], [5, undefined, undefined]);
      assert.ok(job.status.startTime && job.status.completionTime);
      assert.equal(w.cond(job, 'SuccessCriteriaMet')?.reason, 'CompletionsReached');
      assert.equal(w.cond(job, 'Complete')?.reason, 'CompletionsReached');
      for (const p of all) {
        assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'five', uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }]);
        assert.equal(p.metadata.labels['batch.kubernetes.io/controller-uid'], job.metadata.uid);
        assert.ok(!(p.metadata.finalizers ?? []).includes(TRACKING_FINALIZER), 'counted pods lose the tracking finalizer');
      }
      await until('events', async () => (await w.client.resource(EVENTS).list('default')).items.some((e) => e.reason === 'Completed' && e.involvedObject.kind === 'Job'));
      assert.deepEqual(w.logged, []);
    } finally {
      await w.ctl.stop();
    }
  });

  it('backoffLimit: failures are counted once each, pods made again after a backoff, then BackoffLimitExceeded', async () => {
    const w = await world({ backoffBaseMs: 40 });
    try {
      await w.jobs.create('default', { metadata: { name: 'flaky' }, spec: jobSpec({ backoffLimit: 2 }) });
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        await until(`pod ${i + 1}`, async () => w.running(await w.podsOf('flaky')).length === 1);
        times.push(Date.now());
        await w.finish(w.running(await w.podsOf('flaky'))[0]!, 'Failed');
      }
      await until('the job failed', async () => !!w.cond(await w.jobs.get('default', 'flaky'), 'Failed'));
      const job = await w.jobs.get('default', 'flaky');
      assert.equal(job.status.failed, 3);
      assert.equal(w.cond(job, 'Failed').reason, 'BackoffLimitExceeded');
      assert.equal(w.cond(job, 'Failed').message, 'Job has reached the specified backoff limit');
      assert.equal(w.cond(job, 'FailureTarget').reason, 'BackoffLimitExceeded');
      assert.equal((await w.podsOf('flaky')).length, 3, 'no pod after the limit');
      assert.ok(times[1]! - times[0]! >= 40 && times[2]! - times[1]! >= 80, `backoff doubles: ${times}`);
    } finally {
      await w.ctl.stop();
    }
  });

  it('Indexed: one pod per index with the annotation, label, env and hostname; completedIndexes', async () => {
    const w = await world();
    try {
      await w.jobs.create('default', { metadata: { name: 'idx' }, spec: jobSpec({ completions: 3, parallelism: 3, completionMode: 'Indexed' }) });
      await until('3 pods', async () => w.running(await w.podsOf('idx')).length === 3);
      const pods = await w.podsOf('idx');
      const byIndex = new Map(pods.map((p) => [p.metadata.annotations['batch.kubernetes.io/job-completion-index'], p]));
      assert.deepEqual([...byIndex.keys()].sort(), ['0', '1', '2']);
      const p1 = byIndex.get('1')!;
      assert.equal(p1.metadata.labels['batch.kubernetes.io/job-completion-index'], '1');
      assert.match(p1.metadata.name, /^idx-1-[a-z0-9]{5}$/);
      assert.equal(p1.spec.hostname, 'idx-1');
      assert.deepEqual(p1.spec.containers[0].env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }]);
      // index 1 fails once: only index 1 is made again
      await w.finish(byIndex.get('0')!, 'Succeeded');
      await w.finish(p1, 'Failed');
      await until('index 1 again', async () => w.running(await w.podsOf('idx')).filter((p) => p.metadata.labels['batch.kubernetes.io/job-completion-index'] === '1').length === 1);
      let job = await w.jobs.get('default', 'idx');
      assert.equal(job.status.completedIndexes, '0');
      for (const p of w.running(await w.podsOf('idx'))) await w.finish(p, 'Succeeded');
      await until('complete', async () => !!w.cond(await w.jobs.get('default', 'idx'), 'Complete'));
      job = await w.jobs.get('default', 'idx');
      assert.deepEqual([job.status.completedIndexes, job.status.succeeded, job.status.failed], ['0-2', 3, 1]);
    } finally {
      await w.ctl.stop();
    }
  });

  it('podFailurePolicy: Ignore does not count, FailJob fails the job with kube\'s message', async () => {
    const w = await world();
    try {
      const podFailurePolicy = {
        rules: [
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
          { action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } },
        ],
      };
      await w.jobs.create('default', { metadata: { name: 'pfp' }, spec: jobSpec({ podFailurePolicy, backoffLimit: 5 }) });
      await until('a pod', async () => w.running(await w.podsOf('pfp')).length === 1);
      await w.finish(w.running(await w.podsOf('pfp'))[0]!, 'Failed', 137, [{ type: 'DisruptionTarget', status: 'True' }]);
      await until('a second pod', async () => w.running(await w.podsOf('pfp')).length === 1 && (await w.podsOf('pfp')).length === 2);
      assert.equal((await w.jobs.get('default', 'pfp')).status.failed, undefined, 'an ignored failure is not counted (0 is omitted)');
      const second = w.running(await w.podsOf('pfp'))[0]!;
      await w.finish(second, 'Failed', 42);
      await until('failed', async () => !!w.cond(await w.jobs.get('default', 'pfp'), 'Failed'));
      const c = w.cond(await w.jobs.get('default', 'pfp'), 'Failed');
      assert.equal(c.reason, 'PodFailurePolicy');
      assert.equal(c.message, `Container main for pod default/${second.metadata.name} failed with exit code 42 matching FailJob rule at index 1`);
    } finally {
      await w.ctl.stop();
    }
  });

  it('activeDeadlineSeconds (fake clock): running pods deleted, then Failed with DeadlineExceeded', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const w = await world({ now: () => now });
    try {
      await w.jobs.create('default', { metadata: { name: 'slow' }, spec: jobSpec({ activeDeadlineSeconds: 30, parallelism: 2, completions: 4 }) });
      await until('2 pods', async () => w.running(await w.podsOf('slow')).length === 2);
      now += 31_000;
      w.ctl.resyncAll();
      await until('failed', async () => !!w.cond(await w.jobs.get('default', 'slow'), 'Failed'));
      const job = await w.jobs.get('default', 'slow');
      assert.equal(w.cond(job, 'Failed').reason, 'DeadlineExceeded');
      assert.equal(w.cond(job, 'Failed').message, 'Job was active longer than specified deadline');
      assert.equal(job.status.failed, undefined, 'pods the controller deletes are not failures (0 is omitted)');
      assert.equal((await w.podsOf('slow')).length, 0, 'the unbound pods are gone');
    } finally {
      await w.ctl.stop();
    }
  });

  it('suspend: no pods and Suspended; resumed: pods and a new startTime', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const w = await world({ now: () => now });
    try {
      await w.jobs.create('default', { metadata: { name: 'later' }, spec: jobSpec({ suspend: true }) });
      await until('suspended', async () => !!w.cond(await w.jobs.get('default', 'later'), 'Suspended'));
      assert.equal((await w.podsOf('later')).length, 0);
      assert.equal((await w.jobs.get('default', 'later')).status.startTime, undefined);
      now += 60_000;
      await w.jobs.patch('default', 'later', 'application/merge-patch+json', { spec: { suspend: false } });
      await until('a pod', async () => w.running(await w.podsOf('later')).length === 1);
      await until('resumed', async () => (await w.jobs.get('default', 'later')).status.conditions?.find((c: Obj) => c.type === 'Suspended')?.reason === 'JobResumed');
      assert.equal((await w.jobs.get('default', 'later')).status.startTime, '2026-01-01T00:01:00Z');
      await w.jobs.patch('default', 'later', 'application/merge-patch+json', { spec: { suspend: true } });
      await until('pods deleted', async () => (await w.podsOf('later')).length === 0);
    } finally {
      await w.ctl.stop();
    }
  });

  it('a work queue (no completions): after a success no pod is made, the running ones finish, then Complete', async () => {
    const w = await world();
    try {
      await w.jobs.create('default', { metadata: { name: 'queue' }, spec: jobSpec({ parallelism: 3, completions: null }) });
      await until('3 pods', async () => w.running(await w.podsOf('queue')).length === 3);
      const [a, b, c] = w.running(await w.podsOf('queue'));
      await w.finish(a!, 'Succeeded');
      await until('counted', async () => (await w.jobs.get('default', 'queue')).status.succeeded === 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(w.running(await w.podsOf('queue')).length, 2, 'the others keep running, none is added');
      await w.finish(b!, 'Succeeded');
      await w.finish(c!, 'Succeeded');
      await until('complete', async () => !!w.cond(await w.jobs.get('default', 'queue'), 'Complete'));
      assert.equal((await w.jobs.get('default', 'queue')).status.succeeded, 3);
      assert.equal((await w.podsOf('queue')).length, 3);
    } finally {
      await w.ctl.stop();
    }
  });

  it('restartPolicy OnFailure: container restarts count against backoffLimit', async () => {
    const w = await world();
    try {
      const spec = jobSpec({ backoffLimit: 2 });
      spec.template.spec.restartPolicy = 'OnFailure';
      await w.jobs.create('default', { metadata: { name: 'restarts' }, spec });
      await until('a pod', async () => w.running(await w.podsOf('restarts')).length === 1);
      const p = (await w.podsOf('restarts'))[0]!;
      p.status = { ...p.status, phase: 'Running', containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } }] };
      await w.pods.update(p, { sub: 'status' });
      await until('failed', async () => !!w.cond(await w.jobs.get('default', 'restarts'), 'Failed'));
      assert.equal(w.cond(await w.jobs.get('default', 'restarts'), 'Failed').reason, 'BackoffLimitExceeded');
    } finally {
      await w.ctl.stop();
    }
  });

  it('ttlSecondsAfterFinished: the finished Job is deleted when its time comes', async () => {
    const w = await world();
    try {
      await w.jobs.create('default', { metadata: { name: 'brief' }, spec: jobSpec({ ttlSecondsAfterFinished: 0 }) });
      await until('a pod', async () => w.running(await w.podsOf('brief')).length === 1);
      await w.finish((await w.podsOf('brief'))[0]!, 'Succeeded');
      // deleted with Foreground propagation, as kube's TTL controller does: without a garbage
      // collector running here, the Job waits marked (foregroundDeletion) for its pods to go
      await until('the job deleted', async () => {
        const j = await w.jobs.tryGet('default', 'brief');
        return !j || (!!j.metadata?.deletionTimestamp && (j.metadata.finalizers ?? []).includes('foregroundDeletion'));
      });
    } finally {
      await w.ctl.stop();
    }
  });

  it('a restart counts what was uncounted once, and never what was counted already', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const jobs = client.resource(JOBS);
    const pods = client.resource(PODS);
    const job = await jobs.create('default', { metadata: { name: 'again' }, spec: jobSpec({ completions: 3, parallelism: 1, suspend: true }) });
    // as a controller left it: one pod counted (no finalizer), one recorded as uncounted with the
    // finalizer still on, one finished and not yet seen
    const mk = async (finalizer: boolean) => {
      const p = podForJob(job);
      if (!finalizer) p.metadata!.finalizers = [];
      const made = await pods.create('default', p);
      made.status = { ...made.status, phase: 'Succeeded' };
      return pods.update(made, { sub: 'status' });
    };
    await mk(false);
    const uncounted = await mk(true);
    await mk(true);
    await jobs.update({ ...job, spec: job.spec, status: { succeeded: 1, startTime: '2026-01-01T00:00:00Z', uncountedTerminatedPods: { succeeded: [uncounted.metadata.uid] } } }, { sub: 'status' });
    await jobs.patch('default', 'again', 'application/merge-patch+json', { spec: { suspend: false } });
    const ctl = new JobController(client);
    await ctl.start();
    try {
      await until('complete', async () => (await jobs.get('default', 'again')).status.conditions?.some((c: Obj) => c.type === 'Complete'));
      const j = await jobs.get('default', 'again');
      assert.equal(j.status.succeeded, 3);
      assert.deepEqual(j.status.uncountedTerminatedPods, {});
      assert.equal((await pods.list('default')).items.length, 3, 'no pod made');
    } finally {
      await ctl.stop();
    }
  });

  it('a deleted Job lets go of its pods (no finalizer left behind)', async () => {
    const w = await world();
    try {
      await w.jobs.create('default', { metadata: { name: 'gone' }, spec: jobSpec() });
      await until('a pod', async () => (await w.podsOf('gone')).length === 1);
      await w.jobs.delete('default', 'gone');
      await until('finalizer off', async () => !((await w.podsOf('gone'))[0]?.metadata.finalizers ?? []).includes(TRACKING_FINALIZER));
    } finally {
      await w.ctl.stop();
    }
  });
});

describe('job logic', () => {
  it('completed indexes as kube writes them', () => {
    assert.equal(formatIndexes([4, 0, 1, 2, 7, 8]), '0-2,4,7-8');
    assert.equal(formatIndexes([]), '');
    assert.deepEqual([...parseIndexes('0-2,4')], [0, 1, 2, 4]);
  });

  it('backoff: 10 s doubling, capped at 6 min', () => {
    assert.deepEqual([0, 1, 2, 3, 6, 7].map((n) => backoffDelay(n, 10_000, 360_000)), [0, 10_000, 20_000, 40_000, 320_000, 360_000]);
  });

  it('pod failure policy: exit code 0 never matches, NotIn, a container name, pod conditions', () => {
    const job = { spec: { template: {}, podFailurePolicy: { rules: [{ action: 'Count', onExitCodes: { operator: 'NotIn', values: [1, 2] } }, { action: 'FailJob', onExitCodes: { containerName: 'side', operator: 'In', values: [2] } }] } } };
    const pod = (codes: Obj) => ({ metadata: { namespace: 'ns', name: 'p' }, status: { containerStatuses: Object.entries(codes).map(([name, exitCode]) => ({ name, state: { terminated: { exitCode } } })) } });
    assert.equal(matchPodFailurePolicy(job as never, pod({ main: 0 })), undefined);
    assert.equal(matchPodFailurePolicy(job as never, pod({ main: 5 }))?.action, 'Count');
    assert.equal(matchPodFailurePolicy(job as never, pod({ main: 2 })), undefined);
    assert.equal(matchPodFailurePolicy(job as never, pod({ main: 0, side: 2 }))?.message, 'Container side for pod ns/p failed with exit code 2 matching FailJob rule at index 1');
  });
});
