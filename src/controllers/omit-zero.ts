/**
 * Status counters as kube-apiserver serves them: the Go types mark most of them `omitempty`, so
 * a zero never appears (`kubectl get deploy x -o jsonpath='{.status.readyReplicas}'` prints
 * nothing, not 0, while no pod is ready). The controllers drop the zero counters upstream's
 * types omit before they write a status; the counters upstream always shows (a ReplicaSet's
 * `replicas`, a StatefulSet's `replicas` and `availableReplicas`) are not named here.
 */
export const OMITTED_IF_ZERO = {
  /** apps/v1 DeploymentStatus */
  deployment: ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas'],
  /** apps/v1 ReplicaSetStatus, v1 ReplicationControllerStatus */
  replicaSet: ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration'],
  /** apps/v1 StatefulSetStatus */
  statefulSet: ['observedGeneration', 'readyReplicas', 'currentReplicas', 'updatedReplicas'],
  /** batch/v1 JobStatus (`ready` and `terminating` are pointers: a 0 is shown) */
  job: ['active', 'succeeded', 'failed'],
} as const;

/** `status` without the named counters that are 0 (in place; returned for chaining) */
export function omitZero<T extends Record<string, unknown>>(status: T, keys: readonly string[]): T {
  for (const k of keys) if (status[k] === 0) delete status[k];
  return status;
}
