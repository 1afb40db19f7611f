/**
 * Pods: generation counts spec changes, a delete of a pod bound to a node is graceful (the node
 * stops it and confirms with grace 0), and the binding subresource sets spec.nodeName once.
 */
import { conflict, invalid, type FieldError } from '../../api/errors.js';
import { resourceInfo } from '../../api/registry.js';
import type { Obj } from '../../api/types.js';
import type { Strategy } from './types.js';
import { rfc3339 } from '../../api/time.js';
import { admitPodServiceAccount, defaultPodServiceAccount } from '../service-account-admission.js';

export const PODS = resourceInfo('pods')!;
const SERVICEACCOUNTS = resourceInfo('serviceaccounts')!;

/** what kube-apiserver gives a pod that asks for nothing */
const DEFAULT_GRACE_SECONDS = 30;


export const podStrategy: Strategy = {
  prepareForCreate(obj) {
    obj.metadata.generation = 1;
  },
  admitDefaults(obj, ns, ctx) {
    if (ctx.serviceAccountAdmission && ns !== undefined) defaultPodServiceAccount(obj);
  },
  async admit(obj, ns, ctx) {
    if (!ctx.serviceAccountAdmission || ns === undefined) return;
    await admitPodServiceAccount(obj, ns, (n, name) => ctx.lookup(SERVICEACCOUNTS, n, name), ctx.serviceAccountAdmission);
  },
  prepareForUpdate(obj, old) {
    if (JSON.stringify(obj.spec) !== JSON.stringify(old.spec)) obj.metadata.generation = (old.metadata.generation ?? 1) + 1;
  },
  gracePeriod(obj, opts) {
    // Unscheduled and finished pods have nothing on a node to stop.
    const phase = obj.status?.phase;
    if (!obj.spec?.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
    if (opts.gracePeriodSeconds !== undefined) return opts.gracePeriodSeconds;
    // a pod stored before typed decoding may hold anything here; it must still be deletable
    const specGrace = obj.spec?.terminationGracePeriodSeconds;
    return Number.isSafeInteger(specGrace) && specGrace >= 0 ? specGrace : DEFAULT_GRACE_SECONDS;
  },
};

/**
 * POST pods/NAME/binding: check the Binding, then the change it makes to the stored pod (run
 * under the registry's guaranteedUpdate): spec.nodeName set once, and the PodScheduled condition.
 */
export function bindingUpdate(name: string, binding: Obj): (pod: Obj) => Obj {
  const target = binding.target ?? {};
  const errs: FieldError[] = [];
  if (!target.name) errs.push({ type: 'FieldValueRequired', field: 'target.name', detail: '' });
  if (target.kind && target.kind !== 'Node') {
    errs.push({ type: 'FieldValueNotSupported', field: 'target.kind', value: target.kind, detail: 'supported values: "Node"' });
  }
  if (errs.length) throw invalid('Binding', binding.metadata?.name ?? name, errs);
  return (pod) => {
    if (pod.metadata.deletionTimestamp) throw conflict(PODS.resource, name, 'pod is being deleted, cannot be assigned to a host');
    if (pod.spec.nodeName) throw conflict(PODS.resource, name, `pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
    pod.spec.nodeName = target.name;
    const conds: Obj[] = (pod.status.conditions ??= []);
    const cond = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: rfc3339() };
    const i = conds.findIndex((c) => c.type === 'PodScheduled');
    if (i >= 0) conds[i] = cond;
    else conds.push(cond);
    return pod;
  };
}
