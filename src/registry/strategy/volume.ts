/**
 * PersistentVolumeClaims and PersistentVolumes at create, as kube-apiserver's admission plugins
 * treat them:
 *   StorageObjectInUseProtection  a claim gets the kubernetes.io/pvc-protection finalizer and a
 *                                 volume kubernetes.io/pv-protection, so neither goes while in
 *                                 use (src/controllers/volume-protection.ts removes them)
 *   DefaultStorageClass           a claim that names no class (storageClassName unset, not "")
 *                                 gets the default one: the class annotated
 *                                 storageclass.kubernetes.io/is-default-class=true, the newest
 *                                 when several are, as upstream picks it
 *   PersistentVolumeClaimResize   a larger storage request is taken only for a bound claim whose
 *                                 StorageClass (the one it was made with) allows volume expansion
 */
import { resourceInfo } from '../../api/registry.js';
import { BETA_DEFAULT_CLASS_ANNOTATION, DEFAULT_CLASS_ANNOTATION, PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER } from '../../api/storage.js';
import type { Obj } from '../../api/types.js';
import { ApiError } from '../../api/errors.js';
import { compareQuantity, parseQuantity } from '../../api/validation/quantity.js';
import type { Allocation, Strategy } from './types.js';
import { byString } from '../../api/order.js';


const STORAGECLASSES = resourceInfo('storageclasses', 'storage.k8s.io')!;
const NOTHING: Allocation = { undo() {}, commit() {} };

function addFinalizer(obj: Obj, f: string): void {
  const meta = (obj.metadata ??= {});
  const list: string[] = Array.isArray(meta.finalizers) ? meta.finalizers : [];
  if (!list.includes(f)) meta.finalizers = [...list, f];
}

/** the default class among `classes` (GetDefaultClass: the newest, then the name, breaks a tie) */
export function defaultStorageClass(classes: readonly Obj[]): Obj | undefined {
  const isDefault = (c: Obj) => [DEFAULT_CLASS_ANNOTATION, BETA_DEFAULT_CLASS_ANNOTATION].some((a) => c.metadata?.annotations?.[a] === 'true');
  return classes
    .filter(isDefault)
    .sort((a, b) => byString(String(b.metadata.creationTimestamp), String(a.metadata.creationTimestamp)) || byString(String(a.metadata.name), String(b.metadata.name)))[0];
}

export const persistentVolumeClaimStrategy: Strategy = {
  prepareForCreate(obj) {
    addFinalizer(obj, PVC_PROTECTION_FINALIZER);
  },
  async allocate(obj, ctx) {
    const spec = (obj.spec ??= {});
    if (spec.storageClassName == null) {
      const def = defaultStorageClass(await ctx.list(STORAGECLASSES));
      if (def) spec.storageClassName = def.metadata.name;
    }
    return NOTHING;
  },
  async reallocate(obj, old, ctx) {
    const grown = parseQuantity(obj.spec?.resources?.requests?.storage);
    const was = parseQuantity(old.spec?.resources?.requests?.storage);
    if (!grown || !was || compareQuantity(grown, was) <= 0) return NOTHING;
    const refuse = (why: string) =>
      new ApiError(403, 'Forbidden', `persistentvolumeclaims "${obj.metadata?.name ?? ''}" is forbidden: ${why}`, { name: obj.metadata?.name ?? '', kind: 'persistentvolumeclaims' });
    if (old.status?.phase !== 'Bound') throw refuse('Only bound persistent volume claims can be expanded');
    // allowResize: the same class before and after, and that class says allowVolumeExpansion
    const cls = obj.spec?.storageClassName;
    const sc = cls && cls === old.spec?.storageClassName ? await ctx.lookup(STORAGECLASSES, undefined, cls) : undefined;
    if (sc?.allowVolumeExpansion !== true) throw refuse('only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize');
    return NOTHING;
  },
};

export const persistentVolumeStrategy: Strategy = {
  prepareForCreate(obj) {
    addFinalizer(obj, PV_PROTECTION_FINALIZER);
  },
};
