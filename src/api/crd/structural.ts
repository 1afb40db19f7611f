/**
 * A custom resource against its structural schema, as apiextensions-apiserver handles it:
 *
 *   prune     drop the fields the schema does not specify (unless x-kubernetes-preserve-unknown-
 *             fields), naming them for fieldValidation (Warn / Strict); apiVersion, kind and
 *             metadata are kept at the root and in x-kubernetes-embedded-resource values
 *   defaults  fill `default` values where a field is absent (or null and not nullable)
 *   validate  types, formats of int-or-string, required, enum, bounds, lengths, pattern, list
 *             types (set / map uniqueness), embedded resources, and the x-kubernetes-validations
 *             CEL rules (cel.ts); errors are field errors named by their path (spec.replicas)
 *
 * Messages follow kube-openapi's validator as apiextensions-apiserver renders them:
 *   spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"
 */
import type { FieldError } from '../errors.js';
import type { JSONSchemaProps } from './types.js';
import { evaluateRules } from './cel.js';

type Obj = Record<string, any>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function itemSchema(s: JSONSchemaProps): JSONSchemaProps | undefined {
  return Array.isArray(s.items) ? s.items[0] : s.items;
}

/** the schema of a map value (additionalProperties as a schema), if any */
function mapValueSchema(s: JSONSchemaProps): JSONSchemaProps | undefined {
  return isObj(s.additionalProperties) ? (s.additionalProperties as JSONSchemaProps) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Pruning

/**
 * Removes unknown fields from `value` (in place), returning their paths
 * (`.spec.foo` as apimachinery names them in "unknown field" warnings).
 */
export function prune(schema: JSONSchemaProps, value: unknown, root = true): string[] {
  const unknown: string[] = [];
  pruneAt(schema, value, '', root, unknown);
  return unknown;
}

function pruneAt(s: JSONSchemaProps | undefined, v: unknown, path: string, keepMeta: boolean, out: string[]): void {
  if (!s) return;
  if (Array.isArray(v)) {
    const is = itemSchema(s);
    v.forEach((item, i) => pruneAt(is, item, `${path}[${i}]`, !!is?.['x-kubernetes-embedded-resource'], out));
    return;
  }
  if (!isObj(v)) return;
  const props = s.properties;
  const addl = mapValueSchema(s);
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true || s.additionalProperties === true;
  for (const key of Object.keys(v)) {
    if (keepMeta && (key === 'apiVersion' || key === 'kind')) continue;
    if (keepMeta && key === 'metadata') {
      // only name and generateName may be specified for metadata; the rest is ObjectMeta's
      continue;
    }
    const p = props?.[key];
    if (p) {
      pruneAt(p, v[key], child(path, key), !!p['x-kubernetes-embedded-resource'], out);
    } else if (addl) {
      pruneAt(addl, v[key], child(path, key), !!addl['x-kubernetes-embedded-resource'], out);
    } else if (!preserve) {
      out.push(child(path, key));
      delete v[key];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Defaulting

/** Applies `default` values (in place), as structural defaulting does after pruning. */
export function applyDefaults(s: JSONSchemaProps | undefined, v: unknown): void {
  if (!s) return;
  if (Array.isArray(v)) {
    const is = itemSchema(s);
    for (const item of v) applyDefaults(is, item);
    return;
  }
  if (!isObj(v)) return;
  for (const [key, p] of Object.entries(s.properties ?? {})) {
    if (p.default !== undefined && (v[key] === undefined || (v[key] === null && !p.nullable))) {
      v[key] = structuredClone(p.default);
    }
    if (v[key] !== undefined) applyDefaults(p, v[key]);
  }
  const addl = mapValueSchema(s);
  if (addl && !s.properties) for (const key of Object.keys(v)) applyDefaults(addl, v[key]);
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Go's %v-ish rendering of a value in kube-openapi's messages */
function shown(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[]interface {}{...}`;
  if (isObj(v)) return `map[string]interface {}{...}`;
  return String(v);
}

function typeOfJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(type: string, v: unknown): boolean {
  const t = typeOfJson(v);
  if (type === 'number') return t === 'number' || t === 'integer';
  return t === type;
}

function typeError(path: string, v: unknown, want: string): FieldError {
  // kube-openapi names the value's type, not the value: Invalid value: "string"
  return { type: 'FieldValueTypeInvalid', field: path, value: typeOfJson(v), detail: `${path} in body must be of type ${want}: ${JSON.stringify(typeOfJson(v))}` };
}

function invalidValue(path: string, v: unknown, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field: path, value: v, detail };
}

/** list-type map: the key of an item, as apimachinery renders duplicates */
function mapKeyOf(item: unknown, keys: string[]): string {
  const o: Obj = {};
  for (const k of keys) o[k] = isObj(item) ? item[k] : undefined;
  return JSON.stringify(o);
}

export interface ValidateOptions {
  /** the stored object on updates (CEL transition rules see it as oldSelf) */
  old?: unknown;
}

/** Field errors of `value` against the schema; `path` is the field path of value ("" = root). */
export function validateSchema(s: JSONSchemaProps, value: unknown, path = '', opts: ValidateOptions = {}): FieldError[] {
  const errs: FieldError[] = [];
  validateAt(s, value, path, opts.old, true, errs);
  return errs;
}

/** strict equality of two JSON values (key order aside): what ratcheting compares */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    return ka.length === Object.keys(b).filter((k) => b[k] !== undefined).length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

function validateAt(s: JSONSchemaProps, v: unknown, path: string, old: unknown, correlated: boolean, errs: FieldError[]): void {
  const name = path || '<root>';
  // validation ratcheting (CRDValidationRatcheting, on since 1.30): a value the update leaves as
  // it was stored (correlated with it and equal) is not validated again, so a schema made
  // stricter does not freeze the objects already stored: only what the update changes must pass
  if (correlated && old !== undefined && jsonEqual(v, old)) return;
  if (v === null) {
    if (s.nullable) return;
    if (s['x-kubernetes-preserve-unknown-fields'] && !s.type) return;
    errs.push(typeError(name, v, s['x-kubernetes-int-or-string'] ? 'integer,string' : s.type ?? 'object'));
    return;
  }
  const before = errs.length;
  if (s['x-kubernetes-int-or-string']) {
    if (!(typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) errs.push(typeError(name, v, 'integer,string'));
  } else if (s.type && !typeMatches(s.type, v)) {
    errs.push(typeError(name, v, s.type));
    return;
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
    errs.push({ type: 'FieldValueNotSupported', field: name, value: v, detail: `supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)) {
      errs.push(invalidValue(name, v, `${name} in body should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`));
    }
    if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)) {
      errs.push(invalidValue(name, v, `${name} in body should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`));
    }
    if (s.multipleOf !== undefined && s.multipleOf > 0 && Math.abs(v / s.multipleOf - Math.round(v / s.multipleOf)) > 1e-9) {
      errs.push(invalidValue(name, v, `${name} in body should be a multiple of ${s.multipleOf}`));
    }
  }
  if (typeof v === 'string') {
    const len = [...v].length;
    if (s.maxLength !== undefined && len > s.maxLength) errs.push({ type: 'FieldValueTooLong', field: name, value: v, detail: `may not be more than ${s.maxLength} bytes` });
    if (s.minLength !== undefined && len < s.minLength) errs.push(invalidValue(name, v, `${name} in body should be at least ${s.minLength} chars long`));
    if (s.pattern !== undefined && !safeRegExp(s.pattern)?.test(v)) errs.push(invalidValue(name, v, `${name} in body should match '${s.pattern}'`));
  }
  if (Array.isArray(v)) {
    if (s.maxItems !== undefined && v.length > s.maxItems) errs.push({ type: 'FieldValueTooMany', field: name, value: v.length, detail: `must have at most ${s.maxItems} items` });
    if (s.minItems !== undefined && v.length < s.minItems) errs.push(invalidValue(name, v.length, `${name} in body should have at least ${s.minItems} items`));
    const lt = s['x-kubernetes-list-type'];
    if (lt === 'set') {
      const seen = new Set<string>();
      v.forEach((item, i) => {
        const k = JSON.stringify(item);
        if (seen.has(k)) errs.push({ type: 'FieldValueDuplicate', field: `${path}[${i}]`, value: item, detail: '' });
        seen.add(k);
      });
    } else if (lt === 'map') {
      const keys = s['x-kubernetes-list-map-keys'] ?? [];
      const seen = new Set<string>();
      v.forEach((item, i) => {
        const k = mapKeyOf(item, keys);
        if (seen.has(k)) errs.push({ type: 'FieldValueDuplicate', field: `${path}[${i}]`, rawValue: `map[string]interface {}${k}` } as FieldError);
        seen.add(k);
      });
    }
    const is = itemSchema(s);
    if (is) {
      const oldItems = lt === 'map' && Array.isArray(old) ? old : undefined;
      const keys = s['x-kubernetes-list-map-keys'] ?? [];
      v.forEach((item, i) => {
        // only items of a list-type map correlate with the stored ones (by their keys)
        const prev = oldItems?.find((o) => mapKeyOf(o, keys) === mapKeyOf(item, keys));
        validateAt(is, item, `${path}[${i}]`, prev, correlated && prev !== undefined, errs);
      });
    }
  }
  if (isObj(v)) {
    const n = Object.keys(v).length;
    if (s.maxProperties !== undefined && n > s.maxProperties) errs.push({ type: 'FieldValueTooMany', field: name, value: n, detail: `must have at most ${s.maxProperties} items` });
    if (s.minProperties !== undefined && n < s.minProperties) errs.push(invalidValue(name, n, `${name} in body should have at least ${s.minProperties} properties`));
    for (const r of s.required ?? []) if (v[r] === undefined) errs.push({ type: 'FieldValueRequired', field: child(path, r), detail: '' });
    if (s['x-kubernetes-embedded-resource']) {
      if (typeof v.apiVersion !== 'string' || !v.apiVersion) errs.push({ type: 'FieldValueRequired', field: child(path, 'apiVersion'), detail: 'must not be empty' });
      if (typeof v.kind !== 'string' || !v.kind) errs.push({ type: 'FieldValueRequired', field: child(path, 'kind'), detail: 'must not be empty' });
    }
    const oldObj = isObj(old) ? old : undefined;
    for (const [key, p] of Object.entries(s.properties ?? {})) {
      if (v[key] === undefined) continue;
      validateAt(p, v[key], child(path, key), oldObj?.[key], correlated && oldObj?.[key] !== undefined, errs);
    }
    const addl = mapValueSchema(s);
    if (addl && !s.properties) {
      for (const key of Object.keys(v)) validateAt(addl, v[key], child(path, key), oldObj?.[key], correlated && oldObj?.[key] !== undefined, errs);
    }
  }
  for (const sub of s.allOf ?? []) validateAt(sub, v, path, old, correlated, errs);
  // CEL rules run only on a value that passed its own schema checks, as upstream
  if (errs.length === before && s['x-kubernetes-validations']?.length) {
    errs.push(...evaluateRules(s, v, correlated ? old : undefined, name));
  }
}

const regexCache = new Map<string, RegExp | undefined>();
function safeRegExp(pattern: string): RegExp | undefined {
  if (!regexCache.has(pattern)) {
    try {
      regexCache.set(pattern, new RegExp(pattern, 'u'));
    } catch {
      regexCache.set(pattern, undefined);
    }
  }
  return regexCache.get(pattern);
}

/** whether the pattern compiles (the CRD's validation refuses one that does not) */
export function patternCompiles(pattern: string): boolean {
  return safeRegExp(pattern) !== undefined;
}

export { shown as goValue };
