/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
 * it (k8s.io/client-go/tools/leaderelection, the LeaseLock): several podbay servers on one etcd
 * run the controllers and the scheduler on one of them at a time.
 *
 *   acquire  every retryPeriod (jittered x1.2): tryAcquireOrRenew until it succeeds
 *   lead     every retryPeriod: renew; the renewal is retried every retryPeriod until
 *            renewDeadline has passed since the last good one: then leadership is LOST
 *            (onStoppedLeading) and the elector goes back to acquiring
 *   stop     a leader gives the Lease up (holderIdentity "", leaseDurationSeconds 1: client-go's
 *            ReleaseOnCancel), so another takes over at its next retry rather than after
 *            leaseDurationSeconds
 *
 * tryAcquireOrRenew, step by step as client-go's:
 *   1. a leader whose lease is still valid updates the Lease it last wrote (fast path)
 *   2. get the Lease; absent: create it (we lead)
 *   3. a record different from the one last seen is remembered WITH THE LOCAL TIME IT WAS SEEN;
 *      held by another and seen less than its leaseDurationSeconds ago: not ours
 *   4. update it to us (leaseTransitions + 1 when it changes hands)
 * Every write is an update of the object last read, guarded by its resourceVersion: of two
 * candidates that saw the same expired record, one write wins and the other gets Conflict.
 *
 * Expiry is judged by the local clock at which a record was OBSERVED, never by comparing the
 * holder's renewTime with our clock: servers' clocks need not agree, only run at the same rate.
 * A leader stops acting after renewDeadline without a renewal, before any other server can see
 * its lease as expired (leaseDuration > renewDeadline).
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Client, Obj } from './types.js';
import { EventRecorder } from './events.js';

const LEASES = resourceInfo('leases', 'coordination.k8s.io')!;

/** client-go's JitterFactor for the acquire loop */
export const JITTER_FACTOR = 1.2;

/** kube-controller-manager's and kube-scheduler's defaults (--leader-elect-*) */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;

export interface LeaderElectionTimings {
  /** how long a non-leader waits after last seeing the record change before taking it (whole seconds: the Lease stores seconds) */
  leaseDurationMs: number;
  /** how long the leader keeps retrying a renewal before it gives up leading */
  renewDeadlineMs: number;
  /** how often candidates and the leader try */
  retryPeriodMs: number;
}

/** what the Lease's spec says, as client-go's LeaderElectionRecord */
export interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

export interface LeaderCallbacks {
  /** we lead now: start the work (not awaited by the elector) */
  onStartedLeading(): void | Promise<void>;
  /** we no longer lead (lost, or stopping): stop the work at once */
  onStoppedLeading(): void | Promise<void>;
  /** the holder we observe changed (ours included) */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectorOptions extends LeaderElectionTimings {
  client: Client;
  namespace: string;
  name: string;
  /** unique per process: hostname_uuid, as kube-controller-manager's */
  identity: string;
  callbacks: LeaderCallbacks;
  /** the component named as the source of the LeaderElection events (default the lease's name) */
  component?: string;
  log?: (line: string) => void;
  /** the local clock (ms); tests may move it */
  now?: () => number;
}

/** client-go's checks on the timings (NewLeaderElector) */
export function validateTimings(t: LeaderElectionTimings): void {
  if (!(t.retryPeriodMs > 0)) throw new Error('retryPeriod must be greater than zero');
  if (!(t.leaseDurationMs >= 1000) || t.leaseDurationMs % 1000 !== 0) throw new Error('leaseDuration must be a whole number of seconds, at least 1s (the Lease stores seconds)');
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) throw new Error('leaseDuration must be greater than renewDeadline');
  if (!(t.renewDeadlineMs > JITTER_FACTOR * t.retryPeriodMs)) throw new Error(`renewDeadline must be greater than retryPeriod*JitterFactor (${JITTER_FACTOR})`);
}

/** a Lease's time (metav1.MicroTime: RFC 3339 with microseconds, UTC) */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

function recordOf(lease: Obj): LeaderElectionRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: s.acquireTime ?? undefined,
    renewTime: s.renewTime ?? undefined,
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}

