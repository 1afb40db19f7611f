/**
 * Strategic merge patch (`application/strategic-merge-patch+json`), server side, following
 * k8s.io/apimachinery/pkg/util/strategicpatch (StrategicMergeMapPatch with
 * MergeParallelList and IgnoreUnmatchedNulls) and the error mapping of kube-apiserver's patch
 * handler (interpretStrategicMergePatchError).
 *
 * Rules:
 * - maps merge recursively; `null` deletes a field;
 * - lists whose field has patch strategy `merge` are merged: lists of objects by the field's
 *   patch merge key, lists of scalars as a set union; every other list is replaced;
 * - directives: `$patch: replace|delete` in a map, `$patch: delete|replace` as a list element,
 *   `$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`;
 * - the merge metadata comes from a SchemaSet (x-kubernetes-patch-merge-key /
 *   x-kubernetes-patch-strategy on the list field). Where no schema is known (unknown type or
 *   field, free-form values) the subtree is merged like a JSON merge patch: maps merge, lists
 *   are replaced, directives are still honoured.
 *
 * Errors are worded as upstream words them; codes follow the handler: malformed directives are
 * 400 BadRequest, lists of lists 422 Invalid, and everything else upstream does not wrap
 * (e.g. `map: map[image:x] does not contain declared merge key: name`) is a 500 with an empty
 * reason, exactly what kube-apiserver answers.
 */
import type { FieldSchema, SchemaSet } from '../schema-types.js';
import { badRequest, type ApiError } from '../errors.js';
import { jsonTypeWord, unknownStatus, unprocessable } from './errors.js';
import { type JsonObject, goFormat, goTypeName, hasKey, isObject, setKey } from './json-util.js';

const DIRECTIVE_MARKER = '$patch';
const DELETE_DIRECTIVE = 'delete';
const REPLACE_DIRECTIVE = 'replace';
const MERGE_DIRECTIVE = 'merge';
const RETAIN_KEYS_STRATEGY = 'retainKeys';
const DELETE_FROM_PRIMITIVE_LIST_PREFIX = '$deleteFromPrimitiveList';
const RETAIN_KEYS_DIRECTIVE = '$' + RETAIN_KEYS_STRATEGY;
const SET_ELEMENT_ORDER_PREFIX = '$setElementOrder';

// k8s.io/apimachinery/pkg/util/mergepatch errors (messages verbatim).
const ERR_NO_LIST_OF_LISTS = 'lists of lists are not supported';
const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST = 'invalid patch format of primitive list';
const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS = 'invalid patch format of retainKeys';
const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST = 'invalid patch format of setElementOrder list';

const errNoListOfLists = (): ApiError => unprocessable(ERR_NO_LIST_OF_LISTS);
const errBadPrimitiveList = (): ApiError => badRequest(ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST);
const errBadRetainKeys = (): ApiError => badRequest(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS);
const errBadSetElementOrder = (): ApiError => badRequest(ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST);
const errNoMergeKey = (m: JsonObject, key: string): ApiError =>
  unknownStatus(`map: ${goFormat(m)} does not contain declared merge key: ${key}`);
const errBadArgType = (expected: string, actual: unknown): ApiError =>
  unknownStatus(`expected a ${expected}, but received a ${goTypeName(actual)}`);
const errBadPatchType = (t: unknown, m: JsonObject): ApiError =>
  unknownStatus(`unknown patch type: ${goFormat(t)} in map: ${goFormat(m)}`);

const MAP_T = 'map[string]interface {}';
const SLICE_T = '[]interface {}';

// ---------------------------------------------------------------------------------------------
// Schema lookup (the LookupPatchMeta of upstream, over podbay's SchemaSet)

/** Where we are in the schema: a named struct, a map[string]X, or "nothing known". */
type Ctx = { t: 'struct'; name: string } | { t: 'map'; items?: FieldSchema } | { t: 'none' };

const NONE: Ctx = { t: 'none' };

interface PatchMeta {
  strategies: string[];
  mergeKey: string;
}

