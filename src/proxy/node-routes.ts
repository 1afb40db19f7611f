/**
 * The pod network between nodes, as flannel's host-gw backend makes it: each node (the server's
 * and every agent's) watches the Nodes and routes every other node's spec.podCIDR via that
 * node's InternalIP,
 *
 *   ip route replace 10.42.2.0/24 via 192.168.1.12 proto 211
 *
 * so a pod's packet to a pod of another node leaves through this host's link and arrives on
 * that node, whose bridge delivers it. The CNI bridge per node is unchanged; pod-to-pod traffic
 * keeps its source (pod-masquerade.ts leaves the cluster CIDR alone).
 *
 * Only ranges inside --cluster-cidr are routed: a Node whose podCIDR lies outside it (the
 * hosts' LAN, a default route) is refused, so no Node object can take a host's own traffic.
 *
 * host-gw needs the nodes on one link (the next hop must be on a directly connected subnet). A
 * node that is not gets no route: the log and a Warning event FailedToCreateRoute on that Node
 * say so. The VXLAN backend (the kernel's vxlan device, for nodes without a shared link) is not
 * built yet.
 *
 * Routes carry protocol 211 (podbay's mark, as bird or zebra mark theirs), so what a crashed run
 * left is found: at start, a marked route inside the cluster CIDR that no Node wants is removed.
 * A route is removed when its Node is deleted or loses its address, and all of them at stop.
 */
import os from 'node:os';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import { cidrContains } from '../api/cidr.js';
import { EventRecorder } from '../client/events.js';
import { Informer } from '../client/informer.js';
import type { Client } from '../client/types.js';
import { CoalescedSync } from '../sys/coalesced-sync.js';
import { run } from '../sys/exec.js';

const NODES = resourceInfo('nodes')!;
/** the rtnetlink protocol podbay's routes carry (below 256, clear of iproute2's named ones) */
export const ROUTE_PROTO = '211';

export interface Route {
  cidr: string;
  via: string;
  node: string;
}

export interface Refusal {
  node: string;
  cidr: string;
  ip?: string;
  why: string;
}

/** this host's IPv4 subnets (address/prefix), where a next hop can be */
export function localSubnets(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfoIPv4 => !!a && a.family === 'IPv4' && !a.internal)
    .map((a) => a.cidr!)
    .filter(Boolean);
}

/** whether `inner` (a.b.c.d/n) lies within `outer` */
function insideCidr(inner: string, outer: string): boolean {
  const [base, bits] = inner.split('/');
  return /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(inner) && Number(bits) >= Number(outer.split('/')[1]) && cidrContains(outer, base!);
}

const internalIP = (node: Obj): string | undefined => ((node.status?.addresses ?? []) as Obj[]).find((a) => a.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address))?.address;

/**
 * The routes this node wants (every other node's podCIDR via its InternalIP, when that address
 * is on one of `subnets`), and the nodes it cannot route to, with why.
 */
export function routePlan(self: { name: string; podCidr: string; clusterCidr: string }, nodes: readonly Obj[], subnets: readonly string[]): { routes: Route[]; refused: Refusal[] } {
  const routes: Route[] = [];
  const refused: Refusal[] = [];
  for (const node of [...nodes].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    const name = node.metadata.name;
    const cidr: string | undefined = node.spec?.podCIDR;
    if (name === self.name || !cidr || node.metadata.deletionTimestamp) continue;
    if (cidr.includes(':')) continue; // IPv4 only, as podbay's pod network
    // a Node is only data: a range outside the pod network (0.0.0.0/0, the hosts' own LAN) would
    // take this host's traffic away from where it goes
    if (!insideCidr(cidr, self.clusterCidr)) {
      refused.push({ node: name, cidr, why: `its podCIDR is not inside the cluster CIDR ${self.clusterCidr}` });
      continue;
    }
    if (cidr === self.podCidr) {
      refused.push({ node: name, cidr, why: `its podCIDR is this node's own` });
      continue;
    }
    const ip = internalIP(node);
    if (!ip) {
      refused.push({ node: name, cidr, why: 'it has no InternalIP address yet' });
      continue;
    }
    if (!subnets.some((s) => cidrContains(s, ip))) {
      refused.push({ node: name, cidr, ip, why: `its InternalIP ${ip} is not on a link this node shares (host-gw routes only between nodes on one subnet; VXLAN is not built yet)` });
      continue;
    }
    routes.push({ cidr, via: ip, node: name });
  }
  return { routes, refused };
}

