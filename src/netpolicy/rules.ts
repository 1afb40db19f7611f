/**
 * NetworkPolicy as iptables rules, the way kube-router's network policy controller writes them
 * (pkg/controllers/netpol: network_policy_controller.go, pod.go, policy.go): a pure function of
 * the policies, the pods and the namespaces, so a change is one atomic iptables-restore of all
 * of these chains (the service proxy's design, src/proxy/rules.ts).
 *
 *   filter FORWARD, OUTPUT, INPUT (first rule) -> KUBE-ROUTER-FORWARD / -OUTPUT / -INPUT
 *          -d POD-IP -> KUBE-POD-FW-<pod>   for a pod an Ingress policy selects (FORWARD, OUTPUT)
 *          -s POD-IP -> KUBE-POD-FW-<pod>   for a pod an Egress policy selects (FORWARD, INPUT)
 *          last: -m mark --mark 0x20000 -> ACCEPT (what passed every pod's firewall)
 *        KUBE-POD-FW-<pod>: RELATED,ESTABLISHED -> ACCEPT; INVALID -> DROP;
 *          -d POD-IP from a LOCAL address (the node: kubelet probes) -> ACCEPT;
 *          -d POD-IP -> each ingress policy chain; -s POD-IP -> each egress policy chain;
 *          not marked 0x10000 (no policy allowed it) -> REJECT; clear 0x10000, mark 0x20000
 *        KUBE-NWPLCY-<policy, direction>: one rule per allowed (peer, port):
 *          -s PEER (ingress) / -d PEER (egress) [-p P --dport N[:END]] -> MARK 0x10000, RETURN
 *
 * Differences from kube-router, each for a reason: peers are per-IP rules, not ipsets (Debian's
 * ipset is not among podbay's host tools and one node has few pods); an ipBlock's except is
 * subtracted arithmetically into plain CIDRs (kube-router uses ipset's nomatch entries); a
 * policy has one chain per direction, so its ingress rules never judge a packet that entered
 * through the pod's egress jump (kube-router matches the target pods' ipset instead).
 *
 * The service proxy DNATs in nat PREROUTING/OUTPUT, before these filter chains, so a policy
 * sees the backend pod's IP and port of a connection made to a cluster IP, as it must.
 *
 * Chain names carry a hash of what they stand for (hex here: kube-router's is base32) and, for a
 * server on another bridge than the default, the server's tag, so several podbays share a host.
 */
import { createHash } from 'node:crypto';
import { labelSelectorFromObject, type LabelSelectorObject } from '../api/selectors/labels.js';
import { byString } from '../api/order.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface PodPort {
  name?: string;
  containerPort: number;
  protocol: Protocol;
}

/** what a policy needs to know of a pod */
export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** undefined while the pod has no address (or has ended): it is neither target nor peer */
  ip?: string;
  ports: PodPort[];
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export interface PolicyPort {
  protocol: Protocol;
  /** a number, an IANA name resolved per pod, or undefined: every port */
  port?: number | string;
  endPort?: number;
}

export interface PolicyPeer {
  podSelector?: LabelSelectorObject;
  namespaceSelector?: LabelSelectorObject;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface PolicyRule {
  /** empty: every port */
  ports: PolicyPort[];
  /** empty: every peer (from for ingress, to for egress) */
  peers: PolicyPeer[];
}

export interface PolicyInfo {
  namespace: string;
  name: string;
  podSelector: LabelSelectorObject;
  /** undefined when the policy is not of that type; [] denies that direction */
  ingress?: PolicyRule[];
  egress?: PolicyRule[];
}

export interface PolicyRulesInput {
  policies: PolicyInfo[];
  pods: PodInfo[];
  namespaces: NamespaceInfo[];
  /** "" for the default bridge, else the server's chain tag (src/proxy/rules.ts tagFor) */
  tag: string;
}

/** a packet allowed by some policy of the pod's chain */
export const PASSED_MARK = '0x10000/0x10000';
/** a packet that went through every pod firewall it met and passed */
export const ACCEPT_MARK = '0x20000/0x20000';

export interface TopChains {
  forward: string;
  output: string;
  input: string;
}

export function topChains(tag: string): TopChains {
  const t = tag ? `-${tag}` : '';
  return { forward: `KUBE-ROUTER-FORWARD${t}`, output: `KUBE-ROUTER-OUTPUT${t}`, input: `KUBE-ROUTER-INPUT${t}` };
}

function hash16(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16).toUpperCase();
}

