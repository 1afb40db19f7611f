/**
 * OpenAPI documents for the served API, rendered from the generated type schema
 * (src/api/schema.ts) and the resource table (src/api/registry.ts):
 *
 *   GET /openapi/v2               -> openapiV2()        Swagger 2.0, all paths and definitions
 *   GET /openapi/v3               -> openapiV3Root()    {paths: {"api/v1": {serverRelativeURL}}}
 *   GET /openapi/v3/api/v1        -> openapiV3('api/v1') OpenAPI 3.0 for the core group
 *   GET /openapi/v3/apis/apps/v1  -> openapiV3('apis/apps/v1'), one document per served group version
 *   GET /openapi/v3/api, .../apis -> the discovery endpoints' documents
 *
 * The shapes follow kube-apiserver's (kube-openapi) output closely, because kubectl reads them:
 *   - `kubectl explain` (OpenAPI v3) finds a resource's GVK through the
 *     `x-kubernetes-group-version-kind` of the operations under its list path, then the
 *     component schema carrying the same GVK; field types come from `type`, `items`,
 *     `additionalProperties` and `$ref` / single-element `allOf`.
 *   - kubectl's server-side validation check looks for the `fieldValidation` query parameter on
 *     the PATCH operation of the kind (inline parameters, not $refs).
 *   - client-side apply reads x-kubernetes-patch-merge-key / -strategy from the properties.
 *
 * Everything is rendered once and cached (object, JSON text, bytes and hash); the documents are
 * immutable for the life of the process.
 */
import { createHash } from 'node:crypto';

import { RESOURCES, SCALE, type ResourceInfo } from '../api/registry.js';
import { customTypeNames, schemas } from '../api/schema.js';
import type { FieldSchema, TypeSchema } from '../api/schema-types.js';

type Json = Record<string, unknown>;
type Version = 2 | 3;

const INFO = { title: 'Kubernetes', version: 'v1.33.0' };
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const STATUS = META + 'Status';
const DELETE_OPTIONS = META + 'DeleteOptions';
const WATCH_EVENT = META + 'WatchEvent';
const PATCH = META + 'Patch';
const PRODUCES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];
const PRODUCES_WATCH = [...PRODUCES, 'application/json;stream=watch', 'application/vnd.kubernetes.protobuf;stream=watch'];
const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

// ---------------------------------------------------------------------------------------------
// Schemas

function refPath(v: Version, name: string): string {
  return v === 2 ? `#/definitions/${name}` : `#/components/schemas/${name}`;
}

function withDescription(o: Json, description: string | undefined): Json {
  return description ? { description, ...o } : o;
}

/** the schema of a value (list element, map value) without a description of its own */
function valueSchema(v: Version, f: FieldSchema, asItem: boolean): Json {
  switch (f.kind) {
    case 'object':
    case 'quantity':
    case 'int-or-string':
    case 'time':
      if (f.ref) {
        // kube-openapi wraps v3 list elements in allOf with a default; map values are bare refs
        return v === 3 && asItem ? { allOf: [{ $ref: refPath(v, f.ref) }], default: {} } : { $ref: refPath(v, f.ref) };
      }
      if (f.kind === 'int-or-string') return intOrString(v);
      if (f.kind === 'quantity') return { type: 'string' };
      if (f.kind === 'time') return { type: 'string', format: 'date-time' };
      return { type: 'object' };
    case 'any':
      return f.ref ? { $ref: refPath(v, f.ref) } : { type: 'object' };
    case 'array':
      return { type: 'array', items: valueSchema(v, f.items ?? { kind: 'any' }, true) };
    case 'map':
      return { type: 'object', additionalProperties: valueSchema(v, f.items ?? { kind: 'any' }, false) };
    default: {
      const o: Json = { type: f.kind };
      if (f.format) o.format = f.format;
      if (f.enum) o.enum = f.enum;
      return o;
    }
  }
}

