/**
 * Which nat rules send a hostPort to a pod, from `iptables-save -t nat` text: the DNAT rules
 * whose --to-destination is one of the pod's IPs, the rest of their chain (podbay's per-hostPort
 * PODBAY-HPD-* chain, src/network/hostport-manager.ts, also marks hairpin and localhost traffic
 * for masquerading), and every jump that leads there (PODBAY-HP-<bridge>, then PREROUTING and
 * OUTPUT), entry points first. Chains of the portmap plugin (CNI-HOSTPORT-DNAT, CNI-DN-*), as
 * pods of an older podbay have, are followed the same way.
 */
import type { NatRule } from './types.js';

interface Parsed {
  chain: string;
  target?: string;
  rule: string;
}

function parseRules(save: string): Parsed[] {
  const out: Parsed[] = [];
  for (const line of save.split('\n')) {
    if (!line.startsWith('-A ')) continue;
    const chain = line.split(' ')[1]!;
    const target = / -j (\S+)/.exec(line)?.[1];
    out.push({ chain, target, rule: line.trimEnd() });
  }
  return out;
}

function sendsTo(rule: string, ips: string[]): boolean {
  const dest = / --to-destination (\S+)/.exec(rule)?.[1];
  if (!dest) return false;
  // 10.0.0.5:80, 10.0.0.5, [fd00::5]:80
  const host = dest.startsWith('[') ? dest.slice(1, dest.indexOf(']')) : dest.split(':').length === 2 ? dest.split(':')[0] : dest;
  return ips.includes(host!);
}

export function hostPortRules(save: string, podIPs: string[]): NatRule[] {
  const rules = parseRules(save);
  const dnatChains = new Set(rules.filter((r) => r.target === 'DNAT' && sendsTo(r.rule, podIPs)).map((r) => r.chain));
  if (!dnatChains.size) return [];
  // depth 0: the pod's own chains; then the chains that jump to them, and so on
  const depth = new Map<string, number>([...dnatChains].map((c) => [c, 0]));
  const picked = new Set<Parsed>(rules.filter((r) => dnatChains.has(r.chain)));
  for (let level = 1, frontier = new Set(dnatChains); frontier.size && level < 8; level++) {
    const next = new Set<string>();
    for (const r of rules) {
      if (!r.target || !frontier.has(r.target)) continue;
      picked.add(r);
      if (!depth.has(r.chain)) {
        depth.set(r.chain, level);
        next.add(r.chain);
      }
    }
    frontier = next;
  }
  return rules
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => picked.has(r))
    .sort((a, b) => depth.get(b.r.chain)! - depth.get(a.r.chain)! || a.i - b.i)
    .map(({ r }) => ({ table: 'nat' as const, chain: r.chain, rule: r.rule }));
}
