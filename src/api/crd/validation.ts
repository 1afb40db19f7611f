/**
 * Validation of a CustomResourceDefinition (apiextensions.k8s.io/v1) as apiextensions-apiserver
 * validates it (pkg/apis/apiextensions/validation): names, group, scope, versions with exactly
 * one storage version, printer columns, subresources, conversion, and each version's schema:
 * structural (every node typed, items and properties where they belong, no $ref and friends),
 * the x-kubernetes-* extensions used where they may be, and CEL rules that compile.
 */
import type { FieldError } from '../errors.js';
import { isDNS1035Label, isDNS1123Subdomain } from '../validation/names.js';
import { compileRule } from './cel.js';
import { patternCompiles, prune, validateSchema } from './structural.js';
import type { JSONSchemaProps } from './types.js';

type Obj = Record<string, any>;

const req = (field: string, detail = ''): FieldError => ({ type: 'FieldValueRequired', field, detail });
const bad = (field: string, value: unknown, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, value, detail });
const forbid = (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, detail });

export const CRD_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The field errors of a CRD about to be created (or replacing `old`). */
export function validateCrd(crd: Obj, old?: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const spec: Obj = isObj(crd.spec) ? crd.spec : {};
  const names: Obj = isObj(spec.names) ? spec.names : {};
  const group: string = typeof spec.group === 'string' ? spec.group : '';
  const name: string = crd.metadata?.name ?? '';

  if (!group) errs.push(req('spec.group'));
  else {
    for (const m of isDNS1123Subdomain(group)) errs.push(bad('spec.group', group, m));
    if (group.split('.').length < 2) errs.push(bad('spec.group', group, 'should be a domain with at least one dot'));
  }
  if (name !== `${names.plural ?? ''}.${group}`) errs.push(bad('metadata.name', name, 'must be spec.names.plural+"."+spec.group'));

  if (spec.scope === undefined || spec.scope === '') errs.push(req('spec.scope'));
  else if (spec.scope !== 'Cluster' && spec.scope !== 'Namespaced') errs.push({ type: 'FieldValueNotSupported', field: 'spec.scope', value: spec.scope, detail: 'supported values: "Cluster", "Namespaced"' });

  errs.push(...validateNames(names, 'spec.names'));

  const versions: Obj[] = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) errs.push(req('spec.versions', 'must have exactly one version marked as storage version'));
  const seen = new Set<string>();
  let storage = 0;
  let served = 0;
  versions.forEach((v, i) => {
    const p = `spec.versions[${i}]`;
    if (!v?.name) errs.push(req(`${p}.name`));
    else {
      for (const m of isDNS1035Label(v.name)) errs.push(bad(`${p}.name`, v.name, m));
      if (seen.has(v.name)) errs.push({ type: 'FieldValueDuplicate', field: `${p}.name`, value: v.name, detail: '' });
      seen.add(v.name);
    }
    if (v?.storage) storage++;
    if (v?.served) served++;
    if (typeof v?.served !== 'boolean') errs.push(req(`${p}.served`));
    if (typeof v?.storage !== 'boolean') errs.push(req(`${p}.storage`));
    const schema = v?.schema?.openAPIV3Schema;
    if (!isObj(schema)) errs.push(req(`${p}.schema.openAPIV3Schema`, 'schemas are required'));
    else errs.push(...validateStructural(schema as JSONSchemaProps, `${p}.schema.openAPIV3Schema`, true));
    errs.push(...validateColumns(v?.additionalPrinterColumns, `${p}.additionalPrinterColumns`));
    errs.push(...validateSubresources(v?.subresources, `${p}.subresources`));
  });
  if (versions.length > 0 && storage !== 1) errs.push(bad('spec.versions', versions.map((v) => v?.name), 'must have exactly one version marked as storage version'));
  if (versions.length > 0 && served === 0) errs.push(bad('spec.versions', versions.map((v) => v?.name), 'must have at least one version served'));

  const strategy = spec.conversion?.strategy ?? 'None';
  if (strategy === 'Webhook') {
    errs.push(forbid('spec.conversion.strategy', 'podbay does not call conversion webhooks; only the None strategy is supported (set every version to the same schema)'));
  } else if (strategy !== 'None') {
    errs.push({ type: 'FieldValueNotSupported', field: 'spec.conversion.strategy', value: strategy, detail: 'supported values: "None", "Webhook"' });
  }

  if (old) {
    if (old.spec?.scope !== spec.scope) errs.push(bad('spec.scope', spec.scope, 'field is immutable'));
    if (old.spec?.group !== spec.group) errs.push(bad('spec.group', spec.group, 'field is immutable'));
    // a version objects are stored in may not be dropped while they may still exist
    for (const sv of (old.status?.storedVersions ?? []) as string[]) {
      if (!versions.some((v) => v?.name === sv)) errs.push(bad('status.storedVersions', old.status.storedVersions, `must appear in spec.versions (stored version ${JSON.stringify(sv)} is missing)`));
    }
  }
  return errs;
}

