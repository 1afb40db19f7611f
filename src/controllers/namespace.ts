/**
 * The namespace controller (kube-controller-manager's namespace controller, for one node): a
 * namespace marked for deletion is emptied (every namespaced kind, pods gracefully so a node
 * can stop them) and, once nothing is left in it, its `kubernetes` finalizer is removed
 * through namespaces/NAME/finalize, which lets the API server remove it.
 *
 *   namespace informer ──(deletionTimestamp set)──> queue ──> sync(name)
 *     sync: delete the contents, count what is left; write the deleter's status conditions
 *           when they change (NamespaceContentRemaining "Some resources are remaining:
 *           configmaps. has 1 resource instances", NamespaceFinalizersRemaining, ... False when
 *           all is well); something left -> look again soon (addAfter, growing to 1 s);
 *           empty -> PUT finalize; an error -> rate-limited retry (5 ms doubling to 60 s)
 *
 * Every kind in src/api/registry.ts that is namespaced is emptied: a new kind needs nothing here;
 * so is every namespaced kind an established CustomResourceDefinition serves.
 */
import { ApiError } from '../api/errors.js';
import { RESOURCES, resourceInfo, type ResourceInfo } from '../api/registry.js';
import { CRDS, storedKindOf } from '../api/crd/crd-kind.js';
import type { Namespace, NamespaceCondition, NamespaceStatus } from 'kubernetes-types/core/v1.js';
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
    let ns = await namespaces.tryGet(undefined, name);
    if (!ns?.metadata?.deletionTimestamp) {
      this.rounds.delete(name);
      return;
    }
    if (!(ns.spec?.finalizers ?? []).includes(FINALIZER)) return;
    const content = await this.deleteContents(name);
    // the conditions say what holds the namespace (kube's namespaceConditionUpdater); written when they change
    const status: NamespaceStatus = { ...(ns.status ?? {}) };
    if (updateConditions(status, deletionConditions(content), new Date().toISOString().replace(/\.\d+Z$/, 'Z'))) {
      try {
        ns = await namespaces.update({ ...ns, status }, { sub: 'status' });
      } catch (e) {
        this.log(`namespace controller: couldn't update status condition for namespace "${name}": ${e instanceof Error ? e.message : String(e)}`);
        ns = (await namespaces.tryGet(undefined, name)) ?? ns;
      }
    }
    if (content.errors.length) throw new Error(`namespace ${name}: ${content.errors.join(', ')}`);
    if (content.remaining.size > 0) {
      const round = this.rounds.get(name) ?? 0;
      this.rounds.set(name, round + 1);
      this.queue.addAfter(name, CONTENT_POLL_MS(round));
      return;
    }
    this.rounds.delete(name);
    const finalizers = (ns.spec?.finalizers ?? []).filter((f) => f !== FINALIZER);
    await namespaces.update({ ...ns, spec: { ...ns.spec, finalizers } }, { sub: 'finalize' });
  }

  /** delete what is in the namespace, then count what is left of each kind and under which finalizers */
  private async deleteContents(ns: string): Promise<Contents> {
    const out: Contents = { remaining: new Map(), finalizers: new Map(), errors: [] };
    // the built-in kinds, and the namespaced kinds CRDs serve (found as discovery would)
    const crds = (await this.client.resource(CRDS).list(undefined)).items;
    const custom = crds.map(storedKindOf).filter((r): r is ResourceInfo => r !== undefined);
    for (const r of [...RESOURCES, ...custom]) {
      if (!r.namespaced) continue;
      const res = this.client.resource(r);
      try {
        const items = (await res.list(ns)).items;
        if (items.length === 0) continue;
        for (const item of items) {
          // a pod is deleted again (a shorter grace may apply); others just wait for their finalizers
          if (item.metadata.deletionTimestamp && r.kind !== 'Pod') continue;
          try {
            await res.delete(ns, item.metadata.name, {});
          } catch (e) {
            if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
          }
        }
        const left = (await res.list(ns)).items;
        if (left.length === 0) continue;
        out.remaining.set(`${r.resource}.${r.group}`, left.length);
        let held = 0;
        for (const item of left) {
          for (const f of item.metadata.finalizers ?? []) {
            out.finalizers.set(f, (out.finalizers.get(f) ?? 0) + 1);
            held++;
          }
        }
        // pods wait out their grace period (upstream's estimate); anything else left without a finalizer is unexpected
        if (held === 0 && r.kind !== 'Pod') out.errors.push(`unexpected items still remain in namespace: ${ns} for gvr: ${r.group}/${r.version}, Resource=${r.resource}`);
      } catch (e) {
        out.errors.push(e instanceof Error ? e.message : String(e));
      }
    }
    return out;
  }
}