const NO_META: PatchMeta = { strategies: [], mergeKey: '' };

class Lookup {
  constructor(private readonly schemas: SchemaSet) {}

  root(typeName: string): Ctx {
    return this.schemas[typeName] ? { t: 'struct', name: typeName } : NONE;
  }

  /** The context for the value described by `fs`. */
  ctxOf(fs: FieldSchema | undefined): Ctx {
    if (!fs) return NONE;
    switch (fs.kind) {
      case 'object':
        return fs.ref && this.schemas[fs.ref] ? { t: 'struct', name: fs.ref } : NONE;
      case 'map':
        return { t: 'map', items: fs.items };
      default:
        return NONE;
    }
  }

  private field(ctx: Ctx, key: string): FieldSchema | undefined {
    if (ctx.t === 'struct') {
      const ts = this.schemas[ctx.name];
      return ts && hasKey(ts.fields as JsonObject, key) ? ts.fields[key] : undefined;
    }
    if (ctx.t === 'map') return ctx.items;
    return undefined;
  }

  private meta(fs: FieldSchema | undefined): PatchMeta {
    if (!fs) return NO_META;
    const strategy = fs.patchStrategy ?? fs.items?.patchStrategy;
    const mergeKey = fs.patchMergeKey ?? fs.items?.patchMergeKey ?? '';
    return { strategies: strategy ? strategy.split(',') : [], mergeKey };
  }

  /** LookupPatchMetadataForStruct: a map-valued field. */
  forStruct(ctx: Ctx, key: string): { sub: Ctx; meta: PatchMeta } {
    const fs = this.field(ctx, key);
    return { sub: this.ctxOf(fs), meta: this.meta(fs) };
  }

  /** LookupPatchMetadataForSlice: a list-valued field; `sub` describes its elements. */
  forSlice(ctx: Ctx, key: string): { sub: Ctx; meta: PatchMeta } {
    const fs = this.field(ctx, key);
    if (!fs) return { sub: NONE, meta: NO_META };
    // (a list given for a single-object field is treated as a list of that object, as upstream does for pointers)
    const elem = fs.kind === 'array' ? fs.items : fs;
    return { sub: this.ctxOf(elem), meta: this.meta(fs) };
  }

  name(ctx: Ctx): string {
    return ctx.t === 'struct' ? 'struct' : ctx.t === 'map' ? 'map' : 'interface';
  }
}

