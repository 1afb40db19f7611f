/**
 * Controllers that keep one object in every active namespace, as two of kube-controller-manager's
 * do:
 *
 *   serviceaccount-controller   the `default` ServiceAccount (made again if deleted)
 *   root-ca-cert-publisher      the `kube-root-ca.crt` ConfigMap holding the API server's CA
 *                               (made again if deleted, put back if changed), which every pod's
 *                               kube-api-access volume projects as ca.crt
 *
 *   namespace informer ─┐
 *   object informer ────┴─> queue of namespaces ──> sync(ns): missing -> create; drifted -> update
 *
 * A terminating namespace is left alone (the namespace controller is emptying it).
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo, type ResourceInfo } from '../api/registry.js';
import type { Client, Obj } from '../client/types.js';
import { Informer } from '../client/informer.js';
import { DEFAULT_SERVICE_ACCOUNT, ROOT_CA_CONFIGMAP } from '../api/service-account.js';
import { runWorkers, WorkQueue } from './workqueue.js';

const NAMESPACES = resourceInfo('namespaces')!;
const SERVICEACCOUNTS = resourceInfo('serviceaccounts')!;
const CONFIGMAPS = resourceInfo('configmaps')!;

export interface NamespaceObjectSpec {
  /** the controller's name, for logs */
  what: string;
  r: ResourceInfo;
  name: string;
  /** the object as it should be made in `ns` */
  desired(ns: string): Obj;
  /** the stored object with what it should hold put back, or undefined when it is as it should be */
  repair?(existing: Obj): Obj | undefined;
}

export class NamespaceObjectController {
  private readonly namespaces: Informer;
  private readonly objects: Informer;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 30_000 });
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly spec: NamespaceObjectSpec,
    opts: { log?: (line: string) => void } = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.namespaces = new Informer(client, NAMESPACES, { log: this.log });
    this.objects = new Informer(client, spec.r, { fieldSelector: `metadata.name=${spec.name}`, log: this.log });
    const byNs = (o: Obj) => o.metadata?.name && this.queue.add(o.metadata.name);
    this.namespaces.addEventHandler({ add: byNs, update: (_o, n) => byNs(n) });
    const byObj = (o: Obj) => o.metadata?.namespace && this.queue.add(o.metadata.namespace);
    this.objects.addEventHandler({ update: (_o, n) => byObj(n), delete: byObj });
  }

  async start(): Promise<void> {
    await Promise.all([this.namespaces.start(), this.objects.start()]);
    this.running = runWorkers(this.queue, 1, (ns) => this.sync(ns), (l) => this.log(`${this.spec.what}: ${l}`));
  }

  async stop(): Promise<void> {
    this.namespaces.stop();
    this.objects.stop();
    this.queue.shutDown();
    await this.running;
  }

  private async sync(ns: string): Promise<void> {
    const nsObj = this.namespaces.cache.getByName(undefined, ns);
    if (!nsObj || nsObj.metadata?.deletionTimestamp || nsObj.status?.phase === 'Terminating') return;
    const res = this.client.resource(this.spec.r);
    const existing = await res.tryGet(ns, this.spec.name);
    if (!existing) {
      try {
        await res.create(ns, this.spec.desired(ns));
      } catch (e) {
        // made meanwhile, or the namespace started terminating: nothing to do
        if (e instanceof ApiError && (e.reason === 'AlreadyExists' || e.reason === 'Forbidden' || e.reason === 'NotFound')) return;
        throw e;
      }
      return;
    }
    const repaired = this.spec.repair?.(existing);
    if (repaired) await res.update(repaired);
  }
}

/** serviceaccount-controller: `default` in every namespace */
export function serviceAccountsController(client: Client, opts: { log?: (line: string) => void } = {}): NamespaceObjectController {
  return new NamespaceObjectController(client, { what: 'serviceaccount controller', r: SERVICEACCOUNTS, name: DEFAULT_SERVICE_ACCOUNT, desired: () => ({ metadata: { name: DEFAULT_SERVICE_ACCOUNT } }) }, opts);
}

/** the annotation rootcacertpublisher puts on the ConfigMap */
export const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

/** root-ca-cert-publisher: `kube-root-ca.crt` with the API server's CA as ca.crt in every namespace */
export function rootCaPublisher(client: Client, caPem: string, opts: { log?: (line: string) => void } = {}): NamespaceObjectController {
  const annotations = { 'kubernetes.io/description': ROOT_CA_DESCRIPTION };
  return new NamespaceObjectController(
    client,
    {
      what: 'root CA publisher',
      r: CONFIGMAPS,
      name: ROOT_CA_CONFIGMAP,
      desired: () => ({ metadata: { name: ROOT_CA_CONFIGMAP, annotations }, data: { 'ca.crt': caPem } }),
      repair(cm) {
        const data = cm.data ?? {};
        const sameData = Object.keys(data).length === 1 && data['ca.crt'] === caPem && !cm.binaryData;
        const sameNote = cm.metadata?.annotations?.['kubernetes.io/description'] === ROOT_CA_DESCRIPTION;
        if (sameData && sameNote) return undefined;
        return { ...cm, metadata: { ...cm.metadata, annotations: { ...(cm.metadata?.annotations ?? {}), ...annotations } }, data: { 'ca.crt': caPem }, binaryData: undefined };
      },
    },
    opts,
  );
}
