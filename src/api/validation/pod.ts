/**
 * Pod validation after pkg/apis/core/validation/validation.go: ValidatePodCreate,
 * ValidatePodUpdate, ValidatePodStatusUpdate, ValidatePodBinding. Objects are the v1 JSON
 * shape, already defaulted (see ../defaults).
 */
import { validatePersistentVolumeClaimSpec } from './storage-policy.js';
import {
  type Obj,
  type ValidationError,
  arr,
  duplicate,
  forbidden,
  invalid,
  isObj,
  key,
  nonNegative,
  notFound,
  notSupported,
  obj,
  required,
  semanticEqual,
  str,
} from './field.js';
import { FIELD_IMMUTABLE, validateLabels, validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import {
  INVALID_IP_MESSAGE,
  inclusiveRangeError,
  ipFamily,
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isHTTPHeaderName,
  isQualifiedName,
  isRelaxedEnvVarName,
  isValidGroupID,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  isValidUserID,
} from './names.js';
import { validateResourceRequirements } from './resources.js';
import { validatePodSecurity, validatePodSecurityAnnotations } from './pod-security.js';
import { validatePodUnsupported } from './pod-unsupported.js';

const MAX_INT32 = 2147483647;
const FILE_MODE_ERROR = 'must be a number between 0 and 0777 (octal), both inclusive';

/** Every v1 VolumeSource member, in upstream's checking order, with the path name upstream uses in "more than 1" errors. */
export const VOLUME_SOURCES: ReadonlyArray<readonly [string, string]> = [
  ['emptyDir', 'emptyDir'],
  ['hostPath', 'hostPath'],
  ['gitRepo', 'gitRepo'],
  ['gcePersistentDisk', 'gcePersistentDisk'],
  ['awsElasticBlockStore', 'awsElasticBlockStore'],
  ['secret', 'secret'],
  ['nfs', 'nfs'],
  ['iscsi', 'iscsi'],
  ['glusterfs', 'glusterfs'],
  ['flocker', 'flocker'],
  ['persistentVolumeClaim', 'persistentVolumeClaim'],
  ['rbd', 'rbd'],
  ['cinder', 'cinder'],
  ['cephfs', 'cephFS'],
  ['quobyte', 'quobyte'],
  ['downwardAPI', 'downwarAPI'], // sic, upstream's path
  ['fc', 'fc'],
  ['flexVolume', 'flexVolume'],
  ['configMap', 'configMap'],
  ['azureFile', 'azureFile'],
  ['vsphereVolume', 'vsphereVolume'],
  ['photonPersistentDisk', 'photonPersistentDisk'],
  ['portworxVolume', 'portworxVolume'],
  ['azureDisk', 'azureDisk'],
  ['storageos', 'storageos'],
  ['projected', 'projected'],
  ['scaleIO', 'scaleIO'],
  ['csi', 'csi'],
  ['ephemeral', 'ephemeral'],
  ['image', 'image'],
];

const PORT_PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];
const HOST_PATH_TYPES = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];
const MOUNT_PROPAGATIONS = ['Bidirectional', 'HostToContainer', 'None'];
const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** Field paths a downward-API env var may reference (validEnvDownwardAPIFieldPathExpressions, sorted). */
const ENV_FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const VOLUME_FIELD_PATHS = ['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid'];
/** Field labels v1 pods can be converted with (ConvertDownwardAPIFieldLabel). */
const CONVERTIBLE_FIELD_PATHS = new Set([
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.serviceAccountName',
  'spec.schedulerName',
  'status.phase',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
]);
const RESOURCE_FIELD_PATHS = [
  'limits.cpu',
  'limits.ephemeral-storage',
  'limits.memory',
  'requests.cpu',
  'requests.ephemeral-storage',
  'requests.memory',
];

// ---------------------------------------------------------------- paths

function validateLocalDescendingPath(target: string, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  if (target.startsWith('/')) errs.push(invalid(fldPath, target, 'must be a relative path'));
  errs.push(...validatePathNoBacksteps(target, fldPath));
  return errs;
}

function validatePathNoBacksteps(target: string, fldPath: string): ValidationError[] {
  return target.split('/').includes('..') ? [invalid(fldPath, target, "must not contain '..'")] : [];
}

function validateLocalNonReservedPath(target: string, fldPath: string): ValidationError[] {
  const errs = validateLocalDescendingPath(target, fldPath);
  if (target.startsWith('..') && !target.startsWith('../')) errs.push(invalid(fldPath, target, "must not start with '..'"));
  return errs;
}

function validateMode(mode: unknown, fldPath: string): ValidationError[] {
  return typeof mode === 'number' && (mode > 0o777 || mode < 0) ? [invalid(fldPath, mode, FILE_MODE_ERROR)] : [];
}

// ---------------------------------------------------------------- volumes

function validateKeyToPath(kp: Obj, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  if (!str(kp.key)) errs.push(required(`${fldPath}.key`));
  if (!str(kp.path)) errs.push(required(`${fldPath}.path`));
  errs.push(...validateLocalNonReservedPath(str(kp.path), `${fldPath}.path`));
  errs.push(...validateMode(kp.mode, `${fldPath}.mode`));
  return errs;
}

function validateObjectFieldSelector(fs: Obj, allowed: readonly string[], fldPath: string): ValidationError[] {
  if (!str(fs.apiVersion)) return [required(`${fldPath}.apiVersion`)];
  const fieldPath = str(fs.fieldPath);
  if (!fieldPath) return [required(`${fldPath}.fieldPath`)];
  if (fs.apiVersion !== 'v1') {
    return [invalid(`${fldPath}.fieldPath`, fieldPath, `error converting fieldPath: unsupported pod version: ${fs.apiVersion}`)];
  }
  const sub = /^(metadata\.(?:annotations|labels))\['(.*)'\]$/.exec(fieldPath);
  if (sub) {
    const k = sub[1] === 'metadata.annotations' ? sub[2].toLowerCase() : sub[2];
    return isQualifiedName(k).map((msg) => invalid(fldPath, k, msg));
  }
  if (!CONVERTIBLE_FIELD_PATHS.has(fieldPath)) {
    return [invalid(`${fldPath}.fieldPath`, fieldPath, `error converting fieldPath: field label not supported: ${fieldPath}`)];
  }
  if (!allowed.includes(fieldPath)) return [notSupported(`${fldPath}.fieldPath`, fieldPath, allowed)];
  return [];
}

function validateResourceFieldSelector(fs: Obj, fldPath: string, volume: boolean): ValidationError[] {
  if (volume && !str(fs.containerName)) return [required(`${fldPath}.containerName`)];
  const resource = str(fs.resource);
  if (!resource) return [required(`${fldPath}.resource`)];
  if (!RESOURCE_FIELD_PATHS.includes(resource) && !/^(requests|limits)\.hugepages-/.test(resource)) {
    return [notSupported(`${fldPath}.resource`, resource, RESOURCE_FIELD_PATHS)];
  }
  return [];
}

function validateDownwardAPIFile(file: Obj, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  if (!str(file.path)) errs.push(required(`${fldPath}.path`));
  errs.push(...validateLocalNonReservedPath(str(file.path), `${fldPath}.path`));
  if (isObj(file.fieldRef)) {
    errs.push(...validateObjectFieldSelector(file.fieldRef, VOLUME_FIELD_PATHS, `${fldPath}.fieldRef`));
    if (isObj(file.resourceFieldRef)) {
      errs.push(invalid(fldPath, 'resource', 'fieldRef and resourceFieldRef can not be specified simultaneously'));
    }
  } else if (isObj(file.resourceFieldRef)) {
    errs.push(...validateResourceFieldSelector(file.resourceFieldRef, `${fldPath}.resourceFieldRef`, true));
  } else {
    errs.push(required(fldPath, 'one of fieldRef and resourceFieldRef is required'));
  }
  errs.push(...validateMode(file.mode, `${fldPath}.mode`));
  return errs;
}

