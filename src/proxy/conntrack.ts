/**
 * UDP conntrack cleanup, as kube-proxy does it after a sync (pkg/proxy/conntrack/cleanup.go).
 *
 * UDP has no connection to end: a client that keeps sending from the same source port matches
 * its conntrack entry, which still DNATs to the endpoint it was first given, for as long as the
 * flow stays busy. So when an endpoint goes away its entries are deleted, and when a Service
 * port gets its first endpoint the entries made while it had none (refused) go too:
 *
 *   endpoint E of port P gone:   conntrack -D -p udp --orig-dst VIP --dst-nat E   (VIP: cluster, external, LB IPs)
 *                                conntrack -D -p udp --orig-port-dst NODEPORT --dst-nat E
 *   port P had no endpoint:      conntrack -D -p udp --orig-dst VIP --orig-port-dst P
 *                                conntrack -D -p udp --orig-port-dst NODEPORT
 *
 * A pure function of the previous and the new sync's input; the proxier runs the commands.
 */
import { servicePortName, type EndpointInfo, type RulesInput } from './rules.js';

export function conntrackFlushes(prev: Pick<RulesInput, 'services' | 'endpoints'> | undefined, next: Pick<RulesInput, 'services' | 'endpoints'>): string[][] {
  if (!prev) return [];
  const out: string[][] = [];
  const prevSvcs = new Map(prev.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  for (const svc of next.services) {
    if (svc.type === 'ExternalName' || !svc.clusterIP || svc.clusterIP === 'None') continue;
    const before = prevSvcs.get(`${svc.namespace}/${svc.name}`);
    for (const port of svc.ports) {
      if (port.protocol !== 'UDP') continue;
      const spn = servicePortName(svc, port.name);
      const now = next.endpoints.get(spn) ?? [];
      const was: EndpointInfo[] = before ? (prev.endpoints.get(spn) ?? []) : [];
      const vips = [svc.clusterIP, ...svc.externalIPs, ...svc.loadBalancerIPs];
      const nodePort = port.nodePort && (svc.type === 'NodePort' || svc.type === 'LoadBalancer') ? port.nodePort : undefined;
      for (const e of was) {
        if (now.some((x) => x.ip === e.ip && x.port === e.port)) continue;
        for (const vip of vips) out.push(['-D', '-p', 'udp', '--orig-dst', vip, '--dst-nat', e.ip]);
        if (nodePort) out.push(['-D', '-p', 'udp', '--orig-port-dst', String(nodePort), '--dst-nat', e.ip]);
      }
      if (was.length === 0 && now.length > 0) {
        for (const vip of vips) out.push(['-D', '-p', 'udp', '--orig-dst', vip, '--orig-port-dst', String(port.port)]);
        if (nodePort) out.push(['-D', '-p', 'udp', '--orig-port-dst', String(nodePort)]);
      }
    }
  }
  return out;
}