/** what deleteContents found: instances left per "resource.group", per finalizer, and the errors */
export interface Contents {
  remaining: Map<string, number>;
  finalizers: Map<string, number>;
  errors: string[];
}

/** the condition types the namespace deleter keeps, in its order, with their reason and message when all is well */
const CONDITIONS_OK: [type: string, reason: string, message: string][] = [
  ['NamespaceDeletionDiscoveryFailure', 'ResourcesDiscovered', 'All resources successfully discovered'],
  ['NamespaceDeletionGroupVersionParsingFailure', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'],
  ['NamespaceDeletionContentFailure', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'],
  ['NamespaceContentRemaining', 'ContentRemoved', 'All content successfully removed'],
  ['NamespaceFinalizersRemaining', 'ContentHasNoFinalizers', 'All content-preserving finalizers finished'],
];

/** the conditions a pass over the contents reports (kube's ProcessContentTotals and makeDeleteContentCondition) */
export function deletionConditions(c: Contents): NamespaceCondition[] {
  const conditions: NamespaceCondition[] = [];
  if (c.errors.length) {
    const msgs = [...c.errors].sort();
    conditions.push({ type: 'NamespaceDeletionContentFailure', status: 'True', reason: 'ContentDeletionFailed', message: `Failed to delete all resource types, ${msgs.length} remaining: ${msgs.join(', ')}` });
  }
  const remaining = [...c.remaining].filter(([, n]) => n > 0).map(([gr, n]) => `${gr} has ${n} resource instances`).sort();
  if (remaining.length) conditions.push({ type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${remaining.join(', ')}` });
  const byFinalizer = [...c.finalizers].filter(([, n]) => n > 0).map(([f, n]) => `${f} in ${n} resource instances`).sort();
  if (byFinalizer.length) {
    conditions.push({ type: 'NamespaceFinalizersRemaining', status: 'True', reason: 'SomeFinalizersRemain', message: `Some content in the namespace has finalizers remaining: ${byFinalizer.join(', ')}` });
  }
  return conditions;
}

/**
 * kube's updateConditions: each kept type takes the new condition or its "ok" (False) variant;
 * lastTransitionTime moves only when the status flips. True when anything changed.
 */
export function updateConditions(status: NamespaceStatus, found: NamespaceCondition[], now: string): boolean {
  let changed = false;
  const conditions: NamespaceCondition[] = (status.conditions ?? []).map((c) => ({ ...c }));
  for (const [type, reason, message] of CONDITIONS_OK) {
    const next = found.find((c) => c.type === type) ?? { type, status: 'False', reason, message };
    const old = conditions.find((c) => c.type === type);
    if (!old) {
      conditions.push({ type, status: next.status, lastTransitionTime: now, reason: next.reason, message: next.message });
      changed = true;
    } else if (old.status !== next.status || old.reason !== next.reason || old.message !== next.message) {
      if (old.status !== next.status) old.lastTransitionTime = now;
      Object.assign(old, { status: next.status, reason: next.reason, message: next.message });
      changed = true;
    }
  }
  if (changed) status.conditions = conditions;
  return changed;
}
