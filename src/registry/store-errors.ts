/**
 * The one place a store error becomes an API error (kube-apiserver's storage.Interpret*Error):
 * the registry runs every store call through `storeCall`, so no call site maps codes itself and
 * a code that slips through is never rendered as a 500.
 *
 *   KeyExists   -> 409 AlreadyExists   "pods "x" already exists"
 *   KeyNotFound -> 404 NotFound        "pods "x" not found"
 *   Conflict    -> 409 Conflict        "... the object has been modified; please apply your changes ..."
 *   Compacted   -> 410 Expired         "too old resource version: N (M)", or for a continue token
 *                                      the message kube-apiserver gives for an expired one
 *   Closed      -> unchanged (the server is shutting down: an internal error is the truth)
 */
import { StoreError } from '../store/types.js';
import { alreadyExists, conflict, gone, notFound, STALE_OBJECT_MESSAGE } from '../api/errors.js';
import type { ResourceInfo } from '../api/registry.js';

export const TOO_OLD_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

/** What the failed store call was about, for the wording of the API error. */
export interface StoreCallContext {
  r: ResourceInfo;
  /** the object's name (single-object calls) */
  name?: string;
  /** for list/watch: the revision the client asked for */
  revision?: number;
  /** for list: the client sent a continue token */
  continuing?: boolean;
}

/** The API error for a store error, or `e` itself when it is not one the API words. */
export function interpretStoreError(e: unknown, ctx: StoreCallContext): unknown {
  if (!(e instanceof StoreError)) return e;
  const { r } = ctx;
  const name = ctx.name ?? '';
  switch (e.code) {
    case 'KeyExists':
      return alreadyExists(r.resource, name, r.group);
    case 'KeyNotFound':
      return notFound(r.resource, name, r.group);
    case 'Conflict':
      return conflict(r.resource, name, STALE_OBJECT_MESSAGE, r.group);
    case 'Compacted':
      return ctx.continuing ? gone(TOO_OLD_CONTINUE) : gone(`too old resource version: ${ctx.revision} (${e.revision})`);
    default:
      return e;
  }
}

/** Run one store call; a store error comes out as the API error for it. */
export async function storeCall<T>(ctx: StoreCallContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw interpretStoreError(e, ctx);
  }
}
