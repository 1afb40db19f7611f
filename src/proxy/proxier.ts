/**
 * The service proxy: kube-proxy's iptables mode for this node, an API client. Informers on
 * Services and EndpointSlices; every change schedules one sync (coalesced), and a sync is one
 * `iptables-restore --noflush` of all of podbay's chains (src/proxy/rules.ts). The jumps from
 * the built-in chains are added once at start and removed, with every chain, at stop.
 *
 * Without br_netfilter (bridge-nf-call-iptables), replies between pods on the bridge would skip
 * conntrack's reverse NAT, so then all service traffic is masqueraded (kube-proxy's
 * --masquerade-all); with it, only traffic from outside the pod network is.
 */
import { readFile } from 'node:fs/promises';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import type { Client } from '../client/types.js';
import { Informer } from '../client/informer.js';
import { run } from '../sys/exec.js';
import { CoalescedSync } from '../sys/coalesced-sync.js';
import { conntrackFlushes } from './conntrack.js';
import { ServiceHealthServers, type HealthCheckWant } from './healthcheck.js';
import { baseJumps, buildRules, chainNames, linkedChains, restoreText, servicePortName, type EndpointInfo, type RuleTables, type RulesInput, type ServiceInfo } from './rules.js';
import { byNatural } from '../api/order.js';

/** a sync this long after the last full one rewrites every chain again (repairs what others changed) */
export const FULL_RESYNC_MS = 60_000;

const SERVICES = resourceInfo('services')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io', 'v1')!;
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface ProxierOptions {
  /** the pod network (--pod-cidr) */
  clusterCIDR: string;
  /** --service-cluster-ip-range: untranslated traffic to it is refused (rules.ts) */
  serviceCIDR?: string;
  /** chain tag (rules.ts tagFor) */
  tag: string;
  log?: (line: string) => void;
  /** coalescing delay of syncs, ms (kube-proxy's minSyncPeriod is 1 s; a single node can be quicker) */
  minSyncMs?: number;
  /** this node's name: endpoints on it are local (externalTrafficPolicy Local) */
  nodeName?: string;
}

/** the health check servers a sync wants: Local-policy LoadBalancers with a healthCheckNodePort */
export function healthCheckWants(services: Obj[], endpoints: Map<string, EndpointInfo[]>): HealthCheckWant[] {
  const out: HealthCheckWant[] = [];
  for (const svc of services) {
    const s = svc.spec ?? {};
    if (s.type !== 'LoadBalancer' || s.externalTrafficPolicy !== 'Local' || !s.healthCheckNodePort) continue;
    const local = new Set<string>();
    for (const p of (s.ports ?? []) as Obj[]) {
      for (const e of endpoints.get(servicePortName({ namespace: svc.metadata.namespace, name: svc.metadata.name }, p.name ?? '')) ?? []) if (e.local) local.add(e.ip);
    }
    out.push({ namespace: svc.metadata.namespace, name: svc.metadata.name, port: s.healthCheckNodePort, localEndpoints: local.size });
  }
  return out;
}

export function serviceInfo(svc: Obj): ServiceInfo {
  const s = svc.spec ?? {};
  return {
    namespace: svc.metadata.namespace,
    name: svc.metadata.name,
    clusterIP: s.clusterIP,
    type: s.type ?? 'ClusterIP',
    ports: ((s.ports ?? []) as Obj[]).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP', nodePort: p.nodePort })),
    sessionAffinity: s.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None',
    affinityTimeoutSeconds: s.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800,
    externalIPs: s.externalIPs ?? [],
    loadBalancerIPs: ((svc.status?.loadBalancer?.ingress ?? []) as Obj[]).map((i) => i.ip).filter(Boolean),
    externalPolicyLocal: (s.type === 'NodePort' || s.type === 'LoadBalancer') && s.externalTrafficPolicy === 'Local',
    internalPolicyLocal: s.internalTrafficPolicy === 'Local',
  };
}

/** ready endpoints by service port name, from a service's EndpointSlices; `node`: this node's name (marks endpoints local) */
export function endpointsBySlices(slices: Obj[], node?: string): Map<string, EndpointInfo[]> {
  const out = new Map<string, EndpointInfo[]>();
  for (const slice of slices) {
    const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svcName || (slice.addressType && slice.addressType !== 'IPv4')) continue;
    for (const port of (slice.ports ?? []) as Obj[]) {
      if (typeof port.port !== 'number') continue;
      const spn = servicePortName({ namespace: slice.metadata.namespace, name: svcName }, port.name ?? '');
      const list = out.get(spn) ?? [];
      for (const e of (slice.endpoints ?? []) as Obj[]) {
        // kube-proxy: an endpoint without conditions.ready counts as ready
        if (e.conditions?.ready === false) continue;
        const local = node !== undefined && e.nodeName === node;
        for (const ip of (e.addresses ?? []) as string[]) if (!list.some((x) => x.ip === ip && x.port === port.port)) list.push({ ip, port: port.port, ...(local ? { local } : {}) });
      }
      list.sort((a, b) => (a.ip === b.ip ? a.port - b.port : byNatural(a.ip, b.ip)));
      out.set(spn, list);
    }
  }
  return out;
}

