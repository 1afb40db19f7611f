/**
 * Namespaces: the built-in ones exist from the start and may not be deleted; a deleted
 * namespace turns Terminating and stays until its contents are gone and its spec.finalizers
 * are cleared (the finalize part of a write, which only the namespace controller uses); a
 * delete of it meanwhile is a 409 Conflict, as kube-apiserver answers.
 */
import { conflict, forbidden } from '../../api/errors.js';
import { resourceInfo } from '../../api/registry.js';
import type { Strategy } from './types.js';

export const NAMESPACES = resourceInfo('namespaces')!;
export const PROTECTED_NAMESPACES = ['default', 'kube-system', 'kube-public'];

export const namespaceStrategy: Strategy = {
  prepareForUpdate(obj, old, part) {
    // spec.finalizers are the finalize part's to change (kube's namespace PrepareForUpdate)
    if (part === 'finalize') return;
    if (old.spec?.finalizers === undefined) {
      if (obj.spec) delete obj.spec.finalizers;
    } else {
      obj.spec = { ...(obj.spec ?? {}), finalizers: structuredClone(old.spec.finalizers) };
    }
  },
  holdsDeletion(obj) {
    return (obj.spec?.finalizers ?? []).length > 0;
  },
  markTerminating(obj) {
    obj.status = { ...(obj.status ?? {}), phase: 'Terminating' };
  },
  refuseDeleteAgain(obj) {
    // kube's namespace REST Delete: a namespace marked for deletion goes when its finalizers are done
    if (!obj.metadata?.deletionTimestamp || (obj.spec?.finalizers ?? []).length === 0) return undefined;
    return conflict('namespaces', obj.metadata.name, 'The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.');
  },
  refuseDelete(name) {
    if (PROTECTED_NAMESPACES.includes(name)) return forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`);
    return undefined;
  },
};
