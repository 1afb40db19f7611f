/**
 * Ingresses: the DefaultIngressClass admission kube-apiserver runs on every create
 * (plugin/pkg/admission/network/defaultingressclass): an Ingress naming no class, neither in
 * spec.ingressClassName nor in the kubernetes.io/ingress.class annotation, gets the class
 * marked ingressclass.kubernetes.io/is-default-class: "true" (the newest one when several are);
 * and a create's status is the empty one (PrepareForCreate).
 */
import { resourceInfo } from '../../api/registry.js';
import type { Obj } from '../../api/types.js';
import { DEFAULT_CLASS_ANNOTATION, INGRESS_CLASS_ANNOTATION } from '../../api/validation/ingress.js';
import type { Strategy } from './types.js';
import { byString } from '../../api/order.js';

/** the default class among `classes`, or undefined (newest first, then by name, as upstream breaks ties) */
export function defaultIngressClass(classes: Obj[]): Obj | undefined {
  const defaults = classes.filter((c) => c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  defaults.sort((a, b) => byString(String(b.metadata.creationTimestamp), String(a.metadata.creationTimestamp)) || byString(String(a.metadata.name), String(b.metadata.name)));
  return defaults[0];
}

export const ingressStrategy: Strategy = {
  // ingressStrategy.PrepareForCreate: a create cannot set status; the empty IngressStatus is
  // written as Go encodes it (`loadBalancer: {}` is a struct, not a pointer), whether the client
  // sent JSON with it or protobuf without
  prepareForCreate(obj) {
    obj.status = { loadBalancer: {} };
  },
  async admit(obj, _ns, ctx) {
    const spec = (obj.spec ??= {});
    if (spec.ingressClassName != null || obj.metadata?.annotations?.[INGRESS_CLASS_ANNOTATION] != null) return;
    const chosen = defaultIngressClass(await ctx.list(resourceInfo('ingressclasses', 'networking.k8s.io')!, undefined));
    if (chosen) spec.ingressClassName = chosen.metadata.name;
  },
};
