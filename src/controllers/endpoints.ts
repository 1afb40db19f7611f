/**
 * The endpoints and EndpointSlice controllers (kube-controller-manager's, for one node): for
 * each Service with a selector, the pods it selects become its Endpoints (named as the Service)
 * and EndpointSlices (labelled kubernetes.io/service-name, owned by the Service), so the service
 * proxy and cluster DNS know where to send traffic.
 *
 *   service and pod informers ──(a service, or a pod's services, changed)──> queue ──> sync(ns/name)
 *     sync: pods matching the selector that have an IP -> per port, the targetPort resolved for
 *           each pod (a number, or a named container port) -> addresses grouped by port set ->
 *           Endpoints subsets (ready / notReady) and one EndpointSlice per port set
 *           (conditions ready, serving, terminating); written only when they differ
 *
 * Ready is the pod's Ready condition; `publishNotReadyAddresses` counts every pod ready (for
 * headless services of StatefulSets); a terminating pod is not ready but serving while Ready.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import type { Client } from '../client/types.js';
import { Informer, NAMESPACE_INDEX } from '../client/informer.js';
import { runWorkers, WorkQueue } from './workqueue.js';
import { byString } from '../api/order.js';

const SERVICES = resourceInfo('services')!;
const PODS = resourceInfo('pods')!;
const ENDPOINTS = resourceInfo('endpoints')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io', 'v1')!;

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'endpointslice-controller.k8s.io';
const FIELD_MANAGER = 'endpointslice-controller';

export interface EndpointsControllerOptions {
  workers?: number;
  log?: (line: string) => void;
  resyncPeriodMs?: number;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function podReady(pod: Obj): boolean {
  return (pod.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
}

/** the port a service port reaches on `pod`: a number, or the container port of that name */
export function resolveTargetPort(pod: Obj, targetPort: number | string | undefined, port: number, protocol: string): number | undefined {
  if (targetPort === undefined || targetPort === '') return port;
  if (typeof targetPort === 'number') return targetPort;
  if (/^\d+$/.test(targetPort)) return Number(targetPort);
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])] as Obj[]) {
    for (const p of (c.ports ?? []) as Obj[]) {
      if (p.name === targetPort && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
    }
  }
  return undefined;
}

interface Member {
  pod: Obj;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

interface PortGroup {
  ports: { name?: string; port: number; protocol: string; appProtocol?: string }[];
  members: Member[];
}

/** Endpoints and EndpointSlice contents for a service and its pods (pure) */
export function desiredEndpoints(svc: Obj, pods: Obj[]): { endpoints: Obj; slices: { ports: Obj[]; endpoints: Obj[] }[] } {
  const publishNotReady = !!svc.spec?.publishNotReadyAddresses;
  const groups = new Map<string, PortGroup>();
  const sorted = [...pods].sort((a, b) => byString(String(a.metadata.name), String(b.metadata.name)));
  for (const pod of sorted) {
    if (!pod.status?.podIP || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    if (!selects(svc.spec?.selector, pod.metadata?.labels)) continue;
    const terminating = !!pod.metadata?.deletionTimestamp;
    const ready = publishNotReady || (podReady(pod) && !terminating);
    const serving = publishNotReady || podReady(pod);
    const ports: PortGroup['ports'] = [];
    let missing = false;
    for (const sp of (svc.spec?.ports ?? []) as Obj[]) {
      const protocol = sp.protocol ?? 'TCP';
      const port = resolveTargetPort(pod, sp.targetPort, sp.port, protocol);
      if (port === undefined) {
        missing = true;
        continue;
      }
      ports.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol, ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    if (missing && ports.length === 0) continue;
    const key = JSON.stringify(ports);
    const g = groups.get(key) ?? { ports, members: [] };
    g.members.push({ pod, ready, serving, terminating });
    groups.set(key, g);
  }
  const targetRef = (pod: Obj) => ({ kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid });
  const address = (m: Member) => {
    const a: Obj = { ip: m.pod.status.podIP, nodeName: m.pod.spec?.nodeName, targetRef: targetRef(m.pod) };
    if (m.pod.spec?.hostname && m.pod.spec?.subdomain === svc.metadata.name) a.hostname = m.pod.spec.hostname;
    if (!a.nodeName) delete a.nodeName;
    return a;
  };
  const subsets: Obj[] = [];
  const slices: { ports: Obj[]; endpoints: Obj[] }[] = [];
  for (const g of groups.values()) {
    const ss: Obj = {};
    const ready = g.members.filter((m) => m.ready).map(address);
    const notReady = g.members.filter((m) => !m.ready && !m.terminating).map(address);
    if (ready.length) ss.addresses = ready;
    if (notReady.length) ss.notReadyAddresses = notReady;
    if (g.ports.length) ss.ports = g.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol }));
    if (ss.addresses || ss.notReadyAddresses) subsets.push(ss);
    slices.push({
      ports: g.ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })),
      endpoints: g.members.map((m) => {
        const e: Obj = { addresses: [m.pod.status.podIP], conditions: { ready: m.ready, serving: m.serving, terminating: m.terminating }, targetRef: targetRef(m.pod) };
        if (m.pod.spec?.nodeName) e.nodeName = m.pod.spec.nodeName;
        if (m.pod.spec?.hostname && m.pod.spec?.subdomain === svc.metadata.name) e.hostname = m.pod.spec.hostname;
        return e;
      }),
    });
  }
  const endpoints: Obj = { metadata: { name: svc.metadata.name, namespace: svc.metadata.namespace, labels: serviceLabels(svc) } };
  if (subsets.length) endpoints.subsets = subsets;
  if (slices.length === 0) slices.push({ ports: [], endpoints: [] });
  return { endpoints, slices };
}

