/**
 * Service environment variables, as the kubelet makes them (pkg/kubelet/kubelet_pods.go
 * getServiceEnvVarMap, pkg/kubelet/envvars FromServices):
 *
 *   which Services   the `kubernetes` Service of `default`, always; the Services of the pod's
 *                    own namespace when spec.enableServiceLinks is not false. Only those with a
 *                    cluster IP (not headless, not ExternalName).
 *   per Service      NAME_SERVICE_HOST=IP, NAME_SERVICE_PORT=first port,
 *                    NAME_SERVICE_PORT_<PORTNAME>=port for each named port, and Docker's link
 *                    variables NAME_PORT=tcp://IP:PORT (first port), NAME_PORT_<P>_<PROTO>,
 *                    ..._PROTO, ..._PORT, ..._ADDR  (NAME: upper case, '-' -> '_')
 *   precedence       lowest: a variable the container defines (env, envFrom) wins, and $(NAME)
 *                    in the container's env may refer to them (./env.ts)
 */
type Obj = Record<string, any>;
import { byString } from '../api/order.js';

export const MASTER_SERVICE_NAMESPACE = 'default';
export const MASTER_SERVICES = new Set(['kubernetes']);

const envName = (s: string) => s.replace(/-/g, '_').toUpperCase();
const ipSet = (svc: Obj) => typeof svc.spec?.clusterIP === 'string' && svc.spec.clusterIP !== '' && svc.spec.clusterIP !== 'None';
const joinHostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** FromServices: the variables of each Service, in order */
export function fromServices(services: Obj[]): [string, string][] {
  const out: [string, string][] = [];
  for (const svc of services) {
    if (!ipSet(svc)) continue;
    const ip: string = svc.spec.clusterIP;
    const ports: Obj[] = svc.spec.ports ?? [];
    const prefix = envName(svc.metadata.name);
    out.push([`${prefix}_SERVICE_HOST`, ip]);
    if (ports.length) out.push([`${prefix}_SERVICE_PORT`, String(ports[0]!.port)]);
    for (const p of ports) if (p.name) out.push([`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port)]);
    ports.forEach((p, i) => {
      const proto = String(p.protocol || 'TCP');
      const url = `${proto.toLowerCase()}://${joinHostPort(ip, p.port)}`;
      if (i === 0) out.push([`${prefix}_PORT`, url]);
      const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.push([pp, url], [`${pp}_PROTO`, proto.toLowerCase()], [`${pp}_PORT`, String(p.port)], [`${pp}_ADDR`, ip]);
    });
  }
  return out;
}

/** getServiceEnvVarMap: the service variables a pod in `namespace` gets */
export function serviceEnv(services: Obj[], namespace: string, enableServiceLinks: boolean): Map<string, string> {
  const picked = new Map<string, Obj>();
  // sorted, so that the result does not depend on the informer's order
  const sorted = [...services].sort((a, b) => byString(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`));
  for (const svc of sorted) {
    if (!ipSet(svc)) continue;
    const name: string = svc.metadata.name;
    if (svc.metadata.namespace === MASTER_SERVICE_NAMESPACE && MASTER_SERVICES.has(name)) {
      if (!picked.has(name)) picked.set(name, svc);
    } else if (svc.metadata.namespace === namespace && enableServiceLinks) {
      picked.set(name, svc);
    }
  }
  return new Map(fromServices([...picked.values()]));
}
