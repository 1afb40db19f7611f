/**
 * The garbage collector (kube's pkg/controller/garbagecollector): objects whose owners are gone
 * are deleted, across every kind in src/api/registry.ts (events excepted, as kube's) and every
 * kind an established CustomResourceDefinition serves.
 *
 *   one informer per kind ──> graph (uid -> object, owner uid -> dependents)
 *     ├ an object whose owner is not in the graph, or waits for its dependents ──> attemptToDelete
 *     ├ an object removed ──> its dependents ──> attemptToDelete
 *     ├ deletionTimestamp + "orphan" finalizer ──> attemptToOrphan
 *     └ deletionTimestamp + "foregroundDeletion" ──> it and its dependents ──> attemptToDelete
 *
 *   attemptToDelete(item): read it and each owner fresh from the API (the graph only says where
 *     to look). Some owner still there (solid): drop the references to the gone ones, keep it.
 *     Every owner gone (dangling) or waiting in foreground: delete it (in foreground when it has
 *     dependents and an owner waits, so they go first). An item itself in foreground deletion
 *     whose blocking dependents (blockOwnerDeletion) are all gone loses its finalizer.
 *   attemptToOrphan(owner): remove the owner from its dependents' ownerReferences, then its
 *     "orphan" finalizer.
 *
 * The API side (src/registry/generic.ts) turns a DELETE's propagationPolicy into those
 * finalizers; Background sets none: the owner goes at once and its dependents follow here.
 */
import { ApiError } from '../api/errors.js';
import { RESOURCES, type ResourceInfo } from '../api/registry.js';
import { CRDS, storedKindOf } from '../api/crd/crd-kind.js';
import type { Client, Obj } from '../client/types.js';
import type { SharedInformers } from './informers.js';
import { setOwnerReferences, type OwnerReference } from './pod-control.js';
import { runWorkers, WorkQueue } from './workqueue.js';

export const ORPHAN_FINALIZER = 'orphan';
export const FOREGROUND_FINALIZER = 'foregroundDeletion';

/** kinds the collector does not watch (kube ignores events too: many, short-lived, never owners) */
const IGNORED = new Set(['events']);

interface Node {
  uid: string;
  r: ResourceInfo;
  namespace?: string;
  name: string;
  owners: OwnerReference[];
  deletingDependents: boolean;
  beingDeleted: boolean;
}

/** `custom`: the kinds CRDs serve, by group and kind (every served version reads the same objects) */
function resourceOfRef(ref: OwnerReference, customKinds: Map<string, ResourceInfo>): ResourceInfo | undefined {
  const [group, version] = ref.apiVersion.includes('/') ? ref.apiVersion.split('/') : ['', ref.apiVersion];
  return RESOURCES.find((r) => r.kind === ref.kind && r.group === group && r.version === version) ?? customKinds.get(`${group}/${ref.kind}`);
}

const has = (o: Obj, f: string) => (o.metadata?.finalizers ?? []).includes(f);

