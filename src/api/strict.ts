/**
 * Strict decoding checks, as kube-apiserver does them with `fieldValidation=Strict|Warn`:
 * unknown fields and duplicate fields, with the field paths Kubernetes prints.
 *
 * Kubernetes decodes request bodies with sigs.k8s.io/json's UnmarshalStrict, which walks the
 * JSON once and records, in document order:
 *   - `unknown field "<path>"` for an object key that is not a field of the target struct
 *     (its value is skipped, so nothing below an unknown field is reported);
 *   - `duplicate field "<path>"` for a struct field or map key seen twice in one object
 *     (the value is still decoded, so problems inside it are reported as well).
 * Paths join field names and map keys with "." and list indexes as "[i]", e.g.
 * `spec.containers[0].ports[1].mountPath`, `metadata.labels.app`. Messages are deduplicated
 * and capped at 100. Values with their own JSON decoding (Quantity, IntOrString, Time,
 * RawExtension, FieldsV1) are not looked into; free-form values (interface{}) are checked for
 * duplicates only.
 */
import { schemas } from './schema.js';
import type { FieldSchema, TypeSchema } from './schema-types.js';

/** what is expected at a position of the document */
type Expect =
  | { t: 'struct'; type: TypeSchema }
  | { t: 'list'; items: Expect }
  | { t: 'map'; items: Expect }
  /** interface{}: any keys, duplicates still detected */
  | { t: 'free' }
  /** custom unmarshaler or scalar: nothing inside is checked */
  | { t: 'skip' };

const SKIP: Expect = { t: 'skip' };
const FREE: Expect = { t: 'free' };

function expectForType(typeName: string): Expect {
  const type = schemas[typeName];
  if (!type) return FREE;
  if (type.kind) return SKIP; // Quantity, Time, RawExtension ... decode themselves
  return { t: 'struct', type };
}

function expectForField(f: FieldSchema | undefined): Expect {
  if (!f) return SKIP;
  switch (f.kind) {
    case 'object':
      return f.ref ? expectForType(f.ref) : FREE;
    case 'array':
      return { t: 'list', items: expectForField(f.items) };
    case 'map':
      return { t: 'map', items: expectForField(f.items) };
    case 'any':
      // RawExtension / FieldsV1 / Patch unmarshal themselves; a bare `any` is interface{}
      return f.ref ? SKIP : FREE;
    default:
      return SKIP;
  }
}

export type StrictErrorType = 'unknown field' | 'duplicate field';
export interface StrictFinding {
  type: StrictErrorType;
  path: string;
}

const MAX_ERRORS = 100;

class Collector {
  readonly found: StrictFinding[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly want: { unknown: boolean; duplicate: boolean }) {}
  add(type: StrictErrorType, stack: string[], key: string): void {
    if (type === 'unknown field' ? !this.want.unknown : !this.want.duplicate) return;
    if (this.found.length >= MAX_ERRORS) return;
    const path = stack.length ? stack.join('') + '.' + key : key;
    const id = type + '\u0000' + path;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.found.push({ type, path });
  }
}

function pushKey(stack: string[], key: string): void {
  stack.push(stack.length ? '.' + key : key);
}

// ---------------------------------------------------------------------------------------------
// Text walker (needed for duplicates: JSON.parse keeps only the last of repeated keys).

class MalformedJson extends Error {}

