import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeFlags, nodeMonitorFlags } from './multinode-flags.js';

const flags = (o: Record<string, string> = {}) => new Map(Object.entries(o));

test('node flags: the cluster CIDR holds the pod CIDR; node IP, lease and monitor durations checked', () => {
  assert.deepEqual(nodeFlags(flags(), '10.85.0.0/16'), { clusterCidr: '10.85.0.0/16', nodeIP: undefined, leaseDurationSeconds: 40 });
  assert.deepEqual(nodeFlags(flags({ 'cluster-cidr': '10.200.0.0/16', 'node-ip': '172.31.200.11', 'node-lease-duration-seconds': '8' }), '10.200.1.0/24'), { clusterCidr: '10.200.0.0/16', nodeIP: '172.31.200.11', leaseDurationSeconds: 8 });
  assert.throws(() => nodeFlags(flags({ 'cluster-cidr': '10.200.0.0/16' }), '10.201.1.0/24'), /--pod-cidr 10.201.1.0\/24 is not inside --cluster-cidr 10.200.0.0\/16/);
  assert.throws(() => nodeFlags(flags({ 'cluster-cidr': '10.200.0.0/24' }), '10.200.0.0/16'), /not inside/);
  assert.throws(() => nodeFlags(flags({ 'cluster-cidr': 'x' }), '10.200.0.0/16'), /--cluster-cidr "x"/);
  assert.throws(() => nodeFlags(flags({ 'node-ip': '127.0.0.1' }), '10.200.0.0/16'), /--node-ip/);
  assert.throws(() => nodeFlags(flags({ 'node-lease-duration-seconds': '0' }), '10.200.0.0/16'), /--node-lease-duration-seconds/);
  assert.deepEqual(nodeMonitorFlags(flags()), { gracePeriodMs: 40_000, monitorPeriodMs: 5_000 });
  assert.deepEqual(nodeMonitorFlags(flags({ 'node-monitor-grace-period': '8s', 'node-monitor-period': '500ms' })), { gracePeriodMs: 8000, monitorPeriodMs: 500 });
  assert.throws(() => nodeMonitorFlags(flags({ 'node-monitor-grace-period': '2s' })), /must be shorter/);
  assert.throws(() => nodeMonitorFlags(flags({ 'node-monitor-grace-period': 'soon' })), /want a duration/);
});
