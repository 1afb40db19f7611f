/**
 * hostPorts without the portmap CNI plugin: one rule set per bridge, every mapping of the node
 * written by one `iptables-restore --noflush` per batch, as the kubelet's hostport manager did
 * (kubenet; pkg/kubelet/dockershim/network/hostport: chain KUBE-HOSTPORTS, one KUBE-HP-* chain
 * per mapping, iptables-restore). portmap runs iptables ~10 times per ADD and per DEL, and on the
 * nf_tables backend each run re-reads the whole ruleset: a burst was O(N^2) in iptables work.
 *
 *   nat PREROUTING, OUTPUT  -m addrtype --dst-type LOCAL -> PODBAY-HP-<bridge>
 *       PODBAY-HP-<bridge>:  -p P -m P --dport HOSTPORT [-d HOSTIP] -> PODBAY-HPD-<hash>
 *       PODBAY-HPD-<hash>:   -s <podCidr> -> MARK 0x2000   (hairpin, and pods of the bridge)
 *                            -s 127.0.0.0/8 -> MARK 0x2000 (the host on 127.0.0.1; IPv4 only)
 *                            -p P -m P -> DNAT to POD_IP:CONTAINERPORT
 *       POSTROUTING -o <bridge> -> PODBAY-HPM-<bridge>: marked 0x2000 -> MASQUERADE
 * This is what portmap with `snat: true` did (its CNI-HOSTPORT-DNAT / CNI-DN-* / SETMARK / MASQ
 * chains, mark 0x2000), in chains of the bridge's own. A host connection to 127.0.0.1 leaves
 * through the bridge with source 127.0.0.1, which needs route_localnet on the bridge: it is set
 * here (as portmap did) before the first write that maps an IPv4 port, after the bridge's
 * CVE-2020-8558 guard (./localnet-guard.ts) is in place.
 *
 * Writes: each write declares (and so flushes) the bridge's chains, fills them from the whole set
 * and deletes (-X) the per-mapping chains no longer wanted; the jumps from the built-in chains
 * are inserted only when an iptables-save (at the first write, and at most once in 5 s after)
 * shows them missing. Changes made while a write runs are batched into the next one; a caller's
 * promise resolves once a write that includes its change has succeeded, so a sandbox is ready
 * only when its ports answer. Sandboxes without hostPorts never cause a write.
 *
 * One manager per bridge per process (`hostPortManager(bridge)`): several CniPodNetwork objects
 * of one bridge share it. After a restart the set is rebuilt from the CNI cache records before
 * the first change (`addSource`), so a write never drops the rules of adopted pods.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { base32 } from '../sys/base32.js';
import { run, which } from '../sys/exec.js';
import type { PortMapping } from './types.js';

/** portmap's masquerade mark, kept so what a host had with portmap stays the same */
export const HOSTPORT_MARK = '0x2000/0x2000';
const VERIFY_MS = 5000;

export interface HostPortEntry {
  sandboxId: string;
  /** "namespace/name", for the rules' comments */
  pod: string;
  /** the pod's IPs (IPv4 first) */
  ips: string[];
  portMappings: PortMapping[];
}

export type Family = 4 | 6;

/** iptables chain names have at most 28 characters, a bridge name at most 15 */
export function hostportsChain(bridge: string): string {
  return `PODBAY-HP-${bridge}`;
}

export function hostportMasqChain(bridge: string): string {
  return `PODBAY-HPM-${bridge}`;
}

/** the chain of one mapping to one pod IP (the kubelet's getHostportChain, with the bridge in the hash) */
export function mappingChain(bridge: string, sandboxId: string, pm: PortMapping, podIP: string): string {
  const h = createHash('sha256').update([bridge, sandboxId, pm.hostPort, pm.protocol, pm.hostIP ?? '', podIP].join('|')).digest();
  return `PODBAY-HPD-${base32(h).slice(0, 16)}`;
}

const isMappingChain = (c: string) => /^PODBAY-HPD-[A-Z2-7]{16}$/.test(c);

