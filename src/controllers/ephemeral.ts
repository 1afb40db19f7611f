/**
 * The ephemeral volume controller (kube-controller-manager's): for each pod's generic ephemeral
 * volume, the claim `<pod>-<volume>` made from its volumeClaimTemplate and owned by the pod
 * (controller, blockOwnerDeletion), so the garbage collector removes it with the pod and
 * pvc-protection keeps it while the pod runs. A claim of that name the pod does not own is
 * left alone: the scheduler and the kubelet refuse it (`PVC default/x was not created for pod
 * default/y (pod is not owner)`), as upstream.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { EventRecorder } from '../client/events.js';
import { Informer, objectKey } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { QueueController } from './queue-controller.js';

const PODS = resourceInfo('pods')!;
const CLAIMS = resourceInfo('persistentvolumeclaims')!;

/** the claim a pod's ephemeral volume uses (ephemeral.VolumeClaimName) */
export const ephemeralClaimName = (pod: Obj, volume: Obj): string => `${pod.metadata.name}-${volume.name}`;

/** the claim the controller makes for a pod's ephemeral volume */
export function ephemeralClaim(pod: Obj, volume: Obj): Obj {
  const t = volume.ephemeral?.volumeClaimTemplate ?? {};
  const meta: Obj = {
    name: ephemeralClaimName(pod, volume),
    namespace: pod.metadata.namespace,
    ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid, controller: true, blockOwnerDeletion: true }],
  };
  if (t.metadata?.labels) meta.labels = { ...t.metadata.labels };
  if (t.metadata?.annotations) meta.annotations = { ...t.metadata.annotations };
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta, spec: structuredClone(t.spec ?? {}) };
}

const hasEphemeral = (p: Obj) => (p.spec?.volumes ?? []).some((v: Obj) => v.ephemeral);

export class EphemeralVolumeController extends QueueController {
  private readonly pods: Informer<Obj>;
  private readonly events: EventRecorder;

  constructor(client: Client, opts: { log?: (line: string) => void } = {}) {
    super(client, 'ephemeral volume controller', opts);
    this.events = new EventRecorder(client, 'ephemeral_volume', '', this.log);
    this.pods = this.informer(PODS);
    const pod = (p: Obj) => hasEphemeral(p) && !p.metadata.deletionTimestamp && this.queue.add(objectKey(p));
    this.pods.addEventHandler({ add: pod, update: (_o, p) => pod(p) });
  }

  protected async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const pod = this.pods.cache.getByName(ns, name);
    if (!pod || pod.metadata.deletionTimestamp) return;
    for (const v of (pod.spec?.volumes ?? []) as Obj[]) {
      if (!v.ephemeral) continue;
      const claim = ephemeralClaim(pod, v);
      if (await this.client.resource(CLAIMS).tryGet(ns, claim.metadata.name)) continue;
      try {
        await this.client.resource(CLAIMS).create(ns, claim);
      } catch (e) {
        if (e instanceof ApiError && e.reason === 'AlreadyExists') continue;
        this.events.record(pod, 'Warning', 'FailedBinding', `create PVC ${claim.metadata.name}: ${(e as Error).message}`);
        throw e;
      }
    }
  }
}
