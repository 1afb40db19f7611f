/**
 * kube-proxy's iptables rules for a set of Services and their ready endpoints, as one
 * iptables-restore input (pkg/proxy/iptables/proxier.go, syncProxyRules): a pure function of
 * the Services, their EndpointSlices and the node, so every change is one atomic restore of all
 * of podbay's chains, never a rule at a time.
 *
 *   nat  PREROUTING, OUTPUT -> KUBE-SERVICES
 *          -d CLUSTER-IP -p P --dport PORT -> KUBE-SVC-X       (and LoadBalancer/external IPs -> KUBE-EXT-X)
 *          last: --dst-type LOCAL -> KUBE-NODEPORTS -> --dport NODEPORT -> KUBE-EXT-X
 *        KUBE-SVC-X: from outside the pod network -> KUBE-MARK-MASQ; then one endpoint at random
 *          (-m statistic --mode random --probability 1/n, 1/(n-1) ... ; ClientIP affinity first
 *          with -m recent)
 *        KUBE-EXT-X: KUBE-MARK-MASQ, then KUBE-SVC-X
 *        KUBE-SEP-E: from the endpoint itself (hairpin) -> KUBE-MARK-MASQ; DNAT to IP:PORT
 *        POSTROUTING -> KUBE-POSTROUTING: marked 0x4000 -> MASQUERADE
 *  filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES: a Service port with no endpoint is REJECTed
 *        (icmp-port-unreachable), as kube-proxy does, instead of timing out
 *        KUBE-FORWARD: marked traffic and established flows are accepted
 *
 * Chain names are kube-proxy's (KUBE-SVC- + 16 characters of base32(sha256(port name +
 * protocol)), ...). Several podbay servers may share a host (each test owns one), so a server
 * whose bridge is not the default adds a tag to its top-level chains and to the hashed names.
 */
import { createHash } from 'node:crypto';
import { byString } from '../api/order.js';
import { base32 } from '../sys/base32.js';

export interface ServicePortInfo {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  nodePort?: number;
}

export interface ServiceInfo {
  namespace: string;
  name: string;
  /** undefined or "None": headless, no rules */
  clusterIP?: string;
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  ports: ServicePortInfo[];
  sessionAffinity: 'None' | 'ClientIP';
  affinityTimeoutSeconds: number;
  externalIPs: string[];
  /** status.loadBalancer.ingress[].ip */
  loadBalancerIPs: string[];
  /**
   * spec.externalTrafficPolicy Local: traffic to a node port, external IP or LB IP goes only to
   * this node's endpoints and keeps its source address (no masquerade)
   */
  externalPolicyLocal?: boolean;
  /**
   * spec.internalTrafficPolicy Local: traffic to the cluster IP goes only to this node's
   * endpoints (none: dropped, "has no local endpoints", as kube-proxy does)
   */
  internalPolicyLocal?: boolean;
}

/** a ready endpoint of one service port: the backend address and its port number */
export interface EndpointInfo {
  ip: string;
  port: number;
  /** on this node (the slice endpoint's nodeName): the ones an externalTrafficPolicy Local uses */
  local?: boolean;
}

export interface RulesInput {
  services: ServiceInfo[];
  /** by `${namespace}/${name}:${portName}` (the ServicePortName), the ready endpoints */
  endpoints: Map<string, EndpointInfo[]>;
  /** the pod network: traffic from outside it to a cluster IP is masqueraded */
  clusterCIDR: string;
  /**
   * the service range: what is addressed there and was not translated to an endpoint is
   * refused here, so it never follows the default route off the machine
   */
  serviceCIDR?: string;
  /** "" for the default bridge (kube-proxy's names exactly), else a short tag for this server */
  tag: string;
}

export interface Chains {
  services: string;
  nodePorts: string;
  postrouting: string;
  markMasq: string;
  externalServices: string;
  forward: string;
}

export const MASQ_MARK = '0x4000/0x4000';

export function chainNames(tag: string): Chains {
  const t = tag ? `-${tag}` : '';
  return {
    services: `KUBE-SERVICES${t}`,
    nodePorts: `KUBE-NODEPORTS${t}`,
    postrouting: `KUBE-POSTROUTING${t}`,
    markMasq: `KUBE-MARK-MASQ${t}`,
    externalServices: `KUBE-EXTERNAL-SERVICES${t}`,
    forward: `KUBE-FORWARD${t}`,
  };
}

/** a short tag for a bridge name: 4 base32 characters */
export function tagFor(bridge: string, defaultBridge = 'podbay0'): string {
  if (bridge === defaultBridge) return '';
  return base32(createHash('sha256').update(bridge).digest()).slice(0, 4);
}

/** kube-proxy's portProtoHash and servicePortEndpointChainName */
function hash16(...parts: string[]): string {
  return base32(createHash('sha256').update(parts.join('')).digest()).slice(0, 16);
}