/** Refuse what iptables would refuse, before anything is made (a bad entry would fail a whole batch). */
export function validatePortMappings(pms: readonly PortMapping[]): void {
  for (const p of pms) {
    const what = `portMapping ${JSON.stringify(p)}`;
    if (!['tcp', 'udp', 'sctp'].includes(p.protocol)) throw new Error(`${what}: unknown protocol ${JSON.stringify(p.protocol)} (want tcp, udp or sctp)`);
    for (const k of ['hostPort', 'containerPort'] as const) {
      if (!Number.isInteger(p[k]) || p[k] < 1 || p[k] > 65535) throw new Error(`${what}: ${k} must be 1-65535`);
    }
    if (p.hostIP && !isIP(p.hostIP)) throw new Error(`${what}: hostIP is not an IP address`);
  }
}

const familyOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);
const isWildcard = (ip: string | undefined) => ip === '0.0.0.0' || ip === '::';
/** comments carry the pod's name: keep them to characters that need no quoting care */
const commentText = (s: string) => s.replace(/[^A-Za-z0-9._/: -]/g, '?').slice(0, 200);
const comment = (s: string) => `-m comment --comment "${commentText(s)}"`;

/** The jumps into the bridge's chains from the built-in ones, as restore/-D arguments after `-A <chain>`. */
export function hostportHooks(bridge: string): { chain: string; rule: string }[] {
  const entry = `${comment(`podbay: hostports of ${bridge}`)} -m addrtype --dst-type LOCAL -j ${hostportsChain(bridge)}`;
  return [
    { chain: 'PREROUTING', rule: entry },
    { chain: 'OUTPUT', rule: entry },
    { chain: 'POSTROUTING', rule: `-o ${bridge} ${comment(`podbay: hostport masquerade for ${bridge}`)} -j ${hostportMasqChain(bridge)}` },
  ];
}

export interface HostportRules {
  /** every chain of the bridge this write declares (and so flushes), the two fixed ones first */
  chains: string[];
  /** the per-mapping chains among them */
  mappingChains: string[];
  /** `-A ...` lines */
  rules: string[];
  /** UDP hostPorts mapped (their stale conntrack entries are cleared after the write) */
  udpPorts: number[];
}

/** The bridge's rules for one IP family: a pure function of the set. */
export function buildHostportRules(bridge: string, podCidr: string, entries: readonly HostPortEntry[], family: Family): HostportRules {
  const hp = hostportsChain(bridge);
  const masq = hostportMasqChain(bridge);
  const rules: string[] = [];
  const mappingChains: string[] = [];
  const udpPorts = new Set<number>();
  const sorted = [...entries].sort((a, b) => (a.sandboxId < b.sandboxId ? -1 : a.sandboxId > b.sandboxId ? 1 : 0));
  for (const e of sorted) {
    for (const ip of e.ips.filter((x) => familyOf(x) === family)) {
      for (const pm of e.portMappings) {
        if (pm.hostIP && familyOf(pm.hostIP) !== family) continue;
        const chain = mappingChain(bridge, e.sandboxId, pm, ip);
        if (mappingChains.includes(chain)) continue;
        mappingChains.push(chain);
        if (pm.protocol === 'udp') udpPorts.add(pm.hostPort);
        const p = pm.protocol;
        const c = comment(`${e.pod} hostport ${pm.hostPort}`);
        const dst = pm.hostIP && !isWildcard(pm.hostIP) ? ` -d ${pm.hostIP}/${family === 4 ? 32 : 128}` : '';
        rules.push(`-A ${hp}${dst} -p ${p} -m ${p} --dport ${pm.hostPort} ${c} -j ${chain}`);
        const own = familyOf(podCidr) === family ? podCidr : `${ip}/${family === 4 ? 32 : 128}`;
        rules.push(`-A ${chain} -s ${own} ${c} -j MARK --set-xmark ${HOSTPORT_MARK}`);
        if (family === 4) rules.push(`-A ${chain} -s 127.0.0.0/8 ${c} -j MARK --set-xmark ${HOSTPORT_MARK}`);
        const to = family === 4 ? `${ip}:${pm.containerPort}` : `[${ip}]:${pm.containerPort}`;
        rules.push(`-A ${chain} -p ${p} -m ${p} ${c} -j DNAT --to-destination ${to}`);
      }
    }
  }
  rules.push(`-A ${masq} -m mark --mark ${HOSTPORT_MARK} ${comment('podbay: hostport traffic of pods and 127.0.0.1')} -j MASQUERADE`);
  return { chains: [hp, masq, ...mappingChains], mappingChains, rules, udpPorts: [...udpPorts].sort((a, b) => a - b) };
}