export interface NodeRoutesOptions {
  /** this node's name and podCIDR */
  nodeName: string;
  podCidr: string;
  /** the cluster's pod network: only marked routes inside it are this node's to clean up */
  clusterCidr: string;
  log: (line: string) => void;
  /** the host's subnets (tests) */
  subnets?: () => string[];
}

/** The host-gw routes of one node, kept in step with the Nodes. */
export class NodeRoutes {
  private readonly nodes: Informer<Obj>;
  private readonly installed = new Map<string, Route>();
  private readonly reported = new Map<string, string>();
  private readonly events: EventRecorder;
  private readonly syncer: CoalescedSync;

  constructor(
    client: Client,
    private readonly o: NodeRoutesOptions,
  ) {
    this.nodes = new Informer<Obj>(client, NODES, { log: o.log });
    this.events = new EventRecorder(client, 'podbay-node-routes', o.nodeName, o.log);
    this.syncer = new CoalescedSync(() => this.sync(), 100, (e) => o.log(`node routes: ${e.message}`));
    const kick = () => this.syncer.schedule();
    this.nodes.addEventHandler({ add: kick, update: kick, delete: kick });
  }

  async start(): Promise<void> {
    await this.nodes.start();
    await this.sync();
    await this.removeLeftovers();
  }

  /** the routes as they are now (tests, diagnostics) */
  routes(): Route[] {
    return [...this.installed.values()];
  }

  private async sync(): Promise<void> {
    const { routes, refused } = routePlan({ name: this.o.nodeName, podCidr: this.o.podCidr, clusterCidr: this.o.clusterCidr }, this.nodes.cache.list(), (this.o.subnets ?? localSubnets)());
    const wanted = new Map(routes.map((r) => [r.cidr, r]));
    for (const [cidr, r] of this.installed) {
      if (wanted.get(cidr)?.via === r.via) continue;
      await this.remove(r);
    }
    for (const r of routes) {
      if (this.installed.get(r.cidr)?.via === r.via) continue;
      try {
        await run('ip', ['route', 'replace', r.cidr, 'via', r.via, 'proto', ROUTE_PROTO]);
        this.installed.set(r.cidr, r);
        this.reported.delete(r.node);
        this.o.log(`node routes: pods of node ${r.node} (${r.cidr}) via ${r.via}`);
      } catch (e) {
        this.refuse({ node: r.node, cidr: r.cidr, ip: r.via, why: (e as Error).message });
      }
    }
    for (const x of refused) this.refuse(x);
  }

  private refuse(x: Refusal): void {
    const message = `Could not create route to ${x.cidr} (node ${x.node}) from node ${this.o.nodeName}: ${x.why}`;
    if (this.reported.get(x.node) === message) return;
    this.reported.set(x.node, message);
    this.o.log(`node routes: ${message}`);
    const node = this.nodes.cache.getByName(undefined, x.node);
    if (node) this.events.record({ apiVersion: 'v1', kind: 'Node', ...node }, 'Warning', 'FailedToCreateRoute', message);
  }

  private async remove(r: Route): Promise<void> {
    // gone already (the link went down with its node) is done
    await run('ip', ['route', 'del', r.cidr, 'via', r.via, 'proto', ROUTE_PROTO], { allowFailure: true });
    this.installed.delete(r.cidr);
    this.o.log(`node routes: route to ${r.cidr} via ${r.via} removed`);
  }

  /** marked routes inside the cluster CIDR no node wants: a crashed run's */
  private async removeLeftovers(): Promise<void> {
    const out = await run('ip', ['-j', 'route', 'show', 'proto', ROUTE_PROTO], { allowFailure: true });
    let rows: Obj[] = [];
    try {
      rows = JSON.parse(out.stdout || '[]');
    } catch {
      return;
    }
    for (const row of rows) {
      const cidr = String(row.dst ?? '');
      const base = cidr.split('/')[0] ?? '';
      if (!cidr.includes('/') || !cidrContains(this.o.clusterCidr, base) || this.installed.has(cidr)) continue;
      await run('ip', ['route', 'del', cidr, 'proto', ROUTE_PROTO], { allowFailure: true });
      this.o.log(`node routes: removed ${cidr} via ${row.gateway ?? '?'} left by an earlier run`);
    }
  }

  /** every route this node made goes */
  async stop(): Promise<void> {
    this.nodes.stop();
    await this.syncer.stop();
    for (const r of [...this.installed.values()]) await this.remove(r);
  }
}