function specOf(r: LeaderElectionRecord): Obj {
  return { holderIdentity: r.holderIdentity, leaseDurationSeconds: r.leaseDurationSeconds, acquireTime: r.acquireTime, renewTime: r.renewTime, leaseTransitions: r.leaseTransitions };
}

/** resolves after `ms`, or at once when `wake` settles (stop) */
function sleep(ms: number, wake: Promise<void>): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([new Promise<void>((r) => (t = setTimeout(r, Math.max(0, ms)))), wake]).finally(() => clearTimeout(t));
}

export class LeaderElector {
  private readonly o: LeaderElectorOptions;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly events: EventRecorder;
  /** the Lease as last read or written: the next update is guarded by its resourceVersion */
  private lease?: Obj;
  private observed?: LeaderElectionRecord;
  private observedRaw = '';
  /** local time at which `observed` was first seen */
  private observedTime = 0;
  private reportedLeader = '';
  private leading = false;
  private stopping = false;
  private wakeUp!: () => void;
  private readonly wake: Promise<void>;
  private running?: Promise<void>;

  constructor(opts: LeaderElectorOptions) {
    validateTimings(opts);
    if (!opts.identity) throw new Error('leader election needs an identity');
    this.o = opts;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    this.events = new EventRecorder(opts.client, opts.component ?? opts.name, opts.identity, this.log);
    this.wake = new Promise((r) => (this.wakeUp = r));
  }

  get identity(): string {
    return this.o.identity;
  }

  /** the holder as last observed ('' when none) */
  getLeader(): string {
    return this.observed?.holderIdentity ?? '';
  }

  /** the last record observed names us (client-go's IsLeader) */
  isLeader(): boolean {
    return this.observed?.holderIdentity === this.o.identity;
  }

  /** start the loop in the background: acquire, lead, and acquire again after a loss, until stop() */
  start(): void {
    this.running ??= this.loop().catch((e) => this.log(`leader election ${this.describe()}: ${(e as Error).message}`));
  }

