import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskUsage, evictedStatus, hasStorageLimits, storageEvictionMessage } from './eviction.js';

const Mi = 1024 * 1024;
const pod = (spec: object) => ({ metadata: { name: 'p', namespace: 'd', uid: 'u' }, spec });
const withCache = pod({
  volumes: [{ name: 'cache', emptyDir: { sizeLimit: '1Mi' } }, { name: 'mem', emptyDir: { medium: 'Memory' } }],
  containers: [{ name: 'app', resources: { limits: { 'ephemeral-storage': '2Mi' } } }, { name: 'side', resources: { limits: { 'ephemeral-storage': '2Mi' } } }],
});

test('the kubelet order and words: emptyDir sizeLimit, then the pod total, then one container', () => {
  const ok = { emptyDirs: { cache: Mi, mem: 50 * Mi }, containers: { app: { rootfs: Mi, logs: 0 }, side: { rootfs: 0, logs: 0 } } };
  assert.equal(storageEvictionMessage(withCache, ok), undefined, 'at the limit is within it; memory emptyDirs do not count toward the pod total');
  assert.equal(storageEvictionMessage(withCache, { ...ok, emptyDirs: { cache: Mi + 1 } }), 'Usage of EmptyDir volume "cache" exceeds the limit "1Mi". ');
  assert.equal(
    storageEvictionMessage(withCache, { ...ok, containers: { app: { rootfs: 2 * Mi, logs: 1 }, side: { rootfs: Mi, logs: 0 } } }),
    'Pod ephemeral local storage usage exceeds the total limit of containers 4Mi. ',
  );
  assert.equal(
    storageEvictionMessage(withCache, { emptyDirs: {}, containers: { app: { rootfs: 2 * Mi, logs: 1 }, side: { rootfs: 0, logs: 0 } } }),
    'Container app exceeded its local ephemeral storage limit "2Mi". ',
  );
  assert.equal(hasStorageLimits(withCache), true);
  assert.equal(hasStorageLimits(pod({ volumes: [{ name: 'x', emptyDir: {} }], containers: [{ name: 'a' }] })), false);
});

test('an evicted pod: Failed, reason Evicted, the message, a DisruptionTarget condition', () => {
  const s = evictedStatus({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }, 'm. ', '2026-01-01T00:00:00Z');
  assert.equal(s.phase, 'Failed');
  assert.equal(s.reason, 'Evicted');
  assert.equal(s.message, 'm. ');
  assert.deepEqual(s.conditions[1], { type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'TerminationByKubelet', message: 'm. ' });
});

test('du counts blocks under a directory and does not follow symlinks out of it', async () => {
  const d = mkdtempSync(join(tmpdir(), 'podbay-du-'));
  try {
    mkdirSync(join(d, 'v'));
    writeFileSync(join(d, 'v', 'f'), Buffer.alloc(3 * Mi, 1));
    mkdirSync(join(d, 'big'));
    writeFileSync(join(d, 'big', 'g'), Buffer.alloc(8 * Mi, 1));
    symlinkSync(join(d, 'big'), join(d, 'v', 'link'));
    const n = await diskUsage(join(d, 'v'));
    assert.ok(n >= 3 * Mi && n < 4 * Mi, `3 MiB counted, the 8 MiB behind the symlink not (${n})`);
    assert.equal(await diskUsage(join(d, 'gone')), 0);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