export class Proxier {
  private readonly services: Informer;
  private readonly slices: Informer;
  private readonly log: (line: string) => void;
  private readonly syncer: CoalescedSync;
  private previous = { nat: [] as string[], filter: [] as string[] };
  private masqueradeAll = false;
  private lastInput?: RulesInput;
  /** what the kernel holds since the last successful sync: the base of a partial restore */
  private lastTables?: RuleTables;
  private lastFullAt = 0;
  private readonly health: ServiceHealthServers;
  private conntrackMissing = false;

  constructor(
    client: Client,
    private readonly opts: ProxierOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.health = new ServiceHealthServers(this.log);
    this.services = new Informer(client, SERVICES, { resyncPeriodMs: 0, log: this.log });
    this.slices = new Informer(client, SLICES, { resyncPeriodMs: 0, log: this.log });
    this.syncer = new CoalescedSync(() => this.syncOnce(), opts.minSyncMs ?? 50, (e) => this.log(`service proxy: sync failed: ${e.message}`));
    const kick = () => this.syncer.schedule();
    for (const i of [this.services, this.slices]) i.addEventHandler({ add: kick, update: kick, delete: kick });
  }

  async start(): Promise<void> {
    const nf = await readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').catch(() => '0');
    this.masqueradeAll = nf.trim() !== '1';
    if (this.masqueradeAll) this.log('service proxy: br_netfilter is off (bridge-nf-call-iptables), so all service traffic is masqueraded');
    await this.services.start();
    await this.slices.start();
    // the chains exist (empty) before the built-in chains jump to them
    await this.sync();
    for (const j of baseJumps(this.opts.tag)) {
      const present = await run('iptables', ['-w', '-t', j.table, '-C', j.chain, ...j.rule], { allowFailure: true });
      if (present.code !== 0) await run('iptables', ['-w', '-t', j.table, '-I', j.chain, '1', ...j.rule]);
    }
  }

  /** one full sync (changes meanwhile schedule another) */
  sync(): Promise<void> {
    return this.syncer.sync();
  }

  private async syncOnce(): Promise<void> {
    const svcObjs = this.services.cache.list();
    const input: RulesInput = {
      services: svcObjs.map(serviceInfo),
      endpoints: endpointsBySlices(this.slices.cache.list(), this.opts.nodeName),
      clusterCIDR: this.masqueradeAll ? '0.0.0.0/32' : this.opts.clusterCIDR,
      serviceCIDR: this.opts.serviceCIDR,
      tag: this.opts.tag,
    };
    const rules = buildRules(input, this.previous);
    const partial = this.lastTables !== undefined && Date.now() - this.lastFullAt < FULL_RESYNC_MS;
    const text = partial ? restoreText(rules.tables, this.lastTables!, false) : rules.text;
    // a partial sync with no changed chain has nothing to restore
    if (!partial || /^:/m.test(text)) {
      try {
        await run('iptables-restore', ['-w', '--noflush'], { input: text });
      } catch (e) {
        this.lastTables = undefined; // the next sync writes everything
        throw e;
      }
    }
    this.lastTables = rules.tables;
    if (!partial) this.lastFullAt = Date.now();
    this.previous = { nat: rules.natChains, filter: rules.filterChains };
    await this.flushConntrack(conntrackFlushes(this.lastInput, input));
    this.lastInput = input;
    await this.health.sync(healthCheckWants(svcObjs, input.endpoints));
  }

  /** UDP flows pinned to endpoints that are gone (conntrack.ts); `conntrack -D` exits 1 when none matched */
  private async flushConntrack(commands: string[][]): Promise<void> {
    if (commands.length === 0) return;
    for (const argv of commands) {
      try {
        // logged once done (with conntrack's count): a flow made after this line is not cleared
        const r = await run('conntrack', argv, { allowFailure: true });
        const deleted = /(\d+) flow entries have been deleted/.exec(r.stderr)?.[1];
        this.log(`service proxy: conntrack ${argv.join(' ')}${deleted === undefined ? '' : ` (${deleted} flow entries deleted)`}`);
      } catch (e) {
        if (!this.conntrackMissing) this.log(`service proxy: cannot clear stale UDP conntrack entries (install the conntrack package): ${(e as Error).message}`);
        this.conntrackMissing = true;
        return;
      }
    }
  }

  /** stop syncing and take every rule and chain away */
  async stop(): Promise<void> {
    this.services.stop();
    this.slices.stop();
    await this.syncer.stop();
    await this.health.stop();
    for (const j of baseJumps(this.opts.tag)) {
      await run('iptables', ['-w', '-t', j.table, '-D', j.chain, ...j.rule], { allowFailure: true });
    }
    const c = chainNames(this.opts.tag);
    let nat = [...new Set([...this.previous.nat, c.services, c.nodePorts, c.postrouting, c.markMasq])];
    // a tagged server also takes what an earlier, crashed run of it left linked to its chains
    if (this.opts.tag) nat = linkedChains((await run('iptables-save', ['-t', 'nat'], { allowFailure: true })).stdout, nat);
    const filter = [...new Set([...this.previous.filter, c.services, c.externalServices, c.forward])];
    const text = ['*nat', ...nat.map((ch) => `:${ch} - [0:0]`), ...nat.map((ch) => `-X ${ch}`), 'COMMIT', '*filter', ...filter.map((ch) => `:${ch} - [0:0]`), ...filter.map((ch) => `-X ${ch}`), 'COMMIT', ''].join('\n');
    await run('iptables-restore', ['-w', '--noflush'], { input: text, allowFailure: true });
  }
}
