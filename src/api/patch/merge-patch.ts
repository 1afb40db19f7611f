/**
 * RFC 7386 JSON Merge Patch (`application/merge-patch+json`), with the exact semantics of
 * evanphx/json-patch `MergePatch` that kube-apiserver uses:
 *
 * - a key whose patch value is null is deleted;
 * - objects merge recursively; anything else (arrays included) replaces the target value;
 * - when a value is copied in from the patch, null members of nested objects (also of objects
 *   inside arrays) are pruned;
 * - a `null` patch body is rejected with 400 `Invalid JSON Patch`; a patch that is not an
 *   object replaces the whole document, which then fails to decode (422 Invalid).
 */
import { badRequest } from '../errors.js';
import { parseJsonBody, requireObjectResult } from './errors.js';
import { type JsonObject, hasKey, isObject, setKey } from './json-util.js';

/** Remove null members from objects, recursively (arrays keep their null elements). */
export function pruneNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((e) => (e === null ? e : pruneNulls(e)));
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, e] of Object.entries(v)) if (e !== null) setKey(out, k, pruneNulls(e));
    return out;
  }
  return v;
}

function mergeValue(cur: unknown, patch: unknown): unknown {
  if (!isObject(cur)) return pruneNulls(patch);
  if (!isObject(patch)) return structuredClone(patch);
  return mergeObjects(cur, patch);
}

function mergeObjects(doc: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(doc)) setKey(out, k, v);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete out[k];
    } else if (!hasKey(out, k) || out[k] === null) {
      setKey(out, k, pruneNulls(v));
    } else {
      setKey(out, k, mergeValue(out[k], v));
    }
  }
  return out;
}

/** Apply a merge patch (already decoded) to `doc`, returning a new value; `doc` is not modified. */
export function mergePatchValue(doc: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return pruneNulls(patch);
  if (!isObject(doc)) return pruneNulls(patch);
  return structuredClone(mergeObjects(doc, patch));
}

/**
 * Apply an RFC 7386 merge patch to a resource. `patch` is the raw body or the decoded value.
 * Returns a new object; `doc` is not modified.
 */
export function applyMergePatch(doc: object, patch: string | unknown): object {
  const p = typeof patch === 'string' ? parseJsonBody(patch) : patch;
  if (p === null) throw badRequest('Invalid JSON Patch');
  return requireObjectResult(mergePatchValue(doc, p));
}
