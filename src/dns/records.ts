/**
 * The cluster zone's records, as the Kubernetes DNS specification defines them
 * (github.com/kubernetes/dns, docs/specification.md) and CoreDNS's kubernetes plugin answers
 * them: a pure function of one question and the Services and EndpointSlices in the informers'
 * caches, so it is unit-tested without a socket.
 *
 *   <svc>.<ns>.svc.<zone>              A      ClusterIP; headless: every ready endpoint's IP
 *                                      CNAME  ExternalName Services (any type asked)
 *   <host>.<svc>.<ns>.svc.<zone>       A      a headless Service's endpoint by its hostname
 *                                             (a pod's spec.hostname with subdomain = svc), or
 *                                             by its IP with dashes (10-1-2-3)
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV  per named port: the Service name (ClusterIP)
 *                                             or each endpoint's name (headless), plus their A
 *                                             records as additionals
 *   <a-b-c-d>.<ns>.pod.<zone>          A      a.b.c.d (CoreDNS's "pods insecure", k3s's default)
 *   <d.c.b.a>.in-addr.arpa             PTR    a ClusterIP's Service, a headless endpoint's name;
 *                                             inside the service or pod range only
 *
 * Any other name in the zone is NXDOMAIN; a name that exists without a record of the asked
 * type is an empty NOERROR. Both carry the zone's SOA in the authority section, so resolvers
 * cache the negative answer (RFC 2308). Names outside the zone (and reverse names outside
 * podbay's ranges) are not ours: `undefined`, and the server forwards them.
 */
import type { Answer, Question } from 'dns-packet';
import { cidrContains, ipv4ToInt } from '../api/cidr.js';

// in src/api/cidr.ts since the node routes use it too; still importable from here
export { cidrContains };

type Obj = Record<string, any>;

/** what the zone is read from (the informers' caches) */
export interface ClusterView {
  service(namespace: string, name: string): Obj | undefined;
  services(): Obj[];
  /** the EndpointSlices labeled kubernetes.io/service-name=name */
  slicesOf(namespace: string, name: string): Obj[];
}

export interface ZoneOptions {
  /** --cluster-domain, e.g. cluster.local */
  domain: string;
  /** CIDRs whose reverse names are answered here (the service and pod ranges) */
  reverseCIDRs: string[];
  /** TTL of the records (CoreDNS's kubernetes plugin: 5 s) */
  ttl?: number;
}

export interface ZoneAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

export const DEFAULT_TTL = 5;

const lower = (s: string) => s.toLowerCase().replace(/\.$/, '');
const ipSet = (svc: Obj) => typeof svc.spec?.clusterIP === 'string' && svc.spec.clusterIP !== '' && svc.spec.clusterIP !== 'None';
const isHeadless = (svc: Obj) => svc.spec?.type !== 'ExternalName' && svc.spec?.clusterIP === 'None';

/** the SOA CoreDNS gives the zone */
export function soa(opts: ZoneOptions): Answer {
  const ttl = opts.ttl ?? DEFAULT_TTL;
  return {
    name: opts.domain,
    type: 'SOA',
    class: 'IN',
    ttl,
    data: { mname: `ns.dns.${opts.domain}`, rname: `hostmaster.${opts.domain}`, serial: Math.floor(Date.now() / 1000) >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl },
  };
}

interface Endpoint {
  ip: string;
  hostname?: string;
}

/** a Service's ready endpoints (IPv4), each once */
function readyEndpoints(view: ClusterView, ns: string, name: string): Endpoint[] {
  const out = new Map<string, Endpoint>();
  for (const slice of view.slicesOf(ns, name)) {
    if (slice.addressType && slice.addressType !== 'IPv4') continue;
    for (const e of (slice.endpoints ?? []) as Obj[]) {
      if (e.conditions?.ready === false) continue;
      for (const ip of (e.addresses ?? []) as string[]) if (!out.has(ip)) out.set(ip, { ip, ...(e.hostname ? { hostname: String(e.hostname).toLowerCase() } : {}) });
    }
  }
  return [...out.values()].sort((a, b) => (ipv4ToInt(a.ip) ?? 0) - (ipv4ToInt(b.ip) ?? 0));
}

