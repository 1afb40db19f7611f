import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { EncryptingStore, EncryptionConfigError, TransformError, fromStorage, parseEncryptionConfig, toStorage, type Provider } from './encryption.js';
import { MemoryStore } from '../store/memory.js';
import type { WatchEvent } from '../store/types.js';

const K1 = Buffer.alloc(32, 1);
const K2 = Buffer.alloc(32, 2);
const KEY = '/registry/secrets/default/s';
const PLAIN = JSON.stringify({ kind: 'Secret', data: { k: Buffer.from('sekrit').toString('base64') } });

const cbc = (...keys: [string, Buffer][]): Provider => ({ kind: 'aescbc', keys: keys.map(([name, key]) => ({ name, key })) });
const gcm = (...keys: [string, Buffer][]): Provider => ({ kind: 'aesgcm', keys: keys.map(([name, key]) => ({ name, key })) });
const identity: Provider = { kind: 'identity' };

describe('value transforms', () => {
  test('aescbc: kube-apiserver\'s prefix and layout (IV + CBC/PKCS#7), fresh IV each time', () => {
    const stored = toStorage([cbc(['key1', K1])], KEY, PLAIN);
    assert.ok(stored.startsWith('k8s:enc:aescbc:v1:key1:'), stored.slice(0, 40));
    assert.ok(!stored.includes('c2Vrcml0') && !stored.includes('sekrit'));
    const raw = Buffer.from(stored.slice('k8s:enc:aescbc:v1:key1:'.length), 'base64');
    assert.equal(raw.length, 16 + (Math.floor(Buffer.byteLength(PLAIN) / 16) + 1) * 16, 'IV + whole padded blocks');
    // decrypted independently of the module: IV is the first block
    const d = createDecipheriv('aes-256-cbc', K1, raw.subarray(0, 16));
    assert.equal(Buffer.concat([d.update(raw.subarray(16)), d.final()]).toString(), PLAIN);
    assert.notEqual(toStorage([cbc(['key1', K1])], KEY, PLAIN), stored, 'a random IV per write');
    assert.equal(fromStorage([cbc(['key1', K1])], KEY, stored), PLAIN);
  });

  test('aesgcm: nonce + ciphertext + tag, the storage key authenticated', () => {
    const stored = toStorage([gcm(['g', K1])], KEY, PLAIN);
    assert.ok(stored.startsWith('k8s:enc:aesgcm:v1:g:'));
    const raw = Buffer.from(stored.slice('k8s:enc:aesgcm:v1:g:'.length), 'base64');
    assert.equal(raw.length, 12 + Buffer.byteLength(PLAIN) + 16);
    const d = createDecipheriv('aes-256-gcm', K1, raw.subarray(0, 12));
    d.setAAD(Buffer.from(KEY));
    d.setAuthTag(raw.subarray(raw.length - 16));
    assert.equal(Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString(), PLAIN);
    assert.equal(fromStorage([gcm(['g', K1])], KEY, stored), PLAIN);
    assert.throws(() => fromStorage([gcm(['g', K1])], '/registry/secrets/default/other', stored), /message authentication failed/, 'a value moved to another key does not decrypt');
    const tampered = stored.slice(0, -4) + (stored.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.throws(() => fromStorage([gcm(['g', K1])], KEY, tampered), TransformError);
    for (const size of [16, 24]) assert.equal(fromStorage([gcm(['g', Buffer.alloc(size, 7)])], KEY, toStorage([gcm(['g', Buffer.alloc(size, 7)])], KEY, PLAIN)), PLAIN);
  });

  test('key rotation: the first key encrypts, every listed key decrypts', () => {
    const old = toStorage([cbc(['key1', K1])], KEY, PLAIN);
    const rotated = [cbc(['key2', K2], ['key1', K1])];
    assert.equal(fromStorage(rotated, KEY, old), PLAIN, 'written with key1, read with key1 as the second key');
    const fresh = toStorage(rotated, KEY, PLAIN);
    assert.ok(fresh.startsWith('k8s:enc:aescbc:v1:key2:'));
    assert.throws(() => fromStorage([cbc(['key1', K1])], KEY, fresh), /no matching prefix found \(encrypted with aescbc key "key2", which is not configured\)/);
    // across providers too
    assert.equal(fromStorage([gcm(['g', K2]), cbc(['key1', K1])], KEY, old), PLAIN);
  });

  test('a wrong key under the right name is an error naming the key, never garbage', () => {
    // CBC padding alone lets about one wrong-key try in 256 through: every try must still fail
    for (let i = 0; i < 1024; i++) {
      const stored = toStorage([cbc(['key1', K1])], KEY, PLAIN);
      assert.throws(
        () => fromStorage([cbc(['key1', K2])], KEY, stored),
        (e: Error) => e instanceof TransformError && /unable to transform key "\/registry\/secrets\/default\/s": aescbc key "key1"/.test(e.message),
      );
    }
  });

  test('identity: writes plain when first, reads plain values only when listed, never reads ciphertext as plain', () => {
    assert.equal(toStorage([identity, cbc(['key1', K1])], KEY, PLAIN), PLAIN);
    assert.equal(fromStorage([cbc(['key1', K1]), identity], KEY, PLAIN), PLAIN, 'objects written before encryption was turned on');
    assert.throws(() => fromStorage([cbc(['key1', K1])], KEY, PLAIN), /no matching prefix found/);
    const stored = toStorage([cbc(['key1', K1])], KEY, PLAIN);
    assert.equal(fromStorage([identity, cbc(['key1', K1])], KEY, stored), PLAIN, 'decrypting with a later provider while identity writes');
    assert.throws(() => fromStorage([identity], KEY, stored), /no matching prefix found/);
  });
});

const secret32 = K1.toString('base64');
const config = (providers: string, resources = '[secrets]') => `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: ${resources}
  providers:
${providers}`;

describe('EncryptionConfiguration', () => {
  test('parses kube-apiserver\'s format', () => {
    const rules = parseEncryptionConfig(config(`  - aescbc:\n      keys:\n      - {name: key1, secret: ${secret32}}\n  - identity: {}\n`));
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0].prefixes, ['/registry/secrets/']);
    assert.equal(rules[0].providers[0].kind, 'aescbc');
    assert.deepEqual((rules[0].providers[0] as any).keys[0].key, K1);
    assert.equal(rules[0].providers[1].kind, 'identity');
    const all = parseEncryptionConfig(config('  - identity: {}\n', "['*.']"));
    assert.ok(all[0].prefixes.includes('/registry/secrets/') && all[0].prefixes.includes('/registry/configmaps/'));
  });

  test('a bad file is refused with the field and the reason', () => {
    const cases: [string, RegExp][] = [
      ['kind: Nope\n', /kind: want "EncryptionConfiguration"/],
      [config(`  - aescbc:\n      keys:\n      - {name: key1, secret: ${Buffer.alloc(16).toString('base64')}}\n`), /resources\[0\]\.providers\[0\]\.aescbc\.keys\[0\]\.secret: Invalid value: "REDACTED": secret is not of the expected length, got 16, expected one of \[32\]/],
      [config(`  - aescbc:\n      keys:\n      - {name: key1, secret: "not base64!"}\n`), /keys\[0\]\.secret: Invalid value: "REDACTED": secrets must be base64 encoded/],
      [config(`  - aescbc:\n      keys: []\n`), /aescbc\.keys: Required value/],
      [config(`  - secretbox:\n      keys:\n      - {name: k, secret: ${secret32}}\n`), /providers\[0\]\.secretbox: not supported by podbay/],
      [config(`  - kms: {name: x}\n`), /providers\[0\]\.kms: not supported/],
      [config('  - identity: {}\n', '[pandas]'), /resources\[0\]\.resources\[0\]: "pandas" is not a resource podbay serves/],
      [config(`  - aesgcm:\n      keys:\n      - {name: "a:b", secret: ${secret32}}\n`), /should not contain ':'/],
      [config(`  - aesgcm:\n      keys:\n      - {name: a, secret: ${secret32}}\n      - {name: a, secret: ${secret32}}\n`), /keys\[1\]\.name: Duplicate value/],
      [config(''), /providers: Required value/],
      ['{{{', /not YAML or JSON/],
    ];
    for (const [text, re] of cases) {
      assert.throws(() => parseEncryptionConfig(text, '/etc/enc.yaml'), (e: Error) => e instanceof EncryptionConfigError && re.test(e.message) && e.message.startsWith('--encryption-provider-config /etc/enc.yaml: '), `${re} for:\n${text}`);
    }
  });
});

