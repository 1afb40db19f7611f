import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWrite, prepareVolumes, VolumeError } from './volumes.js';
import type { KubeletClient } from './client.js';

test('atomic writer: ..data swap, user-visible symlinks, modes, and no-op when unchanged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podbay-vol-'));
  try {
    assert.equal(atomicWrite(dir, [{ path: 'a.conf', content: Buffer.from('one'), mode: 0o644 }, { path: 'sub/b', content: Buffer.from('two'), mode: 0o400 }]), true);
    assert.equal(readFileSync(join(dir, 'a.conf'), 'utf8'), 'one');
    assert.equal(readlinkSync(join(dir, 'a.conf')), '..data/a.conf');
    assert.equal(statSync(join(dir, 'sub/b')).mode & 0o777, 0o400);
    const first = readlinkSync(join(dir, '..data'));
    assert.equal(atomicWrite(dir, [{ path: 'a.conf', content: Buffer.from('one'), mode: 0o644 }, { path: 'sub/b', content: Buffer.from('two'), mode: 0o400 }]), false);
    assert.equal(atomicWrite(dir, [{ path: 'a.conf', content: Buffer.from('uno'), mode: 0o644 }]), true);
    assert.equal(readFileSync(join(dir, 'a.conf'), 'utf8'), 'uno');
    assert.notEqual(readlinkSync(join(dir, '..data')), first);
    const entries = readdirSync(dir).sort();
    assert.deepEqual(entries.filter((e) => !e.startsWith('..')), ['a.conf'], 'sub is gone with its key');
    assert.equal(entries.filter((e) => e.startsWith('..2')).length, 1, 'the old version is removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

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
          { name: 'pw', secret: { secretName: 's', defaultMode: 0o400 } },
          { name: 'scratch', emptyDir: {} },
        ],
      },
    };
    const { paths } = await prepareVolumes(client, pod, dir);
    assert.deepEqual(readdirSync(paths.get('conf')!).filter((e) => !e.startsWith('..')), ['nginx.conf']);
    assert.equal(readFileSync(join(paths.get('pw')!, 'password'), 'utf8'), 'hunter2');
    assert.equal(statSync(join(paths.get('pw')!, 'password')).mode & 0o777, 0o400);
    assert.ok(statSync(paths.get('scratch')!).isDirectory());
    await assert.rejects(
      prepareVolumes(client, { metadata: { namespace: 'default' }, spec: { volumes: [{ name: 'v', configMap: { name: 'nope' } }] } }, dir),
      (e: unknown) => e instanceof VolumeError && /configmap "nope" not found/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
