/**
 * The NetworkPolicy enforcer (kube-router's network policy controller for this node), an API
 * client. Informers on NetworkPolicies, Pods and Namespaces; every change schedules one sync
 * (coalesced), and a sync is one `iptables-restore --noflush` of all of its chains
 * (src/netpolicy/rules.ts). The jumps from INPUT, FORWARD and OUTPUT go in when the first policy
 * appears, as the first rules of those chains (before the service proxy's KUBE-FORWARD, which
 * accepts masqueraded service traffic and would otherwise let it past every policy); they and
 * every chain go when the last policy goes, and at stop. A host without any policy carries none
 * of these rules.
 *
 * Pod-to-pod packets on one bridge meet iptables only with br_netfilter
 * (bridge-nf-call-iptables = 1): without it, policies cannot hold between pods of this node, and
 * the enforcer says so at start and with every sync that has a policy to enforce.
 */
import { readFile } from 'node:fs/promises';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import type { Client } from '../client/types.js';
import { Informer } from '../client/informer.js';
import { run } from '../sys/exec.js';
import { buildPolicyRules, leftoverChains, policyJumps, teardownText, topChains, type NamespaceInfo, type PodInfo, type PolicyInfo, type PolicyPeer, type PolicyRule, type Protocol } from './rules.js';

const POLICIES = resourceInfo('networkpolicies', 'networking.k8s.io', 'v1')!;
const PODS = resourceInfo('pods')!;
const NAMESPACES = resourceInfo('namespaces')!;

export interface EnforcerOptions {
  /** chain tag (src/proxy/rules.ts tagFor of the bridge) */
  tag: string;
  log?: (line: string) => void;
  /** coalescing delay of syncs, ms */
  minSyncMs?: number;
}

const protocolOf = (p: unknown): Protocol => (p === 'UDP' || p === 'SCTP' ? p : 'TCP');

/** a pod as the rules see it: no address while it has none, has ended, or shares the node's */
export function podInfo(pod: Obj): PodInfo {
  const ended = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  const ip = !ended && !pod.spec?.hostNetwork && typeof pod.status?.podIP === 'string' && pod.status.podIP ? pod.status.podIP : undefined;
  const containers = [...((pod.spec?.containers ?? []) as Obj[]), ...((pod.spec?.initContainers ?? []) as Obj[]).filter((c) => c.restartPolicy === 'Always')];
  return {
    namespace: pod.metadata.namespace,
    name: pod.metadata.name,
    labels: pod.metadata.labels ?? {},
    ip,
    ports: containers.flatMap((c) => ((c.ports ?? []) as Obj[]).map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: protocolOf(p.protocol) }))),
  };
}

function ruleOf(r: Obj, peersKey: 'from' | 'to'): PolicyRule {
  return {
    ports: ((r.ports ?? []) as Obj[]).map((p) => ({ protocol: protocolOf(p.protocol), port: p.port ?? undefined, endPort: p.endPort ?? undefined })),
    peers: ((r[peersKey] ?? []) as Obj[]).map((p): PolicyPeer => ({ podSelector: p.podSelector ?? undefined, namespaceSelector: p.namespaceSelector ?? undefined, ipBlock: p.ipBlock ?? undefined })),
  };
}

/** a stored (defaulted) NetworkPolicy as the rules see it: policyTypes say which directions it governs */
export function policyInfo(np: Obj): PolicyInfo {
  const s = np.spec ?? {};
  const types: string[] = s.policyTypes ?? ['Ingress'];
  return {
    namespace: np.metadata.namespace,
    name: np.metadata.name,
    podSelector: s.podSelector ?? {},
    ingress: types.includes('Ingress') ? ((s.ingress ?? []) as Obj[]).map((r) => ruleOf(r, 'from')) : undefined,
    egress: types.includes('Egress') ? ((s.egress ?? []) as Obj[]).map((r) => ruleOf(r, 'to')) : undefined,
  };
}

export class PolicyEnforcer {
  private readonly policies: Informer;
  private readonly pods: Informer;
  private readonly namespaces: Informer;
  private readonly log: (line: string) => void;
  private timer?: NodeJS.Timeout;
  private syncing?: Promise<void>;
  private again = false;
  private stopped = false;
  /** chains the last restore wrote (empty: nothing of ours is on the host) */
  private chains: string[] = [];
  /** the text of the last restore applied */
  private applied = '';
  private bridgeFiltered = true;

