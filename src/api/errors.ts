/**
 * Typed API errors. The core throws these; the HTTP edge renders each one exactly once as a
 * Kubernetes `metav1.Status` (see `toStatus`). Reasons and codes follow
 * k8s.io/apimachinery/pkg/api/errors.
 */

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'Expired'
  | 'InternalError'
  | 'Timeout'
  | 'TooManyRequests'
  | 'ServiceUnavailable';

/** One field-level cause, as in metav1.StatusCause. */
export interface StatusCause {
  /** e.g. FieldValueInvalid, FieldValueRequired, FieldValueDuplicate, FieldValueNotSupported, FieldValueForbidden, FieldValueTooLong */
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: StatusReason | '';
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = `ApiError(${reason})`;
  }

  /**
   * The Status as kube-apiserver writes it: fields in metav1.Status's order (kind, apiVersion,
   * metadata, status, message, reason, details, code) and details' fields in StatusDetails'
   * order, so clients and tests that compare error bodies see the same bytes. `details` is
   * present whenever it was given, even empty: clients read `details.name` of a 404 (kubectl
   * debug does) and an empty object is what a server without the resource sends.
   */
  toStatus(): Status {
    const s: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
    } as Status;
    if (this.details) s.details = orderedDetails(this.details);
    s.code = this.code;
    return s;
  }
}

function orderedDetails(d: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes?.length) out.causes = d.causes.map((c) => ({ reason: c.reason, message: c.message, ...(c.field !== undefined ? { field: c.field } : {}) }));
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

/** A Status body as kube-apiserver's JSON encoder writes it (with its trailing newline). */
export function statusBody(err: ApiError): string {
  return JSON.stringify(err.toStatus()) + '\n';
}

/**
 * A 404 for a path no handler serves: empty details, as a server that lacks the resource
 * answers (kubectl tells "the feature is not there" from "the object is not there" by
 * `details.name` being empty).
 */
export function pathNotFound(message: string): ApiError {
  return new ApiError(404, 'NotFound', message, {});
}

/** "pods" + "" -> "pods"; "deployments" + "apps" -> "deployments.apps" (qualified resource, as Kubernetes prints it). */
function qualified(resource: string, group = ''): string {
  return group ? `${resource}.${group}` : resource;
}

export function notFound(resource: string, name: string, group = ''): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, {
    name,
    group: group || undefined,
    kind: resource,
  });
}

export function alreadyExists(resource: string, name: string, group = ''): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, {
    name,
    group: group || undefined,
    kind: resource,
  });
}

/** Optimistic-concurrency failure (stale resourceVersion), worded as kube-apiserver words it. */
export function conflict(resource: string, name: string, why: string, group = ''): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ${why}`,
    { name, group: group || undefined, kind: resource },
  );
}

export const STALE_OBJECT_MESSAGE = 'the object has been modified; please apply your changes to the latest version and try again';

export function badRequest(message: string, causes?: StatusCause[]): ApiError {
  return new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined);
}

export function gone(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function unauthorized(message = 'Unauthorized'): ApiError {
  return new ApiError(401, 'Unauthorized', message);
}

export function forbidden(message: string): ApiError {
  return new ApiError(403, 'Forbidden', message);
}

export function methodNotAllowed(message: string): ApiError {
  return new ApiError(405, 'MethodNotAllowed', message);
}

export function unsupportedMediaType(message: string): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', message);
}

export function tooLarge(message: string): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', message);
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`);
}

/** A field error, as in k8s.io/apimachinery/pkg/util/validation/field. */
export interface FieldError {
  type:
    | 'FieldValueRequired'
    | 'FieldValueNotFound'
    | 'FieldValueInvalid'
    | 'FieldValueDuplicate'
    | 'FieldValueNotSupported'
    | 'FieldValueForbidden'
    | 'FieldValueTooLong'
    | 'FieldValueTooMany'
    | 'FieldValueTypeInvalid';
  field: string;
  /** the offending value, quoted in the message when present */
  value?: unknown;
  /**
   * Printed verbatim instead of `value` (Go prints some values unquoted, e.g. a Quantity as
   * `500m` or an unset resourceVersion as `0x0`).
   */
  rawValue?: string;
  detail: string;
}

const FIELD_TYPE_TEXT: Record<FieldError['type'], string> = {
  FieldValueRequired: 'Required value',
  FieldValueNotFound: 'Not found',
  FieldValueInvalid: 'Invalid value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueTypeInvalid: 'Invalid value',
};

function renderValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  return JSON.stringify(v);
}

/** The message without the field: `Not found: "x"`, `Invalid value: "A": a lowercase ...`. */
export function fieldErrorBody(e: FieldError): string {
  const parts = [FIELD_TYPE_TEXT[e.type]];
  const omitsValue = e.type === 'FieldValueRequired' || e.type === 'FieldValueForbidden' || e.type === 'FieldValueTooLong';
  if (!omitsValue) {
    if (e.rawValue !== undefined) parts.push(e.rawValue);
    else if ('value' in e) parts.push(renderValue(e.value));
  }
  if (e.detail) parts.push(e.detail);
  return parts.join(': ');
}

/** "spec.containers[0].name: Required value" / "metadata.name: Invalid value: \"A\": a lowercase ..." */
export function fieldErrorText(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

/**
 * 422 Invalid, with one cause per field error: `Pod "x" is invalid: [a: ..., b: ...]`.
 * Repeated messages are dropped, as ErrorList.ToAggregate does upstream.
 */
export function invalid(kind: string, name: string, errs: FieldError[], group = ''): ApiError {
  const seen = new Set<string>();
  const unique = errs.filter((e) => {
    const t = fieldErrorText(e);
    if (seen.has(t)) return false;
    seen.add(t);
    return true;
  });
  const texts = unique.map(fieldErrorText);
  const body = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
  // schema.GroupKind.String(): "Deployment.apps" for a named group's kind
  return new ApiError(422, 'Invalid', `${group ? `${kind}.${group}` : kind} "${name}" is invalid: ${body}`, {
    name,
    group: group || undefined,
    kind,
    causes: unique.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  });
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
