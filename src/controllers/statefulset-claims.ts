/**
 * A StatefulSet's per-pod claims (volumeClaimTemplates), as the statefulset controller's
 * stateful_set_utils.go makes them: pod `<set>-<n>` gets claim `<template>-<set>-<n>` for each
 * template, labelled with the template's labels and the set's selector matchLabels, made before
 * the pod and kept when the pod goes (that is what makes the pod's data stable). The pod's
 * volume of the template's name becomes a persistentVolumeClaim volume naming it.
 *
 * persistentVolumeClaimRetentionPolicy: whenDeleted Delete gives each claim an owner reference
 * to the set (the garbage collector removes the claims with the set); whenScaled Delete gives a
 * claim an owner reference to its pod when a scale-down condemns the pod, so the claim goes with
 * it. Retain (the default for both) leaves claims alone.
 */
import type { Obj } from '../client/types.js';

/** the claim name for `template` and the set's pod of `ordinal` */
export const claimName = (template: Obj, set: Obj, ordinal: number): string => `${template.metadata?.name}-${set.metadata.name}-${ordinal}`;

const templates = (set: Obj): Obj[] => set.spec?.volumeClaimTemplates ?? [];

export const retainOnDelete = (set: Obj): boolean => (set.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? 'Retain') === 'Retain';
export const retainOnScaleDown = (set: Obj): boolean => (set.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? 'Retain') === 'Retain';

function ownerRef(o: Obj, apiVersion: string, kind: string, controller: boolean): Obj {
  return { apiVersion, kind, name: o.metadata.name, uid: o.metadata.uid, ...(controller ? { controller: true, blockOwnerDeletion: true } : {}) };
}

/** the claims the set's pod of `ordinal` needs, as they are created */
export function claimsForPod(set: Obj, ordinal: number): Obj[] {
  return templates(set).map((t) => {
    const meta: Obj = {
      name: claimName(t, set, ordinal),
      namespace: set.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), ...(set.spec?.selector?.matchLabels ?? {}) },
    };
    if (t.metadata?.annotations) meta.annotations = { ...t.metadata.annotations };
    if (!retainOnDelete(set)) meta.ownerReferences = [ownerRef(set, 'apps/v1', 'StatefulSet', true)];
    return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta, spec: structuredClone(t.spec ?? {}) };
  });
}

/** the pod spec with each template's volume a persistentVolumeClaim volume of its claim (updateStorage) */
export function withClaimVolumes(spec: Obj, set: Obj, ordinal: number): Obj {
  const tpls = templates(set);
  if (!tpls.length) return spec;
  const names = new Set(tpls.map((t) => t.metadata?.name));
  const volumes = (spec.volumes ?? []).filter((v: Obj) => !names.has(v.name));
  for (const t of tpls) volumes.push({ name: t.metadata.name, persistentVolumeClaim: { claimName: claimName(t, set, ordinal) } });
  return { ...spec, volumes };
}

/** a condemned pod's claim with the pod as an owner too (whenScaled Delete), or undefined when it has it */
export function claimOwnedByPod(claim: Obj, pod: Obj): Obj | undefined {
  const refs: Obj[] = claim.metadata.ownerReferences ?? [];
  if (refs.some((r) => r.uid === pod.metadata.uid)) return undefined;
  // the pod owns the claim; a set's owner reference, if any, stays but is no longer the controller
  const kept = refs.map((r) => ({ ...r, controller: undefined })).map((r) => JSON.parse(JSON.stringify(r)));
  return { ...claim, metadata: { ...claim.metadata, ownerReferences: [...kept, ownerRef(pod, 'v1', 'Pod', true)] } };
}
