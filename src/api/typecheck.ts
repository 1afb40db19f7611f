/**
 * Typed decoding: what kube-apiserver's decoder does when it unmarshals a body into the Go
 * struct of its kind, done on the parsed JSON against podbay's generated schema.
 *
 *   - a value of the wrong JSON type is an error worded as Go's encoding/json words it
 *     (sigs.k8s.io/json is a fork of it):
 *       json: cannot unmarshal string into Go struct field Container.spec.containers.command of type []string
 *     "Container" is the innermost struct holding the field, the path lists field names from the
 *     root (Go's errorContext.FieldStack: no list indexes, no map keys);
 *   - values with their own UnmarshalJSON are checked by format: Quantity (its regular
 *     expression), IntOrString (a string, or an int32), Time/MicroTime (RFC 3339), and byte
 *     strings ([]byte: standard base64);
 *   - unknown fields are pruned (the caller has already refused them under Strict);
 *   - null is accepted anywhere, as Go leaves the zero value; inside lists and maps it becomes
 *     that zero value ({} for a struct, "" for a string ...), so no consumer ever sees a null
 *     container or label.
 *
 * Go keeps decoding after a type mismatch and reports the first one, but an error returned by
 * a custom unmarshaler (Quantity, IntOrString, Time) aborts at once and wins; `hard` says which.
 */
import { schemas as realSchemas } from './schema.js';
import type { FieldSchema, SchemaSet, TypeSchema } from './schema-types.js';
import { parseQuantity, QUANTITY_REGEX_MESSAGE } from './validation/quantity.js';

export interface DecodeFailure {
  /** the decoder's message, e.g. `json: cannot unmarshal string into Go struct field ...` */
  message: string;
  /** the field path with indexes and keys, as field.Path prints it: spec.containers[0].command */
  field: string;
}

export interface DecodeResult {
  failure?: DecodeFailure;
  /** paths of the unknown fields that were removed */
  pruned: string[];
}

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const INT64 = { min: -(2 ** 63), max: 2 ** 63 - 1 };

/** `io.k8s.api.core.v1.Container` -> `v1.Container`, as reflect.Type.String() prints it */
function goTypeName(ref: string): string {
  return ref.split('.').slice(-2).join('.');
}

function shortName(ref: string): string {
  return ref.slice(ref.lastIndexOf('.') + 1);
}

/** The Go type a field decodes into, as encoding/json names it in an UnmarshalTypeError. */
export function goType(f: FieldSchema): string {
  switch (f.kind) {
    case 'string':
      return f.format === 'byte' ? '[]uint8' : 'string';
    case 'integer':
      return f.format === 'int32' ? 'int32' : 'int64';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'array':
      return `[]${f.items ? goType(f.items) : 'interface {}'}`;
    case 'map':
      return `map[string]${f.items ? goType(f.items) : 'interface {}'}`;
    case 'quantity':
      return 'resource.Quantity';
    case 'int-or-string':
      return 'intstr.IntOrString';
    case 'time':
      return f.ref ? goTypeName(f.ref) : 'v1.Time';
    default:
      return f.ref ? goTypeName(f.ref) : 'interface {}';
  }
}

/** the JSON type of a value, as Go's UnmarshalTypeError.Value words it */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return 'object';
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const BASE64_CHAR = /[A-Za-z0-9+/]/;

/** Go's base64.StdEncoding.DecodeString: the offset of the first bad byte, or -1 when valid. */
export function base64ErrorOffset(s: string): number {
  // newlines are skipped by the decoder; the offset counts them
  let n = 0; // data characters seen (excluding newlines)
  let pad = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\n' || c === '\r') continue;
    if (c === '=') {
      // padding only in the last two places of a quantum, and nothing but padding after it
      if (pad < 0) {
        const inQuantum = n % 4;
        if (inQuantum < 2) return i;
        pad = i;
      }
      n++;
      continue;
    }
    if (pad >= 0 || !BASE64_CHAR.test(c)) return i;
    n++;
  }
  if (n % 4 !== 0) {
    // an incomplete quantum: Go reports the offset where the quantum started
    const dataLen = s.replace(/[\r\n]/g, '').length;
    return dataLen - (n % 4);
  }
  if (pad >= 0) {
    const padCount = n - (s.slice(0, pad).replace(/[\r\n]/g, '').length);
    if (padCount > 2) return pad;
  }
  return -1;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;
