/**
 * Schema-aware walks over objects, as structured-merge-diff's `typed` package does them:
 * ToFieldSet (which fields an applied configuration sets), Compare (which fields an update
 * added, changed or removed), Merge (an applied configuration over the live object) and
 * RemoveItems (prune what an applier stopped applying).
 *
 * The shape of each value comes from podbay's generated schema (src/api/schema.ts):
 *   struct   an object definition: fields by name
 *   map      map[string]X: entries merged one by one (labels, annotations, data)
 *   list     x-kubernetes-list-type map (items by their key fields) or set (by value);
 *            without a list type, a patch strategy "merge" with a merge key counts as a map
 *   atomic   replaced as a whole: atomic lists, free-form values, the structs Kubernetes
 *            marks +structType=atomic (LabelSelector, ObjectReference ...), and a custom
 *            resource's objects and maps marked x-kubernetes-map-type: atomic
 *   scalar   strings, numbers, booleans, quantities, times, int-or-strings
 */
import type { FieldSchema, TypeSchema } from '../schema-types.js';
import { schemas } from '../schema.js';
import { FieldSet, fieldElement, keyElement, valueElement, indexElement, type PathElement } from './fieldset.js';

type Obj = Record<string, unknown>;

export type Shape =
  | { t: 'scalar' }
  | { t: 'atomic' }
  | { t: 'struct'; type: TypeSchema }
  | { t: 'map'; items: FieldSchema | undefined }
  | { t: 'list'; rel: 'map' | 'set'; keys: string[]; items: FieldSchema | undefined };

/**
 * Structs marked `+structType=atomic` in k8s.io/api and apimachinery (x-kubernetes-map-type:
 * atomic in the OpenAPI). podbay's schema is generated from type declarations that do not carry
 * that marker, so the list lives here.
 */
const ATOMIC_STRUCTS = new Set([
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector',
  'io.k8s.api.core.v1.ObjectReference',
  'io.k8s.api.core.v1.LocalObjectReference',
  'io.k8s.api.core.v1.TypedLocalObjectReference',
  'io.k8s.api.core.v1.TypedObjectReference',
  'io.k8s.api.core.v1.SecretReference',
  'io.k8s.api.core.v1.ConfigMapKeySelector',
  'io.k8s.api.core.v1.SecretKeySelector',
  'io.k8s.api.core.v1.ObjectFieldSelector',
  'io.k8s.api.core.v1.ResourceFieldSelector',
  'io.k8s.api.core.v1.ConfigMapEnvSource',
  'io.k8s.api.core.v1.SecretEnvSource',
  'io.k8s.api.core.v1.NodeSelector',
  'io.k8s.api.core.v1.NodeSelectorTerm',
  'io.k8s.api.core.v1.TopologySelectorTerm',
  'io.k8s.api.core.v1.ClaimSource',
]);

/**
 * Key fields with a default in the OpenAPI (a port's protocol is TCP unless said), used when
 * an item omits them, as structured-merge-diff does with schema defaults.
 */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: 'TCP' };

export function shapeOfType(type: TypeSchema): Shape {
  if (type.kind) return type.kind === 'any' ? { t: 'atomic' } : { t: 'scalar' };
  if (ATOMIC_STRUCTS.has(type.name)) return { t: 'atomic' };
  return { t: 'struct', type };
}

