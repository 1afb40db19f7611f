/**
 * The DaemonSet controller (kube-controller-manager's daemon controller): one pod per node that
 * should run it — the node matches the template's nodeSelector and required node affinity, and
 * the pod tolerates the node's NoSchedule/NoExecute taints (with the tolerations kube adds to
 * every daemon pod). A pod already on a node that has since been tainted NoSchedule keeps
 * running (kube's shouldContinueRunning); only an untolerated NoExecute taint removes it. Each
 * pod is made with spec.nodeName set to its node (kube pins it with node affinity for the
 * scheduler instead; on podbay's one node a name does the same), and labelled with its
 * template's hash (controller-revision-hash) and generation.
 *
 *   daemonset informer ─────────┐
 *   pod informer (by controller) ┼─> queue ──> sync(namespace/name)
 *   node informer (every set) ───┘
 *     sync: per node: missing -> create; Failed -> delete; extra or on a node that should not keep it -> delete
 *           RollingUpdate: old-template pods deleted while fewer than maxUnavailable are unavailable
 *           status: desired/current/misscheduled/ready/updated/available/unavailable
 *
 * podbay runs one node; the controller does not assume it. Templates are kept as
 * ControllerRevisions (revisions.ts) for `kubectl rollout history`, pruned past
 * revisionHistoryLimit.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { nodeSelectorTermsMatch } from '../api/node-selector.js';
import { tolerated } from '../api/taints.js';
import { EventRecorder } from '../client/events.js';
import { Informer, objectKey } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { Expectations } from './expectations.js';
import { controllerKey, controllerRef, controllerUid } from './owner.js';
import { ensureRevision, pruneRevisions, REVISION_LABEL, REVISIONS } from './revisions.js';
import { runWorkers, WorkQueue } from './workqueue.js';
import { byString } from '../api/order.js';

const DAEMONSETS = resourceInfo('daemonsets', 'apps')!;
const PODS = resourceInfo('pods')!;
const NODES = resourceInfo('nodes')!;
const BY_OWNER = 'daemonset-uid';
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

/** the tolerations kube's daemon controller adds to every daemon pod (util.AddOrUpdateDaemonPodTolerations) */
export function daemonTolerations(hostNetwork: boolean): Obj[] {
  const t = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
  ];
  if (hostNetwork) t.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  return t;
}

/**
 * the template's tolerations with the daemon ones added as kube adds them (v1helper
 * AddOrUpdateTolerationInPodSpec): a toleration with the same key, operator, value and effect is
 * replaced by the daemon one (so a tolerationSeconds on it is dropped: daemon pods stay), any
 * other is kept, and a daemon toleration nothing matched is appended
 */
export function withDaemonTolerations(podSpec: Obj): Obj[] {
  let out: Obj[] = [...(podSpec.tolerations ?? [])];
  const same = (a: Obj, b: Obj) => (a.key ?? '') === (b.key ?? '') && (a.effect ?? '') === (b.effect ?? '') && (a.operator ?? '') === (b.operator ?? '') && (a.value ?? '') === (b.value ?? '');
  for (const d of daemonTolerations(!!podSpec.hostNetwork)) {
    if (out.some((t) => same(t, d))) out = out.map((t) => (same(t, d) ? { ...d } : t));
    else out.push({ ...d });
  }
  return out;
}

/**
 * kube's NodeShouldRunDaemonPod for the daemon pod of `podSpec` on `node`: `run` when a pod
 * should be made there, `keep` when a pod already there should go on running, and why not run.
 * A node that does not match the template's nodeName, nodeSelector or required node affinity
 * neither runs nor keeps it; an untolerated NoSchedule taint stops new pods only (a pod already
 * there keeps running); an untolerated NoExecute taint stops both.
 */
export function daemonFit(podSpec: Obj, node: Obj): { run: boolean; keep: boolean; reason?: string } {
  const name = node.metadata?.name;
  if (podSpec.nodeName && podSpec.nodeName !== name) return { run: false, keep: false, reason: "node(s) didn't match the requested node name" };
  const labels: Record<string, string> = node.metadata?.labels ?? {};
  const unmatched = { run: false, keep: false, reason: "node(s) didn't match Pod's node affinity/selector" };
  for (const [k, v] of Object.entries(podSpec.nodeSelector ?? {})) if (labels[k] !== v) return unmatched;
  const terms: Obj[] = podSpec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  if (terms.length && !nodeSelectorTermsMatch(terms, node)) return unmatched;
  const tolerations = withDaemonTolerations(podSpec);
  const taints: Obj[] = node.spec?.taints ?? [];
  const untolerated = (effects: string[]) => taints.find((t) => effects.includes(t.effect) && !tolerated(tolerations, t));
  const stop = untolerated(['NoSchedule', 'NoExecute']);
  if (!stop) return { run: true, keep: true };
  return { run: false, keep: !untolerated(['NoExecute']), reason: `node(s) had untolerated taint {${stop.key}: ${stop.value ?? ''}}` };
}