const RFC3339_LAYOUT = '2006-01-02T15:04:05Z07:00';

/** Go's time.Parse(time.RFC3339, s) error text, or undefined when s parses. */
export function rfc3339Error(s: string): string | undefined {
  const m = RFC3339.exec(s);
  if (!m) return `parsing time ${JSON.stringify(s)} as ${JSON.stringify(RFC3339_LAYOUT)}: cannot parse ${JSON.stringify(s)} as "2006"`;
  const [, y, mo, d, h, mi, sec, , , zh, zm] = m;
  const month = Number(mo);
  const days = [31, Number(y) % 4 === 0 && (Number(y) % 100 !== 0 || Number(y) % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  const range = (what: string) => `parsing time ${JSON.stringify(s)}: ${what} out of range`;
  if (month < 1 || month > 12) return range('month');
  if (Number(d) < 1 || Number(d) > days[month - 1]) return range('day');
  if (Number(h) > 23) return range('hour');
  if (Number(mi) > 59) return range('minute');
  if (Number(sec) > 59) return range('second');
  if (zh !== undefined && (Number(zh) > 23 || Number(zm) > 59)) return range('time zone offset');
  return undefined;
}

/** the zero value Go leaves for a null inside a list or map */
function zeroValue(f: FieldSchema | undefined, set: SchemaSet): unknown {
  switch (f?.kind) {
    case 'string':
      return f.format === 'byte' ? null : '';
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return false;
    case 'object':
      return f.ref && set[f.ref] && !set[f.ref].kind ? {} : null;
    default:
      return null;
  }
}

class HardError extends Error {}

class Decoder {
  failure?: DecodeFailure;
  readonly pruned: string[] = [];
  /** Go's errorContext: the struct holding the current field and the field names from the root */
  private struct = '';
  private readonly stack: string[] = [];

  constructor(
    private readonly set: SchemaSet,
    private readonly rootType: string,
    private readonly prune: boolean,
  ) {}

  private typeError(value: string, f: FieldSchema | string, path: string): DecodeFailure {
    const type = typeof f === 'string' ? f : goType(f);
    const message = this.stack.length
      ? `json: cannot unmarshal ${value} into Go struct field ${this.struct}.${this.stack.join('.')} of type ${type}`
      : `json: cannot unmarshal ${value} into Go value of type ${type}`;
    return { message, field: path };
  }

  /** a mismatch Go records and keeps decoding past */
  private save(failure: DecodeFailure): void {
    this.failure ??= failure;
  }

  /** an error from a custom unmarshaler: decoding stops here */
  private abort(failure: DecodeFailure): never {
    this.failure = failure;
    throw new HardError(failure.message);
  }

  run(obj: Record<string, unknown>): void {
    try {
      this.struct_(obj, this.rootType, '');
    } catch (e) {
      if (!(e instanceof HardError)) throw e;
    }
  }

  private struct_(obj: Record<string, unknown>, typeName: string, path: string): void {
    const type: TypeSchema | undefined = this.set[typeName];
    if (!type) return; // not described: nothing to check
    for (const key of Object.keys(obj)) {
      const f = Object.prototype.hasOwnProperty.call(type.fields, key) ? type.fields[key] : undefined;
      const childPath = path ? `${path}.${key}` : key;
      if (!f) {
        if (this.prune) delete obj[key];
        this.pruned.push(childPath);
        continue;
      }
      const outerStruct = this.struct;
      this.struct = shortName(typeName);
      this.stack.push(key);
      obj[key] = this.value(obj[key], f, childPath);
      this.stack.pop();
      this.struct = outerStruct;
    }
  }

  /** checks (and for lists/maps normalizes) one value; returns what to keep */
  private value(v: unknown, f: FieldSchema, path: string): unknown {
    if (v === null || v === undefined) return v;
    switch (f.kind) {
      case 'string':
        if (typeof v !== 'string') this.save(this.typeError(jsonKind(v), f, path));
        else if (f.format === 'byte') {
          const at = base64ErrorOffset(v);
          if (at >= 0) this.save({ message: `illegal base64 data at input byte ${at}`, field: path });
        }
        return v;
      case 'integer': {
        if (typeof v !== 'number') {
          this.save(this.typeError(jsonKind(v), f, path));
          return v;
        }
        const r = f.format === 'int32' ? INT32 : INT64;
        if (!Number.isInteger(v) || v < r.min || v > r.max) this.save(this.typeError(`number ${v}`, f, path));
        return v;
      }
      case 'number':
        if (typeof v !== 'number') this.save(this.typeError(jsonKind(v), f, path));
        return v;
      case 'boolean':
        if (typeof v !== 'boolean') this.save(this.typeError(jsonKind(v), f, path));
        return v;
      case 'array':
        if (!Array.isArray(v)) {
          this.save(this.typeError(jsonKind(v), f, path));
          return v;
        }
        for (let i = 0; i < v.length; i++) {
          v[i] = v[i] === null ? zeroValue(f.items, this.set) : f.items ? this.value(v[i], f.items, `${path}[${i}]`) : v[i];
        }
        return v;
      case 'map':
        if (!isPlainObject(v)) {
          this.save(this.typeError(jsonKind(v), f, path));
          return v;
        }
        for (const k of Object.keys(v)) {
          v[k] = v[k] === null ? zeroValue(f.items, this.set) : f.items ? this.value(v[k], f.items, `${path}[${k}]`) : v[k];
        }
        return v;
      case 'object': {
        const t = f.ref ? this.set[f.ref] : undefined;
        if (t?.kind) return this.value(v, { ...f, kind: t.kind, format: t.format ?? f.format }, path);
        if (!isPlainObject(v)) {
          this.save(this.typeError(jsonKind(v), f, path));
          return v;
        }
        if (f.ref) this.struct_(v, f.ref, path);
        return v;
      }
      case 'quantity': {
        const text = typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : undefined;
        if (text === undefined || parseQuantity(text) === null) this.abort({ message: QUANTITY_REGEX_MESSAGE, field: path });
        return v;
      }
      case 'int-or-string':
        if (typeof v === 'string') return v;
        if (typeof v !== 'number') this.abort(this.typeError(jsonKind(v), 'int32', path));
        if (!Number.isInteger(v) || v < INT32.min || v > INT32.max) this.abort(this.typeError(`number ${v}`, 'int32', path));
        return v;
      case 'time': {
        if (typeof v !== 'string') this.abort(this.typeError(jsonKind(v), 'string', path));
        const err = rfc3339Error(v);
        if (err) this.abort({ message: err, field: path });
        return v;
      }
      default:
        return v; // free-form (RawExtension, FieldsV1)
    }
  }
}

/**
 * Decode `obj` (parsed JSON or YAML) as an object of definition `typeName`, in place: unknown
 * fields are removed (unless `prune` is false: then only listed), nulls in lists and maps become zero values. Returns the first decoding
 * failure, if any (then the object must not be used), and the pruned paths.
 */
export function decodeTyped(
  typeName: string,
  obj: Record<string, unknown>,
  opts: { prune?: boolean; schemas?: SchemaSet } = {},
): DecodeResult {
  const d = new Decoder(opts.schemas ?? realSchemas, typeName, opts.prune ?? true);
  d.run(obj);
  return { failure: d.failure, pruned: d.pruned };
}