export function podChain(p: Pick<PodInfo, 'namespace' | 'name'>, tag: string): string {
  return `KUBE-POD-FW-${hash16(p.namespace, p.name, tag)}`;
}

export function policyChain(p: Pick<PolicyInfo, 'namespace' | 'name'>, direction: 'ingress' | 'egress', tag: string): string {
  return `KUBE-NWPLCY-${hash16(p.namespace, p.name, direction, tag)}`;
}

function comment(text: string): string {
  return `-m comment --comment "${text.replace(/["\\]/g, '')}"`;
}

// ---------------------------------------------------------------- CIDR arithmetic (IPv4)

function v4(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function v4Text(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** "10.1.2.3/16" -> [network, prefix] with host bits cleared, or undefined (not IPv4) */
function parseV4(cidr: string): [number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) return undefined;
  const prefix = Number(m[5]);
  const size = 2 ** (32 - prefix);
  return [Math.floor(v4(`${m[1]}.${m[2]}.${m[3]}.${m[4]}`) / size) * size, prefix];
}

/**
 * `cidr` without the `except` blocks, as the fewest plain CIDRs: each except splits the
 * blocks holding it in halves down to its own size. Undefined for an IPv6 block (the pod
 * network is IPv4; IPv4 iptables never sees such a packet).
 */
export function cidrExcept(cidr: string, except: string[] = []): string[] | undefined {
  const outer = parseV4(cidr);
  if (!outer) return undefined;
  let blocks: [number, number][] = [outer];
  for (const e of except) {
    const ex = parseV4(e);
    if (!ex) continue;
    const next: [number, number][] = [];
    for (const [net, prefix] of blocks) {
      const size = 2 ** (32 - prefix);
      const inside = ex[0] >= net && ex[0] < net + size;
      const covers = ex[1] <= prefix && Math.floor(net / 2 ** (32 - ex[1])) * 2 ** (32 - ex[1]) === ex[0];
      if (covers) continue; // the whole block is excepted
      if (!inside) {
        next.push([net, prefix]);
        continue;
      }
      // halve down to the except's size, keeping the halves that do not hold it
      let [n, p] = [net, prefix];
      while (p < ex[1]) {
        p++;
        const half = 2 ** (32 - p);
        if (ex[0] < n + half) next.push([n + half, p]);
        else {
          next.push([n, p]);
          n += half;
        }
      }
    }
    blocks = next;
  }
  return blocks.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([n, p]) => `${v4Text(n)}/${p}`);
}

// ---------------------------------------------------------------- selection

function selects(sel: LabelSelectorObject | undefined, labels: Record<string, string>): boolean {
  try {
    return labelSelectorFromObject(sel ?? {}).matches(labels);
  } catch {
    return false; // validation refuses a bad selector at create; nothing matches one anyway
  }
}

/** the pods a policy applies to: its namespace's pods with an address that its podSelector selects */
export function targetPods(policy: PolicyInfo, pods: PodInfo[]): PodInfo[] {
  return pods.filter((p) => p.ip && p.namespace === policy.namespace && selects(policy.podSelector, p.labels));
}

/** the pods a peer names (undefined for an ipBlock peer) */
function peerPods(policy: PolicyInfo, peer: PolicyPeer, pods: PodInfo[], namespaces: NamespaceInfo[]): PodInfo[] | undefined {
  if (peer.ipBlock) return undefined;
  const nsLabels = new Map(namespaces.map((n) => [n.name, n.labels]));
  return pods.filter((p) => {
    if (!p.ip) return false;
    if (peer.namespaceSelector) {
      if (!selects(peer.namespaceSelector, nsLabels.get(p.namespace) ?? {})) return false;
    } else if (p.namespace !== policy.namespace) return false;
    return peer.podSelector ? selects(peer.podSelector, p.labels) : true;
  });
}

/** `-p tcp -m tcp --dport 80[:90]` for a numeric port; "" for every port of every protocol */
function portMatch(protocol: Protocol, port: number | undefined, endPort?: number): string {
  const proto = protocol.toLowerCase();
  if (port === undefined) return `-p ${proto}`;
  return `-p ${proto} -m ${proto} --dport ${port}${endPort !== undefined && endPort > port ? `:${endPort}` : ''}`;
}

/** a container port of the pod by name (a named port resolves per pod, on the side the policy names) */
function namedPort(pod: PodInfo, name: string, protocol: Protocol): number | undefined {
  return pod.ports.find((p) => p.name === name && p.protocol === protocol)?.containerPort;
}

/**
 * The matches of one rule, each a string of iptables arguments that allows a packet. The
 * "resolve" pods are those whose named ports a name stands for: the policy's own pods for
 * ingress (the destination), the peers for egress.
 */