  /** stop trying; a leader stops leading (onStoppedLeading) and releases the Lease */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp();
    await this.running;
    if (this.leading) await this.stopLeading('stopped leading');
    await this.release();
  }

  private describe(): string {
    return `${this.o.namespace}/${this.o.name}`;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (!(await this.acquire())) return;
      this.leading = true;
      this.log(`leader election: ${this.o.identity} acquired lease ${this.describe()}`);
      this.record('became leader');
      void Promise.resolve()
        .then(() => this.o.callbacks.onStartedLeading())
        .catch((e) => this.log(`leader election ${this.describe()}: starting the leader's work: ${(e as Error).message}`));
      await this.renew();
      if (this.stopping) return;
      this.log(`leader election: ${this.o.identity} lost lease ${this.describe()}: no renewal for ${this.o.renewDeadlineMs} ms`);
      await this.stopLeading('stopped leading');
    }
  }

  private async stopLeading(what: string): Promise<void> {
    this.leading = false;
    this.record(what);
    try {
      await this.o.callbacks.onStoppedLeading();
    } catch (e) {
      this.log(`leader election ${this.describe()}: stopping the leader's work: ${(e as Error).message}`);
    }
  }

  /** client-go's acquire: retry every retryPeriod (jittered) until we hold the lease; false when stopped first */
  private async acquire(): Promise<boolean> {
    for (;;) {
      if (this.stopping) return false;
      const ok = await this.attempt(this.o.renewDeadlineMs);
      this.maybeReportTransition();
      if (ok && !this.stopping) return true;
      // wait.JitterUntil: period + rand * factor * period
      await sleep(this.o.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR), this.wake);
    }
  }

  /** client-go's renew: every retryPeriod, a renewal that may be retried until renewDeadline; returns when it could not */
  private async renew(): Promise<void> {
    while (!this.stopping) {
      const deadline = this.now() + this.o.renewDeadlineMs;
      let ok = false;
      while (!this.stopping) {
        const left = deadline - this.now();
        if (left <= 0) break;
        ok = await this.attempt(left);
        if (ok) break;
        await sleep(Math.min(this.o.retryPeriodMs, deadline - this.now()), this.wake);
      }
      this.maybeReportTransition();
      if (!ok || this.stopping) return;
      await sleep(this.o.retryPeriodMs, this.wake);
    }
  }

  /** tryAcquireOrRenew bounded by `ms` (an answer that comes later counts as a failure) and by stop() */
  private async attempt(ms: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (t = setTimeout(() => r(false), ms)));
    try {
      return await Promise.race([this.tryAcquireOrRenew(), late, this.wake.then(() => false)]);
    } finally {
      clearTimeout(t);
    }
  }

  private isLeaseValid(now: number): boolean {
    return this.observedTime + (this.observed?.leaseDurationSeconds ?? 0) * 1000 > now;
  }

  private setObserved(lease: Obj): void {
    this.lease = lease;
    const rec = recordOf(lease);
    this.observed = rec;
    this.observedRaw = JSON.stringify(rec);
    this.observedTime = this.now();
  }

  /** one try, as client-go's tryAcquireOrRenew; true: we hold the lease now */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const want: LeaderElectionRecord = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.round(this.o.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    const leases = this.o.client.resource(LEASES);
    // 1. the fast path: a leader updates the Lease it last wrote
    if (this.isLeader() && this.isLeaseValid(now) && this.lease) {
      want.acquireTime = this.observed!.acquireTime;
      want.leaseTransitions = this.observed!.leaseTransitions;
      try {
        this.setObserved(await leases.update({ ...this.lease, spec: specOf(want) }));
        return true;
      } catch (e) {
        this.log(`leader election ${this.describe()}: failed to update the lease optimistically (${(e as Error).message}), falling back to the slow path`);
      }
    }
    // 2. get or create
    let cur: Obj | undefined;
    try {
      cur = await leases.tryGet(this.o.namespace, this.o.name);
    } catch (e) {
      this.log(`leader election ${this.describe()}: error retrieving the lease: ${(e as Error).message}`);
      return false;
    }
    if (!cur) {
      try {
        this.setObserved(await leases.create(this.o.namespace, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec: specOf(want) }));
        return true;
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) this.log(`leader election ${this.describe()}: error initially creating the lease: ${(e as Error).message}`);
        return false;
      }
    }
    // 3. a record we have not seen before restarts its expiry from now (our clock)
    const rec = recordOf(cur);
    if (JSON.stringify(rec) !== this.observedRaw) this.setObserved(cur);
    else this.lease = cur;
    if (rec.holderIdentity && this.isLeaseValid(now) && !this.isLeader()) return false;
    // 4. take it (or renew through the slow path)
    if (this.isLeader()) {
      want.acquireTime = rec.acquireTime;
      want.leaseTransitions = rec.leaseTransitions;
    } else {
      want.leaseTransitions = rec.leaseTransitions + 1;
    }
    try {
      this.setObserved(await leases.update({ ...cur, spec: specOf(want) }));
      return true;
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'Conflict')) this.log(`leader election ${this.describe()}: failed to update the lease: ${(e as Error).message}`);
      return false;
    }
  }

  /** client-go's ReleaseOnCancel: hand the lease back if we hold it */
  private async release(): Promise<void> {
    if (!this.isLeader() || !this.lease) return;
    const now = microTime(this.now());
    try {
      const released = await this.o.client.resource(LEASES).update({
        ...this.lease,
        spec: specOf({ holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: this.observed!.leaseTransitions }),
      });
      this.setObserved(released);
    } catch (e) {
      this.log(`leader election ${this.describe()}: failed to release the lease: ${(e as Error).message}`);
    }
  }

  private maybeReportTransition(): void {
    const holder = this.getLeader();
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (holder && holder !== this.o.identity) this.log(`leader election: ${this.describe()} is held by ${holder}`);
    this.o.callbacks.onNewLeader?.(holder);
  }

  /** the LeaderElection event on the Lease, as client-go's LeaseLock.RecordEvent */
  private record(what: string): void {
    if (!this.lease) return;
    this.events.record({ ...this.lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' }, 'Normal', 'LeaderElection', `${this.o.identity} ${what}`);
  }
}
