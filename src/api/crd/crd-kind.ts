/**
 * The CustomResourceDefinition kind itself (apiextensions.k8s.io/v1): its ResourceInfo, its
 * defaulting (singular, listKind, conversion, the cleanup finalizer), validation
 * (validation.ts) and printer (NAME, CREATED AT); and the served kinds a client can derive from
 * a stored CRD (what the namespace controller empties).
 */
import type { ResourceInfo } from '../registry.js';
import { schemas } from '../schema.js';
import { customKindFor, customTable, resourceInfoFor } from './custom-kind.js';
import type { CustomKind } from './types.js';
import { CRD_FINALIZER, validateCrd } from './validation.js';

type Obj = Record<string, any>;

const CRD_TYPE = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition';

/** the CRD kind's own hooks: defaulting, validation and its printer (NAME, CREATED AT) */
const CRD_KIND: CustomKind = {
  defaults(obj, op) {
    const names = obj.spec?.names;
    if (names && typeof names.kind === 'string') {
      names.singular ||= names.kind.toLowerCase();
      names.listKind ||= `${names.kind}List`;
    }
    if (obj.spec && typeof obj.spec === 'object') obj.spec.conversion ??= { strategy: 'None' };
    if (op === 'create') {
      const f: string[] = obj.metadata.finalizers ?? [];
      if (!f.includes(CRD_FINALIZER)) obj.metadata.finalizers = [...f, CRD_FINALIZER];
    }
  },
  validate(obj, old, part) {
    return part === 'status' ? [] : validateCrd(obj, old);
  },
  unknownFields() {
    return [];
  },
  table(objects, listMeta, opts) {
    const t = customTable([{ name: 'Created At', type: 'string', format: 'date', jsonPath: '.metadata.creationTimestamp', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' }], objects, listMeta, opts);
    return t;
  },
};

/** the CustomResourceDefinition kind itself */
export const CRDS: ResourceInfo = {
  resource: 'customresourcedefinitions',
  singular: 'customresourcedefinition',
  kind: 'CustomResourceDefinition',
  listKind: 'CustomResourceDefinitionList',
  group: 'apiextensions.k8s.io',
  version: 'v1',
  namespaced: false,
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  subresources: ['status'],
  typeName: CRD_TYPE,
  nameRule: 'dns1123-subdomain',
  storageResource: 'apiextensions.k8s.io/customresourcedefinitions',
  generation: true,
  custom: CRD_KIND,
};

// server-side apply of a CRD: spec and status as wholes, metadata as ObjectMeta
schemas[CRD_TYPE] ??= {
  name: CRD_TYPE,
  description: 'CustomResourceDefinition represents a resource that should be exposed on the API server.',
  fields: {
    apiVersion: { kind: 'string' },
    kind: { kind: 'string' },
    metadata: { kind: 'object', ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' },
    spec: { kind: 'any' },
    status: { kind: 'any' },
  },
  required: ['spec'],
  gvk: { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition' },
};

/** whether the CRD's kind is served (its names accepted and Established) */
export function established(crd: Obj): boolean {
  return (crd.status?.conditions ?? []).some((c: Obj) => c.type === 'Established' && c.status === 'True') && Boolean(crd.status?.acceptedNames?.kind);
}

/** the kind a stored, established CRD serves, at its storage version (for clients that empty or list it) */
export function storedKindOf(crd: Obj): ResourceInfo | undefined {
  if (!established(crd)) return undefined;
  const storage = (crd.spec?.versions ?? []).find((v: Obj) => v.storage)?.name;
  if (!storage) return undefined;
  return resourceInfoFor(crd, storage, customKindFor(crd, storage, () => false));
}
