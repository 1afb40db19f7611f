/**
 * podbay's type schema: the SchemaSet generated at build time by scripts/gen-schema.mjs into
 * src/api/generated/schema.json, plus lookups used by OpenAPI rendering, strict decoding and
 * strategic merge patch.
 *
 * The JSON is read from disk (not imported) so that it works both from src/ and from a tsc
 * output directory (dist/, .build-*), which does not contain a copy of it: the loader looks for
 * `generated/schema.json` next to this module, then for `src/api/generated/schema.json` in each
 * parent directory (dist/src/api/ -> <root>/src/api/generated/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { FieldSchema, SchemaSet, TypeSchema } from './schema-types.js';

export type { FieldKind, FieldSchema, SchemaSet, TypeSchema } from './schema-types.js';

/** where the generated schema lives, or undefined if it has not been generated */
export function schemaFilePath(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'generated', 'schema.json')];
  for (let dir = here; ; ) {
    candidates.push(join(dir, 'src', 'api', 'generated', 'schema.json'));
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return candidates.find((c) => existsSync(c));
}

function load(): SchemaSet {
  const file = schemaFilePath();
  if (!file) {
    throw new Error('podbay: src/api/generated/schema.json is missing; run `node scripts/gen-schema.mjs` (part of `npm run build`)');
  }
  return JSON.parse(readFileSync(file, 'utf8')) as SchemaSet;
}

/** every definition, keyed by Kubernetes definition name (io.k8s.api.core.v1.Pod ...) */
export const schemas: SchemaSet = load();

/**
 * the definitions CustomResourceDefinitions added to `schemas` (src/registry/custom-resources.ts):
 * documents rendered once for the life of the process leave them out
 */
export const customTypeNames = new Set<string>();

const byGvk = new Map<string, TypeSchema>();
for (const t of Object.values(schemas)) {
  if (t.gvk) byGvk.set(`${t.gvk.group}/${t.gvk.version}/${t.gvk.kind}`, t);
}

/** splits an apiVersion ("v1", "apps/v1") into group and version */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** the definition of a top-level kind, e.g. typeFor('Pod') -> io.k8s.api.core.v1.Pod */
export function typeFor(kind: string, apiVersion = 'v1'): TypeSchema | undefined {
  const { group, version } = parseApiVersion(apiVersion);
  return byGvk.get(`${group}/${version}/${kind}`);
}

/** the definition a field refers to (objects, and leaf refs such as Quantity or Time) */
export function refType(field: FieldSchema | undefined): TypeSchema | undefined {
  return field?.ref ? schemas[field.ref] : undefined;
}

/**
 * The schema of the value at `path` below an object of type `typeName`. Path segments are field
 * names, list indexes (any segment below an array, e.g. 0 or "0": the element schema) and map
 * keys (any segment below a map). Returns undefined when the path leaves the schema (unknown
 * field, or descending into a scalar / free-form value).
 *
 *   fieldSchemaAt('io.k8s.api.core.v1.Pod', ['spec', 'containers'])      -> the list, merge key "name"
 *   fieldSchemaAt('io.k8s.api.core.v1.Pod', ['spec', 'containers', 0])   -> Container element
 *   fieldSchemaAt('io.k8s.api.core.v1.Pod', ['metadata', 'labels', 'a']) -> string
 */
export function fieldSchemaAt(typeName: string, path: readonly (string | number)[]): FieldSchema | undefined {
  let type: TypeSchema | undefined = schemas[typeName];
  let current: FieldSchema | undefined;
  for (const seg of path) {
    if (current) {
      if (current.kind === 'array' || current.kind === 'map') {
        current = current.items;
        continue;
      }
      if (current.kind !== 'object') return undefined;
      type = refType(current);
    }
    if (!type) return undefined;
    current = type.fields[String(seg)];
    if (!current) return undefined;
  }
  return current;
}

/** the object definition at `path` (see fieldSchemaAt); the root type for an empty path */
export function typeAt(typeName: string, path: readonly (string | number)[]): TypeSchema | undefined {
  if (path.length === 0) return schemas[typeName];
  const f = fieldSchemaAt(typeName, path);
  return f?.kind === 'object' ? refType(f) : undefined;
}

/** patch metadata of the list at `path`, as strategic merge patch wants it */
export function patchMetaAt(
  typeName: string,
  path: readonly (string | number)[],
): { patchMergeKey?: string; patchStrategies: string[]; listType?: string } | undefined {
  const f = fieldSchemaAt(typeName, path);
  if (!f) return undefined;
  return {
    patchMergeKey: f.patchMergeKey,
    patchStrategies: f.patchStrategy ? f.patchStrategy.split(',') : [],
    listType: f.listType,
  };
}
