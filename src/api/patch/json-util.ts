/** Small helpers for plain JSON values. */

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Assign an own, enumerable property, even for keys such as `__proto__`. */
export function setKey(o: JsonObject, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

export function hasKey(o: JsonObject, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/**
 * Render a value the way Go's `fmt` `%v` prints a decoded JSON value (map keys sorted):
 * `map[image:nginx name:a]`, `[a b]`, `<nil>`.
 */
export function goFormat(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as JsonObject).sort();
    return `map[${keys.map((k) => `${k}:${goFormat((v as JsonObject)[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** Go's reflect type name of a decoded JSON value (ints decoded as int64, as kube-apiserver does). */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  return typeof v === 'boolean' ? 'bool' : 'string';
}