export function servicePortName(s: Pick<ServiceInfo, 'namespace' | 'name'>, portName: string): string {
  return `${s.namespace}/${s.name}${portName ? `:${portName}` : ''}`;
}

export function svcChain(spn: string, protocol: string, tag: string): string {
  return `KUBE-SVC-${hash16(spn, protocol.toLowerCase(), tag)}`;
}

export function extChain(spn: string, protocol: string, tag: string): string {
  return `KUBE-EXT-${hash16(spn, protocol.toLowerCase(), tag)}`;
}

/** kube-proxy's servicePortPolicyLocalChainName: the node-local endpoints of a Local policy */
export function svlChain(spn: string, protocol: string, tag: string): string {
  return `KUBE-SVL-${hash16(spn, protocol.toLowerCase(), tag)}`;
}

export function sepChain(spn: string, protocol: string, endpoint: string, tag: string): string {
  return `KUBE-SEP-${hash16(spn, protocol.toLowerCase(), endpoint, tag)}`;
}

function comment(text: string): string {
  return `-m comment --comment ${/\s/.test(text) ? `"${text}"` : text}`;
}

export interface RestoreInput {
  /** the iptables-restore text (both tables), for `iptables-restore --noflush` */
  text: string;
  /** every chain this sync owns, per table (stale ones of an earlier sync are deleted by the caller's text) */
  natChains: string[];
  filterChains: string[];
  /** the rules by chain, for the next sync's partial restore (restoreText) */
  tables: RuleTables;
}

/**
 * The whole restore for this sync. `previous` are the chains an earlier sync made that may
 * be gone now: they are flushed and deleted in the same restore.
 */
