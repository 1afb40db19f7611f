/**
 * ServiceLB for one machine: what k3s's ServiceLB (klipper-lb) does, without its pods.
 *
 * k3s gives every LoadBalancer Service a DaemonSet of `svclb` pods holding hostPorts for the
 * Service's ports and forwarding them to the ClusterIP, then writes the node's address into
 * status.loadBalancer.ingress. A port already held by another LoadBalancer Service leaves the
 * newer Service's pods Pending and the Service <pending>. Here the service proxy already DNATs
 * an ingress IP (src/proxy/rules.ts, "loadbalancer IP"), so this controller only writes the
 * status; the claim on ADDRESS:PORT/PROTOCOL is kept here, in the same order k3s's scheduler
 * would settle it (a Service already holding the address first, then the oldest).
 *
 *   Service informer ──any change──> reconcile all (one node, few Services)
 *     in scope: type LoadBalancer, spec.loadBalancerClass unset or SERVICE_LB_CLASS
 *     each port claimed on the address; clash -> Warning SyncLoadBalancerFailed, stays pending
 *     else status.loadBalancer.ingress = [{ip: address}]  (+ Normal EnsuredLoadBalancer)
 *     out of scope but still showing our address (type or class changed) -> ingress cleared
 *
 * `--service-lb-address none` runs no controller: LoadBalancer Services stay <pending>, as on a
 * cluster without a load balancer.
 */
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import { EventRecorder } from '../client/events.js';
import { Informer, objectKey } from '../client/informer.js';
import type { Client } from '../client/types.js';
import { byString } from '../api/order.js';

const SERVICES = resourceInfo('services')!;

/** the spec.loadBalancerClass this implementation answers for (besides Services without one) */
export const SERVICE_LB_CLASS = 'podbay.io/service-lb';

export interface LbAssignment {
  /** the ingress to publish; undefined: none (pending, or not ours) */
  ingress?: { ip: string }[];
  /** why the Service stays pending */
  error?: string;
}

export function isOurs(svc: Obj): boolean {
  const s = svc.spec ?? {};
  return s.type === 'LoadBalancer' && (s.loadBalancerClass == null || s.loadBalancerClass === SERVICE_LB_CLASS);
}

function holds(svc: Obj, address: string): boolean {
  return ((svc.status?.loadBalancer?.ingress ?? []) as Obj[]).some((i) => i.ip === address);
}

/**
 * Which of the Services get the address, as a pure function of all Services: by key, the ones
 * in scope (assigned or refused) and the ones out of scope still showing the address (cleared).
 */
export function assignLoadBalancers(services: Obj[], address: string): Map<string, LbAssignment> {
  const out = new Map<string, LbAssignment>();
  const ours = services.filter(isOurs);
  for (const svc of services) if (!isOurs(svc) && holds(svc, address)) out.set(objectKey(svc), {});
  const created = (s: Obj) => s.metadata?.creationTimestamp ?? '';
  ours.sort((a, b) => Number(holds(b, address)) - Number(holds(a, address)) || byString(created(a), created(b)) || byString(objectKey(a), objectKey(b)));
  const claims = new Map<string, string>();
  for (const svc of ours) {
    const key = objectKey(svc);
    const ports = ((svc.spec.ports ?? []) as Obj[]).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`);
    const clash = ports.map((p) => [p, claims.get(p)] as const).find(([, by]) => by !== undefined);
    if (clash) {
      out.set(key, { error: `port ${clash[0]} on ${address} is already used by LoadBalancer Service ${clash[1]}` });
      continue;
    }
    for (const p of ports) claims.set(p, key);
    out.set(key, { ingress: [{ ip: address }] });
  }
  return out;
}

export class ServiceLbController {
  private readonly informer: Informer;
  private readonly events: EventRecorder;
  private readonly log: (line: string) => void;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  /** the last refusal reported per Service, so an event is posted on a change only */
  private readonly refused = new Map<string, string>();

  constructor(
    private readonly client: Client,
    private readonly address: string,
    opts: { log?: (line: string) => void; host?: string } = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.events = new EventRecorder(client, 'service-lb-controller', opts.host ?? '', this.log);
    this.informer = new Informer(client, SERVICES, { resyncPeriodMs: 0, log: this.log });
    const kick = () => this.schedule();
    this.informer.addEventHandler({ add: kick, update: kick, delete: kick });
  }

  async start(): Promise<void> {
    await this.informer.start();
    await this.reconcile();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.informer.stop();
    await this.running?.catch(() => {});
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconcile().catch((e) => this.log(`service-lb: ${(e as Error).message}`));
    }, 20);
  }

  async reconcile(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.reconcileOnce().finally(() => {
      this.running = undefined;
    });
    await this.running;
    if (this.again && !this.stopped) {
      this.again = false;
      this.schedule();
    }
  }

  private async reconcileOnce(): Promise<void> {
    const services = this.informer.cache.list();
    const plan = assignLoadBalancers(services, this.address);
    for (const key of [...this.refused.keys()]) if (!plan.get(key)?.error) this.refused.delete(key);
    for (const svc of services) {
      const key = objectKey(svc);
      const want = plan.get(key);
      if (!want) continue;
      if (want.error && this.refused.get(key) !== want.error) {
        this.refused.set(key, want.error);
        this.events.record({ ...svc, kind: 'Service', apiVersion: 'v1' }, 'Warning', 'SyncLoadBalancerFailed', `Error syncing load balancer: failed to ensure load balancer: ${want.error}`);
      }
      const ingress = want.ingress ?? [];
      const current = (svc.status?.loadBalancer?.ingress ?? []) as Obj[];
      if (JSON.stringify(current) === JSON.stringify(ingress)) continue;
      try {
        await this.client.resource(SERVICES).update({ ...svc, status: { ...svc.status, loadBalancer: ingress.length ? { ingress } : {} } }, { sub: 'status' });
        if (ingress.length) this.events.record({ ...svc, kind: 'Service', apiVersion: 'v1' }, 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer');
      } catch (e) {
        // a conflict or a deleted Service: the informer's event brings the next reconcile
        this.log(`service-lb: ${key}: ${(e as Error).message}`);
      }
    }
  }
}
