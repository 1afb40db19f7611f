/**
 * spec.activeDeadlineSeconds, as the kubelet's activeDeadlineHandler: once a pod has been active
 * on the node (since status.startTime) longer than its deadline, it fails with reason
 * DeadlineExceeded and its containers are killed. The field is mutable on a running pod (it may
 * only be set or lowered), so the deadline is re-read at every sync and the timer re-armed.
 */
type Obj = Record<string, any>;

export const DEADLINE_REASON = 'DeadlineExceeded';
export const DEADLINE_MESSAGE = 'Pod was active on the node longer than the specified deadline';

/** Milliseconds left before the pod's deadline (<= 0: passed); undefined without a deadline or a startTime. */
export function deadlineRemainingMs(pod: Obj, nowMs: number): number | undefined {
  const secs = pod.spec?.activeDeadlineSeconds;
  const start = pod.status?.startTime;
  if (typeof secs !== 'number' || !start) return undefined;
  const started = Date.parse(start);
  if (!Number.isFinite(started)) return undefined;
  return started + secs * 1000 - nowMs;
}

/** The pod status of a pod the kubelet failed on purpose (deadline): phase Failed, its reason and message. */
export function failedStatus(status: Obj, reason: string, message: string): Obj {
  return { ...status, phase: 'Failed', reason, message };
}

/** One timer per pod, firing at its deadline (separate from the kubelet's back-off timers). */
export class DeadlineTimers {
  private readonly timers = new Map<string, { at: number; t: NodeJS.Timeout }>();

  constructor(private readonly fire: (uid: string) => void) {}

  /** (Re-)arm the pod's timer for `ms` from now; an unchanged deadline keeps its timer. */
  arm(uid: string, ms: number): void {
    const at = Date.now() + ms;
    const cur = this.timers.get(uid);
    if (cur && Math.abs(cur.at - at) < 500) return;
    if (cur) clearTimeout(cur.t);
    const t = setTimeout(() => {
      this.timers.delete(uid);
      this.fire(uid);
    }, Math.max(0, ms) + 20);
    t.unref?.();
    this.timers.set(uid, { at, t });
  }

  forget(uid: string): void {
    const cur = this.timers.get(uid);
    if (cur) clearTimeout(cur.t);
    this.timers.delete(uid);
  }

  stop(): void {
    for (const uid of [...this.timers.keys()]) this.forget(uid);
  }
}
