#!/usr/bin/env node
// Extracts the protobuf wire layout of the served kinds from a checkout of k8s.io/api into
// src/apiserver/protobuf-messages.json, which src/apiserver/protobuf.ts reads to decode
// `application/vnd.kubernetes.protobuf` request bodies (kubectl 1.30+ creates deployments, jobs,
// cronjobs ..., 1.32+ ingresses, through typed clients, in protobuf). A root added here is also
// listed in protobuf.ts's PROTOBUF_KINDS.
//
//   node scripts/gen-protobuf-messages.mjs /path/to/k8s.io/api
//
// The layout is read from the Go struct tags of <group>/v1/types.go:
//   Replicas *int32 `json:"replicas,omitempty" protobuf:"varint,1,opt,name=replicas"`
// gives field 1, JSON name "replicas", a varint, and a pointer (so a zero value is kept: Go
// writes a pointer field only when it is set). Not run at build time: k8s.io/api is not an npm
// package; the output is committed and regenerated when the served kinds change.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'src/apiserver/protobuf-messages.json');
const API = process.argv[2];
if (!API) throw new Error('usage: gen-protobuf-messages.mjs /path/to/k8s.io/api');

const PACKAGES = ['core/v1', 'apps/v1', 'batch/v1', 'policy/v1', 'coordination/v1', 'storage/v1', 'autoscaling/v1', 'authorization/v1', 'authentication/v1', 'networking/v1', 'certificates/v1'];
const ROOTS = [
  'Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'ControllerRevision', 'Job', 'CronJob',
  'ReplicationController', 'PersistentVolume', 'PersistentVolumeClaim', 'ServiceAccount',
  'PodDisruptionBudget', 'Lease', 'StorageClass', 'Scale', 'Pod', 'Service',
  'Namespace', 'ConfigMap', 'Secret', 'Event', 'Node', 'Binding',
  'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SelfSubjectReview',
  'SubjectAccessReview', 'LocalSubjectAccessReview', 'TokenReview',
  'Eviction', 'Ingress', 'IngressClass', 'NetworkPolicy', 'CertificateSigningRequest',
];
// apimachinery types, described by hand (their files live in k8s.io/apimachinery)
const LEAVES = {
  'metav1.ObjectMeta': 'ObjectMeta',
  'metav1.LabelSelector': 'LabelSelector',
  'metav1.Time': 'time',
  'metav1.MicroTime': 'time',
  'metav1.Duration': 'Duration',
  'resource.Quantity': 'Quantity',
  'intstr.IntOrString': 'IntOrString',
  'runtime.RawExtension': 'RawExtension',
  'metav1.TypeMeta': null,
  'metav1.ListMeta': null,
  'metav1.Condition': 'Condition',
  'metav1.DeleteOptions': 'DeleteOptions',
};