function ruleMatches(policy: PolicyInfo, rule: PolicyRule, direction: 'ingress' | 'egress', input: PolicyRulesInput, targets: PodInfo[]): string[] {
  const peerFlag = direction === 'ingress' ? '-s' : '-d';
  // the address sets the rule allows, as iptables source/destination matches ("" = anywhere)
  type Peer = { addr: string; pod?: PodInfo };
  let peers: Peer[];
  if (rule.peers.length === 0) {
    peers = [{ addr: '' }];
  } else {
    peers = [];
    for (const peer of rule.peers) {
      const named = peerPods(policy, peer, input.pods, input.namespaces);
      if (named) for (const p of named) peers.push({ addr: `${peerFlag} ${p.ip}/32`, pod: p });
      else for (const c of cidrExcept(peer.ipBlock!.cidr, peer.ipBlock!.except) ?? []) peers.push({ addr: `${peerFlag} ${c}` });
    }
  }
  const out: string[] = [];
  const add = (m: string) => {
    const t = m.trim().replace(/\s+/g, ' ');
    if (!out.includes(t)) out.push(t);
  };
  if (rule.ports.length === 0) {
    for (const p of peers) add(p.addr);
    return out;
  }
  for (const port of rule.ports) {
    if (typeof port.port !== 'string') {
      for (const p of peers) add(`${p.addr} ${portMatch(port.protocol, port.port, port.endPort)}`);
      continue;
    }
    const name = port.port;
    if (direction === 'ingress') {
      // the port the name has on each target pod: the destination is that pod
      for (const t of targets) {
        const n = namedPort(t, name, port.protocol);
        if (n !== undefined) for (const p of peers) add(`${p.addr} -d ${t.ip}/32 ${portMatch(port.protocol, n)}`);
      }
    } else {
      // the port the name has on each destination pod; an ipBlock destination has no names
      const dests = rule.peers.length === 0 ? input.pods.filter((p) => p.ip) : peers.flatMap((p) => (p.pod ? [p.pod] : []));
      for (const d of dests) {
        const n = namedPort(d, name, port.protocol);
        if (n !== undefined) add(`-d ${d.ip}/32 ${portMatch(port.protocol, n)}`);
      }
    }
  }
  return out;
}

export interface PolicyRestore {
  /** the iptables-restore text (filter table), for `iptables-restore --noflush` */
  text: string;
  /** every chain this sync owns */
  chains: string[];
}

/**
 * The whole filter restore for this sync. `previous` are the chains an earlier sync made: those
 * gone now are flushed and deleted in the same restore. The top chains always exist (empty of
 * pods when nothing is selected); the caller removes them and their jumps when no policy is left.
 */
