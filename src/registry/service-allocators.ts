/**
 * A Service's cluster IP and node ports, allocated and released as kube-apiserver's service REST
 * storage does (pkg/registry/core/service/storage): on create, on a type change, and when the
 * Service is gone. The errors are worded as kube-apiserver words them.
 */
import { invalid, internalError, type FieldError } from '../api/errors.js';
import type { Obj } from '../api/types.js';
import { AllocatedError, IpRange, NotInRangeError, PortRange, RangeFullError } from './allocators.js';

export interface ServiceAllocatorOptions {
  /** --service-cluster-ip-range */
  clusterIPRange: string;
  /** --service-node-port-range */
  nodePortRange: string;
}

export const DEFAULT_SERVICE_CLUSTER_IP_RANGE = '10.43.0.0/16';
export const DEFAULT_SERVICE_NODE_PORT_RANGE = '30000-32767';

const HEADLESS = 'None';

/** the type has a value in clusterIP/clusterIPs, "None" included (kube's needsClusterIP) */
export function typeHasClusterIP(spec: Obj): boolean {
  return spec.type !== 'ExternalName';
}

/** an address is taken from the range */
function needsClusterIP(spec: Obj): boolean {
  return typeHasClusterIP(spec) && spec.clusterIP !== HEADLESS;
}

/** the type has node ports (kube's needsNodePort): the ones asked for are taken */
export function typeHasNodePorts(spec: Obj): boolean {
  return spec.type === 'NodePort' || spec.type === 'LoadBalancer';
}

