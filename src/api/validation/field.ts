/**
 * Field-error helpers modelled on k8s.io/apimachinery/pkg/util/validation/field.
 *
 * `ValidationError` is `FieldError` from ../errors.ts plus the one error type errors.ts does not
 * have yet: `FieldValueNotFound` ("Not found"), which upstream uses e.g. for a volumeMount that
 * names no volume. Once errors.ts gains that type the two are the same shape.
 */
import { ApiError, type FieldError } from '../errors.js';

export type ValidationErrorType = FieldError['type'] | 'FieldValueNotFound';

export type ValidationError = Omit<FieldError, 'type'> & {
  type: ValidationErrorType;
  /**
   * Printed verbatim instead of `value` (Go prints some values unquoted, e.g. a Quantity as
   * `500m` or an unset resourceVersion as `0x0`).
   */
  rawValue?: string;
};

const TYPE_TEXT: Record<ValidationErrorType, string> = {
  FieldValueNotFound: 'Not found',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueInvalid: 'Invalid value',
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

/** Body of the message without the field: `Not found: "x"`, `Invalid value: "A": a lowercase ...`. */
export function validationErrorBody(e: ValidationError): string {
  const parts = [TYPE_TEXT[e.type]];
  const omitsValue =
    e.type === 'FieldValueRequired' || e.type === 'FieldValueForbidden' || e.type === 'FieldValueTooLong';
  if (!omitsValue) {
    if (e.rawValue !== undefined) parts.push(e.rawValue);
    else if ('value' in e) parts.push(renderValue(e.value));
  }
  if (e.detail) parts.push(e.detail);
  return parts.join(': ');
}

/** `spec.containers[0].volumeMounts[0].name: Not found: "x"` */
export function validationErrorText(e: ValidationError): string {
  return `${e.field}: ${validationErrorBody(e)}`;
}

/**
 * 422 Invalid like errors.ts `invalid`, but able to render every ValidationError type.
 * Duplicated messages are dropped, as ErrorList.ToAggregate does upstream.
 */
export function invalidObject(kind: string, name: string, errs: ValidationError[], group = ''): ApiError {
  const seen = new Set<string>();
  const unique = errs.filter((e) => {
    const t = validationErrorText(e);
    if (seen.has(t)) return false;
    seen.add(t);
    return true;
  });
  const texts = unique.map(validationErrorText);
  const body = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${body}`, {
    name,
    group: group || undefined,
    kind,
    causes: unique.map((e) => ({ reason: e.type, message: validationErrorBody(e), field: e.field })),
  });
}

// ---- constructors, named after their Go counterparts ----

export function required(field: string, detail = ''): ValidationError {
  return { type: 'FieldValueRequired', field, detail };
}

export function invalid(field: string, value: unknown, detail: string): ValidationError {
  return { type: 'FieldValueInvalid', field, value: value === undefined ? null : value, detail };
}

export function duplicate(field: string, value: unknown): ValidationError {
  return { type: 'FieldValueDuplicate', field, value: value === undefined ? null : value, detail: '' };
}

export function notFound(field: string, value: unknown): ValidationError {
  return { type: 'FieldValueNotFound', field, value: value === undefined ? null : value, detail: '' };
}

export function forbidden(field: string, detail: string): ValidationError {
  return { type: 'FieldValueForbidden', field, detail };
}

/** Upstream field.TooLong: `Too long: must have at most N bytes` (the value is never printed). */
export function tooLong(field: string, maxLength: number): ValidationError {
  return { type: 'FieldValueTooLong', field, detail: `must have at most ${maxLength} bytes` };
}

/** `Unsupported value: "x": supported values: "A", "B"` */
export function notSupported(field: string, value: unknown, validValues: readonly string[]): ValidationError {
  const detail = validValues.length ? `supported values: ${validValues.map((v) => JSON.stringify(v)).join(', ')}` : '';
  return { type: 'FieldValueNotSupported', field, value: value === undefined ? null : value, detail };
}

// ---- small helpers for plain-JSON objects ----

export type Obj = Record<string, any>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function arr(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

/** Go's `field.Path.Key`: `data[key]` (keys are not quoted). */
export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}

/** Go's ValidateNonnegativeField. */
export function nonNegative(value: unknown, field: string): ValidationError[] {
  return typeof value === 'number' && value < 0 ? [invalid(field, value, 'must be greater than or equal to 0')] : [];
}

/**
 * Semantic equality of two JSON values as apiequality.Semantic.DeepEqual sees Go structs decoded
 * from them: a missing field, null, "" , [] and {} are all the zero value.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  const za = isZero(a);
  const zb = isZero(b);
  if (za || zb) return za && zb;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => semanticEqual(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!semanticEqual(a[k], b[k])) return false;
    return true;
  }
  return a === b;
}

function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObj(v)) return Object.keys(v).length === 0;
  return false;
}
