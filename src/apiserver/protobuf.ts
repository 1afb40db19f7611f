/**
 * Decoding of `application/vnd.kubernetes.protobuf` request bodies.
 *
 * kubectl's typed clients (`kubectl create namespace|configmap|secret|deployment|...` since about
 * 1.30, `kubectl create ingress` since 1.32) send protobuf and do not fall back to JSON on 415, so
 * the API server must read it. The wire form is
 * the 4-byte magic "k8s\0" followed by a runtime.Unknown message wrapping the object's bytes:
 *
 *   Unknown { 1: TypeMeta { 1: apiVersion, 2: kind }, 2: raw (the object), 3: contentEncoding, 4: contentType }
 *
 * The messages of the served kinds come from protobuf-messages.json (extracted from k8s.io/api's
 * struct tags by scripts/gen-protobuf-messages.mjs); the apimachinery ones are described below,
 * by their field numbers in k8s.io/apimachinery (generated.proto). Go's zero values ("" and 0 in
 * optional scalars) are dropped, as the JSON encoder's omitempty does, except in pointer fields
 * (`ptr`), which Go writes only when set: `replicas: 0` stays 0. A field podbay does not know
 * that carries a value is refused (400), never dropped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { badRequest, unsupportedMediaType } from '../api/errors.js';
import { rfc3339 } from '../api/time.js';

type Obj = Record<string, any>;

type FieldType =
  | 'string'
  | 'bytes-base64'
  | 'int'
  | 'bool'
  | 'double'
  | 'time'
  | { message: string }
  | { map: 'string' | 'bytes-base64' | 'time' }
  | { map: 'message'; value: string };

interface FieldDesc {
  name: string;
  type: FieldType;
  repeated?: boolean;
  /** a Go pointer: written only when set, so its zero value is a value */
  ptr?: boolean;
  /** embedded with `json:",inline"`: its fields belong to the enclosing object */
  inline?: boolean;
}

type MessageDesc = Record<number, FieldDesc>;

/** protobuf-messages.json: next to this module in src/, or in <root>/src/apiserver from a build dir */
function loadGenerated(): Record<string, MessageDesc> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'protobuf-messages.json')];
  for (let dir = here; dirname(dir) !== dir; dir = dirname(dir)) candidates.push(join(dir, 'src', 'apiserver', 'protobuf-messages.json'));
  const file = candidates.find((c) => existsSync(c));
  if (!file) throw new Error('podbay: src/apiserver/protobuf-messages.json is missing (see scripts/gen-protobuf-messages.mjs)');
  return JSON.parse(readFileSync(file, 'utf8'));
}

const GENERATED = loadGenerated();

/** apimachinery messages whose JSON form is not an object */
const SCALAR_MESSAGES = new Set(['Quantity', 'IntOrString', 'RawExtension', 'ExtraValue', 'FieldsV1']);

