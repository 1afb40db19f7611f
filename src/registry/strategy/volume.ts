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
 */
import { resourceInfo } from '../../api/registry.js';
import { BETA_DEFAULT_CLASS_ANNOTATION, DEFAULT_CLASS_ANNOTATION, PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER } from '../../api/storage.js';
import type { Obj } from '../../api/types.js';
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
};

export const persistentVolumeStrategy: Strategy = {
  prepareForCreate(obj) {
    addFinalizer(obj, PV_PROTECTION_FINALIZER);
  },
};
