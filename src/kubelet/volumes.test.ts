import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWrite, downwardFiles, emptyDirMemorySize, prepareVolumes, releaseVolumes, VolumeError, type FileEntry } from './volumes.js';
import type { DownwardContext } from './downward.js';
import type { Obj } from '../api/types.js';

const ctx: DownwardContext = { podIPs: [], hostIPs: ['192.0.2.1'], allocatable: { cpu: '2', memory: '1Gi', 'ephemeral-storage': '0' } };
import type { KubeletClient } from './client.js';

const files = (...f: [string, string, number?][]): FileEntry[] => f.map(([path, c, mode]) => ({ path, content: Buffer.from(c), mode: mode ?? 0o644 }));

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podbay-vol-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'atomic writer: ..data swap, user-visible symlinks, modes, and no-op when unchanged',
  withDir(async (root) => {
    const dir = join(root, 'vol');
    const rec = join(root, 'record.json');
    assert.equal(await atomicWrite(dir, files(['a.conf', 'one'], ['sub/b', 'two', 0o400]), rec), true);
    assert.equal(readFileSync(join(dir, 'a.conf'), 'utf8'), 'one');
    assert.equal(readlinkSync(join(dir, 'a.conf')), '..data/a.conf');
    assert.equal(statSync(join(dir, 'sub/b')).mode & 0o777, 0o400);
    const first = readlinkSync(join(dir, '..data'));
    assert.equal(statSync(join(dir, first)).mode & 0o7777, 0o755, 'the version dir');
    assert.equal(statSync(join(dir, first, 'sub')).mode & 0o7777, 0o755, 'a subdir of it');
    assert.equal(statSync(join(dir, 'a.conf')).mode & 0o7777, 0o644, 'a top-level file, written without a path walk');
    assert.equal(await atomicWrite(dir, files(['a.conf', 'one'], ['sub/b', 'two', 0o400]), rec), false);
    assert.equal(await atomicWrite(dir, files(['a.conf', 'uno']), rec), true);
    assert.equal(readFileSync(join(dir, 'a.conf'), 'utf8'), 'uno');
    assert.notEqual(readlinkSync(join(dir, '..data')), first);
    const entries = readdirSync(dir).sort();
    assert.deepEqual(entries.filter((e) => !e.startsWith('..')), ['a.conf'], 'sub is gone with its key');
    assert.equal(entries.filter((e) => e.startsWith('..2')).length, 1, 'the old version is removed');
    assert.ok(!readFileSync(rec, 'utf8').includes('uno'), 'the record holds names, not content');
  }),
);

test(
  'atomic writer: a tampered ..data pointing outside is replaced, never followed or removed through',
  withDir(async (root) => {
    const dir = join(root, 'vol');
    const rec = join(root, 'record.json');
    const canary = join(root, 'canary');
    mkdirSync(canary);
    writeFileSync(join(canary, 'precious'), 'keep me');
    await atomicWrite(dir, files(['k', 'v1']), rec);
    // what a container with write access would do: ..data -> the host dir, plus a fake version
    // dir named like podbay's that links outside, and user-visible names swapped for links
    rmSync(join(dir, '..data'));
    symlinkSync(canary, join(dir, '..data'));
    const fake = '..2001_01_01_00_00_00.000000000';
    symlinkSync(canary, join(dir, fake));
    rmSync(join(dir, 'k'));
    symlinkSync(canary, join(dir, 'k'));
    assert.equal(await atomicWrite(dir, files(['k2', 'v2']), rec), true);
    assert.equal(readFileSync(join(canary, 'precious'), 'utf8'), 'keep me', 'the canary survives');
    assert.ok(existsSync(join(dir, fake)), 'a link podbay did not make is not removed (nor followed)');
    assert.equal(readFileSync(join(dir, 'k2'), 'utf8'), 'v2');
    assert.match(readlinkSync(join(dir, '..data')), /^\.\.\d{4}_/);
    // a recorded version dir swapped for a link to the host: lstat says link, it stays untouched
    const current = readlinkSync(join(dir, '..data'));
    renameSync(join(dir, current), join(root, 'moved'));
    symlinkSync(canary, join(dir, current));
    await atomicWrite(dir, files(['k3', 'v3']), rec);
    assert.equal(readFileSync(join(canary, 'precious'), 'utf8'), 'keep me', 'the canary survives a swapped version dir');
  }),
);

