/**
 * Owner references as controllers write and read them: the controller reference on what a
 * controller makes (controller and blockOwnerDeletion set, so the garbage collector and a
 * foreground deletion treat it as kube does), and finding an object's controller of a kind.
 */
import type { Obj } from '../client/types.js';
import { controllerRefOf, newControllerRef, type OwnerReference } from './pod-control.js';

/** the controller ownerReference of an object made by `owner` (metav1.NewControllerRef) */
export const controllerRef = newControllerRef;

/** an object's controller reference, if its controller is of `kind` (one controller at most) */
export function controllerOf(o: Obj, kind: string): OwnerReference | undefined {
  const ref = controllerRefOf(o);
  return ref?.kind === kind ? ref : undefined;
}

/** the uid of an object's controller of `kind`, if it has one */
export function controllerUid(o: Obj, kind: string): string | undefined {
  return controllerOf(o, kind)?.uid;
}

/** the work-queue key (namespace/name) of an object's controller of `kind`, if it has one */
export function controllerKey(o: Obj, kind: string): string | undefined {
  const ref = controllerOf(o, kind);
  return ref ? `${o.metadata.namespace}/${ref.name}` : undefined;
}
