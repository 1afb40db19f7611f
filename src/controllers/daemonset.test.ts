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
import { DaemonSetController, nodeUnfit, podForDaemon } from './daemonset.js';

const PODS = resourceInfo('pods')!;
const NODES = resourceInfo('nodes')!;
const SETS = resourceInfo('daemonsets', 'apps')!;

const dsSpec = (extra: Obj = {}) => ({
  selector: { matchLabels: { app: 'agent' } },
  template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }], ...extra } },
});

describe('daemonset controller', () => {
  it('one pod per fitting node, made on it; status counts; a tainted node only with a toleration; a rolling update', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const nodes = client.resource(NODES);
    const pods = client.resource(PODS);
    const sets = client.resource(SETS);
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

  it('node fit: selector, affinity expressions and fields, taints and the daemon tolerations', () => {
    const node = { metadata: { name: 'n1', labels: { zone: 'z1', size: '8' } }, spec: { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } };
    assert.equal(nodeUnfit({}, node), undefined, 'unschedulable is tolerated by every daemon pod');
    assert.match(nodeUnfit({ nodeSelector: { zone: 'z2' } }, node)!, /didn't match/);
    const aff = (expr: Obj[], fields: Obj[] = []) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: expr, matchFields: fields }] } } } });
    assert.equal(nodeUnfit(aff([{ key: 'size', operator: 'Gt', values: ['4'] }]), node), undefined);
    assert.ok(nodeUnfit(aff([{ key: 'zone', operator: 'NotIn', values: ['z1'] }]), node));
    assert.ok(nodeUnfit(aff([], [{ key: 'metadata.name', operator: 'In', values: ['n2'] }]), node));
    assert.match(nodeUnfit({}, { metadata: { name: 'x' }, spec: { taints: [{ key: 'gpu', value: 'yes', effect: 'NoExecute' }] } })!, /untolerated taint \{gpu: yes\}/);
    const pod = podForDaemon({ metadata: { name: 'ds', namespace: 'default', uid: 'u', generation: 2 }, spec: { template: { spec: { hostNetwork: true } } } }, 'n1', 'h');
    assert.equal(pod.metadata.labels['pod-template-generation'], '2');
    assert.ok(pod.spec.tolerations.some((t: Obj) => t.key === 'node.kubernetes.io/network-unavailable'));
  });
});
