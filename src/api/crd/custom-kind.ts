/**
 * A served version of a CustomResourceDefinition as the rest of podbay sees a kind:
 *
 *   resourceInfoFor   the ResourceInfo (routing, storage key, discovery), with `custom` hooks
 *   customKindFor     pruning, defaulting, schema validation and printing from the CRD
 *   typeSchemasFor    the schema in podbay's TypeSchema form, registered into the schema set
 *                     so that server-side apply and field ownership see lists, maps and structs
 *
 * Custom resources are stored under /registry/GROUP/PLURAL/[NS/]NAME, as apiextensions-apiserver
 * keys them; with the None conversion every served version reads and writes the same objects.
 */
import type { FieldError } from '../errors.js';
import type { ResourceInfo } from '../registry.js';
import type { FieldSchema, TypeSchema } from '../schema-types.js';
import { byString } from '../order.js';
import { humanDuration, rowObject, type TableOptions } from '../tables.js';
import { applyDefaults, prune, validateSchema } from './structural.js';
import type { CustomKind, JSONSchemaProps, PrinterColumn } from './types.js';
import { isDNS1123Subdomain } from '../validation/names.js';

type Obj = Record<string, any>;

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** the version entry of a CRD */
export function crdVersion(crd: Obj, version: string): Obj | undefined {
  return (crd.spec?.versions ?? []).find((v: Obj) => v.name === version);
}

export function versionSchema(crd: Obj, version: string): JSONSchemaProps {
  return crdVersion(crd, version)?.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
}

/** the definition name kube-openapi gives a custom kind: com.example.stable.v1.CronTab */
export function customTypeName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

export function resourceInfoFor(crd: Obj, version: string, custom: CustomKind): ResourceInfo {
  const s = crd.spec;
  const names = crd.status?.acceptedNames?.kind ? crd.status.acceptedNames : s.names;
  const v = crdVersion(crd, version) ?? {};
  const subresources: string[] = [];
  if (v.subresources?.status !== undefined && v.subresources?.status !== null) subresources.push('status');
  if (isObj(v.subresources?.scale)) subresources.push('scale');
  return {
    resource: names.plural,
    singular: names.singular || String(names.kind).toLowerCase(),
    kind: names.kind,
    listKind: names.listKind || `${names.kind}List`,
    group: s.group,
    version,
    namespaced: s.scope === 'Namespaced',
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    subresources,
    typeName: customTypeName(s.group, version, names.kind),
    nameRule: 'dns1123-subdomain',
    storageResource: `${s.group}/${names.plural}`,
    // apiextensions-apiserver keeps metadata.generation for every custom resource
    generation: true,
    custom,
  };
}

// ---------------------------------------------------------------------------------------------
// TypeSchema form (for server-side apply)

