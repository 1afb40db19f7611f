import type { Obj } from '../api/types.js';
import { goDuration } from './image-pull.js';

/**
 * The back-off of a container's restarts (CrashLoopBackOff), as the kubelet's SyncPod decides it
 * (kuberuntime_manager.go doBackOff over a flowcontrol.Backoff keyed by the container):
 *
 * - the reference is the FinishedAt of the container's newest exited instance: for a container
 *   that exited on its own that is the run that just ended; for one being killed by a failing
 *   liveness or startup probe it is the run before it (the killed one is still running when the
 *   decision is made); with no exited instance at all the container starts at once and the
 *   back-off is left as it is;
 * - no entry yet: start at once and make the entry (10 s);
 * - an entry: wait until reference + delay (CrashLoopBackOff); once that has passed, start and
 *   double the delay (up to 5 min).
 *
 * A container that then runs longer than twice the maximum resets its back-off (kubelet.ts).
 */
export const CRASH_BACKOFF_START_MS = 10_000;
export const CRASH_BACKOFF_MAX_MS = 300_000;

export interface CrashBackoffEntry {
  delayMs: number;
}

export type CrashBackoffDecision =
  /** start now; `entry` is the back-off to keep (undefined: none, as before) */
  | { start: true; entry: CrashBackoffEntry | undefined }
  /** in back-off: wait `waitMs` more; `delayMs` is the current delay (the waiting message's) */
  | { start: false; waitMs: number; delayMs: number };

/**
 * @param entry the container's back-off so far (undefined: none)
 * @param finishedAt when the newest exited instance finished (ms since the epoch), or
 *   `undefined` when there is no exited instance (a first run being killed by its probe)
 */
export function crashBackoff(entry: CrashBackoffEntry | undefined, finishedAt: number | undefined, now: number): CrashBackoffDecision {
  if (finishedAt === undefined) return { start: true, entry };
  if (!entry) return { start: true, entry: { delayMs: CRASH_BACKOFF_START_MS } };
  const readyAt = finishedAt + entry.delayMs;
  if (now < readyAt) return { start: false, waitMs: readyAt - now, delayMs: entry.delayMs };
  return { start: true, entry: { delayMs: Math.min(entry.delayMs * 2, CRASH_BACKOFF_MAX_MS) } };
}

/** the waiting message of a container in CrashLoopBackOff (kubelet: "back-off %s restarting failed container=%s pod=%s") */
export function crashBackoffMessage(delayMs: number, container: string, pod: Obj): string {
  return `back-off ${goDuration(delayMs)} restarting failed container=${container} pod=${podRef(pod)}`;
}

/** the BackOff event's message */
export function crashBackoffEventMessage(container: string, pod: Obj): string {
  return `Back-off restarting failed container ${container} in pod ${podRef(pod)}`;
}

function podRef(pod: Obj): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}
