/**
 * Decoding of `application/vnd.kubernetes.protobuf` request bodies.
 *
 * kubectl's typed clients (`kubectl create namespace|configmap|secret`, since about 1.30) send
 * protobuf and do not fall back to JSON on 415, so the API server must read it. The wire form is
 * the 4-byte magic "k8s\0" followed by a runtime.Unknown message wrapping the object's bytes:
 *
 *   Unknown { 1: TypeMeta { 1: apiVersion, 2: kind }, 2: raw (the object), 3: contentEncoding, 4: contentType }
 *
 * Only the messages of the kinds kubectl creates through typed clients are described below, by
 * their field numbers in k8s.io/api and k8s.io/apimachinery (generated.proto). Go's zero values
 * ("" and 0 in optional scalars) are dropped, as the JSON encoder's omitempty does.
 */
import { badRequest, unsupportedMediaType } from '../api/errors.js';

type Obj = Record<string, any>;

type FieldType =
  | 'string'
  | 'bytes-base64'
  | 'int'
  | 'bool'
  | 'time'
  | { message: string }
  | { map: 'string' | 'bytes-base64' };

interface FieldDesc {
  name: string;
  type: FieldType;
  repeated?: boolean;
}

type MessageDesc = Record<number, FieldDesc>;

const MESSAGES: Record<string, MessageDesc> = {
  Unknown: { 1: { name: 'typeMeta', type: { message: 'TypeMeta' } }, 2: { name: 'raw', type: 'bytes-base64' }, 3: { name: 'contentEncoding', type: 'string' }, 4: { name: 'contentType', type: 'string' } },
  TypeMeta: { 1: { name: 'apiVersion', type: 'string' }, 2: { name: 'kind', type: 'string' } },
  ObjectMeta: {
    1: { name: 'name', type: 'string' },
    2: { name: 'generateName', type: 'string' },
    3: { name: 'namespace', type: 'string' },
    4: { name: 'selfLink', type: 'string' },
    5: { name: 'uid', type: 'string' },
    6: { name: 'resourceVersion', type: 'string' },
    7: { name: 'generation', type: 'int' },
    8: { name: 'creationTimestamp', type: 'time' },
    9: { name: 'deletionTimestamp', type: 'time' },
    10: { name: 'deletionGracePeriodSeconds', type: 'int' },
    11: { name: 'labels', type: { map: 'string' } },
    12: { name: 'annotations', type: { map: 'string' } },
    13: { name: 'ownerReferences', type: { message: 'OwnerReference' }, repeated: true },
    14: { name: 'finalizers', type: 'string', repeated: true },
  },
  OwnerReference: {
    1: { name: 'kind', type: 'string' },
    3: { name: 'name', type: 'string' },
    4: { name: 'uid', type: 'string' },
    5: { name: 'apiVersion', type: 'string' },
    6: { name: 'controller', type: 'bool' },
    7: { name: 'blockOwnerDeletion', type: 'bool' },
  },
  Namespace: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } }, 2: { name: 'spec', type: { message: 'NamespaceSpec' } }, 3: { name: 'status', type: { message: 'NamespaceStatus' } } },
  NamespaceSpec: { 1: { name: 'finalizers', type: 'string', repeated: true } },
  NamespaceStatus: { 1: { name: 'phase', type: 'string' } },
  ConfigMap: {
    1: { name: 'metadata', type: { message: 'ObjectMeta' } },
    2: { name: 'data', type: { map: 'string' } },
    3: { name: 'binaryData', type: { map: 'bytes-base64' } },
    4: { name: 'immutable', type: 'bool' },
  },
  Secret: {
    1: { name: 'metadata', type: { message: 'ObjectMeta' } },
    2: { name: 'data', type: { map: 'bytes-base64' } },
    3: { name: 'type', type: 'string' },
    4: { name: 'stringData', type: { map: 'string' } },
    5: { name: 'immutable', type: 'bool' },
  },
  Time: { 1: { name: 'seconds', type: 'int' }, 2: { name: 'nanos', type: 'int' } },
  DeleteOptions: {
    1: { name: 'gracePeriodSeconds', type: 'int' },
    2: { name: 'preconditions', type: { message: 'Preconditions' } },
    3: { name: 'orphanDependents', type: 'bool' },
    4: { name: 'propagationPolicy', type: 'string' },
    5: { name: 'dryRun', type: 'string', repeated: true },
  },
  Preconditions: { 1: { name: 'uid', type: 'string' }, 2: { name: 'resourceVersion', type: 'string' } },
  // authorization.k8s.io/v1 and authentication.k8s.io/v1 reviews (kubectl auth can-i / whoami);
  // their status is the server's to fill, so it is not read
  SelfSubjectAccessReview: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } }, 2: { name: 'spec', type: { message: 'SelfSubjectAccessReviewSpec' } } },
  SelfSubjectAccessReviewSpec: { 1: { name: 'resourceAttributes', type: { message: 'ResourceAttributes' } }, 2: { name: 'nonResourceAttributes', type: { message: 'NonResourceAttributes' } } },
  ResourceAttributes: {
    1: { name: 'namespace', type: 'string' },
    2: { name: 'verb', type: 'string' },
    3: { name: 'group', type: 'string' },
    4: { name: 'version', type: 'string' },
    5: { name: 'resource', type: 'string' },
    6: { name: 'subresource', type: 'string' },
    7: { name: 'name', type: 'string' },
  },
  NonResourceAttributes: { 1: { name: 'path', type: 'string' }, 2: { name: 'verb', type: 'string' } },
  SelfSubjectRulesReview: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } }, 2: { name: 'spec', type: { message: 'SelfSubjectRulesReviewSpec' } } },
  SelfSubjectRulesReviewSpec: { 1: { name: 'namespace', type: 'string' } },
  SelfSubjectReview: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } } },
};

