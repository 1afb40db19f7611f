/**
 * The shape of podbay's type schema: one entry per Kubernetes definition (e.g.
 * "io.k8s.api.core.v1.Container"), generated at build time from the JSDoc of the
 * `kubernetes-models` type package (see scripts/gen-schema.mjs), plus the patch metadata
 * (merge keys and strategies) Kubernetes attaches to lists.
 *
 * Consumers: OpenAPI v2/v3 rendering (src/apiserver/openapi.ts), strict decoding
 * (src/api/strict.ts) and strategic merge patch (src/api/patch/strategic.ts).
 */

export type FieldKind =
  | 'string'
  | 'integer'
  | 'number'
  | 'boolean'
  /** a reference to another definition; see `ref` */
  | 'object'
  /** see `items` */
  | 'array'
  /** map[string]X; see `items` for X */
  | 'map'
  /** free-form (RawExtension, JSON) */
  | 'any'
  | 'int-or-string'
  | 'quantity'
  /** RFC 3339 date-time string */
  | 'time';

export interface FieldSchema {
  kind: FieldKind;
  /** definition name when kind is 'object' */
  ref?: string;
  /** element schema when kind is 'array' or 'map' */
  items?: FieldSchema;
  description?: string;
  /** OpenAPI format hint: int32, int64, byte, date-time ... */
  format?: string;
  enum?: string[];
  /** x-kubernetes-patch-merge-key */
  patchMergeKey?: string;
  /** x-kubernetes-patch-strategy, e.g. "merge", "retainKeys", "merge,retainKeys" */
  patchStrategy?: string;
  /** x-kubernetes-list-type: atomic | set | map */
  listType?: string;
  /** x-kubernetes-list-map-keys */
  listMapKeys?: string[];
  /**
   * x-kubernetes-map-type of an object or map (a custom resource's schema): atomic -> owned and
   * replaced as a whole by server-side apply, granular (the default) -> field by field
   */
  mapType?: 'atomic' | 'granular';
}

export interface TypeSchema {
  /** e.g. "io.k8s.api.core.v1.Pod" */
  name: string;
  description: string;
  fields: Record<string, FieldSchema>;
  required: string[];
  /** x-kubernetes-group-version-kind for top-level kinds */
  gvk?: { group: string; version: string; kind: string };
  /**
   * Set for definitions that are not objects on the wire (no `fields`): Quantity ('quantity'),
   * IntOrString ('int-or-string'), Time and MicroTime ('time'), RawExtension, FieldsV1 and
   * Patch ('any'). Absent for ordinary object definitions.
   */
  kind?: FieldKind;
  /** OpenAPI format of such a leaf definition (date-time, int-or-string) */
  format?: string;
}

export type SchemaSet = Record<string, TypeSchema>;