/**
 * The iptables-restore input: declare (flush) the bridge's chains and every stale one, fill them,
 * delete the stale ones, and insert the missing jumps from the built-in chains.
 */
export function hostportRestoreText(bridge: string, r: HostportRules, stale: readonly string[], missingHooks: readonly { chain: string; rule: string }[]): string {
  const gone = stale.filter((c) => !r.chains.includes(c));
  return [
    '*nat',
    ...[...r.chains, ...gone].map((c) => `:${c} - [0:0]`),
    ...r.rules,
    ...gone.map((c) => `-X ${c}`),
    ...missingHooks.map((h) => `-I ${h.chain} 1 ${h.rule}`),
    'COMMIT',
    '',
  ].join('\n');
}

/** What iptables-save shows of a bridge's hostport chains: the jumps present and the chains they reach. */
export function readHostportState(save: string, bridge: string): { hooks: Set<string>; hasChains: boolean; mappingChains: string[]; hookLines: string[] } {
  const hp = hostportsChain(bridge);
  const masq = hostportMasqChain(bridge);
  const hooks = new Set<string>();
  const hookLines: string[] = [];
  const mapping = new Set<string>();
  let hasChains = false;
  for (const line of save.split('\n')) {
    if (line.startsWith(`:${hp} `) || line.startsWith(`:${masq} `)) hasChains = true;
    const m = /^-A (\S+) .*-j (\S+)\s*$/.exec(line);
    if (!m) continue;
    const [, chain, target] = m;
    if ((target === hp || target === masq) && ['PREROUTING', 'OUTPUT', 'POSTROUTING'].includes(chain!)) {
      hooks.add(`${chain}>${target}`);
      hookLines.push(line);
    }
    if (chain === hp && isMappingChain(target!)) mapping.add(target!);
  }
  return { hooks, hasChains, mappingChains: [...mapping], hookLines };
}

const hookKey = (bridge: string, h: { chain: string }) => `${h.chain}>${h.chain === 'POSTROUTING' ? hostportMasqChain(bridge) : hostportsChain(bridge)}`;

interface FamilyState {
  /** per-mapping chains in the kernel after the last successful write (undefined: unknown) */
  chains?: string[];
  udpPorts: number[];
  verifiedAt: number;
}

export interface HostPortManagerOptions {
  bridge: string;
  podCidr: string;
  /** the CVE-2020-8558 guard, made before route_localnet is turned on */
  ensureGuard: () => Promise<void>;
  log?: (line: string) => void;
}

export class HostPortManager {
  private readonly entries = new Map<string, HostPortEntry>();
  private readonly state: Record<Family, FamilyState> = { 4: { udpPorts: [], verifiedAt: -Infinity }, 6: { udpPorts: [], verifiedAt: -Infinity } };
  private readonly sources: (() => Promise<HostPortEntry[]>)[] = [];
  private loading?: Promise<void>;
  private tail: Promise<unknown> = Promise.resolve();
  private pending?: Promise<void>;
  private localnetOn = false;
  /** a write failed: the kernel may hold more than the set, so the next change writes even if it removes nothing */
  private dirty = false;
  /** writes done (for tests and traces) */
  writes = 0;

  constructor(private opts: HostPortManagerOptions) {}

  /** Later users of the bridge may bring a guard of their own (same bridge: same guard). */
  update(opts: HostPortManagerOptions): void {
    this.opts = opts;
  }

  /** Records to rebuild the set from (the CNI cache), read before the first change. */
  addSource(load: () => Promise<HostPortEntry[]>): void {
    this.sources.push(load);
    this.loading = undefined;
  }

