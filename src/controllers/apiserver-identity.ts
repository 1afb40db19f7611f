/**
 * Which API servers are up, for the `kubernetes` Service's Endpoints when several servers share
 * an etcd: each holds a Lease in kube-system named after its identity, labeled
 * apiserver.kubernetes.io/identity=kube-apiserver (kube-apiserver's APIServerIdentity lease),
 * renewed every `renewMs`, with its --advertise-address in the annotation
 * podbay.io/advertise-address. The Endpoints list the addresses of leases renewed within their
 * leaseDurationSeconds (kube-apiserver's lease endpoint reconciler keeps such a TTL'd record per
 * server in etcd: 15 s, reconciled every 10 s). A server stopping cleanly deletes its lease, so
 * it leaves the Endpoints at once; one that dies leaves them once its lease expires.
 *
 * Every server also keeps the Endpoints themselves (kubernetes-service.ts): all of them compute
 * the same set from the same leases, so they agree rather than take turns.
 */
import { createHash } from 'node:crypto';
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Client, Obj } from '../client/types.js';
import { microTime } from '../client/leader-election.js';

const LEASES = resourceInfo('leases', 'coordination.k8s.io')!;
export const IDENTITY_LABEL = 'apiserver.kubernetes.io/identity';
export const ADDRESS_ANNOTATION = 'podbay.io/advertise-address';
const NAMESPACE = 'kube-system';
/** kube-apiserver's master lease TTL (--endpoint-reconciler-type=lease) */
export const IDENTITY_LEASE_SECONDS = 15;

/** a stable name per server: its host and API port (kube-apiserver's apiserver-<hash of hostname>; several podbay servers may share a host) */
export function identityLeaseName(hostname: string, port: number): string {
  return `apiserver-${createHash('sha256').update(`${hostname}:${port}`).digest('hex').slice(0, 26)}`;
}

export interface IdentityLeaseOptions {
  hostname: string;
  port: number;
  /** where pods reach this server; none: the lease only says it is up */
  address?: string;
  leaseSeconds?: number;
  renewMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export class ApiserverIdentityLease {
  readonly name: string;
  private timer?: NodeJS.Timeout;
  private readonly o: Required<Omit<IdentityLeaseOptions, 'address'>> & { address?: string };

  constructor(
    private readonly client: Client,
    opts: IdentityLeaseOptions,
  ) {
    this.name = identityLeaseName(opts.hostname, opts.port);
    this.o = { leaseSeconds: IDENTITY_LEASE_SECONDS, renewMs: 5000, log: () => {}, now: Date.now, ...opts };
  }

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => void this.renew().catch((e) => this.o.log(`apiserver identity lease ${NAMESPACE}/${this.name}: ${(e as Error).message}`)), this.o.renewMs);
    this.timer.unref();
  }

  /** stop renewing and remove the lease: this server leaves the Endpoints now */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.client.resource(LEASES).delete(NAMESPACE, this.name);
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'NotFound')) this.o.log(`apiserver identity lease ${NAMESPACE}/${this.name}: removing it: ${(e as Error).message}`);
    }
  }

  private desired(): Obj {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: NAMESPACE,
        labels: { [IDENTITY_LABEL]: 'kube-apiserver', 'kubernetes.io/hostname': this.o.hostname },
        ...(this.o.address ? { annotations: { [ADDRESS_ANNOTATION]: this.o.address } } : {}),
      },
      spec: { holderIdentity: this.name, leaseDurationSeconds: this.o.leaseSeconds, renewTime: microTime(this.o.now()) },
    };
  }

  async renew(): Promise<void> {
    const leases = this.client.resource(LEASES);
    const want = this.desired();
    const cur = await leases.tryGet(NAMESPACE, this.name);
    if (!cur) {
      try {
        await leases.create(NAMESPACE, want);
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
      }
      return;
    }
    const annotations = { ...(cur.metadata.annotations ?? {}) };
    if (this.o.address) annotations[ADDRESS_ANNOTATION] = this.o.address;
    else delete annotations[ADDRESS_ANNOTATION];
    await leases.update({ ...cur, metadata: { ...cur.metadata, labels: { ...(cur.metadata.labels ?? {}), ...want.metadata.labels }, annotations }, spec: { ...cur.spec, ...want.spec } });
  }
}

/** the advertise addresses of the API servers whose identity lease is live at `now` */
export async function liveApiserverAddresses(client: Client, now = Date.now()): Promise<string[]> {
  const list = await client.resource(LEASES).list(NAMESPACE, { labelSelector: `${IDENTITY_LABEL}=kube-apiserver` });
  const out = new Set<string>();
  for (const l of list.items) {
    const address = l.metadata?.annotations?.[ADDRESS_ANNOTATION];
    const renewed = Date.parse(l.spec?.renewTime ?? '');
    const seconds = Number(l.spec?.leaseDurationSeconds ?? 0);
    if (address && Number.isFinite(renewed) && renewed + seconds * 1000 > now) out.add(address);
  }
  return [...out].sort();
}
