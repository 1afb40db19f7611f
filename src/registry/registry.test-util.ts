/** Helpers for the registry's unit tests (and the clients' built on it): a registry on the memory store. */
import assert from 'node:assert/strict';
import { ApiError } from '../api/errors.js';
import { MemoryStore } from '../store/memory.js';
import { Registry } from './index.js';

/** A registry on a fresh memory store, with the built-in namespaces. */
export async function memoryRegistry(): Promise<Registry> {
  const reg = new Registry(new MemoryStore());
  await reg.bootstrap();
  return reg;
}

/** the ApiError `p` rejects with (fails the test if it resolves or throws something else) */
export async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return e;
  }
  assert.fail('expected an ApiError');
}

/** wait until `cond` holds, polling every 10 ms; fail naming `what` after `ms` */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
