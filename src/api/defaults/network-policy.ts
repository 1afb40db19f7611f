/**
 * networking.k8s.io/v1 NetworkPolicy defaults (pkg/apis/networking/v1/defaults.go): a port
 * without a protocol is TCP; a policy naming no policyTypes is an Ingress policy, and an Egress
 * one too when it has egress rules. podSelector is a struct, not a pointer, upstream: a policy
 * sent without one is stored with `{}` (every pod of the namespace), as Go would encode it.
 */
import { type Obj, arr, isObj } from '../validation/field.js';

export function defaultNetworkPolicy(np: Obj): Obj {
  const s = isObj(np.spec) ? np.spec : (np.spec = {});
  if (!isObj(s.podSelector)) s.podSelector = {};
  for (const dir of ['ingress', 'egress']) {
    for (const rule of arr(s[dir])) {
      for (const port of arr(isObj(rule) ? rule.ports : undefined)) if (isObj(port) && port.protocol == null) port.protocol = 'TCP';
    }
  }
  if (arr(s.policyTypes).length === 0) s.policyTypes = arr(s.egress).length ? ['Ingress', 'Egress'] : ['Ingress'];
  return np;
}