function validateNames(names: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const label = (field: string, value: unknown, requiredToo: boolean) => {
    if (value === undefined || value === '') {
      if (requiredToo) errs.push(req(field));
      return;
    }
    if (typeof value !== 'string') return void errs.push(bad(field, value, 'must be a string'));
    for (const m of isDNS1035Label(value)) errs.push(bad(field, value, m));
  };
  label(`${p}.plural`, names.plural, true);
  label(`${p}.singular`, names.singular, false);
  if (!names.kind) errs.push(req(`${p}.kind`));
  else {
    const lower = String(names.kind).toLowerCase();
    if (isDNS1035Label(lower).length) errs.push(bad(`${p}.kind`, names.kind, 'may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?'));
  }
  if (!names.listKind) {
    // kube-apiserver defaults listKind (kind+"List") before validation; so does podbay
  } else if (names.listKind === names.kind) errs.push(bad(`${p}.listKind`, names.listKind, 'kind and listKind may not be the same'));
  (Array.isArray(names.shortNames) ? names.shortNames : []).forEach((s: unknown, i: number) => label(`${p}.shortNames[${i}]`, s, true));
  (Array.isArray(names.categories) ? names.categories : []).forEach((s: unknown, i: number) => label(`${p}.categories[${i}]`, s, true));
  return errs;
}

const COLUMN_TYPES = ['integer', 'number', 'string', 'boolean', 'date'];

function validateColumns(cols: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(cols)) return errs;
  cols.forEach((c: Obj, i) => {
    if (!c?.name) errs.push(req(`${p}[${i}].name`));
    if (!c?.type) errs.push(req(`${p}[${i}].type`));
    else if (!COLUMN_TYPES.includes(c.type)) errs.push({ type: 'FieldValueNotSupported', field: `${p}[${i}].type`, value: c.type, detail: `supported values: ${COLUMN_TYPES.map((t) => JSON.stringify(t)).join(', ')}` });
    if (!c?.jsonPath) errs.push(req(`${p}[${i}].JSONPath`));
    else if (!String(c.jsonPath).startsWith('.')) errs.push(bad(`${p}[${i}].JSONPath`, c.jsonPath, 'must be a simple json path starting with .'));
  });
  return errs;
}

function validateSubresources(sub: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObj(sub) || !isObj(sub.scale)) return errs;
  const s = sub.scale;
  if (!s.specReplicasPath) errs.push(req(`${p}.scale.specReplicasPath`));
  else if (!String(s.specReplicasPath).startsWith('.spec.')) errs.push(bad(`${p}.scale.specReplicasPath`, s.specReplicasPath, 'should be a json path under .spec'));
  if (!s.statusReplicasPath) errs.push(req(`${p}.scale.statusReplicasPath`));
  else if (!String(s.statusReplicasPath).startsWith('.status.')) errs.push(bad(`${p}.scale.statusReplicasPath`, s.statusReplicasPath, 'should be a json path under .status'));
  if (s.labelSelectorPath && !/^\.(spec|status)\./.test(String(s.labelSelectorPath))) errs.push(bad(`${p}.scale.labelSelectorPath`, s.labelSelectorPath, 'should be a json path under either .spec or .status'));
  return errs;
}

const FORBIDDEN_KEYWORDS = ['$ref', 'additionalItems', 'patternProperties', 'dependencies', 'definitions', 'id', '$schema'];
const TYPES = ['object', 'array', 'string', 'integer', 'number', 'boolean'];

/**
 * The structural schema rules (apiextensions' structuralschema.ValidateStructural and the
 * schema validation around it); `root` for the openAPIV3Schema itself.
 */
export function validateStructural(s: JSONSchemaProps, p: string, root = false): FieldError[] {
  const errs: FieldError[] = [];
  walk(s, p, root, false, errs);
  return errs;
}

