/**
 * The pvc-protection and pv-protection controllers: the finalizers the API puts on every claim
 * and volume at create (src/registry/strategy/volume.ts) are taken off a claim marked for
 * deletion once no pod uses it, and off a volume marked for deletion once it is not Bound. So
 * `kubectl delete pvc` while a pod writes to it leaves the claim Terminating until the pod is
 * gone, as in Kubernetes.
 *
 * A pod uses a claim while it exists and has not finished (phase Succeeded or Failed), whether
 * or not it is scheduled yet (a pending pod would otherwise start on a claim being deleted).
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { Informer } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER } from '../api/storage.js';
import { QueueController } from './queue-controller.js';

const CLAIMS = resourceInfo('persistentvolumeclaims')!;
const VOLUMES = resourceInfo('persistentvolumes')!;
const PODS = resourceInfo('pods')!;
const BY_CLAIM = 'claim';

/** the claims (namespace/name) a pod's volumes name */
export function podClaims(pod: Obj): string[] {
  const ns = pod.metadata?.namespace;
  const out: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    if (v.persistentVolumeClaim?.claimName) out.push(`${ns}/${v.persistentVolumeClaim.claimName}`);
    // a generic ephemeral volume's claim is named <pod>-<volume>
    if (v.ephemeral) out.push(`${ns}/${pod.metadata.name}-${v.name}`);
  }
  return out;
}

const finished = (p: Obj) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export class VolumeProtectionController extends QueueController {
  private readonly claims: Informer<Obj>;
  private readonly volumes: Informer<Obj>;
  private readonly pods: Informer<Obj>;

  constructor(client: Client, opts: { log?: (line: string) => void } = {}) {
    super(client, 'volume protection', opts);
    this.claims = this.informer(CLAIMS);
    this.volumes = this.informer(VOLUMES);
    this.pods = this.informer(PODS, { indexers: { [BY_CLAIM]: podClaims } });
    const claim = (c: Obj) => c.metadata.deletionTimestamp && this.queue.add(`claim:${c.metadata.namespace}/${c.metadata.name}`);
    const volume = (v: Obj) => v.metadata.deletionTimestamp && this.queue.add(`volume:${v.metadata.name}`);
    this.claims.addEventHandler({ add: claim, update: (_o, c) => claim(c) });
    this.volumes.addEventHandler({ add: volume, update: (_o, v) => volume(v) });
    // a pod gone or finished may free its claims
    const pod = (p: Obj) => podClaims(p).forEach((k) => this.queue.add(`claim:${k}`));
    this.pods.addEventHandler({ update: (_o, p) => finished(p) && pod(p), delete: pod });
  }

  protected async sync(key: string): Promise<void> {
    if (key.startsWith('claim:')) {
      const [ns, name] = key.slice(6).split('/') as [string, string];
      const c = this.claims.cache.getByName(ns, name);
      if (!c?.metadata.deletionTimestamp || !c.metadata.finalizers?.includes(PVC_PROTECTION_FINALIZER)) return;
      // the live list, not the cache: a pod just made must not lose its claim (upstream asks the API too)
      const users = (await this.client.resource(PODS).list(ns)).items.filter((p) => !finished(p) && podClaims(p).includes(`${ns}/${name}`));
      if (users.length) return;
      return this.dropFinalizer(CLAIMS, c, PVC_PROTECTION_FINALIZER);
    }
    const v = this.volumes.cache.getByName(undefined, key.slice(7));
    if (!v?.metadata.deletionTimestamp || !v.metadata.finalizers?.includes(PV_PROTECTION_FINALIZER)) return;
    if (v.status?.phase === 'Bound') return;
    return this.dropFinalizer(VOLUMES, v, PV_PROTECTION_FINALIZER);
  }

  private async dropFinalizer(r: typeof CLAIMS, o: Obj, f: string): Promise<void> {
    try {
      await this.client.resource(r).update({ ...o, metadata: { ...o.metadata, finalizers: o.metadata.finalizers.filter((x: string) => x !== f) } });
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
    }
  }
}
