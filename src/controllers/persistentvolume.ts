/**
 * The PersistentVolume controller (kube-controller-manager's persistentvolume-binder, with the
 * local-path provisioner of local-path.ts in the same loop, as k3s runs both):
 *
 *   claim informer ──┐
 *   volume informer ─┼─> queue ──> syncClaim(ns/name) | syncVolume(name)
 *   class informer ──┘
 *
 * syncClaim: an unbound claim gets the best matching volume (volume-binding.ts) and both are
 * bound (volume.spec.claimRef, claim.spec.volumeName, phases Bound); without one it waits for
 * its first consumer (WaitForFirstConsumer), or its class's provisioner is asked (ExternalProvisioning)
 * and, for rancher.io/local-path, a directory and a pre-bound volume are made here
 * (Provisioning, ProvisioningSucceeded). A bound claim whose volume is gone is Lost.
 * syncVolume: a volume without a claim is Available; one whose claim is gone is Released and
 * reclaimed: Retain keeps it, Delete removes it (the local-path directory first), Recycle is
 * refused (VolumeFailedRecycle) as it is deprecated and podbay has no recycler.
 *
 * Writes carry the cached resourceVersion: a stale cache gets a Conflict and the key is retried.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { EventRecorder } from '../client/events.js';
import { Informer } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { rfc3339 } from '../api/time.js';
import { cannotProvision, LOCAL_PATH_CLASS, LOCAL_PATH_PROVISIONER, localPathStorageClass, localPathVolume, LocalPathStorage, selectedNode } from './local-path.js';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_PROVISIONED_BY,
  ANN_STORAGE_PROVISIONER,
  claimRefOf,
  className,
  findMatchingVolume,
  volumeBoundToClaim,
} from './volume-binding.js';
import { QueueController } from './queue-controller.js';

const CLAIMS = resourceInfo('persistentvolumeclaims')!;
const VOLUMES = resourceInfo('persistentvolumes')!;
const CLASSES = resourceInfo('storageclasses', 'storage.k8s.io')!;
const NODES = resourceInfo('nodes')!;

export interface VolumeControllerOptions {
  /** where local-path volumes live (--local-path-dir) */
  localPathDir: string;
  /** this node: local-path volumes are made for claims whose selected node it is */
  nodeName: string;
  /** make the default `local-path` StorageClass when it is missing (k3s's local-storage manifest) */
  defaultClass?: boolean;
  workers?: number;
  log?: (line: string) => void;
}

const claimKey = (ns: string, name: string) => `claim:${ns}/${name}`;
const volumeKey = (name: string) => `volume:${name}`;

export class PersistentVolumeController extends QueueController {
  private readonly claims: Informer<Obj>;
  private readonly volumes: Informer<Obj>;
  private readonly classes: Informer<Obj>;
  private readonly binderEvents: EventRecorder;
  private readonly provisionerEvents: EventRecorder;
  private readonly storage: LocalPathStorage;

  constructor(
    client: Client,
    private readonly opts: VolumeControllerOptions,
  ) {
    super(client, 'persistentvolume controller', { log: opts.log, workers: opts.workers ?? 2, rate: { baseMs: 100, maxMs: 60_000 } });
    this.binderEvents = new EventRecorder(client, 'persistentvolume-controller', '', this.log);
    this.provisionerEvents = new EventRecorder(client, `${LOCAL_PATH_PROVISIONER}_podbay-${opts.nodeName}`, '', this.log);
    this.storage = new LocalPathStorage(opts.localPathDir);
    this.claims = this.informer(CLAIMS, { resyncPeriodMs: 15_000 });
    this.volumes = this.informer(VOLUMES, { resyncPeriodMs: 15_000 });
    this.classes = this.informer(CLASSES);
    const onClaim = (c: Obj) => this.queue.add(claimKey(c.metadata.namespace, c.metadata.name));
    const onVolume = (v: Obj) => {
      this.queue.add(volumeKey(v.metadata.name));
      const ref = v.spec?.claimRef;
      if (ref?.name && ref.namespace) this.queue.add(claimKey(ref.namespace, ref.name));
    };
    this.claims.addEventHandler({
      add: onClaim,
      update: (_o, c) => onClaim(c),
      // a claim gone: its volume is Released
      delete: (c) => {
        const pv = c.spec?.volumeName;
        if (pv) this.queue.add(volumeKey(pv));
      },
    });
    this.volumes.addEventHandler({ add: onVolume, update: (_o, v) => onVolume(v), delete: onVolume });
    // a class made later: the claims that name it are looked at again
    this.classes.addEventHandler({ add: (sc) => this.claims.cache.list().filter((c) => className(c) === sc.metadata.name && !c.spec?.volumeName).forEach(onClaim) });
  }

  protected override async beforeStart(): Promise<void> {
    if (this.opts.defaultClass ?? true) await this.ensureDefaultClass();
  }