function intOrString(v: Version): Json {
  return v === 2
    ? { type: 'string', format: 'int-or-string' }
    : { format: 'int-or-string', 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
}

/** a property of an object definition */
function propertySchema(v: Version, f: FieldSchema): Json {
  let o: Json;
  const isRef = f.ref && (f.kind === 'object' || f.kind === 'quantity' || f.kind === 'int-or-string' || f.kind === 'time' || f.kind === 'any');
  if (isRef) {
    // v2: {$ref, description} siblings; v3: $ref cannot have siblings -> allOf
    o = v === 2 ? { $ref: refPath(v, f.ref!) } : { allOf: [{ $ref: refPath(v, f.ref!) }] };
  } else {
    o = valueSchema(v, f, false);
  }
  o = withDescription(o, f.description);
  if (f.kind === 'array') {
    if (f.listMapKeys) o['x-kubernetes-list-map-keys'] = f.listMapKeys;
    if (f.listType) o['x-kubernetes-list-type'] = f.listType;
    if (f.patchMergeKey) o['x-kubernetes-patch-merge-key'] = f.patchMergeKey;
    if (f.patchStrategy) o['x-kubernetes-patch-strategy'] = f.patchStrategy;
  }
  return o;
}

/** a definition (v2 definitions / v3 components.schemas) */
function definitionSchema(v: Version, t: TypeSchema): Json {
  let o: Json;
  switch (t.kind) {
    case 'quantity':
      o = v === 2 ? { type: 'string' } : { oneOf: [{ type: 'string' }, { type: 'number' }] };
      break;
    case 'int-or-string':
      o = intOrString(v);
      break;
    case 'time':
      o = { type: 'string', format: t.format ?? 'date-time' };
      break;
    case 'any':
      o = { type: 'object' };
      break;
    case undefined: {
      const properties: Json = {};
      for (const [name, f] of Object.entries(t.fields)) properties[name] = propertySchema(v, f);
      o = { type: 'object', ...(t.required.length ? { required: t.required } : {}), properties };
      break;
    }
    default:
      o = valueSchema(v, { kind: t.kind, format: t.format }, false);
  }
  o = withDescription(o, t.description);
  if (t.gvk) o['x-kubernetes-group-version-kind'] = [{ group: t.gvk.group, kind: t.gvk.kind, version: t.gvk.version }];
  return o;
}

function allDefinitions(v: Version, names: Iterable<string> = Object.keys(schemas)): Json {
  const out: Json = {};
  for (const name of [...names].sort()) {
    const t = schemas[name];
    if (t) out[name] = definitionSchema(v, t);
  }
  return out;
}

/** names reachable from `roots` through field refs */
function closure(roots: string[]): Set<string> {
  const seen = new Set<string>();
  const visitField = (f: FieldSchema | undefined): void => {
    if (!f) return;
    if (f.ref) visit(f.ref);
    visitField(f.items);
  };
  const visit = (name: string): void => {
    if (seen.has(name) || !schemas[name]) return;
    seen.add(name);
    for (const f of Object.values(schemas[name].fields)) visitField(f);
  };
  roots.forEach(visit);
  return seen;
}

// ---------------------------------------------------------------------------------------------
// Parameters (described once, rendered for v2 or v3)

interface Param {
  name: string;
  in: 'query' | 'path';
  description: string;
  type: 'string' | 'integer' | 'boolean';
  required?: boolean;
  uniqueItems?: boolean;
}

const P: Record<string, Param> = {
  name: { name: 'name', in: 'path', required: true, type: 'string', uniqueItems: true, description: 'name of the %s' },
  namespace: { name: 'namespace', in: 'path', required: true, type: 'string', uniqueItems: true, description: 'object name and auth scope, such as for teams and projects' },
  pretty: { name: 'pretty', in: 'query', type: 'string', uniqueItems: true, description: "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)." },
  dryRun: { name: 'dryRun', in: 'query', type: 'string', uniqueItems: true, description: 'When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed' },
  fieldManager: { name: 'fieldManager', in: 'query', type: 'string', uniqueItems: true, description: 'fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.' },
  fieldValidation: {
    name: 'fieldValidation',
    in: 'query',
    type: 'string',
    uniqueItems: true,
    description:
      'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.',
  },
  force: { name: 'force', in: 'query', type: 'boolean', uniqueItems: true, description: 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.' },
  gracePeriodSeconds: { name: 'gracePeriodSeconds', in: 'query', type: 'integer', uniqueItems: true, description: 'The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.' },
  orphanDependents: { name: 'orphanDependents', in: 'query', type: 'boolean', uniqueItems: true, description: 'Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the "orphan" finalizer will be added to/removed from the object\'s finalizers list. Either this field or PropagationPolicy may be set, but not both.' },
  propagationPolicy: { name: 'propagationPolicy', in: 'query', type: 'string', uniqueItems: true, description: "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground." },
  allowWatchBookmarks: { name: 'allowWatchBookmarks', in: 'query', type: 'boolean', uniqueItems: true, description: 'allowWatchBookmarks requests watch events with type "BOOKMARK". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server\'s discretion.' },
  continue: { name: 'continue', in: 'query', type: 'string', uniqueItems: true, description: 'The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize.' },
  fieldSelector: { name: 'fieldSelector', in: 'query', type: 'string', uniqueItems: true, description: 'A selector to restrict the list of returned objects by their fields. Defaults to everything.' },
  labelSelector: { name: 'labelSelector', in: 'query', type: 'string', uniqueItems: true, description: 'A selector to restrict the list of returned objects by their labels. Defaults to everything.' },
  limit: { name: 'limit', in: 'query', type: 'integer', uniqueItems: true, description: 'limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results.' },
  resourceVersion: { name: 'resourceVersion', in: 'query', type: 'string', uniqueItems: true, description: 'resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset' },
  resourceVersionMatch: { name: 'resourceVersionMatch', in: 'query', type: 'string', uniqueItems: true, description: 'resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset' },
  sendInitialEvents: { name: 'sendInitialEvents', in: 'query', type: 'boolean', uniqueItems: true, description: '`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection.' },
  timeoutSeconds: { name: 'timeoutSeconds', in: 'query', type: 'integer', uniqueItems: true, description: 'Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.' },
  watch: { name: 'watch', in: 'query', type: 'boolean', uniqueItems: true, description: 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.' },
};
const LIST_PARAMS = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'timeoutSeconds', 'watch'];
const WRITE_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation'];
const DELETE_PARAMS = ['dryRun', 'gracePeriodSeconds', 'orphanDependents', 'propagationPolicy'];

function param(v: Version, p: Param, what = ''): Json {
  const description = p.description.replace('%s', what);
  const base: Json = { description, in: p.in, name: p.name };
  if (p.required) base.required = true;
  if (v === 2) return { ...base, type: p.type, ...(p.uniqueItems ? { uniqueItems: true } : {}) };
  return { ...base, schema: { type: p.type, ...(p.uniqueItems ? { uniqueItems: true } : {}) } };
}

// ---------------------------------------------------------------------------------------------
// Operations

interface Op {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  id: string;
  /** the operation's tag: core_v1, apps_v1, coordination_v1 ... */
  tag?: string;
  description: string;
  action: string;
  params: string[];
  /** request body definition */
  body?: string;
  patch?: boolean;
  /** response definition per code */
  responses: Record<string, string>;
  gvk: { group: string; kind: string; version: string };
  watch?: boolean;
}

interface PathEntry {
  path: string;
  pathParams: string[];
  /** what {name} names, for its description */
  nameOf?: string;
  ops: Op[];
}

function resourcePaths(r: ResourceInfo): PathEntry[] {
  const gvk = { group: r.group, kind: r.kind, version: r.version };
  const K = r.kind;
  const type = r.typeName;
  const list = `${type}List`;
  const nsd = r.namespaced ? 'Namespaced' : '';
  const root = groupVersionRoot(r.group, r.version);
  const base = r.namespaced ? `${root}/namespaces/{namespace}/${r.resource}` : `${root}/${r.resource}`;
  const GV = opGroupVersion(r.group, r.version);
  const scopeParams = r.namespaced ? ['namespace'] : [];
  const out: PathEntry[] = [
    {
      path: base,
      pathParams: [...scopeParams, 'pretty'],
      ops: [
        { method: 'get', id: `list${GV}${nsd}${K}`, description: `list or watch objects of kind ${K}`, action: 'list', params: LIST_PARAMS, responses: { '200': list }, gvk, watch: true },
        { method: 'post', id: `create${GV}${nsd}${K}`, description: `create a ${K}`, action: 'post', params: WRITE_PARAMS, body: type, responses: { '200': type, '201': type, '202': type }, gvk },
        ...(r.kind === 'Namespace'
          ? []
          : [{ method: 'delete' as const, id: `delete${GV}Collection${nsd}${K}`, description: `delete collection of ${K}`, action: 'deletecollection', params: [...LIST_PARAMS.filter((p) => p !== 'watch' && p !== 'allowWatchBookmarks'), ...DELETE_PARAMS], body: DELETE_OPTIONS, responses: { '200': STATUS }, gvk }]),
      ],
    },
    {
      path: `${base}/{name}`,
      pathParams: ['name', ...scopeParams, 'pretty'],
      nameOf: K,
      ops: [
        { method: 'get', id: `read${GV}${nsd}${K}`, description: `read the specified ${K}`, action: 'get', params: [], responses: { '200': type }, gvk },
        { method: 'put', id: `replace${GV}${nsd}${K}`, description: `replace the specified ${K}`, action: 'put', params: WRITE_PARAMS, body: type, responses: { '200': type, '201': type }, gvk },
        { method: 'delete', id: `delete${GV}${nsd}${K}`, description: `delete a ${K}`, action: 'delete', params: DELETE_PARAMS, body: DELETE_OPTIONS, responses: { '200': r.kind === 'Pod' ? type : STATUS, '202': r.kind === 'Pod' ? type : STATUS }, gvk },
        { method: 'patch', id: `patch${GV}${nsd}${K}`, description: `partially update the specified ${K}`, action: 'patch', params: [...WRITE_PARAMS, 'force'], body: PATCH, patch: true, responses: { '200': type, '201': type }, gvk },
      ],
    },
  ];
  for (const sub of r.subresources) {
    const Sub = sub.charAt(0).toUpperCase() + sub.slice(1);
    const p = `${base}/{name}/${sub}`;
    if (sub === 'status' || sub === 'ephemeralcontainers') {
      out.push({
        path: p,
        pathParams: ['name', ...scopeParams, 'pretty'],
        nameOf: K,
        ops: [
          { method: 'get', id: `read${GV}${nsd}${K}${Sub}`, description: `read ${sub} of the specified ${K}`, action: 'get', params: [], responses: { '200': type }, gvk },
          { method: 'put', id: `replace${GV}${nsd}${K}${Sub}`, description: `replace ${sub} of the specified ${K}`, action: 'put', params: WRITE_PARAMS, body: type, responses: { '200': type, '201': type }, gvk },
          { method: 'patch', id: `patch${GV}${nsd}${K}${Sub}`, description: `partially update ${sub} of the specified ${K}`, action: 'patch', params: [...WRITE_PARAMS, 'force'], body: PATCH, patch: true, responses: { '200': type, '201': type }, gvk },
        ],
      });
    } else if (sub === 'binding') {
      const bgvk = { group: '', kind: 'Binding', version: 'v1' };
      const binding = 'io.k8s.api.core.v1.Binding';
      out.push({
        path: p,
        pathParams: ['name', ...scopeParams, 'pretty'],
        nameOf: 'Binding',
        ops: [{ method: 'post', id: `create${GV}${nsd}${K}Binding`, description: `create binding of a ${K}`, action: 'post', params: WRITE_PARAMS, body: binding, responses: { '200': binding, '201': binding, '202': binding }, gvk: bgvk }],
      });
    } else if (sub === 'scale') {
      const sgvk = { group: SCALE.group, kind: SCALE.kind, version: SCALE.version };
      const scale = SCALE.typeName;
      out.push({
        path: p,
        pathParams: ['name', ...scopeParams, 'pretty'],
        nameOf: SCALE.kind,
        ops: [
          { method: 'get', id: `read${GV}${nsd}${K}Scale`, description: `read scale of the specified ${K}`, action: 'get', params: [], responses: { '200': scale }, gvk: sgvk },
          { method: 'put', id: `replace${GV}${nsd}${K}Scale`, description: `replace scale of the specified ${K}`, action: 'put', params: WRITE_PARAMS, body: scale, responses: { '200': scale, '201': scale }, gvk: sgvk },
          { method: 'patch', id: `patch${GV}${nsd}${K}Scale`, description: `partially update scale of the specified ${K}`, action: 'patch', params: [...WRITE_PARAMS, 'force'], body: PATCH, patch: true, responses: { '200': scale, '201': scale }, gvk: sgvk },
        ],
      });
    } else if (sub === 'finalize') {
      out.push({
        path: p,
        pathParams: ['name', ...scopeParams, 'pretty'],
        nameOf: K,
        ops: [{ method: 'put', id: `replace${GV}${nsd}${K}${Sub}`, description: `replace finalize of the specified ${K}`, action: 'put', params: WRITE_PARAMS, body: type, responses: { '200': type, '201': type }, gvk }],
      });
    }
  }
  if (r.namespaced) {
    out.push({
      path: `${root}/${r.resource}`,
      pathParams: ['pretty'],
      ops: [{ method: 'get', id: `list${GV}${K}ForAllNamespaces`, description: `list or watch objects of kind ${K}`, action: 'list', params: LIST_PARAMS, responses: { '200': list }, gvk, watch: true }],
    });
  }
  const tag = opTag(r.group, r.version);
  for (const e of out) for (const op of e.ops) op.tag = tag;
  return out;
}

/** /api/v1, /apis/apps/v1 */
function groupVersionRoot(group: string, version: string): string {
  return group ? `/apis/${group}/${version}` : `/api/${version}`;
}

/** the group's part of operation ids as kube-openapi writes them: CoreV1, AppsV1, CoordinationV1 */
function opGroupVersion(group: string, version: string): string {
  const g = group ? group.replace(/\.k8s\.io$/, '').split('.')[0]! : 'core';
  return g.charAt(0).toUpperCase() + g.slice(1) + version.charAt(0).toUpperCase() + version.slice(1);
}

/** core_v1, apps_v1, coordination_v1, storage_v1 */
function opTag(group: string, version: string): string {
  return `${group ? group.replace(/\.k8s\.io$/, '').split('.')[0] : 'core'}_${version}`;
}

/** the group versions served, as OpenAPI v3 paths: api/v1, apis/apps/v1 ... */
function servedGroupVersions(): { group: string; version: string; path: string }[] {
  const out: { group: string; version: string; path: string }[] = [];
  for (const r of RESOURCES) {
    const path = groupVersionRoot(r.group, r.version).slice(1);
    if (!out.some((g) => g.path === path)) out.push({ group: r.group, version: r.version, path });
  }
  return out;
}

/** every path of the group version `path` ("api/v1", "apis/apps/v1"), or of all of them */
function allPaths(path?: string): PathEntry[] {
  const out: PathEntry[] = [];
  for (const r of RESOURCES) if (path === undefined || groupVersionRoot(r.group, r.version).slice(1) === path) out.push(...resourcePaths(r));
  if (path !== undefined && path !== 'api/v1') return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  out.push({
    path: '/api/v1/namespaces/{namespace}/bindings',
    pathParams: ['namespace', 'pretty'],
    ops: [
      {
        method: 'post',
        id: 'createCoreV1NamespacedBinding',
        description: 'create a Binding',
        action: 'post',
        params: WRITE_PARAMS,
        body: 'io.k8s.api.core.v1.Binding',
        responses: { '200': 'io.k8s.api.core.v1.Binding', '201': 'io.k8s.api.core.v1.Binding', '202': 'io.k8s.api.core.v1.Binding' },
        gvk: { group: '', kind: 'Binding', version: 'v1' },
      },
    ],
  });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const RESPONSE_TEXT: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted' };

function renderOp(v: Version, op: Op): Json {
  const o: Json = { description: op.description, operationId: op.id, tags: [op.tag ?? 'core_v1'] };
  const params = op.params.map((n) => param(v, P[n]!));
  const produces = op.watch ? PRODUCES_WATCH : PRODUCES;
  if (v === 2) {
    o.consumes = op.patch ? PATCH_TYPES : ['*/*'];
    o.produces = produces;
    o.schemes = ['https'];
    if (op.body) params.unshift({ in: 'body', name: 'body', required: !(op.method === 'delete'), schema: { $ref: refPath(v, op.body) } });
    o.parameters = params;
    const responses: Json = {};
    for (const [code, def] of Object.entries(op.responses)) responses[code] = { description: RESPONSE_TEXT[code], schema: { $ref: refPath(v, def) } };
    responses['401'] = { description: 'Unauthorized' };
    o.responses = responses;
  } else {
    if (params.length) o.parameters = params;
    if (op.body) {
      const content: Json = {};
      for (const ct of op.patch ? PATCH_TYPES : ['*/*']) content[ct] = { schema: { $ref: refPath(v, op.body) } };
      o.requestBody = { content, ...(op.method === 'delete' ? {} : { required: true }) };
    }
    const responses: Json = {};
    for (const [code, def] of Object.entries(op.responses)) {
      const content: Json = {};
      for (const ct of produces) content[ct] = { schema: { $ref: refPath(v, def) } };
      responses[code] = { content, description: RESPONSE_TEXT[code] };
    }
    responses['401'] = { description: 'Unauthorized' };
    o.responses = responses;
  }
  o['x-kubernetes-action'] = op.action;
  o['x-kubernetes-group-version-kind'] = op.gvk;
  return o;
}

function renderPaths(v: Version, entries: PathEntry[]): Json {
  const paths: Json = {};
  for (const e of entries) {
    const item: Json = {};
    for (const op of e.ops) item[op.method] = renderOp(v, op);
    item.parameters = e.pathParams.map((n) => param(v, P[n]!, e.nameOf ?? ''));
    paths[e.path] = item;
  }
  return paths;
}

function referencedByPaths(entries: PathEntry[]): string[] {
  const names = new Set<string>();
  for (const e of entries) {
    for (const op of e.ops) {
      if (op.body) names.add(op.body);
      Object.values(op.responses).forEach((d) => names.add(d));
    }
  }
  return [...names];
}

// ---------------------------------------------------------------------------------------------
// Documents

function discoveryOp(v: Version, path: string, id: string, def: string, description: string): Json {
  const op: Op = { method: 'get', id, description, action: '', params: [], responses: { '200': def }, gvk: { group: '', kind: '', version: '' } };
  const o = renderOp(v, op);
  delete o['x-kubernetes-action'];
  delete o['x-kubernetes-group-version-kind'];
  o.tags = [path === '/api/' ? 'core' : 'apis'];
  return o;
}

function buildV2(): Json {
  const entries = allPaths();
  const paths = renderPaths(2, entries);
  paths['/api/'] = { get: discoveryOp(2, '/api/', 'getCoreAPIVersions', META + 'APIVersions', 'get available API versions') };
  paths['/api/v1/'] = { get: discoveryOp(2, '/api/v1/', 'getCoreV1APIResources', META + 'APIResourceList', 'get available resources') };
  paths['/apis/'] = { get: discoveryOp(2, '/apis/', 'getAPIVersions', META + 'APIGroupList', 'get available API versions') };
  for (const gv of servedGroupVersions()) {
    if (!gv.group) continue;
    const GV = opGroupVersion(gv.group, gv.version);
    paths[`/${gv.path}/`] = { get: discoveryOp(2, `/${gv.path}/`, `get${GV}APIResources`, META + 'APIResourceList', 'get available resources') };
  }
  return {
    swagger: '2.0',
    info: INFO,
    paths: sortObject(paths),
    definitions: allDefinitions(2, Object.keys(schemas).filter((n) => !customTypeNames.has(n))),
    securityDefinitions: { BearerToken: { description: 'Bearer Token authentication', in: 'header', name: 'authorization', type: 'apiKey' } },
    security: [{ BearerToken: [] }],
  };
}

function v3Doc(paths: Json, roots: string[]): Json {
  return {
    openapi: '3.0.0',
    info: INFO,
    paths: sortObject(paths),
    components: {
      schemas: allDefinitions(3, closure(roots)),
      securitySchemes: { BearerToken: { description: 'Bearer Token authentication', in: 'header', name: 'authorization', type: 'apiKey' } },
    },
  };
}

function buildV3(path: string): Json | undefined {
  switch (path) {
    case 'api/v1': {
      const entries = allPaths('api/v1');
      const paths = renderPaths(3, entries);
      paths['/api/v1/'] = { get: discoveryOp(3, '/api/v1/', 'getCoreV1APIResources', META + 'APIResourceList', 'get available resources') };
      const roots = [...referencedByPaths(entries), META + 'APIResourceList', WATCH_EVENT, STATUS, DELETE_OPTIONS];
      // every kind of the group with a GVK, so explain finds lists and meta kinds too
      for (const t of Object.values(schemas)) if (t.gvk && t.gvk.group === '') roots.push(t.name);
      return v3Doc(paths, roots);
    }
    case 'api':
      return v3Doc({ '/api/': { get: discoveryOp(3, '/api/', 'getCoreAPIVersions', META + 'APIVersions', 'get available API versions') } }, [META + 'APIVersions']);
    case 'apis':
      return v3Doc({ '/apis/': { get: discoveryOp(3, '/apis/', 'getAPIVersions', META + 'APIGroupList', 'get available API versions') } }, [META + 'APIGroupList']);
    default: {
      const gv = servedGroupVersions().find((g) => g.group && g.path === path);
      if (!gv) return undefined;
      const entries = allPaths(path);
      const paths = renderPaths(3, entries);
      paths[`/${path}/`] = { get: discoveryOp(3, `/${path}/`, `get${opGroupVersion(gv.group, gv.version)}APIResources`, META + 'APIResourceList', 'get available resources') };
      const roots = [...referencedByPaths(entries), META + 'APIResourceList', WATCH_EVENT, STATUS, DELETE_OPTIONS];
      for (const t of Object.values(schemas)) if (t.gvk && t.gvk.group === gv.group && t.gvk.version === gv.version) roots.push(t.name);
      return v3Doc(paths, roots);
    }
  }
}

function sortObject(o: Json): Json {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

// ---------------------------------------------------------------------------------------------
// Cache and exports

/** a rendered document: the object, its JSON text and bytes, and a content hash / ETag */
export interface RenderedDocument {
  readonly doc: Json;
  /** the JSON text, decoded from `body` on each read (not kept: the documents are MiBs) */
  readonly json: string;
  readonly body: Buffer;
  /** upper-case hex SHA-512 of the JSON bytes (kube-apiserver's openapi/v3 hash) */
  readonly hash: string;
  /** quoted strong ETag: `"<hash>"` */
  readonly etag: string;
}

function render(doc: Json): RenderedDocument {
  const body = Buffer.from(JSON.stringify(doc));
  const hash = createHash('sha512').update(body).digest('hex').toUpperCase();
  // the text is kept once, as bytes (what is served); a caller that wants a string decodes them
  return Object.freeze({
    doc,
    get json() {
      return body.toString();
    },
    body,
    hash,
    etag: `"${hash}"`,
  });
}

let v2Cache: RenderedDocument | undefined;
const v3Cache = new Map<string, RenderedDocument>();
let v3RootCache: RenderedDocument | undefined;

/** the OpenAPI v3 group-version documents served under /openapi/v3/<path> */
export const OPENAPI_V3_PATHS: readonly string[] = ['api', 'apis', ...servedGroupVersions().map((g) => g.path)];

/** Swagger 2.0 document (GET /openapi/v2), rendered once */
export function openapiV2Document(): RenderedDocument {
  return (v2Cache ??= render(buildV2()));
}

/** Swagger 2.0 document for GET /openapi/v2 */
export function openapiV2(): object {
  return openapiV2Document().doc;
}

/** OpenAPI 3.0 document for GET /openapi/v3/<path> ("api/v1", "api", "apis"), rendered once */
export function openapiV3Document(path: string): RenderedDocument | undefined {
  const key = path.replace(/^\/+|\/+$/g, '').replace(/^openapi\/v3\//, '');
  const hit = v3Cache.get(key);
  if (hit) return hit;
  const doc = OPENAPI_V3_PATHS.includes(key) ? buildV3(key) : undefined;
  if (!doc) return undefined;
  const r = render(doc);
  v3Cache.set(key, r);
  return r;
}

/** OpenAPI 3.0 document for GET /openapi/v3/<path>, or undefined if there is none */
export function openapiV3(path: string): object | undefined {
  return openapiV3Document(path)?.doc;
}

/** the /openapi/v3 discovery document, rendered once */
export function openapiV3RootDocument(): RenderedDocument {
  if (!v3RootCache) {
    const paths: Json = {};
    for (const p of OPENAPI_V3_PATHS) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${openapiV3Document(p)!.hash}` };
    v3RootCache = render({ paths });
  }
  return v3RootCache;
}

/** GET /openapi/v3: {paths: {"api/v1": {serverRelativeURL: "/openapi/v3/api/v1?hash=..."}, ...}} */
export function openapiV3Root(): object {
  return openapiV3RootDocument().doc;
}

/** ETag of a document: "v2", "v3" (the discovery document) or a v3 path such as "api/v1" */
export function openapiETag(which: string): string | undefined {
  if (which === 'v2') return openapiV2Document().etag;
  if (which === 'v3') return openapiV3RootDocument().etag;
  return openapiV3Document(which)?.etag;
}

// ---------------------------------------------------------------------------------------------
// Swagger 2.0 as protobuf (gnostic openapi_v2.Document), which is what kubectl asks for:
// `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (kubectl <= 1.27 reads
// /openapi/v2 for explain, validation and apply, and cannot parse JSON there). Field numbers are
// from github.com/google/gnostic openapiv2/OpenAPIv2.proto. Values of `Any` (vendor extensions,
// enums) are YAML text; JSON is valid YAML, so they are JSON-encoded.

/** the media type kubectl puts in Accept for the protobuf rendering of /openapi/v2 */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/**
 * the Content-Type to answer it with: kube-openapi replaces the "@" (Go's mime parser, which
 * the client runs on the response, rejects it)
 */
export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

class Pb {
  private readonly parts: Buffer[] = [];
  private static varint(n: number): Buffer {
    const bytes: number[] = [];
    while (n > 0x7f) {
      bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    bytes.push(n);
    return Buffer.from(bytes);
  }
  bytes(field: number, b: Buffer): this {
    this.parts.push(Pb.varint(field * 8 + 2), Pb.varint(b.length), b);
    return this;
  }
  str(field: number, s: unknown): this {
    return typeof s === 'string' && s !== '' ? this.bytes(field, Buffer.from(s, 'utf8')) : this;
  }
  strs(field: number, a: unknown): this {
    if (Array.isArray(a)) for (const s of a) this.bytes(field, Buffer.from(String(s), 'utf8'));
    return this;
  }
  bool(field: number, v: unknown): this {
    if (v === true) this.parts.push(Pb.varint(field * 8), Pb.varint(1));
    return this;
  }
  msg(field: number, m: Pb | Buffer | undefined): this {
    return m ? this.bytes(field, m instanceof Pb ? m.done() : m) : this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** gnostic Any: {yaml = 2} */
function pbAny(value: unknown): Pb {
  return new Pb().str(2, JSON.stringify(value) + '\n');
}

/** repeated NamedAny for the x-* keys of `o` */
function pbExtensions(pb: Pb, field: number, o: Json): Pb {
  for (const [k, v] of Object.entries(o)) if (k.startsWith('x-')) pb.msg(field, new Pb().str(1, k).msg(2, pbAny(v)));
  return pb;
}

function pbSchema(s: Json): Pb {
  const pb = new Pb().str(1, s.$ref).str(2, s.format).str(4, s.description).bool(16, s.uniqueItems).strs(19, s.required);
  if (Array.isArray(s.enum)) for (const e of s.enum) pb.msg(20, pbAny(e));
  const ap = s.additionalProperties;
  if (typeof ap === 'boolean') pb.msg(21, new Pb().bool(2, ap));
  else if (ap && typeof ap === 'object') pb.msg(21, new Pb().msg(1, pbSchema(ap as Json)));
  if (s.type !== undefined) pb.msg(22, new Pb().strs(1, Array.isArray(s.type) ? s.type : [s.type]));
  if (s.items && typeof s.items === 'object') {
    const items = new Pb();
    for (const it of Array.isArray(s.items) ? s.items : [s.items]) items.msg(1, pbSchema(it as Json));
    pb.msg(23, items);
  }
  if (Array.isArray(s.allOf)) for (const a of s.allOf) pb.msg(24, pbSchema(a as Json));
  if (s.properties && typeof s.properties === 'object') {
    const props = new Pb();
    for (const [name, p] of Object.entries(s.properties as Json)) props.msg(1, new Pb().str(1, name).msg(2, pbSchema(p as Json)));
    pb.msg(25, props);
  }
  return pbExtensions(pb, 31, s);
}

function pbParameter(p: Json): Pb {
  if (p.in === 'body') {
    const body = new Pb().str(1, p.description).str(2, p.name).str(3, p.in).bool(4, p.required).msg(5, p.schema ? pbSchema(p.schema as Json) : undefined);
    return new Pb().msg(1, new Pb().msg(1, body));
  }
  // NonBodyParameter: query = 3 (type 6, format 7, unique_items 20), path = 4 (type 5, format 6, unique_items 19)
  const query = p.in === 'query';
  const sub = new Pb().bool(1, p.required).str(2, p.in).str(3, p.description).str(4, p.name);
  if (query) sub.str(6, p.type).str(7, p.format).bool(20, p.uniqueItems);
  else sub.str(5, p.type).str(6, p.format).bool(19, p.uniqueItems);
  const nonBody = new Pb().msg(query ? 3 : p.in === 'path' ? 4 : 1, sub);
  return new Pb().msg(1, new Pb().msg(2, nonBody));
}

function pbOperation(op: Json): Pb {
  const pb = new Pb().strs(1, op.tags).str(3, op.description).str(5, op.operationId).strs(6, op.produces).strs(7, op.consumes);
  for (const p of (op.parameters as Json[] | undefined) ?? []) pb.msg(8, pbParameter(p));
  const responses = new Pb();
  for (const [code, r] of Object.entries((op.responses as Json | undefined) ?? {})) {
    const rj = r as Json;
    const resp = new Pb().str(1, rj.description).msg(2, rj.schema ? new Pb().msg(1, pbSchema(rj.schema as Json)) : undefined);
    responses.msg(1, new Pb().str(1, code).msg(2, new Pb().msg(1, resp)));
  }
  pb.msg(9, responses).strs(10, op.schemes);
  return pbExtensions(pb, 13, op);
}

const PATH_ITEM_FIELDS: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, options: 6, head: 7, patch: 8 };

/** encodes a Swagger 2.0 document (as rendered by openapiV2) as a gnostic openapi_v2.Document */
export function swaggerToProtobuf(doc: object): Buffer {
  return pbDocument(doc as Json);
}

function pbDocument(d: Json): Buffer {
  const info = d.info as Json;
  const pb = new Pb().str(1, d.swagger).msg(2, new Pb().str(1, info.title).str(2, info.version));
  const paths = new Pb();
  for (const [path, item] of Object.entries(d.paths as Json)) {
    const pi = new Pb();
    const ij = item as Json;
    for (const [method, field] of Object.entries(PATH_ITEM_FIELDS)) if (ij[method]) pi.msg(field, pbOperation(ij[method] as Json));
    for (const p of (ij.parameters as Json[] | undefined) ?? []) pi.msg(9, pbParameter(p));
    paths.msg(2, new Pb().str(1, path).msg(2, pi));
  }
  pb.msg(8, paths);
  const defs = new Pb();
  for (const [name, s] of Object.entries(d.definitions as Json)) defs.msg(1, new Pb().str(1, name).msg(2, pbSchema(s as Json)));
  pb.msg(9, defs);
  for (const req of (d.security as Json[] | undefined) ?? []) {
    const sr = new Pb();
    for (const [name, scopes] of Object.entries(req)) sr.msg(1, new Pb().str(1, name).msg(2, new Pb().strs(1, scopes)));
    pb.msg(12, sr);
  }
  const secDefs = new Pb();
  for (const [name, def] of Object.entries((d.securityDefinitions as Json | undefined) ?? {})) {
    const dj = def as Json;
    const apiKey = new Pb().str(1, dj.type).str(2, dj.name).str(3, dj.in).str(4, dj.description);
    secDefs.msg(1, new Pb().str(1, name).msg(2, new Pb().msg(2, apiKey)));
  }
  pb.msg(13, secDefs);
  return pb.done();
}

let v2PbCache: { body: Buffer; hash: string; etag: string } | undefined;

/** /openapi/v2 as protobuf, for clients that Accept OPENAPI_V2_PROTOBUF (kubectl does) */
export function openapiV2Protobuf(): { readonly body: Buffer; readonly hash: string; readonly etag: string } {
  if (!v2PbCache) {
    const body = pbDocument(openapiV2Document().doc);
    const hash = createHash('sha512').update(body).digest('hex').toUpperCase();
    v2PbCache = Object.freeze({ body, hash, etag: `"${hash}"` });
  }
  return v2PbCache;
}

// ---------------------------------------------------------------------------------------------
// Custom kinds (CustomResourceDefinitions): rendered per request by the caller, which caches
// them for as long as its definitions do not change

/** the patch types custom resources accept (no strategic merge: they have no patch strategies) */
function withoutStrategicMerge(v: Version, paths: Json): void {
  for (const item of Object.values(paths) as Json[]) {
    const patch = item.patch as Json | undefined;
    if (!patch) continue;
    if (v === 2) patch.consumes = (patch.consumes as string[]).filter((t) => t !== 'application/strategic-merge-patch+json');
    else delete ((patch.requestBody as Json).content as Json)['application/strategic-merge-patch+json'];
  }
}

/** the OpenAPI v3 document of one group version of custom kinds (their types are in `schemas`) */
export function openapiV3CustomDocument(path: string, rs: ResourceInfo[]): RenderedDocument {
  const entries = rs.flatMap(resourcePaths).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const paths = renderPaths(3, entries);
  withoutStrategicMerge(3, paths);
  const [group = '', version = ''] = path.replace(/^apis\//, '').split('/');
  paths[`/${path}/`] = { get: discoveryOp(3, `/${path}/`, `get${opGroupVersion(group, version)}APIResources`, META + 'APIResourceList', 'get available resources') };
  const roots = [...referencedByPaths(entries), META + 'APIResourceList', WATCH_EVENT, STATUS, DELETE_OPTIONS];
  return render(v3Doc(paths, roots));
}

/** /openapi/v3 with the custom group versions' documents added */
export function openapiV3RootDocumentWith(extra: { path: string; hash: string }[]): RenderedDocument {
  if (!extra.length) return openapiV3RootDocument();
  const paths: Json = { ...(openapiV3RootDocument().doc.paths as Json) };
  for (const e of extra) paths[e.path] = { serverRelativeURL: `/openapi/v3/${e.path}?hash=${e.hash}` };
  return render({ paths: sortObject(paths) });
}

/** /openapi/v2 with the custom kinds' paths and definitions added (kubectl <= 1.27 reads it) */
export function openapiV2DocumentWith(rs: ResourceInfo[]): RenderedDocument {
  if (!rs.length) return openapiV2Document();
  const base = openapiV2Document().doc;
  const entries = rs.flatMap(resourcePaths);
  const paths = renderPaths(2, entries);
  withoutStrategicMerge(2, paths);
  const defs = allDefinitions(2, closure(rs.map((r) => r.typeName)));
  return render({ ...base, paths: sortObject({ ...(base.paths as Json), ...paths }), definitions: sortObject({ ...(base.definitions as Json), ...defs }) });
}