export function typeSchemasFor(crd: Obj, version: string): Record<string, TypeSchema> {
  const root = versionSchema(crd, version);
  const kind = crd.spec.names.kind;
  const name = customTypeName(crd.spec.group, version, kind);
  const out: Record<string, TypeSchema> = {};
  const t = typeOf(root, name, out);
  t.fields.apiVersion = { kind: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' };
  t.fields.kind = { kind: 'string', description: 'Kind is a string value representing the REST resource this object represents.' };
  t.fields.metadata = { kind: 'object', ref: OBJECT_META, description: "Standard object's metadata." };
  t.gvk = { group: crd.spec.group, version, kind };
  const listKind = crd.spec.names.listKind || `${kind}List`;
  out[`${name}List`] = {
    name: `${name}List`,
    description: `${listKind} is a list of ${kind}`,
    fields: {
      apiVersion: { kind: 'string' },
      items: { kind: 'array', items: { kind: 'object', ref: name }, description: `List of ${crd.spec.names.plural}.` },
      kind: { kind: 'string' },
      metadata: { kind: 'object', ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta' },
    },
    required: ['items'],
    gvk: { group: crd.spec.group, version, kind: listKind },
  };
  return out;
}

function typeOf(s: JSONSchemaProps, name: string, out: Record<string, TypeSchema>): TypeSchema {
  const t: TypeSchema = { name, description: s.description ?? '', fields: {}, required: s.required ?? [] };
  out[name] = t;
  for (const [k, p] of Object.entries(s.properties ?? {})) t.fields[k] = fieldOf(p, `${name}.${k}`, out);
  return t;
}

function fieldOf(s: JSONSchemaProps, name: string, out: Record<string, TypeSchema>): FieldSchema {
  const d = s.description ? { description: s.description } : {};
  if (s['x-kubernetes-int-or-string']) return { kind: 'int-or-string', ...d };
  switch (s.type) {
    case 'object': {
      // x-kubernetes-map-type atomic: server-side apply owns and replaces the object whole
      const mt = s['x-kubernetes-map-type'] === 'atomic' ? { mapType: 'atomic' as const } : {};
      if (s.properties) {
        typeOf(s, name, out);
        return { kind: 'object', ref: name, ...mt, ...d };
      }
      if (isObj(s.additionalProperties)) return { kind: 'map', items: fieldOf(s.additionalProperties as JSONSchemaProps, `${name}.value`, out), ...mt, ...d };
      return { kind: 'any', ...d };
    }
    case 'array': {
      const items = Array.isArray(s.items) ? s.items[0] : s.items;
      const lt = s['x-kubernetes-list-type'];
      return {
        kind: 'array',
        items: items ? fieldOf(items, `${name}.item`, out) : { kind: 'any' },
        // without a list type a custom resource's list is atomic, as upstream
        listType: lt ?? 'atomic',
        ...(s['x-kubernetes-list-map-keys'] ? { listMapKeys: s['x-kubernetes-list-map-keys'] } : {}),
        ...d,
      };
    }
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      return { kind: s.type, ...(s.format ? { format: s.format } : {}), ...d };
    default:
      return { kind: 'any', ...d };
  }
}

// ---------------------------------------------------------------------------------------------
// Printing

/** the columns of a version: its additionalPrinterColumns, or Age */
export function printerColumns(crd: Obj, version: string): PrinterColumn[] {
  const cols = crdVersion(crd, version)?.additionalPrinterColumns;
  if (Array.isArray(cols) && cols.length) return cols;
  return [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];
}

/**
 * The values a simple JSONPath (`.spec.replicas`, `.status.conditions[0].type`,
 * `.status.conditions[?(@.type=="Ready")].status`) finds; undefined when it finds none.
 */
export function jsonPathValue(obj: unknown, path: string): unknown {
  const p = path.replace(/^\{|\}$/g, '');
  const tokens = p.match(/\.[^.[\]]+|\[\?\(@\.[^)]*\)\]|\[\d+\]|\['[^']*'\]/g) ?? [];
  let cur: unknown[] = [obj];
  for (const tok of tokens) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (tok.startsWith('[?(@.')) {
        const m = /^\[\?\(@\.([\w.-]+)\s*==\s*["']?([^"')]*)["']?\)\]$/.exec(tok);
        if (m && Array.isArray(c)) for (const item of c) if (isObj(item) && String(item[m[1]!]) === m[2]) next.push(item);
      } else if (tok.startsWith('[') && /^\[\d+\]$/.test(tok)) {
        if (Array.isArray(c)) {
          const v = c[Number(tok.slice(1, -1))];
          if (v !== undefined) next.push(v);
        }
      } else {
        const key = tok.startsWith("['") ? tok.slice(2, -2) : tok.slice(1);
        if (isObj(c) && c[key] !== undefined) next.push(c[key]);
      }
    }
    cur = next;
  }
  return cur.length ? cur[0] : undefined;
}

/** sets a dotted path (`.spec.replicas`), making the objects on the way */
export function setJsonPath(obj: Obj, path: string, value: unknown): void {
  const keys = path.replace(/^\./, '').split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isObj(cur[k])) cur[k] = {};
    cur = cur[k];
  }
  cur[keys[keys.length - 1]!] = value;
}

function cell(type: string, value: unknown, now: number): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'date': {
      if (typeof value !== 'string') return null;
      const t = Date.parse(value);
      return Number.isNaN(t) ? '<invalid>' : humanDuration(now - t);
    }
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? value : null;
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    default:
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

/**
 * A Table by a kind's printer columns. `view` (when given) is what the columns read instead of
 * the object itself; the rows' objects stay the objects.
 */
export function customTable(cols: PrinterColumn[], objects: Obj[], listMeta: Obj, opts: TableOptions & { view?: (o: Obj) => Obj } = {}): Obj {
  const now = opts.now ?? Date.now();
  const include = opts.include ?? 'Metadata';
  const table: Obj = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta };
  if (!opts.noHeaders) {
    table.columnDefinitions = [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', priority: 0 },
      ...cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })),
    ];
  }
  table.rows = objects.map((o) => {
    const v = opts.view ? opts.view(o) : o;
    const row: Obj = { cells: [v.metadata?.name, ...cols.map((c) => cell(c.type, jsonPathValue(v, c.jsonPath), now))] };
    const ro = rowObject(o, include, opts.typeMeta);
    if (ro !== undefined) row.object = ro;
    return row;
  });
  return table;
}

// ---------------------------------------------------------------------------------------------
// The hooks

/** unknown fields as `unknown field "spec.x"`, the wording of strict decoding */
function unknownText(path: string): string {
  return `unknown field ${JSON.stringify(path)}`;
}

