/**
 * ValidatePodEphemeralContainersUpdate (pkg/apis/core/validation): a write to
 * pods/NAME/ephemeralcontainers may only add ephemeral containers. Existing ones may be neither
 * changed nor removed (matched by name: a strategic merge patch does not keep their order); the
 * new ones are checked with the rest of the pod spec (validateEphemeralContainers: no ports,
 * probes, lifecycle, resources, restartPolicy or subPath, a targetContainerName that exists).
 */
import { type Obj, type ValidationError, arr, forbidden, key, obj, semanticEqual, str } from './field.js';
import { validateObjectMetaUpdate } from './meta.js';
import { MIRROR_POD_ANNOTATION, describeDiff, validatePodMetadataAndSpec } from './pod.js';

const SPEC_PATH = 'spec.ephemeralContainers';

export function validatePodEphemeralContainersUpdate(newPod: Obj, oldPod: Obj): ValidationError[] {
  const errs = validateObjectMetaUpdate(newPod.metadata, oldPod.metadata);
  errs.push(...validatePodMetadataAndSpec(newPod));
  // static pods do not support ephemeral containers (kubernetes#113935)
  if (MIRROR_POD_ANNOTATION in obj(obj(oldPod.metadata).annotations)) return [forbidden('', 'static pods do not support ephemeral containers')];
  const byName = new Map(arr(obj(newPod.spec).ephemeralContainers).map((c) => [str(obj(c).name), obj(c)]));
  for (const old of arr(obj(oldPod.spec).ephemeralContainers).map(obj)) {
    const name = str(old.name);
    const now = byName.get(name);
    // upstream's messages end in a newline (and the change, as cmp.Diff prints it)
    if (!now) errs.push(forbidden(SPEC_PATH, `existing ephemeral containers ${JSON.stringify(name)} may not be removed\n`));
    else if (!semanticEqual(old, now)) {
      errs.push(forbidden(key(SPEC_PATH, name), `existing ephemeral containers ${JSON.stringify(name)} may not be changed\n${describeDiff(old, now, 'EphemeralContainer').join('\n')}`));
    }
  }
  return errs;
}
