/**
 * Encryption at rest, as kube-apiserver's --encryption-provider-config: an EncryptionConfiguration
 * (apiserver.config.k8s.io/v1) names resources and, for each, an ordered list of providers.
 * The first provider encrypts every write; every listed provider may decrypt a read.
 *
 *   aescbc   k8s:enc:aescbc:v1:<key name>:  IV (16 bytes) + AES-256-CBC ciphertext, PKCS#7 padded
 *   aesgcm   k8s:enc:aesgcm:v1:<key name>:  nonce (12 bytes) + AES-GCM ciphertext + tag (16 bytes);
 *            the storage key (/registry/secrets/NS/NAME) is the additional authenticated data, so
 *            a value moved to another key does not decrypt
 *   identity the plain value; reads anything without the k8s:enc: prefix (objects written before
 *            encryption was turned on), never an encrypted value
 *
 * The byte layout after the prefix is kube-apiserver's; podbay's store holds text, so those bytes
 * are stored base64-encoded after the (plain) prefix. The transform sits in one place, a Store
 * wrapper between the resource service and the SQLite store, so every path (create, update,
 * delete's tombstone, list, get, watch) goes through it and nothing above it sees ciphertext.
 * Off by default: without the flag the store is used as is.
 */
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { yaml } from '../lazy-module.js';
import { RESOURCES, storageKey } from '../api/registry.js';
import type { KeyValue, ListOptions, ListResult, Store, WatchEvent, Watcher } from '../store/types.js';

export type ProviderKind = 'aescbc' | 'aesgcm' | 'identity';

export interface AesKey {
  name: string;
  key: Buffer;
}

export type Provider = { kind: 'identity' } | { kind: 'aescbc' | 'aesgcm'; keys: AesKey[] };

/** One `resources[]` entry: the storage key prefixes it covers and its providers, in order. */
export interface EncryptionRule {
  resources: string[];
  prefixes: string[];
  providers: Provider[];
}

/** A bad EncryptionConfiguration: names the file and the field, as kube-apiserver's validation does. */
export class EncryptionConfigError extends Error {
  constructor(file: string, detail: string) {
    super(`--encryption-provider-config ${file}: ${detail}`);
    this.name = 'EncryptionConfigError';
  }
}

/** A stored value that no configured provider can read (wrong key, missing key, tampering). */
export class TransformError extends Error {
  constructor(storageKeyName: string, detail: string) {
    super(`unable to transform key ${JSON.stringify(storageKeyName)}: ${detail}`);
    this.name = 'TransformError';
  }
}

const ENC = 'k8s:enc:';
const prefixOf = (kind: 'aescbc' | 'aesgcm', name: string) => `${ENC}${kind}:v1:${name}:`;

// ------------------------------------------------------------------ the ciphers

function cbcEncrypt(key: Buffer, plain: Buffer): Buffer {
  const iv = randomBytes(16);
  const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv); // PKCS#7 padding is node's default
  return Buffer.concat([iv, c.update(plain), c.final()]);
}

function cbcDecrypt(key: Buffer, data: Buffer): Buffer {
  if (data.length < 16) throw new Error('the stored data was shorter than the required size');
  if ((data.length - 16) % 16 !== 0) throw new Error('the stored data is not a multiple of the block size');
  const d = createDecipheriv(`aes-${key.length * 8}-cbc`, key, data.subarray(0, 16));
  let plain: Buffer;
  try {
    plain = Buffer.concat([d.update(data.subarray(16)), d.final()]);
  } catch {
    throw new Error('invalid padding on input (wrong key?)');
  }
  // CBC has no authentication: a wrong key still gives valid padding about once in 256 tries.
  // What podbay encrypts is always a JSON object in UTF-8; anything else is a wrong key's garbage.
  if (plain[0] !== 0x7b || !isUtf8(plain)) throw new Error('the decrypted value is not a stored object (wrong key?)');
  return plain;
}

const gcm = (key: Buffer) => `aes-${key.length * 8}-gcm` as CipherGCMTypes;

function gcmEncrypt(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const nonce = randomBytes(12);
  const c = createCipheriv(gcm(key), key, nonce);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([nonce, body, c.getAuthTag()]);
}

function gcmDecrypt(key: Buffer, data: Buffer, aad: Buffer): Buffer {
  if (data.length < 12 + 16) throw new Error('the stored data was shorter than the required size');
  const d = createDecipheriv(gcm(key), key, data.subarray(0, 12));
  d.setAAD(aad);
  d.setAuthTag(data.subarray(data.length - 16));
  try {
    return Buffer.concat([d.update(data.subarray(12, data.length - 16)), d.final()]);
  } catch {
    throw new Error('cipher: message authentication failed (wrong key, or the value was altered or moved)');
  }
}