/** metadata a custom resource must have right: a DNS-1123 subdomain name, as upstream */
function validateMeta(obj: Obj): FieldError[] {
  const name = obj.metadata?.name;
  if (!name) return [{ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' }];
  return isDNS1123Subdomain(name).map((m) => ({ type: 'FieldValueInvalid', field: 'metadata.name', value: name, detail: m }));
}

/**
 * Kubernetes' version priority (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others alphabetically,
 * apimachinery's CompareKubeAwareVersionStrings): negative when `a` comes first, i.e. ranks higher.
 */
export function compareKubeAwareVersions(a: string, b: string): number {
  const key = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    const major = Number(m[1]);
    const stage = m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2;
    return [stage, -major, -Number(m[3] ?? 0), v];
  };
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return (ka[i] as number) - (kb[i] as number);
  return byString(ka[3], kb[3]);
}

/**
 * The Warning a request to a deprecated version gets (apiextensions-apiserver's
 * defaultDeprecationWarning unless the version sets deprecationWarning): "GROUP/VERSION KIND is
 * deprecated", and "; use GROUP/V KIND" naming the highest served, not deprecated version that
 * ranks above it, when there is one.
 */
export function deprecationWarning(crd: Obj, version: string): string | undefined {
  const v = crdVersion(crd, version);
  if (v?.deprecated !== true) return undefined;
  if (typeof v.deprecationWarning === 'string') return v.deprecationWarning;
  const { group } = crd.spec;
  const kind = crd.spec.names?.kind;
  const msg = `${group}/${version} ${kind} is deprecated`;
  const better = ((crd.spec.versions ?? []) as Obj[])
    .filter((o) => o.served === true && o.deprecated !== true && compareKubeAwareVersions(o.name, version) < 0)
    .map((o) => o.name as string)
    .sort(compareKubeAwareVersions);
  return better.length ? `${msg}; use ${group}/${better[0]} ${kind}` : msg;
}

export function customKindFor(crd: Obj, version: string, terminating: () => boolean): CustomKind {
  const schema = versionSchema(crd, version);
  const cols = printerColumns(crd, version);
  const v = crdVersion(crd, version) ?? {};
  const hasStatus = v.subresources?.status !== undefined && v.subresources?.status !== null;
  const scale = isObj(v.subresources?.scale) ? v.subresources.scale : undefined;
  const warning = deprecationWarning(crd, version);
  return {
    defaults(obj) {
      prune(schema, obj);
      applyDefaults(schema, obj);
    },
    // a stored object is pruned and defaulted as a written one is
    decodeStored(obj) {
      this.defaults(obj, 'update');
    },
    validate(obj, old, part) {
      const errs = validateMeta(obj);
      // the root's apiVersion, kind and metadata are the generic code's; the rest is the schema's
      const body: Obj = { ...obj };
      delete body.metadata;
      delete body.apiVersion;
      delete body.kind;
      const s: JSONSchemaProps = { ...schema, properties: { ...(schema.properties ?? {}) } };
      delete s.properties!.metadata;
      delete s.properties!.apiVersion;
      delete s.properties!.kind;
      const oldBody = old ? { ...old, metadata: undefined, apiVersion: undefined, kind: undefined } : undefined;
      let found = validateSchema(s, body, '', { old: oldBody });
      // a status write checks the status; a main write everything but (with a status subresource)
      if (hasStatus && part === 'status') found = found.filter((e) => e.field === 'status' || e.field.startsWith('status.') || e.field.startsWith('status['));
      else if (hasStatus) found = found.filter((e) => !(e.field === 'status' || e.field.startsWith('status.')));
      if (scale && part !== 'status') {
        const replicas = jsonPathValue(obj, scale.specReplicasPath);
        // (a value of the wrong type is the schema's error already)
        if (typeof replicas === 'number' && !(Number.isInteger(replicas) && replicas >= 0)) {
          errs.push({ type: 'FieldValueInvalid', field: scale.specReplicasPath.slice(1), value: replicas, detail: 'should be a non-negative integer' });
        }
      }
      return [...errs, ...found];
    },
    unknownFields(obj) {
      return prune(schema, obj).map(unknownText);
    },
    table(objects, listMeta, opts) {
      return customTable(cols, objects, listMeta, opts);
    },
    refuseCreate() {
      return terminating() ? `create not allowed while custom resource definition is terminating` : undefined;
    },
    ...(warning !== undefined ? { warning } : {}),
    ...(scale ? { scale: { specReplicasPath: scale.specReplicasPath, statusReplicasPath: scale.statusReplicasPath, labelSelectorPath: scale.labelSelectorPath } } : {}),
  };
}