/** the daemon pod for `node` */
export function podForDaemon(ds: Obj, node: string, hash: string): Obj {
  const t = structuredClone(ds.spec?.template ?? {});
  const spec = t.spec ?? {};
  // pinned to its node by name (kube pins it by required node affinity on metadata.name for the
  // scheduler; with one node, the name is simpler and skips the scheduler)
  spec.nodeName = node;
  spec.tolerations = withDaemonTolerations(spec);
  return {
    metadata: {
      generateName: `${ds.metadata.name}-`,
      namespace: ds.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), [REVISION_LABEL]: hash, [TEMPLATE_GENERATION_LABEL]: String(ds.metadata.generation ?? 1) },
      ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
      ownerReferences: [controllerRef(ds, 'apps/v1', 'DaemonSet')],
    },
    spec,
  };
}

/** the node a daemon pod is for */
function podNode(p: Obj): string | undefined {
  return p.spec?.nodeName;
}

const isReady = (p: Obj) => p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
const isFinished = (p: Obj) => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';

/** maxUnavailable as a count of `desired` (an int, or a percentage rounded up, as kube rounds it here) */
function maxUnavailable(v: unknown, desired: number): number {
  if (typeof v === 'string' && v.endsWith('%')) return Math.max(1, Math.ceil((Number(v.slice(0, -1)) / 100) * desired));
  return Math.max(1, Number(v ?? 1));
}

