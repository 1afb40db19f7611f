/**
 * The pure part of kube-controller-manager's PersistentVolume binder (pkg/controller/volume/
 * persistentvolume/pv_controller.go, index.go): which volume a claim gets, and the objects as
 * binding leaves them. No I/O here; persistentvolume.ts drives it.
 */
import { volumeAllowsNode } from '../api/node-selector.js';
import { bytesValue } from '../api/pod-resources.js';
import { labelSelectorFromObject } from '../api/selectors/labels.js';
import type { Obj } from '../client/types.js';

export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
export { ANN_PROVISIONED_BY, ANN_SELECTED_NODE } from '../api/storage.js';
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';

export const className = (o: Obj): string => o.spec?.storageClassName ?? '';

/** the claim's requested size in bytes */
export const requestedBytes = (claim: Obj): number => bytesValue(claim.spec?.resources?.requests?.storage);

/** IsVolumeBoundToClaim: the volume's claimRef names this claim (and its uid, when it has one) */
export function volumeBoundToClaim(pv: Obj, claim: Obj): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace) return false;
  return !ref.uid || ref.uid === claim.metadata.uid;
}

/**
 * findMatchingVolume: a volume pre-bound to the claim wins; otherwise the smallest free volume
 * of the claim's class and volume mode that has every access mode asked for, is big enough,
 * matches the claim's selector and (delayed binding) may be used on the selected node.
 */
export function findMatchingVolume(claim: Obj, volumes: readonly Obj[], node?: Obj, delayed = false): Obj | undefined {
  const want = requestedBytes(claim);
  const modes: string[] = claim.spec?.accessModes ?? [];
  const mode = claim.spec?.volumeMode ?? 'Filesystem';
  const selector = claim.spec?.selector ? labelSelectorFromObject(claim.spec.selector) : undefined;
  let best: Obj | undefined;
  for (const pv of volumes) {
    if (pv.metadata.deletionTimestamp) continue;
    if ((pv.spec?.volumeMode ?? 'Filesystem') !== mode) continue;
    if (volumeBoundToClaim(pv, claim)) return pv;
    if (pv.spec?.claimRef) continue;
    if (pv.status?.phase && pv.status.phase !== 'Available' && pv.status.phase !== 'Pending') continue;
    if (className(pv) !== className(claim)) continue;
    if (selector && !selector.matches(pv.metadata.labels ?? {})) continue;
    const has: string[] = pv.spec?.accessModes ?? [];
    if (!modes.every((m) => has.includes(m))) continue;
    const size = bytesValue(pv.spec?.capacity?.storage);
    if (size < want) continue;
    if (delayed && !volumeAllowsNode(pv, node)) continue;
    if (!best || size < bytesValue(best.spec?.capacity?.storage)) best = pv;
  }
  return best;
}

/** the claimRef a binding writes into the volume */
export function claimRefOf(claim: Obj): Obj {
  return { kind: 'PersistentVolumeClaim', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid, apiVersion: 'v1', resourceVersion: claim.metadata.resourceVersion };
}
