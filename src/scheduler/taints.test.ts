import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeMisfit, toleratesTaint } from './taints.js';

test('cordoned and tainted nodes: upstream messages; tolerations as ToleratesTaint matches them', () => {
  const pod = (tolerations: object[] = []) => ({ spec: { tolerations } });
  assert.match(nodeMisfit(pod(), { spec: { unschedulable: true } })!, /^0\/1 nodes are available: 1 node\(s\) were unschedulable\. preemption: /);
  assert.equal(nodeMisfit(pod([{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }]), { spec: { unschedulable: true } }), undefined);
  const tainted = { spec: { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } };
  assert.equal(nodeMisfit(pod(), tainted), '0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.');
  assert.equal(nodeMisfit(pod([{ key: 'dedicated', value: 'db' }]), tainted), undefined);
  assert.equal(nodeMisfit(pod(), { spec: { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] } }), undefined, 'PreferNoSchedule only ranks');
  assert.equal(toleratesTaint({ operator: 'Exists' }, { key: 'x', effect: 'NoExecute' }), true);
  assert.equal(toleratesTaint({ key: 'x', operator: 'Equal', value: 'a' }, { key: 'x', value: 'b', effect: 'NoSchedule' }), false);
  assert.equal(toleratesTaint({ key: 'x', operator: 'Exists', effect: 'NoExecute' }, { key: 'x', effect: 'NoSchedule' }), false);
});