describe('EncryptingStore', () => {
  test('ciphertext in the store, plaintext above it: create, get, list, update, watch, delete', async () => {
    const inner = new MemoryStore();
    const store = new EncryptingStore(inner, parseEncryptionConfig(config(`  - aesgcm:\n      keys:\n      - {name: k, secret: ${secret32}}\n`)));
    const events: WatchEvent[] = [];
    const w = await store.watch('/registry/', 0, (ev) => events.push(ev));
    const created = await store.create(KEY, PLAIN);
    assert.equal(created.value, PLAIN);
    assert.ok((await inner.get(KEY))!.value.startsWith('k8s:enc:aesgcm:v1:k:'));
    await store.create('/registry/configmaps/default/c', '{"plain":true}');
    assert.equal((await inner.get('/registry/configmaps/default/c'))!.value, '{"plain":true}', 'resources not listed stay plain');
    assert.equal((await store.get(KEY))!.value, PLAIN);
    assert.deepEqual((await store.list('/registry/secrets/')).items.map((kv) => kv.value), [PLAIN]);
    const updated = await store.update(KEY, PLAIN + ' ', created.modRevision);
    assert.equal(updated.value, PLAIN + ' ');
    const deleted = await store.delete(KEY);
    assert.equal(deleted.value, PLAIN + ' ');
    await new Promise((r) => setTimeout(r, 20));
    w.cancel();
    const secretEvents = events.filter((e) => e.kv.key === KEY);
    assert.deepEqual(secretEvents.map((e) => [e.type, e.kv.value, e.prev?.value]), [
      ['ADDED', PLAIN, undefined],
      ['MODIFIED', PLAIN + ' ', PLAIN],
      ['DELETED', PLAIN + ' ', PLAIN + ' '],
    ]);
    for (const kv of (await inner.list('/registry/secrets/')).items) assert.ok(!kv.value.includes('c2Vrcml0'));
  });

  test('a value the configuration cannot read fails the read with kube-apiserver\'s words', async () => {
    const inner = new MemoryStore();
    await new EncryptingStore(inner, parseEncryptionConfig(config(`  - aescbc:\n      keys:\n      - {name: old, secret: ${secret32}}\n`))).create(KEY, PLAIN);
    const other = new EncryptingStore(inner, parseEncryptionConfig(config(`  - aescbc:\n      keys:\n      - {name: new, secret: ${K2.toString('base64')}}\n`)));
    await assert.rejects(other.get(KEY), /unable to transform key "\/registry\/secrets\/default\/s": no matching prefix found/);
    await assert.rejects(other.list('/registry/secrets/'), TransformError);
  });
});