/** the ports that name none get one (a LoadBalancer may opt out) */
function needsNodePorts(spec: Obj): boolean {
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

/** a LoadBalancer with externalTrafficPolicy Local answers health checks on a node port */
export function needsHealthCheckPort(spec: Obj): boolean {
  return spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
}

/**
 * what a Service holds: its IP and node ports, as far as its type takes them (a value its type
 * has no use for was never taken, and giving it back could free another Service's)
 */
function holdings(svc: Obj | undefined): { ip?: string; ports: number[] } {
  const spec = svc?.spec ?? {};
  const ip = needsClusterIP(spec) && typeof spec.clusterIP === 'string' && spec.clusterIP ? spec.clusterIP : undefined;
  const ports: number[] = [];
  if (typeHasNodePorts(spec)) for (const p of Array.isArray(spec.ports) ? spec.ports : []) if (typeof p?.nodePort === 'number' && p.nodePort > 0) ports.push(p.nodePort);
  if (needsHealthCheckPort(spec) && typeof spec.healthCheckNodePort === 'number' && spec.healthCheckNodePort > 0) ports.push(spec.healthCheckNodePort);
  return { ip, ports };
}

export class ServiceAllocators {
  readonly ips: IpRange;
  readonly nodePorts: PortRange;

  constructor(opts: ServiceAllocatorOptions) {
    this.ips = new IpRange(opts.clusterIPRange);
    this.nodePorts = PortRange.parse(opts.nodePortRange);
  }

  /** take what stored Services already hold (at start; a value out of range is left alone) */
  load(services: Obj[]): void {
    for (const svc of services) {
      const h = holdings(svc);
      if (h.ip && this.ips.contains(h.ip) && !this.ips.has(h.ip)) this.ips.take(h.ip);
      for (const p of h.ports) if (this.nodePorts.contains(p) && !this.nodePorts.has(p)) this.nodePorts.take(p);
    }
  }

  private ipError(ip: string, e: unknown): FieldError | undefined {
    const f = 'spec.clusterIPs[0]';
    if (e instanceof AllocatedError) return { type: 'FieldValueInvalid', field: f, value: ip, detail: `failed to allocate IP ${ip}: provided IP is already allocated` };
    if (e instanceof NotInRangeError) {
      return { type: 'FieldValueInvalid', field: f, value: ip, detail: `failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.ips.cidr}` };
    }
    return undefined;
  }

  private portError(field: string, port: number, e: unknown): FieldError | undefined {
    if (e instanceof AllocatedError) return { type: 'FieldValueInvalid', field, value: port, detail: 'provided port is already allocated' };
    if (e instanceof NotInRangeError) return { type: 'FieldValueInvalid', field, value: port, detail: `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.text()}` };
    return undefined;
  }

  /**
   * Allocate what `svc` needs and `old` (the stored object on an update) does not hold, writing
   * the values into `svc.spec`. Throws 422 naming the field, or 500 when a range is full.
   */
  allocate(svc: Obj, old: Obj | undefined): { undo(): void; commit(): void } {
    const spec: Obj = (svc.spec ??= {});
    const before = holdings(old);
    const takenIps: string[] = [];
    const takenPorts: number[] = [];
    const undo = () => {
      for (const ip of takenIps) this.ips.release(ip);
      for (const p of takenPorts) this.nodePorts.release(p);
    };
    const errs: FieldError[] = [];
    try {
      if (needsClusterIP(spec)) {
        const want = typeof spec.clusterIP === 'string' && spec.clusterIP !== '' ? spec.clusterIP : undefined;
        if (want && want === before.ip) {
          // kept from the stored object
        } else if (want) {
          try {
            this.ips.take(want);
            takenIps.push(want);
          } catch (e) {
            const fe = this.ipError(want, e);
            if (!fe) throw e;
            errs.push(fe);
          }
        } else {
          spec.clusterIP = this.ips.any();
          takenIps.push(spec.clusterIP);
        }
        spec.clusterIPs = [spec.clusterIP];
        spec.ipFamilies = ['IPv4'];
        spec.ipFamilyPolicy ??= 'SingleStack';
      } else if (spec.clusterIP === HEADLESS) {
        spec.clusterIPs = [HEADLESS];
        spec.ipFamilies ??= ['IPv4'];
        spec.ipFamilyPolicy ??= 'SingleStack';
      } else {
        // an ExternalName Service (validation let none of them through but empty ones, which Go's omitempty drops)
        for (const k of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy']) if (spec[k] === '' || spec[k] === null || (Array.isArray(spec[k]) && spec[k].length === 0)) delete spec[k];
      }
      const ports: Obj[] = Array.isArray(spec.ports) ? spec.ports : [];
      if (typeHasNodePorts(spec)) {
        ports.forEach((p, i) => {
          const field = `spec.ports[${i}].nodePort`;
          if (typeof p.nodePort === 'number' && p.nodePort > 0) {
            if (before.ports.includes(p.nodePort)) return;
            try {
              this.nodePorts.take(p.nodePort);
              takenPorts.push(p.nodePort);
            } catch (e) {
              const fe = this.portError(field, p.nodePort, e);
              if (!fe) throw e;
              errs.push(fe);
            }
          } else if (needsNodePorts(spec)) {
            p.nodePort = this.nodePorts.any();
            takenPorts.push(p.nodePort);
          }
        });
      } else {
        // a type without node ports keeps none (validation refuses them on a ClusterIP Service)
        for (const p of ports) delete p.nodePort;
      }
      if (needsHealthCheckPort(spec)) {
        const h = spec.healthCheckNodePort;
        if (typeof h === 'number' && h > 0) {
          if (!before.ports.includes(h)) {
            try {
              this.nodePorts.take(h);
              takenPorts.push(h);
            } catch (e) {
              const fe = this.portError('spec.healthCheckNodePort', h, e);
              if (!fe) throw e;
              errs.push(fe);
            }
          }
        } else {
          spec.healthCheckNodePort = this.nodePorts.any();
          takenPorts.push(spec.healthCheckNodePort);
        }
      } else delete spec.healthCheckNodePort;
    } catch (e) {
      undo();
      if (e instanceof RangeFullError) throw internalError(`failed to allocate a ${takenIps.length || !needsClusterIP(spec) ? 'nodePort' : 'serviceIP'}: range is full`);
      throw e;
    }
    if (errs.length) {
      undo();
      throw invalid('Service', svc.metadata?.name ?? '', errs);
    }
    return {
      undo,
      commit: () => {
        // what the stored object held and the written one does not goes back
        const after = holdings(svc);
        if (before.ip && before.ip !== after.ip) this.ips.release(before.ip);
        for (const p of before.ports) if (!after.ports.includes(p)) this.nodePorts.release(p);
      },
    };
  }

  release(svc: Obj): void {
    const h = holdings(svc);
    if (h.ip) this.ips.release(h.ip);
    for (const p of h.ports) this.nodePorts.release(p);
  }
}

/**
 * An update that leaves out what was allocated keeps it (kube's patchAllocatedValues): a
 * `kubectl apply` or `replace` of a manifest without clusterIP or nodePort must not move them.
 * Only where the old and the new type both have the value; "None" counts as a cluster IP.
 */
export function keepAllocatedValues(svc: Obj, old: Obj): void {
  const spec = svc.spec ?? {};
  const was = old.spec ?? {};
  if (typeHasClusterIP(was) && typeHasClusterIP(spec)) {
    if ((spec.clusterIP === undefined || spec.clusterIP === '') && was.clusterIP) spec.clusterIP = was.clusterIP;
    if (!(Array.isArray(spec.clusterIPs) && spec.clusterIPs.length) && Array.isArray(was.clusterIPs) && was.clusterIPs.length) spec.clusterIPs = [...was.clusterIPs];
    if (spec.clusterIP === was.clusterIP) {
      spec.ipFamilies ??= was.ipFamilies;
      spec.ipFamilyPolicy ??= was.ipFamilyPolicy;
    }
  }
  if (typeHasNodePorts(was) && typeHasNodePorts(spec)) {
    const oldPorts: Obj[] = Array.isArray(was.ports) ? was.ports : [];
    for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
      if (typeof p.nodePort === 'number' && p.nodePort > 0) continue;
      const match = oldPorts.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP')) ?? oldPorts.find((o) => o.port === p.port);
      if (match?.nodePort) p.nodePort = match.nodePort;
    }
  }
  if (needsHealthCheckPort(was) && needsHealthCheckPort(spec) && !spec.healthCheckNodePort && was.healthCheckNodePort) spec.healthCheckNodePort = was.healthCheckNodePort;
}
