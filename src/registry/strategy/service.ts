/**
 * Services: a cluster IP and node ports allocated on create (and on a type change), kept when an
 * update leaves them out, released when the Service is gone (src/registry/service-allocators.ts).
 * Before validation, as kube-apiserver's service REST and strategy do: clusterIPs follows
 * clusterIP (normalizeClusterIPs), and an update that changes the type clears what the new type
 * has no use for and the client left as it was (dropTypeDependentFields): the cluster IP on a
 * change to ExternalName, node ports on a change to ClusterIP or ExternalName, the health-check
 * port, the LoadBalancer-only fields. What is cleared is released once the update is stored.
 */
import type { Obj } from '../../api/types.js';
import { keepAllocatedValues, needsHealthCheckPort, typeHasClusterIP, typeHasNodePorts } from '../service-allocators.js';
import type { Strategy } from './types.js';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const ipList = (v: unknown): string[] => (Array.isArray(v) ? v : []);
const ipText = (v: unknown): string => (typeof v === 'string' ? v : '');
const sameList = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * kube's NormalizeClusterIPs: a client that sets only clusterIP (an old one, or a patch of that
 * field) gets clusterIPs to match; one that sets clusterIPs alone is left to validation.
 */
export function normalizeClusterIPs(spec: Obj, was: Obj | undefined): void {
  const ip = ipText(spec.clusterIP);
  if (!was) {
    if (ip && ipList(spec.clusterIPs).length === 0) spec.clusterIPs = [ip];
    return;
  }
  const wasIP = ipText(was.clusterIP);
  // an old client's update that left clusterIPs out
  if (ipList(was.clusterIPs).length > 0 && ipList(spec.clusterIPs).length === 0 && wasIP === ip) spec.clusterIPs = [...was.clusterIPs];
  if (wasIP !== ip) {
    const samePlural = sameList(ipList(was.clusterIPs), ipList(spec.clusterIPs));
    // cleared: clear the plural on the client's behalf; changed: the plural follows (validation refuses either on a type that keeps it)
    if (wasIP && !ip) {
      if (samePlural) delete spec.clusterIPs;
    } else if (samePlural) spec.clusterIPs = [ip];
  }
}

/** kube's dropTypeDependentFields: only on an update, only what the client did not change itself */
export function dropTypeDependentFields(svc: Obj, old: Obj): void {
  const spec: Obj = svc.spec;
  const was: Obj = isObj(old.spec) ? old.spec : {};
  if (typeHasClusterIP(was) && !typeHasClusterIP(spec)) {
    if (ipText(was.clusterIP) === ipText(spec.clusterIP) && sameList(ipList(was.clusterIPs), ipList(spec.clusterIPs))) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (sameList(ipList(was.ipFamilies), ipList(spec.ipFamilies))) delete spec.ipFamilies;
    if ((was.ipFamilyPolicy ?? '') === (spec.ipFamilyPolicy ?? '')) delete spec.ipFamilyPolicy;
  }
  const ports: Obj[] = Array.isArray(spec.ports) ? spec.ports.filter(isObj) : [];
  if (typeHasNodePorts(was) && !typeHasNodePorts(spec)) {
    const nodePorts = (list: unknown) => (Array.isArray(list) ? list.filter(isObj).map((p) => p.nodePort).filter((n) => typeof n === 'number' && n !== 0) : []);
    const had = new Set(nodePorts(was.ports));
    // ports may be added, removed or changed, as long as no node port is new
    if (nodePorts(spec.ports).every((n) => had.has(n))) for (const p of ports) delete p.nodePort;
  }
  if (needsHealthCheckPort(was) && !needsHealthCheckPort(spec) && was.healthCheckNodePort === spec.healthCheckNodePort) delete spec.healthCheckNodePort;
  if (was.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
    if (typeof spec.allocateLoadBalancerNodePorts === 'boolean' && spec.allocateLoadBalancerNodePorts === was.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
    if ((was.loadBalancerClass ?? null) === (spec.loadBalancerClass ?? null)) delete spec.loadBalancerClass;
  }
  const externallyAccessible = (s: Obj) => typeHasNodePorts(s) || (s.type === 'ClusterIP' && Array.isArray(s.externalIPs) && s.externalIPs.length > 0);
  if (externallyAccessible(was) && !externallyAccessible(spec) && was.externalTrafficPolicy === spec.externalTrafficPolicy) delete spec.externalTrafficPolicy;
  // a Service that is no LoadBalancer has no load balancer to report
  if (spec.type !== 'LoadBalancer' && isObj(svc.status)) svc.status.loadBalancer = {};
}

export const serviceStrategy: Strategy = {
  prepareForCreate(obj) {
    if (isObj(obj.spec)) normalizeClusterIPs(obj.spec, undefined);
  },
  prepareForUpdate(obj, old, part) {
    if (part !== 'main' || !isObj(obj.spec)) return;
    keepAllocatedValues(obj, old);
    normalizeClusterIPs(obj.spec, isObj(old.spec) ? old.spec : {});
    dropTypeDependentFields(obj, old);
  },
  async allocate(obj, ctx) {
    return (await ctx.serviceAllocators()).allocate(obj, undefined);
  },
  async reallocate(obj, old, ctx) {
    return (await ctx.serviceAllocators()).allocate(obj, old);
  },
  async release(obj, ctx) {
    (await ctx.serviceAllocators()).release(obj);
  },
};