export class DaemonSetController {
  private readonly sets: Informer<Obj>;
  private readonly pods: Informer<Obj>;
  private readonly nodes: Informer<Obj>;
  private readonly revisions: Informer<Obj>;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  private readonly expectations = new Expectations();
  private readonly events: EventRecorder;
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly opts: { workers?: number; log?: (line: string) => void } = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.events = new EventRecorder(client, 'daemonset-controller', '', this.log);
    this.sets = new Informer<Obj>(client, DAEMONSETS, { log: this.log });
    this.pods = new Informer<Obj>(client, PODS, {
      log: this.log,
      indexers: {
        [BY_OWNER]: (p) => {
          const uid = controllerUid(p, 'DaemonSet');
          return uid ? [uid] : [];
        },
      },
    });
    this.nodes = new Informer<Obj>(client, NODES, { log: this.log });
    this.revisions = new Informer<Obj>(client, REVISIONS, {
      log: this.log,
      indexers: {
        [BY_OWNER]: (r) => {
          const uid = controllerUid(r, 'DaemonSet');
          return uid ? [uid] : [];
        },
      },
    });
    const enqueue = (ds: Obj) => this.queue.add(objectKey(ds));
    this.sets.addEventHandler({ add: enqueue, update: (_o, ds) => enqueue(ds) });
    const podEvent = (p: Obj, deleted = false) => {
      const key = controllerKey(p, 'DaemonSet');
      if (!key) return;
      this.expectations.observePod(key, p.metadata.uid, deleted, !!p.metadata.deletionTimestamp);
      this.queue.add(key);
    };
    this.pods.addEventHandler({ add: (p) => podEvent(p), update: (_o, p) => podEvent(p), delete: (p) => podEvent(p, true) });
    // a node that comes, goes or changes its labels or taints: every set looks again
    const allSets = () => {
      for (const ds of this.sets.cache.list()) enqueue(ds);
    };
    this.nodes.addEventHandler({
      add: allSets,
      update: (o, n) => {
        if (JSON.stringify([o.metadata?.labels, o.spec?.taints]) !== JSON.stringify([n.metadata?.labels, n.spec?.taints])) allSets();
      },
      delete: allSets,
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.sets.start(), this.pods.start(), this.nodes.start(), this.revisions.start()]);
    this.running = runWorkers(this.queue, this.opts.workers ?? 2, (key) => this.sync(key), (l) => this.log(`daemonset controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.sets.stop();
    this.pods.stop();
    this.nodes.stop();
    this.revisions.stop();
    this.queue.shutDown();
    await this.running;
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const ds = await this.client.resource(DAEMONSETS).tryGet(ns, name);
    if (!ds || ds.metadata.deletionTimestamp) {
      this.expectations.forget(key);
      return;
    }
    const revisions = this.revisions.cache.byIndex(BY_OWNER, ds.metadata.uid);
    const revision = await ensureRevision(this.client, ds, 'DaemonSet', revisions);
    const hash = revision.metadata.labels[REVISION_LABEL] as string;
    const pods = this.pods.cache.byIndex(BY_OWNER, ds.metadata.uid).filter((p) => !p.metadata.deletionTimestamp);
    const nodes = this.nodes.cache.list();
    const byNode = new Map<string, Obj[]>();
    for (const p of pods) {
      const n = podNode(p) ?? '';
      byNode.set(n, [...(byNode.get(n) ?? []), p]);
    }
    const podSpec = ds.spec?.template?.spec ?? {};
    const fits = new Map(nodes.map((n) => [n.metadata.name as string, daemonFit(podSpec, n)]));
    // nodes that should run the pod, and nodes whose pod goes on (these, and those tainted NoSchedule since)
    const should = new Set([...fits].filter(([, f]) => f.run).map(([n]) => n));
    const keep = new Set([...fits].filter(([, f]) => f.keep).map(([n]) => n));

    if (this.expectations.satisfied(key)) {
      const create: string[] = [];
      const remove: Obj[] = [];
      for (const n of keep) {
        const mine = byNode.get(n) ?? [];
        const failed = mine.filter(isFinished);
        const live = mine.filter((p) => !isFinished(p));
        remove.push(...failed);
        if (live.length === 0 && should.has(n)) create.push(n);
        // more than one: keep the oldest (kube keeps the oldest running one)
        remove.push(...live.sort((a, b) => byString(String(a.metadata.creationTimestamp), String(b.metadata.creationTimestamp))).slice(1));
      }
      for (const [n, mine] of byNode) if (!keep.has(n)) remove.push(...mine);
      // rolling update: old pods go while no more than maxUnavailable are unavailable (a kept pod
      // on a node that takes no new ones is replaced by none, as in kube)
      if ((ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
        const budget = maxUnavailable(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, should.size);
        const counted = [...keep].filter((n) => should.has(n) || byNode.has(n));
        let unavailable = counted.filter((n) => !(byNode.get(n) ?? []).some(isReady)).length;
        const old = counted.flatMap((n) => byNode.get(n) ?? []).filter((p) => p.metadata.labels?.[REVISION_LABEL] !== hash && !remove.includes(p));
        // not-ready old pods first: replacing them costs no availability
        for (const p of old.sort((a, b) => Number(isReady(a)) - Number(isReady(b)))) {
          if (!isReady(p)) remove.push(p);
          else if (unavailable < budget) {
            remove.push(p);
            unavailable++;
          }
        }
      }
      await this.deletePods(key, ds, remove);
      // a node whose old pod is going gets its new one once the old one is gone
      const creatable = create.filter((n) => !remove.some((p) => podNode(p) === n));
      this.expectations.expectCreations(key, creatable.length);
      for (const n of creatable) {
        try {
          const made = await this.client.resource(PODS).create(ns, podForDaemon(ds, n, hash));
          this.events.record(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`);
        } catch (e) {
          this.expectations.observedCreate(key);
          this.events.record(ds, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
          throw e;
        }
      }
    }

    const on = (n: string) => (byNode.get(n) ?? []).filter((p) => !isFinished(p));
    const status: Obj = {
      ...(ds.status ?? {}),
      desiredNumberScheduled: should.size,
      currentNumberScheduled: [...should].filter((n) => on(n).length > 0).length,
      numberMisscheduled: [...byNode.keys()].filter((n) => !should.has(n) && on(n).length > 0).length,
      numberReady: [...should].filter((n) => on(n).some(isReady)).length,
      updatedNumberScheduled: [...should].filter((n) => on(n).some((p) => p.metadata.labels?.[REVISION_LABEL] === hash)).length,
      observedGeneration: ds.metadata.generation,
    };
    status.numberAvailable = status.numberReady;
    status.numberUnavailable = status.desiredNumberScheduled - status.numberAvailable;
    if (JSON.stringify(status) !== JSON.stringify(ds.status ?? {})) await this.client.resource(DAEMONSETS).update({ ...ds, status }, { sub: 'status' });
    const used = new Set([revision.metadata.name, ...pods.map((p) => `${name}-${p.metadata.labels?.[REVISION_LABEL]}`)]);
    await pruneRevisions(this.client, ds, revisions, used);
  }

  private async deletePods(key: string, ds: Obj, pods: Obj[]): Promise<void> {
    for (const p of pods) {
      this.expectations.expectDelete(key, p.metadata.uid);
      try {
        await this.client.resource(PODS).delete(p.metadata.namespace, p.metadata.name, { preconditions: { uid: p.metadata.uid } });
        this.events.record(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
      } catch (e) {
        this.expectations.observedDelete(key, p.metadata.uid);
        if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict'))) throw e;
      }
    }
  }
}