export class GarbageCollector {
  private readonly nodes = new Map<string, Node>();
  private readonly dependents = new Map<string, Set<string>>();
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  private readonly watched: ResourceInfo[];
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly informers: SharedInformers,
    private readonly opts: { workers?: number; log?: (line: string) => void } = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.watched = RESOURCES.filter((r) => !IGNORED.has(r.resource));
    for (const r of this.watched) this.follow(r);
    // the kinds CRDs serve join the graph as their CRDs are established
    informers.for(CRDS).addEventHandler({ add: (crd) => this.followCustom(crd), update: (_old, crd) => this.followCustom(crd) });
  }

  private follow(r: ResourceInfo): void {
    this.informers.for(r).addEventHandler({ add: (o) => this.upsert(r, o), update: (_old, o) => this.upsert(r, o), delete: (o) => this.remove(o) });
  }

  private started = false;
  private readonly customKinds = new Map<string, ResourceInfo>();

  private followCustom(crd: Obj): void {
    const r = storedKindOf(crd);
    if (!r || this.customKinds.has(`${r.group}/${r.kind}`)) return;
    this.customKinds.set(`${r.group}/${r.kind}`, r);
    this.watched.push(r);
    this.follow(r);
    if (this.started) void this.informers.for(r).start();
  }

  async start(): Promise<void> {
    // the graph must be whole before anything is judged an orphan
    await this.informers.for(CRDS).start();
    await Promise.all(this.watched.map((r) => this.informers.for(r).start()));
    this.started = true;
    this.running = runWorkers(this.queue, this.opts.workers ?? 4, (key) => this.process(key), (l) => this.log(`garbage-collector: ${l}`));
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.running;
  }

  /** the dependents the graph knows of an owner (for tests) */
  dependentsOf(uid: string): string[] {
    return [...(this.dependents.get(uid) ?? [])];
  }

  // ---------------------------------------------------------------- the graph

  private upsert(r: ResourceInfo, o: Obj): void {
    const m = o.metadata ?? {};
    if (!m.uid) return;
    const owners: OwnerReference[] = m.ownerReferences ?? [];
    const old = this.nodes.get(m.uid);
    const node: Node = {
      uid: m.uid,
      r,
      namespace: m.namespace,
      name: m.name,
      owners,
      beingDeleted: !!m.deletionTimestamp,
      deletingDependents: !!m.deletionTimestamp && has(o, FOREGROUND_FINALIZER),
    };
    this.nodes.set(m.uid, node);
    const oldOwners = new Set((old?.owners ?? []).map((x) => x.uid));
    const newOwners = new Set(owners.map((x) => x.uid));
    for (const u of oldOwners) if (!newOwners.has(u)) this.unlink(u, m.uid);
    for (const u of newOwners) {
      let s = this.dependents.get(u);
      if (!s) this.dependents.set(u, (s = new Set()));
      s.add(m.uid);
    }
    // owners it dropped may have been waiting for it
    for (const u of oldOwners) if (!newOwners.has(u) && this.nodes.get(u)?.deletingDependents) this.queue.add(`delete:${u}`);
    // an owner absent from the graph, or waiting for its dependents: look at this one
    // (or one in another namespace than this object's, which cannot own it)
    const suspect = (ref: OwnerReference) => {
      const o = this.nodes.get(ref.uid);
      return !o || o.deletingDependents || (o.r.namespaced && o.namespace !== m.namespace);
    };
    if (owners.some(suspect)) this.queue.add(`delete:${m.uid}`);
    if (node.beingDeleted && has(o, ORPHAN_FINALIZER)) this.queue.add(`orphan:${m.uid}`);
    if (node.deletingDependents) {
      this.queue.add(`delete:${m.uid}`);
      if (!old?.deletingDependents) for (const d of this.dependents.get(m.uid) ?? []) this.queue.add(`delete:${d}`);
    }
  }

  private unlink(owner: string, dep: string): void {
    const s = this.dependents.get(owner);
    s?.delete(dep);
    if (s?.size === 0) this.dependents.delete(owner);
  }

  private remove(o: Obj): void {
    const uid = o.metadata?.uid;
    const node = uid && this.nodes.get(uid);
    if (!node) return;
    this.nodes.delete(uid);
    for (const ref of node.owners) {
      this.unlink(ref.uid, uid);
      if (this.nodes.get(ref.uid)?.deletingDependents) this.queue.add(`delete:${ref.uid}`);
    }
    // its dependents lost an owner (they stay linked to the uid: a virtual, absent owner)
    for (const d of this.dependents.get(uid) ?? []) this.queue.add(`delete:${d}`);
  }

  // ---------------------------------------------------------------- work

  private async process(key: string): Promise<void> {
    const [what, uid] = key.split(':');
    const node = this.nodes.get(uid);
    if (!node) return;
    if (what === 'orphan') return this.attemptToOrphan(node);
    return this.attemptToDelete(node);
  }

  private async getLive(r: ResourceInfo, ns: string | undefined, name: string, uid: string): Promise<Obj | undefined> {
    // a cluster-scoped object cannot be owned by a namespaced one: kube treats that owner as absent
    if (r.namespaced && !ns) return undefined;
    const o = await this.client.resource(r).tryGet(r.namespaced ? ns : undefined, name);
    return o && o.metadata.uid === uid ? o : undefined;
  }

  private async attemptToDelete(node: Node): Promise<void> {
    const latest = await this.getLive(node.r, node.namespace, node.name, node.uid);
    if (!latest) return;
    if (latest.metadata.deletionTimestamp && has(latest, FOREGROUND_FINALIZER)) return this.processDeletingDependents(node, latest);
    if (latest.metadata.deletionTimestamp) return; // on its way out already
    const owners: OwnerReference[] = latest.metadata.ownerReferences ?? [];
    if (!owners.length) return;
    const solid: OwnerReference[] = [];
    const gone: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of owners) {
      const r = resourceOfRef(ref, this.customKinds);
      if (!r) {
        // a kind podbay does not serve cannot be checked: keep the object
        solid.push(ref);
        continue;
      }
      const owner = await this.getLive(r, node.namespace, ref.name, ref.uid);
      if (!owner) gone.push(ref);
      else if (owner.metadata.deletionTimestamp && has(owner, FOREGROUND_FINALIZER)) waiting.push(ref);
      else solid.push(ref);
    }
    if (solid.length) {
      if (!gone.length && !waiting.length) return;
      // kube keeps the references to waiting owners' too only when they do not block; drop the gone ones and the waiting ones
      const drop = new Set([...gone, ...waiting].map((x) => x.uid));
      await setOwnerReferences(this.client, node.r, latest, (refs) => refs.filter((x) => !drop.has(x.uid)));
      return;
    }
    let policy: string;
    if (waiting.length && (this.dependents.get(node.uid)?.size ?? 0) > 0) policy = 'Foreground';
    else if (has(latest, ORPHAN_FINALIZER)) policy = 'Orphan';
    else if (has(latest, FOREGROUND_FINALIZER)) policy = 'Foreground';
    else policy = 'Background';
    this.log(`garbage-collector: deleting ${node.r.kind} ${node.namespace ? node.namespace + '/' : ''}${node.name} (owners gone: ${[...gone, ...waiting].map((x) => `${x.kind}/${x.name}`).join(', ')}; ${policy})`);
    try {
      await this.client.resource(node.r).delete(node.r.namespaced ? node.namespace : undefined, node.name, { propagationPolicy: policy, preconditions: { uid: node.uid } });
    } catch (e) {
      if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.code === 409))) throw e;
    }
  }

  /** an owner in foreground deletion: its finalizer goes once no dependent blocks it */
  private async processDeletingDependents(node: Node, latest: Obj): Promise<void> {
    const blocking = [...(this.dependents.get(node.uid) ?? [])]
      .map((u) => this.nodes.get(u))
      .filter((d): d is Node => !!d && d.owners.some((ref) => ref.uid === node.uid && ref.blockOwnerDeletion === true));
    if (!blocking.length) {
      await this.client.resource(node.r).update({ ...latest, metadata: { ...latest.metadata, finalizers: (latest.metadata.finalizers ?? []).filter((f: string) => f !== FOREGROUND_FINALIZER) } });
      return;
    }
    for (const d of blocking) if (!d.deletingDependents && !d.beingDeleted) this.queue.add(`delete:${d.uid}`);
  }

  private async attemptToOrphan(node: Node): Promise<void> {
    for (const depUid of [...(this.dependents.get(node.uid) ?? [])]) {
      const dep = this.nodes.get(depUid);
      if (!dep) continue;
      const latest = await this.getLive(dep.r, dep.namespace, dep.name, dep.uid);
      if (!latest || !(latest.metadata.ownerReferences ?? []).some((x: OwnerReference) => x.uid === node.uid)) continue;
      try {
        await setOwnerReferences(this.client, dep.r, latest, (refs) => refs.filter((x) => x.uid !== node.uid));
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
      }
    }
    const owner = await this.getLive(node.r, node.namespace, node.name, node.uid);
    if (!owner || !has(owner, ORPHAN_FINALIZER)) return;
    await this.client.resource(node.r).update({ ...owner, metadata: { ...owner.metadata, finalizers: (owner.metadata.finalizers ?? []).filter((f: string) => f !== ORPHAN_FINALIZER) } });
  }
}
