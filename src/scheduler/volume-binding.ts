/**
 * kube-scheduler's VolumeBinding plugin for a node: a pod's persistentVolumeClaim volumes
 * decide whether it can be bound now.
 *   - a claim that does not exist or is being deleted: unschedulable, worded as upstream
 *     (`persistentvolumeclaim "data" not found`);
 *   - an unbound claim of a class that binds at once (or of no class): unschedulable with
 *     `pod has unbound immediate PersistentVolumeClaims`, until the PV controller binds it;
 *   - an unbound claim of a WaitForFirstConsumer class fits a node its allowedTopologies allow
 *     (podbay's local-path class: the server's node, where its provisioner runs; upstream's
 *     `node(s) didn't find available persistent volumes to bind` elsewhere); for the
 *     node chosen (`prebind`), the scheduler writes the volume.kubernetes.io/selected-node
 *     annotation on the claim (upstream's PreBind), and the pod waits, without a condition,
 *     until the claim is Bound (the provisioner runs);
 *   - a bound claim whose volume may not be used on this node (its node affinity): unschedulable
 *     with `node(s) had volume node affinity conflict`.
 */
import type { Obj } from '../api/types.js';
import { classAllowsNode, volumeAllowsNode } from '../api/node-selector.js';
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { ANN_SELECTED_NODE } from '../api/storage.js';
import type { Client } from '../client/types.js';
import { misfit, type Misfit } from './diagnosis.js';

const CLAIMS = resourceInfo('persistentvolumeclaims')!;
const VOLUMES = resourceInfo('persistentvolumes')!;
const CLASSES = resourceInfo('storageclasses', 'storage.k8s.io')!;

/**
 * misfit: this node cannot take the pod; prefilter: no node can (upstream's PreFilter, whose
 * reason is not counted per node); wait: the chosen node's claims are being provisioned
 */
export type VolumeVerdict = { fits: true } | { misfit: Misfit } | { prefilter: string } | { wait: string };

/** What the pod's claims say about binding it to `nodeName` now; `prebind`: it was chosen, select it for waiting claims. */
export async function checkPodVolumes(client: Client, pod: Obj, nodeName: string, node: Obj | undefined, prebind = true): Promise<VolumeVerdict> {
  const ns = pod.metadata.namespace;
  const unschedulable = (why: string): VolumeVerdict => ({ prefilter: why });
  let waiting: string | undefined;
  for (const v of (pod.spec?.volumes ?? []) as Obj[]) {
    // a generic ephemeral volume's claim is <pod>-<volume>, made by the ephemeral volume controller
    const name = v.persistentVolumeClaim?.claimName ?? (v.ephemeral ? `${pod.metadata.name}-${v.name}` : undefined);
    if (!name) continue;
    const claim = await client.resource(CLAIMS).tryGet(ns, name);
    if (!claim && v.ephemeral) return unschedulable(`waiting for ephemeral volume controller to create the persistentvolumeclaim "${name}"`);
    if (!claim) return unschedulable(`persistentvolumeclaim "${name}" not found`);
    if (v.ephemeral && !(claim.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === pod.metadata.uid && r.controller)) {
      return unschedulable(`PVC ${ns}/${name} was not created for pod ${ns}/${pod.metadata.name} (pod is not owner)`);
    }
    if (claim.metadata.deletionTimestamp) return unschedulable(`persistentvolumeclaim "${name}" is being deleted`);
    if (claim.spec?.volumeName) {
      const pv = await client.resource(VOLUMES).tryGet(undefined, claim.spec.volumeName);
      if (!pv) return unschedulable(`pvc(s) bound to non-existent pv(s)`);
      if (!volumeAllowsNode(pv, node)) return { misfit: misfit('node(s) had volume node affinity conflict', true) };
      continue;
    }
    const cls = claim.spec?.storageClassName;
    const sc = cls ? await client.resource(CLASSES).tryGet(undefined, cls) : undefined;
    if (sc?.volumeBindingMode !== 'WaitForFirstConsumer') return unschedulable('pod has unbound immediate PersistentVolumeClaims');
    // a volume can be provisioned only where the class's allowedTopologies say (checkVolumeProvisions)
    if (!classAllowsNode(sc, node)) return { misfit: misfit("node(s) didn't find available persistent volumes to bind", true) };
    if (!prebind) continue;
    if (claim.metadata.annotations?.[ANN_SELECTED_NODE] !== nodeName) {
      try {
        await client.resource(CLAIMS).update({ ...claim, metadata: { ...claim.metadata, annotations: { ...(claim.metadata.annotations ?? {}), [ANN_SELECTED_NODE]: nodeName } } });
      } catch (e) {
        if (!(e instanceof ApiError && (e.reason === 'Conflict' || e.reason === 'NotFound'))) throw e;
      }
    }
    waiting = `waiting for persistentvolumeclaim "${name}" to be bound`;
  }
  return waiting ? { wait: waiting } : { fits: true };
}
