/**
 * Back-off of the kubelet's retries of a step that failed on a stored pod: setting up its
 * volumes (FailedMount), creating its sandbox (FailedCreatePodSandBox), making a container
 * (CreateContainerConfigError, CreateContainerError), or a sync that failed for another reason
 * (FailedSync). Without it a pod that can never run is retried at the pace of every trigger: the
 * periodic resync, the watch event of the kubelet's own status write, probe and exit
 * notifications. The kubelet backs such steps off exponentially too (the volume manager's
 * nestedpendingoperations: 500 ms doubling to ~2 min; image pulls: 10 s doubling to 5 min).
 *
 * Keys are a pod UID (a pod-level step) or "UID/container"; `forget(uid)` drops both kinds.
 *
 *   failed(key) -> the delay until the next attempt: initial, x2 each failure, up to max
 *   waiting(key) -> true until that delay has passed (the step is skipped, its status stays)
 *   succeeded(key) -> the next failure starts from the initial delay again
 */
export interface SyncBackoffOptions {
  initialMs?: number;
  maxMs?: number;
  now?: () => number;
}

interface Entry {
  delayMs: number;
  notBefore: number;
}

export const SYNC_BACKOFF_INITIAL_MS = 2000;
export const SYNC_BACKOFF_MAX_MS = 60_000;

/** a timer may fire a little before its due time as Date.now() sees it */
const SLACK_MS = 50;

export class SyncBackoff {
  private readonly entries = new Map<string, Entry>();
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly now: () => number;

  constructor(opts: SyncBackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? SYNC_BACKOFF_INITIAL_MS;
    this.maxMs = opts.maxMs ?? SYNC_BACKOFF_MAX_MS;
    this.now = opts.now ?? Date.now;
  }

  /** a failure of the step: how long until it may be tried again */
  failed(key: string): number {
    const prev = this.entries.get(key);
    const delayMs = prev ? Math.min(prev.delayMs * 2, this.maxMs) : this.initialMs;
    this.entries.set(key, { delayMs, notBefore: this.now() + delayMs });
    return delayMs;
  }

  /** true while the step failed and its next attempt is not due yet */
  waiting(key: string): boolean {
    const e = this.entries.get(key);
    return !!e && this.now() < e.notBefore - SLACK_MS;
  }

  /** whether the step failed since it last succeeded (or was forgotten) */
  failedBefore(key: string): boolean {
    return this.entries.has(key);
  }

  succeeded(key: string): void {
    this.entries.delete(key);
  }

  /** drop every entry of a pod (it is gone, or its spec changed: a fix is tried at once) */
  forget(uid: string): void {
    for (const k of this.entries.keys()) if (k === uid || k.startsWith(`${uid}/`)) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}