function validateVolumeSource(vol: Obj, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  let count = 0;
  for (const [member, pathName] of VOLUME_SOURCES) {
    const src = vol[member];
    if (src === undefined || src === null) continue;
    if (count > 0) {
      errs.push(forbidden(`${fldPath}.${pathName}`, 'may not specify more than 1 volume type'));
      continue;
    }
    count++;
    errs.push(...validateOneVolumeSource(member, obj(src), `${fldPath}.${member}`));
  }
  if (count === 0) errs.push(required(fldPath, 'must specify a volume type'));
  return errs;
}

function validateOneVolumeSource(member: string, src: Obj, p: string): ValidationError[] {
  const errs: ValidationError[] = [];
  switch (member) {
    case 'hostPath': {
      if (!str(src.path)) return [required(`${p}.path`)];
      errs.push(...validatePathNoBacksteps(str(src.path), `${p}.path`));
      if (typeof src.type === 'string' && !HOST_PATH_TYPES.includes(src.type)) errs.push(notSupported(`${p}.type`, src.type, HOST_PATH_TYPES));
      break;
    }
    case 'secret':
      if (!str(src.secretName)) errs.push(required(`${p}.secretName`));
      errs.push(...validateMode(src.defaultMode, `${p}.defaultMode`));
      arr(src.items).forEach((kp, i) => errs.push(...validateKeyToPath(obj(kp), `${p}.items[${i}]`)));
      break;
    case 'configMap':
      if (!str(src.name)) errs.push(required(`${p}.name`));
      errs.push(...validateMode(src.defaultMode, `${p}.defaultMode`));
      arr(src.items).forEach((kp, i) => errs.push(...validateKeyToPath(obj(kp), `${p}.items[${i}]`)));
      break;
    case 'persistentVolumeClaim':
      if (!str(src.claimName)) errs.push(required(`${p}.claimName`));
      break;
    case 'ephemeral':
      // validateEphemeralVolumeSource: a template whose spec is a claim's
      if (!isObj(src.volumeClaimTemplate)) errs.push(required(`${p}.volumeClaimTemplate`));
      else errs.push(...validatePersistentVolumeClaimSpec(obj(src.volumeClaimTemplate.spec), `${p}.volumeClaimTemplate.spec`));
      break;
    case 'nfs':
      if (!str(src.server)) errs.push(required(`${p}.server`));
      if (!str(src.path)) errs.push(required(`${p}.path`));
      if (!str(src.path).startsWith('/')) errs.push(invalid(`${p}.path`, str(src.path), 'must be an absolute path'));
      break;
    case 'downwardAPI':
      errs.push(...validateMode(src.defaultMode, `${p}.defaultMode`));
      for (const f of arr(src.items)) errs.push(...validateDownwardAPIFile(obj(f), p));
      break;
    case 'projected':
      errs.push(...validateMode(src.defaultMode, `${p}.defaultMode`));
      errs.push(...validateProjectionSources(src, p));
      break;
    case 'gitRepo':
      if (!str(src.repository)) errs.push(required(`${p}.repository`));
      errs.push(...validateLocalDescendingPath(str(src.directory), `${p}.directory`));
      break;
    case 'csi':
      if (!str(src.driver)) errs.push(required(`${p}.driver`));
      break;
    case 'emptyDir':
      // a negative sizeLimit fails quantity validation at decode time upstream
      break;
  }
  return errs;
}

function validateProjectionSources(projection: Obj, p: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const allPaths = new Set<string>();
  const addPath = (path: string, value: unknown) => {
    if (!path) return;
    if (allPaths.has(path)) errs.push(invalid(p, value, 'conflicting duplicate paths'));
    else allPaths.add(path);
  };
  arr(projection.sources).forEach((s0, i) => {
    const s = obj(s0);
    const srcPath = `${p}.sources[${i}]`;
    let n = 0;
    for (const kind of ['secret', 'configMap'] as const) {
      if (!isObj(s[kind])) continue;
      n++;
      if (!str(s[kind].name)) errs.push(required(`${srcPath}.${kind}.name`));
      arr(s[kind].items).forEach((kp, j) => {
        errs.push(...validateKeyToPath(obj(kp), `${srcPath}.${kind}.items[${j}]`));
        addPath(str(obj(kp).path), str(s[kind].name));
      });
    }
    if (isObj(s.downwardAPI)) {
      n++;
      for (const f of arr(s.downwardAPI.items)) {
        errs.push(...validateDownwardAPIFile(obj(f), `${srcPath}.downwardAPI`));
        addPath(str(obj(f).path), str(obj(f).path));
      }
    }
    if (isObj(s.serviceAccountToken)) {
      n++;
      const t = s.serviceAccountToken;
      const tp = `${srcPath}.serviceAccountToken`;
      if (typeof t.expirationSeconds === 'number' && t.expirationSeconds < 600) {
        errs.push(invalid(`${tp}.expirationSeconds`, t.expirationSeconds, 'may not specify a duration less than 10 minutes'));
      }
      if (typeof t.expirationSeconds === 'number' && t.expirationSeconds > 2 ** 32) {
        errs.push(invalid(`${tp}.expirationSeconds`, t.expirationSeconds, 'may not specify a duration larger than 2^32 seconds'));
      }
      if (!str(t.path)) errs.push(required(`${p}.path`));
      else errs.push(...validateLocalNonReservedPath(str(t.path), `${p}.path`));
    }
    if (isObj(s.clusterTrustBundle)) n++;
    if (n > 1) errs.push(forbidden(srcPath, 'may not specify more than 1 volume type per source'));
  });
  return errs;
}

/** Returns the usable volumes (name -> volume) and the errors; a volume with errors is not usable. */
export function validateVolumes(volumes: unknown, fldPath: string): { vols: Map<string, Obj>; errs: ValidationError[] } {
  const errs: ValidationError[] = [];
  const vols = new Map<string, Obj>();
  arr(volumes).forEach((v0, i) => {
    const vol = obj(v0);
    const idx = `${fldPath}[${i}]`;
    const name = str(vol.name);
    const el = validateVolumeSource(vol, idx);
    if (!name) el.push(required(`${idx}.name`));
    else el.push(...isDNS1123Label(name).map((msg) => invalid(`${idx}.name`, name, msg)));
    if (vols.has(name)) el.push(duplicate(`${idx}.name`, name));
    if (el.length === 0) vols.set(name, vol);
    else errs.push(...el);
  });
  return { vols, errs };
}

// ---------------------------------------------------------------- containers

function validateContainerPorts(ports: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const names = new Set<string>();
  arr(ports).forEach((p0, i) => {
    const port = obj(p0);
    const idx = `${fldPath}[${i}]`;
    const name = str(port.name);
    if (name) {
      const msgs = isValidPortName(name);
      if (msgs.length) errs.push(...msgs.map((m) => invalid(`${idx}.name`, name, m)));
      else if (names.has(name)) errs.push(duplicate(`${idx}.name`, name));
      else names.add(name);
    }
    if (!port.containerPort) errs.push(required(`${idx}.containerPort`));
    else errs.push(...isValidPortNum(port.containerPort).map((m) => invalid(`${idx}.containerPort`, port.containerPort, m)));
    if (port.hostPort) errs.push(...isValidPortNum(port.hostPort).map((m) => invalid(`${idx}.hostPort`, port.hostPort, m)));
    const protocol = str(port.protocol);
    if (!protocol) errs.push(required(`${idx}.protocol`));
    else if (!PORT_PROTOCOLS.includes(protocol)) errs.push(notSupported(`${idx}.protocol`, protocol, PORT_PROTOCOLS));
  });
  return errs;
}