/** Go struct name -> [{ goName, goType, json, tag }] */
const structs = new Map();
/** struct names a later package declared differently (kept: the first package's) */
const shadowed = new Map();
/** named non-struct types: name -> underlying Go type */
const named = new Map();
for (const pkg of PACKAGES) {
  const file = path.join(API, pkg, 'types.go');
  const src = fs.readFileSync(file, 'utf8');
  for (const m of src.matchAll(/^type (\w+) (\S+)\s*$/gm)) if (m[2] !== 'struct') named.set(m[1], m[2]);
  for (const m of src.matchAll(/^type (\w+) struct \{\n([\s\S]*?)^\}/gm)) {
    const fields = [];
    for (const line of m[2].split('\n')) {
      const f = /^\t(?:(\w+)\s+)?([*\[\]\w.]+)\s+`([^`]*)`/.exec(line);
      if (!f) continue;
      const tags = Object.fromEntries([...f[3].matchAll(/(\w+):"([^"]*)"/g)].map((t) => [t[1], t[2]]));
      fields.push({ goName: f[1], goType: f[2], json: tags.json, protobuf: tags.protobuf });
    }
    if (structs.has(m[1])) {
      // the first package wins; a later one whose struct differs is only an error if a root
      // reaches that name (checked below), e.g. storage's TokenRequest vs authentication's
      if (JSON.stringify(structs.get(m[1])) !== JSON.stringify(fields)) shadowed.set(m[1], pkg);
      continue;
    }
    structs.set(m[1], fields);
  }
}

const messages = {};
const queue = [...ROOTS];
function fieldType(goType, wire) {
  const bare = goType.replace(/^\*/, '').replace(/^\[\]/, '');
  if (goType === '[]byte') return 'bytes-base64';
  if (bare in LEAVES) {
    const leaf = LEAVES[bare];
    if (leaf === 'time') return 'time';
    return { message: leaf };
  }
  const local = bare.replace(/^(v1|corev1|metav1|apps|batch|authenticationv1)\./, '');
  if (/^map\[/.test(goType) || named.get(local)?.startsWith('map[')) {
    const underlying = /^map\[/.test(goType) ? goType : named.get(local);
    const value = underlying.replace(/^map\[[\w.]+\]/, '');
    if (value === 'string' || named.get(value) === 'string') return { map: 'string' };
    if (value === '[]byte') return { map: 'bytes-base64' };
    if (value === 'resource.Quantity') return { map: 'message', value: 'Quantity' };
    if (value === 'metav1.Time') return { map: 'time' };
    // authentication/authorization's ExtraValue ([]string): a message of its own on the wire,
    // described in src/apiserver/protobuf.ts
    if (value === 'ExtraValue') return { map: 'message', value: 'ExtraValue' };
    if (structs.has(value)) {
      if (!queue.includes(value) && !messages[value]) queue.push(value);
      return { map: 'message', value };
    }
    throw new Error(`gen-protobuf: unsupported map ${underlying}`);
  }
  if (structs.has(local)) {
    if (!queue.includes(local) && !messages[local]) queue.push(local);
    return { message: local };
  }
  // the Go type decides, not the tag's wire type: some tags are wrong (PodSpec.priority, a
  // *int32, is tagged "bytes" while generated.proto and the wire say int32)
  const scalar = named.get(local) ?? bare;
  if (/^u?int(8|16|32|64)?$/.test(scalar)) return 'int';
  if (scalar === 'bool') return 'bool';
  if (scalar === 'float64' || scalar === 'float32') return 'double';
  if (scalar === 'string') return 'string';
  if (wire === 'varint') return bare === 'bool' || named.get(local) === 'bool' ? 'bool' : 'int';
  if (wire === 'bytes') return 'string';
  if (wire === 'fixed64') return 'double';
  throw new Error(`gen-protobuf: unsupported Go type ${goType} (${wire})`);
}

while (queue.length) {
  const name = queue.shift();
  if (messages[name]) continue;
  const fields = structs.get(name);
  if (!fields) throw new Error(`gen-protobuf: no struct ${name}`);
  if (shadowed.has(name)) throw new Error(`gen-protobuf: ${name} is declared differently in ${shadowed.get(name)}; the served kinds reach it, so the table would be ambiguous`);
  const desc = {};
  for (const f of fields) {
    if (!f.protobuf) continue;
    const [wire, num, , ...opts] = f.protobuf.split(',');
    const jsonName = (f.json ?? '').split(',')[0];
    const inline = jsonName === '' || (f.json ?? '').includes('inline');
    const d = { name: inline ? '' : jsonName, type: fieldType(f.goType, wire) };
    if (f.goType.startsWith('[]') && f.goType !== '[]byte') d.repeated = true;
    if (f.goType.startsWith('*')) d.ptr = true;
    if (inline) d.inline = true;
    desc[num] = d;
    void opts;
  }
  messages[name] = desc;
}

const text = JSON.stringify(Object.fromEntries(Object.keys(messages).sort().map((k) => [k, messages[k]]))) + '\n';
fs.writeFileSync(OUT, text);
console.log(`gen-protobuf: ${Object.keys(messages).length} messages -> ${path.relative(ROOT, OUT)} (${(text.length / 1024).toFixed(0)} KiB)`);
