/**
 * ObjectMeta validation: apimachinery's ValidateObjectMeta / ValidateObjectMetaUpdate plus the
 * core-group finalizer check (pkg/apis/core/validation ValidateObjectMeta).
 */
import {
  type Obj,
  type ValidationError,
  arr,
  forbidden,
  invalid,
  nonNegative,
  obj,
  required,
  semanticEqual,
  str,
  tooLong,
} from './field.js';
import { type NameRule, isDNS1123Label, isQualifiedName, isValidLabelValue, validateName } from './names.js';

export const FIELD_IMMUTABLE = 'field is immutable';
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

/** ValidateLabels: every key a qualified name, every value a label value; errors at `fldPath` itself. */
export function validateLabels(labels: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  for (const [k, v] of Object.entries(obj(labels))) {
    for (const msg of isQualifiedName(k)) errs.push(invalid(fldPath, k, msg));
    for (const msg of isValidLabelValue(str(v))) errs.push(invalid(fldPath, str(v), msg));
  }
  return errs;
}

/** ValidateAnnotations: keys are qualified names (case-insensitive); total size <= 256 KiB. */
export function validateAnnotations(annotations: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(obj(annotations))) {
    for (const msg of isQualifiedName(k.toLowerCase())) errs.push(invalid(fldPath, k, msg));
    total += Buffer.byteLength(k) + Buffer.byteLength(str(v));
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT) errs.push(tooLong(fldPath, TOTAL_ANNOTATION_SIZE_LIMIT));
  return errs;
}

/** schema.FromAPIVersionAndKind(...).Version / .Group */
function parseAPIVersion(apiVersion: string): { group: string; version: string } {
  const parts = apiVersion.split('/');
  if (apiVersion === '') return { group: '', version: '' };
  if (parts.length === 1) return { group: '', version: parts[0] };
  if (parts.length === 2) return { group: parts[0], version: parts[1] };
  return { group: '', version: '' };
}

export function validateOwnerReferences(refs: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  let firstController = '';
  for (const ref of arr(refs)) {
    const r = obj(ref);
    const gv = parseAPIVersion(str(r.apiVersion));
    if (!gv.version) errs.push(invalid(`${fldPath}.apiVersion`, str(r.apiVersion), 'version must not be empty'));
    if (!str(r.kind)) errs.push(invalid(`${fldPath}.kind`, str(r.kind), 'must not be empty'));
    if (!str(r.name)) errs.push(invalid(`${fldPath}.name`, str(r.name), 'must not be empty'));
    if (!str(r.uid)) errs.push(invalid(`${fldPath}.uid`, str(r.uid), 'must not be empty'));
    if (gv.group === '' && gv.version === 'v1' && r.kind === 'Event') {
      errs.push(invalid(fldPath, r, '/v1, Kind=Event is disallowed from being an owner'));
    }
    if (r.controller === true) {
      const cur = `${str(r.kind)}/${str(r.name)}`;
      if (firstController) {
        errs.push(
          invalid(fldPath, refs, `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${cur}`),
        );
      } else {
        firstController = cur;
      }
    }
  }
  return errs;
}

/** apimachinery ValidateFinalizerName: a qualified name (errors at the list path, not the item). */
export function validateFinalizerName(name: string, fldPath: string): ValidationError[] {
  return isQualifiedName(name).map((msg) => invalid(fldPath, name, msg));
}

/** core's validateKubeFinalizerName: an unprefixed finalizer must be a standard one. */
export function validateKubeFinalizerName(name: string, fldPath: string): ValidationError[] {
  if (!name.includes('/') && !STANDARD_FINALIZERS.has(name)) {
    return [invalid(fldPath, name, 'name is neither a standard finalizer name nor is it fully qualified')];
  }
  return [];
}

