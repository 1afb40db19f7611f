/** Taints and tolerations as v1helper matches them (the scheduler, the DaemonSet controller). */
import type { Obj } from './types.js';

/** Toleration.ToleratesTaint: effect and key must match when given; Exists ignores the value, Equal compares it */
export function toleratesTaint(t: Obj, taint: Obj): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  // an empty key with Exists tolerates every taint
  if (t.key && t.key !== taint.key) return false;
  const op = t.operator ?? 'Equal';
  if (op === 'Exists') return true;
  if (op === 'Equal') return (t.value ?? '') === (taint.value ?? '');
  return false;
}

export const tolerated = (tolerations: readonly Obj[] | undefined, taint: Obj): boolean => (tolerations ?? []).some((t) => toleratesTaint(t, taint));
