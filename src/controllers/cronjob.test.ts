/**
 * The CronJob controller on the memory store through the in-process client, with a fake clock
 * moved past schedule times (then resyncAll). No Job controller runs: the tests finish Jobs by
 * writing their status.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { CronSchedule } from './cron-schedule.js';
import { CronJobController, jobNameFor, scheduleTimes } from './cronjob.js';

const CRONJOBS = resourceInfo('cronjobs', 'batch')!;
const JOBS = resourceInfo('jobs', 'batch')!;
const EVENTS = resourceInfo('events')!;
const MIN = 60_000;

function cronSpec(extra: Obj = {}): Obj {
  return { schedule: '* * * * *', jobTemplate: { metadata: { labels: { app: 'tick' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } }, ...extra };
}

async function world() {
  const reg = await memoryRegistry();
  const client = new LocalClient(reg);
  const clock = { now: Date.now() };
  const logged: string[] = [];
  const ctl = new CronJobController(client, { now: () => clock.now, defaultTimeZone: 'UTC', log: (l) => logged.push(l) });
  await ctl.start();
  const cronJobs = client.resource(CRONJOBS);
  const jobs = client.resource(JOBS);
  const jobsOf = async () => (await jobs.list('default')).items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  /** move the clock to `minutes` whole minutes after the cron job's creation minute, plus 5 s */
  const at = async (cj: Obj, minutes: number) => {
    clock.now = Math.floor(Date.parse(cj.metadata.creationTimestamp) / MIN) * MIN + minutes * MIN + 5_000;
    ctl.resyncAll();
  };
  const finish = async (job: Obj, type: 'Complete' | 'Failed') => {
    const cur = await jobs.get('default', job.metadata.name);
    const t = new Date(clock.now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    cur.status = { ...cur.status, startTime: t, ...(type === 'Complete' ? { completionTime: t } : {}), conditions: [{ type, status: 'True', lastTransitionTime: t }] };
    await jobs.update(cur, { sub: 'status' });
  };
  const events = async (reason: string) => (await client.resource(EVENTS).list('default')).items.filter((e) => e.reason === reason);
  return { client, ctl, clock, cronJobs, jobs, jobsOf, at, finish, events, logged };
}

