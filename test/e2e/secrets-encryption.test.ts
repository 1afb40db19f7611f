/**
 * Secrets encrypted at rest (--encryption-provider-config, kube-apiserver's EncryptionConfiguration),
 * checked where it matters: the SQLite files on disk (database, WAL, shared memory) never hold
 * the secret's value, in plain or in base64, while kubectl reads it back unchanged; a rotated key
 * still reads old values; a bad file stops the server at start with a message naming the field.
 * API-only servers (--no-kubelet): no pods, no host state.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { PODBAY, PodbayServer, kubectlBinaries } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);
const KEY1 = Buffer.alloc(32, 0x11).toString('base64');
const KEY2 = Buffer.alloc(32, 0x22).toString('base64');
const VALUE = 'sekrit';
const VALUE_B64 = Buffer.from(VALUE).toString('base64');

function encConfig(providers: string): string {
  return `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
${providers}`;
}

/** Every SQLite file of the data dir (state.db, -wal, -shm), as one byte string. */
function storeBytes(dataDir: string): { names: string[]; bytes: Buffer } {
  const names = readdirSync(dataDir).filter((n) => n.startsWith('state.db'));
  return { names, bytes: Buffer.concat(names.map((n) => readFileSync(join(dataDir, n)))) };
}

describe('secrets encrypted at rest (--encryption-provider-config)', () => {
  const work = mkdtempSync(join(tmpdir(), 'podbay-e2e-enc-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  const ok = (s: PodbayServer, ...args: string[]) => {
    const r = s.kubectl(kc.path, args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };

  it('without the flag the value is on disk (the check below can see it)', async () => {
    const s = await PodbayServer.start(['--no-kubelet']);
    try {
      ok(s, 'create', 'secret', 'generic', 's', `--from-literal=k=${VALUE}`);
      const { names, bytes } = storeBytes(s.dataDir);
      assert.ok(bytes.includes(VALUE_B64), `the plain store holds ${VALUE_B64} in ${names.join(', ')}`);
    } finally {
      await s.teardown();
    }
  });

  it('aescbc: nothing of the value in the SQLite files, kubectl reads it back; a rotated key still reads it', async () => {
    const cfg1 = join(work, 'enc1.yaml');
    writeFileSync(cfg1, encConfig(`  - aescbc:\n      keys:\n      - {name: key1, secret: ${KEY1}}\n  - identity: {}\n`), { mode: 0o600 });
    const s = await PodbayServer.start(['--no-kubelet', '--encryption-provider-config', cfg1]);
    try {
      ok(s, 'create', 'secret', 'generic', 's', `--from-literal=k=${VALUE}`);
      ok(s, 'create', 'configmap', 'c', '--from-literal=k=visible-config');
      assert.equal(Buffer.from(ok(s, 'get', 'secret', 's', '-o', 'jsonpath={.data.k}'), 'base64').toString(), VALUE);
      let disk = storeBytes(s.dataDir);
      assert.ok(disk.names.some((n) => n.endsWith('-wal')), `the WAL is among the files checked (${disk.names.join(', ')})`);
      assert.ok(!disk.bytes.includes(VALUE), `"${VALUE}" is not on disk`);
      assert.ok(!disk.bytes.includes(VALUE_B64), `"${VALUE_B64}" is not on disk`);
      assert.ok(disk.bytes.includes('k8s:enc:aescbc:v1:key1:'), 'the secret is stored with the aescbc prefix');
      assert.ok(disk.bytes.includes('visible-config'), 'configmaps (not listed) stay plain');

      // rotate: key2 first, key1 still listed for reading
      assert.equal(await s.stop(), 0);
      const cfg2 = join(work, 'enc2.yaml');
      writeFileSync(cfg2, encConfig(`  - aescbc:\n      keys:\n      - {name: key2, secret: ${KEY2}}\n      - {name: key1, secret: ${KEY1}}\n`), { mode: 0o600 });
      await s.spawn(['--no-kubelet', '--encryption-provider-config', cfg2]);
      assert.equal(Buffer.from(ok(s, 'get', 'secret', 's', '-o', 'jsonpath={.data.k}'), 'base64').toString(), VALUE, 'read with the second key');
      ok(s, 'label', 'secret', 's', 'rotated=yes'); // a write re-encrypts with the first key
      ok(s, 'create', 'secret', 'generic', 's2', `--from-literal=k=${VALUE}`);
      disk = storeBytes(s.dataDir);
      assert.ok(disk.bytes.includes('k8s:enc:aescbc:v1:key2:'), 'new writes use key2');
      assert.ok(!disk.bytes.includes(VALUE) && !disk.bytes.includes(VALUE_B64));

      // key1 dropped: both secrets now live under key2 and still read
      assert.equal(await s.stop(), 0);
      const cfg3 = join(work, 'enc3.yaml');
      writeFileSync(cfg3, encConfig(`  - aescbc:\n      keys:\n      - {name: key2, secret: ${KEY2}}\n`), { mode: 0o600 });
      await s.spawn(['--no-kubelet', '--encryption-provider-config', cfg3]);
      assert.equal(Buffer.from(ok(s, 'get', 'secret', 's2', '-o', 'jsonpath={.data.k}'), 'base64').toString(), VALUE);
      assert.equal(Buffer.from(ok(s, 'get', 'secret', 's', '-o', 'jsonpath={.data.k}'), 'base64').toString(), VALUE, 're-encrypted with key2 by the label write');
      ok(s, 'delete', 'secret', 's', 's2');
    } finally {
      await s.teardown();
    }
  });

  it('a wrong key is a clear error, not garbage', async () => {
    const cfgA = join(work, 'encA.yaml');
    writeFileSync(cfgA, encConfig(`  - aesgcm:\n      keys:\n      - {name: k, secret: ${KEY1}}\n`), { mode: 0o600 });
    const cfgB = join(work, 'encB.yaml');
    writeFileSync(cfgB, encConfig(`  - aesgcm:\n      keys:\n      - {name: k, secret: ${KEY2}}\n`), { mode: 0o600 });
    const s = await PodbayServer.start(['--no-kubelet', '--encryption-provider-config', cfgA]);
    try {
      ok(s, 'create', 'secret', 'generic', 's', `--from-literal=k=${VALUE}`);
      assert.equal(await s.stop(), 0);
      await s.spawn(['--no-kubelet', '--encryption-provider-config', cfgB]);
      const r = s.kubectl(kc.path, ['get', 'secret', 's']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Internal error occurred: unable to transform key "\/registry\/secrets\/default\/s": aesgcm key "k": cipher: message authentication failed/);
    } finally {
      await s.teardown();
    }
  });

  it('a bad configuration file stops the server at start, naming the field', () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, encConfig(`  - aescbc:\n      keys:\n      - {name: key1, secret: ${Buffer.alloc(16).toString('base64')}}\n`));
    const dataDir = join(work, 'bad-data');
    const r = spawnSync(PODBAY, ['server', '--no-kubelet', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--encryption-provider-config', bad], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(r.status, 0, `the server must not start:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /--encryption-provider-config .*bad\.yaml: resources\[0\]\.providers\[0\]\.aescbc\.keys\[0\]\.secret: Invalid value: "REDACTED": secret is not of the expected length, got 16, expected one of \[32\]/);
    const missing = spawnSync(PODBAY, ['server', '--no-kubelet', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--encryption-provider-config', join(work, 'nope.yaml')], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /nope\.yaml: cannot read it: ENOENT/);
    assert.equal(existsSync(dataDir), false, 'nothing made on disk before the configuration was checked');
  });
});
