/**
 * The Job controller (kube-controller-manager's job controller, for one node): a Job runs pods
 * from its template until `completions` of them succeed (each index once, in Indexed mode), at
 * most `parallelism` at a time, and fails when too many fail (backoffLimit), when it runs too long
 * (activeDeadlineSeconds) or when a podFailurePolicy rule says so.
 *
 *   job informer ───────────────┐
 *   pod informer (by controller)─┴─> queue ──> sync(namespace/name)
 *     sync: count finished pods ─> manage (create / delete pods) ─> status ─> TTL after finished
 *
 * Counting is kube's job tracking: a Job's pods carry the batch.kubernetes.io/job-tracking
 * finalizer; a finished pod is first written into status.uncountedTerminatedPods, then its
 * finalizer is removed, then it is moved into succeeded/failed. A restart between any two steps
 * neither loses nor double-counts a pod, and a finished pod deleted by a user still counts.
 * Pods the controller deletes itself (suspend, excess, a failing Job) lose the finalizer first, so
 * they are not counted as failures, as in kube.
 *
 * Pod recreation after a failure waits backoff (10 s doubling to 6 min by default, per failure
 * since the last success). Expectations (expectations.ts) keep a sync from acting on a cache that
 * has not yet seen its own creations and deletions.
 */
import type { Job } from 'kubernetes-types/batch/v1.js';
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { EventRecorder } from '../client/events.js';
import { Informer, objectKey } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { Expectations } from './expectations.js';
import {
  backoffDelay,
  COMPLETIONS_REACHED,
  FAIL_REASONS,
  formatIndexes,
  hasCondition,
  jobFinished,
  matchPodFailurePolicy,
  parseIndexes,
  podForJob,
  podIndex,
  setCondition,
  timeString,
  TRACKING_FINALIZER,
} from './job-logic.js';
import { controllerKey, controllerUid } from './owner.js';
import { runWorkers, WorkQueue } from './workqueue.js';
import { byString } from '../api/order.js';
import { omitZero, OMITTED_IF_ZERO } from './omit-zero.js';

const JOBS = resourceInfo('jobs', 'batch')!;
const PODS = resourceInfo('pods')!;
/** pods by the uid of their controlling Job */
const BY_JOB = 'job-uid';
/** pods by namespace/name of their controlling Job (to let go of pods whose Job is gone) */
const BY_JOB_NAME = 'job-name';

export interface JobControllerOptions {
  workers?: number;
  log?: (line: string) => void;
  /** the clock (tests use a fake one; delays still run on timers) */
  now?: () => number;
  /** first delay before a pod is made again after a failure, doubling per failure (kube: 10 s) */
  backoffBaseMs?: number;
  /** cap of that delay (kube: 6 min) */
  backoffMaxMs?: number;
  resyncPeriodMs?: number;
}

/** a Job and its pods as the API returns them: kubernetes-types' fields, metadata always there */
type JobObj = Obj;
type PodObj = Obj;

interface Backoff {
  /** failures counted since the last success */
  failures: number;
  /** when the last one was counted */
  last: number;
}

