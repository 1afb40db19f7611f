/**
 * The ReplicaSet / ReplicationController controller on the memory store through the in-process
 * client: pods made from the template with owner references, no over-creation, adoption and
 * release, scale down by rank, status with minReadySeconds, ReplicaFailure on a refused create.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError } from '../api/errors.js';
import { resourceInfo, type ResourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj, ResourceClient } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import type { Registry } from '../registry/index.js';
import { SharedInformers } from './informers.js';
import { ControllerExpectations, podDeletionOrder, slowStartBatch } from './pod-control.js';
import { REPLICATIONCONTROLLER_KIND, ReplicaSetController } from './replicaset.js';

const PODS = resourceInfo('pods')!;
const RS = resourceInfo('replicasets', 'apps')!;
const RC = resourceInfo('replicationcontrollers')!;
const EVENTS = resourceInfo('events')!;

function rs(name: string, replicas: number, labels: Record<string, string> = { app: name }, extra: Obj = {}): Obj {
  return {
    metadata: { name },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }, ...extra },
  };
}

async function podsOf(reg: Registry, ns = 'default'): Promise<Obj[]> {
  return (await reg.list(PODS, ns)).items.filter((p) => !p.metadata.deletionTimestamp);
}

/** the kubelet's part: mark every pod Running and Ready (transition at `at`) */
async function makeReady(reg: Registry, at = new Date().toISOString()): Promise<void> {
  for (const p of await podsOf(reg)) {
    if (p.status?.phase === 'Running') continue;
    await reg.update(PODS, 'default', p.metadata.name, { ...p, status: { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at }] } }, { sub: 'status' });
  }
}

/** a client whose pod creations fail while `refuse` is set (as a quota would refuse them) */
class RefusingClient extends LocalClient {
  refuse = false;
  override resource<T = Obj>(r: ResourceInfo): ResourceClient<T> {
    const inner = super.resource<T>(r);
    if (r.resource !== 'pods') return inner;
    return Object.assign(Object.create(inner), {
      create: (ns: string | undefined, o: Obj) => (this.refuse ? Promise.reject(new ApiError(403, 'Forbidden', 'pods "x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1')) : inner.create(ns, o)),
    });
  }
}

async function withController(fn: (reg: Registry, client: RefusingClient, ctl: ReplicaSetController) => Promise<void>, kind = undefined as typeof REPLICATIONCONTROLLER_KIND | undefined): Promise<void> {
  const reg = await memoryRegistry();
  const client = new RefusingClient(reg);
  const informers = new SharedInformers(client);
  const logged: string[] = [];
  const ctl = new ReplicaSetController(client, informers, kind, { log: (l) => logged.push(l) });
  await ctl.start();
  try {
    await fn(reg, client, ctl);
  } finally {
    await ctl.stop();
    informers.stop();
  }
}