describe('cronjob controller', () => {
  it('every minute: a Job per time, named by its minute, active until done, history limits kept', async () => {
    const w = await world();
    try {
      const cj = await w.cronJobs.create('default', { metadata: { name: 'tick' }, spec: cronSpec({ successfulJobsHistoryLimit: 2, failedJobsHistoryLimit: 1 }) });
      for (let m = 1; m <= 4; m++) {
        await w.at(cj, m);
        await until(`job ${m}`, async () => (await w.jobsOf()).filter((j) => !j.status?.conditions).length === 1);
        const job = (await w.jobsOf()).find((j) => !j.status?.conditions)!;
        const scheduled = Math.floor(w.clock.now / MIN) * MIN;
        assert.equal(job.metadata.name, jobNameFor('tick', scheduled));
        assert.equal(job.metadata.labels.app, 'tick');
        assert.equal(job.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'], new Date(scheduled).toISOString().replace('.000', ''));
        assert.deepEqual(job.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: cj.metadata.uid, controller: true, blockOwnerDeletion: true }]);
        await until('active', async () => (await w.cronJobs.get('default', 'tick')).status.active?.[0]?.name === job.metadata.name);
        assert.equal((await w.cronJobs.get('default', 'tick')).status.lastScheduleTime, new Date(scheduled).toISOString().replace('.000', ''));
        await w.finish(job, m === 2 ? 'Failed' : 'Complete');
        await until('not active', async () => !(await w.cronJobs.get('default', 'tick')).status.active);
      }
      // 1, 3, 4 succeeded (keep 2: 3 and 4), 2 failed (keep 1)
      await until('history', async () => (await w.jobsOf()).length === 3);
      const names = (await w.jobsOf()).map((j) => j.metadata.name);
      const base = Math.floor(Date.parse(cj.metadata.creationTimestamp) / MIN);
      assert.deepEqual(names, [2, 3, 4].map((m) => `tick-${base + m}`));
      const st = (await w.cronJobs.get('default', 'tick')).status;
      assert.ok(st.lastSuccessfulTime);
      assert.ok((await w.events('SawCompletedJob')).length >= 4);
      assert.deepEqual(w.logged, []);
    } finally {
      await w.ctl.stop();
    }
  });

  it('Forbid skips a time while a run is active; Replace deletes it and starts the new one', async () => {
    const w = await world();
    try {
      const cj = await w.cronJobs.create('default', { metadata: { name: 'solo' }, spec: cronSpec({ concurrencyPolicy: 'Forbid' }) });
      await w.at(cj, 1);
      await until('first job', async () => (await w.jobsOf()).length === 1);
      await w.at(cj, 2);
      await until('JobAlreadyActive', async () => (await w.events('JobAlreadyActive')).length > 0);
      assert.equal((await w.jobsOf()).length, 1);
      await w.cronJobs.patch('default', 'solo', 'application/merge-patch+json', { spec: { concurrencyPolicy: 'Replace' } });
      await w.at(cj, 3);
      const base = Math.floor(Date.parse(cj.metadata.creationTimestamp) / MIN);
      await until('replaced', async () => (await w.jobsOf()).map((j) => j.metadata.name).join() === `solo-${base + 3}`);
      await until('active is the new one', async () => (await w.cronJobs.get('default', 'solo')).status.active?.map((r: Obj) => r.name).join() === `solo-${base + 3}`);
    } finally {
      await w.ctl.stop();
    }
  });

  it('suspend: no Job; startingDeadlineSeconds: a run too late is not started', async () => {
    const w = await world();
    try {
      const cj = await w.cronJobs.create('default', { metadata: { name: 'late' }, spec: cronSpec({ suspend: true, schedule: '0 * * * *', startingDeadlineSeconds: 10 }) });
      // every time below is set from an hour after the creation, whatever minute of its hour
      // the test runs in (the fake clock's times, not the wall clock's, decide what is late)
      const created = Math.floor(Date.parse(cj.metadata.creationTimestamp) / MIN) * MIN;
      const nextHour = Math.ceil((created + MIN) / 3_600_000) * 3_600_000;
      // 5 s after an on-the-hour time, within the 10 s deadline: suspended all the same
      w.clock.now = nextHour + 60 * MIN + 5_000;
      w.ctl.resyncAll();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await w.jobsOf()).length, 0, 'suspended');
      // resumed at half past (the resume syncs at once): the hour passed 30 minutes ago
      w.clock.now = nextHour + 90 * MIN;
      await w.cronJobs.patch('default', 'late', 'application/merge-patch+json', { spec: { suspend: false } });
      await new Promise((r) => setTimeout(r, 100));
      w.ctl.resyncAll();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await w.jobsOf()).length, 0, 'the hour passed 30 minutes ago: too late');
      w.clock.now = nextHour + 120 * MIN + 5_000;
      w.ctl.resyncAll();
      await until('on time', async () => (await w.jobsOf()).length === 1);
    } finally {
      await w.ctl.stop();
    }
  });

  it('more than 100 missed times: TooManyMissedTimes, and the most recent one runs', async () => {
    const w = await world();
    try {
      const cj = await w.cronJobs.create('default', { metadata: { name: 'behind' }, spec: cronSpec() });
      await w.at(cj, 300);
      await until('the warning', async () => (await w.events('TooManyMissedTimes')).length === 1);
      const e = (await w.events('TooManyMissedTimes'))[0]!;
      assert.equal(e.type, 'Warning');
      assert.equal(e.involvedObject.kind, 'CronJob');
      assert.match(e.message, /^too many missed start times: more than 100\. Set or decrease \.spec\.startingDeadlineSeconds or check clock skew$/);
      const base = Math.floor(Date.parse(cj.metadata.creationTimestamp) / MIN);
      await until('one job, the latest', async () => (await w.jobsOf()).map((j) => j.metadata.name).join() === `behind-${base + 300}`);
    } finally {
      await w.ctl.stop();
    }
  });

  it('scheduleTimes: the most recent, the count, the next', () => {
    const s = new CronSchedule('*/10 * * * *', 'UTC');
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    assert.deepEqual(scheduleTimes(s, t0, t0 + 35 * MIN), { mostRecent: t0 + 30 * MIN, missed: 3, next: t0 + 40 * MIN });
    assert.deepEqual(scheduleTimes(s, t0, t0 + 5 * MIN), { mostRecent: undefined, missed: 0, next: t0 + 10 * MIN });
    const far = scheduleTimes(s, t0, t0 + 10_000 * MIN);
    assert.deepEqual([far.mostRecent, far.missed > 100, far.next], [t0 + 10_000 * MIN, true, t0 + 10_010 * MIN]);
  });
});