  constructor(
    client: Client,
    private readonly opts: EnforcerOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.policies = new Informer(client, POLICIES, { resyncPeriodMs: 0, log: this.log });
    this.pods = new Informer(client, PODS, { resyncPeriodMs: 0, log: this.log });
    this.namespaces = new Informer(client, NAMESPACES, { resyncPeriodMs: 0, log: this.log });
    const kick = () => this.schedule();
    for (const i of [this.policies, this.pods, this.namespaces]) i.addEventHandler({ add: kick, update: kick, delete: kick });
  }

  async start(): Promise<void> {
    const nf = await readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').catch(() => '0');
    this.bridgeFiltered = nf.trim() === '1';
    if (!this.bridgeFiltered) this.log('network policy: br_netfilter is off (net.bridge.bridge-nf-call-iptables), so NetworkPolicies cannot hold between pods on the bridge: modprobe br_netfilter');
    await this.namespaces.start();
    await this.pods.start();
    await this.policies.start();
    // what a podbay killed without its stop left behind
    this.chains = leftoverChains((await run('iptables-save', ['-t', 'filter'])).stdout, this.opts.tag);
    await this.remove();
    await this.sync();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync().catch((e) => this.log(`network policy: sync failed: ${(e as Error).message}`));
    }, this.opts.minSyncMs ?? 50);
  }

  /** one full sync; a change during it schedules another */
  async sync(): Promise<void> {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    // (the finally runs as a callback, after the assignment: a sync with nothing to await
    // would otherwise clear `syncing` before it is set, and every later sync would wait on it)
    this.syncing = this.syncOnce().finally(() => {
      this.syncing = undefined;
    });
    await this.syncing;
    if (this.again && !this.stopped) {
      this.again = false;
      this.schedule();
    }
  }

  private async syncOnce(): Promise<void> {
    const policies = this.policies.cache.list().map(policyInfo);
    if (policies.length === 0) {
      if (this.chains.length) await this.remove();
      return;
    }
    if (!this.bridgeFiltered) this.log(`network policy: ${policies.length} policies are not enforced between pods on the bridge: br_netfilter is off`);
    const namespaces: NamespaceInfo[] = this.namespaces.cache.list().map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} }));
    const rules = buildPolicyRules({ policies, pods: this.pods.cache.list().map(podInfo), namespaces, tag: this.opts.tag }, this.chains);
    const first = this.chains.length === 0;
    // most pod updates (status, conditions) change no rule: the restore is skipped then
    if (!first && rules.text === this.applied) return;
    await run('iptables-restore', ['-w', '--noflush'], { input: rules.text });
    this.chains = rules.chains;
    this.applied = rules.text;
    if (first) await this.insertJumps();
  }

  /** the jumps, each first in its built-in chain (moved there if an earlier run left one lower) */
  private async insertJumps(): Promise<void> {
    for (const j of policyJumps(this.opts.tag)) {
      while ((await run('iptables', ['-w', '-t', 'filter', '-D', j.chain, ...j.rule], { allowFailure: true })).code === 0);
      await run('iptables', ['-w', '-t', 'filter', '-I', j.chain, '1', ...j.rule]);
    }
  }

  /** jumps first, then the chains: no packet ever jumps to a chain that is gone */
  private async remove(): Promise<void> {
    for (const j of policyJumps(this.opts.tag)) {
      while ((await run('iptables', ['-w', '-t', 'filter', '-D', j.chain, ...j.rule], { allowFailure: true })).code === 0);
    }
    const top = topChains(this.opts.tag);
    const chains = [...new Set([top.forward, top.output, top.input, ...this.chains])];
    // the top chains refer to the others: flush every chain (declaring it) before deleting any
    await run('iptables-restore', ['-w', '--noflush'], { input: teardownText(chains), allowFailure: true });
    this.chains = [];
    this.applied = '';
  }

  /** stop syncing and take every rule and chain away */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const i of [this.policies, this.pods, this.namespaces]) i.stop();
    await this.syncing?.catch(() => {});
    await this.remove();
  }
}
