import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import { apiError, memoryRegistry } from './registry.test-util.js';

const PODS = resourceInfo('pods')!;
const PDBS = resourceInfo('poddisruptionbudgets', 'policy')!;

async function world() {
  const reg = await memoryRegistry();
  const pod = async (name: string, ready = true, labels: Record<string, string> = { app: 'web' }) => {
    const p = await reg.create(PODS, 'default', { metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });
    return reg.update(PODS, 'default', name, { ...p, status: { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }, { sub: 'status' });
  };
  const budget = async (name: string, status: Record<string, unknown>, spec: Record<string, unknown> = {}) => {
    const b = await reg.create(PDBS, 'default', { metadata: { name }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } }, ...spec } });
    return reg.update(PDBS, 'default', name, { ...b, status: { ...b.status, observedGeneration: b.metadata.generation, ...status } }, { sub: 'status' });
  };
  return { reg, pod, budget };
}

describe('pods/eviction', () => {
  it('a budget that allows it is charged (disruptionsAllowed - 1, disruptedPods) and the pod deleted; at 0 a 429 as kube-apiserver words it', async () => {
    const w = await world();
    await w.pod('a');
    await w.pod('b');
    await w.budget('web', { disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 });
    await w.reg.evict('default', 'a', { metadata: { name: 'a' } });
    const gone = await w.reg.tryGet(PODS, 'default', 'a');
    assert.ok(!gone || gone.metadata.deletionTimestamp, 'deleted');
    const b = await w.reg.get(PDBS, 'default', 'web');
    assert.equal(b.status.disruptionsAllowed, 0);
    assert.ok(b.status.disruptedPods.a);
    const e = await apiError(w.reg.evict('default', 'b', {}));
    assert.equal(e.code, 429);
    assert.equal(e.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(e.details?.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 1 healthy pods and has 2 currently' }]);
  });

  it('no budget: deleted; two budgets: 500; a status behind its spec: 429; a name that differs: 400', async () => {
    const w = await world();
    await w.pod('free', true, { app: 'other' });
    await w.reg.evict('default', 'free', {});
    await w.pod('a');
    await w.budget('one', { disruptionsAllowed: 5 });
    await w.budget('two', { disruptionsAllowed: 5 });
    assert.equal((await apiError(w.reg.evict('default', 'a', {}))).code, 500);
    await w.reg.delete(PDBS, 'default', 'two');
    const one = await w.reg.get(PDBS, 'default', 'one');
    await w.reg.update(PDBS, 'default', 'one', { ...one, spec: { ...one.spec, minAvailable: 0 } });
    const stale = await apiError(w.reg.evict('default', 'a', {}));
    assert.equal(stale.code, 429);
    assert.match(String(stale.details?.causes?.[0]?.message), /still being processed by the server/);
    assert.equal((await apiError(w.reg.evict('default', 'a', { metadata: { name: 'b' } }))).code, 400);
  });

  it('an unready pod goes without charging the budget when the budget is met (IfHealthyBudget) or always (AlwaysAllow)', async () => {
    const w = await world();
    await w.pod('sick', false);
    await w.budget('web', { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1 });
    await w.reg.evict('default', 'sick', {});
    assert.equal((await w.reg.get(PDBS, 'default', 'web')).status.disruptionsAllowed, 0);
  });
});
