import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerResources, milliCPUToQuota, milliCPUToShares, podAmounts, podCgroupConfig, qosClassOf } from './qos.js';
import { ResourceFit } from '../scheduler/fit.js';
import { hostHugePages, nodeResources } from './node.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeQOSClass } from '../api/defaults/index.js';
import { isScalarResourceName, podScalarRequests } from '../api/pod-resources.js';

type R = { requests?: Record<string, string>; limits?: Record<string, string> };
const ctr = (name: string, resources: R = {}) => ({ name, image: 'busybox', resources });
const pod = (containers: object[], initContainers: object[] = [], extra: object = {}) => ({ metadata: { name: 'p', uid: 'u' }, spec: { containers, initContainers, ...extra } });
const Mi = 1024 * 1024;

test('shares and quota as the kubelet converts milli-CPU', () => {
  assert.equal(milliCPUToShares(0), 2);
  assert.equal(milliCPUToShares(1), 2);
  assert.equal(milliCPUToShares(100), 102);
  assert.equal(milliCPUToShares(1000), 1024);
  assert.equal(milliCPUToQuota(0), 0);
  assert.equal(milliCPUToQuota(100), 10000);
  assert.equal(milliCPUToQuota(5), 1000, 'at least 1 ms per period');
  assert.equal(milliCPUToQuota(2500), 250000);
});

test('container resources: shares from the request (else the limit), quota from the limit, memory limit', () => {
  assert.deepEqual(containerResources(ctr('a', { requests: { cpu: '50m' }, limits: { cpu: '100m', memory: '32Mi' } })), { cpuShares: 51, cpuQuota: 10000, cpuPeriod: 100000, memoryLimitBytes: 32 * Mi });
  assert.deepEqual(containerResources(ctr('a', { limits: { cpu: '1' } })), { cpuShares: 1024, cpuQuota: 100000, cpuPeriod: 100000 });
  assert.deepEqual(containerResources(ctr('a')), { cpuShares: 2 });
  assert.deepEqual(containerResources(ctr('a', { limits: { memory: '1G' } })), { cpuShares: 2, memoryLimitBytes: 1e9 });
});

test('the QoS class is the API one (status.qosClass at create), and places the pod cgroup', () => {
  const cases: [object, string][] = [
    [pod([ctr('a')]), 'BestEffort'],
    [pod([ctr('a', { requests: { cpu: '50m' }, limits: { cpu: '100m' } })]), 'Burstable'],
    [pod([ctr('a', { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } })]), 'Guaranteed'],
  ];
  for (const [p, want] of cases) {
    assert.equal(qosClassOf(p), want);
    assert.equal(computeQOSClass(p), want);
    assert.equal(podCgroupConfig(p).qosClass, want);
  }
});

test('pod cgroup: Guaranteed sums limits; Burstable sets quota/memory only when every app container declares them; BestEffort shares 2', () => {
  const g = pod([
    ctr('a', { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '250m', memory: '64Mi' } }),
    ctr('b', { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '250m', memory: '64Mi' } }),
  ]);
  assert.deepEqual(podCgroupConfig(g, 64), { qosClass: 'Guaranteed', resources: { cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, memoryLimitBytes: 128 * Mi, pidsLimit: 64 } });
  const b = pod([ctr('a', { requests: { cpu: '50m' }, limits: { cpu: '100m', memory: '32Mi' } }), ctr('b', { requests: { memory: '10Mi' } })]);
  assert.deepEqual(podCgroupConfig(b), { qosClass: 'Burstable', resources: { cpuShares: 51 } });
  const b2 = pod([ctr('a', { requests: { cpu: '50m' }, limits: { cpu: '100m' } })]);
  assert.deepEqual(podCgroupConfig(b2, 4096), { qosClass: 'Burstable', resources: { cpuShares: 51, cpuQuota: 10000, cpuPeriod: 100000, pidsLimit: 4096 } });
  assert.deepEqual(podCgroupConfig(pod([ctr('a')]), -1), { qosClass: 'BestEffort', resources: { cpuShares: 2 } });
});

test('pod amounts: max(sum of app containers, largest init container) + overhead', () => {
  const p = pod(
    [ctr('a', { requests: { cpu: '100m', memory: '100Mi' } }), ctr('b', { requests: { cpu: '100m', memory: '100Mi' } })],
    [ctr('i', { requests: { cpu: '500m', memory: '50Mi' } })],
    { overhead: { cpu: '10m', memory: '1Mi' } },
  );
  assert.deepEqual(podAmounts(p, 'requests'), { milliCpu: 510, memory: 201 * Mi });
});

test('fit: Insufficient memory/cpu against allocatable minus bound pods, as kube-scheduler words it', () => {
  const alloc = { cpu: '2', memory: '1Gi', pods: '110' };
  const big = pod([ctr('a', { requests: { memory: '600Mi' } })]);
  const fit = new ResourceFit(alloc, []);
  assert.equal(fit.misfit(big), undefined);
  fit.add(big);
  assert.equal(fit.misfit(big), '0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.');
  const both = pod([ctr('a', { requests: { cpu: '3', memory: '2Gi' } })]);
  assert.deepEqual(new ResourceFit(alloc, []).reasons(both), ['Insufficient cpu', 'Insufficient memory']);
  // no requests always fit; a full node refuses by count
  assert.equal(new ResourceFit(alloc, [big, big]).misfit(pod([ctr('a')])), undefined);
  assert.deepEqual(new ResourceFit({ ...alloc, pods: '1' }, [pod([ctr('a')])]).reasons(pod([ctr('a')])), ['Too many pods']);
  assert.equal(new ResourceFit(undefined, []).misfit(both), undefined, 'no node status yet: nothing held against pods');
});

