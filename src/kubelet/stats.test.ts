import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { meminfoWorkingSetBytes, memoryStatValue, MIN_WINDOW_MS, NodeStats, procStatBusyNs, RateKeeper } from './stats.js';

describe('usage counters', () => {
  it('/proc/stat: busy = user+nice+system+irq+softirq+steal, jiffies to ns', () => {
    const text = 'cpu  100 20 30 1000 50 5 5 10 7 0\ncpu0 1 2 3 4\n';
    assert.equal(procStatBusyNs(text), ((100 + 20 + 30 + 5 + 5 + 10) * 1e9) / 100);
    assert.equal(procStatBusyNs('intr 1'), undefined);
  });

  it('/proc/meminfo: MemTotal - MemFree - Inactive(file)', () => {
    const text = 'MemTotal:       1000 kB\nMemFree:         200 kB\nInactive(anon):   10 kB\nInactive(file):  300 kB\n';
    assert.equal(meminfoWorkingSetBytes(text), 500 * 1024);
    assert.equal(memoryStatValue('cache 1\ntotal_inactive_file 4096\n', 'total_inactive_file'), 4096);
    assert.equal(memoryStatValue('inactive_file 7\n', 'total_inactive_file'), undefined);
  });

  it('rates: compared with the newest sample at least the minimum window old; a counter that went back starts over', () => {
    const k = new RateKeeper();
    k.record('c', { t: 0, v: 0 });
    assert.equal(k.rate('c', { t: 500, v: 1e9 }), undefined, 'too recent to be a base');
    k.record('c', { t: 500, v: 1e9 }); // kept out: less than the window after the last one
    const r = k.rate('c', { t: 2000, v: 2e9 })!;
    assert.equal(r.windowMs, 2000);
    assert.equal(r.perSecond, 1e9);
    k.record('c', { t: 2000, v: 2e9 });
    assert.equal(k.rate('c', { t: 3500, v: 3e9 })!.windowMs, 1500);
    k.record('c', { t: 3500, v: 5 });
    assert.equal(k.rate('c', { t: 4000, v: 6 }), undefined);
  });
});

describe('NodeStats on a cgroup v1 layout (files in a temp dir)', () => {
  it('reads cpuacct.usage twice when it has no earlier sample; memory is the working set', async () => {
    const root = mkdtempSync(join(tmpdir(), 'podbay-stats-'));
    try {
      const cpuacct = join(root, 'cpuacct');
      const memory = join(root, 'memory');
      const path = '/pb/kubepods/besteffort/podu1/c1';
      mkdirSync(join(cpuacct, path), { recursive: true });
      mkdirSync(join(memory, path), { recursive: true });
      writeFileSync(join(memory, path, 'memory.usage_in_bytes'), String(10 * 1024 * 1024));
      writeFileSync(join(memory, path, 'memory.stat'), `cache 5\ntotal_inactive_file ${4 * 1024 * 1024}\n`);
      let cpu = 0;
      const stats = new NodeStats({
        layout: { version: 'v1', hierarchies: [{ mountPoint: cpuacct, controllers: ['cpu', 'cpuacct'] }, { mountPoint: memory, controllers: ['memory'] }], memsw: false },
        podSandbox: async (uid) => (uid === 'u1' ? { id: 's', cgroupParent: '/pb/kubepods/besteffort/podu1' } : undefined),
        runningContainers: async () => [{ id: 'c1', name: 'app' }],
      });
      // half a core: the counter advances 0.5 s of CPU per second of wall time
      const t0 = Date.now();
      writeFileSync(join(cpuacct, path, 'cpuacct.usage'), String(cpu));
      const timer = setInterval(() => writeFileSync(join(cpuacct, path, 'cpuacct.usage'), String((cpu = Math.round((Date.now() - t0) * 0.5e6)))), 10);
      const u = await stats.podUsage('u1');
      clearInterval(timer);
      assert.ok(u, 'usage after one window');
      assert.ok(u!.windowMs >= MIN_WINDOW_MS, `window ${u!.windowMs}`);
      const nano = u!.containers[0]!.cpuNanoCores;
      assert.ok(nano > 0.35e9 && nano < 0.65e9, `about half a core: ${nano}`);
      assert.equal(u!.containers[0]!.memoryWorkingSetBytes, 6 * 1024 * 1024);
      assert.equal(await stats.podUsage('other'), undefined);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
