import { test } from 'node:test';
import assert from 'node:assert/strict';
import { omitZero, OMITTED_IF_ZERO } from './omit-zero.js';

test('zero counters the Go types mark omitempty are dropped; the ones upstream always shows stay', () => {
  assert.deepEqual(omitZero({ replicas: 0, fullyLabeledReplicas: 0, readyReplicas: 0, availableReplicas: 2, observedGeneration: 1 }, OMITTED_IF_ZERO.replicaSet), { replicas: 0, availableReplicas: 2, observedGeneration: 1 });
  assert.deepEqual(omitZero({ replicas: 0, availableReplicas: 0, readyReplicas: 0, currentReplicas: 0, updatedReplicas: 1, collisionCount: 0 }, OMITTED_IF_ZERO.statefulSet), { replicas: 0, availableReplicas: 0, updatedReplicas: 1, collisionCount: 0 });
  assert.deepEqual(omitZero({ active: 0, succeeded: 0, failed: 0, ready: 0, terminating: 0 }, OMITTED_IF_ZERO.job), { ready: 0, terminating: 0 });
  assert.deepEqual(omitZero({ replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 3, conditions: [] }, OMITTED_IF_ZERO.deployment), { unavailableReplicas: 3, conditions: [] });
});
