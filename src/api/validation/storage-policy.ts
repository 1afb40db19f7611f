/**
 * Validation of the small kinds served beside the workloads, after kube-apiserver's
 * pkg/apis/core/validation (PersistentVolume, PersistentVolumeClaim, ServiceAccount),
 * pkg/apis/storage/validation (StorageClass), pkg/apis/policy/validation
 * (PodDisruptionBudget) and pkg/apis/coordination/validation (Lease). Objects are defaulted
 * first (../defaults/workloads.ts).
 */
import { type Obj, type ValidationError, arr, forbidden, invalid, isObj, key, nonNegative, notSupported, obj, required, semanticEqual, str } from './field.js';
import { FIELD_IMMUTABLE, validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { compareQuantity, parseQuantity } from './quantity.js';
import { validateLabelSelector } from './label-selector.js';

type Errs = ValidationError[];

const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const VOLUME_MODES = ['Block', 'Filesystem'];

function validateAccessModes(modes: unknown, fldPath: string): Errs {
  const list = arr(modes);
  if (list.length === 0) return [required(fldPath, 'at least 1 access mode is required')];
  const errs: Errs = [];
  for (const m of list) if (!ACCESS_MODES.includes(str(m))) errs.push(notSupported(fldPath, m, ACCESS_MODES));
  if (list.includes('ReadWriteOncePod') && list.length > 1) errs.push(forbidden(fldPath, 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

function validateStorageQuantity(list: unknown, fldPath: string): Errs {
  const storage = obj(list).storage;
  if (storage === undefined) return [required(key(fldPath, 'storage'), '')];
  const q = parseQuantity(storage);
  if (!q) return [invalid(key(fldPath, 'storage'), storage, 'quantities must match the regular expression')];
  if (q.num <= 0n) return [invalid(key(fldPath, 'storage'), storage, 'must be greater than zero')];
  return [];
}

// ---------------------------------------------------------------- PersistentVolume(Claim)

/** the volume source members a PersistentVolumeSpec may carry (exactly one) */
const PV_SOURCES = [
  'awsElasticBlockStore', 'azureDisk', 'azureFile', 'cephfs', 'cinder', 'csi', 'fc', 'flexVolume', 'flocker',
  'gcePersistentDisk', 'glusterfs', 'hostPath', 'iscsi', 'local', 'nfs', 'photonPersistentDisk', 'portworxVolume',
  'quobyte', 'rbd', 'scaleIO', 'storageos', 'vsphereVolume',
];

export function validatePersistentVolume(pv: Obj): Errs {
  const errs = validateObjectMeta(pv.metadata, false, 'dns1123-subdomain');
  const s = obj(pv.spec);
  errs.push(...validateAccessModes(s.accessModes, 'spec.accessModes'));
  if (!isObj(s.capacity)) errs.push(required('spec.capacity', ''));
  else errs.push(...validateStorageQuantity(s.capacity, 'spec.capacity'));
  const sources = PV_SOURCES.filter((m) => s[m] != null);
  if (sources.length === 0) errs.push(required('spec', 'must specify a volume type'));
  else if (sources.length > 1) errs.push(forbidden(`spec.${sources[1]}`, 'may not specify more than 1 volume type'));
  const rp = s.persistentVolumeReclaimPolicy;
  if (!['Delete', 'Recycle', 'Retain'].includes(str(rp))) errs.push(notSupported('spec.persistentVolumeReclaimPolicy', rp, ['Delete', 'Recycle', 'Retain']));
  if (!VOLUME_MODES.includes(str(s.volumeMode))) errs.push(notSupported('spec.volumeMode', s.volumeMode, VOLUME_MODES));
  if (isObj(s.hostPath) && !str(s.hostPath.path)) errs.push(required('spec.hostPath.path', ''));
  if (isObj(s.local) && !str(s.local.path)) errs.push(required('spec.local.path', ''));
  return errs;
}

export function validatePersistentVolumeUpdate(n: Obj, o: Obj): Errs {
  const errs = [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validatePersistentVolume({ ...n, metadata: { name: 'x' } })];
  if (!semanticEqual(obj(n.spec).volumeMode, obj(o.spec).volumeMode)) errs.push(invalid('spec.volumeMode', obj(n.spec).volumeMode ?? null, FIELD_IMMUTABLE));
  return errs;
}

export function validatePersistentVolumeClaimSpec(s: Obj, fldPath = 'spec'): Errs {
  const errs = [...validateAccessModes(s.accessModes, `${fldPath}.accessModes`)];
  errs.push(...validateLabelSelector(s.selector, `${fldPath}.selector`));
  errs.push(...validateStorageQuantity(obj(s.resources).requests, `${fldPath}.resources`));
  if (s.volumeMode != null && !VOLUME_MODES.includes(str(s.volumeMode))) errs.push(notSupported(`${fldPath}.volumeMode`, s.volumeMode, VOLUME_MODES));
  return errs;
}

export function validatePersistentVolumeClaim(pvc: Obj): Errs {
  return [...validateObjectMeta(pvc.metadata, true, 'dns1123-subdomain'), ...validatePersistentVolumeClaimSpec(obj(pvc.spec))];
}

export function validatePersistentVolumeClaimUpdate(n: Obj, o: Obj): Errs {
  const errs = [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validatePersistentVolumeClaimSpec(obj(n.spec))];
  // ValidatePersistentVolumeClaimUpdate: the spec is immutable, but for a bound claim its storage
  // request and volumeAttributesClassName (the claim's new status says it is bound, as upstream reads it)
  const bound = obj(n.status).phase === 'Bound';
  const oldSpec = obj(o.spec);
  const strip = (s: unknown) => {
    const c = { ...obj(s) };
    if (bound) {
      const requests = { ...obj(obj(c.resources).requests) };
      if (oldSpec.resources?.requests?.storage === undefined) delete requests.storage;
      else requests.storage = oldSpec.resources.requests.storage;
      c.resources = { ...obj(c.resources), requests };
      c.volumeAttributesClassName = oldSpec.volumeAttributesClassName;
    }
    return c;
  };
  const old = { ...oldSpec };
  // the PV controller sets volumeName once (binding), and a claim without a class may be given
  // the default one afterwards (retroactive default StorageClass assignment), as upstream allows
  if (!str(old.volumeName) && obj(n.spec).volumeName !== undefined) old.volumeName = obj(n.spec).volumeName;
  if (old.storageClassName == null && obj(n.spec).storageClassName != null) old.storageClassName = obj(n.spec).storageClassName;
  if (!semanticEqual(strip(n.spec), strip(old))) {
    errs.push(forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  }
  // a smaller request (RecoverVolumeExpansionFailure, on since 1.32): never down to what the volume already has
  const newSize = parseQuantity(obj(n.spec).resources?.requests?.storage);
  const oldSize = parseQuantity(oldSpec.resources?.requests?.storage);
  if (newSize && oldSize && compareQuantity(newSize, oldSize) < 0) {
    const capacity = parseQuantity(obj(o.status).capacity?.storage ?? '0');
    if (capacity && compareQuantity(newSize, capacity) <= 0) errs.push(forbidden('spec.resources.requests.storage', 'field can not be less than status.capacity'));
  }
  return errs;
}

// ---------------------------------------------------------------- StorageClass

export function validateStorageClass(sc: Obj): Errs {
  const errs = validateObjectMeta(sc.metadata, false, 'dns1123-subdomain');
  if (!str(sc.provisioner)) errs.push(required('provisioner', ''));
  if (!['Delete', 'Retain'].includes(str(sc.reclaimPolicy))) errs.push(notSupported('reclaimPolicy', sc.reclaimPolicy, ['Delete', 'Retain']));
  if (!['Immediate', 'WaitForFirstConsumer'].includes(str(sc.volumeBindingMode))) {
    errs.push(notSupported('volumeBindingMode', sc.volumeBindingMode, ['Immediate', 'WaitForFirstConsumer']));
  }
  return errs;
}

export function validateStorageClassUpdate(n: Obj, o: Obj): Errs {
  const errs = [...validateObjectMetaUpdate(n.metadata, o.metadata)];
  if (!semanticEqual(n.parameters, o.parameters)) errs.push(forbidden('parameters', 'updates to parameters are forbidden.'));
  if (n.provisioner !== o.provisioner) errs.push(forbidden('provisioner', 'updates to provisioner are forbidden.'));
  if (n.reclaimPolicy !== o.reclaimPolicy) errs.push(forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
  if (n.volumeBindingMode !== o.volumeBindingMode) errs.push(forbidden('volumeBindingMode', 'field is immutable'));
  return errs;
}

// ---------------------------------------------------------------- PodDisruptionBudget

function pdbIntOrPercent(v: unknown, fldPath: string): Errs {
  if (v == null) return [];
  if (typeof v === 'string') {
    const m = /^([0-9]+)%$/.exec(v);
    if (!m) return [invalid(fldPath, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")];
    if (Number(m[1]) > 100) return [invalid(fldPath, v, 'must not be greater than 100%')];
    return [];
  }
  return nonNegative(v, fldPath);
}

export function validatePodDisruptionBudget(pdb: Obj): Errs {
  const errs = validateObjectMeta(pdb.metadata, true, 'dns1123-subdomain');
  const s = obj(pdb.spec);
  if (s.minAvailable != null && s.maxUnavailable != null) errs.push(invalid('spec', s, 'minAvailable and maxUnavailable cannot be both set'));
  errs.push(...pdbIntOrPercent(s.minAvailable, 'spec.minAvailable'), ...pdbIntOrPercent(s.maxUnavailable, 'spec.maxUnavailable'));
  errs.push(...validateLabelSelector(s.selector, 'spec.selector'));
  const policy = s.unhealthyPodEvictionPolicy;
  if (policy != null && policy !== 'IfHealthyBudget' && policy !== 'AlwaysAllow') {
    errs.push(notSupported('spec.unhealthyPodEvictionPolicy', policy, ['AlwaysAllow', 'IfHealthyBudget']));
  }
  return errs;
}

export function validatePodDisruptionBudgetUpdate(n: Obj, o: Obj): Errs {
  return [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validatePodDisruptionBudget({ ...n, metadata: { name: 'x', namespace: 'x' } })];
}

// ---------------------------------------------------------------- Lease, ServiceAccount

export function validateLease(lease: Obj): Errs {
  const errs = validateObjectMeta(lease.metadata, true, 'dns1123-subdomain');
  const s = obj(lease.spec);
  if (typeof s.leaseDurationSeconds === 'number' && s.leaseDurationSeconds <= 0) {
    errs.push(invalid('spec.leaseDurationSeconds', s.leaseDurationSeconds, 'must be greater than 0'));
  }
  errs.push(...nonNegative(s.leaseTransitions, 'spec.leaseTransitions'));
  return errs;
}

export function validateLeaseUpdate(n: Obj, o: Obj): Errs {
  return [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateLease({ ...n, metadata: { name: 'x', namespace: 'x' } })];
}

export function validateServiceAccount(sa: Obj): Errs {
  return validateObjectMeta(sa.metadata, true, 'dns1123-subdomain');
}

export function validateServiceAccountUpdate(n: Obj, o: Obj): Errs {
  return validateObjectMetaUpdate(n.metadata, o.metadata);
}