const MESSAGES: Record<string, MessageDesc> = {
  ExtraValue: { 1: { name: 'items', type: 'string', repeated: true } },
  ...GENERATED,
  LabelSelector: { 1: { name: 'matchLabels', type: { map: 'string' } }, 2: { name: 'matchExpressions', type: { message: 'LabelSelectorRequirement' }, repeated: true } },
  LabelSelectorRequirement: { 1: { name: 'key', type: 'string' }, 2: { name: 'operator', type: 'string' }, 3: { name: 'values', type: 'string', repeated: true } },
  Quantity: { 1: { name: 'string', type: 'string' } },
  IntOrString: { 1: { name: 'type', type: 'int' }, 2: { name: 'intVal', type: 'int' }, 3: { name: 'strVal', type: 'string' } },
  RawExtension: { 1: { name: 'raw', type: 'string' } },
  Duration: { 1: { name: 'duration', type: 'int' } },
  Condition: {
    1: { name: 'type', type: 'string' },
    2: { name: 'status', type: 'string' },
    3: { name: 'observedGeneration', type: 'int' },
    4: { name: 'lastTransitionTime', type: 'time' },
    5: { name: 'reason', type: 'string' },
    6: { name: 'message', type: 'string' },
  },
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
    // a typed client's update sends back the object it read, managedFields and all
    // (kubectl certificate approve|deny PUTs the CSR it got)
    17: { name: 'managedFields', type: { message: 'ManagedFieldsEntry' }, repeated: true },
  },
  ManagedFieldsEntry: {
    1: { name: 'manager', type: 'string' },
    2: { name: 'operation', type: 'string' },
    3: { name: 'apiVersion', type: 'string' },
    4: { name: 'time', type: 'time' },
    6: { name: 'fieldsType', type: 'string' },
    7: { name: 'fieldsV1', type: { message: 'FieldsV1' }, ptr: true },
    8: { name: 'subresource', type: 'string' },
  },
  FieldsV1: { 1: { name: 'raw', type: 'string' } },
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
  // authentication/v1 and rbac/v1 generated.proto (kubectl create token / role / rolebinding send these)
  TokenRequest: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } }, 2: { name: 'spec', type: { message: 'TokenRequestSpec' } }, 3: { name: 'status', type: { message: 'TokenRequestStatus' } } },
  TokenRequestSpec: { 1: { name: 'audiences', type: 'string', repeated: true }, 4: { name: 'expirationSeconds', type: 'int', ptr: true }, 3: { name: 'boundObjectRef', type: { message: 'BoundObjectReference' }, ptr: true } },
  BoundObjectReference: { 1: { name: 'kind', type: 'string' }, 2: { name: 'apiVersion', type: 'string' }, 3: { name: 'name', type: 'string' }, 4: { name: 'uid', type: 'string' } },
  TokenRequestStatus: { 1: { name: 'token', type: 'string' }, 2: { name: 'expirationTimestamp', type: 'time' } },
  Role: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } }, 2: { name: 'rules', type: { message: 'PolicyRule' }, repeated: true } },
  ClusterRole: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } }, 2: { name: 'rules', type: { message: 'PolicyRule' }, repeated: true }, 3: { name: 'aggregationRule', type: { message: 'AggregationRule' }, ptr: true } },
  PolicyRule: {
    1: { name: 'verbs', type: 'string', repeated: true },
    2: { name: 'apiGroups', type: 'string', repeated: true },
    3: { name: 'resources', type: 'string', repeated: true },
    4: { name: 'resourceNames', type: 'string', repeated: true },
    5: { name: 'nonResourceURLs', type: 'string', repeated: true },
  },
  AggregationRule: { 1: { name: 'clusterRoleSelectors', type: { message: 'LabelSelector' }, repeated: true } },
  RoleBinding: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } }, 2: { name: 'subjects', type: { message: 'RbacSubject' }, repeated: true }, 3: { name: 'roleRef', type: { message: 'RoleRef' } } },
  ClusterRoleBinding: { 1: { name: 'metadata', type: { message: 'ObjectMeta' } }, 2: { name: 'subjects', type: { message: 'RbacSubject' }, repeated: true }, 3: { name: 'roleRef', type: { message: 'RoleRef' } } },
  RbacSubject: { 1: { name: 'kind', type: 'string' }, 2: { name: 'apiGroup', type: 'string' }, 3: { name: 'name', type: 'string' }, 4: { name: 'namespace', type: 'string' } },
  RoleRef: { 1: { name: 'apiGroup', type: 'string' }, 2: { name: 'kind', type: 'string' }, 3: { name: 'name', type: 'string' } },
  DeleteOptions: {
    1: { name: 'gracePeriodSeconds', type: 'int' },
    2: { name: 'preconditions', type: { message: 'Preconditions' } },
    3: { name: 'orphanDependents', type: 'bool' },
    4: { name: 'propagationPolicy', type: 'string' },
    5: { name: 'dryRun', type: 'string', repeated: true },
  },
  Preconditions: { 1: { name: 'uid', type: 'string' }, 2: { name: 'resourceVersion', type: 'string' } },
};

/** kinds whose protobuf form podbay reads */
export const PROTOBUF_KINDS = [
  'Namespace', 'ConfigMap', 'Secret', 'DeleteOptions', 'Event', 'Node', 'Binding',
  'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SelfSubjectReview', 'SubjectAccessReview', 'LocalSubjectAccessReview', 'TokenReview',
  'Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'ControllerRevision', 'Job', 'CronJob', 'ReplicationController',
  'PersistentVolume', 'PersistentVolumeClaim', 'ServiceAccount', 'PodDisruptionBudget', 'Lease', 'StorageClass', 'Scale', 'Pod', 'Service',
  'TokenRequest', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding',
  'Eviction', 'Ingress', 'IngressClass', 'NetworkPolicy', 'CertificateSigningRequest',
];