export function buildRules(input: RulesInput, previous: { nat: string[]; filter: string[] } = { nat: [], filter: [] }): RestoreInput {
  const c = chainNames(input.tag);
  const nat: string[] = [];
  const filter: string[] = [];
  const natChains = [c.services, c.nodePorts, c.postrouting, c.markMasq];
  const filterChains = [c.services, c.externalServices, c.forward];

  nat.push(`-A ${c.markMasq} -j MARK --set-xmark ${MASQ_MARK}`);
  nat.push(`-A ${c.postrouting} -m mark ! --mark ${MASQ_MARK} -j RETURN`);
  nat.push(`-A ${c.postrouting} -j MARK --set-xmark 0x4000/0x0`);
  nat.push(`-A ${c.postrouting} ${comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`);
  filter.push(`-A ${c.forward} -m conntrack --ctstate INVALID -j DROP`);
  filter.push(`-A ${c.forward} ${comment('kubernetes forwarding rules')} -m mark --mark ${MASQ_MARK} -j ACCEPT`);
  filter.push(`-A ${c.forward} ${comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);

  const services = [...input.services].sort((a, b) => byString(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  for (const svc of services) {
    if (svc.type === 'ExternalName' || !svc.clusterIP || svc.clusterIP === 'None') continue;
    for (const port of svc.ports) {
      const spn = servicePortName(svc, port.name);
      const proto = port.protocol.toLowerCase();
      const eps = input.endpoints.get(spn) ?? [];
      const svcName = svcChain(spn, port.protocol, input.tag);
      const extName = extChain(spn, port.protocol, input.tag);
      const hasExternal = (port.nodePort && (svc.type === 'NodePort' || svc.type === 'LoadBalancer')) || svc.externalIPs.length > 0 || svc.loadBalancerIPs.length > 0;
      const dport = (p: number) => `-p ${proto} -m ${proto} --dport ${p}`;
      const externalDsts = (verdict: string, why: string) => {
        for (const ip of [...svc.externalIPs, ...svc.loadBalancerIPs]) {
          filter.push(`-A ${c.externalServices} -d ${ip}/32 ${comment(`${spn} ${why}`)} ${dport(port.port)} -j ${verdict}`);
        }
        if (port.nodePort && (svc.type === 'NodePort' || svc.type === 'LoadBalancer')) {
          filter.push(`-A ${c.externalServices} ${comment(`${spn} ${why}`)} -m addrtype --dst-type LOCAL ${dport(port.nodePort)} -j ${verdict}`);
        }
      };
      if (eps.length === 0) {
        // kube-proxy REJECTs instead of letting a connection time out
        filter.push(`-A ${c.services} -d ${svc.clusterIP}/32 ${comment(`${spn} has no endpoints`)} ${dport(port.port)} -j REJECT --reject-with icmp-port-unreachable`);
        externalDsts('REJECT --reject-with icmp-port-unreachable', 'has no endpoints');
        continue;
      }
      const local = svc.externalPolicyLocal === true && hasExternal;
      const localEps = eps.filter((e) => e.local);
      natChains.push(svcName);
      const internalLocal = svc.internalPolicyLocal === true;
      if (!internalLocal) nat.push(`-A ${c.services} -d ${svc.clusterIP}/32 ${comment(`${spn} cluster IP`)} ${dport(port.port)} -j ${svcName}`);
      else if (localEps.length > 0) nat.push(`-A ${c.services} -d ${svc.clusterIP}/32 ${comment(`${spn} cluster IP`)} ${dport(port.port)} -j ${svlChain(spn, port.protocol, input.tag)}`);
      else filter.push(`-A ${c.services} -d ${svc.clusterIP}/32 ${comment(`${spn} has no local endpoints`)} ${dport(port.port)} -j DROP`);
      nat.push(`-A ${svcName} ! -s ${input.clusterCIDR} -d ${svc.clusterIP}/32 ${comment(`${spn} cluster IP`)} ${dport(port.port)} -j ${c.markMasq}`);
      if (hasExternal) {
        natChains.push(extName);
        for (const ip of svc.externalIPs) nat.push(`-A ${c.services} -d ${ip}/32 ${comment(`${spn} external IP`)} ${dport(port.port)} -j ${extName}`);
        for (const ip of svc.loadBalancerIPs) nat.push(`-A ${c.services} -d ${ip}/32 ${comment(`${spn} loadbalancer IP`)} ${dport(port.port)} -j ${extName}`);
        if (port.nodePort && (svc.type === 'NodePort' || svc.type === 'LoadBalancer')) nat.push(`-A ${c.nodePorts} ${comment(spn)} ${dport(port.nodePort)} -j ${extName}`);
        if (local) {
          // kube-proxy's Local policy: pods and this host itself still reach every endpoint
          // (the host's own traffic masqueraded); what came from elsewhere keeps its source
          // address and goes only to this node's endpoints, or is dropped
          nat.push(`-A ${extName} -s ${input.clusterCIDR} ${comment(`pod traffic for ${spn} external destinations`)} -j ${svcName}`);
          nat.push(`-A ${extName} ${comment(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${c.markMasq}`);
          nat.push(`-A ${extName} ${comment(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${svcName}`);
          if (localEps.length > 0) nat.push(`-A ${extName} -j ${svlChain(spn, port.protocol, input.tag)}`);
          else externalDsts('DROP', 'has no local endpoints');
        } else {
          nat.push(`-A ${extName} ${comment(`masquerade traffic for ${spn} external destinations`)} -j ${c.markMasq}`);
          nat.push(`-A ${extName} -j ${svcName}`);
        }
      }
      const sep = (e: EndpointInfo) => sepChain(spn, port.protocol, `${e.ip}:${e.port}`, input.tag);
      const pickRules = (chain: string, list: EndpointInfo[]) => {
        if (svc.sessionAffinity === 'ClientIP') {
          for (const e of list) {
            nat.push(`-A ${chain} ${comment(`${spn} -> ${e.ip}:${e.port}`)} -m recent --name ${sep(e)} --mask 255.255.255.255 --rsource --rcheck --seconds ${svc.affinityTimeoutSeconds} --reap -j ${sep(e)}`);
          }
        }
        list.forEach((e, i) => {
          const n = list.length - i;
          const pick = n > 1 ? ` -m statistic --mode random --probability ${(1 / n).toFixed(10)}` : '';
          nat.push(`-A ${chain} ${comment(`${spn} -> ${e.ip}:${e.port}`)}${pick} -j ${sep(e)}`);
        });
      };
      pickRules(svcName, eps);
      if ((local || internalLocal) && localEps.length > 0) {
        const svl = svlChain(spn, port.protocol, input.tag);
        natChains.push(svl);
        pickRules(svl, localEps);
      }
      for (const e of eps) {
        const chain = sep(e);
        natChains.push(chain);
        nat.push(`-A ${chain} -s ${e.ip}/32 ${comment(spn)} -j ${c.markMasq}`);
        const affinity = svc.sessionAffinity === 'ClientIP' ? ` -m recent --name ${chain} --mask 255.255.255.255 --rsource --set` : '';
        nat.push(`-A ${chain} -p ${proto} ${comment(spn)}${affinity} -m ${proto} -j DNAT --to-destination ${e.ip}:${e.port}`);
      }
    }
  }
  if (input.serviceCIDR) {
    filter.push(`-A ${c.services} -d ${input.serviceCIDR} ${comment('no service port answers at this address')} -j REJECT --reject-with icmp-port-unreachable`);
  }
  // kube-proxy's last rule of KUBE-SERVICES: whatever is addressed to this node may be a node port
  nat.push(`-A ${c.services} ${comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j ${c.nodePorts}`);

  const tables: RuleTables = { nat: byChain(natChains, nat), filter: byChain(filterChains, filter) };
  const prev: RuleTables = { nat: new Map(previous.nat.map((ch) => [ch, []])), filter: new Map(previous.filter.map((ch) => [ch, []])) };
  return { text: restoreText(tables, prev, true), natChains, filterChains, tables };
}

/** every chain's rules, in order, by chain: what a sync wrote, to compare the next one with */
export interface RuleTables {
  nat: Map<string, string[]>;
  filter: Map<string, string[]>;
}

function byChain(chains: string[], lines: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>(chains.map((ch) => [ch, []]));
  for (const l of lines) out.get(l.slice(3, l.indexOf(' ', 3)))!.push(l);
  return out;
}

/**
 * The restore that turns `prev` into `next`. Declaring a chain in a --noflush restore empties
 * it, so a chain is written whole or not at all. `full`: every chain (the first sync, a
 * periodic resync, or after a failed one); else only the chains whose rules changed, as
 * kube-proxy's partial syncs do: adding one endpoint rewrites its KUBE-SVC chain and adds one
 * KUBE-SEP chain instead of all of them. Chains gone since `prev` are flushed and deleted last,
 * after the chains that jumped to them were rewritten.
 */
export function restoreText(next: RuleTables, prev: RuleTables, full: boolean): string {
  const same = (a: string[] | undefined, b: string[]) => a !== undefined && a.length === b.length && a.every((l, i) => l === b[i]);
  const lines: string[] = [];
  for (const [name, table] of [['nat', 'nat'], ['filter', 'filter']] as const) {
    const want = next[table];
    const had = prev[table];
    const write = [...want.keys()].filter((ch) => full || !same(had.get(ch), want.get(ch)!));
    const stale = [...had.keys()].filter((ch) => !want.has(ch));
    lines.push(`*${name}`);
    for (const ch of [...write, ...stale]) lines.push(`:${ch} - [0:0]`);
    for (const ch of write) lines.push(...want.get(ch)!);
    for (const ch of stale) lines.push(`-X ${ch}`);
    lines.push('COMMIT');
  }
  lines.push('');
  return lines.join('\n');
}

/** The jumps from the built-in chains into podbay's, ensured once (iptables -C / -I). */
export function baseJumps(tag: string): { table: 'nat' | 'filter'; chain: string; rule: string[] }[] {
  const c = chainNames(tag);
  const portals = ['-m', 'comment', '--comment', 'kubernetes service portals'];
  return [
    { table: 'nat', chain: 'PREROUTING', rule: [...portals, '-j', c.services] },
    { table: 'nat', chain: 'OUTPUT', rule: [...portals, '-j', c.services] },
    { table: 'nat', chain: 'POSTROUTING', rule: ['-m', 'comment', '--comment', 'kubernetes postrouting rules', '-j', c.postrouting] },
    { table: 'filter', chain: 'FORWARD', rule: ['-m', 'comment', '--comment', 'kubernetes forwarding rules', '-j', c.forward] },
    { table: 'filter', chain: 'FORWARD', rule: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', c.services] },
    { table: 'filter', chain: 'OUTPUT', rule: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', c.services] },
    { table: 'filter', chain: 'INPUT', rule: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes externally-visible service portals', '-j', c.externalServices] },
    { table: 'filter', chain: 'FORWARD', rule: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'kubernetes externally-visible service portals', '-j', c.externalServices] },
  ];
}

/**
 * The nat chains of one tagged server as `iptables-save -t nat` shows them: its top-level
 * chains (`seed`) and every KUBE-SVC/SEP/EXT/SVL/FW chain linked to them by a jump either way,
 * to a fixed point. What a crashed run left (endpoints it had then) is found too, so stop can
 * delete the lot: a left-over SEP chain still jumping to KUBE-MARK-MASQ-TAG would otherwise make
 * the whole removal fail. Never used for the untagged names, which a real kube-proxy shares.
 */
export function linkedChains(save: string, seed: string[]): string[] {
  const rules = new Map<string, string[]>();
  for (const line of save.split('\n')) {
    const m = /^-A (\S+) .*-j (\S+)/.exec(line);
    if (m) rules.set(m[1]!, [...(rules.get(m[1]!) ?? []), m[2]!]);
  }
  const ours = new Set(seed);
  const hashed = (ch: string) => /^KUBE-(SVC|SEP|EXT|SVL|FW)-[A-Z0-9]{16}$/.test(ch);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [chain, targets] of rules) {
      const linked = ours.has(chain) ? targets.filter((t) => hashed(t) && !ours.has(t)) : targets.some((t) => ours.has(t)) && hashed(chain) && !ours.has(chain) ? [chain] : [];
      for (const c of linked) {
        ours.add(c);
        grew = true;
      }
    }
  }
  return [...ours];
}