  /** The mappings of a sandbox; resolves once a write that includes them succeeded. */
  async set(e: HostPortEntry): Promise<void> {
    validatePortMappings(e.portMappings);
    for (const pm of e.portMappings) {
      if (pm.hostIP && !e.ips.some((ip) => familyOf(ip) === familyOf(pm.hostIP!))) {
        throw new Error(`hostPort ${pm.hostPort}/${pm.protocol.toUpperCase()}: hostIP ${pm.hostIP} is IPv${familyOf(pm.hostIP)}, and the pod has no IPv${familyOf(pm.hostIP)} address`);
      }
    }
    await this.load();
    if (!e.portMappings.length || !e.ips.length) return this.remove(e.sandboxId);
    this.entries.set(e.sandboxId, { ...e, ips: [...e.ips], portMappings: e.portMappings.map((p) => ({ ...p })) });
    return this.requestWrite();
  }

  /** Forget a sandbox's mappings; resolves once they are gone from the kernel (no write if it had none). */
  async remove(sandboxId: string): Promise<void> {
    await this.load();
    if (!this.entries.delete(sandboxId) && !this.dirty) return;
    return this.requestWrite();
  }

  has(sandboxId: string): boolean {
    return this.entries.has(sandboxId);
  }

  /** Remove the bridge's jumps and chains (the bridge is gone); waits for a write under way. */
  async destroy(): Promise<void> {
    await this.tail;
    this.entries.clear();
    this.localnetOn = false;
    for (const family of [4, 6] as Family[]) {
      const st = this.state[family];
      const save = which(family === 4 ? 'iptables-save' : 'ip6tables-save');
      const restore = which(family === 4 ? 'iptables-restore' : 'ip6tables-restore');
      if (!save || !restore) continue;
      const now = readHostportState((await run(save, ['-t', 'nat'], { allowFailure: true })).stdout, this.opts.bridge);
      if (now.hasChains || now.hookLines.length) {
        const chains = [hostportsChain(this.opts.bridge), hostportMasqChain(this.opts.bridge), ...now.mappingChains];
        const text = ['*nat', ...now.hookLines.map((l) => `-D${l.slice(2)}`), ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
        const r = await run(restore, ['-w', '--noflush'], { input: text, allowFailure: true });
        if (r.code !== 0) throw new Error(`removing the hostport chains of ${this.opts.bridge}: ${r.stderr.trim()}`);
      }
      st.chains = undefined;
      st.udpPorts = [];
      st.verifiedAt = -Infinity;
    }
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      const todo = this.sources.splice(0);
      for (const src of todo) for (const e of await src()) {
          if (this.entries.has(e.sandboxId) || !e.portMappings.length || !e.ips.length) continue;
          try {
            validatePortMappings(e.portMappings);
          } catch (err) {
            this.opts.log?.(`hostports: sandbox ${e.sandboxId}: its cached ${(err as Error).message}; not rewritten`);
            continue;
          }
          this.entries.set(e.sandboxId, e);
        }
    })().catch((e: unknown) => {
      this.loading = undefined;
      throw e;
    });
    return this.loading;
  }

  private requestWrite(): Promise<void> {
    if (this.pending) return this.pending;
    const p = this.tail
      .then(() => new Promise((r) => setImmediate(r)))
      .then(() => {
        this.pending = undefined;
        return this.writeAll().then(
          () => void (this.dirty = false),
          (e: unknown) => {
            this.dirty = true;
            throw e;
          },
        );
      });
    this.pending = p;
    this.tail = p.catch(() => {});
    return p;
  }

  private async writeAll(): Promise<void> {
    const entries = [...this.entries.values()];
    for (const family of [4, 6] as Family[]) {
      const st = this.state[family];
      const wanted = entries.some((e) => e.ips.some((ip) => familyOf(ip) === family));
      // IPv4 is written whenever the set changed (a first write also clears what an earlier run
      // left); IPv6 only while it has mappings or had some
      const due = wanted || (st.chains === undefined ? family === 4 : st.chains.length > 0);
      if (!due) continue;
      await this.writeFamily(family, entries, wanted);
      this.writes++;
    }
  }

  private async writeFamily(family: Family, entries: HostPortEntry[], wanted: boolean): Promise<void> {
    const { bridge, podCidr } = this.opts;
    const st = this.state[family];
    const rules = buildHostportRules(bridge, podCidr, entries, family);
    if (family === 4 && wanted && rules.mappingChains.length) await this.routeLocalnet();
    let stale = st.chains ?? [];
    let missing: { chain: string; rule: string }[] = [];
    if (st.chains === undefined || performance.now() - st.verifiedAt > VERIFY_MS) {
      const save = which(family === 4 ? 'iptables-save' : 'ip6tables-save');
      if (!save) throw new Error(`${family === 4 ? 'iptables-save' : 'ip6tables-save'} is not installed: install the Debian package iptables`);
      const now = readHostportState((await run(save, ['-t', 'nat'])).stdout, bridge);
      stale = [...new Set([...stale, ...now.mappingChains])];
      missing = hostportHooks(bridge).filter((h) => !now.hooks.has(hookKey(bridge, h)));
      st.verifiedAt = performance.now();
    }
    const restore = which(family === 4 ? 'iptables-restore' : 'ip6tables-restore');
    if (!restore) throw new Error(`${family === 4 ? 'iptables-restore' : 'ip6tables-restore'} is not installed: install the Debian package iptables`);
    try {
      await run(restore, ['-w', '--noflush'], { input: hostportRestoreText(bridge, rules, stale, missing) });
    } catch (e) {
      st.chains = undefined; // the next write reads the kernel's state again
      throw new Error(`writing the hostport rules of ${bridge}: ${(e as Error).message}`);
    }
    const added = rules.udpPorts.filter((p) => !st.udpPorts.includes(p));
    st.chains = rules.mappingChains;
    st.udpPorts = rules.udpPorts;
    if (added.length) await clearUdpConntrack(added, family, this.opts.log);
  }

  /**
   * route_localnet on the bridge, after the localnet guard, as portmap did. The host's own
   * connections to 127.x that are DNAT'ed to a pod leave through the bridge with a 127.x source,
   * which the kernel routes only with it on: hostPorts on 127.0.0.1, and the proxy's NodePorts on
   * 127.0.0.1 and LoadBalancer addresses on loopback (kube-proxy sets conf/all for those; podbay
   * keeps it to its bridge). So the pod network calls this once the bridge exists, and the
   * hostPort writes call it too. Once per bridge per process; destroy() forgets it.
   */
  async routeLocalnet(): Promise<void> {
    if (this.localnetOn) return;
    await this.opts.ensureGuard();
    const p = `/proc/sys/net/ipv4/conf/${this.opts.bridge}/route_localnet`;
    let now: string;
    try {
      now = (await readFile(p, 'utf8')).trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // no bridge (yet): nothing routes to a pod
      throw e;
    }
    if (now !== '1') await writeFile(p, '1');
    this.localnetOn = true;
  }
}

let conntrackMissing = false;
/**
 * UDP flows to a hostPort made before its DNAT rule existed stay pinned to the host (conntrack
 * keeps their first verdict): clear them, as the kubelet and portmap do. Best effort.
 */
async function clearUdpConntrack(ports: number[], family: Family, log?: (line: string) => void): Promise<void> {
  if (conntrackMissing) return;
  const bin = which('conntrack');
  if (!bin) {
    conntrackMissing = true;
    log?.('hostports: conntrack is not installed, so UDP flows started before a hostPort existed are not cleared (install the Debian package conntrack)');
    return;
  }
  for (const port of ports) {
    // exit 1 when no entry matched
    await run(bin, ['-D', '-f', family === 4 ? 'ipv4' : 'ipv6', '-p', 'udp', '--orig-port-dst', String(port)], { allowFailure: true });
  }
}

const managers = new Map<string, HostPortManager>();

/** The manager of a bridge in this process (made on first use). */
export function hostPortManager(opts: HostPortManagerOptions): HostPortManager {
  let m = managers.get(opts.bridge);
  if (!m) managers.set(opts.bridge, (m = new HostPortManager(opts)));
  else m.update(opts);
  return m;
}
