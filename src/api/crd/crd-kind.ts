/**
 * The CustomResourceDefinition kind itself (apiextensions.k8s.io/v1): its ResourceInfo, its
 * defaulting (singular, listKind, conversion, the cleanup finalizer), validation
 * (validation.ts) and printer (NAME, CREATED AT); and the served kinds a client can derive from
 * a stored CRD (what the namespace controller empties).
 */
import type { ResourceInfo } from '../registry.js';
import { schemas } from '../schema.js';
import type { FieldSchema, TypeSchema } from '../schema-types.js';
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

/**
 * The CRD's own type, as apiextensions-apiserver's Go types describe it to the field manager:
 * spec and status are structs field by field (so an apply that repeats what another manager
 * set, say Helm installing a chart's crds/ over a CRD someone applied with kubectl, shares
 * the fields instead of conflicting on a whole `.spec` that defaulting changed), with the
 * lists' types of k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/types.go:
 * versions, names.shortNames, names.categories, storedVersions and
 * conversionReviewVersions atomic, status.conditions a map keyed by type. A version (and
 * its schema) is opaque here: versions is atomic, as there.
 */
const APIEXT = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.';
const atomicList = (items: FieldSchema): FieldSchema => ({ kind: 'array', items, listType: 'atomic' });
const STRING: FieldSchema = { kind: 'string' };
const ref = (name: string): FieldSchema => ({ kind: 'object', ref: APIEXT + name });
const CRD_TYPES: [string, string, Record<string, FieldSchema>, string[]][] = [
  ['CustomResourceDefinition', 'CustomResourceDefinition represents a resource that should be exposed on the API server.', {
    apiVersion: STRING,
    kind: STRING,
    metadata: { kind: 'object', ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' },
    spec: ref('CustomResourceDefinitionSpec'),
    status: ref('CustomResourceDefinitionStatus'),
  }, ['spec']],
  ['CustomResourceDefinitionSpec', 'CustomResourceDefinitionSpec describes how a user wants their resource to appear', {
    conversion: ref('CustomResourceConversion'),
    group: STRING,
    names: ref('CustomResourceDefinitionNames'),
    preserveUnknownFields: { kind: 'boolean' },
    scope: STRING,
    versions: atomicList({ kind: 'any' }),
  }, ['group', 'names', 'scope', 'versions']],
  ['CustomResourceConversion', 'CustomResourceConversion describes how to convert different versions of a CR.', {
    strategy: STRING,
    webhook: ref('WebhookConversion'),
  }, ['strategy']],
  ['WebhookConversion', 'WebhookConversion describes how to call a conversion webhook', {
    clientConfig: ref('WebhookClientConfig'),
    conversionReviewVersions: atomicList(STRING),
  }, ['conversionReviewVersions']],
  ['WebhookClientConfig', 'WebhookClientConfig contains the information to make a TLS connection with the webhook.', {
    caBundle: { kind: 'string', format: 'byte' },
    service: ref('ServiceReference'),
    url: STRING,
  }, []],
  ['ServiceReference', 'ServiceReference holds a reference to Service.legacy.k8s.io', {
    name: STRING,
    namespace: STRING,
    path: STRING,
    port: { kind: 'integer', format: 'int32' },
  }, ['namespace', 'name']],
  ['CustomResourceDefinitionNames', 'CustomResourceDefinitionNames indicates the names to serve this CustomResourceDefinition', {
    categories: atomicList(STRING),
    kind: STRING,
    listKind: STRING,
    plural: STRING,
    shortNames: atomicList(STRING),
    singular: STRING,
  }, ['plural', 'kind']],
  ['CustomResourceDefinitionStatus', 'CustomResourceDefinitionStatus indicates the state of the CustomResourceDefinition', {
    acceptedNames: ref('CustomResourceDefinitionNames'),
    conditions: { kind: 'array', items: ref('CustomResourceDefinitionCondition'), listType: 'map', listMapKeys: ['type'] },
    storedVersions: atomicList(STRING),
  }, []],
  ['CustomResourceDefinitionCondition', 'CustomResourceDefinitionCondition contains details for the current condition of this pod.', {
    lastTransitionTime: { kind: 'time', format: 'date-time' },
    message: STRING,
    reason: STRING,
    status: STRING,
    type: STRING,
  }, ['type', 'status']],
];
for (const [name, description, fields, required] of CRD_TYPES) {
  const type: TypeSchema = { name: APIEXT + name, description, fields, required };
  if (name === 'CustomResourceDefinition') type.gvk = { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition' };
  schemas[APIEXT + name] ??= type;
}

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
