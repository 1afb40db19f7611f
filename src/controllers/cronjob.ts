/**
 * The CronJob controller (kube-controller-manager's cronjob controller v2, for one node): at each
 * time its schedule names (in spec.timeZone) a CronJob makes a Job from its jobTemplate, named
 * `<cronjob>-<scheduled time in minutes since the epoch>` so that a restart never makes the same
 * run twice, and keeps status.active, lastScheduleTime and lastSuccessfulTime.
 *
 *   cronjob informer ─────────────┐
 *   job informer (by controller) ──┴─> queue ──> sync(namespace/name) ──> requeue at the next time
 *     sync: active list <- its Jobs (finished ones leave it: SawCompletedJob)
 *           history limits: the oldest finished Jobs beyond them are deleted
 *           suspended: nothing more
 *           the most recent missed time since lastScheduleTime (more than 100: TooManyMissedTimes);
 *           past startingDeadlineSeconds: MissSchedule; Forbid with one active: JobAlreadyActive;
 *           Replace: the active ones are deleted; then the Job, SuccessfulCreate
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { EventRecorder } from '../client/events.js';
import { Informer, objectKey } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { CronSchedule } from './cron-schedule.js';
import { jobFinished, timeString } from './job-logic.js';
import { controllerKey, controllerRef, controllerUid } from './owner.js';
import { runWorkers, WorkQueue } from './workqueue.js';
import { byString } from '../api/order.js';

const CRONJOBS = resourceInfo('cronjobs', 'batch')!;
const JOBS = resourceInfo('jobs', 'batch')!;
const BY_CRONJOB = 'cronjob-uid';
/** the scheduled time a CronJob's Job stands for (kube 1.28+) */
export const SCHEDULED_TIMESTAMP = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** more missed times than this since the last one: the TooManyMissedTimes warning */
const MAX_MISSED = 100;

export interface CronJobControllerOptions {
  workers?: number;
  log?: (line: string) => void;
  /** the clock (tests use a fake one and call resyncAll after moving it) */
  now?: () => number;
  /** the zone of a CronJob without spec.timeZone (default: the process's) */
  defaultTimeZone?: string;
}

/** `<cronjob>-<minutes since the epoch>`: kube's getJobName */
export function jobNameFor(cronJob: string, scheduled: number): string {
  return `${cronJob}-${Math.floor(scheduled / 60_000)}`;
}

/**
 * The most recent scheduled time in (earliest, now] and how many there were (counted up to
 * MAX_MISSED + 1: beyond that only "more" matters, and walking a year of minutes would stall), and the next one after now.
 */
export function scheduleTimes(s: CronSchedule, earliest: number, now: number): { mostRecent?: number; missed: number; next: number } {
  let missed = 0;
  let mostRecent: number | undefined;
  let t = s.next(earliest);
  for (; t <= now && missed <= MAX_MISSED; t = s.next(t)) {
    mostRecent = t;
    missed++;
  }
  if (t <= now) {
    // too many to walk: find the last one from a window before now, growing it until one shows
    for (const back of [3_600_000, 86_400_000, 32 * 86_400_000, 367 * 86_400_000, 5 * 367 * 86_400_000]) {
      let last: number | undefined;
      for (let u = s.next(Math.max(earliest, now - back)); u <= now; u = s.next(u)) last = u;
      if (last !== undefined) {
        mostRecent = last;
        break;
      }
    }
    t = s.next(now);
  }
  return { mostRecent, missed, next: t };
}

