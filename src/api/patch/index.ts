/**
 * PATCH dispatch by Content-Type, as kube-apiserver's PatchResource handler does it.
 */
import type { SchemaSet } from '../schema-types.js';
import { unsupportedMediaType } from '../errors.js';
import { applyJsonPatch } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic.js';
import { parseJsonBody } from './errors.js';

export { applyJsonPatch, decodeJsonPatch, MAX_JSON_PATCH_OPERATIONS } from './json-patch.js';
export { applyMergePatch, mergePatchValue } from './merge-patch.js';
export { applyStrategicMergePatch } from './strategic.js';

export const JSON_PATCH = 'application/json-patch+json';
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const APPLY_PATCH_YAML = 'application/apply-patch+yaml';
export const APPLY_PATCH_CBOR = 'application/apply-patch+cbor';

/** The patch types podbay accepts, in kube-apiserver's order. */
export const SUPPORTED_PATCH_TYPES: readonly string[] = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH];

export const APPLY_CBOR_UNSUPPORTED_MESSAGE =
  'server-side apply in CBOR (application/apply-patch+cbor) is not supported by podbay; send the configuration as application/apply-patch+yaml';

/** The media type without parameters: "application/json-patch+json; charset=utf-8" -> "application/json-patch+json". */
export function patchMediaType(contentType: string): string {
  const idx = contentType.indexOf(';');
  return (idx > 0 ? contentType.slice(0, idx) : contentType).trim().toLowerCase();
}

/**
 * Apply a PATCH request body to `original` (an object of schema type `typeName`, e.g.
 * "io.k8s.api.core.v1.Pod") according to the request's Content-Type. Returns the patched copy;
 * `original` is not modified. Throws ApiError:
 * - 415 UnsupportedMediaType for server-side apply and for unknown content types;
 * - 400 BadRequest for bodies that are not valid JSON or not of the patch type's shape;
 * - 422/500/413 as the individual patch types specify.
 */
export function applyPatch(contentType: string, original: object, body: string, typeName: string, schemas: SchemaSet): object {
  const type = patchMediaType(contentType);
  switch (type) {
    case JSON_PATCH:
      return applyJsonPatch(original, body);
    case MERGE_PATCH:
      return applyMergePatch(original, body);
    case STRATEGIC_MERGE_PATCH:
      return applyStrategicMergePatch(original, parseJsonBody(body) as object, typeName, schemas);
    case APPLY_PATCH_YAML:
      // the registry's apply (src/api/apply), not a patch of the stored object
      throw unsupportedMediaType('server-side apply is served by the registry\'s apply, not as a patch');
    case APPLY_PATCH_CBOR:
      throw unsupportedMediaType(APPLY_CBOR_UNSUPPORTED_MESSAGE);
    default:
      throw unsupportedMediaType(
        `the body of the request was in an unknown format - accepted media types include: ${SUPPORTED_PATCH_TYPES.join(', ')}`,
      );
  }
}