test(
  'atomic writer: a FIFO planted in the volume does not block it',
  withDir(async (root) => {
    const dir = join(root, 'vol');
    const rec = join(root, 'record.json');
    await atomicWrite(dir, files(['a', '1']), rec);
    const current = readlinkSync(join(dir, '..data'));
    rmSync(join(dir, current, 'a'));
    execFileSync('mkfifo', [join(dir, current, 'a')]);
    execFileSync('mkfifo', [join(dir, 'b')]);
    execFileSync('mkfifo', [join(dir, '..data_tmp')]);
    const t0 = Date.now();
    await atomicWrite(dir, files(['a', '2'], ['b', 'x']), rec);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), '2');
    assert.ok(statSync(join(dir, 'b')).isFIFO(), 'a name podbay did not make is left as it is');
  }),
);

test(
  'atomic writer refuses item paths that climb out',
  withDir(async (root) => {
    for (const p of ['../x', '/etc/x', '..data/x', 'a/../../x']) {
      await assert.rejects(atomicWrite(join(root, 'vol'), files([p, 'x']), join(root, 'r.json'), 'v'), VolumeError, p);
    }
  }),
);

test('configMap volumes with items and a missing ConfigMap', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podbay-vol-'));
  const client = {
    getConfigMap: async (_ns: string, name: string) => (name === 'cfg' ? { data: { 'nginx.conf': 'events {}', other: 'x' } } : undefined),
    getSecret: async () => ({ data: { password: Buffer.from('hunter2').toString('base64') } }),
  } as unknown as KubeletClient;
  try {
    const pod = {
      metadata: { namespace: 'default' },
      spec: {
        volumes: [
          { name: 'conf', configMap: { name: 'cfg', items: [{ key: 'nginx.conf', path: 'nginx.conf' }] } },
          { name: 'scratch', emptyDir: {} },
        ],
      },
    };
    const { volumes } = await prepareVolumes(client, pod, dir, ctx);
    const conf = volumes.get('conf')!;
    assert.deepEqual(readdirSync(conf.hostPath).filter((e) => !e.startsWith('..')), ['nginx.conf']);
    assert.equal(conf.forceReadOnly, true, 'configMap volumes are read-only in containers');
    assert.ok(!conf.hostPath.startsWith(join(dir, 'volume-records')));
    assert.ok(existsSync(join(dir, 'volume-records', 'kubernetes.io~configmap', 'conf.json')), 'the record lives outside the volume');
    assert.equal(volumes.get('scratch')!.forceReadOnly, false);
    assert.ok(statSync(volumes.get('scratch')!.hostPath).isDirectory());
    await assert.rejects(
      prepareVolumes(client, { metadata: { namespace: 'default' }, spec: { volumes: [{ name: 'v', configMap: { name: 'nope' } }] } }, dir, ctx),
      (e: unknown) => e instanceof VolumeError && /configmap "nope" not found/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a configMap volume dir that is not a directory podbay made fails as FailedMount, not through the link', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podbay-vol-'));
  const client = { getConfigMap: async () => ({ data: { k: 'v' } }) } as unknown as KubeletClient;
  try {
    const canary = join(dir, 'canary');
    mkdirSync(canary);
    mkdirSync(join(dir, 'volumes', 'kubernetes.io~configmap'), { recursive: true });
    symlinkSync(canary, join(dir, 'volumes', 'kubernetes.io~configmap', 'conf'));
    await assert.rejects(
      prepareVolumes(client, { metadata: { namespace: 'default' }, spec: { volumes: [{ name: 'conf', configMap: { name: 'cfg' } }] } }, dir, ctx),
      (e: unknown) => e instanceof VolumeError && /MountVolume.SetUp failed for volume "conf"/.test(e.message),
    );
    assert.deepEqual(readdirSync(canary), [], 'nothing written through the link');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('downwardAPI items: labels as k="v" lines, a resource with its divisor, item modes', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u', labels: { b: '2', a: 'x"y' } }, spec: { containers: [{ name: 'app', resources: { limits: { memory: '64Mi' } } }] } };
  const out = downwardFiles(
    pod,
    'info',
    [
      { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
      { path: 'mem', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' }, mode: 0o400 },
    ],
    0o644,
    ctx,
  );
  assert.deepEqual(
    out.map((f) => [f.path, f.content.toString(), f.mode]),
    [
      ['labels', 'a="x\\"y"\nb="2"', 0o644],
      ['mem', '64', 0o400],
    ],
  );
  assert.throws(() => downwardFiles(pod, 'info', [{ path: 'x', resourceFieldRef: { containerName: 'nope', resource: 'limits.cpu' } }], 0o644, ctx), /volume "info" : container nope not found/);
});

test('projected volume: configMap + secret + downwardAPI + the pod\'s token in one dir; a token that cannot be had is FailedMount', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podbay-vol-'));
  const client = {
    getConfigMap: async () => ({ data: { 'app.conf': 'on' } }),
    getSecret: async () => ({ data: { token: Buffer.from('s3cr3t').toString('base64') } }),
    serviceAccountToken: async (p: any, proj: any) => {
      if (proj.audience === 'nobody') throw new Error('serviceaccounts "default" not found');
      return `jwt-for-${p.metadata.uid}`;
    },
  } as unknown as KubeletClient;
  const pod = (sources: unknown[]) => ({ metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'c' }], volumes: [{ name: 'all', projected: { defaultMode: 0o440, sources } }] } });
  try {
    const { volumes } = await prepareVolumes(
      client,
      pod([{ configMap: { name: 'cm' } }, { secret: { name: 's', items: [{ key: 'token', path: 'creds/token', mode: 0o400 }] } }, { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } }]),
      dir,
      ctx,
    );
    const v = volumes.get('all')!;
    assert.equal(v.forceReadOnly, true);
    assert.equal(readFileSync(join(v.hostPath, 'app.conf'), 'utf8'), 'on');
    assert.equal(readFileSync(join(v.hostPath, 'creds/token'), 'utf8'), 's3cr3t');
    assert.equal(readFileSync(join(v.hostPath, 'name'), 'utf8'), 'p');
    assert.equal(statSync(join(v.hostPath, 'app.conf')).mode & 0o777, 0o440, 'defaultMode');
    assert.equal(statSync(join(v.hostPath, 'creds/token')).mode & 0o777, 0o400, 'item mode');
    const tok = await prepareVolumes(client, pod([{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }]), join(dir, 'tok'), ctx);
    assert.equal(readFileSync(join(tok.volumes.get('all')!.hostPath, 'token'), 'utf8'), 'jwt-for-u1');
    await assert.rejects(prepareVolumes(client, pod([{ serviceAccountToken: { path: 't', audience: 'nobody' } }]), join(dir, 'other'), ctx), /volume "all" : failed to fetch token: serviceaccounts "default" not found/);
    await assert.rejects(prepareVolumes(client, pod([{ clusterTrustBundle: { path: 't' } }]), join(dir, 'other'), ctx), /projected source clusterTrustBundle is not supported/);
  } finally {
    await releaseVolumes(dir);
  }
});