describe('replicaset controller', () => {
  it('creates the replicas from the template, owned by the set, exactly once, and reports status', async () => {
    await withController(async (reg, client) => {
      await client.resource(RS).create('default', rs('web', 3));
      await until('3 pods', async () => (await podsOf(reg)).length === 3);
      await new Promise((r) => setTimeout(r, 100));
      const pods = await podsOf(reg);
      assert.equal(pods.length, 3, 'no over-creation while the cache catches up');
      const owner = await reg.get(RS, 'default', 'web');
      for (const p of pods) {
        assert.match(p.metadata.name, /^web-[a-z0-9]{5}$/);
        assert.deepEqual(p.metadata.labels, { app: 'web' });
        assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      }
      await until('status replicas 3', async () => (await reg.get(RS, 'default', 'web')).status?.replicas === 3);
      let st = (await reg.get(RS, 'default', 'web')).status;
      assert.equal(st.readyReplicas, undefined, 'no pod ready: omitted, as ReplicaSetStatus omits a 0');
      assert.equal(st.replicas, 3);
      assert.equal(st.observedGeneration, 1);
      await makeReady(reg);
      await until('3 ready and available', async () => (await reg.get(RS, 'default', 'web')).status?.availableReplicas === 3);
      st = (await reg.get(RS, 'default', 'web')).status;
      assert.deepEqual(st, { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1 });
      const events = (await reg.list(EVENTS, 'default')).items.filter((e) => e.involvedObject.kind === 'ReplicaSet');
      assert.equal(events.filter((e) => e.reason === 'SuccessfulCreate').length, 3);
      assert.match(events[0].message, /^Created pod: web-/);
      assert.equal(events[0].source.component, 'replicaset-controller');
    });
  });

  it('replaces a deleted pod and scales down the lowest ranked first', async () => {
    await withController(async (reg, client) => {
      await client.resource(RS).create('default', rs('web', 3));
      await until('3 pods', async () => (await podsOf(reg)).length === 3);
      await makeReady(reg);
      const victim = (await podsOf(reg))[0].metadata.name;
      await reg.delete(PODS, 'default', victim);
      await until('a replacement', async () => (await podsOf(reg)).length === 3 && !(await podsOf(reg)).some((p) => p.metadata.name === victim));
      // the replacement is not ready: scaling to 2 removes it, not a ready one
      const fresh = (await podsOf(reg)).find((p) => p.status?.phase !== 'Running')!.metadata.name;
      await client.resource(RS).patch('default', 'web', 'application/merge-patch+json', { spec: { replicas: 2 } }, { sub: undefined });
      await until('2 pods', async () => (await podsOf(reg)).length === 2);
      assert.ok(!(await podsOf(reg)).some((p) => p.metadata.name === fresh), 'the not-ready pod went first');
      await until('status 2 and generation seen', async () => {
        const s = (await reg.get(RS, 'default', 'web')).status;
        return s.replicas === 2 && s.observedGeneration === 2;
      });
    });
  });

  it('adopts a matching orphan and releases a pod whose labels stopped matching', async () => {
    await withController(async (reg, client) => {
      await client.resource(PODS).create('default', { metadata: { name: 'orphan', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
      await client.resource(RS).create('default', rs('web', 2));
      await until('2 pods', async () => (await podsOf(reg)).length === 2);
      const owner = await reg.get(RS, 'default', 'web');
      const orphan = await reg.get(PODS, 'default', 'orphan');
      assert.equal(orphan.metadata.ownerReferences?.[0]?.uid, owner.metadata.uid, 'the orphan is adopted');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await podsOf(reg)).length, 2, 'the adopted pod counts');
      await client.resource(PODS).patch('default', 'orphan', 'application/merge-patch+json', { metadata: { labels: { app: 'other' } } });
      await until('released and replaced', async () => {
        const o = await reg.get(PODS, 'default', 'orphan');
        return !o.metadata.ownerReferences && (await podsOf(reg)).length === 3;
      });
    });
  });

  it('counts availability only after minReadySeconds', async () => {
    await withController(async (reg, client) => {
      await client.resource(RS).create('default', rs('slow', 1, { app: 'slow' }, { minReadySeconds: 1 }));
      await until('a pod', async () => (await podsOf(reg)).length === 1);
      await makeReady(reg);
      await until('ready', async () => (await reg.get(RS, 'default', 'slow')).status?.readyReplicas === 1);
      assert.equal((await reg.get(RS, 'default', 'slow')).status.availableReplicas, undefined);
      await until('available after 1 s', async () => (await reg.get(RS, 'default', 'slow')).status?.availableReplicas === 1, 4000);
    });
  });

  it('sets ReplicaFailure FailedCreate when the template is refused, and clears it after', async () => {
    await withController(async (reg, client) => {
      await client.resource(RS).create('default', rs('bad', 1, { app: 'bad' }, {}));
      await until('a pod', async () => (await podsOf(reg)).length === 1);
      client.refuse = true;
      await client.resource(RS).patch('default', 'bad', 'application/merge-patch+json', { spec: { replicas: 2 } });
      await until('ReplicaFailure', async () => (await reg.get(RS, 'default', 'bad')).status?.conditions?.some((c: Obj) => c.type === 'ReplicaFailure'));
      const c = (await reg.get(RS, 'default', 'bad')).status.conditions.find((x: Obj) => x.type === 'ReplicaFailure');
      assert.equal(c.reason, 'FailedCreate');
      assert.match(c.message, /exceeded quota/);
      client.refuse = false;
      const ev = (await reg.list(EVENTS, 'default')).items.find((e) => e.reason === 'FailedCreate');
      assert.match(ev?.message ?? '', /^Error creating: /);
      await until('cleared', async () => !(await reg.get(RS, 'default', 'bad')).status?.conditions);
    });
  });

  it('runs ReplicationControllers with their map selector', async () => {
    await withController(async (reg, client) => {
      await client.resource(RC).create('default', { metadata: { name: 'old' }, spec: { replicas: 2, selector: { app: 'old' }, template: { metadata: { labels: { app: 'old' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } });
      await until('2 pods', async () => (await podsOf(reg)).length === 2);
      const p = (await podsOf(reg))[0];
      assert.equal(p.metadata.ownerReferences[0].kind, 'ReplicationController');
      assert.equal(p.metadata.ownerReferences[0].apiVersion, 'v1');
      await until('status', async () => (await reg.get(RC, 'default', 'old')).status?.replicas === 2);
    }, REPLICATIONCONTROLLER_KIND);
  });
});

describe('pod-control', () => {
  it('ranks pods for deletion as kube ActivePods does', () => {
    const pod = (name: string, o: Obj): Obj => ({ metadata: { name, creationTimestamp: o.created ?? '2026-01-01T00:00:00Z' }, spec: { nodeName: o.node ?? 'n' }, status: o.status ?? { phase: 'Running' } });
    const ready = (t: string) => ({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: t }] });
    const pods = [
      pod('ready-old', { status: ready('2026-01-01T00:00:00Z') }),
      pod('ready-new', { status: ready('2026-01-02T00:00:00Z') }),
      pod('running-notready', {}),
      pod('pending', { status: { phase: 'Pending' } }),
      pod('unscheduled', { node: '', status: { phase: 'Pending' } }),
    ];
    assert.deepEqual([...pods].sort(podDeletionOrder).map((p) => p.metadata.name), ['unscheduled', 'pending', 'running-notready', 'ready-new', 'ready-old']);
    const older = pod('older', { created: '2026-01-01T00:00:00Z' });
    const newer = pod('newer', { created: '2026-01-03T00:00:00Z' });
    assert.deepEqual([older, newer].sort(podDeletionOrder).map((p) => p.metadata.name), ['newer', 'older']);
  });

  it('expectations: satisfied when every creation and tracked deletion is seen', () => {
    let now = 0;
    const e = new ControllerExpectations(() => now);
    assert.ok(e.satisfied('a'));
    e.expectCreations('a', 2);
    e.creationObserved('a');
    assert.ok(!e.satisfied('a'));
    e.creationObserved('a');
    assert.ok(e.satisfied('a'));
    e.expectDeletions('a', ['ns/p1']);
    e.deletionObserved('a', 'ns/other');
    assert.ok(!e.satisfied('a'));
    e.deletionObserved('a', 'ns/p1');
    e.deletionObserved('a', 'ns/p1');
    assert.ok(e.satisfied('a'));
    e.expectCreations('a', 1);
    now = 5 * 60_000 + 1;
    assert.ok(e.satisfied('a'), 'expired after 5 minutes');
  });

  it('slowStartBatch: 1, 2, 4 ... and stops after a failing batch', async () => {
    let calls = 0;
    const r = await slowStartBatch(10, 1, async () => {
      calls++;
      if (calls === 5) throw new Error('boom');
    });
    // batches 1, 2, 4: the 5th call (in the batch of 4) fails; that batch finishes, no more
    assert.equal(calls, 7);
    assert.equal(r.ok, 6);
    assert.equal(r.error?.message, 'boom');
  });
});
