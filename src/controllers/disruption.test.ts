import assert from 'node:assert/strict';
import { test } from 'node:test';
import { budgetStatus, scaled } from './disruption.js';

const pod = (name: string, ready = true, extra: Record<string, unknown> = {}) => ({ metadata: { name, ...extra }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });

test('budget status: minAvailable number, percentage, maxUnavailable; evicted pods are not healthy until the timeout', () => {
  const pods = [pod('a'), pod('b'), pod('c', false)];
  const n = (spec: object, expected?: number, status?: object) => {
    const s = budgetStatus({ metadata: { generation: 3 }, spec, status }, pods, expected, Date.parse('2026-01-01T00:00:00Z'));
    return [s.currentHealthy, s.desiredHealthy, s.expectedPods, s.disruptionsAllowed, s.conditions[0].reason, s.observedGeneration];
  };
  assert.deepEqual(n({ minAvailable: 1 }), [2, 1, 3, 1, 'SufficientPods', 3]);
  assert.deepEqual(n({ minAvailable: 2 }), [2, 2, 3, 0, 'InsufficientPods', 3]);
  assert.deepEqual(n({ minAvailable: '50%' }, 4), [2, 2, 4, 0, 'InsufficientPods', 3]);
  assert.deepEqual(n({ maxUnavailable: 1 }, 3), [2, 2, 3, 0, 'InsufficientPods', 3]);
  assert.deepEqual(n({ maxUnavailable: '50%' }, 3), [2, 1, 3, 1, 'SufficientPods', 3]);
  assert.deepEqual(n({}), [2, 0, 0, 0, 'InsufficientPods', 3], 'neither set: nothing allowed, as upstream');
  // a just-evicted pod does not count; an old entry (past 2 minutes) is dropped
  assert.deepEqual(n({ minAvailable: 1 }, undefined, { disruptedPods: { a: '2025-12-31T23:59:30Z' } }), [1, 1, 3, 0, 'InsufficientPods', 3]);
  assert.deepEqual(n({ minAvailable: 1 }, undefined, { disruptedPods: { a: '2025-12-31T23:50:00Z' } }).slice(0, 4), [2, 1, 3, 1]);
  assert.equal(scaled('34%', 3), 2);
});