test('emptyDirMemorySize: the smallest of allocatable, the pod cgroup memory limit and sizeLimit (calculateEmptyDirMemorySize)', () => {
  const Mi = 1024 * 1024;
  const alloc = 2048 * Mi;
  const c = (name: string, limits?: Obj, requests?: Obj) => ({ name, image: 'busybox', ...(limits || requests ? { resources: { ...(limits ? { limits } : {}), ...(requests ? { requests } : {}) } } : {}) });
  const p = (containers: Obj[], initContainers: Obj[] = []) => ({ spec: { containers, initContainers } });
  // BestEffort, no sizeLimit: allocatable
  assert.equal(emptyDirMemorySize(p([c('a')]), { medium: 'Memory' }, alloc), alloc);
  // sizeLimit below allocatable
  assert.equal(emptyDirMemorySize(p([c('a')]), { medium: 'Memory', sizeLimit: '10Mi' }, alloc), 10 * Mi);
  // sizeLimit above allocatable: allocatable
  assert.equal(emptyDirMemorySize(p([c('a')]), { medium: 'Memory', sizeLimit: '4Gi' }, alloc), alloc);
  // every app container limits memory: the pod limit (sum), lower than sizeLimit
  assert.equal(emptyDirMemorySize(p([c('a', { memory: '64Mi' }), c('b', { memory: '32Mi' })]), { medium: 'Memory', sizeLimit: '1Gi' }, alloc), 96 * Mi);
  // sizeLimit under the pod limit wins
  assert.equal(emptyDirMemorySize(p([c('a', { memory: '64Mi' })]), { medium: 'Memory', sizeLimit: '10Mi' }, alloc), 10 * Mi);
  // an init container's larger limit: max(sum of apps, any init)
  assert.equal(emptyDirMemorySize(p([c('a', { memory: '64Mi' })], [c('i', { memory: '128Mi' })]), { medium: 'Memory' }, alloc), 128 * Mi);
  // Burstable with one app container without a memory limit: no pod memory limit
  assert.equal(emptyDirMemorySize(p([c('a', { memory: '64Mi' }), c('b', undefined, { cpu: '100m' })]), { medium: 'Memory' }, alloc), alloc);
  // a pod limit above allocatable does not raise it
  assert.equal(emptyDirMemorySize(p([c('a', { memory: '8Gi' })]), { medium: 'Memory' }, alloc), alloc);
  // sizeLimit "0" counts as unset; no allocatable known: no size (the kernel's default)
  assert.equal(emptyDirMemorySize(p([c('a')]), { medium: 'Memory', sizeLimit: '0' }, alloc), alloc);
  assert.equal(emptyDirMemorySize(p([c('a')]), { medium: 'Memory' }, 0), 0);
});
