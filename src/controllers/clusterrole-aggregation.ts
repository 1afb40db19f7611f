/**
 * The clusterrole-aggregation controller (kube-controller-manager's): a ClusterRole with an
 * aggregationRule gets, as its rules, the rules of every other ClusterRole its selectors pick,
 * in name order, without repeats; kept so as those change. `view` flows into `edit` into
 * `admin` this way (bootstrap-policy's labels), one update at a time.
 *
 *   clusterrole informer ──(any change)──> queue("all") ──> sync: recompute each aggregated role
 */
import { resourceInfo } from '../api/registry.js';
import { selectorMatches } from '../api/rbac.js';
import type { Client, Obj } from '../client/types.js';
import { Informer } from '../client/informer.js';
import { runWorkers, WorkQueue } from './workqueue.js';

const CLUSTERROLES = resourceInfo('clusterroles', 'rbac.authorization.k8s.io')!;
const ALL = 'all';

/** the rules an aggregated role should hold, from the roles there are */
export function aggregatedRules(role: Obj, roles: Obj[]): Obj[] {
  const selectors: Obj[] = role.aggregationRule?.clusterRoleSelectors ?? [];
  const seen = new Set<string>();
  const out: Obj[] = [];
  const sorted = [...roles].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  for (const other of sorted) {
    if (other.metadata.name === role.metadata.name) continue;
    if (!selectors.some((s) => selectorMatches(s, other.metadata.labels ?? {}))) continue;
    for (const rule of other.rules ?? []) {
      const k = JSON.stringify(rule);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(rule);
    }
  }
  return out;
}

export class ClusterRoleAggregationController {
  private readonly informer: Informer;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 30_000 });
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    opts: { log?: (line: string) => void } = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.informer = new Informer(client, CLUSTERROLES, { log: this.log });
    const poke = () => this.queue.add(ALL);
    this.informer.addEventHandler({ add: poke, update: poke, delete: poke });
  }

  async start(): Promise<void> {
    await this.informer.start();
    this.running = runWorkers(this.queue, 1, () => this.sync(), (l) => this.log(`clusterrole aggregation: ${l}`));
  }

  async stop(): Promise<void> {
    this.informer.stop();
    this.queue.shutDown();
    await this.running;
  }

  private async sync(): Promise<void> {
    const roles = this.informer.cache.list();
    for (const role of roles) {
      if (!role.aggregationRule) continue;
      const rules = aggregatedRules(role, roles);
      if (JSON.stringify(rules) === JSON.stringify(role.rules ?? [])) continue;
      await this.client.resource(CLUSTERROLES).update({ ...role, rules });
    }
  }
}
