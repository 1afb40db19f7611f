/**
 * The cluster zone's records, as the Kubernetes DNS specification defines them
 * (github.com/kubernetes/dns, docs/specification.md) and CoreDNS's kubernetes plugin answers
 * them: a pure function of one question and the Services and EndpointSlices in the informers'
 * caches, so it is unit-tested without a socket.
 *
 *   <svc>.<ns>.svc.<zone>              A      ClusterIP; headless: every ready endpoint's IP
 *                                      CNAME  ExternalName Services (any type asked); for A and
 *                                             AAAA a target in the zone is followed and its
 *                                             records come after the CNAME, as CoreDNS's
 *                                             plugin.A does (a target outside the zone is left
 *                                             to the server, which forwards it for pods)
 *                                      SRV    every port (named or not), owned by the name
 *                                             asked: the Service (ClusterIP) or each ready
 *                                             endpoint's name (headless) as target
 *   <host>.<svc>.<ns>.svc.<zone>       A      a headless Service's endpoint by its hostname
 *                                             (a pod's spec.hostname with subdomain = svc), or
 *                                             by its IP with dashes (10-1-2-3)
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV  that named port, the same targets; the
 *                                             targets' A records are additionals
 *   <a-b-c-d>.<ns>.pod.<zone>          A      a.b.c.d (CoreDNS's "pods insecure", k3s's default)
 *   <d.c.b.a>.in-addr.arpa             PTR    a ClusterIP's Service; else every ready endpoint
 *                                             with that IP of any Service, by its hostname or
 *                                             dashed IP (CoreDNS's serviceRecordForIP); inside
 *                                             the service or pod range only
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

/** one address of an EndpointSlice endpoint, with its hostname when it has one */
const endpointAt = (e: Obj, ip: string): Endpoint => ({ ip, ...(e.hostname ? { hostname: String(e.hostname).toLowerCase() } : {}) });

/** a Service's ready endpoints (IPv4), each once */
function readyEndpoints(view: ClusterView, ns: string, name: string): Endpoint[] {
  const out = new Map<string, Endpoint>();
  for (const slice of view.slicesOf(ns, name)) {
    if (slice.addressType && slice.addressType !== 'IPv4') continue;
    for (const e of (slice.endpoints ?? []) as Obj[]) {
      if (e.conditions?.ready === false) continue;
      for (const ip of (e.addresses ?? []) as string[]) if (!out.has(ip)) out.set(ip, endpointAt(e, ip));
    }
  }
  return [...out.values()].sort((a, b) => (ipv4ToInt(a.ip) ?? 0) - (ipv4ToInt(b.ip) ?? 0));
}

/** the port asked for by _<port>._<proto>; undefined: every port (the Service name asked) */
type PortQuery = { portName: string; proto: string } | undefined;

/** matchPortAndProtocol: the query's port and protocol, case-insensitively; none asked matches all */
const portMatches = (p: Obj, only: PortQuery): boolean =>
  !only || (String(p.name ?? '').toLowerCase() === only.portName && String(p.protocol ?? 'TCP').toLowerCase() === only.proto);

/** a headless Service's (endpoint, port) pairs, as each slice lists them: its ready endpoints times its ports */
function endpointPorts(view: ClusterView, ns: string, name: string, only: PortQuery): { e: Endpoint; port: number }[] {
  const out: { e: Endpoint; port: number }[] = [];
  for (const slice of view.slicesOf(ns, name)) {
    if (slice.addressType && slice.addressType !== 'IPv4') continue;
    const ports = ((slice.ports ?? []) as Obj[]).filter((p) => typeof p.port === 'number' && portMatches(p, only));
    for (const ep of (slice.endpoints ?? []) as Obj[]) {
      if (ep.conditions?.ready === false) continue;
      for (const ip of (ep.addresses ?? []) as string[]) for (const p of ports) out.push({ e: endpointAt(ep, ip), port: p.port });
    }
  }
  return out.sort((a, b) => (ipv4ToInt(a.e.ip) ?? 0) - (ipv4ToInt(b.e.ip) ?? 0) || a.port - b.port);
}

const endpointLabel = (e: Endpoint) => e.hostname ?? e.ip.replace(/\./g, '-');

/** CoreDNS follows at most this many CNAMEs inside the zone (plugin.A: len(previousRecords) > 7) */
const MAX_CNAME_CHAIN = 8;

/** One question about the cluster zone; undefined when the name is not the zone's. */
export function answerCluster(q: Question, view: ClusterView, opts: ZoneOptions): ZoneAnswer | undefined {
  return answerIn(q, view, opts, []);
}