export function buildPolicyRules(input: PolicyRulesInput, previous: string[] = []): PolicyRestore {
  const top = topChains(input.tag);
  const chains = [top.forward, top.output, top.input];
  const rules: string[] = [];
  const policies = [...input.policies].sort((a, b) => byString(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  const pods = [...input.pods].sort((a, b) => byString(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));

  // each policy's chains, and which pods each one guards
  const ingressOf = new Map<PodInfo, string[]>();
  const egressOf = new Map<PodInfo, string[]>();
  for (const policy of policies) {
    const targets = targetPods(policy, pods);
    for (const direction of ['ingress', 'egress'] as const) {
      const list = policy[direction];
      if (!list) continue;
      const chain = policyChain(policy, direction, input.tag);
      chains.push(chain);
      const what = `${direction} rules of network policy ${policy.namespace}/${policy.name}`;
      list.forEach((rule, i) => {
        for (const m of ruleMatches(policy, rule, direction, input, targets)) {
          rules.push(`-A ${chain} ${comment(`${what}, rule ${i}`)} ${m} -j MARK --set-xmark ${PASSED_MARK}`.replace(/ +/g, ' '));
        }
        rules.push(`-A ${chain} -m mark --mark ${PASSED_MARK} -j RETURN`);
      });
      const guarded = direction === 'ingress' ? ingressOf : egressOf;
      for (const t of targets) guarded.set(t, [...(guarded.get(t) ?? []), chain]);
    }
  }

  const jumpsIn: string[] = [];
  const jumpsOut: string[] = [];
  for (const pod of pods) {
    const ing = ingressOf.get(pod);
    const eg = egressOf.get(pod);
    if (!ing && !eg) continue;
    const fw = podChain(pod, input.tag);
    const who = `pod ${pod.namespace}/${pod.name}`;
    chains.push(fw);
    rules.push(`-A ${fw} ${comment(`rule for stateful firewall for ${who}`)} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    rules.push(`-A ${fw} -m conntrack --ctstate INVALID -j DROP`);
    rules.push(`-A ${fw} -d ${pod.ip}/32 ${comment(`rule to permit the traffic to ${who} when the source is the node`)} -m addrtype --src-type LOCAL -j ACCEPT`);
    for (const chain of ing ?? []) rules.push(`-A ${fw} -d ${pod.ip}/32 -j ${chain}`);
    for (const chain of eg ?? []) rules.push(`-A ${fw} -s ${pod.ip}/32 -j ${chain}`);
    rules.push(`-A ${fw} ${comment(`default rule to REJECT traffic of ${who}`)} -m mark ! --mark ${PASSED_MARK} -j REJECT --reject-with icmp-port-unreachable`);
    rules.push(`-A ${fw} -j MARK --set-xmark 0x0/0x10000`);
    rules.push(`-A ${fw} ${comment('set mark to ACCEPT traffic that comply to network policies')} -j MARK --set-xmark ${ACCEPT_MARK}`);
    if (ing) jumpsIn.push(`-d ${pod.ip}/32 ${comment(`rule to jump traffic destined to ${who} to ${fw}`)} -j ${fw}`);
    if (eg) jumpsOut.push(`-s ${pod.ip}/32 ${comment(`rule to jump traffic from ${who} to ${fw}`)} -j ${fw}`);
  }
  const accept = `${comment('rule to explicitly ACCEPT traffic that comply to network policies')} -m mark --mark ${ACCEPT_MARK} -j ACCEPT`;
  for (const j of [...jumpsIn, ...jumpsOut]) rules.push(`-A ${top.forward} ${j}`);
  rules.push(`-A ${top.forward} ${accept}`);
  // the node's own traffic to a pod (a Service's cluster IP from the host, probes) leaves by OUTPUT
  for (const j of jumpsIn) rules.push(`-A ${top.output} ${j}`);
  rules.push(`-A ${top.output} ${accept}`);
  // a pod talking to the node itself arrives in INPUT: its egress policies decide
  for (const j of jumpsOut) rules.push(`-A ${top.input} ${j}`);
  rules.push(`-A ${top.input} ${accept}`);

  const stale = previous.filter((c) => !chains.includes(c));
  const lines = ['*filter'];
  // declaring a chain in a --noflush restore empties it: every chain is rewritten whole
  for (const c of [...chains, ...stale]) lines.push(`:${c} - [0:0]`);
  lines.push(...rules);
  for (const c of stale) lines.push(`-X ${c}`);
  lines.push('COMMIT', '');
  return { text: lines.join('\n'), chains };
}

/** The jumps from the built-in chains, each the first rule of its chain (before the service proxy's). */
export function policyJumps(tag: string): { chain: 'FORWARD' | 'OUTPUT' | 'INPUT'; rule: string[] }[] {
  const top = topChains(tag);
  const c = (what: string) => ['-m', 'comment', '--comment', `kube-router netpol - ${what}`];
  return [
    { chain: 'INPUT', rule: [...c('pod egress to the node'), '-j', top.input] },
    { chain: 'FORWARD', rule: [...c('pod ingress and egress'), '-j', top.forward] },
    { chain: 'OUTPUT', rule: [...c('node to pods'), '-j', top.output] },
  ];
}

/**
 * The chains an earlier run of this server left (killed before its stop): its top chains and
 * every chain reachable from them, read from `iptables-save -t filter` text. Chain names are
 * hashes, so what this server owns is known only by following its own top chains' jumps.
 */
export function leftoverChains(save: string, tag: string): string[] {
  const rules = save.split('\n').filter((l) => l.startsWith('-A '));
  const top = topChains(tag);
  const found = new Set<string>();
  const queue = [top.forward, top.output, top.input].filter((c) => save.includes(`:${c} `));
  while (queue.length) {
    const c = queue.shift()!;
    if (found.has(c)) continue;
    found.add(c);
    for (const l of rules) {
      if (!l.startsWith(`-A ${c} `)) continue;
      const target = / -j (KUBE-(?:POD-FW|NWPLCY)-[0-9A-F]{16})\b/.exec(l)?.[1];
      if (target && !found.has(target)) queue.push(target);
    }
  }
  return [...found];
}

/** the text that takes the chains of `chains` away (after their jumps are gone) */
export function teardownText(chains: string[]): string {
  return ['*filter', ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
}
