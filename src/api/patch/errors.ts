/**
 * Error helpers shared by the patch appliers. They reproduce the way kube-apiserver's patch
 * handler (k8s.io/apiserver/pkg/endpoints/handlers/patch.go) turns patch failures into
 * metav1.Status responses.
 */
import { ApiError, badRequest, invalid } from '../errors.js';

/**
 * `errors.NewGenericServerResponse(422, ...)` as the patch handler uses it: reason Invalid and
 * the fixed message below; upstream drops the underlying error text. podbay keeps that text
 * as a single status cause (field "patch") so the client can see what went wrong.
 */
export const GENERIC_UNPROCESSABLE_MESSAGE = 'the server rejected our request due to an error in our request';

export function unprocessable(detail: string): ApiError {
  return new ApiError(422, 'Invalid', GENERIC_UNPROCESSABLE_MESSAGE, {
    causes: [{ reason: 'FieldValueInvalid', message: detail, field: 'patch' }],
  });
}

/**
 * An error that kube-apiserver does not wrap in a typed status (interpretStrategicMergePatchError's
 * default case: it renders such errors as code 500 with an empty reason and the raw message, e.g.
 * strategic merge patch's `map: map[image:x] does not contain declared merge key: name`).
 * They are all faults of the patch the client sent, so podbay answers 400 BadRequest with the
 * same message: a bad request never looks like a server failure (issue 7).
 */
export function unknownStatus(message: string): ApiError {
  return badRequest(message);
}

/** Upstream `invalid JSON patch` (validateAndTranscodePatch: the body is not valid JSON). */
export function invalidJsonBody(): ApiError {
  return badRequest('invalid JSON patch');
}

/** Go's name for the JSON type a value would decode into (for `json: cannot unmarshal X ...`). */
export function jsonTypeWord(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v; // string | number
}

/**
 * The patched document must still decode into the resource (a JSON object). When it does not,
 * the handler answers `NewInvalid(GroupKind{}, "", field.Invalid("patch", <patched JSON>, err))`,
 * i.e. ` "" is invalid: patch: Invalid value: "...": couldn't get version/kind; json parse error: ...`.
 */
export function requireObjectResult(result: unknown): Record<string, unknown> {
  if (result !== null && typeof result === 'object' && !Array.isArray(result)) return result as Record<string, unknown>;
  throw invalid('', '', [
    {
      type: 'FieldValueInvalid',
      field: 'patch',
      value: JSON.stringify(result),
      detail:
        `couldn't get version/kind; json parse error: json: cannot unmarshal ${jsonTypeWord(result)} into Go value of type ` +
        'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }',
    },
  ]);
}

/** JSON.parse with the upstream 400 for bodies that are not JSON at all. */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalidJsonBody();
  }
}
