/**
 * Which pod updates from the API need a sync. The kubelet's own status writes come back as
 * MODIFIED events; a change of the status alone needs none: the kubelet's pod config source
 * calls that a RECONCILE, which syncs only when the pod's readiness must be computed again (a
 * readiness gate's condition, written by someone else) or the pod became terminal (its
 * containers are cleaned up). A new spec or new metadata (labels and annotations feed the
 * downward API, deletionTimestamp starts the teardown) does.
 * Anything missed is caught by the periodic resync.
 */
import { isDeepStrictEqual } from 'node:util';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const terminal = (p: Obj) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** metadata without what every write changes */
function lastingMetadata(m: Obj | undefined): Obj {
  const { resourceVersion: _rv, managedFields: _mf, ...rest } = m ?? {};
  return rest;
}

export function podChangeNeedsSync(before: Obj, after: Obj): boolean {
  if (before.metadata?.resourceVersion === after.metadata?.resourceVersion && before.metadata?.resourceVersion !== undefined) return false;
  if (terminal(after) && !terminal(before)) return true;
  if ((after.spec?.readinessGates ?? []).length && !isDeepStrictEqual(before.status?.conditions, after.status?.conditions)) return true;
  if (!isDeepStrictEqual(before.spec, after.spec)) return true;
  return !isDeepStrictEqual(lastingMetadata(before.metadata), lastingMetadata(after.metadata));
}
