/**
 * A pod's persistentVolumeClaim volume (or generic ephemeral volume, whose claim is `<pod>-<volume>`
 * and must be owned by the pod): the claim must exist, not be being deleted, and be
 * Bound; its PersistentVolume's hostPath or local path is then the volume, as the kubelet's
 * hostPath and local plugins mount it (bind of that directory; readOnly when the pod's volume
 * says so). The kubelet's messages for a claim it cannot use are kept (desired state of world
 * populator: `error processing PVC default/data: PVC is not bound`), reported as FailedMount
 * and retried, so the pod waits until the claim is bound.
 *
 * A directory the local-path provisioner made holds only what containers wrote: it is not
 * `hostOwned`, so a subPath in it never follows a link (src/kubelet/subpath.ts). An admin's
 * static hostPath/local volume is the admin's path, treated as a hostPath volume is.
 */
import { promises as fsp } from 'node:fs';
import { ANN_PROVISIONED_BY, LOCAL_PATH_PROVISIONER } from '../api/storage.js';
import type { Obj } from '../api/types.js';
import type { KubeletClient } from './client.js';
import { VolumeError } from './volume-error.js';


/** The claim could not be used at all (not a SetUp failure): the kubelet's own wording. */
export class ClaimVolumeError extends VolumeError {
  constructor(volume: string, ns: string, claim: string, why: string) {
    super(volume, why);
    this.message = `Unable to attach or mount volumes: unmounted volumes=[${volume}], failed to process volumes=[${volume}]: error processing PVC ${ns}/${claim}: ${why}`;
  }
}

/** where a claim's volume is: a hostPath (checked by volumes.ts as a hostPath volume) or a local path */
export interface ClaimSource {
  hostPath?: { path: string; type: string };
  localPath: string;
  forceReadOnly: boolean;
  hostOwned: boolean;
}

/** a persistentVolumeClaim volume's claim, or a generic ephemeral volume's (`<pod>-<volume>`, which the pod must own) */
export async function claimVolume(client: KubeletClient, pod: Obj, v: Obj): Promise<ClaimSource> {
  const ns: string = pod.metadata.namespace;
  const name: string = v.persistentVolumeClaim?.claimName ?? `${pod.metadata.name}-${v.name}`;
  const fail = (why: string) => new ClaimVolumeError(v.name, ns, name, why);
  const claim = await client.getPersistentVolumeClaim(ns, name);
  if (!claim) throw fail(`failed to fetch PVC from API server: persistentvolumeclaims "${name}" not found`);
  if (v.ephemeral && !(claim.metadata?.ownerReferences ?? []).some((r: Obj) => r.uid === pod.metadata.uid && r.controller)) {
    throw fail(`PVC ${ns}/${name} was not created for pod ${ns}/${pod.metadata.name} (pod is not owner)`);
  }
  if (claim.metadata?.deletionTimestamp) throw fail("can't start pod because PVC is being deleted");
  const pvName: string | undefined = claim.spec?.volumeName;
  if (!pvName || claim.status?.phase !== 'Bound') throw fail('PVC is not bound');
  const pv = await client.getPersistentVolume(pvName);
  if (!pv) throw fail(`failed to fetch PV ${pvName} from API server: persistentvolumes "${pvName}" not found`);
  const ref = pv.spec?.claimRef;
  if (!ref || ref.uid !== claim.metadata.uid) throw fail(`PV ${pvName} is not bound to this claim (its claimRef names ${ref ? `${ref.namespace}/${ref.name}` : 'none'})`);
  const forceReadOnly = v.persistentVolumeClaim?.readOnly === true;
  const hostOwned = pv.metadata?.annotations?.[ANN_PROVISIONED_BY] !== LOCAL_PATH_PROVISIONER;
  if (pv.spec?.hostPath?.path) {
    return { hostPath: { path: pv.spec.hostPath.path, type: pv.spec.hostPath.type ?? '' }, localPath: pv.spec.hostPath.path, forceReadOnly, hostOwned };
  }
  if (pv.spec?.local?.path) {
    // a local volume's path must exist (the local plugin never creates it)
    const st = await fsp.stat(pv.spec.local.path).catch(() => undefined);
    if (!st) throw new VolumeError(v.name, `path "${pv.spec.local.path}" does not exist`);
    return { localPath: pv.spec.local.path, forceReadOnly, hostOwned };
  }
  const kind = Object.keys(pv.spec ?? {}).find((k) => !['accessModes', 'capacity', 'claimRef', 'mountOptions', 'nodeAffinity', 'persistentVolumeReclaimPolicy', 'storageClassName', 'volumeMode', 'volumeAttributesClassName'].includes(k)) ?? 'unknown';
  throw new VolumeError(v.name, `PersistentVolume "${pvName}" is of type ${kind}, which podbay cannot mount (supported: hostPath, local)`);
}