function validateConfigMapOrSecretKeySelector(s: Obj, fldPath: string): ValidationError[] {
  const errs = isDNS1123Subdomain(str(s.name)).map((m) => invalid(`${fldPath}.name`, str(s.name), m));
  if (!str(s.key)) errs.push(required(`${fldPath}.key`));
  else errs.push(...isConfigMapKey(str(s.key)).map((m) => invalid(`${fldPath}.key`, s.key, m)));
  return errs;
}

function validateEnvVarValueFrom(ev: Obj, fldPath: string): ValidationError[] {
  if (!isObj(ev.valueFrom)) return [];
  const vf = ev.valueFrom;
  const errs: ValidationError[] = [];
  let n = 0;
  if (isObj(vf.fieldRef)) {
    n++;
    errs.push(...validateObjectFieldSelector(vf.fieldRef, ENV_FIELD_PATHS, `${fldPath}.fieldRef`));
  }
  if (isObj(vf.resourceFieldRef)) {
    n++;
    errs.push(...validateResourceFieldSelector(vf.resourceFieldRef, `${fldPath}.resourceFieldRef`, false));
  }
  if (isObj(vf.configMapKeyRef)) {
    n++;
    errs.push(...validateConfigMapOrSecretKeySelector(vf.configMapKeyRef, `${fldPath}.configMapKeyRef`));
  }
  if (isObj(vf.secretKeyRef)) {
    n++;
    errs.push(...validateConfigMapOrSecretKeySelector(vf.secretKeyRef, `${fldPath}.secretKeyRef`));
  }
  if (n === 0) {
    errs.push(invalid(fldPath, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
  } else if (str(ev.value)) {
    errs.push(invalid(fldPath, '', 'may not be specified when `value` is not empty'));
  } else if (n > 1) {
    errs.push(invalid(fldPath, '', 'may not have more than one field specified at a time'));
  }
  return errs;
}

function validateEnv(env: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  arr(env).forEach((e0, i) => {
    const ev = obj(e0);
    const idx = `${fldPath}[${i}]`;
    const name = str(ev.name);
    if (!name) errs.push(required(`${idx}.name`));
    else errs.push(...isRelaxedEnvVarName(name).map((m) => invalid(`${idx}.name`, name, m)));
    errs.push(...validateEnvVarValueFrom(ev, `${idx}.valueFrom`));
  });
  return errs;
}

function validateEnvFrom(envFrom: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  arr(envFrom).forEach((e0, i) => {
    const ef = obj(e0);
    const idx = `${fldPath}[${i}]`;
    if (str(ef.prefix)) errs.push(...isRelaxedEnvVarName(ef.prefix).map((m) => invalid(`${idx}.prefix`, ef.prefix, m)));
    let n = 0;
    for (const kind of ['configMapRef', 'secretRef'] as const) {
      if (!isObj(ef[kind])) continue;
      n++;
      const name = str(ef[kind].name);
      if (!name) errs.push(required(`${idx}.${kind}.name`));
      else errs.push(...isDNS1123Subdomain(maskTrailingDash(name)).map((m) => invalid(`${idx}.${kind}.name`, name, m)));
    }
    if (n === 0) errs.push(invalid(fldPath, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (n > 1) errs.push(invalid(fldPath, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function maskTrailingDash(name: string): string {
  return name.length > 1 && name.endsWith('-') ? name.slice(0, -2) + 'a' : name;
}

function validateVolumeMounts(ctr: Obj, vols: Map<string, Obj>, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const mountPoints = new Set<string>();
  const devices = new Map(arr(ctr.volumeDevices).map((d) => [str(obj(d).name), str(obj(d).devicePath)] as const));
  const devicePaths = new Set(devices.values());
  const privileged = obj(ctr.securityContext).privileged === true;
  arr(ctr.volumeMounts).forEach((m0, i) => {
    const mnt = obj(m0);
    const idx = `${fldPath}[${i}]`;
    const name = str(mnt.name);
    const mountPath = str(mnt.mountPath);
    if (!name) errs.push(required(`${idx}.name`));
    if (!vols.has(name)) errs.push(notFound(`${idx}.name`, name));
    if (!mountPath) errs.push(required(`${idx}.mountPath`));
    if (mountPoints.has(mountPath)) errs.push(invalid(`${idx}.mountPath`, mountPath, 'must be unique'));
    mountPoints.add(mountPath);
    if (devices.has(name)) errs.push(invalid(`${idx}.name`, name, 'must not already exist in volumeDevices'));
    if (devicePaths.has(mountPath)) errs.push(invalid(`${idx}.mountPath`, mountPath, 'must not already exist as a path in volumeDevices'));
    // upstream reports subPath problems at `volumeMounts.subPath` (no index)
    if (str(mnt.subPath)) errs.push(...validateLocalDescendingPath(mnt.subPath, `${fldPath}.subPath`));
    if (str(mnt.subPathExpr)) {
      if (str(mnt.subPath)) errs.push(invalid(`${idx}.subPathExpr`, mnt.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
      errs.push(...validateLocalDescendingPath(mnt.subPathExpr, `${fldPath}.subPathExpr`));
    }
    if (typeof mnt.mountPropagation === 'string') {
      const mp = mnt.mountPropagation;
      if (!MOUNT_PROPAGATIONS.includes(mp)) errs.push(notSupported(`${fldPath}.mountPropagation`, mp, MOUNT_PROPAGATIONS));
      if (mp === 'Bidirectional' && !privileged) {
        errs.push(forbidden(`${fldPath}.mountPropagation`, 'Bidirectional mount propagation is available only to privileged containers'));
      }
    }
  });
  return errs;
}

function validateVolumeDevices(ctr: Obj, vols: Map<string, Obj>, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const mounts = new Map(arr(ctr.volumeMounts).map((m) => [str(obj(m).name), str(obj(m).mountPath)] as const));
  const mountPaths = new Set(mounts.values());
  const names = new Set<string>();
  const paths = new Set<string>();
  arr(ctr.volumeDevices).forEach((d0, i) => {
    const dev = obj(d0);
    const idx = `${fldPath}[${i}]`;
    const name = str(dev.name);
    const devicePath = str(dev.devicePath);
    const vol = vols.get(name);
    if (!name) errs.push(required(`${idx}.name`));
    if (names.has(name)) errs.push(invalid(`${idx}.name`, name, 'must be unique'));
    if (vol && !isObj(vol.persistentVolumeClaim) && !isObj(vol.ephemeral)) {
      errs.push(invalid(`${idx}.name`, name, 'can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode'));
    }
    if (!vol) errs.push(notFound(`${idx}.name`, name));
    if (!devicePath) errs.push(required(`${idx}.devicePath`));
    if (paths.has(devicePath)) errs.push(invalid(`${idx}.devicePath`, devicePath, 'must be unique'));
    if (devicePath && devicePath.split('/').includes('..')) errs.push(invalid(`${idx}.devicePath`, devicePath, "can not contain backsteps ('..')"));
    else paths.add(devicePath);
    if (mounts.has(name)) errs.push(invalid(`${idx}.name`, name, 'must not already exist in volumeMounts'));
    if (mountPaths.has(devicePath)) errs.push(invalid(`${idx}.devicePath`, devicePath, 'must not already exist as a path in volumeMounts'));
    if (name) names.add(name);
  });
  return errs;
}

function validatePortNumOrName(port: unknown, fldPath: string): ValidationError[] {
  if (typeof port === 'number') return isValidPortNum(port).map((m) => invalid(fldPath, port, m));
  if (typeof port === 'string') return isValidPortName(port).map((m) => invalid(fldPath, port, m));
  return isValidPortNum(0).map((m) => invalid(fldPath, 0, m));
}

function validateHandler(h: Obj, grace: number | undefined, fldPath: string, probe: boolean): ValidationError[] {
  const errs: ValidationError[] = [];
  let n = 0;
  const kinds = probe ? ['exec', 'httpGet', 'tcpSocket', 'grpc'] : ['exec', 'httpGet', 'tcpSocket', 'sleep'];
  for (const kind of kinds) {
    if (!isObj(h[kind])) continue;
    if (n > 0) {
      errs.push(forbidden(`${fldPath}.${kind}`, 'may not specify more than 1 handler type'));
      continue;
    }
    n++;
    const a = h[kind];
    const p = `${fldPath}.${kind}`;
    switch (kind) {
      case 'exec':
        if (arr(a.command).length === 0) errs.push(required(`${p}.command`));
        break;
      case 'httpGet':
        if (!str(a.path)) errs.push(required(`${p}.path`));
        errs.push(...validatePortNumOrName(a.port, `${p}.port`));
        if (!['HTTP', 'HTTPS'].includes(str(a.scheme))) errs.push(notSupported(`${p}.scheme`, str(a.scheme), ['HTTP', 'HTTPS']));
        for (const hd of arr(a.httpHeaders)) {
          errs.push(...isHTTPHeaderName(str(obj(hd).name)).map((m) => invalid(`${p}.httpHeaders`, str(obj(hd).name), m)));
        }
        break;
      case 'tcpSocket':
        errs.push(...validatePortNumOrName(a.port, `${p}.port`));
        break;
      case 'grpc':
        errs.push(...validatePortNumOrName(typeof a.port === 'number' ? a.port : 0, `${p}.port`));
        break;
      case 'sleep': {
        const s = typeof a.seconds === 'number' ? a.seconds : 0;
        if (grace !== undefined && (s < 0 || s > grace)) {
          errs.push(invalid(p, s, `must be non-negative and less than terminationGracePeriodSeconds (${grace})`));
        }
        break;
      }
    }
  }
  if (n === 0) errs.push(required(fldPath, 'must specify a handler type'));
  return errs;
}

function validateProbe(probe: unknown, grace: number | undefined, fldPath: string, kind: 'liveness' | 'readiness' | 'startup'): ValidationError[] {
  if (!isObj(probe)) return [];
  const errs = validateHandler(probe, grace, fldPath, true);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    errs.push(...nonNegative(probe[f], `${fldPath}.${f}`));
  }
  const tgps = probe.terminationGracePeriodSeconds;
  if (typeof tgps === 'number' && tgps <= 0) errs.push(invalid(`${fldPath}.terminationGracePeriodSeconds`, tgps, 'must be greater than 0'));
  if (kind !== 'readiness' && (probe.successThreshold ?? 0) !== 1) {
    errs.push(invalid(`${fldPath}.successThreshold`, probe.successThreshold ?? 0, 'must be 1'));
  }
  if (kind === 'readiness' && tgps !== undefined && tgps !== null) {
    errs.push(invalid(`${fldPath}.terminationGracePeriodSeconds`, tgps, 'must not be set for readinessProbes'));
  }
  return errs;
}

function validateLifecycle(lc: unknown, grace: number | undefined, fldPath: string): ValidationError[] {
  if (!isObj(lc)) return [];
  const errs: ValidationError[] = [];
  if (isObj(lc.postStart)) errs.push(...validateHandler(lc.postStart, grace, `${fldPath}.postStart`, false));
  if (isObj(lc.preStop)) errs.push(...validateHandler(lc.preStop, grace, `${fldPath}.preStop`, false));
  return errs;
}

function validateSecurityContext(sc: unknown, fldPath: string): ValidationError[] {
  if (!isObj(sc)) return [];
  const errs: ValidationError[] = [];
  if (typeof sc.runAsUser === 'number') errs.push(...isValidUserID(sc.runAsUser).map((m) => invalid(`${fldPath}.runAsUser`, sc.runAsUser, m)));
  if (typeof sc.runAsGroup === 'number') errs.push(...isValidGroupID(sc.runAsGroup).map((m) => invalid(`${fldPath}.runAsGroup`, sc.runAsGroup, m)));
  if (typeof sc.procMount === 'string' && !['Default', 'Unmasked'].includes(sc.procMount)) {
    errs.push(notSupported(`${fldPath}.procMount`, sc.procMount, ['Default', 'Unmasked']));
  }
  errs.push(...validateSeccompProfile(sc.seccompProfile, `${fldPath}.seccompProfile`));
  if (sc.allowPrivilegeEscalation === false) {
    if (sc.privileged === true) errs.push(invalid(fldPath, sc, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
    if (arr(obj(sc.capabilities).add).includes('CAP_SYS_ADMIN')) {
      errs.push(invalid(fldPath, sc, 'cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN'));
    }
  }
  return errs;
}

function validateSeccompProfile(sp: unknown, fldPath: string): ValidationError[] {
  if (!isObj(sp)) return [];
  const errs: ValidationError[] = [];
  const types = ['Localhost', 'RuntimeDefault', 'Unconfined'];
  const t = str(sp.type);
  if (!t) errs.push(required(`${fldPath}.type`, 'type is required when seccompProfile is set'));
  else if (!types.includes(t)) errs.push(notSupported(`${fldPath}.type`, t, types));
  if (t === 'Localhost') {
    if (typeof sp.localhostProfile !== 'string') errs.push(required(`${fldPath}.localhostProfile`, 'must be set when seccomp type is Localhost'));
    else errs.push(...validateLocalDescendingPath(sp.localhostProfile, `${fldPath}.localhostProfile`));
  } else if (sp.localhostProfile !== undefined && sp.localhostProfile !== null) {
    errs.push(invalid(`${fldPath}.localhostProfile`, sp, 'can only be set when seccomp type is Localhost'));
  }
  return errs;
}

/** Checks shared by regular, init and ephemeral containers (validateContainerCommon). */
function validateContainerCommon(ctr: Obj, vols: Map<string, Obj>, path: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const name = str(ctr.name);
  if (!name) errs.push(required(`${path}.name`));
  else errs.push(...isDNS1123Label(name).map((m) => invalid(`${path}.name`, name, m)));
  if (!str(ctr.image)) errs.push(required(`${path}.image`));
  const tmp = str(ctr.terminationMessagePolicy);
  if (!tmp) errs.push(required(`${path}.terminationMessagePolicy`));
  else if (!TERMINATION_MESSAGE_POLICIES.includes(tmp)) {
    errs.push(notSupported(`${path}.terminationMessagePolicy`, tmp, TERMINATION_MESSAGE_POLICIES));
  }
  errs.push(...validateContainerPorts(ctr.ports, `${path}.ports`));
  errs.push(...validateEnv(ctr.env, `${path}.env`));
  errs.push(...validateEnvFrom(ctr.envFrom, `${path}.envFrom`));
  errs.push(...validateVolumeMounts(ctr, vols, `${path}.volumeMounts`));
  errs.push(...validateVolumeDevices(ctr, vols, `${path}.volumeDevices`));
  const pull = str(ctr.imagePullPolicy);
  if (!pull) errs.push(required(`${path}.imagePullPolicy`));
  else if (!PULL_POLICIES.includes(pull)) errs.push(notSupported(`${path}.imagePullPolicy`, pull, PULL_POLICIES));
  errs.push(...validateResourceRequirements(ctr.resources, `${path}.resources`));
  errs.push(...validateSecurityContext(ctr.securityContext, `${path}.securityContext`));
  return errs;
}

/** AccumulateUniqueHostPorts: protocol/hostIP/hostPort must be unique. */
function checkHostPortConflicts(containers: Obj[], fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const seen = new Set<string>();
  containers.forEach((ctr, ci) => {
    arr(ctr.ports).forEach((p0, pi) => {
      const p = obj(p0);
      if (!p.hostPort) return;
      const k = `${str(p.protocol)}/${str(p.hostIP)}/${p.hostPort}`;
      if (seen.has(k)) errs.push(duplicate(`${fldPath}[${ci}].ports[${pi}].hostPort`, k));
      else seen.add(k);
    });
  });
  return errs;
}

function validateContainers(containers: unknown, vols: Map<string, Obj>, grace: number | undefined, fldPath: string): ValidationError[] {
  const list = arr(containers).map(obj);
  if (list.length === 0) return [required(fldPath)];
  const errs: ValidationError[] = [];
  const names = new Set<string>();
  list.forEach((ctr, i) => {
    const path = `${fldPath}[${i}]`;
    errs.push(...validateContainerCommon(ctr, vols, path));
    if (names.has(str(ctr.name))) errs.push(duplicate(`${path}.name`, str(ctr.name)));
    else names.add(str(ctr.name));
    errs.push(...validateLifecycle(ctr.lifecycle, grace, `${path}.lifecycle`));
    errs.push(...validateProbe(ctr.livenessProbe, grace, `${path}.livenessProbe`, 'liveness'));
    errs.push(...validateProbe(ctr.readinessProbe, grace, `${path}.readinessProbe`, 'readiness'));
    errs.push(...validateProbe(ctr.startupProbe, grace, `${path}.startupProbe`, 'startup'));
    if (ctr.restartPolicy !== undefined && ctr.restartPolicy !== null) {
      errs.push(forbidden(`${path}.restartPolicy`, 'may not be set for non-init containers'));
    }
  });
  errs.push(...checkHostPortConflicts(list, fldPath));
  return errs;
}

function validateInitContainers(
  containers: unknown,
  regular: unknown,
  vols: Map<string, Obj>,
  grace: number | undefined,
  fldPath: string,
): ValidationError[] {
  const errs: ValidationError[] = [];
  const names = new Set(arr(regular).map((c) => str(obj(c).name)));
  arr(containers).map(obj).forEach((ctr, i) => {
    const path = `${fldPath}[${i}]`;
    errs.push(...validateContainerCommon(ctr, vols, path));
    let restartAlways = false;
    if (typeof ctr.restartPolicy === 'string') {
      if (ctr.restartPolicy !== 'Always') errs.push(notSupported(`${path}.restartPolicy`, ctr.restartPolicy, ['Always']));
      restartAlways = ctr.restartPolicy === 'Always';
    }
    const name = str(ctr.name);
    if (names.has(name)) errs.push(duplicate(`${path}.name`, name));
    else if (name) names.add(name);
    // Upstream checks each init container on its own (they run one by one), so the index is always 0.
    errs.push(...checkHostPortConflicts([ctr], fldPath));
    if (restartAlways) {
      errs.push(...validateLifecycle(ctr.lifecycle, grace, `${path}.lifecycle`));
      errs.push(...validateProbe(ctr.livenessProbe, grace, `${path}.livenessProbe`, 'liveness'));
      errs.push(...validateProbe(ctr.readinessProbe, grace, `${path}.readinessProbe`, 'readiness'));
      errs.push(...validateProbe(ctr.startupProbe, grace, `${path}.startupProbe`, 'startup'));
    } else {
      for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) {
        if (ctr[f] !== undefined && ctr[f] !== null) {
          errs.push(forbidden(`${path}.${f}`, 'may not be set for init containers without restartPolicy=Always'));
        }
      }
    }
  });
  return errs;
}

const EPHEMERAL_FORBIDDEN_FIELDS = ['ports', 'resources', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'resizePolicy', 'restartPolicy'];

function validateEphemeralContainers(spec: Obj, vols: Map<string, Obj>, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const other = new Set([...arr(spec.containers), ...arr(spec.initContainers)].map((c) => str(obj(c).name)));
  const all = new Set(other);
  arr(spec.ephemeralContainers).map(obj).forEach((ec, i) => {
    const path = `${fldPath}[${i}]`;
    errs.push(...validateContainerCommon(ec, vols, path));
    errs.push(...validateImageWhitespace(ec, path));
    const name = str(ec.name);
    if (all.has(name)) errs.push(duplicate(`${path}.name`, name));
    else all.add(name);
    if (str(ec.targetContainerName) && !other.has(ec.targetContainerName)) {
      errs.push(notFound(`${path}.targetContainerName`, ec.targetContainerName));
    }
    for (const f of EPHEMERAL_FORBIDDEN_FIELDS) {
      const v = ec[f];
      const set = v !== undefined && v !== null && !(isObj(v) && Object.keys(v).length === 0) && !(Array.isArray(v) && v.length === 0);
      if (set) errs.push(forbidden(`${path}.${f}`, 'cannot be set for an Ephemeral Container'));
    }
    arr(ec.volumeMounts).forEach((vm, j) => {
      if (str(obj(vm).subPath)) errs.push(forbidden(`${path}.volumeMounts[${j}].subPath`, 'cannot be set for an Ephemeral Container'));
      if (str(obj(vm).subPathExpr)) errs.push(forbidden(`${path}.volumeMounts[${j}].subPathExpr`, 'cannot be set for an Ephemeral Container'));
    });
  });
  return errs;
}

function validateImageWhitespace(ctr: Obj, path: string): ValidationError[] {
  const image = str(ctr.image);
  return image.length !== image.trim().length ? [invalid(`${path}.image`, image, 'must not have leading or trailing whitespace')] : [];
}

// ---------------------------------------------------------------- pod spec

/** ValidateTolerations. */
export function validateTolerations(tolerations: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  arr(tolerations).map(obj).forEach((t, i) => {
    const idx = `${fldPath}[${i}]`;
    const k = str(t.key);
    const op = str(t.operator);
    if (k) errs.push(...isQualifiedName(k).map((m) => invalid(`${idx}.key`, k, m)));
    if (!k && op !== 'Exists') {
      errs.push(invalid(`${idx}.operator`, op, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute') {
      errs.push(invalid(`${idx}.effect`, str(t.effect), "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    if (op === 'Equal' || op === '') {
      const msgs = isValidLabelValue(str(t.value));
      if (msgs.length) errs.push(invalid(`${idx}.operator`, str(t.value), msgs.join(';')));
    } else if (op === 'Exists') {
      if (str(t.value)) errs.push(invalid(`${idx}.operator`, t.value, "value must be empty when `operator` is 'Exists'"));
    } else {
      errs.push(notSupported(`${idx}.operator`, op, ['Equal', 'Exists']));
    }
    if (str(t.effect) && !TAINT_EFFECTS.includes(t.effect)) errs.push(notSupported(`${idx}.effect`, t.effect, TAINT_EFFECTS));
  });
  return errs;
}

function validatePodSecurityContext(sc: unknown, fldPath: string): ValidationError[] {
  if (!isObj(sc)) return [];
  const errs: ValidationError[] = [];
  for (const f of ['fsGroup', 'runAsUser', 'runAsGroup']) {
    if (typeof sc[f] === 'number') errs.push(...isValidUserID(sc[f]).map((m) => invalid(`${fldPath}.${f}`, sc[f], m)));
  }
  arr(sc.supplementalGroups).forEach((g, i) => {
    if (typeof g === 'number') errs.push(...isValidGroupID(g).map((m) => invalid(`${fldPath}.supplementalGroups[${i}]`, g, m)));
  });
  if (typeof sc.fsGroupChangePolicy === 'string' && !['Always', 'OnRootMismatch'].includes(sc.fsGroupChangePolicy)) {
    errs.push(notSupported(`${fldPath}.fsGroupChangePolicy`, sc.fsGroupChangePolicy, ['Always', 'OnRootMismatch']));
  }
  const sysctlRe = /^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/;
  const seen = new Set<string>();
  arr(sc.sysctls).map(obj).forEach((s, i) => {
    const name = str(s.name);
    const p = `${fldPath}.sysctls[${i}].name`;
    if (!name) errs.push(required(p));
    else if (name.length > 253 || !sysctlRe.test(name)) {
      errs.push(invalid(p, name, `must have at most 253 characters and match regex ${sysctlRe.source}`));
    } else if (seen.has(name)) errs.push(duplicate(p, name));
    seen.add(name);
  });
  errs.push(...validateSeccompProfile(sc.seccompProfile, `${fldPath}.seccompProfile`));
  return errs;
}

function validateDNSConfig(spec: Obj, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const cfg = spec.dnsConfig;
  if (spec.dnsPolicy === 'None') {
    if (!isObj(cfg)) return [required(fldPath, 'must provide `dnsConfig` when `dnsPolicy` is None')];
    if (arr(cfg.nameservers).length === 0) {
      return [required(`${fldPath}.nameservers`, 'must provide at least one DNS nameserver when `dnsPolicy` is None')];
    }
  }
  if (!isObj(cfg)) return errs;
  const ns = arr(cfg.nameservers);
  if (ns.length > 3) errs.push(invalid(`${fldPath}.nameservers`, ns, 'must not have more than 3 nameservers'));
  ns.forEach((ip, i) => {
    if (!ipFamily(str(ip))) errs.push(invalid(`${fldPath}.nameservers[${i}]`, str(ip), INVALID_IP_MESSAGE));
  });
  const searches = arr(cfg.searches).map(str);
  if (searches.length > 32) errs.push(invalid(`${fldPath}.searches`, searches, 'must not have more than 32 search paths'));
  if (searches.join(' ').length > 2048) {
    errs.push(invalid(`${fldPath}.searches`, searches, 'must not have more than 2048 characters (including spaces) in the search list'));
  }
  searches.forEach((s, i) => {
    const v = s.endsWith('.') ? s.slice(0, -1) : s;
    errs.push(...isDNS1123Subdomain(v).map((m) => invalid(`${fldPath}.searches[${i}]`, v, m)));
  });
  arr(cfg.options).forEach((o, i) => {
    if (!str(obj(o).name)) errs.push(required(`${fldPath}.options[${i}]`, 'must not be empty'));
  });
  return errs;
}

function subdomainErrs(value: unknown, fldPath: string): ValidationError[] {
  return isDNS1123Subdomain(str(value)).map((m) => invalid(fldPath, str(value), m));
}

/** ValidatePodSpec (for a Pod, i.e. ResourceIsPod). */
export function validatePodSpec(spec: Obj, fldPath = 'spec'): ValidationError[] {
  const errs: ValidationError[] = [];
  const tgps = spec.terminationGracePeriodSeconds;
  if (tgps === undefined || tgps === null) errs.push(required(`${fldPath}.terminationGracePeriodSeconds`));
  // podbay: upstream tolerates negative values (and lets an update fix them to 1); we refuse them.
  else errs.push(...nonNegative(tgps, `${fldPath}.terminationGracePeriodSeconds`));
  const grace = typeof tgps === 'number' ? tgps : undefined;

  const { vols, errs: volErrs } = validateVolumes(spec.volumes, `${fldPath}.volumes`);
  errs.push(...volErrs);
  errs.push(...validateContainers(spec.containers, vols, grace, `${fldPath}.containers`));
  errs.push(...validateInitContainers(spec.initContainers, spec.containers, vols, grace, `${fldPath}.initContainers`));
  errs.push(...validateEphemeralContainers(spec, vols, `${fldPath}.ephemeralContainers`));

  if (spec.hostNetwork === true) {
    arr(spec.containers).forEach((c, i) => {
      arr(obj(c).ports).forEach((p0, j) => {
        const p = obj(p0);
        if ((p.hostPort ?? 0) !== (p.containerPort ?? 0)) {
          errs.push(invalid(`${fldPath}.containers[${i}].ports[${j}].hostPort`, p.hostPort ?? 0, 'must match `containerPort` when `hostNetwork` is true'));
        }
      });
    });
  }

  const rp = str(spec.restartPolicy);
  if (!rp) errs.push(required(`${fldPath}.restartPolicy`));
  else if (!RESTART_POLICIES.includes(rp)) errs.push(notSupported(`${fldPath}.restartPolicy`, rp, RESTART_POLICIES));
  const dp = str(spec.dnsPolicy);
  if (!dp) errs.push(required(`${fldPath}.dnsPolicy`));
  else if (!DNS_POLICIES.includes(dp)) errs.push(notSupported(`${fldPath}.dnsPolicy`, dp, DNS_POLICIES));

  errs.push(...validateLabels(spec.nodeSelector, `${fldPath}.nodeSelector`));
  errs.push(...validatePodSecurityContext(spec.securityContext, `${fldPath}.securityContext`));
  errs.push(...validatePodSecurity(spec, fldPath));
  errs.push(...validatePodUnsupported(spec, fldPath));
  arr(spec.imagePullSecrets).forEach((s, i) => {
    const keys = Object.keys(obj(s)).filter((k) => k !== 'name');
    if (keys.length) errs.push(invalid(`${fldPath}.imagePullSecrets[${i}]`, s, 'only name may be set'));
  });
  errs.push(...validateDNSConfig(spec, `${fldPath}.dnsConfig`));
  arr(spec.readinessGates).forEach((g, i) => {
    const t = str(obj(g).conditionType);
    errs.push(...isQualifiedName(t).map((m) => invalid(`${fldPath}.readinessGates[${i}].conditionType`, t, m)));
  });
  const gates = new Set<string>();
  arr(spec.schedulingGates).forEach((g, i) => {
    const name = str(obj(g).name);
    errs.push(...isQualifiedName(name).map((m) => invalid(`${fldPath}.schedulingGates[${i}]`, name, m)));
    if (gates.has(name)) errs.push(duplicate(`${fldPath}.schedulingGates[${i}]`, name));
    gates.add(name);
  });
  if (str(spec.serviceAccountName)) errs.push(...subdomainErrs(spec.serviceAccountName, `${fldPath}.serviceAccountName`));
  if (str(spec.nodeName)) errs.push(...subdomainErrs(spec.nodeName, `${fldPath}.nodeName`));
  const ads = spec.activeDeadlineSeconds;
  if (typeof ads === 'number' && (ads < 1 || ads > MAX_INT32)) {
    errs.push(invalid(`${fldPath}.activeDeadlineSeconds`, ads, inclusiveRangeError(1, MAX_INT32)));
  }
  for (const f of ['hostname', 'subdomain']) {
    if (str(spec[f])) errs.push(...isDNS1123Label(spec[f]).map((m) => invalid(`${fldPath}.${f}`, spec[f], m)));
  }
  errs.push(...validateTolerations(spec.tolerations, `${fldPath}.tolerations`));
  arr(spec.hostAliases).map(obj).forEach((ha, i) => {
    if (!ipFamily(str(ha.ip))) errs.push(invalid(`${fldPath}.hostAliases[${i}].ip`, str(ha.ip), INVALID_IP_MESSAGE));
    arr(ha.hostnames).forEach((h, j) => errs.push(...subdomainErrs(h, `${fldPath}.hostAliases[${i}].hostnames[${j}]`)));
  });
  if (str(spec.priorityClassName)) errs.push(...subdomainErrs(spec.priorityClassName, `${fldPath}.priorityClassName`));
  if (typeof spec.runtimeClassName === 'string') errs.push(...subdomainErrs(spec.runtimeClassName, `${fldPath}.runtimeClassName`));
  if (typeof spec.preemptionPolicy === 'string') {
    const pp = spec.preemptionPolicy;
    if (!pp) errs.push(required(`${fldPath}.preemptionPolicy`));
    else if (!['PreemptLowerPriority', 'Never'].includes(pp)) {
      errs.push(notSupported(`${fldPath}.preemptionPolicy`, pp, ['PreemptLowerPriority', 'Never']));
    }
  }
  if (isObj(spec.os)) {
    const os = str(spec.os.name);
    if (!os) errs.push(required(`${fldPath}.os.name`, 'cannot be empty'));
    else if (!['linux', 'windows'].includes(os)) errs.push(notSupported(`${fldPath}.os`, os, ['linux', 'windows']));
  }
  return errs;
}

// ---------------------------------------------------------------- pod

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

function validatePodSpecificAnnotations(pod: Obj): ValidationError[] {
  const errs: ValidationError[] = [];
  const ann = obj(obj(pod.metadata).annotations);
  if (MIRROR_POD_ANNOTATION in ann && !str(obj(pod.spec).nodeName)) {
    errs.push(invalid(key('metadata.annotations', MIRROR_POD_ANNOTATION), ann[MIRROR_POD_ANNOTATION], 'must set spec.nodeName if mirror pod annotation is set'));
  }
  if (DELETION_COST_ANNOTATION in ann) {
    const v = str(ann[DELETION_COST_ANNOTATION]);
    const n = Number(v);
    if (!/^[+-]?\d+$/.test(v) || n < -(2 ** 31) || n > MAX_INT32) {
      errs.push(invalid(key('metadata.annotations', DELETION_COST_ANNOTATION), v, 'must be a 32bit integer'));
    }
  }
  return errs;
}

export function validatePodMetadataAndSpec(pod: Obj): ValidationError[] {
  const spec = obj(pod.spec);
  const errs = validateObjectMeta(pod.metadata, true, 'dns1123-subdomain');
  errs.push(...validatePodSpecificAnnotations(pod));
  errs.push(...validatePodSecurityAnnotations(pod));
  errs.push(...validatePodSpec(spec));
  if (!str(spec.serviceAccountName)) {
    arr(spec.volumes).forEach((v, vi) => {
      arr(obj(obj(v).projected).sources).forEach((s, si) => {
        if (isObj(obj(s).serviceAccountToken)) {
          errs.push(
            forbidden(`spec.volumes[${vi}].projected.sources[${si}].serviceAccountToken`, 'must not be specified when serviceAccountName is not set'),
          );
        }
      });
    });
  }
  arr(spec.containers).forEach((c, i) => errs.push(...validateImageWhitespace(obj(c), `spec.containers[${i}]`)));
  arr(spec.initContainers).forEach((c, i) => errs.push(...validateImageWhitespace(obj(c), `spec.initContainers[${i}]`)));
  return errs;
}

/** ValidatePodCreate. */
export function validatePodCreate(pod: Obj): ValidationError[] {
  const spec = obj(pod.spec);
  const errs = validatePodMetadataAndSpec(pod);
  if (arr(spec.ephemeralContainers).length > 0) errs.push(forbidden('spec.ephemeralContainers', 'cannot be set on create'));
  if (str(spec.nodeName) && arr(spec.schedulingGates).length > 0) {
    errs.push(forbidden('spec.nodeName', 'cannot be set until all schedulingGates have been cleared'));
  }
  return errs;
}

function validateMirrorAnnotationUpdate(newPod: Obj, oldPod: Obj): ValidationError[] {
  const n = obj(obj(newPod.metadata).annotations);
  const o = obj(obj(oldPod.metadata).annotations);
  const p = key('metadata.annotations', MIRROR_POD_ANNOTATION);
  if (MIRROR_POD_ANNOTATION in o && n[MIRROR_POD_ANNOTATION] !== o[MIRROR_POD_ANNOTATION]) {
    return [forbidden(p, 'may not remove or update mirror pod annotation')];
  }
  if (MIRROR_POD_ANNOTATION in n && !(MIRROR_POD_ANNOTATION in o)) return [forbidden(p, 'may not add mirror pod annotation')];
  return [];
}

export const UPDATABLE_POD_SPEC_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

function validateContainerUpdates(newC: unknown, oldC: unknown, fldPath: string): { errs: ValidationError[]; stop: boolean } {
  const n = arr(newC);
  if (n.length !== arr(oldC).length) return { errs: [forbidden(fldPath, 'pod updates may not add or remove containers')], stop: true };
  const errs: ValidationError[] = [];
  n.forEach((c, i) => {
    const image = str(obj(c).image);
    if (!image) errs.push(required(`${fldPath}[${i}].image`));
    if (image.trim().length !== image.length) errs.push(invalid(`${fldPath}[${i}].image`, image, 'must not have leading or trailing whitespace'));
  });
  return { errs, stop: false };
}

function validateOnlyAddedTolerations(newT: unknown, oldT: unknown, fldPath: string): ValidationError[] {
  for (const old of arr(oldT)) {
    const found = arr(newT).some((nt) => semanticEqual({ ...obj(old), tolerationSeconds: obj(nt).tolerationSeconds }, nt));
    if (!found) return [forbidden(fldPath, 'existing toleration can not be modified except its tolerationSeconds')];
  }
  return validateTolerations(newT, fldPath);
}

function validateOnlyDeletedSchedulingGates(newG: unknown, oldG: unknown, fldPath: string): ValidationError[] {
  const old = new Set(arr(oldG).map((g) => str(obj(g).name)));
  const errs: ValidationError[] = [];
  arr(newG).forEach((g, i) => {
    const name = str(obj(g).name);
    if (!old.has(name)) errs.push(forbidden(`${fldPath}[${i}].name`, `only deletion is allowed, but found new scheduling gate '${name}'`));
  });
  return errs;
}

/** A short rendering of what differs between two specs (upstream prints a cmp.Diff). */
export function describeDiff(oldV: unknown, newV: unknown, path = 'spec', out: string[] = []): string[] {
  if (semanticEqual(oldV, newV)) return out;
  if (isObj(oldV) && isObj(newV)) {
    for (const k of new Set([...Object.keys(oldV), ...Object.keys(newV)])) describeDiff(oldV[k], newV[k], `${path}.${k}`, out);
    return out;
  }
  if (Array.isArray(oldV) && Array.isArray(newV) && oldV.length === newV.length) {
    oldV.forEach((x, i) => describeDiff(x, newV[i], `${path}[${i}]`, out));
    return out;
  }
  out.push(`- ${path}: ${JSON.stringify(oldV ?? null)}`, `+ ${path}: ${JSON.stringify(newV ?? null)}`);
  return out;
}

/** ValidatePodUpdate: metadata update rules, full spec validation, and the short list of mutable spec fields. */
export function validatePodUpdate(newPod: Obj, oldPod: Obj): ValidationError[] {
  const errs = validateObjectMetaUpdate(newPod.metadata, oldPod.metadata);
  errs.push(...validatePodMetadataAndSpec(newPod));
  errs.push(...validateMirrorAnnotationUpdate(newPod, oldPod));
  const ns = obj(newPod.spec);
  const os = obj(oldPod.spec);

  for (const f of ['containers', 'initContainers']) {
    const r = validateContainerUpdates(ns[f], os[f], `spec.${f}`);
    errs.push(...r.errs);
    if (r.stop) return errs;
  }

  const nads = ns.activeDeadlineSeconds;
  const oads = os.activeDeadlineSeconds;
  if (typeof nads === 'number') {
    if (nads < 0 || nads > MAX_INT32) {
      errs.push(invalid('spec.activeDeadlineSeconds', nads, inclusiveRangeError(0, MAX_INT32)));
      return errs;
    }
    if (typeof oads === 'number' && oads < nads) {
      errs.push(invalid('spec.activeDeadlineSeconds', nads, 'must be less than or equal to previous value'));
      return errs;
    }
  } else if (typeof oads === 'number') {
    errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  }

  errs.push(...validateOnlyAddedTolerations(ns.tolerations, os.tolerations, 'spec.tolerations'));
  errs.push(...validateOnlyDeletedSchedulingGates(ns.schedulingGates, os.schedulingGates, 'spec.schedulingGates'));

  if (semanticEqual(ns, os)) return errs;

  // Put the updatable fields back to their old values; anything still different is forbidden.
  const munged: Obj = structuredClone(ns);
  arr(munged.containers).forEach((c, i) => (c.image = obj(arr(os.containers)[i]).image));
  arr(munged.initContainers).forEach((c, i) => (c.image = obj(arr(os.initContainers)[i]).image));
  munged.activeDeadlineSeconds = os.activeDeadlineSeconds;
  munged.schedulingGates = os.schedulingGates;
  munged.tolerations = os.tolerations;
  if (typeof os.terminationGracePeriodSeconds === 'number' && os.terminationGracePeriodSeconds < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = os.terminationGracePeriodSeconds;
  }
  // A gated pod may gain (not change or lose) nodeSelector entries.
  if (arr(os.schedulingGates).length > 0 && !semanticEqual(munged.nodeSelector, os.nodeSelector)) {
    const oldSel = obj(os.nodeSelector);
    const newSel = obj(munged.nodeSelector);
    const onlyAdded = Object.entries(oldSel).every(([k, v]) => newSel[k] === v);
    if (onlyAdded) munged.nodeSelector = os.nodeSelector;
  }
  if (!semanticEqual(munged, os)) {
    const diff = describeDiff(os, munged).join('\n');
    errs.push(forbidden('spec', `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(',')}\n${diff}`));
  }
  return errs;
}

function validateContainerStateTransition(newS: unknown, oldS: unknown, fldPath: string, restartPolicy: string, restartable: Set<string>): ValidationError[] {
  if (restartPolicy === 'Always') return [];
  const errs: ValidationError[] = [];
  arr(oldS).map(obj).forEach((old, i) => {
    const term = obj(old.state).terminated;
    if (!isObj(term)) return;
    if ((term.exitCode ?? 0) !== 0 && restartPolicy === 'OnFailure') return;
    if (restartable.has(str(old.name))) return;
    for (const n of arr(newS).map(obj)) {
      if (n.name === old.name && !isObj(obj(n.state).terminated)) {
        errs.push(forbidden(`${fldPath}[${i}].state`, 'may not be transitioned to non-terminated state'));
      }
    }
  });
  return errs;
}

function validateIPList(list: unknown, fldPath: string): ValidationError[] {
  const errs: ValidationError[] = [];
  const items = arr(list).map(obj);
  items.forEach((x, i) => {
    if (!ipFamily(str(x.ip))) errs.push(invalid(`${fldPath}[${i}].ip`, str(x.ip), INVALID_IP_MESSAGE));
  });
  if (items.length > 1) {
    const fams = items.map((x) => ipFamily(str(x.ip)));
    const dual = fams.includes(4) && fams.includes(6);
    if (!dual || items.length > 2) errs.push(invalid(fldPath, items, 'may specify no more than one IP for each IP family'));
    const seen = new Set<string>();
    items.forEach((x, i) => {
      if (seen.has(str(x.ip))) errs.push(duplicate(`${fldPath}[${i}]`, x));
      seen.add(str(x.ip));
    });
  }
  return errs;
}

const SYSTEM_POD_CONDITIONS = new Set(['PodScheduled', 'Ready', 'Initialized']);

/** ValidatePodStatusUpdate (+ podbay: status.phase must be a known phase). */
export function validatePodStatusUpdate(newPod: Obj, oldPod: Obj): ValidationError[] {
  const errs = validateObjectMetaUpdate(newPod.metadata, oldPod.metadata);
  errs.push(...validateMirrorAnnotationUpdate(newPod, oldPod));
  const status = obj(newPod.status);
  const oldStatus = obj(oldPod.status);
  arr(status.conditions).forEach((c, i) => {
    const t = str(obj(c).type);
    if (SYSTEM_POD_CONDITIONS.has(t)) return;
    // sic: upstream reports custom condition types under `metadata.conditions[i].Type`
    errs.push(...isQualifiedName(t).map((m) => invalid(`metadata.conditions[${i}].Type`, t, m)));
  });
  if (str(obj(newPod.spec).nodeName) !== str(obj(oldPod.spec).nodeName)) errs.push(forbidden('status.nodeName', 'may not be changed directly'));
  if (status.nominatedNodeName !== oldStatus.nominatedNodeName && str(status.nominatedNodeName)) {
    errs.push(...subdomainErrs(status.nominatedNodeName, 'status.nominatedNodeName'));
  }
  if (str(status.qosClass) !== str(oldStatus.qosClass)) errs.push(invalid('status.qosClass', str(status.qosClass), FIELD_IMMUTABLE));
  if (status.phase !== undefined && !POD_PHASES.includes(str(status.phase))) {
    errs.push(notSupported('status.phase', status.phase, POD_PHASES));
  }
  const oldSpec = obj(oldPod.spec);
  const rp = str(oldSpec.restartPolicy);
  const restartableInit = new Set(arr(oldSpec.initContainers).filter((c) => obj(c).restartPolicy === 'Always').map((c) => str(obj(c).name)));
  errs.push(...validateContainerStateTransition(status.containerStatuses, oldStatus.containerStatuses, 'status.containerStatuses', rp, new Set()));
  errs.push(
    ...validateContainerStateTransition(status.initContainerStatuses, oldStatus.initContainerStatuses, 'status.initContainerStatuses', rp, restartableInit),
  );
  errs.push(
    ...validateContainerStateTransition(
      status.ephemeralContainerStatuses,
      oldStatus.ephemeralContainerStatuses,
      'status.ephemeralContainerStatuses',
      'Never',
      new Set(),
    ),
  );
  errs.push(...validateIPList(status.podIPs, 'status.podIPs'));
  const hostIPs = arr(status.hostIPs);
  if (hostIPs.length > 0) {
    if (str(status.hostIP) !== str(obj(hostIPs[0]).ip)) errs.push(invalid('status.hostIPs[0].ip', str(obj(hostIPs[0]).ip), 'must be equal to `hostIP`'));
    errs.push(...validateIPList(hostIPs, 'status.hostIPs'));
  }
  return errs;
}

/** ValidatePodBinding: the target must be a Node (or kind left empty) with a name. */
export function validateBinding(binding: Obj): ValidationError[] {
  const errs: ValidationError[] = [];
  const target = obj(binding.target);
  if (str(target.kind) && target.kind !== 'Node') errs.push(notSupported('target.kind', target.kind, ['Node', '<empty>']));
  if (!str(target.name)) errs.push(required('target.name'));
  return errs;
}
