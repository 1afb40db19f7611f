/**
 * RFC 6902 JSON Patch (`application/json-patch+json`), applied with fast-json-patch and
 * mapped onto kube-apiserver's error behaviour (jsonPatcher.applyJSPatch in
 * k8s.io/apiserver/pkg/endpoints/handlers/patch.go, evanphx/json-patch v4 messages):
 *
 * - body not JSON                         -> 400 BadRequest `invalid JSON patch`
 * - body not an array of objects          -> 400 BadRequest `json: cannot unmarshal ...`
 * - more than 10000 operations            -> 413 RequestEntityTooLarge
 * - an operation fails (test, missing path, bad op ...)
 *                                         -> 422 Invalid `the server rejected our request due to an error in our request`
 *                                            (podbay adds the reason as a status cause)
 * - the result is no longer a JSON object -> 422 Invalid ` "" is invalid: patch: Invalid value: ...`
 */
import type { Operation } from 'fast-json-patch';
import { lazyModule } from '../../lazy-module.js';

const jsonpatch = lazyModule<typeof import('fast-json-patch')>('fast-json-patch');
import { badRequest, tooLarge } from '../errors.js';
import { jsonTypeWord, parseJsonBody, requireObjectResult, unprocessable } from './errors.js';

/** kube-apiserver's maxJSONPatchOperations. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

export interface JsonPatchOperation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

/** Decode and shape-check a JSON Patch body the way `jsonpatch.DecodePatch` does. */
export function decodeJsonPatch(patch: string | unknown[]): JsonPatchOperation[] {
  const ops: unknown = typeof patch === 'string' ? parseJsonBody(patch) : patch;
  if (!Array.isArray(ops)) {
    if (ops === null) return []; // json.Unmarshal("null") into a slice leaves it empty
    throw badRequest(`json: cannot unmarshal ${jsonTypeWord(ops)} into Go value of type jsonpatch.Patch`);
  }
  for (const op of ops) {
    if (op === null || typeof op !== 'object' || Array.isArray(op)) {
      if (op === null) continue; // a null operation decodes to an empty map; it fails at apply time
      throw badRequest(`json: cannot unmarshal ${jsonTypeWord(op)} into Go value of type jsonpatch.Operation`);
    }
  }
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw tooLarge(`The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`);
  }
  return ops as JsonPatchOperation[];
}

function lastSegment(path: string): string {
  const i = path.lastIndexOf('/');
  return (i >= 0 ? path.slice(i + 1) : path).replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Word a fast-json-patch failure the way evanphx/json-patch (what kube-apiserver uses) does. */
function describeFailure(e: unknown, op: Partial<JsonPatchOperation> | null | undefined): string {
  const o = (op ?? {}) as Partial<JsonPatchOperation>;
  const path = typeof o.path === 'string' ? o.path : '';
  const name = e && typeof e === 'object' && 'name' in e ? String((e as { name: unknown }).name) : '';
  switch (name) {
    case 'TEST_OPERATION_FAILED':
      return `testing value ${path} failed: test failed`;
    case 'OPERATION_OP_INVALID':
      return `Unexpected kind: ${typeof o.op === 'string' ? o.op : 'unknown'}`;
    case 'OPERATION_NOT_AN_OBJECT':
      return 'Unexpected kind: unknown';
    case 'OPERATION_PATH_INVALID':
      return typeof o.path === 'string'
        ? `${o.op} operation failed to decode path: invalid JSON pointer ${JSON.stringify(o.path)}`
        : 'operation missing path field: missing value';
    case 'OPERATION_FROM_REQUIRED':
      return 'operation, missing from field: missing value';
    case 'OPERATION_VALUE_REQUIRED':
    case 'OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED':
      return 'operation, missing value field: missing value';
    case 'OPERATION_PATH_CANNOT_ADD':
      return `add operation does not apply: doc is missing path: "${path}": missing value`;
    case 'OPERATION_PATH_UNRESOLVABLE':
      switch (o.op) {
        case 'replace':
          return `replace operation does not apply: doc is missing key: ${path}: missing value`;
        case 'remove':
          return `remove operation does not apply: doc is missing path: "${path}": missing value`;
        case 'test':
          return `test operation does not apply: is missing path: ${path}: missing value`;
        default:
          return `${o.op} operation does not apply: doc is missing destination path: ${path}: missing value`;
      }
    case 'OPERATION_FROM_UNRESOLVABLE':
      return `${o.op} operation does not apply: doc is missing from path: ${o.from}: missing value`;
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
    case 'OPERATION_PATH_ILLEGAL_ARRAY_INDEX':
      return `Unable to access invalid index: ${lastSegment(path)}: invalid index referenced`;
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Apply an RFC 6902 patch to `doc` and return the patched copy. `doc` is not modified.
 * `patchText` is either the raw request body or an already-decoded operation list.
 */
export function applyJsonPatch(doc: object, patchText: string | unknown[]): object {
  const ops = decodeJsonPatch(patchText);
  // Work on copies: fast-json-patch writes into the operations and (without cloning) the document.
  const work = structuredClone(doc) as object;
  let current: unknown = work;
  for (let i = 0; i < ops.length; i++) {
    const op = structuredClone(ops[i]);
    try {
      current = jsonpatch().applyOperation(current, op as Operation, true, true, true, i).newDocument;
    } catch (e) {
      throw unprocessable(describeFailure(e, op));
    }
  }
  return requireObjectResult(current);
}
