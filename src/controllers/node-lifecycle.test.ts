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

test('Ready decides the not-ready/unreachable taints; a stale node turns Unknown', async () => {
  const { conditionTaints, staleConditions } = await import('./node-lifecycle.js');
  const now = new Date('2026-01-01T00:00:00Z');
  const node = (status: string | undefined, taints?: object[]) => ({ spec: { taints }, status: { conditions: status ? [{ type: 'Ready', status }] : [] } });
  assert.deepEqual(conditionTaints(node('Unknown'), true, now), [
    { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' },
  ]);
  assert.deepEqual(conditionTaints(node('False', [{ key: 'x', effect: 'NoSchedule' }]), false, now), [{ key: 'x', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }], 'full disruption: no NoExecute');
  const tainted = conditionTaints(node('Unknown'), true, now)!;
  assert.equal(conditionTaints(node('Unknown', tainted), true, new Date('2026-01-01T00:01:00Z')), undefined, 'kept with its timeAdded');
  assert.deepEqual(conditionTaints(node('Unknown', tainted), false, now), [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }], 'full disruption takes NoExecute away');
  assert.deepEqual(conditionTaints(node('True', [...tainted, { key: 'x', effect: 'NoSchedule' }]), true, now), [{ key: 'x', effect: 'NoSchedule' }], 'back: taken away');
  assert.equal(conditionTaints(node('True'), true, now), undefined);

  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const ready = { status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2025-12-31T23:59:00Z', lastTransitionTime: '2025-12-31T00:00:00Z' }, { type: 'Other', status: 'True' }] } };
  assert.equal(staleConditions(ready, { probeMs: t0 }, 40_000, t0 + 40_000), undefined, 'within the grace period');
  const stale = staleConditions(ready, { probeMs: t0 }, 40_000, t0 + 41_000)!;
  const r = stale.find((c) => c.type === 'Ready')!;
  assert.deepEqual(r, { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: '2025-12-31T23:59:00Z', lastTransitionTime: '2026-01-01T00:00:41Z' });
  assert.deepEqual(stale.map((c) => `${c.type}=${c.status}`).sort(), ['DiskPressure=Unknown', 'MemoryPressure=Unknown', 'Other=True', 'PIDPressure=Unknown', 'Ready=Unknown']);
  assert.equal(staleConditions({ status: { conditions: stale } }, { probeMs: t0 }, 40_000, t0 + 90_000), undefined, 'already Unknown');
  assert.equal(staleConditions({ status: {} }, { probeMs: t0 }, 40_000, t0 + 41_000)!.find((c) => c.type === 'Ready')!.reason, 'NodeStatusNeverUpdated');
});

test('the controller: a node whose Lease stops is Unknown and tainted, its pods not Ready and evicted after their tolerationSeconds; back, untainted', async () => {
  const { memoryRegistry, until } = await import('../registry/registry.test-util.js');
  const { LocalClient } = await import('../client/local.js');
  const { resourceInfo } = await import('../api/registry.js');
  const { NodeLifecycleController } = await import('./node-lifecycle.js');
  const { renewNodeLease } = await import('../kubelet/node.js');
  const NODES = resourceInfo('nodes')!;
  const PODS = resourceInfo('pods')!;
  const client = new LocalClient(await memoryRegistry());
  const nodes = client.resource(NODES);
  const ready = () => ({ conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }] });
  for (const name of ['alive', 'dead']) {
    const n = await nodes.create(undefined, { metadata: { name } });
    await nodes.update({ ...n, status: ready() }, { sub: 'status' });
    await renewNodeLease(client, n);
  }
  const pods = client.resource(PODS);
  const p = await pods.create('default', { metadata: { name: 'victim' }, spec: { nodeName: 'dead', containers: [{ name: 'c', image: 'busybox' }], tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 }] } });
  await pods.update({ ...p, status: { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, { sub: 'status' });
  const ctl = new NodeLifecycleController(client, { gracePeriodMs: 1500, monitorPeriodMs: 200 });
  await ctl.start();
  // the alive node's lease keeps being renewed
  const keep = setInterval(() => void nodes.get(undefined, 'alive').then((n) => renewNodeLease(client, n)), 300);
  try {
    const readyOf = async (name: string) => (await nodes.get(undefined, name)).status.conditions.find((c: { type: string }) => c.type === 'Ready');
    await until('dead is Unknown', async () => (await readyOf('dead')).status === 'Unknown', 10_000);
    assert.equal((await readyOf('dead')).message, 'Kubelet stopped posting node status.');
    assert.equal((await readyOf('alive')).status, 'True');
    await until('dead tainted', async () => ((await nodes.get(undefined, 'dead')).spec?.taints ?? []).length === 2, 5000);
    assert.deepEqual((await nodes.get(undefined, 'dead')).spec?.taints.map((t: { key: string; effect: string }) => `${t.key}:${t.effect}`).sort(), ['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    assert.equal((await nodes.get(undefined, 'alive')).spec?.taints, undefined);
    await until('the pod not Ready', async () => (await pods.get('default', 'victim')).status.conditions.find((c: { type: string }) => c.type === 'Ready').status === 'False', 5000);
    // deleted (graceful: it stays Terminating until its kubelet, which is gone, confirms; a
    // ReplicaSet counts it out and replaces it at once)
    const t0 = Date.now();
    await until('the pod evicted after its 2 s', async () => !!(await pods.get('default', 'victim')).metadata.deletionTimestamp, 10_000);
    assert.ok(Date.now() - t0 < 4000, `evicted ${Date.now() - t0} ms after it was marked not Ready`);
    // the node comes back: its kubelet posts Ready again; the taints go
    const dead = await nodes.get(undefined, 'dead');
    await nodes.update({ ...dead, status: ready() }, { sub: 'status' });
    await until('dead untainted', async () => !((await nodes.get(undefined, 'dead')).spec?.taints ?? []).length, 5000);
  } finally {
    clearInterval(keep);
    await ctl.stop();
  }
});