/** extractRetainKeysPatchStrategy: the non-retainKeys strategy of a field. */
function extractRetainKeysPatchStrategy(strategies: string[]): string {
  switch (strategies.length) {
    case 0:
      return '';
    case 1:
      return strategies[0] === RETAIN_KEYS_STRATEGY ? '' : strategies[0];
    case 2:
      if (strategies[0] === RETAIN_KEYS_STRATEGY) return strategies[1];
      if (strategies[1] === RETAIN_KEYS_STRATEGY) return strategies[0];
      throw unknownStatus(`unexpected patch strategy: [${strategies.join(' ')}]`);
    default:
      throw unknownStatus(`unexpected patch strategy: [${strategies.join(' ')}]`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Go's reflect.Type identity for decoded JSON values. */
function typeOf(v: unknown): string {
  return goTypeName(v);
}

type ElemKind = 'map' | 'scalar';

/** Scalar/merge-key equality as Go's `==` on interface{} values (a missing key is nil). */
function eq(a: unknown, b: unknown): boolean {
  return (a ?? null) === (b ?? null);
}

function extractKey(s: string, prefix: string): string {
  const i = s.indexOf('/');
  if (i < 0 || s.slice(0, i) !== prefix) {
    if (prefix === DELETE_FROM_PRIMITIVE_LIST_PREFIX) throw errBadPrimitiveList();
    if (prefix === SET_ELEMENT_ORDER_PREFIX) throw errBadSetElementOrder();
    throw unknownStatus(`fail to find unknown prefix "${prefix}" in ${s}\n`);
  }
  return s.slice(i + 1);
}

function isDirectiveKey(k: string): boolean {
  return (
    k === DIRECTIVE_MARKER ||
    k === RETAIN_KEYS_DIRECTIVE ||
    k.startsWith(SET_ELEMENT_ORDER_PREFIX + '/') ||
    k.startsWith(DELETE_FROM_PRIMITIVE_LIST_PREFIX + '/')
  );
}

/**
 * removeDirectives: maps carrying `$patch` are dropped (returns keep=false), recursively.
 * podbay also drops the other directive keys (`$retainKeys`, `$setElementOrder/...`,
 * `$deleteFromPrimitiveList/...`) from values copied in verbatim; upstream drops them later,
 * when the result is decoded into the typed object.
 */
function removeDirectives(obj: unknown): [unknown, boolean] {
  if (isObject(obj)) {
    if (hasKey(obj, DIRECTIVE_MARKER)) return [undefined, false];
    for (const k of Object.keys(obj)) {
      if (isDirectiveKey(k)) {
        delete obj[k];
        continue;
      }
      const [v, keep] = removeDirectives(obj[k]);
      if (keep) setKey(obj, k, v);
      else delete obj[k];
    }
    return [obj, true];
  }
  if (Array.isArray(obj)) {
    const res: unknown[] = [];
    for (const v of obj) {
      const [nv, keep] = removeDirectives(v);
      if (keep) res.push(nv);
    }
    return [res, true];
  }
  return [obj, true];
}

/** discardNullValuesFromPatch */
function discardNulls(v: unknown): void {
  if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else discardNulls(v[k]);
    }
  } else if (Array.isArray(v)) {
    for (const e of v) discardNulls(e);
  }
}

/** sliceElementType: all elements of all lists share one type, which is not a list. */
function sliceElementKind(...slices: unknown[][]): ElemKind {
  let prev: string | undefined;
  for (const s of slices) {
    for (const v of s) {
      const cur = typeOf(v);
      if (prev === undefined) {
        prev = cur;
        if (Array.isArray(v)) throw errNoListOfLists();
      } else if (prev !== cur) {
        throw unknownStatus(`list element types are not identical: ${goFormat(slices)}`);
      }
    }
  }
  if (prev === undefined) throw unknownStatus('no elements in any of the given slices');
  return prev === MAP_T ? 'map' : 'scalar';
}

function mergeKeyOf(item: unknown, mergeKey: string, kind: ElemKind): unknown {
  if (kind === 'map') return isObject(item) ? item[mergeKey] : undefined;
  return item;
}

/** index: position of the item in `l`, comparing merge key values (maps) or the items. */
function indexOf(l: unknown[], val: unknown, mergeKey: string, kind: ElemKind): number {
  const want = mergeKeyOf(val, mergeKey, kind);
  for (let i = 0; i < l.length; i++) if (eq(mergeKeyOf(l[i], mergeKey, kind), want)) return i;
  return -1;
}

function validateMergeKeyInLists(mergeKey: string, ...lists: unknown[][]): void {
  for (const list of lists) {
    for (const item of list) {
      if (!isObject(item)) throw errBadArgType(MAP_T, item);
      if (!hasKey(item, mergeKey)) throw errNoMergeKey(item, mergeKey);
    }
  }
}

function extractToDeleteItems(l: unknown[]): [unknown[], unknown[]] {
  const keep: unknown[] = [];
  const del: unknown[] = [];
  for (const v of l) {
    if (!isObject(v)) throw errBadArgType(MAP_T, v);
    if (hasKey(v, DIRECTIVE_MARKER) && v[DIRECTIVE_MARKER] === DELETE_DIRECTIVE) del.push(v);
    else keep.push(v);
  }
  return [keep, del];
}

/** normalizeSliceOrder: stable sort of `toSort` by the positions in `order`. */
function normalizeSliceOrder(toSort: unknown[], order: unknown[], mergeKey: string, kind: ElemKind): unknown[] {
  let toDelete: unknown[] = [];
  if (kind === 'map') {
    validateMergeKeyInLists(mergeKey, toSort, order);
    [toSort, toDelete] = extractToDeleteItems(toSort);
  }
  const pos = (v: unknown): number => {
    const i = indexOf(order, v, mergeKey, kind);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  const sorted = toSort
    .map((v, i) => ({ v, i, p: pos(v) }))
    .sort((a, b) => a.p - b.p || a.i - b.i)
    .map((e) => e.v);
  return sorted.concat(toDelete);
}

/** mergeSortedSlice: interleave server-only items (left) into patch items (right) by server order. */
function mergeSortedSlice(left: unknown[], right: unknown[], serverOrder: unknown[], mergeKey: string, kind: ElemKind): unknown[] {
  const less = (l: unknown, r: unknown): [boolean, boolean] => {
    const li = indexOf(serverOrder, l, mergeKey, kind);
    const ri = indexOf(serverOrder, r, mergeKey, kind);
    if (li >= 0 && ri >= 0) return [li < ri, true];
    return [false, false];
  };
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  const size = left.length + right.length;
  for (let k = 0; k < size; k++) {
    if (i >= left.length && j < right.length) {
      out.push(right[j++]);
    } else if (j >= right.length && i < left.length) {
      out.push(left[i++]);
    } else {
      const [isLess, foundBoth] = less(left[i], right[j]);
      if (foundBoth && isLess) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function normalizeElementOrder(
  patch: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: ElemKind,
): unknown[] {
  const p = normalizeSliceOrder(patch, patchOrder, mergeKey, kind);
  const s = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  return mergeSortedSlice(s, p, serverOrder, mergeKey, kind);
}

function findMapInSlice(m: unknown[], key: string, value: unknown): [JsonObject | undefined, number] {
  for (let k = 0; k < m.length; k++) {
    const v = m[k];
    if (!isObject(v)) throw unknownStatus(`value for key ${k} is not a map`);
    if (hasKey(v, key) && eq(v[key], value)) return [v, k];
  }
  return [undefined, -1];
}

function partitionPrimitives(original: unknown[], partitionBy: unknown[]): [unknown[], unknown[]] {
  const inPatch = new Set(partitionBy);
  const patch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const v of original) (inPatch.has(v) ? patch : serverOnly).push(v);
  return [patch, serverOnly];
}

function partitionMaps(original: unknown[], partitionBy: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const patch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const v of original) {
    if (!isObject(v)) throw errBadArgType(MAP_T, v);
    if (!hasKey(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
    const [, idx] = findMapInSlice(partitionBy, mergeKey, v[mergeKey]);
    (idx >= 0 ? patch : serverOnly).push(v);
  }
  return [patch, serverOnly];
}

function mergeKeyValueEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (!mergeKey) return eq(left, right);
  if (!isObject(left)) throw errBadArgType(MAP_T, left);
  if (!isObject(right)) throw errBadArgType(MAP_T, right);
  if (!hasKey(left, mergeKey)) throw errNoMergeKey(left, mergeKey);
  if (!hasKey(right, mergeKey)) throw errNoMergeKey(right, mergeKey);
  return eq(left[mergeKey], right[mergeKey]);
}

/** validatePatchWithSetOrderList: the patch list must follow the $setElementOrder list. */
function validatePatchWithSetOrderList(patchList: unknown, setOrderList: unknown, mergeKey: string): void {
  if (!Array.isArray(setOrderList)) throw errBadSetElementOrder();
  const typedPatch = patchList === undefined ? [] : patchList;
  if (!Array.isArray(typedPatch)) throw errBadSetElementOrder();
  if (setOrderList.length === 0 || typedPatch.length === 0) return;
  const nonDelete = mergeKey ? extractToDeleteItems(typedPatch)[0] : typedPatch;
  let pi = 0;
  let si = 0;
  while (pi < nonDelete.length && si < setOrderList.length) {
    const item = nonDelete[pi];
    if (isObject(item) && hasKey(item, DIRECTIVE_MARKER)) {
      pi++;
      continue;
    }
    if (mergeKeyValueEqual(item, setOrderList[si], mergeKey)) pi++;
    si++;
  }
  if (pi < nonDelete.length && si >= setOrderList.length) {
    throw unknownStatus(
      `The order in patch list:\n${goFormat(typedPatch)}\n doesn't match ${SET_ELEMENT_ORDER_PREFIX} list:\n${goFormat(setOrderList)}\n`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The merge

class Merger {
  constructor(private readonly lookup: Lookup) {}

  /** handleDirectiveInMergeMap */
  private directiveInMap(directive: unknown, patch: JsonObject): JsonObject {
    if (directive === REPLACE_DIRECTIVE) {
      delete patch[DIRECTIVE_MARKER];
      return patch;
    }
    if (directive === DELETE_DIRECTIVE) return {};
    throw errBadPatchType(directive, patch);
  }

  /** applyRetainKeysDirective (server side: MergeParallelList). */
  private applyRetainKeys(original: JsonObject, patch: JsonObject): void {
    if (!hasKey(patch, RETAIN_KEYS_DIRECTIVE)) return;
    const retain = patch[RETAIN_KEYS_DIRECTIVE];
    delete patch[RETAIN_KEYS_DIRECTIVE];
    if (!Array.isArray(retain)) throw errBadRetainKeys();
    const keep = new Set(retain);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST_PREFIX) || k.startsWith(SET_ELEMENT_ORDER_PREFIX)) continue;
      if (!keep.has(k)) throw errBadRetainKeys();
    }
    for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
  }

  /** mergePatchIntoOriginal: process `$setElementOrder/<list>` together with `<list>`. */
  private mergeSetElementOrder(original: JsonObject, patch: JsonObject, ctx: Ctx): void {
    for (const key of Object.keys(patch)) {
      if (!key.startsWith(SET_ELEMENT_ORDER_PREFIX)) continue;
      const order = patch[key];
      delete patch[key];
      if (!Array.isArray(order)) throw errBadArgType(SLICE_T, order);
      const originalKey = extractKey(key, SET_ELEMENT_ORDER_PREFIX);

      const foundOriginal = hasKey(original, originalKey);
      const foundPatch = hasKey(patch, originalKey);
      let originalList: unknown[] = [];
      let patchList: unknown[] | undefined;
      if (foundOriginal) {
        const v = original[originalKey];
        if (v !== null && !Array.isArray(v)) throw errBadArgType(SLICE_T, v);
        originalList = (v as unknown[] | null) ?? [];
      }
      if (foundPatch) {
        const v = patch[originalKey];
        if (v !== null && !Array.isArray(v)) throw errBadArgType(SLICE_T, v);
        patchList = (v as unknown[] | null) ?? [];
      }
      const { sub, meta } = this.lookup.forSlice(ctx, originalKey);
      const strategy = extractRetainKeysPatchStrategy(meta.strategies);
      validatePatchWithSetOrderList(patchList, order, meta.mergeKey);

      let merged: unknown[];
      let serverOrder = originalList;
      if (foundOriginal && !foundPatch) {
        merged = originalList;
      } else if (!foundOriginal && foundPatch) {
        merged = removeDirectives(patchList)[0] as unknown[];
      } else if (foundOriginal && foundPatch) {
        const view = new GoSliceView(originalList);
        merged = this.mergeSliceHandler(originalList, patchList ?? [], sub, strategy, meta.mergeKey, false, view);
        serverOrder = view.backing;
      } else {
        continue;
      }

      const [patchItems, serverOnly] = meta.mergeKey
        ? partitionMaps(merged, order, meta.mergeKey)
        : partitionPrimitives(merged, order);
      const kind = sliceElementKind(originalList, patchList ?? []);
      setKey(original, originalKey, normalizeElementOrder(patchItems, serverOnly, order, serverOrder, meta.mergeKey, kind));
      delete patch[originalKey];
    }
  }

  mergeMap(original: JsonObject | null | undefined, patch: JsonObject, ctx: Ctx): JsonObject {
    if (hasKey(patch, DIRECTIVE_MARKER)) return this.directiveInMap(patch[DIRECTIVE_MARKER], patch);
    const orig: JsonObject = original ?? {};

    this.applyRetainKeys(orig, patch);
    this.mergeSetElementOrder(orig, patch, ctx);

    for (const rawKey of Object.keys(patch)) {
      const patchV = patch[rawKey];
      let k = rawKey;
      let isDeleteList = false;
      if (rawKey.startsWith(DELETE_FROM_PRIMITIVE_LIST_PREFIX)) {
        k = extractKey(rawKey, DELETE_FROM_PRIMITIVE_LIST_PREFIX);
        isDeleteList = true;
      }

      if (patchV === null) {
        delete orig[k];
        continue;
      }

      if (!hasKey(orig, k) || typeOf(orig[k]) !== typeOf(patchV)) {
        if (!isDeleteList) {
          discardNulls(patchV);
          const [v, keep] = removeDirectives(patchV);
          if (keep) setKey(orig, k, v);
          else delete orig[k];
        }
        continue;
      }

      const cur = orig[k];
      if (isObject(cur)) {
        const { sub, meta } = this.lookup.forStruct(ctx, k);
        const strategy = extractRetainKeysPatchStrategy(meta.strategies);
        setKey(orig, k, strategy !== REPLACE_DIRECTIVE ? this.mergeMap(cur, patchV as JsonObject, sub) : patchV);
      } else if (Array.isArray(cur)) {
        const { sub, meta } = this.lookup.forSlice(ctx, k);
        const strategy = extractRetainKeysPatchStrategy(meta.strategies);
        setKey(orig, k, this.mergeSliceHandler(cur, patchV as unknown[], sub, strategy, meta.mergeKey, isDeleteList));
      } else {
        const [v, keep] = removeDirectives(patchV);
        if (keep) setKey(orig, k, v);
        else delete orig[k];
      }
    }
    return orig;
  }

  /**
   * mergeSliceHandler. `view`, when given, receives the caller's view of `original` after the
   * merge (see GoSliceView).
   */
  private mergeSliceHandler(
    original: unknown[],
    patch: unknown[],
    sub: Ctx,
    strategy: string,
    mergeKey: string,
    isDeleteList: boolean,
    view?: GoSliceView,
  ): unknown[] {
    if (strategy === MERGE_DIRECTIVE || isDeleteList) return this.mergeSlice(original, patch, sub, mergeKey, isDeleteList, view);
    return patch;
  }

  private mergeSlice(
    original: unknown[],
    patch: unknown[],
    sub: Ctx,
    mergeKey: string,
    isDeleteList: boolean,
    view = new GoSliceView(original),
  ): unknown[] {
    if (original.length === 0 && patch.length === 0) return original;
    const kind = sliceElementKind(original, patch);

    let merged: unknown[];
    if (kind !== 'map') {
      if (isDeleteList) {
        const del = new Set(patch);
        return original.filter((v) => !del.has(v));
      }
      merged = [];
      const seen = new Set<unknown>();
      for (const v of original.concat(patch)) {
        if (!seen.has(v)) {
          seen.add(v);
          merged.push(v);
        }
      }
    } else {
      if (!mergeKey) throw unknownStatus(`cannot merge lists without merge key for ${this.lookup.name(sub)}`);
      [original, patch] = this.mergeSliceWithSpecialElements(view, patch, mergeKey);
      merged = this.mergeSliceWithoutSpecialElements(original, patch, mergeKey, sub, view);
    }

    const [patchItems, serverOnly] = mergeKey ? partitionMaps(merged, patch, mergeKey) : partitionPrimitives(merged, patch);
    return normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind);
  }

  /** Handle `$patch` list elements (delete by merge key, replace the whole list). */
  private mergeSliceWithSpecialElements(view: GoSliceView, patch: unknown[], mergeKey: string): [unknown[], unknown[]] {
    const plain: unknown[] = [];
    let replace = false;
    for (const v of patch) {
      const m = v as JsonObject;
      if (!hasKey(m, DIRECTIVE_MARKER)) {
        plain.push(v);
        continue;
      }
      const directive = m[DIRECTIVE_MARKER];
      if (directive === DELETE_DIRECTIVE) {
        if (!hasKey(m, mergeKey)) throw errNoMergeKey(m, mergeKey);
        const value = m[mergeKey];
        for (;;) {
          const [, idx] = findMapInSlice(view.current(), mergeKey, value);
          if (idx < 0) break;
          view.removeAt(idx);
        }
      } else if (directive === REPLACE_DIRECTIVE) {
        replace = true;
      } else if (directive === MERGE_DIRECTIVE) {
        throw unknownStatus('merging lists cannot yet be specified in the patch');
      } else {
        throw errBadPatchType(directive, m);
      }
    }
    if (replace) {
      view.detach();
      return [plain, []];
    }
    return [view.current(), plain];
  }

  private mergeSliceWithoutSpecialElements(original: unknown[], patch: unknown[], mergeKey: string, sub: Ctx, view: GoSliceView): unknown[] {
    const out = original.slice();
    for (const v of patch) {
      const m = v as JsonObject;
      if (!hasKey(m, mergeKey)) throw errNoMergeKey(m, mergeKey);
      const [found, idx] = findMapInSlice(out, mergeKey, m[mergeKey]);
      if (found) {
        out[idx] = this.mergeMap(found, m, sub);
        view.set(idx, out[idx]);
      } else {
        out.push(v);
        view.append(v);
      }
    }
    return out;
  }
}

/**
 * Upstream mutates Go slices in place while merging a list: deleting an element shifts the
 * backing array left, and appending writes into the freed slots. The caller that processes
 * `$setElementOrder` then uses its own (unchanged-length) view of that backing array as the
 * "server order" when it sorts the result, so kubectl apply's add+delete patches come out in a
 * specific order. This class reproduces that view (the backing array of a slice built by the
 * unstructured converter, whose capacity equals its length).
 */
class GoSliceView {
  readonly backing: unknown[];
  private len: number;
  private shared = true;

  constructor(original: unknown[]) {
    this.backing = original.slice();
    this.len = original.length;
  }

  /** The slice as upstream's working variable sees it (while it still shares the backing array). */
  current(): unknown[] {
    return this.backing.slice(0, this.len);
  }

  removeAt(idx: number): void {
    if (!this.shared) return;
    for (let i = idx; i < this.len - 1; i++) this.backing[i] = this.backing[i + 1];
    this.len--;
  }

  set(idx: number, v: unknown): void {
    if (this.shared && idx < this.backing.length) this.backing[idx] = v;
  }

  append(v: unknown): void {
    if (!this.shared) return;
    if (this.len < this.backing.length) this.backing[this.len++] = v;
    else this.shared = false; // append reallocates: later writes go elsewhere
  }

  detach(): void {
    this.shared = false;
  }
}

/**
 * Apply a strategic merge patch to `original` (an object of type `typeName`, e.g.
 * "io.k8s.api.core.v1.Pod"), using `schemas` for list merge keys and strategies. Returns a new
 * object; neither argument is modified. Throws ApiError like kube-apiserver does.
 */
export function applyStrategicMergePatch(original: object, patch: object, typeName: string, schemas: SchemaSet): object {
  const lookup = new Lookup(schemas);
  const orig = structuredClone(original) as JsonObject;
  if ((patch as unknown) === null) return orig; // a `null` body decodes to an empty patch
  if (!isObject(patch)) throw badRequest(`json: cannot unmarshal ${jsonTypeWord(patch)} into Go value of type map[string]interface {}`);
  const p = structuredClone(patch) as JsonObject;
  const out = new Merger(lookup).mergeMap(orig, p, lookup.root(typeName));
  // Replaced values (`$patch: replace`, non-merging lists) are taken from the patch verbatim;
  // drop any directive keys left in them (upstream drops them when decoding into the type).
  return stripDirectiveKeys(out) as object;
}

function stripDirectiveKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectiveKeys);
  if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (isDirectiveKey(k)) delete v[k];
      else setKey(v, k, stripDirectiveKeys(v[k]));
    }
  }
  return v;
}