/** a name this zone answers (not a reverse name): an ExternalName target to follow here */
export const inZone = (name: string, opts: ZoneOptions): boolean => {
  const n = lower(name);
  const zone = lower(opts.domain);
  return n === zone || n.endsWith(`.${zone}`);
};

function answerIn(q: Question, view: ClusterView, opts: ZoneOptions, chain: readonly string[]): ZoneAnswer | undefined {
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
      const target = lower(String(svc.spec.externalName ?? ''));
      const cname: Answer = { name, type: 'CNAME', class: 'IN', ttl, data: target };
      if ((type !== 'A' && type !== 'AAAA') || !inZone(target, opts)) {
        answers.push(cname);
        return exists();
      }
      // plugin.A: a target in the zone is answered here, the CNAME and its records together;
      // nothing at all (NODATA) when it has none, loops back (x CNAME x) or the chain is too long
      if (target === name || chain.includes(target) || chain.length >= MAX_CNAME_CHAIN - 1) return exists();
      const next = answerIn({ name: target, type, class: 'IN' }, view, opts, [...chain, name]);
      if (next?.answers.length) answers.push(cname, ...next.answers);
      return exists();
    }
    if (wants('A')) {
      if (ipSet(svc)) answers.push(a(name, svc.spec.clusterIP));
      else if (isHeadless(svc)) for (const e of readyEndpoints(view, ns, svcName)) answers.push(a(name, e.ip));
    }
    if (wants('SRV')) answers.push(...srv(svc, view, ns, svcName, svcFqdn, name, undefined, ttl, additionals));
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
    const records = srv(svc, view, ns, svcName, svcFqdn, name, { portName, proto }, ttl, additionals);
    if (!records.length) return nx();
    if (wants('SRV')) answers.push(...records);
    else additionals.length = 0;
    return exists();
  }
  return nx();
}

/**
 * SRV records of a Service, as CoreDNS's plugin.SRV makes them: owned by the name asked (the
 * Service's or _port._proto's), one per port of the Service (ClusterIP: target the Service's
 * name) or per ready endpoint and port of its slices (headless: target the endpoint's name),
 * each (target, port) once, weight 100 / their count; the targets' A records as additionals.
 */
function srv(svc: Obj, view: ClusterView, ns: string, svcName: string, svcFqdn: string, owner: string, only: PortQuery, ttl: number, additionals: Answer[]): Answer[] {
  const found: { target: string; port: number; ip: string }[] = [];
  if (ipSet(svc)) {
    for (const p of (svc.spec?.ports ?? []) as Obj[]) if (typeof p.port === 'number' && portMatches(p, only)) found.push({ target: svcFqdn, port: p.port, ip: svc.spec.clusterIP });
  } else if (isHeadless(svc)) {
    for (const { e, port } of endpointPorts(view, ns, svcName, only)) found.push({ target: `${endpointLabel(e)}.${svcFqdn}`, port, ip: e.ip });
  }
  const weight = Math.floor(100 / found.length) || 1;
  const out: Answer[] = [];
  for (const f of found) {
    if (!out.some((r) => r.data.target === f.target && r.data.port === f.port)) out.push({ name: owner, type: 'SRV', class: 'IN', ttl, data: { priority: 0, weight, port: f.port, target: f.target } });
    if (!additionals.some((x) => x.name === f.target && x.data === f.ip)) additionals.push({ name: f.target, type: 'A', class: 'IN', ttl, data: f.ip });
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
  // serviceRecordForIP: the Service with that cluster IP; else every ready endpoint with it
  const byClusterIP = view.services().find((svc) => ipSet(svc) && svc.spec.clusterIP === ip);
  const targets: string[] = [];
  if (byClusterIP) targets.push(`${byClusterIP.metadata.name}.${byClusterIP.metadata.namespace}.svc.${zone}`);
  else {
    for (const svc of view.services()) {
      const ns = svc.metadata.namespace;
      const n = svc.metadata.name;
      for (const e of readyEndpoints(view, ns, n)) if (e.ip === ip) targets.push(`${endpointLabel(e)}.${n}.${ns}.svc.${zone}`);
    }
  }
  const soaRec = { ...soa(opts) };
  if (!targets.length) return { rcode: 'NXDOMAIN', answers: [], authorities: [soaRec], additionals: [] };
  const answers: Answer[] = type === 'PTR' || type === 'ANY' ? targets.map((t) => ({ name, type: 'PTR', class: 'IN', ttl, data: t })) : [];
  return { rcode: 'NOERROR', answers, authorities: answers.length ? [] : [soaRec], additionals: [] };
}
