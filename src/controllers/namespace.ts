/**
 * The namespace controller (kube-controller-manager's namespace controller, for one node): a
 * namespace marked for deletion is emptied (every namespaced kind, pods gracefully so a node
 * can stop them) and, once nothing is left in it, its `kubernetes` finalizer is removed
 * through namespaces/NAME/finalize, which lets the API server remove it.
 *
 *   namespace informer ──(deletionTimestamp set)──> queue ──> sync(name)
 *     sync: delete the contents; something left -> look again soon (addAfter, growing to 1 s);
 *           empty -> PUT finalize; an error -> rate-limited retry (5 ms doubling to 60 s)
 *
 * Every kind in src/api/registry.ts that is namespaced is emptied: a new kind needs nothing here;
 * so is every namespaced kind an established CustomResourceDefinition serves.
 */
import { ApiError } from '../api/errors.js';
import { RESOURCES, resourceInfo, type ResourceInfo } from '../api/registry.js';
import { CRDS, storedKindOf } from '../api/crd/crd-kind.js';
import type { Namespace } from 'kubernetes-types/core/v1.js';
import type { Client } from '../client/types.js';
import { Informer } from '../client/informer.js';
import { runWorkers, WorkQueue } from './workqueue.js';

const NAMESPACES = resourceInfo('namespaces')!;
/** the finalizer the namespace controller owns (FinalizerKubernetes) */
const FINALIZER = 'kubernetes';
/** how long to wait before looking at a namespace whose contents are still going */
const CONTENT_POLL_MS = (round: number) => Math.min(1000, 50 * (round + 1));

export interface NamespaceControllerOptions {
  workers?: number;
  log?: (line: string) => void;
  /** resync of the namespace informer (default 5 min, as the controller's) */
  resyncPeriodMs?: number;
}

export class NamespaceController {
  private readonly informer: Informer<Namespace>;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  /** rounds a namespace has waited for its contents, for the poll delay */
  private readonly rounds = new Map<string, number>();
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly opts: NamespaceControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.informer = new Informer<Namespace>(client, NAMESPACES, { resyncPeriodMs: opts.resyncPeriodMs ?? 300_000, log: this.log });
    const enqueue = (ns: Namespace) => {
      if (ns.metadata?.deletionTimestamp && ns.metadata.name) this.queue.add(ns.metadata.name);
    };
    this.informer.addEventHandler({ add: enqueue, update: (_old, ns) => enqueue(ns) });
  }

  async start(): Promise<void> {
    await this.informer.start();
    this.running = runWorkers(this.queue, this.opts.workers ?? 2, (name) => this.sync(name), (l) => this.log(`namespace controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.informer.stop();
    this.queue.shutDown();
    await this.running;
  }

  private async sync(name: string): Promise<void> {
    const namespaces = this.client.resource<Namespace>(NAMESPACES);
    const ns = await namespaces.tryGet(undefined, name);
    if (!ns?.metadata?.deletionTimestamp) {
      this.rounds.delete(name);
      return;
    }
    if (!(ns.spec?.finalizers ?? []).includes(FINALIZER)) return;
    if (await this.deleteContents(name)) {
      const round = this.rounds.get(name) ?? 0;
      this.rounds.set(name, round + 1);
      this.queue.addAfter(name, CONTENT_POLL_MS(round));
      return;
    }
    this.rounds.delete(name);
    const finalizers = (ns.spec?.finalizers ?? []).filter((f) => f !== FINALIZER);
    await namespaces.update({ ...ns, spec: { ...ns.spec, finalizers } }, { sub: 'finalize' });
  }

  /** delete what is in the namespace; true while anything is left */
  private async deleteContents(ns: string): Promise<boolean> {
    let left = 0;
    // the built-in kinds, and the namespaced kinds CRDs serve (found as discovery would)
    const crds = (await this.client.resource(CRDS).list(undefined)).items;
    const custom = crds.map(storedKindOf).filter((r): r is ResourceInfo => r !== undefined);
    for (const r of [...RESOURCES, ...custom]) {
      if (!r.namespaced) continue;
      const res = this.client.resource(r);
      for (const item of (await res.list(ns)).items) {
        left++;
        // a pod is deleted again (a shorter grace may apply); others just wait for their finalizers
        if (item.metadata.deletionTimestamp && r.kind !== 'Pod') continue;
        try {
          await res.delete(ns, item.metadata.name, {});
        } catch (e) {
          if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
        }
      }
    }
    return left > 0;
  }
}