/** kinds whose protobuf form podbay reads */
export const PROTOBUF_KINDS = ['Namespace', 'ConfigMap', 'Secret', 'DeleteOptions', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SelfSubjectReview'];

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
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function toInt(v: bigint): number {
  // int64 fields are two's complement in a varint
  return Number(BigInt.asIntN(64, v));
}

function decodeMap(buf: Buffer, valueType: 'string' | 'bytes-base64'): [string, string] {
  const r = new Reader(buf);
  let k = '';
  let v: Buffer = Buffer.alloc(0);
  while (!r.done()) {
    const tag = Number(r.varint());
    const field = tag >> 3;
    if (field === 1) k = r.bytes().toString('utf8');
    else if (field === 2) v = Buffer.from(r.bytes());
    else r.skip(tag & 7);
  }
  return [k, valueType === 'string' ? v.toString('utf8') : v.toString('base64')];
}

function decodeMessage(buf: Buffer, type: string): Obj {
  const desc = MESSAGES[type];
  const out: Obj = {};
  const r = new Reader(buf);
  while (!r.done()) {
    const tag = Number(r.varint());
    const fd = desc[tag >> 3];
    const wire = tag & 7;
    if (!fd) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    const t = fd.type;
    if (t === 'string') value = r.bytes().toString('utf8');
    else if (t === 'bytes-base64') value = Buffer.from(r.bytes()).toString('base64');
    else if (t === 'int') value = toInt(r.varint());
    else if (t === 'bool') value = r.varint() !== 0n;
    else if (t === 'time') {
      const tm = decodeMessage(r.bytes(), 'Time');
      value = tm.seconds ? new Date(tm.seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
    } else if ('message' in t) {
      value = decodeMessage(r.bytes(), t.message);
    } else {
      const [k, v] = decodeMap(r.bytes(), t.map);
      (out[fd.name] ??= {})[k] = v;
      continue;
    }
    if (fd.repeated) (out[fd.name] ??= []).push(value);
    else out[fd.name] = value;
  }
  // Go's omitempty: zero scalars and empty nested messages are not in the JSON form.
  for (const [k, v] of Object.entries(out)) {
    if (v === '' || v === 0 || v === undefined || v === false) delete out[k];
    else if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) delete out[k];
  }
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
  if (!MESSAGES[kind] || !PROTOBUF_KINDS.includes(kind)) {
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
