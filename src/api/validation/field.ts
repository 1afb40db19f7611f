/**
 * Field-error helpers modelled on k8s.io/apimachinery/pkg/util/validation/field.
 * The error shape and its rendering live in ../errors.ts; this file adds the constructors
 * named after their Go counterparts and small helpers for plain-JSON objects.
 */
import { fieldErrorBody, fieldErrorText, invalid as invalidApiError, type FieldError } from '../errors.js';

/** One field error (the shape lives in ../errors.ts, which renders it once for every room). */
export type ValidationError = FieldError;
export type ValidationErrorType = FieldError['type'];

/** Body of the message without the field: `Not found: "x"`, `Invalid value: "A": a lowercase ...`. */
export const validationErrorBody = fieldErrorBody;

/** `spec.containers[0].volumeMounts[0].name: Not found: "x"` */
export const validationErrorText = fieldErrorText;

/** 422 Invalid with one cause per (distinct) field error. */
export const invalidObject = invalidApiError;

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