test('fit: extended resources and hugepages the node lacks (allocatable absent = 0) are Insufficient, as fitsRequest', () => {
  const alloc = { cpu: '2', memory: '1Gi', pods: '110', 'hugepages-2Mi': '0', 'hugepages-1Gi': '0' };
  // requests as the API stores them: defaulted from the limits
  const gpu = pod([ctr('a', { limits: { 'nvidia.com/gpu': '1', 'example.com/foo': '5' }, requests: { 'nvidia.com/gpu': '1', 'example.com/foo': '5' } })]);
  assert.equal(
    new ResourceFit(alloc, []).misfit(gpu),
    '0/1 nodes are available: 1 Insufficient example.com/foo, 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
  );
  const huge = pod([ctr('a', { limits: { 'hugepages-2Mi': '2Mi', memory: '8Mi' }, requests: { 'hugepages-2Mi': '2Mi', memory: '8Mi' } })]);
  assert.deepEqual(new ResourceFit(alloc, []).reasons(huge), ['Insufficient hugepages-2Mi']);
  // a node that has them: fits until the bound pods take them
  const rich = { ...alloc, 'hugepages-2Mi': '4Mi', 'nvidia.com/gpu': '1', 'example.com/foo': '8' };
  const fit = new ResourceFit(rich, []);
  assert.equal(fit.misfit(huge), undefined);
  assert.equal(fit.misfit(gpu), undefined);
  fit.add(gpu);
  fit.add(huge);
  assert.deepEqual(fit.reasons(gpu), ['Insufficient example.com/foo', 'Insufficient nvidia.com/gpu']);
  assert.equal(fit.misfit(huge), undefined, '2Mi of 4Mi left');
  fit.add(huge);
  assert.deepEqual(fit.reasons(huge), ['Insufficient hugepages-2Mi']);
  // a zero request always fits; an init container's request counts as its max with the app's sum
  assert.equal(new ResourceFit(alloc, []).misfit(pod([ctr('a', { limits: { 'example.com/foo': '0' }, requests: { 'example.com/foo': '0' } })])), undefined);
  const init = pod([ctr('a', { requests: { 'example.com/foo': '1' } })], [ctr('i', { requests: { 'example.com/foo': '9' } })]);
  assert.deepEqual(podScalarRequests(init), new Map([['example.com/foo', 9]]));
  assert.deepEqual(new ResourceFit(rich, []).reasons(init), ['Insufficient example.com/foo']);
  // a node with no status yet holds nothing against pods
  assert.equal(new ResourceFit(undefined, []).misfit(gpu), undefined);
});

test('scalar resource names, as v1helper.IsScalarResourceName', () => {
  for (const n of ['nvidia.com/gpu', 'example.com/foo', 'hugepages-2Mi', 'hugepages-1Gi', 'kubernetes.io/foo', 'attachable-volumes-csi-x']) assert.ok(isScalarResourceName(n), n);
  for (const n of ['cpu', 'memory', 'ephemeral-storage', 'pods']) assert.ok(!isScalarResourceName(n), n);
});

test('node: capacity from the machine, allocatable less the 100Mi hard eviction threshold', () => {
  const r = nodeResources(2, 24 * 1024 * Mi, []);
  assert.deepEqual(r.capacity, { cpu: '2', memory: `${24 * 1024 * 1024}Ki`, pods: '110', 'ephemeral-storage': '0' });
  assert.equal(r.allocatable.memory, `${24 * 1024 * 1024 - 100 * 1024}Ki`);
  assert.equal(r.allocatable.cpu, '2');
});

test('node: each huge page size the kernel offers, as hugepages-<size>: the reserved bytes; allocatable memory less them', () => {
  const none = nodeResources(2, 24 * 1024 * Mi, [
    { pageBytes: 2 * Mi, pages: 0 },
    { pageBytes: 1024 * Mi, pages: 0 },
  ]);
  assert.equal(none.capacity['hugepages-2Mi'], '0');
  assert.equal(none.capacity['hugepages-1Gi'], '0');
  assert.equal(none.allocatable['hugepages-2Mi'], '0');
  assert.equal(none.allocatable['hugepages-1Gi'], '0');
  assert.equal(none.allocatable.memory, `${24 * 1024 * 1024 - 100 * 1024}Ki`);
  const some = nodeResources(2, 24 * 1024 * Mi, [{ pageBytes: 2 * Mi, pages: 512 }]);
  assert.equal(some.capacity['hugepages-2Mi'], '1Gi');
  assert.equal(some.allocatable['hugepages-2Mi'], '1Gi');
  assert.equal(some.capacity.memory, `${24 * 1024 * 1024}Ki`, 'capacity is MemTotal');
  assert.equal(some.allocatable.memory, `${23 * 1024 * 1024 - 100 * 1024}Ki`);
});

test('node: the huge page sizes are read from /sys/kernel/mm/hugepages/hugepages-<N>kB/nr_hugepages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hugepages-'));
  try {
    for (const [name, n] of [['hugepages-2048kB', '3\n'], ['hugepages-1048576kB', '0\n']]) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'nr_hugepages'), n);
    }
    mkdirSync(join(dir, 'other'));
    const sizes = hostHugePages(dir).sort((a, b) => a.pageBytes - b.pageBytes);
    assert.deepEqual(sizes, [
      { pageBytes: 2 * Mi, pages: 3 },
      { pageBytes: 1024 * Mi, pages: 0 },
    ]);
    assert.deepEqual(hostHugePages(join(dir, 'absent')), [], 'no hugetlb support: no sizes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
