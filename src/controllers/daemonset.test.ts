/**
 * The DaemonSet controller on the memory store through the in-process client, with node
 * objects made by the test (no kubelet): one pod per fitting node, status counts, a rolling update.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { DaemonSetController, daemonFit, podForDaemon, withDaemonTolerations } from './daemonset.js';

const PODS = resourceInfo('pods')!;
const NODES = resourceInfo('nodes')!;
const SETS = resourceInfo('daemonsets', 'apps')!;

const dsSpec = (extra: Obj = {}) => ({
  selector: { matchLabels: { app: 'agent' } },
  template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }], ...extra } },
});

/** a memory store, its client and the resources these tests use */
async function world() {
  const client = new LocalClient(await memoryRegistry());
  return { client, nodes: client.resource(NODES), pods: client.resource(PODS), sets: client.resource(SETS) };
}

describe('daemonset controller', () => {
  it('one pod per fitting node, made on it; status counts; a tainted node only with a toleration; a rolling update', async () => {
    const { client, nodes, pods, sets } = await world();
    await nodes.create(undefined, { metadata: { name: 'a', labels: { disk: 'ssd' } } });
    await nodes.create(undefined, { metadata: { name: 'b', labels: { disk: 'hdd' } } });
    await nodes.create(undefined, { metadata: { name: 'c', labels: { disk: 'ssd' } }, spec: { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } });
    const logged: string[] = [];
    const ctl = new DaemonSetController(client, { log: (l) => logged.push(l) });
    await ctl.start();
    try {
      await sets.create('default', { metadata: { name: 'agent' }, spec: dsSpec({ nodeSelector: { disk: 'ssd' } }) });
      const live = async () => (await pods.list('default')).items.filter((p) => !p.metadata.deletionTimestamp);
      const nodeOf = (p: Obj) => p.spec.nodeName;
      await until('a pod for node a', async () => (await live()).length === 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual((await live()).map(nodeOf), ['a'], 'b does not match the selector; c is tainted');
      let st = (await sets.get('default', 'agent')).status;
      assert.deepEqual([st.desiredNumberScheduled, st.currentNumberScheduled, st.numberReady, st.numberUnavailable], [1, 1, 0, 1]);

      await sets.patch('default', 'agent', 'application/merge-patch+json', { spec: { template: { spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] } } } });
      await until('pods on a and c, from the new template', async () => (await live()).map(nodeOf).sort().join() === 'a,c' && (await live()).every((p) => p.spec.tolerations.some((t: Obj) => t.key === 'dedicated')));
      for (const p of await live()) {
        const cur = await pods.get('default', p.metadata.name);
        cur.status = { ...cur.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
        await pods.update(cur, { sub: 'status' });
      }
      const revs = (await client.resource(resourceInfo('controllerrevisions', 'apps')!).list('default')).items;
      assert.deepEqual(revs.map((r) => r.revision).sort(), [1, 2], 'a ControllerRevision per template');
      assert.ok((await live()).every((p) => revs.some((r) => r.revision === 2 && r.metadata.labels['controller-revision-hash'] === p.metadata.labels['controller-revision-hash'])));
      await until('status ready', async () => (st = (await sets.get('default', 'agent')).status).numberReady === 2);
      assert.deepEqual([st.desiredNumberScheduled, st.currentNumberScheduled, st.updatedNumberScheduled, st.numberAvailable, st.numberMisscheduled], [2, 2, 2, 2, 0]);
      // node a loses the label: its pod goes
      await nodes.patch(undefined, 'a', 'application/merge-patch+json', { metadata: { labels: { disk: 'hdd' } } });
      await until('a pod deleted', async () => (await live()).map(nodeOf).join() === 'c');
      assert.deepEqual(logged, []);
    } finally {
      await ctl.stop();
    }
  });

  it('a pod already running stays when its node is tainted NoSchedule, and goes when tainted NoExecute', async () => {
    const { client, nodes, pods, sets } = await world();
    await nodes.create(undefined, { metadata: { name: 'vm' } });
    const ctl = new DaemonSetController(client);
    await ctl.start();
    try {
      await sets.create('default', { metadata: { name: 'agent' }, spec: dsSpec() });
      const live = async () => (await pods.list('default')).items.filter((p) => !p.metadata.deletionTimestamp);
      await until('a pod on vm', async () => (await live()).length === 1);
      const [pod] = await live();
      const taint = async (taints: Obj[]) => {
        const node = await nodes.get(undefined, 'vm');
        await nodes.update({ ...node, spec: { ...node.spec, taints } });
      };
      await taint([{ key: 'k1', value: 'v1', effect: 'NoSchedule' }]);
      let st: Obj = {};
      await until('status: nothing desired, one misscheduled', async () => (st = (await sets.get('default', 'agent')).status ?? {}).desiredNumberScheduled === 0);
      assert.equal(st.numberMisscheduled, 1);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual((await live()).map((p) => p.metadata.uid), [pod!.metadata.uid], 'the running pod is kept');
      // it fails: it is deleted and, the node taking no new daemon pods, not replaced
      const cur = await pods.get('default', pod!.metadata.name);
      await pods.update({ ...cur, status: { ...cur.status, phase: 'Failed' } }, { sub: 'status' });
      await until('the failed pod deleted', async () => (await live()).length === 0);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await live()).length, 0, 'no new pod on a NoSchedule node');
      // untainted: a pod again; NoExecute: it goes
      await taint([]);
      await until('a pod on vm again', async () => (await live()).length === 1);
      await taint([{ key: 'k1', value: 'v1', effect: 'NoExecute' }]);
      await until('NoExecute removes it', async () => (await live()).length === 0);
      const deletes = async () => (await client.resource(resourceInfo('events')!).list('default')).items.filter((e) => e.reason === 'SuccessfulDelete').length;
      await until('two SuccessfulDelete events: the failed pod and the NoExecute one', async () => (await deletes()) === 2);
    } finally {
      await ctl.stop();
    }
  });

  it('node fit: selector, affinity expressions and fields, nodeName, taints and the daemon tolerations', () => {
    const node = { metadata: { name: 'n1', labels: { zone: 'z1', size: '8' } }, spec: { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } };
    const runs = { run: true, keep: true };
    assert.deepEqual(daemonFit({}, node), runs, 'unschedulable is tolerated by every daemon pod');
    assert.deepEqual(daemonFit({ nodeSelector: { zone: 'z2' } }, node), { run: false, keep: false, reason: "node(s) didn't match Pod's node affinity/selector" });
    const aff = (expr: Obj[], fields: Obj[] = []) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: expr, matchFields: fields }] } } } });
    assert.deepEqual(daemonFit(aff([{ key: 'size', operator: 'Gt', values: ['4'] }]), node), runs);
    assert.equal(daemonFit(aff([{ key: 'zone', operator: 'NotIn', values: ['z1'] }]), node).keep, false);
    assert.equal(daemonFit(aff([], [{ key: 'metadata.name', operator: 'In', values: ['n2'] }]), node).keep, false);
    assert.deepEqual(daemonFit({ nodeName: 'n2' }, node), { run: false, keep: false, reason: "node(s) didn't match the requested node name" });
    assert.deepEqual(daemonFit({ nodeName: 'n1' }, node), runs);
    const tainted = (...taints: Obj[]) => ({ metadata: { name: 'x' }, spec: { taints } });
    // NoSchedule: no new pod, the running one stays (kube's shouldRun=false, shouldContinueRunning=true)
    assert.deepEqual(daemonFit({}, tainted({ key: 'k1', value: 'v1', effect: 'NoSchedule' })), { run: false, keep: true, reason: 'node(s) had untolerated taint {k1: v1}' });
    assert.deepEqual(daemonFit({}, tainted({ key: 'gpu', value: 'yes', effect: 'NoExecute' })), { run: false, keep: false, reason: 'node(s) had untolerated taint {gpu: yes}' });
    assert.deepEqual(daemonFit({}, tainted({ key: 'k1', effect: 'NoSchedule' }, { key: 'gpu', effect: 'NoExecute' })).keep, false);
    assert.deepEqual(daemonFit({}, tainted({ key: 'k1', effect: 'PreferNoSchedule' })), runs);
    assert.deepEqual(daemonFit({ tolerations: [{ key: 'gpu', operator: 'Exists' }] }, tainted({ key: 'gpu', value: 'yes', effect: 'NoExecute' })), runs);
    // the daemon tolerations: not-ready and unreachable NoExecute; the pressure taints NoSchedule
    assert.deepEqual(daemonFit({}, tainted({ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }, { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' })), runs);
    assert.equal(daemonFit({}, tainted({ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' })).run, false, 'network-unavailable only with hostNetwork');
    assert.deepEqual(daemonFit({ hostNetwork: true }, tainted({ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' })), runs);
    const pod = podForDaemon({ metadata: { name: 'ds', namespace: 'default', uid: 'u', generation: 2 }, spec: { template: { spec: { hostNetwork: true } } } }, 'n1', 'h');
    assert.equal(pod.metadata.labels['pod-template-generation'], '2');
    assert.deepEqual(pod.spec.tolerations.map((t: Obj) => `${t.key}:${t.effect}`), [
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/disk-pressure:NoSchedule',
      'node.kubernetes.io/memory-pressure:NoSchedule',
      'node.kubernetes.io/pid-pressure:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
      'node.kubernetes.io/network-unavailable:NoSchedule',
    ]);
  });

  it('daemon tolerations are added or updated as kube does: a same toleration is replaced (its tolerationSeconds dropped), others kept', () => {
    const tolerations = [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Equal', value: 'x', effect: 'NoExecute' },
      { key: 'app', operator: 'Exists' },
    ];
    const out = withDaemonTolerations({ tolerations });
    assert.deepEqual(out.slice(0, 4), [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
      { key: 'node.kubernetes.io/unreachable', operator: 'Equal', value: 'x', effect: 'NoExecute' },
      { key: 'app', operator: 'Exists' },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    ]);
    assert.equal(out.length, 8);
    assert.equal(tolerations[0]!.tolerationSeconds, 30, 'the template is not changed');
  });
});
