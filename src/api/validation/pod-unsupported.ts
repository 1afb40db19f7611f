/**
 * PodSpec fields podbay does not implement (yet), refused at create with a 422 naming the field
 * rather than a pod that silently runs without what it asked for. docs/pod-fields.md (the field
 * ledger, src/api/pod-fields.ts) lists each with its reason; its test proves every field marked
 * "refused" there is refused here.
 */
import { forbidden, isObj, obj, arr, str, type ValidationError, type Obj } from './field.js';

/** The volume sources podbay's kubelet sets up (src/kubelet/volumes.ts). */
export const SUPPORTED_VOLUME_SOURCES = ['configMap', 'secret', 'emptyDir', 'hostPath', 'downwardAPI', 'projected', 'persistentVolumeClaim', 'ephemeral'];

/** Every other VolumeSource member, with why podbay cannot provide it. */
export const UNSUPPORTED_VOLUME_SOURCES: Record<string, string> = {
  csi: 'podbay runs no CSI drivers',
  image: 'image volumes (an OCI image mounted as a volume) are not implemented by podbay yet',
  nfs: 'podbay mounts no network filesystems',
  iscsi: 'podbay mounts no network block devices',
  fc: 'podbay mounts no network block devices',
  rbd: 'podbay mounts no network block devices',
  cephfs: 'podbay mounts no network filesystems',
  glusterfs: 'podbay mounts no network filesystems',
  gitRepo: 'gitRepo volumes are deprecated (use an init container that clones into an emptyDir)',
  flexVolume: 'podbay runs no FlexVolume drivers',
  awsElasticBlockStore: 'cloud provider disks are not available on a podbay node',
  azureDisk: 'cloud provider disks are not available on a podbay node',
  azureFile: 'cloud provider disks are not available on a podbay node',
  cinder: 'cloud provider disks are not available on a podbay node',
  gcePersistentDisk: 'cloud provider disks are not available on a podbay node',
  vsphereVolume: 'cloud provider disks are not available on a podbay node',
  photonPersistentDisk: 'this in-tree volume plugin was removed from Kubernetes',
  portworxVolume: 'podbay runs no Portworx driver',
  quobyte: 'this in-tree volume plugin was removed from Kubernetes',
  scaleIO: 'this in-tree volume plugin was removed from Kubernetes',
  storageos: 'this in-tree volume plugin was removed from Kubernetes',
  flocker: 'this in-tree volume plugin was removed from Kubernetes',
};

/** Container fields refused whatever their value (a value that asks for something). */
function containerErrs(c: Obj, p: string): ValidationError[] {
  const errs: ValidationError[] = [];
  if (arr(c.volumeDevices).length) errs.push(forbidden(`${p}.volumeDevices`, 'podbay has no block volumes (they need PersistentVolumeClaims)'));
  if (arr(obj(c.resources).claims).length) errs.push(forbidden(`${p}.resources.claims`, 'podbay does not implement dynamic resource allocation (ResourceClaims)'));
  arr(c.volumeMounts).forEach((m, i) => {
    if (obj(m).recursiveReadOnly === 'Enabled') {
      errs.push(forbidden(`${p}.volumeMounts[${i}].recursiveReadOnly`, 'podbay\'s runtime (runc 1.1) cannot make a mount recursively read-only: use IfPossible or Disabled'));
    }
  });
  if (arr(c.restartPolicyRules).length) errs.push(forbidden(`${p}.restartPolicyRules`, 'podbay does not implement container restart rules (an alpha feature)'));
  if (obj(c.lifecycle).stopSignal !== undefined) errs.push(forbidden(`${p}.lifecycle.stopSignal`, 'podbay does not implement container stop signals (an alpha feature) yet'));
  arr(c.env).forEach((e, i) => {
    if (isObj(obj(obj(e).valueFrom).fileKeyRef)) errs.push(forbidden(`${p}.env[${i}].valueFrom.fileKeyRef`, 'podbay does not implement env values read from files (an alpha feature)'));
  });
  for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const probe = obj(c[kind]);
    if (isObj(probe.grpc)) errs.push(forbidden(`${p}.${kind}.grpc`, 'podbay does not implement gRPC probes yet: use httpGet, tcpSocket or exec'));
    if (str(obj(probe.httpGet).scheme) === 'HTTPS') errs.push(forbidden(`${p}.${kind}.httpGet.scheme`, 'podbay does not implement HTTPS probes yet: use HTTP, tcpSocket or exec'));
  }
  return errs;
}

/** The refusals for a PodSpec at `fldPath`. */
export function validatePodUnsupported(spec: Obj, fldPath = 'spec'): ValidationError[] {
  const errs: ValidationError[] = [];
  if (str(obj(spec.os).name) === 'windows') errs.push(forbidden(`${fldPath}.os.name`, 'podbay runs Linux containers only'));
  if (str(spec.runtimeClassName)) errs.push(forbidden(`${fldPath}.runtimeClassName`, 'podbay has one runtime (runc) and no RuntimeClasses'));
  if (arr(spec.resourceClaims).length) errs.push(forbidden(`${fldPath}.resourceClaims`, 'podbay does not implement dynamic resource allocation (ResourceClaims)'));
  if (isObj(spec.resources)) errs.push(forbidden(`${fldPath}.resources`, 'podbay does not implement pod-level resources (the PodLevelResources feature): set them on the containers'));
  if (arr(spec.readinessGates).length) errs.push(forbidden(`${fldPath}.readinessGates`, 'podbay does not implement pod readiness gates yet'));
  if (arr(spec.topologySpreadConstraints).length) errs.push(forbidden(`${fldPath}.topologySpreadConstraints`, 'podbay\'s scheduler does not implement topology spread constraints yet'));
  if (str(spec.hostnameOverride)) errs.push(forbidden(`${fldPath}.hostnameOverride`, 'podbay does not implement hostnameOverride (an alpha feature): use hostname and subdomain'));
  if (isObj(spec.schedulingGroup)) errs.push(forbidden(`${fldPath}.schedulingGroup`, 'podbay\'s scheduler does not implement gang scheduling (an alpha feature)'));
  arr(spec.volumes).forEach((v, i) => {
    arr(obj(obj(v).projected).sources).forEach((src, j) => {
      const at = `${fldPath}.volumes[${i}].projected.sources[${j}]`;
      if (obj(src).clusterTrustBundle !== undefined) errs.push(forbidden(`${at}.clusterTrustBundle`, 'podbay serves no ClusterTrustBundles'));
      if (obj(src).podCertificate !== undefined) errs.push(forbidden(`${at}.podCertificate`, 'podbay issues no pod certificates (an alpha feature)'));
    });
    for (const [member, why] of Object.entries(UNSUPPORTED_VOLUME_SOURCES)) {
      if (obj(v)[member] !== undefined && obj(v)[member] !== null) errs.push(forbidden(`${fldPath}.volumes[${i}].${member}`, `podbay does not support ${member} volumes: ${why}`));
    }
  });
  for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
    arr(spec[list]).forEach((c, i) => errs.push(...containerErrs(obj(c), `${fldPath}.${list}[${i}]`)));
  }
  return errs;
}