/**
 * The Service's labels as its Endpoints and EndpointSlices carry them: `service.kubernetes.io/headless`
 * set when the Service has no cluster IP (None or empty) and removed otherwise, as kube's
 * endpoints and endpointslice controllers do (helper.IsServiceIPSet).
 */
function serviceLabels(svc: Obj): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
  const ip = svc.spec?.clusterIP;
  if (ip === 'None' || !ip) labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  return labels;
}

const HEADLESS_LABEL = 'service.kubernetes.io/headless';

/** equal as JSON (null and absent alike): what the endpoints controllers compare before a write */
export function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export class EndpointsController {
  private readonly services: Informer;
  private readonly pods: Informer;
  private readonly queue = new WorkQueue({ baseMs: 5, maxMs: 60_000 });
  private readonly log: (line: string) => void;
  private running?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly opts: EndpointsControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    const resync = opts.resyncPeriodMs ?? 300_000;
    this.services = new Informer(client, SERVICES, { resyncPeriodMs: resync, log: this.log });
    this.pods = new Informer(client, PODS, { resyncPeriodMs: resync, log: this.log });
    const svcKey = (s: Obj) => this.queue.add(`${s.metadata.namespace}/${s.metadata.name}`);
    this.services.addEventHandler({ add: svcKey, update: (_o, n) => svcKey(n), delete: svcKey });
    // a pod change touches every service of its namespace that selected it before or selects it now
    const podChanged = (old: Obj | undefined, pod: Obj) => {
      for (const svc of this.services.cache.byIndex(NAMESPACE_INDEX, pod.metadata.namespace)) {
        if (selects(svc.spec?.selector, pod.metadata?.labels) || (old && selects(svc.spec?.selector, old.metadata?.labels))) svcKey(svc);
      }
    };
    this.pods.addEventHandler({ add: (p) => podChanged(undefined, p), update: (o, n) => podChanged(o, n), delete: (p) => podChanged(undefined, p) });
  }

  async start(): Promise<void> {
    await this.services.start();
    await this.pods.start();
    this.running = runWorkers(this.queue, this.opts.workers ?? 2, (key) => this.sync(key), (l) => this.log(`endpoints controller: ${l}`));
  }

  async stop(): Promise<void> {
    this.services.stop();
    this.pods.stop();
    this.queue.shutDown();
    await this.running;
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const svc = await this.client.resource(SERVICES).tryGet(ns, name);
    const epClient = this.client.resource(ENDPOINTS);
    const sliceClient = this.client.resource(SLICES);
    const existingSlices = (await sliceClient.list(ns, { labelSelector: `${SERVICE_NAME_LABEL}=${name},${MANAGED_BY_LABEL}=${MANAGED_BY}` })).items;
    if (!svc || !svc.spec?.selector || Object.keys(svc.spec.selector).length === 0 || svc.spec.type === 'ExternalName') {
      // gone, or a Service whose endpoints someone else keeps: nothing of ours stays
      if (!svc) await this.ignoreMissing(epClient.delete(ns, name));
      for (const s of existingSlices) await this.ignoreMissing(sliceClient.delete(ns, s.metadata.name));
      return;
    }
    const pods = this.pods.cache.byIndex(NAMESPACE_INDEX, ns);
    const want = desiredEndpoints(svc, pods);
    const opts = { fieldManager: FIELD_MANAGER };

    const ep = await epClient.tryGet(ns, name);
    if (!ep) await this.ignoreExists(epClient.create(ns, want.endpoints, opts));
    else if (!same(ep.subsets, want.endpoints.subsets) || !same(ep.metadata.labels, want.endpoints.metadata.labels)) {
      await epClient.update({ ...ep, subsets: want.endpoints.subsets, metadata: { ...ep.metadata, labels: want.endpoints.metadata.labels } }, opts);
    }

    const owner = { apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true };
    // the slices' own two labels always win over the Service's (setEndpointSliceLabels)
    const labels = { ...serviceLabels(svc), [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY };
    const unused = [...existingSlices];
    for (const s of want.slices) {
      // reuse a slice with the same ports (kube's reconciler keeps slices stable the same way)
      const i = unused.findIndex((e) => same(e.ports ?? [], s.ports));
      const current = i >= 0 ? unused.splice(i, 1)[0] : unused.shift();
      const body = { addressType: 'IPv4', ports: s.ports, endpoints: s.endpoints };
      if (!current) {
        await sliceClient.create(ns, { metadata: { generateName: `${name}-`, namespace: ns, labels, ownerReferences: [owner] }, ...body }, opts);
      } else if (!same(current.ports ?? [], body.ports) || !same(current.endpoints ?? [], body.endpoints) || !same(current.metadata.labels, labels)) {
        await sliceClient.update({ ...current, ...body, metadata: { ...current.metadata, labels, ownerReferences: [owner] } }, opts);
      }
    }
    for (const s of unused) await this.ignoreMissing(sliceClient.delete(ns, s.metadata.name));
  }

  private async ignoreMissing(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  private async ignoreExists(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
    }
  }
}
