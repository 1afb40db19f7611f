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

function needsClusterIP(spec: Obj): boolean {
  return spec.type !== 'ExternalName' && spec.clusterIP !== HEADLESS;
}

function needsNodePorts(spec: Obj): boolean {
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

/** a LoadBalancer (or NodePort) with externalTrafficPolicy Local answers health checks on a node port */
function needsHealthCheckPort(spec: Obj): boolean {
  return spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
}

/** what a Service holds: its IP and node ports */
function holdings(svc: Obj | undefined): { ip?: string; ports: number[] } {
  const spec = svc?.spec ?? {};
  const ip = typeof spec.clusterIP === 'string' && spec.clusterIP && spec.clusterIP !== HEADLESS ? spec.clusterIP : undefined;
  const ports: number[] = [];
  for (const p of Array.isArray(spec.ports) ? spec.ports : []) if (typeof p?.nodePort === 'number' && p.nodePort > 0) ports.push(p.nodePort);
  if (typeof spec.healthCheckNodePort === 'number' && spec.healthCheckNodePort > 0) ports.push(spec.healthCheckNodePort);
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
        if (spec.type !== 'ExternalName') {
          spec.ipFamilies ??= ['IPv4'];
          spec.ipFamilyPolicy ??= 'SingleStack';
        }
      }
      const ports: Obj[] = Array.isArray(spec.ports) ? spec.ports : [];
      if (needsNodePorts(spec)) {
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
          } else {
            p.nodePort = this.nodePorts.any();
            takenPorts.push(p.nodePort);
          }
        });
      } else {
        // a type without node ports keeps none (kube clears them on a type change)
        for (const p of ports) if (spec.type === 'ClusterIP' || spec.type === 'ExternalName') delete p.nodePort;
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
 */
export function keepAllocatedValues(svc: Obj, old: Obj): void {
  const spec = svc.spec ?? {};
  const was = old.spec ?? {};
  if (needsClusterIP(spec) && (spec.clusterIP === undefined || spec.clusterIP === '') && was.clusterIP && was.clusterIP !== HEADLESS) {
    spec.clusterIP = was.clusterIP;
    spec.clusterIPs = was.clusterIPs ?? [was.clusterIP];
  }
  if (needsClusterIP(spec) && spec.clusterIP === was.clusterIP) {
    spec.ipFamilies ??= was.ipFamilies;
    spec.ipFamilyPolicy ??= was.ipFamilyPolicy;
  }
  if (needsNodePorts(spec)) {
    const oldPorts: Obj[] = Array.isArray(was.ports) ? was.ports : [];
    for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
      if (typeof p.nodePort === 'number' && p.nodePort > 0) continue;
      const match = oldPorts.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP')) ?? oldPorts.find((o) => o.port === p.port);
      if (match?.nodePort) p.nodePort = match.nodePort;
    }
  }
  if (needsHealthCheckPort(spec) && !spec.healthCheckNodePort && was.healthCheckNodePort) spec.healthCheckNodePort = was.healthCheckNodePort;
}
