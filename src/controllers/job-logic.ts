/**
 * The pure parts of the Job controller (kube's pkg/controller/job), unit-tested without a store:
 * the pod a Job makes from its template, which pod failure policy rule a failed pod matches,
 * completed indexes as kube writes them ("0-2,4"), the backoff between recreations, and the
 * conditions with their reasons and messages.
 */
import type { Job, PodFailurePolicyRule } from 'kubernetes-types/batch/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Obj } from '../client/types.js';
import { controllerRef } from './owner.js';
import { rfc3339 as timeString } from '../api/time.js';

/** the finalizer that keeps a finished pod until the Job has counted it (kube's job tracking) */
export const TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
/** the completion index of an Indexed Job's pod (annotation, and label since kube 1.28) */
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';


/** the pod a Job creates (index: an Indexed Job's completion index) */
export function podForJob(job: Obj, index?: number): Pod {
  const t = structuredClone(job.spec?.template ?? {});
  const labels: Record<string, string> = { ...(t.metadata?.labels ?? {}) };
  const annotations: Record<string, string> = { ...(t.metadata?.annotations ?? {}) };
  const spec = t.spec ?? {};
  const name = job.metadata.name as string;
  if (index !== undefined) {
    annotations[COMPLETION_INDEX] = String(index);
    labels[COMPLETION_INDEX] = String(index);
    // JOB_COMPLETION_INDEX from the annotation through the downward API, as kube injects it
    const env = { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } };
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      if (!(c.env ?? []).some((e: Obj) => e.name === env.name)) c.env = [...(c.env ?? []), env];
    }
    // Indexed pods get a stable hostname, $(job-name)-$(index)
    if (!spec.hostname) spec.hostname = `${name}-${index}`;
  }
  return {
    metadata: {
      generateName: index !== undefined ? `${name}-${index}-` : `${name}-`,
      namespace: job.metadata.namespace,
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      finalizers: [TRACKING_FINALIZER],
      ownerReferences: [controllerRef(job, 'batch/v1', 'Job') as never],
    },
    spec,
  };
}

/** an Indexed pod's completion index, or undefined when missing or not a number */
export function podIndex(pod: Obj): number | undefined {
  const v = pod.metadata?.annotations?.[COMPLETION_INDEX] ?? pod.metadata?.labels?.[COMPLETION_INDEX];
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** "1,3-5" <-> [1,3,4,5], status.completedIndexes as kube writes it */
export function formatIndexes(indexes: Iterable<number>): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

export function parseIndexes(s: string | undefined): Set<number> {
  const out = new Set<number>();
  for (const part of (s ?? '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.add(i);
  }
  return out;
}

/** the delay before a Job makes a pod again after `failures` failures since its last success */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** (failures - 1));
}

export type PolicyAction = 'FailJob' | 'Ignore' | 'Count' | 'FailIndex';

/**
 * The first podFailurePolicy rule a failed pod matches, with the message kube writes into the
 * Job's condition for a FailJob rule; undefined when no rule matches (the failure counts).
 */
export function matchPodFailurePolicy(job: Job, pod: Obj): { action: PolicyAction; message: string } | undefined {
  const rules: PodFailurePolicyRule[] = job.spec?.podFailurePolicy?.rules ?? [];
  const who = `${pod.metadata.namespace}/${pod.metadata.name}`;
  for (const [i, rule] of rules.entries()) {
    const codes = rule.onExitCodes;
    if (codes) {
      const statuses: Obj[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
      for (const cs of statuses) {
        const code = cs.state?.terminated?.exitCode;
        // exit code 0 never matches (kube's getMatchingContainerFromList)
        if (code === undefined || code === 0) continue;
        if (codes.containerName && codes.containerName !== cs.name) continue;
        const inValues = codes.values.includes(code);
        if (codes.operator === 'In' ? inValues : !inValues) {
          return { action: rule.action as PolicyAction, message: `Container ${cs.name} for pod ${who} failed with exit code ${code} matching ${rule.action} rule at index ${i}` };
        }
      }
    }
    for (const pat of rule.onPodConditions ?? []) {
      const want = pat.status ?? 'True';
      if ((pod.status?.conditions ?? []).some((c: Obj) => c.type === pat.type && c.status === want)) {
        return { action: rule.action as PolicyAction, message: `Pod ${who} has condition ${pat.type} matching ${rule.action} rule at index ${i}` };
      }
    }
  }
  return undefined;
}

export interface Condition {
  type: string;
  status: 'True' | 'False';
  reason?: string;
  message?: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
}

/** set a condition; its transition time moves only when its status changes. True when anything changed. */
export function setCondition(status: Obj, type: string, value: 'True' | 'False', reason: string, message: string, now: number): boolean {
  const conds: Condition[] = (status.conditions ??= []);
  const old = conds.find((c) => c.type === type);
  if (old && old.status === value && old.reason === reason && old.message === message) return false;
  const t = timeString(now);
  const c: Condition = { type, status: value, lastProbeTime: t, lastTransitionTime: old && old.status === value ? old.lastTransitionTime! : t, reason, message };
  if (old) Object.assign(old, c);
  else conds.push(c);
  return true;
}

export function hasCondition(status: Obj | undefined, type: string): Condition | undefined {
  return (status?.conditions ?? []).find((c: Condition) => c.type === type && c.status === 'True');
}

/** Complete or Failed: the Job is finished */
export function jobFinished(job: Obj): Condition | undefined {
  return hasCondition(job.status, 'Complete') ?? hasCondition(job.status, 'Failed');
}

/** the reasons and messages of kube's job controller */
export const FAIL_REASONS = {
  BackoffLimitExceeded: 'Job has reached the specified backoff limit',
  DeadlineExceeded: 'Job was active longer than specified deadline',
} as const;
export const COMPLETIONS_REACHED = { reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };

/** metav1.Time as the API writes it (src/api/time.ts) */
export { timeString };
