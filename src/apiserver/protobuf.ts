/**
 * Decoding of `application/vnd.kubernetes.protobuf` request bodies.
 *
 * kubectl's typed clients (`kubectl create namespace|configmap|secret`, since about 1.30) send
 * protobuf and do not fall back to JSON on 415, so the API server must read it. The wire form is
 * the 4-byte magic "k8s\0" followed by a runtime.Unknown message wrapping the object's bytes:
 *
 *   Unknown { 1: TypeMeta { 1: apiVersion, 2: kind }, 2: raw (the object), 3: contentEncoding, 4: contentType }
 *
 * The messages are described by a table generated from the struct tags of k8s.io/api and
 * k8s.io/apimachinery (generated/protobuf-messages.json, scripts/gen-protobuf-table.mjs): field
 * numbers, JSON names, Go pointers and omitempty, so the object decoded is the one Go's JSON
 * encoder would have written (a pointer sent as 0 or false stays, e.g. a Pod's
 * terminationGracePeriodSeconds: 0; an omitempty zero goes; embedded structs are inlined, as
 * a Volume's VolumeSource). Pod, Event, Node, Binding and the other kinds in PROTOBUF_KINDS are
 * read (kubectl 1.30+ sends `kubectl debug --copy-to`'s Pod this way).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { badRequest, unsupportedMediaType } from '../api/errors.js';

type Obj = Record<string, any>;

type Scalar = 'string' | 'bytes-base64' | 'int' | 'bool' | 'double';
/** apimachinery types with a wire form of their own */
type Special = 'time' | 'microtime' | 'quantity' | 'intorstring' | 'duration' | 'rawjson';

type FieldType = Scalar | Special | { message: string } | { map: Scalar | Special | { message: string } | { list: Scalar } } | { list: Scalar };

interface FieldDesc {
  /** the JSON name (for an inlined embedded struct, its Go type name) */
  name: string;
  type: FieldType;
  repeated?: boolean;
  /** a Go pointer: on the wire only when set, so a zero value there is kept */
  pointer?: boolean;
  /** json omitempty: Go leaves a zero value out of the JSON form */
  omitempty?: boolean;
  /** an embedded struct: its fields are the parent's in JSON */
  inline?: boolean;
}

type MessageDesc = Record<number, FieldDesc>;

/** The envelope, described here; every API type comes from the generated table. */
const ENVELOPE: Record<string, MessageDesc> = {
  Unknown: { 1: { name: 'typeMeta', type: { message: 'TypeMeta' } }, 2: { name: 'raw', type: 'bytes-base64' }, 3: { name: 'contentEncoding', type: 'string' }, 4: { name: 'contentType', type: 'string' } },
  TypeMeta: { 1: { name: 'apiVersion', type: 'string' }, 2: { name: 'kind', type: 'string' } },
};

/**
 * generated/protobuf-messages.json (scripts/gen-protobuf-table.mjs, from the struct tags of
 * k8s.io/api and k8s.io/apimachinery types.go), read once on first use; found next to this
 * module or in the source tree above it, as src/api/schema.ts finds its schema.
 */
let table: Record<string, MessageDesc> | undefined;
function messages(): Record<string, MessageDesc> {
  if (table) return table;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'generated', 'protobuf-messages.json')];
  for (let dir = here; dirname(dir) !== dir; dir = dirname(dir)) candidates.push(join(dir, 'src', 'apiserver', 'generated', 'protobuf-messages.json'));
  const file = candidates.find((c) => existsSync(c));
  if (!file) throw new Error('podbay: src/apiserver/generated/protobuf-messages.json is missing');
  table = { ...JSON.parse(readFileSync(file, 'utf8')), ...ENVELOPE } as Record<string, MessageDesc>;
  return table;
}