class Walker {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly out: Collector,
  ) {}

  /** false if the text is not JSON (what was found before the syntax error is kept) */
  run(root: Expect): boolean {
    try {
      this.ws();
      if (this.s[this.i] !== '{' && this.s[this.i] !== '[') return false;
      this.value(root, []);
      return true;
    } catch (e) {
      if (!(e instanceof MalformedJson)) throw e;
      return false;
    }
  }

  private fail(): never {
    throw new MalformedJson(`malformed JSON at offset ${this.i}`);
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  /** reads a string token starting at the opening quote and returns its decoded value */
  private string(): string {
    const s = this.s;
    const start = this.i;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= s.length) this.fail();
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        i += 2;
      } else i++;
    }
    this.i = i + 1;
    if (!escaped) return s.slice(start + 1, i);
    try {
      return JSON.parse(s.slice(start, i + 1)) as string;
    } catch {
      return this.fail();
    }
  }

  /** skips any value */
  private skip(): void {
    const s = this.s;
    let depth = 0;
    for (;;) {
      this.ws();
      if (this.i >= s.length) this.fail();
      const c = s[this.i];
      if (c === '"') this.string();
      else if (c === '{' || c === '[') {
        depth++;
        this.i++;
      } else if (c === '}' || c === ']') {
        depth--;
        this.i++;
      } else if (c === ',' || c === ':') {
        this.i++;
        continue;
      } else {
        const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(s.slice(this.i, this.i + 64));
        if (!m) this.fail();
        this.i += m[0].length;
        // long number literals: consume the rest of the digits
        while (this.i < s.length && /[0-9.eE+-]/.test(s[this.i])) this.i++;
      }
      if (depth <= 0) return;
    }
  }

  private value(exp: Expect, stack: string[]): void {
    this.ws();
    const c = this.s[this.i];
    if (c === '{' && exp.t !== 'skip' && exp.t !== 'list') this.object(exp, stack);
    else if (c === '[' && (exp.t === 'list' || exp.t === 'free')) this.array(exp.t === 'list' ? exp.items : FREE, stack);
    else this.skip();
  }

  private array(items: Expect, stack: string[]): void {
    this.i++; // [
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    for (let idx = 0; ; idx++) {
      stack.push(`[${idx}]`);
      this.value(items, stack);
      stack.pop();
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return;
      if (c !== ',') this.fail();
    }
  }

  private object(exp: Expect, stack: string[]): void {
    this.i++; // {
    const seen = new Set<string>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail();
      const key = this.string();
      this.ws();
      if (this.s[this.i++] !== ':') this.fail();
      let next: Expect;
      if (exp.t === 'struct') {
        const f = Object.prototype.hasOwnProperty.call(exp.type.fields, key) ? exp.type.fields[key] : undefined;
        if (!f) {
          this.out.add('unknown field', stack, key);
          next = SKIP;
        } else {
          if (seen.has(key)) this.out.add('duplicate field', stack, key);
          seen.add(key);
          next = expectForField(f);
        }
      } else {
        if (seen.has(key)) this.out.add('duplicate field', stack, key);
        seen.add(key);
        next = exp.t === 'map' ? exp.items : FREE;
      }
      if (next.t === 'skip') this.skip();
      else {
        pushKey(stack, key);
        this.value(next, stack);
        stack.pop();
      }
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return;
      if (c !== ',') this.fail();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Object walker (unknown fields of an already parsed value).

function walkParsed(value: unknown, exp: Expect, stack: string[], out: Collector): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    if (exp.t !== 'list' && exp.t !== 'free') return;
    const items = exp.t === 'list' ? exp.items : FREE;
    value.forEach((v, i) => {
      stack.push(`[${i}]`);
      walkParsed(v, items, stack, out);
      stack.pop();
    });
    return;
  }
  if (exp.t === 'skip' || exp.t === 'list') return;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    let next: Expect;
    if (exp.t === 'struct') {
      const f = Object.prototype.hasOwnProperty.call(exp.type.fields, key) ? exp.type.fields[key] : undefined;
      if (!f) {
        out.add('unknown field', stack, key);
        continue;
      }
      next = expectForField(f);
    } else next = exp.t === 'map' ? exp.items : FREE;
    if (next.t === 'skip') continue;
    pushKey(stack, key);
    walkParsed(v, next, stack, out);
    stack.pop();
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Paths of fields in `obj` (a decoded body) that type `typeName` does not have, in the order
 * Kubernetes reports them, e.g. ["spec.containers[0].ports[0].volumeMounts"].
 */
export function unknownFields(typeName: string, obj: unknown): string[] {
  const out = new Collector({ unknown: true, duplicate: false });
  walkParsed(obj, expectForType(typeName), [], out);
  return out.found.map((f) => f.path);
}

/**
 * Paths of keys that occur more than once in one object of the JSON text, e.g.
 * ["metadata.name"]. With `typeName`, the body is read as that type (as Kubernetes does: keys
 * below unknown fields or inside self-decoding values such as RawExtension are not looked at);
 * without it every object is checked.
 */
export function duplicateFields(jsonText: string, typeName?: string): string[] {
  const out = new Collector({ unknown: false, duplicate: true });
  new Walker(jsonText, out).run(typeName ? expectForType(typeName) : FREE);
  return out.found.map((f) => f.path);
}

/**
 * Unknown and duplicate fields in one pass over the JSON text, in document order. Returns
 * undefined if the text is not JSON (e.g. a YAML body).
 */
export function strictFindings(typeName: string, jsonText: string): StrictFinding[] | undefined {
  const out = new Collector({ unknown: true, duplicate: true });
  return new Walker(jsonText, out).run(expectForType(typeName)) ? out.found : undefined;
}

/**
 * The strict decoding errors Kubernetes reports for a body, in its order:
 * `unknown field "spec.foo"`, `duplicate field "metadata.name"`. Reads `jsonText` when it is
 * JSON (needed to see duplicates); otherwise (no text, or a YAML body) checks the parsed `obj`
 * for unknown fields only.
 */
export function strictErrors(typeName: string, jsonText: string | undefined, obj?: unknown): string[] {
  const found =
    (jsonText !== undefined ? strictFindings(typeName, jsonText) : undefined) ??
    unknownFields(typeName, obj).map((path): StrictFinding => ({ type: 'unknown field', path }));
  return found.map((f) => `${f.type} ${goQuote(f.path)}`);
}

/** kube-apiserver's message for a strict decoding failure (HTTP 400 with fieldValidation=Strict) */
export function strictDecodingMessage(errors: readonly string[]): string {
  return `strict decoding error: ${errors.join(', ')}`;
}

/** Go's strconv.Quote for the characters that matter here (JSON escaping, Go spellings) */
export function goQuote(s: string): string {
  return JSON.stringify(s)
    .replace(/\\u0007/g, '\\a')
    .replace(/\\u000b/g, '\\v')
    .replace(/\\u00([0-1][0-9a-f])/g, '\\x$1')
    .replace(/\u007f/g, '\\x7f');
}
