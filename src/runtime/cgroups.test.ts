import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMountinfo } from '../sys/mountinfo.js';
import {
  bestEffortWrites,
  containerOciResources,
  controllerDir,
  detectCgroupLayout,
  hierarchyMounts,
  kubepodsWrites,
  normalizeCgroupRoot,
  podCgroupDirs,
  podCgroupParent,
  podCgroupWrites,
  podUidOfCgroup,
  PodCgroups,
  sharesToWeight,
  withCgroup,
  type CgroupLayout,
} from './cgroups.js';

// this machine's layout: v1 controllers, each its own hierarchy, plus a controller-less cgroup2
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
// a systemd distribution's v1 (cpu and cpuacct co-mounted), and a pure v2 host
const COMOUNTED = `25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
27 24 0:24 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
`;
const V2 = `30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

const probe = (files: Record<string, string>) => ({ exists: (p: string) => p in files, read: (p: string) => files[p] ?? '' });

const hybrid = detectCgroupLayout(parseMountinfo(HYBRID), probe({ '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes': '' }))!;
const v2 = detectCgroupLayout(parseMountinfo(V2), probe({ '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n' }))!;

test('detect: the hybrid v1 layout (controllers, unified mount, swap accounting)', () => {
  assert.equal(hybrid.version, 'v1');
  if (hybrid.version !== 'v1') return;
  assert.equal(hybrid.unified, '/sys/fs/cgroup/unified');
  assert.equal(hybrid.memsw, true);
  assert.deepEqual(hybrid.hierarchies.find((h) => h.mountPoint === '/sys/fs/cgroup/systemd')?.controllers, ['name=systemd']);
  assert.deepEqual(hierarchyMounts(hybrid), [
    '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup/cpuset', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/devices',
    '/sys/fs/cgroup/pids', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified',
  ]);
  const noSwap = detectCgroupLayout(parseMountinfo(HYBRID), probe({}))!;
  assert.equal(noSwap.version === 'v1' && noSwap.memsw, false);
});

test('detect: co-mounted v1 controllers, pure v2, and nothing usable', () => {
  const co = detectCgroupLayout(parseMountinfo(COMOUNTED), probe({}))!;
  assert.equal(controllerDir(co, 'cpu', '/p'), '/sys/fs/cgroup/cpu,cpuacct/p');
  assert.equal(controllerDir(co, 'cpuacct', '/p'), '/sys/fs/cgroup/cpu,cpuacct/p');
  assert.deepEqual(v2, { version: 'v2', mountPoint: '/sys/fs/cgroup', controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'] });
  assert.equal(controllerDir(v2, 'memory', '/podbay/x'), '/sys/fs/cgroup/podbay/x');
  assert.equal(detectCgroupLayout(parseMountinfo('1 0 0:1 / / rw - ext4 /dev/sda rw\n'), probe({})), undefined);
  // a v2 mount without the memory controller delegated cannot confine pods
  assert.equal(detectCgroupLayout(parseMountinfo(V2), probe({ '/sys/fs/cgroup/cgroup.controllers': 'pids\n' })), undefined);
});

test('paths: the kubelet shape under podbay root, by QoS class', () => {
  const uid = '0b1c2d3e-aaaa-bbbb-cccc-0123456789ab';
  assert.equal(podCgroupParent('/podbay', 'Guaranteed', uid), `/podbay/kubepods/pod${uid}`);
  assert.equal(podCgroupParent('/podbay', 'Burstable', uid), `/podbay/kubepods/burstable/pod${uid}`);
  assert.equal(podCgroupParent('/podbay', 'BestEffort', uid), `/podbay/kubepods/besteffort/pod${uid}`);
  assert.throws(() => podCgroupParent('/podbay', 'Burstable', '../../etc'), /cannot name a cgroup/);
  assert.equal(podUidOfCgroup(`pod${uid}`), uid);
  assert.equal(podUidOfCgroup('burstable'), undefined);
  assert.equal(normalizeCgroupRoot('podbay//x/'), '/podbay/x');
  assert.throws(() => normalizeCgroupRoot('/'), /directory of its own/);
  assert.throws(() => normalizeCgroupRoot('/a/../b'), /plain name/);
});

test('pod dirs: podbay makes the QoS levels and the pod dir where it writes limits', () => {
  const parent = '/podbay/kubepods/burstable/podU';
  assert.deepEqual(podCgroupDirs(hybrid, '/podbay', parent).filter((d) => d.startsWith('/sys/fs/cgroup/memory')), [
    '/sys/fs/cgroup/memory/podbay', '/sys/fs/cgroup/memory/podbay/kubepods', '/sys/fs/cgroup/memory/podbay/kubepods/burstable', `/sys/fs/cgroup/memory${parent}`,
  ]);
  assert.equal(podCgroupDirs(hybrid, '/podbay', parent).length, 12, 'memory, cpu, pids trees');
  // a Guaranteed pod sits in kubepods itself
  assert.deepEqual(podCgroupDirs(v2, '/podbay', '/podbay/kubepods/podU'), ['/sys/fs/cgroup/podbay', '/sys/fs/cgroup/podbay/kubepods', '/sys/fs/cgroup/podbay/kubepods/podU']);
});

test('pod limits on v1: memory (+memsw), shares, CFS quota, pids.max', () => {
  const w = podCgroupWrites(hybrid, '/podbay/kubepods/podU', { cpuShares: 256, cpuQuota: 25000, cpuPeriod: 100000, memoryLimitBytes: 67108864, pidsLimit: 64 });
  assert.deepEqual(
    w.map((x) => `${x.dir}/${x.file}=${x.value}`),
    [
      '/sys/fs/cgroup/memory/podbay/kubepods/podU/memory.limit_in_bytes=67108864',
      '/sys/fs/cgroup/memory/podbay/kubepods/podU/memory.memsw.limit_in_bytes=67108864',
      '/sys/fs/cgroup/cpu/podbay/kubepods/podU/cpu.shares=256',
      '/sys/fs/cgroup/cpu/podbay/kubepods/podU/cpu.cfs_period_us=100000',
      '/sys/fs/cgroup/cpu/podbay/kubepods/podU/cpu.cfs_quota_us=25000',
      '/sys/fs/cgroup/pids/podbay/kubepods/podU/pids.max=64',
    ],
  );
  // BestEffort: shares only (no memory, no quota); no pids limit when unlimited
  assert.deepEqual(podCgroupWrites(hybrid, '/r/kubepods/besteffort/podU', { cpuShares: 2 }).map((x) => x.file), ['cpu.shares']);
  assert.deepEqual(bestEffortWrites(hybrid, '/r'), [{ dir: '/sys/fs/cgroup/cpu/r/kubepods/besteffort', file: 'cpu.shares', value: '2' }]);
});

test('pod limits on v2: controllers delegated down the path, then memory.max, swap 0, cpu.weight, cpu.max, pids.max', () => {
  const w = podCgroupWrites(v2, '/podbay/kubepods/burstable/podU', { cpuShares: 51, cpuQuota: 10000, cpuPeriod: 100000, memoryLimitBytes: 33554432, pidsLimit: 4096 });
  assert.deepEqual(
    w.map((x) => `${x.dir}/${x.file}=${x.value}${x.optional ? ' (optional)' : ''}`),
    [
      '/sys/fs/cgroup/cgroup.subtree_control=+cpu +memory +pids',
      '/sys/fs/cgroup/podbay/cgroup.subtree_control=+cpu +memory +pids',
      '/sys/fs/cgroup/podbay/kubepods/cgroup.subtree_control=+cpu +memory +pids',
      '/sys/fs/cgroup/podbay/kubepods/burstable/cgroup.subtree_control=+cpu +memory +pids',
      '/sys/fs/cgroup/podbay/kubepods/burstable/podU/memory.max=33554432',
      '/sys/fs/cgroup/podbay/kubepods/burstable/podU/memory.swap.max=0 (optional)',
      '/sys/fs/cgroup/podbay/kubepods/burstable/podU/cpu.weight=2',
      '/sys/fs/cgroup/podbay/kubepods/burstable/podU/cpu.max=10000 100000',
      '/sys/fs/cgroup/podbay/kubepods/burstable/podU/pids.max=4096',
    ],
  );
  assert.deepEqual(bestEffortWrites(v2, '/r'), [{ dir: '/sys/fs/cgroup/r/kubepods/besteffort', file: 'cpu.weight', value: '1' }]);
});

test('shares -> weight as runc converts them on v2', () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(262144), 10000);
});

test('container OCI resources: memory with swap capped where accounted, shares, quota; merged into the spec', () => {
  const r = { cpuShares: 102, cpuQuota: 10000, cpuPeriod: 100000, memoryLimitBytes: 33554432 };
  assert.deepEqual(containerOciResources(r, hybrid), { cpu: { shares: 102, quota: 10000, period: 100000 }, memory: { limit: 33554432, swap: 33554432 } });
  const noSwap: CgroupLayout = { ...(hybrid as Extract<CgroupLayout, { version: 'v1' }>), memsw: false };
  assert.deepEqual(containerOciResources(r, noSwap).memory, { limit: 33554432 });
  // v2: runc turns memory+swap = limit into memory.swap.max 0
  assert.deepEqual(containerOciResources(r, v2).memory, { limit: 33554432, swap: 33554432 });
  assert.deepEqual(containerOciResources({ cpuShares: 2 }, hybrid), { cpu: { shares: 2 } });
  assert.deepEqual(containerOciResources(undefined, hybrid), {});
  const spec = { linux: { namespaces: [], resources: { devices: [{ allow: false, access: 'rwm' }] } } };
  const out = withCgroup(spec, '/podbay/kubepods/podU/abc', { pids: { limit: 5 } });
  assert.deepEqual(out.linux, { namespaces: [], cgroupsPath: '/podbay/kubepods/podU/abc', resources: { devices: [{ allow: false, access: 'rwm' }], pids: { limit: 5 } } });
  assert.equal(spec.linux.resources.devices.length, 1, 'the input spec is not changed');
});

test('kubepods capped at the node allocatable: memory limit, cpu shares of the allocatable CPUs', () => {
  const a = { memoryBytes: 24 * 1024 ** 3, milliCpu: 2000 };
  assert.deepEqual(kubepodsWrites(hybrid, '/podbay', a), [
    { dir: '/sys/fs/cgroup/memory/podbay/kubepods', file: 'memory.limit_in_bytes', value: String(24 * 1024 ** 3) },
    { dir: '/sys/fs/cgroup/cpu/podbay/kubepods', file: 'cpu.shares', value: '2048' },
  ]);
  assert.deepEqual(kubepodsWrites(v2, '/podbay', a), [
    { dir: '/sys/fs/cgroup/podbay/kubepods', file: 'memory.max', value: String(24 * 1024 ** 3) },
    { dir: '/sys/fs/cgroup/podbay/kubepods', file: 'cpu.weight', value: '79' },
  ]);
});

test('PodCgroups.createPod: the QoS level once per process, each pod its own dirs and limits; a level gone is made again', async () => {
  const d = mkdtempSync(join(tmpdir(), 'podbay-cg-'));
  try {
    // plain directories stand in for the v1 hierarchies (cgroupfs makes the control files itself)
    const layout: CgroupLayout = {
      version: 'v1',
      hierarchies: ['cpu', 'memory', 'pids'].map((c) => ({ mountPoint: join(d, c), controllers: [c] })),
      memsw: false,
    };
    for (const h of layout.hierarchies) mkdirSync(h.mountPoint);
    const cg = new PodCgroups(layout, '/podbay', { memoryBytes: 1 << 30, milliCpu: 2000 });
    const be = (uid: string) => cg.parentOf('BestEffort', uid);
    const read = (p: string) => readFileSync(join(d, p), 'utf8');
    await cg.createPod(be('a'), { cpuShares: 2 });
    assert.equal(read('cpu/podbay/kubepods/cpu.shares'), '2048');
    assert.equal(read('memory/podbay/kubepods/memory.limit_in_bytes'), String(1 << 30));
    assert.equal(read('cpu/podbay/kubepods/besteffort/cpu.shares'), '2');
    assert.equal(read('cpu/podbay/kubepods/besteffort/poda/cpu.shares'), '2');
    // the level's limits are not written again for the next pod
    writeFileSync(join(d, 'cpu/podbay/kubepods/cpu.shares'), 'untouched');
    await cg.createPod(be('b'), { cpuShares: 2, memoryLimitBytes: 1000 });
    assert.equal(read('cpu/podbay/kubepods/cpu.shares'), 'untouched');
    assert.equal(read('memory/podbay/kubepods/besteffort/podb/memory.limit_in_bytes'), '1000');
    assert.ok(statSync(join(d, 'pids/podbay/kubepods/besteffort/podb')).isDirectory());
    // the level removed behind its back: made again, with its limits
    for (const h of layout.hierarchies) rmSync(join(h.mountPoint, 'podbay'), { recursive: true });
    await cg.createPod(be('c'), { cpuShares: 2 });
    assert.equal(read('cpu/podbay/kubepods/cpu.shares'), '2048');
    assert.equal(read('cpu/podbay/kubepods/besteffort/podc/cpu.shares'), '2');
    // another class makes its own level
    await cg.createPod(cg.parentOf('Burstable', 'd'), { cpuShares: 512 });
    assert.equal(read('cpu/podbay/kubepods/burstable/podd/cpu.shares'), '512');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