function validateFinalizers(finalizers: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const list = arr(finalizers).map(str);
  for (const f of list) errs.push(...validateFinalizerName(f, fldPath));
  if (list.includes('orphan') && list.includes('foregroundDeletion')) {
    errs.push(invalid(fldPath, list, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  list.forEach((f, i) => errs.push(...validateKubeFinalizerName(f, `${fldPath}[${i}]`)));
  return errs;
}

function validateMetaCommon(m: Obj, fldPath: string): ValidationError[] {
  return [
    ...validateLabels(m.labels, `${fldPath}.labels`),
    ...validateAnnotations(m.annotations, `${fldPath}.annotations`),
    ...validateOwnerReferences(m.ownerReferences, `${fldPath}.ownerReferences`),
    ...validateFinalizers(m.finalizers, `${fldPath}.finalizers`),
  ];
}

/**
 * Metadata of an object being created. `namespaced`: the kind lives in a namespace (so
 * metadata.namespace is required); `nameRule`: how metadata.name is checked.
 */
export function validateObjectMeta(
  meta: unknown,
  namespaced: boolean,
  nameRule: NameRule,
  fldPath = 'metadata',
): ValidationError[] {
  const m = obj(meta);
  const errs: ValidationError[] = [];
  const generateName = str(m.generateName);
  if (generateName) {
    for (const msg of validateName(nameRule, generateName, true)) errs.push(invalid(`${fldPath}.generateName`, generateName, msg));
  }
  const name = str(m.name);
  if (!name) errs.push(required(`${fldPath}.name`, 'name or generateName is required'));
  else for (const msg of validateName(nameRule, name, false)) errs.push(invalid(`${fldPath}.name`, name, msg));

  const namespace = str(m.namespace);
  if (namespaced) {
    if (!namespace) errs.push(required(`${fldPath}.namespace`));
    else for (const msg of isDNS1123Label(namespace)) errs.push(invalid(`${fldPath}.namespace`, namespace, msg));
  } else if (namespace) {
    errs.push(forbidden(`${fldPath}.namespace`, 'not allowed on this type'));
  }
  errs.push(...nonNegative(m.generation, `${fldPath}.generation`));
  errs.push(...validateMetaCommon(m, fldPath));
  return errs;
}

function immutable(newVal: unknown, oldVal: unknown, fldPath: string): ValidationError[] {
  return semanticEqual(newVal, oldVal) ? [] : [invalid(fldPath, newVal ?? null, FIELD_IMMUTABLE)];
}

/**
 * Metadata of an object being updated. Note: kube-apiserver copies the stored resourceVersion into
 * an unconditional update before validating, so callers that allow unconditional updates must do
 * the same, or get `metadata.resourceVersion: Invalid value: "": must be specified for an update`.
 */
export function validateObjectMetaUpdate(newMeta: unknown, oldMeta: unknown, fldPath = 'metadata'): ValidationError[] {
  const n = obj(newMeta);
  const o = obj(oldMeta);
  const errs: ValidationError[] = [];
  if (o.deletionTimestamp) {
    const oldF = new Set(arr(o.finalizers).map(str));
    const extra = [...new Set(arr(n.finalizers).map(str))].filter((f) => !oldF.has(f)).sort();
    if (extra.length) {
      errs.push(
        forbidden(
          `${fldPath}.finalizers`,
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${extra.map((f) => JSON.stringify(f)).join(', ')}}`,
        ),
      );
    }
  }
  if (!str(n.resourceVersion)) errs.push(invalid(`${fldPath}.resourceVersion`, str(n.resourceVersion), 'must be specified for an update'));
  if (typeof n.generation === 'number' && typeof o.generation === 'number' && n.generation < o.generation) {
    errs.push(invalid(`${fldPath}.generation`, n.generation, 'must not be decremented'));
  }
  for (const f of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
    errs.push(...immutable(n[f], o[f], `${fldPath}.${f}`));
  }
  errs.push(...validateMetaCommon(n, fldPath));
  return errs;
}

/**
 * The error kube-apiserver's store returns for an update without resourceVersion on kinds that
 * do not allow unconditional updates (none of the core kinds here do that; CRDs do):
 * `metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`.
 */
export function resourceVersionRequiredForUpdate(): ValidationError {
  return { type: 'FieldValueInvalid', field: 'metadata.resourceVersion', value: 0, rawValue: '0x0', detail: 'must be specified for an update' };
}

