/**
 * The store room: a revisioned key-value log with watch (see types.ts for the contract).
 * `SqliteStore` is the embedded backend, `EtcdStore` the one for several machines (a real
 * etcd, as kube-apiserver and k3s in HA use); `MemoryStore` is for unit tests of other rooms.
 */

import { MemoryStore } from './memory.js';
import { SqliteStore, type SqliteOptions } from './sqlite.js';
import { EtcdStore, type EtcdStoreOptions } from './etcd.js';
import type { Store } from './types.js';

export * from './types.js';
export { MemoryStore } from './memory.js';
export { SqliteStore, StoreCorruptError, type StoreSync } from './sqlite.js';
export { EtcdStore, type EtcdStoreOptions } from './etcd.js';
export { PrefixCache } from './prefix-cache.js';

export type StoreKind = 'sqlite' | 'memory' | 'etcd';

export interface OpenStoreOptions extends SqliteOptions {
  /** for 'etcd' */
  etcd?: EtcdStoreOptions;
}

/** Open a store: 'sqlite' needs the database file path; 'etcd' its endpoints; 'memory' nothing. */
export function openStore(kind: StoreKind, path?: string, opts: OpenStoreOptions = {}): Store {
  switch (kind) {
    case 'memory':
      return new MemoryStore();
    case 'etcd':
      if (!opts.etcd?.endpoints.length) throw new Error('openStore: the etcd store needs endpoints');
      return new EtcdStore(opts.etcd);
    case 'sqlite':
      if (!path) throw new Error('openStore: the sqlite store needs a file path');
      return SqliteStore.open(path, opts);
    default:
      throw new Error(`openStore: unknown store kind ${String(kind)}`);
  }
}
