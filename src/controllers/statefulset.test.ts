/**
 * The StatefulSet controller on the memory store through the in-process client; the tests play
 * the kubelet, marking pods Running and Ready through pods/status.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { templateHash } from './revisions.js';
import { podOrdinal, StatefulSetController } from './statefulset.js';

const PODS = resourceInfo('pods')!;
const SETS = resourceInfo('statefulsets', 'apps')!;
const REVISIONS = resourceInfo('controllerrevisions', 'apps')!;
const CLAIMS = resourceInfo('persistentvolumeclaims')!;

function setSpec(extra: Obj = {}): Obj {
  return {
    replicas: 3,
    serviceName: 'web',
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
    ...extra,
  };
}

async function world() {
  const reg = await memoryRegistry();
  const client = new LocalClient(reg);
  const logged: string[] = [];
  const ctl = new StatefulSetController(client, { log: (l) => logged.push(l) });
  await ctl.start();
  const pods = client.resource(PODS);
  const sets = client.resource(SETS);
  const names = async () => (await pods.list('default')).items.map((p) => p.metadata.name).sort();
  const live = async () => (await pods.list('default')).items.filter((p) => !p.metadata.deletionTimestamp);
  /** the kubelet's part: the pod runs and is ready */
  const ready = async (name: string) => {
    // bound, so that a delete is graceful (it waits for a kubelet) as on a node
    if (!(await pods.get('default', name)).spec.nodeName) await client.bind('default', name, 'n1');
    const p = await pods.get('default', name);
    p.status = { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
    await pods.update(p, { sub: 'status' });
  };
  const readyAll = async () => {
    for (const p of await live()) if (p.status?.phase !== 'Running') await ready(p.metadata.name);
  };
  /** a kubelet that confirms every graceful delete at once */
  let reaper: NodeJS.Timeout | undefined;
  const reap = () => {
    reaper = setInterval(async () => {
      for (const p of (await pods.list('default')).items) if (p.metadata.deletionTimestamp) await pods.delete('default', p.metadata.name, { gracePeriodSeconds: 0 }).catch(() => {});
    }, 20);
  };
  const stop = async () => {
    clearInterval(reaper);
    await ctl.stop();
  };
  return { reg, client, ctl, pods, sets, names, live, ready, readyAll, logged, reap, stop };
}

const pause = (ms = 60) => new Promise((r) => setTimeout(r, ms));