  private async ensureDefaultClass(): Promise<void> {
    if (await this.client.resource(CLASSES).tryGet(undefined, LOCAL_PATH_CLASS)) return;
    try {
      await this.client.resource(CLASSES).create(undefined, localPathStorageClass(this.opts.nodeName));
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
    }
  }

  protected sync(key: string): Promise<void> {
    if (key.startsWith('claim:')) {
      const [ns, name] = key.slice('claim:'.length).split('/') as [string, string];
      return this.syncClaim(ns, name);
    }
    return this.syncVolume(key.slice('volume:'.length));
  }

  // ---------------------------------------------------------------- claims

  private async syncClaim(ns: string, name: string): Promise<void> {
    const claim = this.claims.cache.getByName(ns, name);
    if (!claim || claim.metadata.deletionTimestamp) return;
    if (!claim.spec?.volumeName) return this.syncUnboundClaim(claim);
    const pv = this.volumes.cache.getByName(undefined, claim.spec.volumeName);
    if (!pv) {
      if (claim.status?.phase === 'Bound' || claim.metadata.annotations?.[ANN_BIND_COMPLETED]) {
        await this.claimStatus(claim, { phase: 'Lost' });
        this.binderEvents.record(claim, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      }
      return; // a claim that names a volume not made yet waits for it (pre-bound by the user)
    }
    if (!pv.spec?.claimRef) return this.bind(pv, claim);
    if (!volumeBoundToClaim(pv, claim)) {
      if (claim.status?.phase === 'Bound') {
        await this.claimStatus(claim, { phase: 'Lost' });
        this.binderEvents.record(claim, 'Warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
      }
      return;
    }
    return this.bind(pv, claim);
  }

  private async syncUnboundClaim(claim: Obj): Promise<void> {
    const cls = className(claim);
    const sc = cls ? this.classes.cache.getByName(undefined, cls) : undefined;
    const delayed = sc?.volumeBindingMode === 'WaitForFirstConsumer';
    const node = selectedNode(claim);
    if (delayed && !node) {
      this.binderEvents.record(claim, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      return;
    }
    const nodeObj = node ? await this.client.resource(NODES).tryGet(undefined, node) : undefined;
    const pv = findMatchingVolume(claim, this.volumes.cache.list(), nodeObj, delayed);
    if (pv) return this.bind(pv, claim);
    if (!cls) {
      this.binderEvents.record(claim, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      return;
    }
    if (!sc) {
      this.binderEvents.record(claim, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${cls}" not found`);
      return;
    }
    if (sc.provisioner === 'kubernetes.io/no-provisioner') {
      this.binderEvents.record(claim, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      return;
    }
    // ask the class's provisioner (the annotation an external provisioner watches for)
    const anns = claim.metadata.annotations ?? {};
    if (anns[ANN_STORAGE_PROVISIONER] !== sc.provisioner) {
      await this.client.resource(CLAIMS).update({ ...claim, metadata: { ...claim.metadata, annotations: { ...anns, [ANN_STORAGE_PROVISIONER]: sc.provisioner, [ANN_BETA_STORAGE_PROVISIONER]: sc.provisioner } } });
      return; // the update brings the claim back
    }
    this.binderEvents.record(
      claim,
      'Normal',
      'ExternalProvisioning',
      `Waiting for a volume to be created either by the external provisioner '${sc.provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
    );
    if (sc.provisioner === LOCAL_PATH_PROVISIONER) await this.provision(claim, sc, node ?? this.opts.nodeName);
  }

  /** the local-path provisioner's part: a directory and a volume pre-bound to the claim */
  private async provision(claim: Obj, sc: Obj, node: string): Promise<void> {
    if (node !== this.opts.nodeName) return; // another node's claim: its own provisioner makes it
    const why = cannotProvision(claim);
    if (why) {
      this.provisionerEvents.record(claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${sc.metadata.name}": ${why}`);
      return;
    }
    const { path, pv } = localPathVolume(claim, sc, this.opts.localPathDir, node);
    if (this.volumes.cache.getByName(undefined, pv.metadata.name)) return; // made already; binding follows
    this.provisionerEvents.record(claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${claim.metadata.namespace}/${claim.metadata.name}"`);
    try {
      await this.storage.make(path);
    } catch (e) {
      this.provisionerEvents.record(claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${sc.metadata.name}": ${(e as Error).message}`);
      throw e;
    }
    try {
      await this.client.resource(VOLUMES).create(undefined, pv);
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
    }
    this.provisionerEvents.record(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pv.metadata.name}`);
  }

  /** bind volume and claim both ways (bindVolumeToClaim, then bindClaimToVolume), then their phases */
  private async bind(pv: Obj, claim: Obj): Promise<void> {
    let volume = pv;
    if (!volumeBoundToClaim(pv, claim) || !pv.spec.claimRef.uid) {
      const anns = { ...(pv.metadata.annotations ?? {}) };
      if (!pv.spec?.claimRef) anns[ANN_BOUND_BY_CONTROLLER] = 'yes';
      volume = await this.client.resource(VOLUMES).update({ ...pv, metadata: { ...pv.metadata, annotations: anns }, spec: { ...pv.spec, claimRef: claimRefOf(claim) } });
    }
    if (volume.status?.phase !== 'Bound') volume = await this.client.resource(VOLUMES).update({ ...volume, status: { ...(volume.status ?? {}), phase: 'Bound' } }, { sub: 'status' });
    let c = claim;
    const anns = c.metadata.annotations ?? {};
    if (c.spec?.volumeName !== volume.metadata.name || anns[ANN_BIND_COMPLETED] !== 'yes') {
      const next = { ...anns, [ANN_BIND_COMPLETED]: 'yes' };
      if (!c.spec?.volumeName) next[ANN_BOUND_BY_CONTROLLER] = 'yes';
      c = await this.client.resource(CLAIMS).update({ ...c, metadata: { ...c.metadata, annotations: next }, spec: { ...c.spec, volumeName: volume.metadata.name } });
    }
    await this.claimStatus(c, { phase: 'Bound', accessModes: volume.spec.accessModes, capacity: volume.spec.capacity });
  }

  private async claimStatus(claim: Obj, status: Obj): Promise<void> {
    const next = { ...(claim.status ?? {}), ...status };
    if (JSON.stringify(next) === JSON.stringify(claim.status ?? {})) return;
    await this.client.resource(CLAIMS).update({ ...claim, status: next }, { sub: 'status' });
  }

  // ---------------------------------------------------------------- volumes

  private async syncVolume(name: string): Promise<void> {
    const pv = this.volumes.cache.getByName(undefined, name);
    if (!pv || pv.metadata.deletionTimestamp) return;
    const ref = pv.spec?.claimRef;
    if (!ref) return this.volumeStatus(pv, 'Available');
    // the claim as the API has it now, not as a cache may lag behind: a Released volume is deleted
    const claim = ref.namespace && ref.name ? await this.client.resource(CLAIMS).tryGet(ref.namespace, ref.name) : undefined;
    if (!ref.uid) {
      // pre-bound by name only: waits for that claim (syncClaim binds it)
      return this.volumeStatus(pv, 'Available');
    }
    if (claim && claim.metadata.uid === ref.uid) {
      if (claim.spec?.volumeName === pv.metadata.name) return this.volumeStatus(pv, 'Bound');
      return; // binding in progress: the claim's sync completes it
    }
    // the claim is gone: Released, then reclaimed
    if (pv.status?.phase !== 'Released' && pv.status?.phase !== 'Failed') await this.volumeStatus(pv, 'Released');
    const policy = pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain';
    if (policy === 'Retain') return;
    if (policy === 'Recycle') {
      await this.volumeStatus(pv, 'Failed', 'Recycle is not supported by podbay (the Recycle reclaim policy is deprecated): use Delete or Retain');
      this.recordVolume(pv, 'Warning', 'VolumeFailedRecycle', 'Recycle is not supported by podbay (the Recycle reclaim policy is deprecated)');
      return;
    }
    if (pv.metadata.annotations?.[ANN_PROVISIONED_BY] !== LOCAL_PATH_PROVISIONER) {
      const msg = `error getting deleter volume plugin for volume "${pv.metadata.name}": no deletable volume plugin matched`;
      if (pv.status?.phase !== 'Failed') this.recordVolume(pv, 'Warning', 'VolumeFailedDelete', msg);
      await this.volumeStatus(pv, 'Failed', msg);
      return;
    }
    try {
      await this.storage.remove(pv);
    } catch (e) {
      const msg = `failed to delete volume ${pv.metadata.name}: ${(e as Error).message}`;
      this.recordVolume(pv, 'Warning', 'VolumeFailedDelete', msg);
      await this.volumeStatus(pv, 'Failed', msg);
      return;
    }
    try {
      await this.client.resource(VOLUMES).delete(undefined, pv.metadata.name, { preconditions: { uid: pv.metadata.uid } });
    } catch (e) {
      if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict'))) throw e;
    }
  }

  private async volumeStatus(pv: Obj, phase: string, message?: string): Promise<void> {
    if (pv.status?.phase === phase && (message === undefined || pv.status?.message === message)) return;
    const status: Obj = { phase, lastPhaseTransitionTime: rfc3339() };
    if (message) status.message = message;
    await this.client.resource(VOLUMES).update({ ...pv, status }, { sub: 'status' });
  }

  /** a volume's event: cluster-scoped objects' events go to the default namespace, as upstream's recorder puts them */
  private recordVolume(pv: Obj, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.binderEvents.record({ ...pv, metadata: { ...pv.metadata, namespace: 'default' } }, type, reason, message);
  }
}