const isSucceeded = (p: PodObj) => p.status?.phase === 'Succeeded';
/** failed, or being deleted before it succeeded (kube counts such a pod as failed) */
const isFailed = (p: PodObj) => p.status?.phase === 'Failed' || (!!p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded');
const isTerminal = (p: PodObj) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
const isActive = (p: PodObj) => !isTerminal(p) && !p.metadata.deletionTimestamp;
const isReady = (p: PodObj) => (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');

export class JobController {
  private readonly jobs: Informer<JobObj>;
  private readonly pods: Informer<PodObj>;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  private readonly expectations: Expectations;
  /** uids of pods whose tracking finalizer this controller removed, until the cache shows it */
  private readonly released = new Set<string>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly events: EventRecorder;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly opts: JobControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
    this.baseMs = opts.backoffBaseMs ?? 10_000;
    this.maxMs = opts.backoffMaxMs ?? 360_000;
    this.expectations = new Expectations(this.now);
    this.events = new EventRecorder(client, 'job-controller', '', this.log);
    const resync = opts.resyncPeriodMs ?? 0;
    this.jobs = new Informer<JobObj>(client, JOBS, { resyncPeriodMs: resync, log: this.log });
    this.pods = new Informer<PodObj>(client, PODS, {
      log: this.log,
      indexers: {
        [BY_JOB]: (p) => {
          const uid = controllerUid(p, 'Job');
          return uid ? [uid] : [];
        },
        [BY_JOB_NAME]: (p) => {
          const key = controllerKey(p, 'Job');
          return key ? [key] : [];
        },
      },
    });
    const enqueueJob = (j: JobObj) => this.queue.add(objectKey(j));
    this.jobs.addEventHandler({ add: enqueueJob, update: (_o, j) => enqueueJob(j), delete: enqueueJob });
    this.pods.addEventHandler({
      add: (p) => this.podEvent(p),
      update: (_o, p) => this.podEvent(p),
      delete: (p) => this.podEvent(p, true),
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.jobs.start(), this.pods.start()]);
    this.running = runWorkers(this.queue, this.opts.workers ?? 2, (key) => this.sync(key), (l) => this.log(`job controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.jobs.stop();
    this.pods.stop();
    this.queue.shutDown();
    await this.running;
  }

  /** look at every Job again (tests with a fake clock, after moving it) */
  resyncAll(): void {
    for (const j of this.jobs.cache.list()) this.queue.add(objectKey(j));
  }

  private podEvent(p: PodObj, deleted = false): void {
    const key = controllerKey(p, 'Job');
    if (!key) return;
    this.expectations.observePod(key, p.metadata.uid, deleted, !!p.metadata.deletionTimestamp);
    if (deleted || !(p.metadata.finalizers ?? []).includes(TRACKING_FINALIZER)) this.released.delete(p.metadata.uid);
    this.queue.add(key);
  }

  /** the pod still holds the tracking finalizer, as far as this controller knows */
  private tracked(p: PodObj): boolean {
    return (p.metadata.finalizers ?? []).includes(TRACKING_FINALIZER) && !this.released.has(p.metadata.uid);
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const job = (await this.client.resource<JobObj>(JOBS).tryGet(ns, name)) as JobObj | undefined;
    if (!job) {
      // the Job is gone: its pods must not keep a finalizer nobody will remove
      this.expectations.forget(key);
      this.backoff.delete(key);
      await this.release(this.pods.cache.byIndex(BY_JOB_NAME, key).filter((p) => this.tracked(p)));
      return;
    }
    const pods = this.pods.cache.byIndex(BY_JOB, job.metadata.uid);
    if (job.metadata.deletionTimestamp || jobFinished(job)) {
      await this.release(pods.filter((p) => this.tracked(p) && (isTerminal(p) || !!p.metadata.deletionTimestamp || !!job.metadata.deletionTimestamp)));
      if (!job.metadata.deletionTimestamp) await this.ttl(key, job);
      return;
    }
    await this.syncJob(key, job, pods);
  }

  /** remove the tracking finalizer from pods (they no longer need counting) */
  private async release(pods: PodObj[]): Promise<void> {
    await Promise.all(
      pods.map(async (p) => {
        const finalizers = (p.metadata.finalizers ?? []).filter((f: string) => f !== TRACKING_FINALIZER);
        try {
          await this.client
            .resource(PODS)
            .patch(p.metadata.namespace, p.metadata.name, 'application/merge-patch+json', { metadata: { finalizers: finalizers.length ? finalizers : null, resourceVersion: p.metadata.resourceVersion } });
        } catch (e) {
          if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
        }
        this.released.add(p.metadata.uid);
      }),
    );
  }

  private async syncJob(key: string, job: JobObj, pods: PodObj[]): Promise<void> {
    const now = this.now();
    const spec = job.spec;
    const indexed = spec.completionMode === 'Indexed';
    const status: Obj = structuredClone(job.status ?? {});
    const before = JSON.stringify(status);
    const uncounted = { succeeded: [...(status.uncountedTerminatedPods?.succeeded ?? [])] as string[], failed: [...(status.uncountedTerminatedPods?.failed ?? [])] as string[] };
    const inUncounted = new Set([...uncounted.succeeded, ...uncounted.failed]);
    const completed = parseIndexes(status.completedIndexes);
    const events: [type: 'Normal' | 'Warning', reason: string, message: string][] = [];

    // 1. finished pods not yet counted: into uncountedTerminatedPods (or ignored, by policy)
    let failJob: string | undefined;
    const ignored: PodObj[] = [];
    for (const p of pods) {
      if (!this.tracked(p) || inUncounted.has(p.metadata.uid)) continue;
      if (isSucceeded(p)) {
        uncounted.succeeded.push(p.metadata.uid);
      } else if (isFailed(p) && (isTerminal(p) || !spec.podFailurePolicy)) {
        // with a podFailurePolicy a deleted pod is judged once it is terminal (its exit codes known)
        const m = isTerminal(p) ? matchPodFailurePolicy(job as Job, p) : undefined;
        if (m?.action === 'Ignore') {
          ignored.push(p);
          continue;
        }
        if (m?.action === 'FailJob') failJob ??= m.message;
        uncounted.failed.push(p.metadata.uid);
      }
    }
    const newlyUncounted = uncounted.succeeded.length + uncounted.failed.length > inUncounted.size;
    if (newlyUncounted) {
      status.uncountedTerminatedPods = { ...(uncounted.succeeded.length ? { succeeded: uncounted.succeeded } : {}), ...(uncounted.failed.length ? { failed: uncounted.failed } : {}) };
      Object.assign(job, await this.writeStatus(job, status));
    }
    // 2. their finalizers off; 3. moved into the counts
    const byUid = new Map(pods.map((p) => [p.metadata.uid as string, p]));
    await this.release([...uncounted.succeeded, ...uncounted.failed].map((u) => byUid.get(u)!).filter((p) => p && this.tracked(p)));
    await this.release(ignored);
    const back = this.backoff.get(key) ?? { failures: 0, last: 0 };
    for (const uid of uncounted.succeeded) {
      const i = byUid.get(uid) && podIndex(byUid.get(uid)!);
      if (indexed) {
        if (i !== undefined && i < (spec.completions ?? 0)) completed.add(i);
      } else status.succeeded = (status.succeeded ?? 0) + 1;
      back.failures = 0;
    }
    for (const _ of uncounted.failed) {
      status.failed = (status.failed ?? 0) + 1;
      back.failures++;
      back.last = now;
    }
    this.backoff.set(key, back);
    if (indexed) {
      status.completedIndexes = formatIndexes(completed);
      status.succeeded = completed.size;
    }
    status.uncountedTerminatedPods = {};
    status.succeeded ??= 0;
    status.failed ??= 0;

    // 4. where the Job stands
    const active = pods.filter(isActive);
    const terminating = pods.filter((p) => !!p.metadata.deletionTimestamp && !isTerminal(p));
    const suspended = spec.suspend === true;
    if (suspended) {
      if (setCondition(status, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now)) events.push(['Normal', 'Suspended', 'Job suspended']);
    } else if (hasCondition(status, 'Suspended')) {
      setCondition(status, 'Suspended', 'False', 'JobResumed', 'Job resumed', now);
      events.push(['Normal', 'Resumed', 'Job resumed']);
      // the active deadline counts from the resume
      status.startTime = timeString(now);
    }
    if (!suspended && !status.startTime) status.startTime = timeString(now);

    let failure = hasCondition(status, 'FailureTarget');
    let success = hasCondition(status, 'SuccessCriteriaMet');
    if (!failure && !success) {
      const restarts = spec.template.spec?.restartPolicy === 'OnFailure' ? active.reduce((n, p) => n + (p.status?.containerStatuses ?? []).reduce((m: number, c: Obj) => m + (c.restartCount ?? 0), 0), 0) : 0;
      const started = status.startTime ? Date.parse(status.startTime) : undefined;
      let reason: string | undefined;
      let message = '';
      if (failJob) [reason, message] = ['PodFailurePolicy', failJob];
      else if (status.failed + restarts > (spec.backoffLimit ?? 6)) [reason, message] = ['BackoffLimitExceeded', FAIL_REASONS.BackoffLimitExceeded];
      else if (!suspended && spec.activeDeadlineSeconds != null && started !== undefined && now - started >= spec.activeDeadlineSeconds * 1000) [reason, message] = ['DeadlineExceeded', FAIL_REASONS.DeadlineExceeded];
      if (reason) {
        setCondition(status, 'FailureTarget', 'True', reason, message, now);
        events.push(['Warning', reason, message]);
        failure = hasCondition(status, 'FailureTarget');
      } else if (this.succeeded(spec, status, completed, active.length)) {
        setCondition(status, 'SuccessCriteriaMet', 'True', COMPLETIONS_REACHED.reason, COMPLETIONS_REACHED.message, now);
        success = hasCondition(status, 'SuccessCriteriaMet');
      } else if (!suspended && spec.activeDeadlineSeconds != null && started !== undefined) {
        this.queue.addAfter(key, started + spec.activeDeadlineSeconds * 1000 - now);
      }
    }

    // 5. pods: none while suspended or finishing; else as many as parallelism and completions want
    let activeCount = active.length;
    if (this.expectations.satisfied(key)) {
      if (suspended || failure || success) {
        await this.deletePods(key, job, active);
        activeCount = 0;
      } else {
        activeCount += await this.manage(key, job, active, completed, status, back, now);
      }
    }
    if ((failure || success) && activeCount === 0 && terminating.length === 0 && this.expectations.satisfied(key)) {
      if (failure) {
        setCondition(status, 'Failed', 'True', failure.reason!, failure.message!, now);
      } else {
        setCondition(status, 'Complete', 'True', success!.reason!, success!.message!, now);
        status.completionTime = timeString(now);
        events.push(['Normal', 'Completed', 'Job completed']);
      }
    }
    status.active = activeCount;
    status.ready = active.filter(isReady).length;
    status.terminating = terminating.length;
    if (JSON.stringify(omitZero({ ...status }, OMITTED_IF_ZERO.job)) !== before) Object.assign(job, await this.writeStatus(job, status));
    for (const [type, reason, message] of events) this.events.record(job, type, reason, message);
    if (jobFinished(job)) await this.ttl(key, job);
  }

  /** the Job has what it wants: completions reached (each index once), or a work-queue Job's pod succeeded and none runs */
  private succeeded(spec: JobObj['spec'], status: Obj, completed: Set<number>, active: number): boolean {
    if (spec.completionMode === 'Indexed') return completed.size >= (spec.completions ?? 0);
    if (spec.completions == null) return status.succeeded > 0 && active === 0;
    return status.succeeded >= spec.completions;
  }

  /** create or delete pods toward what the Job wants; returns the change in active pods */
  private async manage(key: string, job: JobObj, active: PodObj[], completed: Set<number>, status: Obj, back: Backoff, now: number): Promise<number> {
    const spec = job.spec;
    const parallelism = spec.parallelism ?? 1;
    const toDelete: PodObj[] = [];
    const toCreate: (number | undefined)[] = [];
    if (spec.completionMode === 'Indexed') {
      const completions = spec.completions ?? 0;
      const seen = new Set<number>();
      for (const p of active) {
        const i = podIndex(p);
        // an index out of range, done already, or a second pod for the same index: not wanted
        if (i === undefined || i >= completions || completed.has(i) || seen.has(i)) toDelete.push(p);
        else seen.add(i);
      }
      const room = parallelism - seen.size;
      for (let i = 0; i < completions && toCreate.length < room; i++) if (!completed.has(i) && !seen.has(i)) toCreate.push(i);
    } else {
      // a work-queue Job (no completions): once a pod succeeded, no new pods, and those running finish
      const want = spec.completions == null ? (status.succeeded > 0 ? Math.min(active.length, parallelism) : parallelism) : Math.max(0, Math.min(parallelism, spec.completions - status.succeeded));
      // fewer than want: make more; more: delete the not-ready and newest first (kube's ActivePods order)
      if (active.length < want) for (let n = active.length; n < want; n++) toCreate.push(undefined);
      else if (active.length > want) {
        const order = [...active].sort((a, b) => Number(isReady(a)) - Number(isReady(b)) || byString(String(b.metadata.creationTimestamp), String(a.metadata.creationTimestamp)));
        toDelete.push(...order.slice(0, active.length - want));
      }
    }
    await this.deletePods(key, job, toDelete);
    if (toCreate.length === 0) return -toDelete.length;
    const wait = back.last + backoffDelay(back.failures, this.baseMs, this.maxMs) - now;
    if (wait > 0) {
      this.queue.addAfter(key, wait);
      return -toDelete.length;
    }
    this.expectations.expectCreations(key, toCreate.length);
    const made = await Promise.all(
      toCreate.map(async (i) => {
        const pod = podForJob(job, i);
        try {
          const created = await this.client.resource<PodObj>(PODS).create(job.metadata.namespace, pod);
          this.events.record(job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
          return 1;
        } catch (e) {
          this.expectations.observedCreate(key);
          this.events.record(job, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
          throw e;
        }
      }),
    );
    return made.length - toDelete.length;
  }

  /** delete pods the Job no longer wants; their finalizer goes first so they are not counted as failed */
  private async deletePods(key: string, job: JobObj, pods: PodObj[]): Promise<void> {
    await this.release(pods.filter((p) => this.tracked(p)));
    await Promise.all(
      pods.map(async (p) => {
        this.expectations.expectDelete(key, p.metadata.uid);
        try {
          await this.client.resource(PODS).delete(p.metadata.namespace, p.metadata.name, { preconditions: { uid: p.metadata.uid } });
          this.events.record(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
        } catch (e) {
          this.expectations.observedDelete(key, p.metadata.uid);
          if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
        }
      }),
    );
  }

  private async writeStatus(job: JobObj, status: Obj): Promise<JobObj> {
    return (await this.client.resource<JobObj>(JOBS).update({ ...job, status: omitZero({ ...status }, OMITTED_IF_ZERO.job) }, { sub: 'status' })) as JobObj;
  }

  /** ttlSecondsAfterFinished: delete the finished Job when its time has come (kube's TTL-after-finished controller) */
  private async ttl(key: string, job: JobObj): Promise<void> {
    const ttl = job.spec.ttlSecondsAfterFinished;
    const done = jobFinished(job);
    if (ttl == null || !done) return;
    const finishedAt = Date.parse(job.status?.completionTime ?? done.lastTransitionTime ?? '');
    if (Number.isNaN(finishedAt)) return;
    const left = finishedAt + ttl * 1000 - this.now();
    if (left > 0) {
      this.queue.addAfter(key, left);
      return;
    }
    try {
      // Foreground, as kube's TTL controller: the Job goes once its pods are gone
      await this.client.resource(JOBS).delete(job.metadata.namespace, job.metadata.name, { propagationPolicy: 'Foreground', preconditions: { uid: job.metadata.uid } });
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
    }
  }
}