const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';

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

function decodeMap(buf: Buffer, t: Exclude<FieldType, string> & { map: string }): [string, unknown] {
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
  if (t.map === 'string') return [k, v.toString('utf8')];
  if (t.map === 'bytes-base64') return [k, v.toString('base64')];
  if (t.map === 'time') return [k, timeOf(v)];
  const type = (t as { value: string }).value;
  const m = decodeMessage(v, type);
  return [k, SCALAR_MESSAGES.has(type) ? scalarOf(type, m) : m];
}

function timeOf(buf: Buffer): string | undefined {
  const tm = decodeMessage(buf, 'Time') as Obj;
  return tm.seconds ? rfc3339(tm.seconds * 1000) : undefined;
}

/** the JSON form of the apimachinery messages that are not objects there */
function scalarOf(type: string, m: Obj): unknown {
  switch (type) {
    case 'Quantity':
      return m.string ?? '0';
    case 'IntOrString':
      return m.type === 1 ? m.strVal ?? '' : m.intVal ?? 0;
    case 'ExtraValue':
      // authentication/authorization's map[string]ExtraValue: a []string on the wire as a message
      return m.items ?? [];
    default: {
      // RawExtension and FieldsV1: JSON bytes
      if (!m.raw) return undefined;
      try {
        return JSON.parse(m.raw);
      } catch {
        throw new Error('RawExtension.raw is not JSON');
      }
    }
  }
}

function decodeMessage(buf: Buffer, type: string): Obj {
  const desc = MESSAGES[type];
  if (!desc) throw new Error(`no description of message ${type}`);
  const out: Obj = {};
  const pointers = new Set<string>();
  const r = new Reader(buf);
  while (!r.done()) {
    const tag = Number(r.varint());
    const number = tag >> 3;
    const fd = desc[number];
    const wire = tag & 7;
    if (!fd) {
      // a field of a newer API than podbay knows: fine while it is empty, refused when set
      const at = r.pos;
      r.skip(wire);
      const raw = r.buf.subarray(at, r.pos);
      const empty = wire === 0 ? raw.length === 1 && raw[0] === 0 : wire === 2 ? raw.length === 1 && raw[0] === 0 : false;
      if (!empty) throw new Error(`field ${number} of ${type} is not known to podbay: send the object as JSON`);
      continue;
    }
    let value: unknown;
    const t = fd.type;
    if (t === 'string') value = r.bytes().toString('utf8');
    else if (t === 'bytes-base64') value = Buffer.from(r.bytes()).toString('base64');
    else if (t === 'int') value = toInt(r.varint());
    else if (t === 'bool') value = r.varint() !== 0n;
    else if (t === 'double') {
      if (r.pos + 8 > r.buf.length) throw new Error('truncated double');
      value = r.buf.readDoubleLE(r.pos);
      r.pos += 8;
    } else if (t === 'time') value = timeOf(r.bytes());
    else if ('message' in t) {
      value = decodeMessage(r.bytes(), t.message);
      if (SCALAR_MESSAGES.has(t.message)) value = scalarOf(t.message, value as Obj);
      if (fd.inline) {
        Object.assign(out, value);
        continue;
      }
    } else {
      const [k, v] = decodeMap(r.bytes(), t);
      (out[fd.name] ??= {})[k] = v;
      continue;
    }
    if (fd.ptr) pointers.add(fd.name);
    if (fd.repeated) (out[fd.name] ??= []).push(value);
    else out[fd.name] = value;
  }
  // Go's omitempty: zero scalars and empty nested messages are not in the JSON form, unless
  // they were pointers (set, so written)
  for (const [k, v] of Object.entries(out)) {
    if (pointers.has(k) && v !== undefined) continue;
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
    // the client chose protobuf (kubectl 1.32+ does for its typed creates) and cannot be told
    // to switch: say what podbay reads and that the limit is podbay's
    throw unsupportedMediaType(
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ` +
        `(podbay cannot decode ${kind} from ${PROTOBUF_MEDIA_TYPE}: this is a limit of podbay, which reads protobuf only for the built-in kinds it has the wire layout of)`,
    );  }
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