export function shapeOf(f: FieldSchema | undefined): Shape {
  if (!f) return { t: 'atomic' };
  switch (f.kind) {
    case 'object': {
      if (f.mapType === 'atomic') return { t: 'atomic' };
      const ref = f.ref ? schemas[f.ref] : undefined;
      return ref ? shapeOfType(ref) : { t: 'atomic' };
    }
    case 'map':
      return f.mapType === 'atomic' ? { t: 'atomic' } : { t: 'map', items: f.items };
    case 'array': {
      const strategies = f.patchStrategy ? f.patchStrategy.split(',') : [];
      if (f.listType === 'map') return { t: 'list', rel: 'map', keys: f.listMapKeys ?? (f.patchMergeKey ? [f.patchMergeKey] : []), items: f.items };
      if (f.listType === 'set') return { t: 'list', rel: 'set', keys: [], items: f.items };
      if (f.listType === 'atomic') return { t: 'atomic' };
      if (strategies.includes('merge')) {
        return f.patchMergeKey ? { t: 'list', rel: 'map', keys: [f.patchMergeKey], items: f.items } : { t: 'list', rel: 'set', keys: [], items: f.items };
      }
      return { t: 'atomic' };
    }
    case 'any':
      return { t: 'atomic' };
    default:
      return { t: 'scalar' };
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function childShape(shape: Shape, key: string): Shape {
  if (shape.t === 'struct') return shapeOf(shape.type.fields[key]);
  if (shape.t === 'map') return shapeOf(shape.items);
  return { t: 'atomic' };
}

/** the path element naming one item of a non-atomic list */
export function itemElement(shape: Extract<Shape, { t: 'list' }>, item: unknown, index: number): PathElement {
  if (shape.rel === 'set') return valueElement(item);
  if (!isObj(item) || shape.keys.length === 0) return indexElement(index);
  const keys: Obj = {};
  for (const k of shape.keys) {
    if (item[k] !== undefined) keys[k] = item[k];
    else if (k in KEY_DEFAULTS) keys[k] = KEY_DEFAULTS[k];
  }
  return keyElement(keys);
}

/** a struct field or map entry whose value is itself a container (map, list) is nil-able in Go */
function isNilableContainer(shape: Shape): boolean {
  return shape.t === 'map' || shape.t === 'list';
}

/** The fields an object sets: structured-merge-diff's ToFieldSet. */
export function toFieldSet(value: unknown, shape: Shape): FieldSet {
  const out = new FieldSet();
  collect(value, shape, out);
  return out;
}

function collect(value: unknown, shape: Shape, into: FieldSet): void {
  if (shape.t === 'struct' || shape.t === 'map') {
    if (!isObj(value)) return;
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      const pe = fieldElement(k);
      const cs = childShape(shape, k);
      if (cs.t === 'scalar' || cs.t === 'atomic') {
        into.members.add(pe);
        continue;
      }
      const sub = new FieldSet();
      collect(v, cs, sub);
      if (!sub.empty()) into.children.set(pe, sub);
      const unknownField = shape.t === 'struct' && !shape.type.fields[k];
      if (v === null || (isObj(v) && Object.keys(v).length === 0) || unknownField || shape.t === 'map') into.members.add(pe);
    }
    return;
  }
  if (shape.t === 'list') {
    if (!Array.isArray(value)) return;
    const is = shapeOf(shape.items);
    value.forEach((item, i) => {
      const pe = itemElement(shape, item, i);
      const sub = new FieldSet();
      if (is.t === 'struct' || is.t === 'map' || is.t === 'list') collect(item, is, sub);
      if (!sub.empty()) into.children.set(pe, sub);
      into.members.add(pe);
    });
  }
}

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** What `rhs` added, changed and removed relative to `lhs`: structured-merge-diff's Compare. */
export function compare(lhs: unknown, rhs: unknown, shape: Shape): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  diff(lhs, rhs, shape, [], c);
  return c;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObj(a)) {
    if (!isObj(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

function present(v: unknown): boolean {
  return v !== undefined;
}

function diff(lhs: unknown, rhs: unknown, shape: Shape, path: PathElement[], c: Comparison): void {
  if (shape.t === 'scalar' || shape.t === 'atomic') {
    if (!present(lhs) && present(rhs)) c.added.insert(path);
    else if (present(lhs) && !present(rhs)) c.removed.insert(path);
    else if (!deepEqual(lhs, rhs)) c.modified.insert(path);
    return;
  }
  if (shape.t === 'struct' || shape.t === 'map') {
    const l = isObj(lhs) ? lhs : {};
    const r = isObj(rhs) ? rhs : {};
    const keys = new Set([...Object.keys(l), ...Object.keys(r)]);
    for (const k of keys) {
      const cs = childShape(shape, k);
      const p = [...path, fieldElement(k)];
      diff(l[k], r[k], cs, p, c);
      if (cs.t === 'scalar' || cs.t === 'atomic') continue;
      // the entry itself: map entries and nil-able containers appear and disappear as a whole
      if (shape.t === 'map' || isNilableContainer(cs)) {
        if (!present(l[k]) && present(r[k])) c.added.insert(p);
        else if (present(l[k]) && !present(r[k])) c.removed.insert(p);
      }
    }
    return;
  }
  // non-atomic list: items by identity
  const lItems = indexItems(lhs, shape);
  const rItems = indexItems(rhs, shape);
  const is = shapeOf(shape.items);
  for (const [pe, li] of lItems) {
    const p = [...path, pe];
    const ri = rItems.get(pe);
    if (ri === undefined) {
      c.removed.insert(p);
      if (is.t !== 'scalar' && is.t !== 'atomic') diff(li, undefined, is, p, c);
    } else if (is.t === 'scalar' || is.t === 'atomic') {
      if (!deepEqual(li, ri)) c.modified.insert(p);
    } else diff(li, ri, is, p, c);
  }
  for (const [pe, ri] of rItems) {
    if (lItems.has(pe)) continue;
    const p = [...path, pe];
    c.added.insert(p);
    if (is.t !== 'scalar' && is.t !== 'atomic') diff(undefined, ri, is, p, c);
  }
}

function indexItems(list: unknown, shape: Extract<Shape, { t: 'list' }>): Map<PathElement, unknown> {
  const out = new Map<PathElement, unknown>();
  if (!Array.isArray(list)) return out;
  list.forEach((item, i) => {
    const pe = itemElement(shape, item, i);
    if (!out.has(pe)) out.set(pe, item);
  });
  return out;
}

/**
 * Duplicate items in an associative or set list of an applied configuration: structured-merge-diff
 * refuses them ("duplicate entries for key ..."). Returns the field path and element, or undefined.
 */
export function findDuplicate(value: unknown, shape: Shape, path: string[] = []): { path: string; element: string } | undefined {
  if (shape.t === 'struct' || shape.t === 'map') {
    if (!isObj(value)) return undefined;
    for (const [k, v] of Object.entries(value)) {
      const d = findDuplicate(v, childShape(shape, k), [...path, k]);
      if (d) return d;
    }
    return undefined;
  }
  if (shape.t !== 'list' || !Array.isArray(value)) return undefined;
  const seen = new Set<PathElement>();
  const is = shapeOf(shape.items);
  for (let i = 0; i < value.length; i++) {
    const pe = itemElement(shape, value[i], i);
    if (seen.has(pe)) return { path: path.join('.'), element: pe };
    seen.add(pe);
    const d = findDuplicate(value[i], is, [...path, String(i)]);
    if (d) return d;
  }
  return undefined;
}

/** An applied configuration merged over the live object: structured-merge-diff's Merge. */
export function merge(live: unknown, config: unknown, shape: Shape): unknown {
  if (config === undefined) return structuredClone(live);
  if (live === undefined || live === null) return stripNulls(structuredClone(config));
  if (shape.t === 'scalar' || shape.t === 'atomic') return stripNulls(structuredClone(config));
  if (shape.t === 'struct' || shape.t === 'map') {
    if (!isObj(live) || !isObj(config)) return stripNulls(structuredClone(config));
    const out: Obj = structuredClone(live);
    for (const [k, v] of Object.entries(config)) {
      if (v === undefined) continue;
      if (v === null) {
        delete out[k];
        continue;
      }
      out[k] = merge(live[k], v, childShape(shape, k));
    }
    return out;
  }
  if (!Array.isArray(live) || !Array.isArray(config)) return stripNulls(structuredClone(config));
  return mergeList(live, config, shape);
}

/** null in an applied configuration means "no value" once decoded into Go structs */
function stripNulls<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => stripNulls(x)) as T;
  if (isObj(v)) {
    const o: Obj = v;
    for (const k of Object.keys(o)) {
      if (o[k] === null) delete o[k];
      else o[k] = stripNulls(o[k]);
    }
  }
  return v;
}

/**
 * Items of both sides merged; the order is the configuration's for the items it names, with the
 * live-only items kept where they stood (typed/merge.go visitListItems).
 */
function mergeList(lhs: unknown[], rhs: unknown[], shape: Extract<Shape, { t: 'list' }>): unknown[] {
  const is = shapeOf(shape.items);
  const lPEs = lhs.map((x, i) => itemElement(shape, x, i));
  const rPEs = rhs.map((x, i) => itemElement(shape, x, i));
  const lBy = new Map<PathElement, unknown>();
  lhs.forEach((x, i) => lBy.has(lPEs[i]) || lBy.set(lPEs[i], x));
  const rBy = new Map<PathElement, unknown>();
  rhs.forEach((x, i) => rBy.has(rPEs[i]) || rBy.set(rPEs[i], x));
  const shared = rPEs.filter((pe) => lBy.has(pe));
  let sharedIdx = 0;
  const mergedR = new Set<PathElement>();
  const out: unknown[] = [];
  const item = (pe: PathElement) => merge(lBy.get(pe), rBy.get(pe), is);
  let lI = 0;
  let rI = 0;
  while (lI < lPEs.length || rI < rPEs.length) {
    if (lI < lPEs.length && rI < rPEs.length) {
      const pe = lPEs[lI];
      if (pe === rPEs[rI]) {
        mergedR.add(pe);
        out.push(item(pe));
        lI++;
        rI++;
        sharedIdx++;
        continue;
      }
      if (rBy.has(pe) && sharedIdx < shared.length && shared[sharedIdx] !== pe) {
        lI++;
        continue;
      }
    }
    if (lI < lPEs.length) {
      const pe = lPEs[lI];
      if (!rBy.has(pe)) {
        out.push(structuredClone(lhs[lI]));
        lI++;
        continue;
      } else if (mergedR.has(pe)) lI++;
    }
    if (rI < rPEs.length) {
      const pe = rPEs[rI];
      mergedR.add(pe);
      out.push(item(pe));
      rI++;
      if (sharedIdx < shared.length && shared[sharedIdx] === pe) sharedIdx++;
    }
  }
  return out;
}

/** `value` without the items in `set` (a member removes the whole subtree): RemoveItems. */
export function removeItems(value: unknown, set: FieldSet, shape: Shape): unknown {
  if (set.empty()) return value;
  if (shape.t === 'struct' || shape.t === 'map') {
    if (!isObj(value)) return value;
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) {
      const pe = fieldElement(k);
      if (set.members.has(pe)) continue;
      const sub = set.children.get(pe);
      out[k] = sub ? removeItems(v, sub, childShape(shape, k)) : v;
    }
    return out;
  }
  if (shape.t === 'list') {
    if (!Array.isArray(value)) return value;
    const is = shapeOf(shape.items);
    const out: unknown[] = [];
    value.forEach((item, i) => {
      const pe = itemElement(shape, item, i);
      if (set.members.has(pe)) return;
      const sub = set.children.get(pe);
      out.push(sub ? removeItems(item, sub, is) : item);
    });
    return out;
  }
  return value;
}

/**
 * Named struct fields that have owned paths below them, added as members: a struct field
 * stays while anybody owns something in it (fieldpath's EnsureNamedFieldsAreMembers).
 */
export function withNamedFields(set: FieldSet, shape: Shape): FieldSet {
  const out = new FieldSet();
  for (const m of set.members) out.members.add(m);
  for (const [pe, sub] of set.children) {
    let cs: Shape = { t: 'atomic' };
    if (pe.startsWith('f:') && (shape.t === 'struct' || shape.t === 'map')) cs = childShape(shape, pe.slice(2));
    else if (shape.t === 'list') cs = shapeOf(shape.items);
    out.children.set(pe, withNamedFields(sub, cs));
    if (shape.t === 'struct' && pe.startsWith('f:') && !sub.empty()) out.members.add(pe);
  }
  return out;
}