/** the slices' ports by name: name -> {port, protocol} */
function slicePorts(view: ClusterView, ns: string, name: string): Map<string, { port: number; protocol: string }> {
  const out = new Map<string, { port: number; protocol: string }>();
  for (const slice of view.slicesOf(ns, name)) for (const p of (slice.ports ?? []) as Obj[]) if (typeof p.port === 'number') out.set(String(p.name ?? ''), { port: p.port, protocol: String(p.protocol ?? 'TCP') });
  return out;
}

const endpointLabel = (e: Endpoint) => e.hostname ?? e.ip.replace(/\./g, '-');

/** One question about the cluster zone; undefined when the name is not the zone's. */
export function answerCluster(q: Question, view: ClusterView, opts: ZoneOptions): ZoneAnswer | undefined {
  const name = lower(q.name);
  const zone = lower(opts.domain);
  const ttl = opts.ttl ?? DEFAULT_TTL;
  const type = q.type;
  if (q.class && q.class !== 'IN' && q.class !== 'ANY') return undefined;
  if (name.endsWith('.in-addr.arpa')) return reverse(name, type, view, opts);
  if (name !== zone && !name.endsWith(`.${zone}`)) return undefined;

  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const a = (n: string, ip: string): Answer => ({ name: n, type: 'A', class: 'IN', ttl, data: ip });
  const wants = (t: string) => type === t || type === 'ANY';
  const exists = (): ZoneAnswer => ({ rcode: 'NOERROR', answers, authorities: answers.length ? [] : [soa(opts)], additionals });
  const nx = (): ZoneAnswer => ({ rcode: 'NXDOMAIN', answers: [], authorities: [soa(opts)], additionals: [] });

  if (name === zone) {
    if (wants('SOA')) answers.push(soa(opts));
    return exists();
  }
  const rest = name.slice(0, -(zone.length + 1));
  const labels = rest.split('.');
  const kind = labels.at(-1);
  const inner = labels.slice(0, -1);

  if (kind === 'pod') {
    if (inner.length === 0 || inner.length === 1) return exists(); // pod.<zone>, <ns>.pod.<zone>
    if (inner.length !== 2) return nx();
    const ip = inner[0]!.replace(/-/g, '.');
    if (ipv4ToInt(ip) === undefined || !/^\d+-\d+-\d+-\d+$/.test(inner[0]!)) return nx();
    if (wants('A')) answers.push(a(name, ip));
    return exists();
  }
  if (kind !== 'svc') return nx();
  if (inner.length === 0) return exists(); // svc.<zone>
  const ns = inner.at(-1)!;
  const nsHasServices = () => view.services().some((s) => s.metadata?.namespace === ns);
  if (inner.length === 1) return nsHasServices() ? exists() : nx();

  const svcName = inner.at(-2)!;
  const svc = view.service(ns, svcName);
  if (!svc) return nx();
  const svcFqdn = `${svcName}.${ns}.svc.${zone}`;

  if (inner.length === 2) {
    if (svc.spec?.type === 'ExternalName') {
      answers.push({ name, type: 'CNAME', class: 'IN', ttl, data: lower(String(svc.spec.externalName ?? '')) });
      return exists();
    }
    if (wants('A')) {
      if (ipSet(svc)) answers.push(a(name, svc.spec.clusterIP));
      else if (isHeadless(svc)) for (const e of readyEndpoints(view, ns, svcName)) answers.push(a(name, e.ip));
    }
    if (wants('SRV')) answers.push(...srv(svc, view, ns, svcName, svcFqdn, undefined, ttl, additionals));
    return exists();
  }

  if (inner.length === 3) {
    // <host>.<svc>.<ns>: a headless Service's endpoint
    const host = inner[0]!;
    if (!isHeadless(svc)) return nx();
    const hits = readyEndpoints(view, ns, svcName).filter((e) => endpointLabel(e) === host);
    if (!hits.length) return nx();
    if (wants('A')) for (const e of hits) answers.push(a(name, e.ip));
    return exists();
  }

  if (inner.length === 4 && inner[0]!.startsWith('_') && inner[1]!.startsWith('_')) {
    const portName = inner[0]!.slice(1);
    const proto = inner[1]!.slice(1);
    const records = srv(svc, view, ns, svcName, svcFqdn, { portName, proto }, ttl, additionals);
    if (!records.length) return nx();
    if (wants('SRV')) answers.push(...records);
    else additionals.length = 0;
    return exists();
  }
  return nx();
}

