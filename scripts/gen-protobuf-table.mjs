#!/usr/bin/env node
// Generates src/apiserver/generated/protobuf-messages.json: the protobuf field table that
// src/apiserver/protobuf.ts decodes request bodies with, for the kinds podbay reads in protobuf
// and every message they reach.
//
// Not run at build time: it reads Go sources that are not part of this repository, and its
// output is checked in. To regenerate (e.g. for a newer Kubernetes), with checkouts of
// k8s.io/api and k8s.io/apimachinery:
//
//   node scripts/gen-protobuf-table.mjs API_DIR APIMACHINERY_DIR
//
// Everything comes from the struct tags of types.go: `protobuf:"bytes,3,opt,name=x"` gives the
// field number (and rep for repeated), `json:"x,omitempty"` the JSON name and whether Go drops
// a zero value, a leading * that the field is a pointer (on the wire only when set, so a zero
// value there is kept), an embedded struct with no JSON name that JSON inlines its fields. Named scalar types
// (type PodPhase string) are scalars; the apimachinery types with a protobuf form of their own
// (Time, MicroTime, Quantity, IntOrString, Duration, RawExtension) are named by kind.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'src/apiserver/generated/protobuf-messages.json');

const [apiDir, machineryDir] = process.argv.slice(2);
if (!apiDir || !machineryDir) {
  console.error('usage: node scripts/gen-protobuf-table.mjs K8S_API_DIR K8S_APIMACHINERY_DIR');
  process.exit(2);
}

// earlier files win a name both define
const FILES = [
  path.join(apiDir, 'core/v1/types.go'),
  path.join(machineryDir, 'pkg/apis/meta/v1/types.go'),
  path.join(apiDir, 'authorization/v1/types.go'),
  path.join(apiDir, 'authentication/v1/types.go'),
];

/** the kinds read in protobuf: the roots of the table */
const ROOTS = ['Namespace', 'ConfigMap', 'Secret', 'Pod', 'Event', 'Node', 'Binding', 'DeleteOptions', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SelfSubjectReview'];

/** apimachinery types with their own wire form, by their unqualified Go name */
const SPECIAL = { Time: 'time', MicroTime: 'microtime', Quantity: 'quantity', IntOrString: 'intorstring', Duration: 'duration', RawExtension: 'rawjson', FieldsV1: 'rawjson' };
const SCALARS = { string: 'string', bool: 'bool', int32: 'int', int64: 'int', int: 'int', uint32: 'int', uint64: 'int', float64: 'double', UID: 'string' };

const structs = new Map(); // name -> [{goName, type, tag, embedded}]
const aliases = new Map(); // name -> go type text (type X string / type X map[..]..)

for (const file of FILES) {
  const src = fs.readFileSync(file, 'utf8');
  const lines = src.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const alias = /^type (\w+) (.+)$/.exec(lines[i]);
    if (alias && !alias[2].startsWith('struct')) {
      if (!aliases.has(alias[1])) aliases.set(alias[1], alias[2].replace(/\s*\/\/.*$/, '').trim());
      continue;
    }
    const m = /^type (\w+) struct \{/.exec(lines[i]);
    if (!m) continue;
    const fields = [];
    for (i++; i < lines.length && lines[i] !== '}'; i++) {
      const line = lines[i].trim();
      if (line.startsWith('//') || !line.includes('`')) continue;
      const f = /^(?:(\w+)\s+)?(\S+)\s+`([^`]*)`/.exec(line);
      if (!f) continue;
      fields.push({ goName: f[1], type: f[2], tag: f[3], embedded: !f[1] });
    }
    if (!structs.has(m[1])) structs.set(m[1], fields);
  }
}

const unqualified = (t) => t.replace(/^[a-z0-9]+\./, '');

/** The table's type for a Go type (without * or []), queueing messages to describe. */
function typeOf(goType, queue) {
  if (goType === '[]byte') return 'bytes-base64';
  const map = /^map\[(\w+\.)?\w+\](.+)$/.exec(goType);
  if (map) return { map: valueType(map[2], queue) };
  const name = unqualified(goType);
  if (SPECIAL[name]) return SPECIAL[name];
  if (SCALARS[name]) return SCALARS[name];
  if (structs.has(name)) {
    queue.push(name);
    return { message: name };
  }
  const a = aliases.get(name);
  if (a) {
    if (/^\[\](\w+\.)?\w+$/.test(a) && SCALARS[unqualified(a.slice(2))]) return { list: SCALARS[unqualified(a.slice(2))] }; // type ExtraValue []string: a message { repeated items = 1 }
    return typeOf(a, queue);
  }
  throw new Error(`no wire form known for Go type ${goType}`);
}

function valueType(goType, queue) {
  const t = typeOf(goType, queue);
  if (typeof t === 'string' || 'message' in t || 'list' in t) return t;
  throw new Error(`map of maps: ${goType}`);
}

const out = {};
const queue = [...ROOTS];
while (queue.length) {
  const name = queue.shift();
  if (out[name]) continue;
  const fields = structs.get(name);
  if (!fields) throw new Error(`struct ${name} not found`);
  const desc = {};
  for (const f of fields) {
    const pb = /protobuf:"(\w+),(\d+),(opt|rep|req)/.exec(f.tag);
    if (!pb) continue; // TypeMeta and other fields with no wire form
    const json = /json:"([^"]*)"/.exec(f.tag)?.[1] ?? '';
    const [jsonName, ...opts] = json.split(',');
    let t = f.type;
    const pointer = t.startsWith('*');
    if (pointer) t = t.slice(1);
    // repeated follows the Go type (some slices are tagged opt)
    const repeated = t.startsWith('[]') && t !== '[]byte';
    if (repeated) t = t.slice(2);
    const type = typeOf(t, queue);
    // an embedded struct is inlined by encoding/json unless its tag names it (metav1.ObjectMeta `json:"metadata"`)
    const inline = (f.embedded && !jsonName) || opts.includes('inline');
    const d = { name: jsonName || (f.embedded ? unqualified(t) : f.goName), type };
    if (repeated) d.repeated = true;
    if (pointer) d.pointer = true;
    if (opts.includes('omitempty') || opts.includes('omitzero')) d.omitempty = true;
    if (inline) d.inline = true;
    desc[pb[2]] = d;
  }
  out[name] = desc;
}

const sorted = Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, JSON.stringify(sorted, null, 1) + '\n');
console.log(`gen-protobuf-table: ${Object.keys(sorted).length} messages -> ${path.relative(ROOT, OUT)}`);
