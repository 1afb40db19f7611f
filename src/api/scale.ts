/**
 * The `scale` subresource (deployments, replicasets, statefulsets, replicationcontrollers):
 * an autoscaling/v1 Scale read from and written into the object, as kube-apiserver's
 * ScaleREST does. GET answers the Scale; PUT and PATCH change spec.replicas only, through the
 * object's own update (so its validation, generation and resourceVersion rules apply).
 *
 *   spec.replicas    <- object spec.replicas
 *   status.replicas  <- object status.replicas
 *   status.selector  <- the object's selector as a label-selector string ("app=web")
 */
import { badRequest, invalid as invalidApiError, type FieldError } from './errors.js';
import { SCALE, type ResourceInfo } from './registry.js';
import { labelSelectorFromObject } from './selectors/labels.js';
import { applyPatch } from './patch/index.js';
import { schemas } from './schema.js';
import { decodeTyped } from './typecheck.js';
import { jsonPathValue, setJsonPath } from './crd/custom-kind.js';
import type { AdmissionView } from './types.js';

type Obj = Record<string, any>;

/** the kinds whose objects have a scale subresource */
export function hasScale(r: ResourceInfo): boolean {
  return r.subresources.includes('scale');
}

function selectorString(r: ResourceInfo, obj: Obj): string {
  const sel = obj.spec?.selector;
  if (sel == null) return '';
  try {
    if (r.kind === 'ReplicationController') {
      return labelSelectorFromObject({ matchLabels: sel }).toString();
    }
    return labelSelectorFromObject(sel).toString();
  } catch {
    return '';
  }
}

/** the Scale of an object */
export function toScale(r: ResourceInfo, obj: Obj): Obj {
  const m = obj.metadata ?? {};
  const custom = r.custom?.scale;
  if (custom) {
    // a custom resource's scale lives where its CRD says (subresources.scale)
    const selector = custom.labelSelectorPath ? jsonPathValue(obj, custom.labelSelectorPath) : undefined;
    return {
      kind: SCALE.kind,
      apiVersion: `${SCALE.group}/${SCALE.version}`,
      metadata: { name: m.name, ...(r.namespaced ? { namespace: m.namespace } : {}), uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
      spec: { replicas: jsonPathValue(obj, custom.specReplicasPath) ?? 0 },
      status: { replicas: jsonPathValue(obj, custom.statusReplicasPath) ?? 0, ...(typeof selector === 'string' ? { selector } : {}) },
    };
  }
  return {
    kind: SCALE.kind,
    apiVersion: `${SCALE.group}/${SCALE.version}`,
    metadata: {
      name: m.name,
      ...(r.namespaced ? { namespace: m.namespace } : {}),
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: { replicas: obj.spec?.replicas ?? 0 },
    status: { replicas: obj.status?.replicas ?? 0, selector: selectorString(r, obj) },
  };
}

/** ValidateScale: `Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: ...` */
function validateScale(scale: Obj, name: string): void {
  const errs: FieldError[] = [];
  const replicas = scale.spec?.replicas;
  if (typeof replicas === 'number' && replicas < 0) {
    errs.push({ type: 'FieldValueInvalid', field: 'spec.replicas', value: replicas, detail: 'must be greater than or equal to 0' });
  }
  if (errs.length) throw invalidApiError(SCALE.kind, name, errs, SCALE.group);
}

/**
 * The object to write for a new Scale: spec.replicas from it, and the Scale's
 * resourceVersion (when it has one) as the update's precondition.
 */
export function applyScale(obj: Obj, scale: Obj, r?: ResourceInfo): Obj {
  validateScale(scale, obj.metadata?.name ?? '');
  const out = structuredClone(obj);
  const custom = r?.custom?.scale;
  if (custom) setJsonPath(out, custom.specReplicasPath, scale.spec?.replicas ?? 0);
  else out.spec = { ...(out.spec ?? {}), replicas: scale.spec?.replicas ?? 0 };
  const rv = scale.metadata?.resourceVersion;
  if (typeof rv === 'string' && rv !== '') out.metadata.resourceVersion = rv;
  return out;
}

/**
 * The scale subresource as admission webhooks see a write through it (kube's ScaleREST wraps
 * admission so): an autoscaling/v1 Scale, subResource "scale"; a webhook's change to the
 * Scale's replicas is written into the object.
 */
export function scaleView(r: ResourceInfo): AdmissionView {
  return {
    subResource: 'scale',
    kind: { group: SCALE.group, version: SCALE.version, kind: SCALE.kind },
    show: (obj) => toScale(r, obj),
    apply: (obj, shown) => applyScale(obj, shown, r),
  };
}

/** a patch applied to the object's Scale; the typed decoding of the result as for a body */
export function patchScale(r: ResourceInfo, obj: Obj, contentType: string, patchText: string): Obj {
  const scale = toScale(r, obj);
  const patched = applyPatch(contentType, scale, patchText, SCALE.typeName, schemas) as Obj;
  const { failure } = decodeTyped(SCALE.typeName, patched);
  if (failure) throw badRequest(failure.message);
  return patched;
}