/** kinds whose protobuf form podbay reads (what typed clients such as kubectl's send) */
export const PROTOBUF_KINDS = ['Namespace', 'ConfigMap', 'Secret', 'Pod', 'Event', 'Node', 'Binding', 'DeleteOptions', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SelfSubjectReview'];

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw new Error('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  double(): number {
    if (this.pos + 8 > this.buf.length) throw new Error('truncated fixed64');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function toInt(v: bigint): number {
  // int64 fields are two's complement in a varint (and negative int32s are sign-extended)
  return Number(BigInt.asIntN(64, v));
}

function rfc3339(seconds: number, nanos: number, fraction: 0 | 6): string | null {
  if (!seconds && !nanos) return null; // Go's zero time: null in JSON
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return fraction ? `${base}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${base}Z`;
}

/** One value of a field of type `t` at the reader's position (wire type `wire`). */
function decodeValue(r: Reader, wire: number, t: FieldType): unknown {
  if (t === 'string') return r.bytes().toString('utf8');
  if (t === 'bytes-base64') return Buffer.from(r.bytes()).toString('base64');
  if (t === 'int') return toInt(r.varint());
  if (t === 'bool') return r.varint() !== 0n;
  if (t === 'double') return r.double();
  if (typeof t === 'string') {
    const m = decodeRaw(r.bytes());
    const int = (n: number) => toInt((m.get(n)?.at(-1) as bigint | undefined) ?? 0n);
    const str = (n: number) => ((m.get(n)?.at(-1) as Buffer | undefined) ?? Buffer.alloc(0)).toString('utf8');
    switch (t) {
      case 'time':
        return rfc3339(int(1), int(2), 0);
      case 'microtime':
        return rfc3339(int(1), int(2), 6);
      case 'quantity':
        return str(1);
      case 'intorstring':
        return int(1) === 1 ? str(3) : int(2);
      case 'duration':
        return `${int(1) / 1e9}s`;
      case 'rawjson': {
        const raw = str(1);
        try {
          return JSON.parse(raw);
        } catch {
          return raw;
        }
      }
    }
  }
  if ('message' in t) return decodeMessage(r.bytes(), t.message);
  if ('list' in t) {
    const out: unknown[] = [];
    const inner = new Reader(r.bytes());
    while (!inner.done()) {
      const tag = Number(inner.varint());
      if (tag >> 3 === 1) out.push(decodeValue(inner, tag & 7, t.list));
      else inner.skip(tag & 7);
    }
    return out;
  }
  throw new Error(`field type ${JSON.stringify(t)} in a map is decoded by its entry`);
}

/** A message's fields as raw values (varints as bigint, length-delimited as Buffer), by number. */
function decodeRaw(buf: Buffer): Map<number, (bigint | Buffer)[]> {
  const r = new Reader(buf);
  const out = new Map<number, (bigint | Buffer)[]>();
  while (!r.done()) {
    const tag = Number(r.varint());
    const wire = tag & 7;
    const v = wire === 0 ? r.varint() : wire === 2 ? Buffer.from(r.bytes()) : (r.skip(wire), undefined);
    if (v !== undefined) (out.get(tag >> 3) ?? out.set(tag >> 3, []).get(tag >> 3)!).push(v);
  }
  return out;
}

/** A map entry message {1: key, 2: value}. */
function decodeMapEntry(buf: Buffer, valueType: FieldType): [string, unknown] {
  const r = new Reader(buf);
  let k = '';
  let v: unknown;
  while (!r.done()) {
    const tag = Number(r.varint());
    const field = tag >> 3;
    if (field === 1) k = r.bytes().toString('utf8');
    else if (field === 2) v = decodeValue(r, tag & 7, valueType);
    else r.skip(tag & 7);
  }
  // an absent value is the type's zero value
  if (v === undefined) v = valueType === 'string' || valueType === 'bytes-base64' || valueType === 'quantity' ? '' : typeof valueType === 'object' && 'message' in valueType ? {} : null;
  return [k, v];
}

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === null || v === undefined;
}

function decodeMessage(buf: Buffer, type: string): Obj {
  const desc = messages()[type];
  if (!desc) throw new Error(`no protobuf description of ${type}`);
  const out: Obj = {};
  const inlined: Obj[] = [];
  const r = new Reader(buf);
  while (!r.done()) {
    const tag = Number(r.varint());
    const fd = desc[tag >> 3];
    const wire = tag & 7;
    if (!fd) {
      r.skip(wire);
      continue;
    }
    const t = fd.type;
    if (typeof t === 'object' && 'map' in t) {
      const [k, v] = decodeMapEntry(r.bytes(), t.map as FieldType);
      (out[fd.name] ??= {})[k] = v;
      continue;
    }
    // packed repeated scalars (proto3 style) as well as one value per tag
    if (fd.repeated && wire === 2 && (t === 'int' || t === 'bool' || t === 'double')) {
      const packed = new Reader(r.bytes());
      while (!packed.done()) (out[fd.name] ??= []).push(decodeValue(packed, t === 'double' ? 1 : 0, t));
      continue;
    }
    const value = decodeValue(r, wire, t);
    if (fd.inline) inlined.push(value as Obj);
    else if (fd.repeated) (out[fd.name] ??= []).push(value);
    else out[fd.name] = value;
  }
  // Go's JSON form: a pointer that was sent is kept even when zero; a non-pointer zero scalar
  // with omitempty is left out, and so is an empty non-pointer struct (a zero value gogo
  // writes anyway)
  for (const fd of Object.values(desc)) {
    if (fd.inline || fd.pointer || fd.repeated || !(fd.name in out)) continue;
    const v = out[fd.name];
    const isMessage = typeof fd.type === 'object' && 'message' in fd.type;
    if (isMessage && v && typeof v === 'object' && Object.keys(v).length === 0) delete out[fd.name];
    else if (fd.omitempty && isZero(v)) delete out[fd.name];
  }
  for (const o of inlined) Object.assign(out, o);
  return out;
}

/**
 * Decode a protobuf request body into the JSON object it stands for, or throw 415 (a kind
 * podbay cannot read in protobuf) / 400 (a malformed body) saying what to do instead.
 */
export function decodeProtobufObject(body: Buffer, expectedKind: string): Obj {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) {
    throw badRequest('the protobuf body does not start with the Kubernetes magic "k8s\\x00"');
  }
  let unknown: Obj;
  try {
    const r = new Reader(body.subarray(4));
    unknown = {};
    while (!r.done()) {
      const tag = Number(r.varint());
      const field = tag >> 3;
      if (field === 1) unknown.typeMeta = decodeMessage(r.bytes(), 'TypeMeta');
      else if (field === 2) unknown.raw = Buffer.from(r.bytes());
      else r.skip(tag & 7);
    }
  } catch (e) {
    throw badRequest(`malformed protobuf body: ${(e as Error).message}`);
  }
  const kind: string = unknown.typeMeta?.kind || expectedKind;
  if (!PROTOBUF_KINDS.includes(kind)) {
    throw unsupportedMediaType(
      `podbay reads ${kind} only as JSON or YAML: send it with Content-Type application/json (protobuf is read for ${PROTOBUF_KINDS.join(', ')})`,
    );
  }
  let obj: Obj;
  try {
    obj = decodeMessage(unknown.raw ?? Buffer.alloc(0), kind);
  } catch (e) {
    throw badRequest(`malformed protobuf ${kind}: ${(e as Error).message}`);
  }
  if (unknown.typeMeta?.apiVersion) obj.apiVersion = unknown.typeMeta.apiVersion;
  if (unknown.typeMeta?.kind) obj.kind = unknown.typeMeta.kind;
  return obj;
}
