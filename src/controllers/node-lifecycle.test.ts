import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evictionTime, unschedulableTaints } from './node-lifecycle.js';

test('the unschedulable taint follows spec.unschedulable; NoExecute eviction times from tolerationSeconds', () => {
  const other = { key: 'x', effect: 'NoSchedule' };
  assert.deepEqual(unschedulableTaints({ spec: { unschedulable: true, taints: [other] } }), [other, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]);
  assert.equal(unschedulableTaints({ spec: { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } }), undefined);
  assert.deepEqual(unschedulableTaints({ spec: { taints: [other, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } }), [other]);
  assert.equal(unschedulableTaints({ spec: {} }), undefined);

  const now = Date.parse('2026-01-01T00:00:00Z');
  const taint = { key: 'evict', value: 'now', effect: 'NoExecute', timeAdded: '2025-12-31T23:59:50Z' };
  const pod = (tolerations?: object[]) => ({ spec: { tolerations } });
  assert.equal(evictionTime(pod(), [taint], now), 0, 'not tolerated: now');
  assert.equal(evictionTime(pod([{ key: 'evict', operator: 'Exists' }]), [taint], now), undefined, 'tolerated for ever');
  assert.equal(evictionTime(pod([{ key: 'evict', operator: 'Exists', tolerationSeconds: 60 }]), [taint], now), Date.parse('2026-01-01T00:00:50Z'));
  assert.equal(evictionTime(pod([{ key: 'evict', operator: 'Exists', tolerationSeconds: 5 }]), [taint], now), 0, 'its time has passed');
  assert.equal(evictionTime(pod(), [{ key: 'evict', effect: 'NoSchedule' }], now), undefined, 'NoSchedule evicts nothing');
});
