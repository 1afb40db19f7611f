/**
 * kube-controller-manager's EndpointSliceMirroring controller: the Endpoints of a Service
 * WITHOUT a selector (written by hand, or by something outside the cluster) are mirrored into
 * EndpointSlices, so what reads slices (podbay's service proxy and cluster DNS, `kubectl describe
 * svc` since 1.33) sees them, as on a cluster:
 *
 *   Endpoints NS/NAME (Service NS/NAME exists, has no selector, and the Endpoints are not labelled
 *   endpointslice.kubernetes.io/skip-mirror=true, the label the endpoints controller puts on its own)
 *     -> one slice per address type and port set, generateName NAME-, owned by the Endpoints
 *        (controller reference), labels = the Endpoints' + kubernetes.io/service-name=NAME and
 *        endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io, the
 *        annotations but last-applied-configuration and endpoints.kubernetes.io/last-change-trigger-time;
 *        addresses ready, notReadyAddresses not ready (hostname, nodeName, targetRef kept),
 *        at most 1000 endpoints of a subset
 *   otherwise (no Service, a selector, the label, no Endpoints) -> no mirrored slice
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import type { Client } from '../client/types.js';
import { Informer } from '../client/informer.js';
import { runWorkers, WorkQueue } from './workqueue.js';
import { MANAGED_BY_LABEL, same, SERVICE_NAME_LABEL } from './endpoints.js';

const SERVICES = resourceInfo('services')!;
const ENDPOINTS = resourceInfo('endpoints')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io', 'v1')!;

export const MIRRORING_MANAGED_BY = 'endpointslicemirroring-controller.k8s.io';
export const SKIP_MIRROR_LABEL = 'endpointslice.kubernetes.io/skip-mirror';
const FIELD_MANAGER = 'endpointslicemirroring-controller';
/** maxEndpointsPerSubset: the addresses of one subset mirrored at most */
const MAX_PER_SUBSET = 1000;
const SKIPPED_ANNOTATIONS = new Set(['endpoints.kubernetes.io/last-change-trigger-time', 'kubectl.kubernetes.io/last-applied-configuration']);

export interface MirroringOptions {
  log?: (line: string) => void;
  resyncPeriodMs?: number;
}

interface WantedSlice {
  addressType: 'IPv4' | 'IPv6';
  ports: Obj[];
  endpoints: Obj[];
}

/** whether a Service's Endpoints are mirrored (the controller's shouldMirror and the selector check) */
export function mirrors(svc: Obj | undefined, ep: Obj | undefined): boolean {
  if (!svc || !ep) return false;
  if (svc.spec?.selector && Object.keys(svc.spec.selector).length > 0) return false;
  // a leader-election lock kept in an Endpoints object is no set of endpoints
  if (ep.metadata?.annotations?.['control-plane.alpha.kubernetes.io/leader'] !== undefined) return false;
  return ep.metadata?.labels?.[SKIP_MIRROR_LABEL] !== 'true';
}

/** the slices an Endpoints object mirrors into: one per address type and port set */
export function mirroredSlices(ep: Obj): WantedSlice[] {
  const out = new Map<string, WantedSlice>();
  for (const subset of (ep.subsets ?? []) as Obj[]) {
    const ports = ((subset.ports ?? []) as Obj[]).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP', ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) }));
    const addresses: [Obj, boolean][] = [...((subset.addresses ?? []) as Obj[]).map((a): [Obj, boolean] => [a, true]), ...((subset.notReadyAddresses ?? []) as Obj[]).map((a): [Obj, boolean] => [a, false])];
    for (const [a, ready] of addresses.slice(0, MAX_PER_SUBSET)) {
      const ip = String(a.ip ?? '');
      const addressType = ip.includes(':') ? 'IPv6' : 'IPv4';
      const key = `${addressType} ${JSON.stringify(ports)}`;
      let slice = out.get(key);
      if (!slice) out.set(key, (slice = { addressType, ports, endpoints: [] }));
      const e: Obj = { addresses: [ip], conditions: { ready } };
      if (a.hostname) e.hostname = a.hostname;
      if (a.nodeName) e.nodeName = a.nodeName;
      if (a.targetRef) e.targetRef = a.targetRef;
      slice.endpoints.push(e);
    }
  }
  return [...out.values()];
}

function sliceMeta(ep: Obj): { labels: Record<string, string>; annotations: Record<string, string> } {
  const labels: Record<string, string> = { ...(ep.metadata.labels ?? {}), [SERVICE_NAME_LABEL]: ep.metadata.name, [MANAGED_BY_LABEL]: MIRRORING_MANAGED_BY };
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries((ep.metadata.annotations ?? {}) as Record<string, string>)) if (!SKIPPED_ANNOTATIONS.has(k)) annotations[k] = v;
  return { labels, annotations };
}

export class EndpointSliceMirroringController {
  private readonly services: Informer;
  private readonly endpoints: Informer;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    opts: MirroringOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    const resync = opts.resyncPeriodMs ?? 300_000;
    this.services = new Informer(client, SERVICES, { resyncPeriodMs: resync, log: this.log });
    this.endpoints = new Informer(client, ENDPOINTS, { resyncPeriodMs: resync, log: this.log });
    const key = (o: Obj) => this.queue.add(`${o.metadata.namespace}/${o.metadata.name}`);
    for (const inf of [this.services, this.endpoints]) inf.addEventHandler({ add: key, update: (_o, n) => key(n), delete: key });
  }

  async start(): Promise<void> {
    await this.services.start();
    await this.endpoints.start();
    this.running = runWorkers(this.queue, 1, (k) => this.sync(k), (l) => this.log(`endpointslice mirroring controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.services.stop();
    this.endpoints.stop();
    this.queue.shutDown();
    await this.running;
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const slices = this.client.resource(SLICES);
    const svc = await this.client.resource(SERVICES).tryGet(ns, name);
    const ep = await this.client.resource(ENDPOINTS).tryGet(ns, name);
    const existing = (await slices.list(ns, { labelSelector: `${SERVICE_NAME_LABEL}=${name},${MANAGED_BY_LABEL}=${MIRRORING_MANAGED_BY}` })).items;
    const wanted = mirrors(svc, ep) ? mirroredSlices(ep!) : [];
    const opts = { fieldManager: FIELD_MANAGER };
    const unused = [...existing];
    if (wanted.length) {
      const { labels, annotations } = sliceMeta(ep!);
      const owner = { apiVersion: 'v1', kind: 'Endpoints', name, uid: ep!.metadata.uid, controller: true, blockOwnerDeletion: true };
      for (const w of wanted) {
        const i = unused.findIndex((s) => s.addressType === w.addressType && same(s.ports ?? [], w.ports));
        const current = i >= 0 ? unused.splice(i, 1)[0] : undefined;
        const body = { addressType: w.addressType, ports: w.ports, endpoints: w.endpoints };
        if (!current) {
          await slices.create(ns, { metadata: { generateName: `${name}-`, namespace: ns, labels, annotations, ownerReferences: [owner] }, ...body }, opts);
        } else if (!same(current.endpoints ?? [], w.endpoints) || !same(current.metadata.labels, labels) || !same(current.metadata.annotations ?? {}, annotations) || !same(current.metadata.ownerReferences, [owner])) {
          await slices.update({ ...current, ...body, metadata: { ...current.metadata, labels, annotations, ownerReferences: [owner] } }, opts);
        }
      }
    }
    for (const s of unused) {
      try {
        await slices.delete(ns, s.metadata.name);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
  }
}
