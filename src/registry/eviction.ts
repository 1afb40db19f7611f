/**
 * POST pods/NAME/eviction (policy/v1 Eviction), as kube-apiserver's EvictionREST: a pod is
 * deleted only if the one PodDisruptionBudget that selects it allows a disruption now. The
 * budget's status (computed by the disruption controller, src/controllers/disruption.ts) is
 * charged first: disruptionsAllowed goes down by one and the pod is recorded in
 * status.disruptedPods, written with the budget's resourceVersion so two evictions never spend
 * the same disruption; then the pod is deleted with the Eviction's deleteOptions.
 *
 *   - no budget selects the pod, or the pod is terminal, pending or already terminating: deleted;
 *   - more than one budget: 500, as upstream does not support it;
 *   - the budget's status is older than its spec: 429 (still being processed);
 *   - disruptionsAllowed 0: 429 `Cannot evict pod as it would violate the pod's disruption budget.`
 *     with the cause kubectl drain prints, and it retries;
 *   - a pod that is not Ready when the budget is met (unhealthyPodEvictionPolicy
 *     IfHealthyBudget, the default) or always (AlwaysAllow): deleted without charging the budget.
 */
import { ApiError, badRequest, internalError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { labelSelectorFromObject } from '../api/selectors/labels.js';
import { rfc3339 } from '../api/time.js';
import type { DeleteOptions, Obj } from '../api/types.js';
import type { GenericRegistry } from './generic.js';

const PODS = resourceInfo('pods')!;
const PDBS = resourceInfo('poddisruptionbudgets', 'policy')!;
export const EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget.";

const podReady = (p: Obj) => (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');

function tooManyRequests(cause: string): ApiError {
  return new ApiError(429, 'TooManyRequests', EVICTION_REFUSED, { causes: [{ reason: 'DisruptionBudget', message: cause }] });
}

/** the budgets of the pod's namespace whose selector picks it (a nil selector picks nothing) */
export function budgetsFor(pod: Obj, budgets: readonly Obj[]): Obj[] {
  return budgets.filter((b) => b.spec?.selector != null && labelSelectorFromObject(b.spec.selector).matches(pod.metadata?.labels ?? {}));
}

export async function evictPod(reg: GenericRegistry, ns: string, name: string, eviction: Obj): Promise<void> {
  if (eviction.metadata?.name && eviction.metadata.name !== name) throw badRequest('name in URL does not match name in Eviction object');
  const deleteOptions: DeleteOptions = eviction.deleteOptions ?? {};
  for (let attempt = 0; ; attempt++) {
    const pod = await reg.get(PODS, ns, name);
    const phase = pod.status?.phase;
    // nothing to protect: a finished, pending or already terminating pod just goes
    if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || pod.metadata.deletionTimestamp) {
      await reg.delete(PODS, ns, name, deleteOptions);
      return;
    }
    const budgets = budgetsFor(pod, (await reg.list(PDBS, ns)).items);
    if (budgets.length > 1) throw internalError('This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    if (!budgets.length) {
      await reg.delete(PODS, ns, name, deleteOptions);
      return;
    }
    const pdb = budgets[0]!;
    const st = pdb.status ?? {};
    if ((st.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) throw tooManyRequests(`The disruption budget ${pdb.metadata.name} is still being processed by the server.`);
    if (!podReady(pod)) {
      const policy = pdb.spec?.unhealthyPodEvictionPolicy ?? 'IfHealthyBudget';
      if (policy === 'AlwaysAllow' || (st.currentHealthy ?? 0) >= (st.desiredHealthy ?? 0)) {
        await reg.delete(PODS, ns, name, deleteOptions);
        return;
      }
      throw tooManyRequests(`The disruption budget ${pdb.metadata.name} does not have enough healthy pods (needs ${st.desiredHealthy ?? 0}, has ${st.currentHealthy ?? 0})`);
    }
    const allowed = st.disruptionsAllowed ?? 0;
    if (allowed < 0) throw new ApiError(403, 'Forbidden', 'pdb disruptions allowed is negative');
    if (allowed === 0) throw tooManyRequests(`The disruption budget ${pdb.metadata.name} needs ${st.desiredHealthy ?? 0} healthy pods and has ${st.currentHealthy ?? 0} currently`);
    const status = { ...st, disruptionsAllowed: allowed - 1, disruptedPods: { ...(st.disruptedPods ?? {}), [name]: rfc3339() } };
    try {
      await reg.update(PDBS, ns, pdb.metadata.name, { ...pdb, status }, { sub: 'status' });
    } catch (e) {
      // another eviction spent it first: look again, as upstream retries on a conflict
      if (e instanceof ApiError && e.reason === 'Conflict' && attempt < 5) continue;
      throw e;
    }
    await reg.delete(PODS, ns, name, deleteOptions);
    return;
  }
}
