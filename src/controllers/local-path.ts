/**
 * The local-path provisioner, as k3s ships rancher's local-path-provisioner: the default
 * StorageClass `local-path` (provisioner rancher.io/local-path, WaitForFirstConsumer, reclaim
 * Delete), and for each claim of that class, once the scheduler has picked the node (annotation
 * volume.kubernetes.io/selected-node), a directory `<dir>/pvc-<uid>_<namespace>_<claim>` made
 * 0777 and a hostPath PersistentVolume `pvc-<uid>` pre-bound to the claim and tied to the node.
 * When such a volume is Released with reclaim Delete, its directory is removed (never following
 * a link a container made: src/sys/safe-remove.ts) and then the volume object.
 *
 * A volume is only ever removed from disk when its path is a direct child of `dir` named as
 * this provisioner names them: a PersistentVolume anyone can write (annotation included) never
 * makes podbay delete another host path.
 */
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Obj } from '../client/types.js';
import { mountsUnder, readMountinfoAsync } from '../sys/mountinfo.js';
import { removeTreeUnder } from '../sys/safe-remove.js';
import { ANN_PROVISIONED_BY, ANN_SELECTED_NODE, DEFAULT_CLASS_ANNOTATION, LOCAL_PATH_PROVISIONER } from '../api/storage.js';
import { claimRefOf } from './volume-binding.js';

export { LOCAL_PATH_PROVISIONER };
export const LOCAL_PATH_CLASS = 'local-path';
const ANN_LOCAL_NODE = 'local.path.provisioner/selected-node';
const DIR_NAME_RE = /^pvc-[0-9a-f-]{36}_[a-z0-9][-a-z0-9.]*_[a-z0-9][-a-z0-9.]*$/;

/** the StorageClass k3s ships (its manifests/local-storage.yaml) */
/**
 * `nodeName`: where the provisioner runs. k3s's local-path provisioner makes a volume on any
 * node (through a helper pod there); podbay's makes directories on its own node only, so the
 * class allows that node alone and the scheduler takes a pod with such a claim there.
 */
export function localPathStorageClass(nodeName?: string): Obj {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: LOCAL_PATH_CLASS, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    volumeBindingMode: 'WaitForFirstConsumer',
    reclaimPolicy: 'Delete',
    ...(nodeName ? { allowedTopologies: [{ matchLabelExpressions: [{ key: 'kubernetes.io/hostname', values: [nodeName] }] }] } : {}),
  };
}

/** Why this provisioner cannot make a volume for the claim (a ProvisioningFailed message), or undefined. */
export function cannotProvision(claim: Obj): string | undefined {
  if (claim.spec?.selector) return 'claim.Spec.Selector is not supported';
  if ((claim.spec?.volumeMode ?? 'Filesystem') !== 'Filesystem') return 'Only support Filesystem volume mode';
  const bad = (claim.spec?.accessModes ?? []).filter((m: string) => m !== 'ReadWriteOnce' && m !== 'ReadWriteOncePod');
  if (bad.length) return `NodePath only supports ReadWriteOnce and ReadWriteOncePod (RWOP) access modes, not ${bad.join(', ')}`;
  return undefined;
}

/** the directory name and the PersistentVolume for a claim provisioned on `node` under `dir` */
export function localPathVolume(claim: Obj, sc: Obj, dir: string, node: string): { path: string; pv: Obj } {
  const name = `pvc-${claim.metadata.uid}`;
  const path = join(dir, `${name}_${claim.metadata.namespace}_${claim.metadata.name}`);
  return {
    path,
    pv: {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name, annotations: { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER, [ANN_LOCAL_NODE]: node } },
      spec: {
        accessModes: [...(claim.spec?.accessModes ?? ['ReadWriteOnce'])],
        capacity: { storage: claim.spec?.resources?.requests?.storage },
        claimRef: claimRefOf(claim),
        hostPath: { path, type: 'DirectoryOrCreate' },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
        persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
        storageClassName: sc.metadata.name,
        volumeMode: 'Filesystem',
      },
    },
  };
}

/** the node a claim waits for (delayed binding), or undefined */
export const selectedNode = (claim: Obj): string | undefined => claim.metadata.annotations?.[ANN_SELECTED_NODE];

/**
 * The directory name of a volume this provisioner made under `dir`, or why it will not touch it.
 */
export function ownedDirName(pv: Obj, dir: string): { name: string } | { refused: string } {
  const path: unknown = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
  if (typeof path !== 'string') return { refused: 'the volume has no hostPath or local path' };
  const name = basename(path);
  if (dirname(path) !== dir || !DIR_NAME_RE.test(name) || !name.startsWith(`${pv.metadata.name}_`)) {
    return { refused: `${path} is not a directory this provisioner made under ${dir}` };
  }
  return { name };
}

export class LocalPathStorage {
  constructor(readonly dir: string) {}

  /** make the claim's directory 0777 (as k3s's helper pod does: mkdir -m 0777 -p) */
  async make(path: string): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(path, { mode: 0o777 }).catch((e) => {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    });
    await fsp.chmod(path, 0o777);
  }

  /** remove a Released volume's directory; throws with why when it cannot */
  async remove(pv: Obj): Promise<void> {
    const owned = ownedDirName(pv, this.dir);
    if ('refused' in owned) throw new Error(owned.refused);
    const path = join(this.dir, owned.name);
    const mounted = mountsUnder(path, await readMountinfoAsync());
    if (mounted.length) throw new Error(`${path} is still mounted (${mounted.join(', ')})`);
    await removeTreeUnder(this.dir, owned.name);
  }
}
