/**
 * The Services a cluster has before anyone creates one, kept as kube-apiserver keeps its own
 * (pkg/controlplane/controller/kubernetesservice: at start, then every 10 s):
 *
 *   default/kubernetes     ClusterIP = the first IP of --service-cluster-ip-range, port
 *                          443 "https" -> the API server's --advertise-address:PORT
 *                          (labels component=apiserver, provider=kubernetes)
 *   kube-system/kube-dns   ClusterIP = --cluster-dns (the tenth IP, as k3s's 10.43.0.10),
 *                          ports 53/UDP "dns" and 53/TCP "dns-tcp" -> podbay's own DNS server
 *                          (src/dns) where it listens (the bridge gateway); labeled as the
 *                          cluster add-on it stands in for, so `kubectl cluster-info` lists it
 *
 * Neither has a selector: the endpoints controller leaves them alone, and this reconciler
 * writes their Endpoints and EndpointSlice (label kubernetes.io/service-name) itself, so the
 * service proxy DNATs the cluster IP to the address. Pods get KUBERNETES_SERVICE_HOST/PORT from
 * the `kubernetes` Service (src/kubelet/service-env.ts).
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import type { Client } from '../client/types.js';
import { SKIP_MIRROR_LABEL } from './endpointslice-mirroring.js';

const SERVICES = resourceInfo('services')!;
const ENDPOINTS = resourceInfo('endpoints')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io', 'v1')!;

export const KUBERNETES_SERVICE_NAME = 'kubernetes';
export const KUBE_DNS_SERVICE_NAME = 'kube-dns';

export interface BuiltinPort {
  name: string;
  /** the Service's port */
  port: number;
  /** where the backend listens */
  targetPort: number;
  protocol: 'TCP' | 'UDP';
}

/** one selector-less Service and the single address it points at */
export interface BuiltinService {
  namespace: string;
  name: string;
  clusterIP: string;
  labels: Record<string, string>;
  ports: BuiltinPort[];
  /** the backend's address */
  address: string;
  /**
   * the other backends' addresses, when there may be several (the `kubernetes` Service of
   * several servers: apiserver-identity.ts); `address` is always one
   */
  addresses?: () => Promise<string[]>;
}

export function kubernetesService(clusterIP: string, advertiseAddress: string, apiPort: number): BuiltinService {
  return {
    namespace: 'default',
    name: KUBERNETES_SERVICE_NAME,
    clusterIP,
    labels: { component: 'apiserver', provider: 'kubernetes' },
    ports: [{ name: 'https', port: 443, targetPort: apiPort, protocol: 'TCP' }],
    address: advertiseAddress,
  };
}

export function kubeDnsService(clusterIP: string, dnsAddress: string, dnsPort: number): BuiltinService {
  return {
    namespace: 'kube-system',
    name: KUBE_DNS_SERVICE_NAME,
    clusterIP,
    labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'KubeDNS' },
    ports: [
      { name: 'dns', port: 53, targetPort: dnsPort, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, targetPort: dnsPort, protocol: 'TCP' },
    ],
    address: dnsAddress,
  };
}

