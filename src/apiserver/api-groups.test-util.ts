import assert from 'node:assert/strict';

import { ApiError } from '../api/errors.js';
import { serveGroup, type ApiGroupHandler, type GroupRequest } from './api-groups.js';

/** Runs a group handler on a fake request; the answer, or the ApiError it threw. */
export async function call(g: ApiGroupHandler, method: string, path: string, body?: object): Promise<{ code: number; body: any }> {
  let out: { code: number; body: any } | undefined;
  const url = new URL(path, 'https://x');
  const base: Omit<GroupRequest, 'version' | 'seg'> = {
    method,
    q: url.searchParams,
    req: {} as any,
    res: {} as any,
    readObject: async () => structuredClone(body ?? {}) as any,
    send: (code, b) => (out = { code, body: b }),
  };
  try {
    await serveGroup(g, url.pathname.slice('/apis/'.length).split('/'), base);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    return { code: e.code, body: e.toStatus() };
  }
  assert.ok(out, 'the handler answered');
  return out!;
}

