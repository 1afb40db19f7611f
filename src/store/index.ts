/**
 * The store room: a revisioned key-value log with watch (see types.ts for the contract).
 * `SqliteStore` is the real backend; `MemoryStore` is for unit tests of other rooms.
 */

import { MemoryStore } from './memory.js';
import { SqliteStore, type SqliteOptions } from './sqlite.js';
import type { Store } from './types.js';

export * from './types.js';
export { MemoryStore } from './memory.js';
export { SqliteStore, StoreCorruptError, type StoreSync } from './sqlite.js';

export type StoreKind = 'sqlite' | 'memory';

/** Open a store: 'sqlite' needs the database file path; 'memory' ignores `path`. */
export function openStore(kind: StoreKind, path?: string, opts: SqliteOptions = {}): Store {
  switch (kind) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite':
      if (!path) throw new Error('openStore: the sqlite store needs a file path');
      return SqliteStore.open(path, opts);
    default:
      throw new Error(`openStore: unknown store kind ${String(kind)}`);
  }
}