/** the Service, Endpoints and EndpointSlice objects of a builtin service (backends at `addresses`) */
export function builtinObjects(b: BuiltinService, addresses: string[] = [b.address]): { service: Obj; endpoints: Obj; slice: Obj } {
  const meta = (extra: Record<string, string> = {}) => ({ name: b.name, namespace: b.namespace, labels: { ...b.labels, ...extra } });
  return {
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(),
      spec: {
        type: 'ClusterIP',
        clusterIP: b.clusterIP,
        clusterIPs: [b.clusterIP],
        sessionAffinity: 'None',
        ports: b.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol, targetPort: p.targetPort })),
      },
    },
    endpoints: {
      apiVersion: 'v1',
      kind: 'Endpoints',
      // the server writes the slice itself: the mirroring controller is told to leave these (as
      // kube-apiserver's endpoint reconciler labels the kubernetes Endpoints)
      metadata: meta({ [SKIP_MIRROR_LABEL]: 'true' }),
      subsets: [{ addresses: addresses.map((ip) => ({ ip })), ports: b.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })) }],
    },
    slice: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      // only the service-name label, as kube-apiserver's EndpointsAdapter writes the kubernetes slice
      metadata: meta({ 'kubernetes.io/service-name': b.name }),
      addressType: 'IPv4',
      endpoints: addresses.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
      ports: b.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })),
    },
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class BuiltinServicesController {
  private timer?: NodeJS.Timeout;
  private readonly log: (line: string) => void;

  constructor(
    private readonly client: Client,
    private readonly services: BuiltinService[],
    opts: { log?: (line: string) => void; intervalMs?: number } = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.intervalMs = opts.intervalMs ?? 10_000;
  }

  private readonly intervalMs: number;

  async start(): Promise<void> {
    await this.reconcile();
    this.timer = setInterval(() => void this.reconcile().catch((e) => this.log(`builtin services: ${(e as Error).message}`)), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Several servers reconcile the same objects: a write that loses to another server's
   * (Conflict, AlreadyExists) is left for the next round, which sees the winner's.
   */
  async reconcile(): Promise<void> {
    for (const b of this.services) {
      try {
        await this.reconcileOne(b);
      } catch (e) {
        if (!(e instanceof ApiError && (e.reason === 'Conflict' || e.reason === 'AlreadyExists'))) throw e;
      }
    }
  }

  private async reconcileOne(b: BuiltinService): Promise<void> {
    // this server is up (it is reconciling), whatever its lease says
    const live = [...new Set([b.address, ...((await b.addresses?.()) ?? [])])].sort();
    const want = builtinObjects(b, live);
    const svc = await this.client.resource(SERVICES).tryGet(b.namespace, b.name);
    if (!svc) {
      await this.createOrLog(SERVICES, b, want.service);
    } else {
      if (svc.spec?.clusterIP !== b.clusterIP) {
        // kube-apiserver also leaves a kubernetes Service whose IP moved alone, and says so
        this.log(`builtin services: ${b.namespace}/${b.name} has cluster IP ${svc.spec?.clusterIP}, not ${b.clusterIP}; delete it to have it made again`);
      }
      if (!same(svc.spec?.ports, want.service.spec.ports) || !same({ ...svc.metadata.labels, ...b.labels }, svc.metadata.labels)) {
        await this.client.resource(SERVICES).update({ ...svc, metadata: { ...svc.metadata, labels: { ...svc.metadata.labels, ...b.labels } }, spec: { ...svc.spec, ports: want.service.spec.ports } });
      }
    }
    await this.ensure(
      ENDPOINTS,
      b,
      want.endpoints,
      (o) => same(o.subsets, want.endpoints.subsets) && o.metadata.labels?.[SKIP_MIRROR_LABEL] === 'true',
      (o) => ({ ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, [SKIP_MIRROR_LABEL]: 'true' } }, subsets: want.endpoints.subsets }),
    );
    await this.ensure(
      SLICES,
      b,
      want.slice,
      (o) => same(o.endpoints?.map((e: Obj) => e.addresses), want.slice.endpoints.map((e: Obj) => e.addresses)) && same(o.ports, want.slice.ports) && o.metadata.labels?.['kubernetes.io/service-name'] === b.name,
      (o) => ({ ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, ...want.slice.metadata.labels } }, endpoints: want.slice.endpoints, ports: want.slice.ports }),
    );
  }

  private async ensure(r: typeof SERVICES, b: BuiltinService, want: Obj, fresh: (o: Obj) => boolean, fix: (o: Obj) => Obj): Promise<void> {
    const cur = await this.client.resource(r).tryGet(b.namespace, b.name);
    if (!cur) return this.createOrLog(r, b, want);
    if (!fresh(cur)) await this.client.resource(r).update(fix(cur));
  }

  private async createOrLog(r: typeof SERVICES, b: BuiltinService, obj: Obj): Promise<void> {
    try {
      await this.client.resource(r).create(b.namespace, obj);
    } catch (e) {
      if (e instanceof ApiError && e.reason === 'AlreadyExists') return;
      this.log(`builtin services: creating ${r.resource} ${b.namespace}/${b.name}: ${(e as Error).message}`);
    }
  }
}
