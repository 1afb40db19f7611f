/**
 * The securityContext checks Kubernetes makes that podbay's pod validation did not, and the
 * fields podbay refuses because it does not implement them (a 422 naming the field rather than
 * a pod that silently runs without what it asked for):
 *
 *   appArmorProfile (pod, container)  type and localhostProfile as upstream validates them
 *   supplementalGroupsPolicy           Merge or Strict
 *   procMount: Unmasked                upstream needs hostUsers: false ...
 *   hostUsers: false                   ... and podbay has no user namespaces: refused
 *   windowsOptions                     forbidden with os.name linux (upstream); hostProcess: true
 *                                      refused always (podbay runs Linux containers only)
 *   seccomp / AppArmor annotations     the deprecated forms, validated as upstream still does
 *                                      (the kubelet reads them when the field is not set)
 */
import { forbidden, invalid, isObj, key, notSupported, obj, arr, required, str, type ValidationError, type Obj } from './field.js';

const APPARMOR_TYPES = ['Localhost', 'RuntimeDefault', 'Unconfined'];

function validateAppArmorProfile(p: unknown, fldPath: string): ValidationError[] {
  if (!isObj(p)) return [];
  const t = str(p.type);
  const errs: ValidationError[] = [];
  if (!t) errs.push(required(`${fldPath}.type`, 'type is required when appArmorProfile is set'));
  else if (!APPARMOR_TYPES.includes(t)) errs.push(notSupported(`${fldPath}.type`, t, APPARMOR_TYPES));
  if (t === 'Localhost') {
    if (!str(p.localhostProfile)) errs.push(required(`${fldPath}.localhostProfile`, 'must be set when AppArmor type is Localhost'));
  } else if (p.localhostProfile !== undefined && p.localhostProfile !== null) {
    errs.push(invalid(`${fldPath}.localhostProfile`, p.localhostProfile, 'can only be set when AppArmor type is Localhost'));
  }
  return errs;
}

function validateWindowsOptions(sc: Obj, linux: boolean, fldPath: string): ValidationError[] {
  if (!isObj(sc.windowsOptions)) return [];
  if (linux) return [forbidden(`${fldPath}.windowsOptions`, 'windows options cannot be set for a linux pod')];
  if (sc.windowsOptions.hostProcess === true) {
    return [forbidden(`${fldPath}.windowsOptions.hostProcess`, 'podbay runs Linux containers: Windows HostProcess containers are not supported')];
  }
  return [];
}

/** ValidatePodSpec's securityContext rules that pod.ts leaves to this file. */
export function validatePodSecurity(spec: Obj, fldPath = 'spec'): ValidationError[] {
  const errs: ValidationError[] = [];
  const linux = str(obj(spec.os).name) === 'linux';
  if (spec.hostUsers === false) {
    errs.push(forbidden(`${fldPath}.hostUsers`, 'podbay does not implement user namespaces: hostUsers must be true or unset'));
  }
  const podSc = obj(spec.securityContext);
  const sgp = podSc.supplementalGroupsPolicy;
  if (sgp !== undefined && sgp !== null && !['Merge', 'Strict'].includes(str(sgp))) {
    errs.push(notSupported(`${fldPath}.securityContext.supplementalGroupsPolicy`, sgp, ['Merge', 'Strict']));
  }
  errs.push(...validateAppArmorProfile(podSc.appArmorProfile, `${fldPath}.securityContext.appArmorProfile`));
  errs.push(...validateWindowsOptions(podSc, linux, `${fldPath}.securityContext`));
  for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
    arr(spec[list]).forEach((c, i) => {
      const sc = obj(obj(c).securityContext);
      const p = `${fldPath}.${list}[${i}].securityContext`;
      errs.push(...validateAppArmorProfile(sc.appArmorProfile, `${p}.appArmorProfile`));
      errs.push(...validateWindowsOptions(sc, linux, p));
      if (sc.procMount === 'Unmasked' && spec.hostUsers !== false) errs.push(forbidden(`${p}.procMount`, '`hostUsers` must be false to use `Unmasked`'));
    });
  }
  return errs;
}

const SECCOMP_POD = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER = 'container.seccomp.security.alpha.kubernetes.io/';
const APPARMOR_CONTAINER = 'container.apparmor.security.beta.kubernetes.io/';

function seccompAnnotationErrors(v: string, fldPath: string): ValidationError[] {
  if (['runtime/default', 'docker/default', 'unconfined'].includes(v)) return [];
  if (!v.startsWith('localhost/')) return [invalid(fldPath, v, 'must be a valid seccomp profile')];
  const path = v.slice('localhost/'.length);
  if (path.startsWith('/')) return [invalid(fldPath, path, 'must be a relative path')];
  if (path.split('/').includes('..')) return [invalid(fldPath, path, "must not contain '..'")];
  return [];
}

/** the deprecated seccomp and AppArmor annotations of a pod (ValidateSeccompPodAnnotations, ValidateAppArmorPodAnnotations) */
export function validatePodSecurityAnnotations(pod: Obj): ValidationError[] {
  const ann = obj(obj(pod.metadata).annotations);
  const spec = obj(pod.spec);
  const names = new Set([...arr(spec.initContainers), ...arr(spec.containers), ...arr(spec.ephemeralContainers)].map((c) => str(obj(c).name)));
  const errs: ValidationError[] = [];
  for (const [k, v0] of Object.entries(ann)) {
    const v = str(v0);
    const fld = key('metadata.annotations', k);
    if (k === SECCOMP_POD || k.startsWith(SECCOMP_CONTAINER)) errs.push(...seccompAnnotationErrors(v, fld));
    if (k.startsWith(APPARMOR_CONTAINER)) {
      const name = k.slice(APPARMOR_CONTAINER.length);
      if (!names.has(name)) errs.push(invalid(fld, name, 'container not found'));
      else if (!['runtime/default', 'unconfined'].includes(v) && !v.startsWith('localhost/')) errs.push(invalid(fld, v, `invalid AppArmor profile name: ${JSON.stringify(v)}`));
    }
  }
  return errs;
}
