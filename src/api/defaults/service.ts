/**
 * Defaulting of a Service as kube-apiserver applies it (pkg/apis/core/v1/defaults.go
 * SetDefaults_Service and the service registry's PrepareForCreate). What the registry
 * allocates (clusterIP(s), ipFamilies, ipFamilyPolicy, nodePorts) is not set: podbay allocates
 * no service addresses yet, which a create's Warning says (src/api/no-controller.ts).
 */
import { type Obj, arr, isObj } from '../validation/field.js';
import type { Operation } from './pod.js';

export function defaultService(svc: Obj, op: Operation = 'create'): Obj {
  const s = isObj(svc.spec) ? svc.spec : (svc.spec = {});
  if (!s.sessionAffinity) s.sessionAffinity = 'None';
  if (s.sessionAffinity === 'ClientIP') {
    const cfg = isObj(s.sessionAffinityConfig) ? s.sessionAffinityConfig : (s.sessionAffinityConfig = {});
    const clientIP = isObj(cfg.clientIP) ? cfg.clientIP : (cfg.clientIP = {});
    if (clientIP.timeoutSeconds == null) clientIP.timeoutSeconds = 10800;
  }
  if (!s.type) s.type = 'ClusterIP';
  for (const p of arr(s.ports)) {
    if (!isObj(p)) continue;
    if (!p.protocol) p.protocol = 'TCP';
    // an unset targetPort is the port itself (a zero int or an empty string count as unset)
    if (p.targetPort == null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if ((s.type === 'NodePort' || s.type === 'LoadBalancer') && !s.externalTrafficPolicy) s.externalTrafficPolicy = 'Cluster';
  if (s.type !== 'ExternalName' && !s.internalTrafficPolicy) s.internalTrafficPolicy = 'Cluster';
  if (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts == null) s.allocateLoadBalancerNodePorts = true;
  if (op === 'create') svc.status = { loadBalancer: {} };
  return svc;
}