describe('statefulset controller', () => {
  it('OrderedReady: one pod at a time in order, each after the previous is Ready; stable names, labels, hostname', async () => {
    const w = await world();
    try {
      const set = await w.sets.create('default', { metadata: { name: 'web' }, spec: setSpec() });
      for (let i = 0; i < 3; i++) {
        await until(`web-${i}`, async () => (await w.names()).length === i + 1);
        await pause();
        assert.deepEqual(await w.names(), Array.from({ length: i + 1 }, (_, j) => `web-${j}`), 'the next waits for this one');
        await w.ready(`web-${i}`);
      }
      const p1 = await w.pods.get('default', 'web-1');
      assert.equal(p1.spec.hostname, 'web-1');
      assert.equal(p1.spec.subdomain, 'web');
      assert.equal(p1.metadata.labels['statefulset.kubernetes.io/pod-name'], 'web-1');
      assert.equal(p1.metadata.labels['apps.kubernetes.io/pod-index'], '1');
      assert.deepEqual(p1.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: set.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      const rev = p1.metadata.labels['controller-revision-hash'];
      assert.equal(rev, `web-${templateHash((await w.sets.get('default', 'web')).spec.template)}`);
      assert.ok(await w.client.resource(REVISIONS).get('default', rev));
      await until('status', async () => {
        const st = (await w.sets.get('default', 'web')).status;
        return st.readyReplicas === 3 && st.replicas === 3 && st.currentReplicas === 3 && st.updatedReplicas === 3 && st.currentRevision === rev && st.updateRevision === rev;
      });
      // scale down: highest first, one at a time
      await w.sets.patch('default', 'web', 'application/merge-patch+json', { spec: { replicas: 1 } });
      const terminating = async () => (await w.pods.list('default')).items.filter((p) => p.metadata.deletionTimestamp).map((p) => p.metadata.name);
      await until('web-2 deleted', async () => (await terminating()).join() === 'web-2');
      await pause();
      assert.deepEqual(await terminating(), ['web-2'], 'web-1 waits until web-2 is gone');
      await w.pods.delete('default', 'web-2', { gracePeriodSeconds: 0 }); // the kubelet's confirmation
      await until('web-1 deleted', async () => (await terminating()).join() === 'web-1');
      assert.deepEqual(await w.names(), ['web-0', 'web-1']);
      assert.deepEqual(w.logged, []);
    } finally {
      await w.stop();
    }
  });

  it('Parallel: all at once; a failed pod is made again', async () => {
    const w = await world();
    try {
      await w.sets.create('default', { metadata: { name: 'web' }, spec: setSpec({ podManagementPolicy: 'Parallel' }) });
      await until('3 pods', async () => (await w.names()).length === 3);
      const p = await w.pods.get('default', 'web-1');
      p.status = { ...p.status, phase: 'Failed' };
      await w.pods.update(p, { sub: 'status' });
      await until('web-1 again', async () => {
        const q = await w.pods.tryGet('default', 'web-1');
        return !!q && q.metadata.uid !== p.metadata.uid;
      });
    } finally {
      await w.stop();
    }
  });

  it('RollingUpdate with a partition: highest first down to the partition; then the rest; currentRevision follows', async () => {
    const w = await world();
    w.reap();
    try {
      await w.sets.create('default', { metadata: { name: 'web' }, spec: setSpec({ podManagementPolicy: 'Parallel', updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }) });
      await until('3 pods', async () => (await w.names()).length === 3);
      await w.readyAll();
      const oldRev = (await w.pods.get('default', 'web-0')).metadata.labels['controller-revision-hash'];
      await w.sets.patch('default', 'web', 'application/merge-patch+json', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:1.37' }] } } } });
      const revOf = async (n: string) => (await w.pods.tryGet('default', n))?.metadata.labels['controller-revision-hash'];
      await until('web-2 updated', async () => (await revOf('web-2')) !== undefined && (await revOf('web-2')) !== oldRev);
      const newRev = (await revOf('web-2'))!;
      await pause();
      assert.equal(await revOf('web-1'), oldRev, 'web-1 waits for web-2 to be ready');
      await w.ready('web-2');
      await until('web-1 updated', async () => (await revOf('web-1')) === newRev);
      await w.ready('web-1');
      await pause(100);
      assert.equal(await revOf('web-0'), oldRev, 'below the partition: not updated');
      let st = (await w.sets.get('default', 'web')).status;
      assert.deepEqual([st.currentRevision, st.updateRevision, st.updatedReplicas, st.currentReplicas], [oldRev, newRev, 2, 1]);
      await w.sets.patch('default', 'web', 'application/merge-patch+json', { spec: { updateStrategy: { rollingUpdate: { partition: 0 } } } });
      await until('web-0 updated', async () => (await revOf('web-0')) === newRev);
      assert.equal((await w.pods.get('default', 'web-0')).spec.containers[0].image, 'busybox:1.37');
      await w.ready('web-0');
      await until('current = update', async () => (st = (await w.sets.get('default', 'web')).status).currentRevision === newRev);
      assert.equal(st.currentReplicas, 3);
    } finally {
      await w.stop();
    }
  });

  it('OnDelete: a new template reaches a pod only when it is deleted', async () => {
    const w = await world();
    w.reap();
    try {
      await w.sets.create('default', { metadata: { name: 'web' }, spec: setSpec({ replicas: 1, updateStrategy: { type: 'OnDelete' } }) });
      await until('a pod', async () => (await w.names()).length === 1);
      await w.readyAll();
      const before = await w.pods.get('default', 'web-0');
      await w.sets.patch('default', 'web', 'application/merge-patch+json', { spec: { template: { metadata: { labels: { app: 'web', v: '2' } } } } });
      await pause(100);
      assert.equal((await w.pods.get('default', 'web-0')).metadata.uid, before.metadata.uid);
      await w.pods.delete('default', 'web-0');
      await until('made again, updated', async () => (await w.pods.tryGet('default', 'web-0'))?.metadata.labels.v === '2');
    } finally {
      await w.stop();
    }
  });

  it('volumeClaimTemplates: a claim <tpl>-<set>-<n> made before each pod, kept when the pod goes; whenScaled Delete takes it with the pod', async () => {
    const w = await world();
    const claims = w.client.resource(CLAIMS);
    try {
      const tpl = { metadata: { name: 'data', labels: { tier: 'db' } }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
      // the template's mount names the claim template: accepted (no 422), the pod gets the volume
      const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', volumeMounts: [{ name: 'data', mountPath: '/data' }] }] } };
      await w.sets.create('default', { metadata: { name: 'web' }, spec: setSpec({ replicas: 2, podManagementPolicy: 'Parallel', template, volumeClaimTemplates: [tpl], persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete' } }) });
      await until('both pods', async () => (await w.names()).length === 2);
      const c0 = await claims.get('default', 'data-web-0');
      assert.deepEqual(c0.metadata.labels, { tier: 'db', app: 'web' });
      assert.equal(c0.metadata.ownerReferences, undefined, 'whenDeleted Retain: the set does not own its claims');
      assert.deepEqual((await w.pods.get('default', 'web-1')).spec.volumes.find((v: Obj) => v.name === 'data'), { name: 'data', persistentVolumeClaim: { claimName: 'data-web-1' } });
      w.reap();
      // a pod deleted: made again, on the same claim
      const uid = (await w.pods.get('default', 'web-0')).metadata.uid;
      await w.pods.delete('default', 'web-0');
      await until('web-0 made again', async () => { const p = await w.pods.tryGet('default', 'web-0'); return Boolean(p && p.metadata.uid !== uid); });
      assert.equal((await claims.get('default', 'data-web-0')).metadata.uid, c0.metadata.uid);
      // scaled down: the condemned pod's claim gets the pod as owner (the garbage collector removes it with the pod)
      const set = await w.sets.get('default', 'web');
      await w.sets.update({ ...set, spec: { ...set.spec, replicas: 1 } });
      await until('web-1 claim owned by its pod', async () => Boolean((await claims.get('default', 'data-web-1')).metadata.ownerReferences?.some((r: Obj) => r.kind === 'Pod' && r.name === 'web-1')));
    } finally {
      await w.stop();
    }
  });

  it('pod ordinals and template hashes', () => {
    assert.equal(podOrdinal('web', 'web-12'), 12);
    assert.equal(podOrdinal('web', 'web-x-1'), undefined);
    assert.equal(podOrdinal('web', 'webby-1'), undefined);
    const t = { metadata: { labels: { a: '1' } }, spec: { containers: [{ name: 'c', image: 'x' }] } };
    assert.equal(templateHash(t), templateHash({ spec: { containers: [{ image: 'x', name: 'c' }] }, metadata: { labels: { a: '1' } } }));
    assert.notEqual(templateHash(t), templateHash(t, 1));
    assert.match(templateHash(t), /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });
});