export class CronJobController {
  private readonly cronJobs: Informer<Obj>;
  private readonly jobs: Informer<Obj>;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  private readonly events: EventRecorder;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly opts: CronJobControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
    this.events = new EventRecorder(client, 'cronjob-controller', '', this.log);
    this.cronJobs = new Informer<Obj>(client, CRONJOBS, { log: this.log });
    this.jobs = new Informer<Obj>(client, JOBS, {
      log: this.log,
      indexers: {
        [BY_CRONJOB]: (j) => {
          const uid = controllerUid(j, 'CronJob');
          return uid ? [uid] : [];
        },
      },
    });
    const enqueue = (cj: Obj) => this.queue.add(objectKey(cj));
    this.cronJobs.addEventHandler({ add: enqueue, update: (_o, cj) => enqueue(cj) });
    const jobEvent = (j: Obj) => {
      const key = controllerKey(j, 'CronJob');
      if (key) this.queue.add(key);
    };
    this.jobs.addEventHandler({ add: jobEvent, update: (_o, j) => jobEvent(j), delete: jobEvent });
  }

  async start(): Promise<void> {
    await Promise.all([this.cronJobs.start(), this.jobs.start()]);
    this.running = runWorkers(this.queue, this.opts.workers ?? 2, (key) => this.sync(key), (l) => this.log(`cronjob controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.cronJobs.stop();
    this.jobs.stop();
    this.queue.shutDown();
    await this.running;
  }

  /** look at every CronJob again (tests with a fake clock, after moving it) */
  resyncAll(): void {
    for (const cj of this.cronJobs.cache.list()) this.queue.add(objectKey(cj));
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const cronJobs = this.client.resource(CRONJOBS);
    const cj = await cronJobs.tryGet(ns, name);
    if (!cj || cj.metadata.deletionTimestamp) return;
    const now = this.now();
    const status: Obj = structuredClone(cj.status ?? {});
    const before = JSON.stringify(status);
    const children = this.jobs.cache.byIndex(BY_CRONJOB, cj.metadata.uid);

    // the active list follows the Jobs: gone or finished ones leave it. A Job the cache does not
    // show yet is looked up before it is dropped (kube does the same: a lagging watch must not
    // make a run look lost)
    const active: Obj[] = [];
    for (const ref of status.active ?? []) {
      let j: Obj | undefined = children.find((c) => c.metadata.uid === ref.uid);
      if (!j) {
        const fresh = await this.client.resource(JOBS).tryGet(ns, ref.name);
        if (fresh && fresh.metadata.uid === ref.uid) children.push((j = fresh));
      }
      if (j && !jobFinished(j)) active.push(ref);
    }
    for (const j of children) {
      const wasActive = (status.active ?? []).some((ref: Obj) => ref.uid === j.metadata.uid);
      const done = jobFinished(j);
      if (wasActive && done) {
        this.events.record(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name}, condition: ${done.type}`);
        if (done.type === 'Complete' && j.status?.completionTime && (!status.lastSuccessfulTime || j.status.completionTime > status.lastSuccessfulTime)) {
          status.lastSuccessfulTime = j.status.completionTime;
        }
      } else if (!wasActive && !done) {
        this.events.record(cj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata.name}`);
      }
    }
    status.active = active;
    await this.cleanupHistory(cj, children);

    const requeueAt = (t: number) => this.queue.addAfter(key, Math.max(0, t - now) + 100);
    if (cj.spec?.suspend) return this.writeStatus(cj, status, before);

    let schedule: CronSchedule;
    try {
      schedule = new CronSchedule(cj.spec.schedule, cj.spec.timeZone ?? this.opts.defaultTimeZone);
    } catch (e) {
      this.events.record(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec.schedule)} : ${(e as Error).message}`);
      return this.writeStatus(cj, status, before);
    }
    let earliest = Date.parse(status.lastScheduleTime ?? cj.metadata.creationTimestamp);
    const deadline = cj.spec.startingDeadlineSeconds;
    if (deadline != null) earliest = Math.max(earliest, now - deadline * 1000);
    const { mostRecent, missed, next } = scheduleTimes(schedule, earliest, now);
    requeueAt(next);
    if (missed > MAX_MISSED) {
      this.events.record(cj, 'Warning', 'TooManyMissedTimes', `too many missed start times: more than ${MAX_MISSED}. Set or decrease .spec.startingDeadlineSeconds or check clock skew`);
    }
    if (mostRecent === undefined) return this.writeStatus(cj, status, before);
    if (deadline != null && mostRecent < now - deadline * 1000) {
      this.events.record(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${new Date(mostRecent).toUTCString().replace('GMT', '+0000')}`);
      return this.writeStatus(cj, status, before);
    }
    const jobName = jobNameFor(name, mostRecent);
    if (children.some((j) => j.metadata.name === jobName)) return this.writeStatus(cj, status, before);

    const policy = cj.spec.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && active.length > 0) {
      // lastScheduleTime stays: the run is started when the active one ends, if still within the deadline
      this.events.record(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return this.writeStatus(cj, status, before);
    }
    if (policy === 'Replace') {
      for (const ref of [...active]) {
        await this.deleteJob(cj, ref.name, ref.uid);
        active.splice(active.indexOf(ref), 1);
      }
    }

    const tmpl = cj.spec.jobTemplate ?? {};
    const job: Obj = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: jobName,
        namespace: ns,
        labels: { ...(tmpl.metadata?.labels ?? {}) },
        annotations: { ...(tmpl.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP]: timeString(mostRecent) },
        ownerReferences: [controllerRef(cj, 'batch/v1', 'CronJob')],
      },
      spec: structuredClone(tmpl.spec ?? {}),
    };
    let made: Obj;
    try {
      made = await this.client.resource(JOBS).create(ns, job);
      this.events.record(cj, 'Normal', 'SuccessfulCreate', `Created job ${jobName}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) {
        this.events.record(cj, 'Warning', 'FailedCreate', `Error creating job: ${(e as Error).message}`);
        throw e;
      }
      // made before a restart, or by a second sync: this run is done
      const existing = await this.client.resource(JOBS).tryGet(ns, jobName);
      if (!existing || controllerUid(existing, 'CronJob') !== cj.metadata.uid) return this.writeStatus(cj, status, before);
      made = existing;
    }
    if (!jobFinished(made)) active.push({ kind: 'Job', namespace: ns, name: made.metadata.name, uid: made.metadata.uid, apiVersion: 'batch/v1', resourceVersion: made.metadata.resourceVersion });
    status.lastScheduleTime = timeString(mostRecent);
    return this.writeStatus(cj, status, before);
  }

  private async writeStatus(cj: Obj, status: Obj, before: string): Promise<void> {
    if (!status.active?.length) delete status.active;
    if (JSON.stringify(status) === before) return;
    await this.client.resource(CRONJOBS).update({ ...cj, status }, { sub: 'status' });
  }

  /** successfulJobsHistoryLimit / failedJobsHistoryLimit: the oldest finished Jobs beyond them go */
  private async cleanupHistory(cj: Obj, children: Obj[]): Promise<void> {
    const started = (j: Obj) => j.status?.startTime ?? j.metadata.creationTimestamp ?? '';
    for (const [type, limit] of [
      ['Complete', cj.spec?.successfulJobsHistoryLimit],
      ['Failed', cj.spec?.failedJobsHistoryLimit],
    ] as const) {
      if (limit == null) continue;
      const finished = children.filter((j) => jobFinished(j)?.type === type && !j.metadata.deletionTimestamp).sort((a, b) => byString(started(a), started(b)));
      for (const j of finished.slice(0, Math.max(0, finished.length - limit))) await this.deleteJob(cj, j.metadata.name, j.metadata.uid);
    }
  }

  private async deleteJob(cj: Obj, name: string, uid: string): Promise<void> {
    try {
      // Background, as kube's cronjob controller: the garbage collector removes the Job's pods
      await this.client.resource(JOBS).delete(cj.metadata.namespace, name, { propagationPolicy: 'Background', preconditions: { uid } });
      this.events.record(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${name}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
    }
  }
}