function walk(s: JSONSchemaProps, p: string, root: boolean, underMetadata: boolean, errs: FieldError[]): void {
  if (!isObj(s)) return void errs.push(bad(p, s, 'must be a schema object'));
  for (const k of FORBIDDEN_KEYWORDS) if (s[k] !== undefined) errs.push(forbid(`${p}.${k}`, `${k} is forbidden in a structural schema`));
  if (s.uniqueItems === true) errs.push(forbid(`${p}.uniqueItems`, 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic'));
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (s.type === undefined || s.type === '') {
    if (root) errs.push(req(`${p}.type`, 'must not be empty at the root'));
    else if (!intOrString && !preserve) errs.push(req(`${p}.type`, 'must not be empty for specified object fields'));
  } else if (!TYPES.includes(s.type)) {
    errs.push({ type: 'FieldValueNotSupported', field: `${p}.type`, value: s.type, detail: `supported values: ${TYPES.map((t) => JSON.stringify(t)).join(', ')}` });
  }
  if (root && s.type !== undefined && s.type !== 'object') errs.push(bad(`${p}.type`, s.type, 'must be object at the root'));
  if (intOrString && s.type) errs.push(forbid(`${p}.type`, 'must be empty if x-kubernetes-int-or-string is true'));
  if (s['x-kubernetes-embedded-resource'] && s.type !== 'object') errs.push(bad(`${p}.type`, s.type ?? '', 'must be object if x-kubernetes-embedded-resource is true'));
  if (s['x-kubernetes-embedded-resource'] && !preserve && !s.properties) {
    errs.push(req(`${p}.properties`, 'must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields'));
  }
  if (s.type === 'array' && s.items === undefined) errs.push(req(`${p}.items`, 'must be specified'));
  if (Array.isArray(s.items)) errs.push(forbid(`${p}.items`, 'items must be a schema object and not an array'));
  if (s.properties && s.additionalProperties !== undefined && s.additionalProperties !== false) {
    errs.push(forbid(`${p}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
  }
  if (s.additionalProperties === false) errs.push(forbid(`${p}.additionalProperties`, 'must not be false'));
  if (s.additionalProperties !== undefined && preserve && isObj(s.additionalProperties)) {
    errs.push(forbid(`${p}.additionalProperties`, 'must not be used if x-kubernetes-preserve-unknown-fields is true'));
  }
  if (s.pattern !== undefined && !patternCompiles(s.pattern)) errs.push(bad(`${p}.pattern`, s.pattern, 'must be a valid regular expression'));
  if (s.properties && s.type !== undefined && s.type !== 'object') errs.push(forbid(`${p}.properties`, `must not be specified for type ${s.type}`));

  // list types
  const lt = s['x-kubernetes-list-type'];
  if (lt !== undefined) {
    if (s.type !== 'array') errs.push(bad(`${p}.x-kubernetes-list-type`, lt, 'must only be used if type == array'));
    if (!['atomic', 'set', 'map'].includes(lt)) errs.push({ type: 'FieldValueNotSupported', field: `${p}.x-kubernetes-list-type`, value: lt, detail: 'supported values: "atomic", "set", "map"' });
  }
  const keys = s['x-kubernetes-list-map-keys'];
  if (keys !== undefined && lt !== 'map') errs.push(forbid(`${p}.x-kubernetes-list-map-keys`, 'must only be used if x-kubernetes-list-type == "map"'));
  if (lt === 'map') {
    const item = Array.isArray(s.items) ? undefined : s.items;
    if (!keys || keys.length === 0) errs.push(req(`${p}.x-kubernetes-list-map-keys`, 'must not be empty if x-kubernetes-list-type is map'));
    if (item && item.type !== 'object') errs.push(bad(`${p}.items.type`, item.type ?? '', 'must be object if parent array\'s x-kubernetes-list-type is map'));
    for (const k of keys ?? []) {
      const ks = item?.properties?.[k];
      if (!ks) errs.push(bad(`${p}.x-kubernetes-list-map-keys`, keys, `entries must all be names of item properties: ${k}`));
      else if (!item?.required?.includes(k) && ks.default === undefined) {
        errs.push(req(`${p}.items.properties[${k}]`, 'all map keys must be required or have a default value'));
      } else if (ks.type !== undefined && !['string', 'integer', 'boolean', 'number'].includes(ks.type)) {
        errs.push(bad(`${p}.items.properties[${k}].type`, ks.type, 'must be a scalar type if parent array\'s x-kubernetes-list-type is map'));
      }
    }
  }
  if (lt === 'set') {
    const item = Array.isArray(s.items) ? undefined : s.items;
    if (item && (item.type === 'object' || item.type === 'array')) errs.push(bad(`${p}.items.type`, item.type, 'must be a scalar type if parent array\'s x-kubernetes-list-type is set'));
  }
  const mt = s['x-kubernetes-map-type'];
  if (mt !== undefined && s.type !== 'object') {
    if (!s.type) errs.push(req(`${p}.type`, 'must be object if x-kubernetes-map-type is specified'));
    else errs.push(bad(`${p}.type`, s.type, 'must be object if x-kubernetes-map-type is specified'));
  }
  if (mt !== undefined && mt !== 'atomic' && mt !== 'granular') errs.push({ type: 'FieldValueNotSupported', field: `${p}.x-kubernetes-map-type`, value: mt, detail: 'supported values: "granular", "atomic"' });

  // defaults: valid against their own schema, and without fields pruning would drop
  if (s.default !== undefined) {
    if (underMetadata) errs.push(forbid(`${p}.default`, 'must not be set under metadata'));
    const copy = structuredClone(s.default);
    const dropped = prune(s, copy, false);
    if (dropped.length) errs.push(bad(`${p}.default`, s.default, `must not have unknown fields: ${dropped.join(', ')}`));
    for (const e of validateSchema({ ...s, 'x-kubernetes-validations': undefined }, s.default, `${p}.default`)) errs.push(bad(`${p}.default`, s.default, `${e.field}: ${e.detail}`));
  }

  // CEL rules
  (s['x-kubernetes-validations'] ?? []).forEach((r, i) => {
    const rp = `${p}.x-kubernetes-validations[${i}]`;
    if (!r?.rule) return void errs.push(req(`${rp}.rule`));
    const why = compileRule(r.rule);
    if (why) errs.push(bad(`${rp}.rule`, r.rule, why));
    if (r.messageExpression) {
      const whyM = compileRule(r.messageExpression);
      if (whyM) errs.push(bad(`${rp}.messageExpression`, r.messageExpression, whyM));
    }
    if (r.message !== undefined && (r.message.trim() === '' || r.message.includes('\n'))) errs.push(bad(`${rp}.message`, r.message, 'message must be non-empty and may not contain line breaks'));
    if (r.reason !== undefined && !['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate'].includes(r.reason)) {
      errs.push({ type: 'FieldValueNotSupported', field: `${rp}.reason`, value: r.reason, detail: 'supported values: "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"' });
    }
  });

  // the root's metadata may only say something about name and generateName
  if (root && s.properties?.metadata) {
    const m = s.properties.metadata;
    const others = Object.keys(m).filter((k) => !['type', 'properties', 'description'].includes(k));
    const props = Object.keys(m.properties ?? {}).filter((k) => k !== 'name' && k !== 'generateName');
    if (others.length || props.length || (m.type !== undefined && m.type !== 'object')) {
      errs.push(forbid(`${p}.properties[metadata]`, 'must not specify anything other than name and generateName, but metadata is implicitly specified'));
    }
  }
  if (!root && (s.properties?.metadata || s.properties?.apiVersion || s.properties?.kind) && s['x-kubernetes-embedded-resource'] !== true) {
    // allowed; only the root and embedded resources treat them specially
  }

  for (const [k, sub] of Object.entries(s.properties ?? {})) walk(sub, `${p}.properties[${k}]`, false, root && k === 'metadata', errs);
  if (isObj(s.items)) walk(s.items as JSONSchemaProps, `${p}.items`, false, false, errs);
  if (isObj(s.additionalProperties)) walk(s.additionalProperties as JSONSchemaProps, `${p}.additionalProperties`, false, false, errs);
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    (s[key] ?? []).forEach((sub, i) => {
      // value validations only: types and structure belong to the main schema
      if (sub.type !== undefined || sub.properties !== undefined || sub.items !== undefined || sub.default !== undefined) {
        errs.push(forbid(`${p}.${key}[${i}]`, `must not specify type, properties, items or default in ${key} (structural schemas put them on the main schema)`));
      }
    });
  }
}