/** SRV records of a Service: for each named port (or the one asked for) */
function srv(svc: Obj, view: ClusterView, ns: string, svcName: string, svcFqdn: string, only: { portName: string; proto: string } | undefined, ttl: number, additionals: Answer[]): Answer[] {
  const out: Answer[] = [];
  const ports = ((svc.spec?.ports ?? []) as Obj[]).filter((p) => p.name && (!only || (String(p.name).toLowerCase() === only.portName && String(p.protocol ?? 'TCP').toLowerCase() === only.proto)));
  const owner = (p: Obj) => `_${String(p.name).toLowerCase()}._${String(p.protocol ?? 'TCP').toLowerCase()}.${svcFqdn}`;
  if (ipSet(svc)) {
    for (const p of ports) out.push({ name: owner(p), type: 'SRV', class: 'IN', ttl, data: { priority: 0, weight: 100, port: p.port, target: svcFqdn } });
    if (out.length) additionals.push({ name: svcFqdn, type: 'A', class: 'IN', ttl, data: svc.spec.clusterIP });
    return out;
  }
  if (!isHeadless(svc)) return out;
  const eps = readyEndpoints(view, ns, svcName);
  const byName = slicePorts(view, ns, svcName);
  for (const p of ports) {
    const ep = byName.get(String(p.name));
    if (!ep) continue;
    for (const e of eps) {
      const target = `${endpointLabel(e)}.${svcFqdn}`;
      out.push({ name: owner(p), type: 'SRV', class: 'IN', ttl, data: { priority: 0, weight: Math.floor(100 / eps.length) || 1, port: ep.port, target } });
      if (!additionals.some((x) => x.name === target)) additionals.push({ name: target, type: 'A', class: 'IN', ttl, data: e.ip });
    }
  }
  return out;
}

function reverse(name: string, type: string, view: ClusterView, opts: ZoneOptions): ZoneAnswer | undefined {
  const octets = name.slice(0, -'.in-addr.arpa'.length).split('.');
  if (octets.length !== 4) return undefined;
  const ip = octets.reverse().join('.');
  if (ipv4ToInt(ip) === undefined || !opts.reverseCIDRs.some((c) => cidrContains(c, ip))) return undefined;
  const ttl = opts.ttl ?? DEFAULT_TTL;
  const zone = lower(opts.domain);
  const targets: string[] = [];
  for (const svc of view.services()) {
    const ns = svc.metadata.namespace;
    const n = svc.metadata.name;
    if (ipSet(svc) && svc.spec.clusterIP === ip) targets.push(`${n}.${ns}.svc.${zone}`);
    else if (isHeadless(svc)) for (const e of readyEndpoints(view, ns, n)) if (e.ip === ip && e.hostname) targets.push(`${e.hostname}.${n}.${ns}.svc.${zone}`);
  }
  const soaRec = { ...soa(opts) };
  if (!targets.length) return { rcode: 'NXDOMAIN', answers: [], authorities: [soaRec], additionals: [] };
  const answers: Answer[] = type === 'PTR' || type === 'ANY' ? targets.map((t) => ({ name, type: 'PTR', class: 'IN', ttl, data: t })) : [];
  return { rcode: 'NOERROR', answers, authorities: answers.length ? [] : [soaRec], additionals: [] };
}
