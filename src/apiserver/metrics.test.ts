import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { notFound } from '../api/errors.js';
import { call } from './api-groups.test-util.js';
import { cpuQuantity, goDuration, memoryQuantity, metricsGroup, type MetricsDeps } from './metrics.js';
import type { PodUsage } from '../api/usage.js';

const pod = (name: string, uid: string, labels?: Record<string, string>) => ({ metadata: { name, namespace: 'default', uid, ...(labels ? { labels } : {}) } });

function deps(usages: Record<string, PodUsage | undefined>, withNode = true): MetricsDeps {
  const pods = [pod('busy', 'u1', { app: 'a' }), pod('idle', 'u2'), pod('pending', 'u3')];
  return {
    listPods: async (_ns, q) => pods.filter((p) => !q.labelSelector || (p.metadata as any).labels?.app === q.labelSelector.split('=')[1]),
    getPod: async (_ns, name) => {
      const p = pods.find((x) => x.metadata.name === name);
      if (!p) throw notFound('pods', name);
      return p;
    },
    listNodes: async () => [{ metadata: { name: 'vm' } }],
    getNode: async (name) => ({ metadata: { name } }),
    usage: () =>
      withNode
        ? {
            podUsage: async (uid) => usages[uid],
            nodeUsage: async () => ({ at: Date.UTC(2026, 0, 1), windowMs: 1500, cpuNanoCores: 2.5e8, memoryWorkingSetBytes: 2048 * 1024, cpuUsageCoreNanoSeconds: 1 }),
          }
        : undefined,
  };
}

const usage = (cpu: number, mem: number): PodUsage => ({ at: Date.UTC(2026, 0, 1, 0, 0, 5), windowMs: 1020, containers: [{ name: 'c', cpuNanoCores: cpu, memoryWorkingSetBytes: mem, cpuUsageCoreNanoSeconds: 0 }] });

describe('Metrics API (metrics.k8s.io/v1beta1)', () => {
  it('formats as metrics-server: nanocores, Ki, Go durations', () => {
    assert.equal(cpuQuantity(123456.7), '123457n');
    assert.equal(memoryQuantity(1024 * 1024 + 100), '1024Ki');
    assert.equal(goDuration(1020), '1.02s');
    assert.equal(goDuration(250), '250ms');
    assert.equal(goDuration(65_500), '1m5.5s');
    assert.equal(goDuration(60_000), '1m0s');
  });

  it('lists PodMetrics of pods with running containers only, with labels, timestamp and window', async () => {
    const g = metricsGroup(deps({ u1: usage(9e8, 4096 * 1024), u2: usage(0, 100 * 1024) }));
    const r = await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods');
    assert.equal(r.body.kind, 'PodMetricsList');
    assert.deepEqual(r.body.items.map((i: any) => i.metadata.name), ['busy', 'idle']);
    const busy = r.body.items[0];
    assert.deepEqual(busy.metadata.labels, { app: 'a' });
    assert.equal(busy.timestamp, '2026-01-01T00:00:05Z');
    assert.equal(busy.window, '1.02s');
    assert.deepEqual(busy.containers, [{ name: 'c', usage: { cpu: '900000000n', memory: '4096Ki' } }]);
    const sel = await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Da');
    assert.deepEqual(sel.body.items.map((i: any) => i.metadata.name), ['busy']);
  });

  it('a pod without metrics is 404 as metrics-server says it; a missing pod is the pod\'s 404', async () => {
    const g = metricsGroup(deps({}));
    const r = await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/pending');
    assert.equal(r.code, 404);
    assert.equal(r.body.message, 'pods.metrics.k8s.io "default/pending" not found');
    assert.equal((await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/ghost')).body.message, 'pods "ghost" not found');
  });

  it('NodeMetrics for the node; get/list only, no watch', async () => {
    const g = metricsGroup(deps({}));
    const n = await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes/vm');
    assert.deepEqual(n.body.usage, { cpu: '250000000n', memory: '2048Ki' });
    assert.equal((await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes')).body.items.length, 1);
    assert.equal((await call(g, 'POST', '/apis/metrics.k8s.io/v1beta1/nodes')).code, 405);
    assert.equal((await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes?watch=true')).code, 405);
    assert.equal((await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/nodes')).code, 404);
  });

  it('without a kubelet the lists are empty', async () => {
    const g = metricsGroup(deps({}, false));
    assert.deepEqual((await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/pods')).body.items, []);
    assert.deepEqual((await call(g, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes')).body.items, []);
  });
});