/** Encrypt `plain` for storage under `key` with the first provider. */
export function toStorage(providers: Provider[], key: string, plain: string): string {
  const p = providers[0];
  if (p.kind === 'identity') return plain;
  const k = p.keys[0];
  const data = Buffer.from(plain, 'utf8');
  const sealed = p.kind === 'aescbc' ? cbcEncrypt(k.key, data) : gcmEncrypt(k.key, data, Buffer.from(key, 'utf8'));
  return prefixOf(p.kind, k.name) + sealed.toString('base64');
}

/** Decrypt a stored value with whichever listed provider and key its prefix names. */
export function fromStorage(providers: Provider[], key: string, stored: string): string {
  if (!stored.startsWith(ENC)) {
    if (providers.some((p) => p.kind === 'identity')) return stored;
    throw new TransformError(key, 'no matching prefix found (the value is not encrypted and identity is not a listed provider)');
  }
  for (const p of providers) {
    if (p.kind === 'identity') continue;
    for (const k of p.keys) {
      const prefix = prefixOf(p.kind, k.name);
      if (!stored.startsWith(prefix)) continue;
      const data = Buffer.from(stored.slice(prefix.length), 'base64');
      try {
        const plain = p.kind === 'aescbc' ? cbcDecrypt(k.key, data) : gcmDecrypt(k.key, data, Buffer.from(key, 'utf8'));
        return plain.toString('utf8');
      } catch (e) {
        throw new TransformError(key, `${p.kind} key ${JSON.stringify(k.name)}: ${(e as Error).message}`);
      }
    }
  }
  const named = /^k8s:enc:([^:]*):v1:([^:]*):/.exec(stored);
  throw new TransformError(key, `no matching prefix found${named ? ` (encrypted with ${named[1]} key ${JSON.stringify(named[2])}, which is not configured)` : ''}`);
}

// ------------------------------------------------------------------ the configuration

/** Storage key prefixes for a resource name as EncryptionConfiguration writes it. */
function prefixesFor(name: string): string[] | undefined {
  const matches = RESOURCES.filter((r) => {
    if (name === '*.*') return true;
    if (name === '*.') return !r.group;
    if (name.startsWith('*.')) return r.group === name.slice(2);
    return r.group ? name === `${r.resource}.${r.group}` : name === r.resource || name === `${r.resource}.`;
  });
  return matches.length ? matches.map((r) => storageKey(r, undefined)) : undefined;
}

