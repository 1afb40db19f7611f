import test from 'node:test';
import assert from 'node:assert/strict';
import { podChangeNeedsSync } from './pod-changes.js';

const pod = (over: Record<string, any> = {}) => ({ // eslint-disable-line @typescript-eslint/no-explicit-any
  metadata: { name: 'p', uid: 'u', resourceVersion: '5', labels: { a: '1' }, managedFields: [{ manager: 'kubectl' }], ...over.metadata },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...over.spec },
  status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }], ...over.status },
});

test('a status-only change (the kubelet’s own write coming back) needs no sync', () => {
  const after = pod({ metadata: { resourceVersion: '6', managedFields: [{ manager: 'kubectl' }, { manager: 'kubelet' }] }, status: { conditions: [{ type: 'Ready', status: 'True' }], podIP: '10.0.0.2' } });
  assert.equal(podChangeNeedsSync(pod(), after), false);
  assert.equal(podChangeNeedsSync(pod(), { ...after, status: { ...after.status, phase: 'Running' } }), false, 'Pending -> Running is the kubelet’s own');
  assert.equal(podChangeNeedsSync(pod(), pod()), false, 'the same resourceVersion again');
});

test('a new spec, labels, annotations, deletionTimestamp or a terminal phase needs a sync', () => {
  const v6 = (over: Record<string, any>) => pod({ ...over, metadata: { resourceVersion: '6', ...over.metadata } }); // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(podChangeNeedsSync(pod(), v6({ spec: { containers: [{ name: 'c', image: 'busybox:2' }] } })), true);
  assert.equal(podChangeNeedsSync(pod(), v6({ metadata: { labels: { a: '2' } } })), true);
  assert.equal(podChangeNeedsSync(pod(), v6({ metadata: { annotations: { x: 'y' } } })), true);
  assert.equal(podChangeNeedsSync(pod(), v6({ metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } })), true);
  assert.equal(podChangeNeedsSync(pod(), v6({ status: { phase: 'Succeeded' } })), true);
  assert.equal(podChangeNeedsSync(pod({ status: { phase: 'Running' } }), v6({ status: { phase: 'Failed' } })), true);
  assert.equal(podChangeNeedsSync(pod({ status: { phase: 'Failed' } }), v6({ status: { phase: 'Failed', message: 'x' } })), false);
});

test('a readiness gate condition written by someone else needs a sync; without gates it does not', () => {
  const gated = { readinessGates: [{ conditionType: 'example.com/ready' }] };
  const cond = [{ type: 'Ready', status: 'False' }, { type: 'example.com/ready', status: 'True' }];
  assert.equal(podChangeNeedsSync(pod({ spec: gated }), pod({ spec: gated, metadata: { resourceVersion: '6' }, status: { conditions: cond } })), true);
  assert.equal(podChangeNeedsSync(pod(), pod({ metadata: { resourceVersion: '6' }, status: { conditions: cond } })), false);
});
