/**
 * The registry on the memory store: no root, no HTTP. What kube-apiserver's generic registry
 * does for each verb, and what the pod and namespace strategies change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import type { Obj, WatchEventOut } from '../api/types.js';
import { apiError, memoryRegistry, until } from './registry.test-util.js';

const PODS = resourceInfo('pods')!;
const CONFIGMAPS = resourceInfo('configmaps')!;
const NAMESPACES = resourceInfo('namespaces')!;

function cm(name: string, labels: Record<string, string> = {}, extra: Obj = {}): Obj {
  return { metadata: { name, labels, ...extra }, data: { k: name } };
}

function pod(name: string, extra: Obj = {}): Obj {
  return { metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...extra } };
}

describe('generic registry', () => {
  it('create sets the server-owned metadata and refuses a second object of the same name', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(CONFIGMAPS, 'default', cm('a', {}, { uid: 'mine', resourceVersion: '99' }));
    assert.equal(made.kind, 'ConfigMap');
    assert.equal(made.apiVersion, 'v1');
    assert.equal(made.metadata.namespace, 'default');
    assert.notEqual(made.metadata.uid, 'mine');
    assert.match(made.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(await reg.get(CONFIGMAPS, 'default', 'a'), made);
    const dup = await apiError(reg.create(CONFIGMAPS, 'default', cm('a')));
    assert.equal(dup.code, 409);
    assert.equal(dup.message, 'configmaps "a" already exists');
    const missing = await apiError(reg.get(CONFIGMAPS, 'default', 'b'));
    assert.equal(missing.code, 404);
    assert.equal(missing.message, 'configmaps "b" not found');
    const noNs = await apiError(reg.create(CONFIGMAPS, 'nowhere', cm('a')));
    assert.equal(noNs.message, 'namespaces "nowhere" not found');
  });

  it('generateName gets a 5-character suffix; a pod starts at generation 1', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(PODS, 'default', { metadata: { generateName: 'web-' }, spec: pod('x').spec });
    assert.match(made.metadata.name, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(made.metadata.generation, 1);
    assert.equal((await reg.create(CONFIGMAPS, 'default', cm('c'))).metadata.generation, undefined);
  });

  it('list filters by label and field selectors and pages with continue tokens at one revision', async () => {
    const reg = await memoryRegistry();
    for (let i = 0; i < 5; i++) await reg.create(CONFIGMAPS, 'default', cm(`cm${i}`, { tier: i % 2 ? 'odd' : 'even' }));
    await reg.create(CONFIGMAPS, 'kube-system', cm('other', { tier: 'odd' }));
    const odd = await reg.list(CONFIGMAPS, undefined, { labelSelector: 'tier=odd' });
    assert.deepEqual(odd.items.map((o) => o.metadata.name).sort(), ['cm1', 'cm3', 'other']);
    assert.equal(odd.kind, 'ConfigMapList');
    const one = await reg.list(CONFIGMAPS, 'default', { fieldSelector: 'metadata.name=cm2' });
    assert.deepEqual(one.items.map((o) => o.metadata.name), ['cm2']);

    const page1 = await reg.list(CONFIGMAPS, 'default', { limit: 2 });
    assert.deepEqual(page1.items.map((o) => o.metadata.name), ['cm0', 'cm1']);
    assert.equal(page1.metadata.remainingItemCount, 3);
    // a write between pages is not seen: the pages are of one revision
    await reg.create(CONFIGMAPS, 'default', cm('cm5'));
    const page2 = await reg.list(CONFIGMAPS, 'default', { limit: 2, continue: page1.metadata.continue });
    assert.deepEqual(page2.items.map((o) => o.metadata.name), ['cm2', 'cm3']);
    assert.equal(page2.metadata.resourceVersion, page1.metadata.resourceVersion);
    const page3 = await reg.list(CONFIGMAPS, 'default', { limit: 2, continue: page2.metadata.continue });
    assert.deepEqual(page3.items.map((o) => o.metadata.name), ['cm4']);
    assert.equal(page3.metadata.continue, undefined);

    const bad = await apiError(reg.list(CONFIGMAPS, 'default', { continue: 'nonsense' }));
    assert.equal(bad.code, 400);
    await reg.store.compact(await reg.store.currentRevision());
    const old = await apiError(reg.list(CONFIGMAPS, 'default', { limit: 2, continue: page1.metadata.continue }));
    assert.equal(old.code, 410);
    assert.match(old.message, /continue parameter is too old/);
  });

  it('update keeps status and system fields, refuses a stale resourceVersion, and skips a no-op write', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(CONFIGMAPS, 'default', cm('a'));
    const uid = await apiError(reg.update(CONFIGMAPS, 'default', 'a', { ...made, metadata: { ...made.metadata, uid: 'x' } }));
    assert.equal(uid.code, 409, 'a body uid is a precondition');
    assert.equal(
      uid.message,
      `Operation cannot be fulfilled on configmaps "a": StorageError: invalid object, Code: 4, Key: /registry/configmaps/default/a, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: x, UID in object meta: ${made.metadata.uid}`,
    );
    const { uid: _, creationTimestamp: __, ...meta } = made.metadata;
    const changed = await reg.update(CONFIGMAPS, 'default', 'a', { ...made, data: { k: 'new' }, metadata: meta });
    assert.equal(changed.data.k, 'new');
    assert.equal(changed.metadata.uid, made.metadata.uid, 'an update without uid keeps the stored one');
    assert.equal(changed.metadata.creationTimestamp, made.metadata.creationTimestamp);
    assert.ok(Number(changed.metadata.resourceVersion) > Number(made.metadata.resourceVersion));
    const stale = await apiError(reg.update(CONFIGMAPS, 'default', 'a', { ...made, data: { k: 'lost' } }));
    assert.equal(stale.code, 409);
    assert.match(stale.message, /^Operation cannot be fulfilled on configmaps "a": the object has been modified/);
    const same = await reg.update(CONFIGMAPS, 'default', 'a', changed);
    assert.equal(same.metadata.resourceVersion, changed.metadata.resourceVersion);
    const wrongName = await apiError(reg.update(CONFIGMAPS, 'default', 'a', { ...changed, metadata: { ...changed.metadata, name: 'b' } }));
    assert.equal(wrongName.code, 400);

    const p = await reg.create(PODS, 'default', pod('p'));
    const withStatus = await reg.update(PODS, 'default', 'p', { ...p, status: { ...p.status, phase: 'Running' } }, { sub: 'status' });
    assert.equal(withStatus.status.phase, 'Running');
    const mainWrite = await reg.update(PODS, 'default', 'p', { ...withStatus, metadata: { ...withStatus.metadata, labels: { a: 'b' } }, status: { phase: 'Failed' } });
    assert.equal(mainWrite.status.phase, 'Running', 'the main resource does not write status');
    assert.equal(mainWrite.metadata.labels.a, 'b');
    assert.equal(mainWrite.metadata.generation, 1, 'labels are not spec');
  });

  it('update, patch and apply keep the stored creationTimestamp and generation (rest.BeforeUpdate); a patched uid or a new deletionTimestamp is immutable', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(CONFIGMAPS, 'default', cm('t'));
    const created = made.metadata.creationTimestamp;
    const put = await reg.update(CONFIGMAPS, 'default', 't', { ...made, data: { k: '1' }, metadata: { ...made.metadata, creationTimestamp: '2020-01-01T00:00:00Z', generation: 7 } });
    assert.equal(put.metadata.creationTimestamp, created);
    assert.equal(put.metadata.generation, made.metadata.generation);
    const merged = await reg.patch(CONFIGMAPS, 'default', 't', 'application/merge-patch+json', JSON.stringify({ metadata: { creationTimestamp: '2020-01-01T00:00:00Z' }, data: { k: '2' } }));
    assert.equal(merged.metadata.creationTimestamp, created);
    assert.equal(merged.data.k, '2');
    const { object: applied } = await reg.apply(
      CONFIGMAPS,
      'default',
      't',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 't', creationTimestamp: '2020-01-01T00:00:00Z' }, data: { k: '3' } },
      { fieldManager: 'kubectl', force: true },
    );
    assert.equal(applied.metadata.creationTimestamp, created);
    assert.equal(applied.data.k, '3');
    // a patch has no precondition: a uid it changes is validation's
    const uid = await apiError(reg.patch(CONFIGMAPS, 'default', 't', 'application/merge-patch+json', JSON.stringify({ metadata: { uid: 'x' } })));
    assert.equal(uid.code, 422);
    assert.equal(uid.message, 'ConfigMap "t" is invalid: metadata.uid: Invalid value: "x": field is immutable');
    const del = await apiError(reg.patch(CONFIGMAPS, 'default', 't', 'application/merge-patch+json', JSON.stringify({ metadata: { deletionTimestamp: '2030-01-01T00:00:00Z' } })));
    assert.equal(del.code, 422);
    assert.match(del.message, /metadata\.deletionTimestamp: Invalid value: .*field is immutable/);
    const now = await reg.get(CONFIGMAPS, 'default', 't');
    assert.equal(now.data.k, '3', 'nothing written by the refused patches');
  });

  it('patch applies merge, strategic and JSON patches, retries a race, and honours a pinned resourceVersion', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(CONFIGMAPS, 'default', cm('a'));
    const merged = await reg.patch(CONFIGMAPS, 'default', 'a', 'application/merge-patch+json', '{"data":{"x":"1"}}');
    assert.deepEqual(merged.data, { k: 'a', x: '1' });
    const json = await reg.patch(CONFIGMAPS, 'default', 'a', 'application/json-patch+json', '[{"op":"remove","path":"/data/k"}]');
    assert.deepEqual(json.data, { x: '1' });
    const pinned = await apiError(
      reg.patch(CONFIGMAPS, 'default', 'a', 'application/merge-patch+json', JSON.stringify({ metadata: { resourceVersion: made.metadata.resourceVersion }, data: { y: '2' } })),
    );
    assert.equal(pinned.code, 409);
    // a writer racing the patch: the patch re-reads and applies to the newer object
    let raced = false;
    const out = await reg.patch(CONFIGMAPS, 'default', 'a', 'application/merge-patch+json', '{"data":{"z":"3"}}', {
      check: () => {
        if (raced) return;
        raced = true;
        void reg.store.get('/registry/configmaps/default/a').then((kv) => reg.store.update(kv!.key, JSON.stringify({ ...JSON.parse(kv!.value), data: { x: '1', w: 'other' } })));
      },
    });
    assert.equal(out.data.z, '3');
    const p = await reg.create(PODS, 'default', pod('p'));
    const bumped = await reg.patch(PODS, 'default', 'p', 'application/strategic-merge-patch+json', '{"spec":{"activeDeadlineSeconds":30}}');
    assert.equal(bumped.metadata.generation, 2, 'a spec change bumps a pod generation');
    assert.equal(p.metadata.generation, 1);
  });

  it('delete: plain objects go at once; finalizers hold an object until an update removes the last one', async () => {
    const reg = await memoryRegistry();
    await reg.create(CONFIGMAPS, 'default', cm('plain'));
    const gone = await reg.delete(CONFIGMAPS, 'default', 'plain');
    assert.equal(gone.gone, true);
    assert.equal(await reg.tryGet(CONFIGMAPS, 'default', 'plain'), undefined);

    await reg.create(CONFIGMAPS, 'default', cm('held', {}, { finalizers: ['example.com/hold'] }));
    const marked = await reg.delete(CONFIGMAPS, 'default', 'held');
    assert.equal(marked.gone, false);
    assert.ok(marked.object.metadata.deletionTimestamp);
    assert.equal(marked.object.metadata.deletionGracePeriodSeconds, 0);
    const again = await reg.delete(CONFIGMAPS, 'default', 'held');
    assert.equal(again.object.metadata.resourceVersion, marked.object.metadata.resourceVersion, 'a second delete changes nothing');
    const noNew = await apiError(reg.update(CONFIGMAPS, 'default', 'held', { ...marked.object, metadata: { ...marked.object.metadata, finalizers: ['example.com/hold', 'example.com/more'] } }));
    assert.equal(noNew.code, 422);
    await reg.update(CONFIGMAPS, 'default', 'held', { ...marked.object, metadata: { ...marked.object.metadata, finalizers: [] } });
    assert.equal(await reg.tryGet(CONFIGMAPS, 'default', 'held'), undefined, 'removing the last finalizer deletes it');

    await reg.create(CONFIGMAPS, 'default', cm('pre'));
    const pre = await apiError(reg.delete(CONFIGMAPS, 'default', 'pre', { preconditions: { uid: 'other' } }));
    assert.equal(pre.code, 409);
    assert.match(pre.message, /Precondition failed: UID in precondition: other/);
    const neg = await apiError(reg.delete(CONFIGMAPS, 'default', 'pre', { gracePeriodSeconds: -1 }));
    assert.equal(neg.code, 422);
  });

  it('delete of a pod: unbound goes at once; bound waits its grace, may be shortened, goes with grace 0', async () => {
    const reg = await memoryRegistry();
    await reg.create(PODS, 'default', pod('unbound'));
    assert.equal((await reg.delete(PODS, 'default', 'unbound')).gone, true);

    await reg.create(PODS, 'default', pod('bound', { terminationGracePeriodSeconds: 20 }));
    await reg.bind('default', 'bound', { metadata: { name: 'bound' }, target: { kind: 'Node', name: 'n1' } });
    const bound = await reg.get(PODS, 'default', 'bound');
    assert.equal(bound.spec.nodeName, 'n1');
    assert.equal(bound.status.conditions.find((c: Obj) => c.type === 'PodScheduled').status, 'True');
    const twice = await apiError(reg.bind('default', 'bound', { target: { name: 'n2' } }));
    assert.match(twice.message, /is already assigned to node "n1"/);

    const marked = await reg.delete(PODS, 'default', 'bound');
    assert.equal(marked.gone, false);
    assert.equal(marked.object.metadata.deletionGracePeriodSeconds, 20);
    const shorter = await reg.delete(PODS, 'default', 'bound', { gracePeriodSeconds: 5 });
    assert.equal(shorter.object.metadata.deletionGracePeriodSeconds, 5);
    const longer = await reg.delete(PODS, 'default', 'bound', { gracePeriodSeconds: 50 });
    assert.equal(longer.object.metadata.deletionGracePeriodSeconds, 5, 'a longer grace never extends');
    // the kubelet's status write while it stops the pod does not delete it
    await reg.update(PODS, 'default', 'bound', { ...longer.object, status: { ...longer.object.status, phase: 'Running' } }, { sub: 'status' });
    assert.ok(await reg.tryGet(PODS, 'default', 'bound'));
    const late = await apiError(reg.bind('default', 'bound', { target: { name: 'n1' } }));
    assert.match(late.message, /^Operation cannot be fulfilled on pods "bound": pod is being deleted/);
    assert.equal((await reg.delete(PODS, 'default', 'bound', { gracePeriodSeconds: 0 })).gone, true);
  });

  it('watch from a revision sees only later changes, in order, with selector moves as ADDED/DELETED; a compacted revision is one 410 ERROR', async () => {
    const reg = await memoryRegistry();
    const a = await reg.create(CONFIGMAPS, 'default', cm('a', { app: 'x' }));
    const events: WatchEventOut[] = [];
    const w = await reg.watch(CONFIGMAPS, 'default', { labelSelector: 'app=x', resourceVersion: a.metadata.resourceVersion }, (ev) => events.push(ev), () => {});
    const b = await reg.create(CONFIGMAPS, 'default', cm('b', { app: 'x' }));
    await reg.update(CONFIGMAPS, 'default', 'b', { ...b, data: { k: 'changed' } });
    const moved = await reg.update(CONFIGMAPS, 'default', 'a', { ...a, metadata: { ...a.metadata, labels: { app: 'y' } } });
    await reg.create(CONFIGMAPS, 'default', cm('c', { app: 'y' }));
    await reg.update(CONFIGMAPS, 'default', 'a', { ...moved, metadata: { ...moved.metadata, labels: { app: 'x' } } });
    await reg.delete(CONFIGMAPS, 'default', 'b');
    await until('six events', async () => events.length >= 5);
    w.cancel();
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.name}`),
      ['ADDED b', 'MODIFIED b', 'DELETED a', 'ADDED a', 'DELETED b'],
    );
    const revs = events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual([...revs].sort((x, y) => x - y), revs);

    // from "0": the current objects first, as ADDED
    const initial: WatchEventOut[] = [];
    const w0 = await reg.watch(CONFIGMAPS, 'default', { resourceVersion: '0' }, (ev) => initial.push(ev), () => {});
    w0.cancel();
    assert.deepEqual(initial.map((e) => `${e.type} ${e.object.metadata.name}`).sort(), ['ADDED a', 'ADDED c']);

    await reg.store.compact(await reg.store.currentRevision());
    const errors: WatchEventOut[] = [];
    let ended = false;
    await reg.watch(CONFIGMAPS, 'default', { resourceVersion: a.metadata.resourceVersion }, (ev) => errors.push(ev), () => (ended = true));
    assert.equal(ended, true);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].type, 'ERROR');
    assert.equal(errors[0].object.code, 410);
    assert.match(errors[0].object.message, /^too old resource version: \d+ \(\d+\)$/);
  });

  it('namespace deletion: built-ins are refused; a namespace turns Terminating and goes when the finalize part clears its finalizers', async () => {
    const reg = await memoryRegistry();
    const refused = await apiError(reg.delete(NAMESPACES, undefined, 'default'));
    assert.equal(refused.code, 403);
    assert.equal(refused.message, 'namespaces "default" is forbidden: this namespace may not be deleted');
    const all = await reg.deleteCollection(NAMESPACES, undefined, {}, {});
    // kube-node-lease is made at start but deletable, as upstream's (not one of its immortal three)
    assert.deepEqual(all.items.map((n: Obj) => n.metadata.name), ['kube-node-lease'], 'a delete of every namespace skips the protected ones');

    const ns = await reg.create(NAMESPACES, undefined, { metadata: { name: 'scratch' } });
    assert.deepEqual(ns.spec.finalizers, ['kubernetes']);
    // a user's update cannot drop the namespace's finalizer; only the finalize part can
    const kept = await reg.update(NAMESPACES, undefined, 'scratch', { ...ns, metadata: { ...ns.metadata, labels: { a: 'b' } }, spec: { finalizers: [] } });
    assert.deepEqual(kept.spec.finalizers, ['kubernetes']);

    const marked = await reg.delete(NAMESPACES, undefined, 'scratch');
    assert.equal(marked.gone, false);
    assert.equal(marked.object.status.phase, 'Terminating');
    // deleting it again is a Conflict, worded as kube-apiserver words it (two spaces), and changes nothing
    const again = await apiError(reg.delete(NAMESPACES, undefined, 'scratch'));
    assert.equal(again.code, 409);
    assert.equal(again.reason, 'Conflict');
    assert.equal(
      again.message,
      'Operation cannot be fulfilled on namespaces "scratch": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.',
    );
    assert.equal((await reg.get(NAMESPACES, undefined, 'scratch')).metadata.resourceVersion, marked.object.metadata.resourceVersion);
    assert.deepEqual((await reg.deleteCollection(NAMESPACES, undefined, {}, {})).items, [], 'a delete of every namespace skips the terminating one');
    const refusedNew = await apiError(reg.create(CONFIGMAPS, 'scratch', cm('late')));
    assert.equal(refusedNew.code, 403);
    assert.match(refusedNew.message, /because it is being terminated$/);
    const labelled = await reg.update(NAMESPACES, undefined, 'scratch', { ...marked.object, metadata: { ...marked.object.metadata, labels: { b: 'c' } } });
    assert.ok(labelled, 'an update of a terminating namespace that keeps its finalizer does not remove it');
    await reg.update(NAMESPACES, undefined, 'scratch', { ...labelled, spec: { finalizers: [] } }, { sub: 'finalize' });
    assert.equal(await reg.tryGet(NAMESPACES, undefined, 'scratch'), undefined);
  });
});