/** Parse and validate an EncryptionConfiguration; throws EncryptionConfigError naming the field. */
export function parseEncryptionConfig(text: string, file = 'the encryption configuration'): EncryptionRule[] {
  const bad = (detail: string): never => {
    throw new EncryptionConfigError(file, detail);
  };
  let doc: any;
  try {
    doc = yaml().parse(text);
  } catch (e) {
    bad(`not YAML or JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') bad('want an EncryptionConfiguration object');
  if (doc.kind !== 'EncryptionConfiguration') bad(`kind: want "EncryptionConfiguration", got ${JSON.stringify(doc.kind)}`);
  if (doc.apiVersion !== 'apiserver.config.k8s.io/v1') bad(`apiVersion: want "apiserver.config.k8s.io/v1", got ${JSON.stringify(doc.apiVersion)}`);
  if (!Array.isArray(doc.resources) || doc.resources.length === 0) bad('resources: Required value: at least one resources entry is required');
  const claimed = new Map<string, string>();
  return doc.resources.map((entry: any, i: number): EncryptionRule => {
    const at = `resources[${i}]`;
    if (!Array.isArray(entry?.resources) || entry.resources.length === 0) bad(`${at}.resources: Required value: list the resources to encrypt, e.g. [secrets]`);
    if (!Array.isArray(entry.providers) || entry.providers.length === 0) bad(`${at}.providers: Required value: at least one provider is required`);
    const prefixes: string[] = [];
    entry.resources.forEach((name: unknown, j: number) => {
      if (typeof name !== 'string') return bad(`${at}.resources[${j}]: want a resource name`);
      const ps = prefixesFor(name);
      if (!ps) return bad(`${at}.resources[${j}]: ${JSON.stringify(name)} is not a resource podbay serves`);
      if (claimed.has(name)) return bad(`${at}.resources[${j}]: ${JSON.stringify(name)} is already listed in ${claimed.get(name)}`);
      claimed.set(name, at);
      prefixes.push(...ps);
    });
    const providers = entry.providers.map((p: any, j: number): Provider => {
      const pat = `${at}.providers[${j}]`;
      const kinds = Object.keys(p ?? {});
      if (kinds.length !== 1) bad(`${pat}: want exactly one provider (aescbc, aesgcm or identity), got ${kinds.length ? kinds.join(', ') : 'none'}`);
      const kind = kinds[0];
      if (kind === 'identity') return { kind: 'identity' };
      if (kind !== 'aescbc' && kind !== 'aesgcm') return bad(`${pat}.${kind}: not supported by podbay (aescbc, aesgcm and identity are)`);
      const keys = p[kind]?.keys;
      if (!Array.isArray(keys) || keys.length === 0) bad(`${pat}.${kind}.keys: Required value: at least one key is required`);
      const names = new Set<string>();
      return {
        kind,
        keys: keys.map((k: any, n: number): AesKey => {
          const kat = `${pat}.${kind}.keys[${n}]`;
          if (typeof k?.name !== 'string' || !k.name) bad(`${kat}.name: Required value`);
          if (k.name.includes(':')) bad(`${kat}.name: Invalid value: ${JSON.stringify(k.name)}: should not contain ':'`);
          if (names.has(k.name)) bad(`${kat}.name: Duplicate value: ${JSON.stringify(k.name)}`);
          names.add(k.name);
          if (typeof k.secret !== 'string' || !k.secret) bad(`${kat}.secret: Required value`);
          if (!/^[A-Za-z0-9+/]+={0,2}$/.test(k.secret) || k.secret.length % 4 !== 0) bad(`${kat}.secret: Invalid value: "REDACTED": secrets must be base64 encoded`);
          const key = Buffer.from(k.secret, 'base64');
          const sizes = kind === 'aescbc' ? [32] : [16, 24, 32];
          if (!sizes.includes(key.length)) bad(`${kat}.secret: Invalid value: "REDACTED": secret is not of the expected length, got ${key.length}, expected one of ${JSON.stringify(sizes)}`);
          return { name: k.name, key };
        }),
      };
    });
    return { resources: entry.resources, prefixes, providers };
  });
}

export function loadEncryptionConfig(file: string): EncryptionRule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EncryptionConfigError(file, `cannot read it: ${(e as Error).message}`);
  }
  return parseEncryptionConfig(text, file);
}

// ------------------------------------------------------------------ the store wrapper

/**
 * The Store contract with values transformed on the way in and out for the keys a rule
 * covers (the first matching rule, as kube-apiserver takes the first matching resources entry).
 */
export class EncryptingStore implements Store {
  constructor(
    private readonly inner: Store,
    private readonly rules: EncryptionRule[],
    private readonly log: (line: string) => void = () => {},
  ) {}

  private providersFor(key: string): Provider[] | undefined {
    return this.rules.find((r) => r.prefixes.some((p) => key.startsWith(p)))?.providers;
  }

  private seal(key: string, value: string): string {
    const ps = this.providersFor(key);
    return ps ? toStorage(ps, key, value) : value;
  }

  private open(kv: KeyValue): KeyValue {
    const ps = this.providersFor(kv.key);
    return ps ? { ...kv, value: fromStorage(ps, kv.key, kv.value) } : kv;
  }

  currentRevision(): Promise<number> {
    return this.inner.currentRevision();
  }

  compactedRevision(): Promise<number> {
    return this.inner.compactedRevision();
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const kv = await this.inner.get(key);
    return kv && this.open(kv);
  }

  async list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    const r = await this.inner.list(prefix, opts);
    return { ...r, items: r.items.map((kv) => this.open(kv)) };
  }

  count(prefix: string): Promise<number> {
    return this.inner.count(prefix);
  }

  async create(key: string, value: string): Promise<KeyValue> {
    return { ...(await this.inner.create(key, this.seal(key, value))), value };
  }

  async update(key: string, value: string, expectedModRevision?: number): Promise<KeyValue> {
    return { ...(await this.inner.update(key, this.seal(key, value), expectedModRevision)), value };
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    return this.open(await this.inner.delete(key, expectedModRevision));
  }

  watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void, onError?: (err: Error) => void): Promise<Watcher> {
    return this.inner.watch(prefix, fromRevision, (ev) => {
      let out: WatchEvent;
      try {
        out = { ...ev, kv: this.open(ev.kv), ...(ev.prev ? { prev: this.open(ev.prev) } : {}) };
      } catch (e) {
        // a value this configuration cannot read: a get or list of it answers the same error
        this.log(`error: watch: ${(e as Error).message}; the event at revision ${ev.revision} is not delivered`);
        return;
      }
      onEvent(out);
    }, onError);
  }

  compact(revision: number): Promise<number> {
    return this.inner.compact(revision);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
