/**
 * A package loaded on its first use instead of at start.
 *
 * `podbay server` spent most of its cold start compiling modules it may never use: etcd3 with
 * gRPC and protobufjs (only for --store etcd), @peculiar/x509 (only for a CSR), yaml (only for
 * YAML bodies and config files), ws (only for a WebSocket exec). A static `import` loads them
 * all before the first line runs; `lazyModule` loads one synchronously (through `require`) the
 * first time a caller needs it, so call sites stay synchronous and their types stay exact
 * (`lazyModule<typeof import('pkg')>('pkg')`).
 *
 * Packages that ship only ESM (jose, cel-js) load through require too: Node >= 20.19 requires
 * an ES module without top-level await (package.json's engines says so).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `get()` returns the module, loading it (and running `init` once) on the first call. */
export function lazyModule<T>(id: string, init?: (m: T) => void): () => T {
  return lazyValue(() => {
    const m = require(id) as T;
    init?.(m);
    return m;
  });
}

/** `get()` returns what `make` made on the first call (for a value built from a lazy module). */
export function lazyValue<T>(make: () => T): () => T {
  let made = false;
  let v: T;
  return () => {
    if (!made) {
      v = make();
      made = true;
    }
    return v;
  };
}

/** the yaml package: request bodies, kubeconfigs and config files (several rooms share one loader) */
export const yaml = lazyModule<typeof import('yaml')>('yaml');

/** the ws package: WebSocket exec, attach, port-forward and SPDY tunnels */
export const ws = lazyModule<typeof import('ws')>('ws');
