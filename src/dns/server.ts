/**
 * podbay's cluster DNS: an API client (informers on Services and EndpointSlices) answering the
 * cluster zone from ./records.ts and forwarding every other name to the host's resolvers.
 *
 *   pod --UDP/TCP 53--> kube-dns ClusterIP (10.43.0.10) --service proxy DNAT--> the bridge
 *   gateway:53, where this server listens (./late-bind: once the bridge has its address)
 *
 * Cluster names are answered from the caches on every query (no staleness beyond the informer);
 * forwarded answers are cached by (name, type, class) for their smallest TTL (at most 300 s;
 * negative answers for the SOA minimum, at most 30 s), 1000 entries at most, the oldest going
 * first. Forwarding (recursion) is served only to clients in the pod range: the gateway
 * address is reachable from the host's other interfaces too, and an open resolver would be a
 * gift to anyone who can route to it; so is completing an ExternalName's CNAME to a name outside
 * the zone with that name's records (completeCname). Everything a container sends is hostile: a packet that
 * does not parse gets FORMERR (or nothing, when it has no header), a TCP client gets 64 KiB
 * per message and 10 s of silence at most, and at most 256 forwarded queries wait at once
 * (more get SERVFAIL).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { Answer, Packet, Question } from 'dns-packet';
import { lazyModule } from '../lazy-module.js';

// loaded with the DNS server (the kubelet's bridge), not by an API-only start
const dnsPacket = lazyModule<typeof import('dns-packet')>('dns-packet');
import { resourceInfo } from '../api/registry.js';
import type { Client } from '../client/types.js';
import { Informer } from '../client/informer.js';
import type { LateListener } from '../sys/late-bind.js';
import { answerCluster, cidrContains, inZone, type ClusterView, type ZoneAnswer, type ZoneOptions } from './records.js';

const SERVICES = resourceInfo('services')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io', 'v1')!;
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface Upstream {
  host: string;
  port: number;
}

export interface ClusterDNSOptions {
  /** --cluster-domain */
  domain: string;
  /** --service-cluster-ip-range and --pod-cidr: their reverse names are answered here */
  serviceCIDR: string;
  podCIDR: string;
  /** --cluster-dns-upstream: where other names go; none: they get SERVFAIL */
  upstreams: Upstream[];
  log?: (line: string) => void;
  upstreamTimeoutMs?: number;
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const MAX_CACHE = 1000;
const MAX_INFLIGHT = 256;
const MAX_TCP_CONNECTIONS = 64;
const TCP_IDLE_MS = 10_000;

/** a reply to `q`: header flags from the query, `rcode`, the sections given */
export function buildReply(q: Packet, rcode: string, sections: { answers?: Answer[]; authorities?: Answer[]; additionals?: Answer[] } = {}, authoritative = false): Packet {
  const flags = (authoritative ? dnsPacket().AUTHORITATIVE_ANSWER : 0) | (q.flag_rd ? dnsPacket().RECURSION_DESIRED : 0) | dnsPacket().RECURSION_AVAILABLE | (RCODES[rcode] ?? 2);
  return { id: q.id ?? 0, type: 'response', flags, questions: q.questions ?? [], answers: sections.answers ?? [], authorities: sections.authorities ?? [], additionals: sections.additionals ?? [] };
}

/** encode for UDP: past the client's size (512, or its EDNS size up to 4096) only the header and question go, with TC set */
export function encodeForUdp(reply: Packet, query: Packet): Buffer {
  const opt = (query.additionals ?? []).find((a) => a.type === 'OPT');
  const max = Math.min(Math.max(opt?.udpPayloadSize ?? 512, 512), 4096);
  const buf = dnsPacket().encode(reply);
  if (buf.length <= max) return buf;
  return dnsPacket().encode({ ...reply, flags: (reply.flags ?? 0) | dnsPacket().TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: [] });
}

function minTtl(p: Packet): number {
  const ttls = [...(p.answers ?? []), ...(p.authorities ?? [])].filter((a) => a.type !== 'OPT').map((a) => (a.type === 'SOA' && !(p.answers ?? []).length ? Math.min(a.ttl ?? 0, a.data?.minimum ?? 0, 30) : (a.ttl ?? 0)));
  return ttls.length ? Math.min(300, ...ttls) : 0;
}

export class ClusterDNS {
  private readonly services: Informer;
  private readonly slices: Informer;
  private readonly log: (line: string) => void;
  private readonly cache = new Map<string, { expires: number; packet: Packet }>();
  private inflight = 0;
  private readonly udp: dgram.Socket[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly conns = new Set<net.Socket>();
  readonly zone: ZoneOptions;
  readonly view: ClusterView;

  constructor(
    client: Client,
    private readonly opts: ClusterDNSOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.services = new Informer(client, SERVICES, { resyncPeriodMs: 0, log: this.log });
    this.slices = new Informer(client, SLICES, { resyncPeriodMs: 0, log: this.log });
    this.zone = { domain: opts.domain, reverseCIDRs: [opts.serviceCIDR, opts.podCIDR] };
    const svcs = this.services;
    const slices = this.slices;
    this.view = {
      service: (ns, name) => svcs.cache.get(`${ns}/${name}`),
      services: () => svcs.cache.list(),
      slicesOf: (ns, name) => slices.cache.list().filter((s) => s.metadata?.namespace === ns && s.metadata?.labels?.[SERVICE_NAME_LABEL] === name),
    };
  }

  async start(): Promise<void> {
    await this.services.start();
    await this.slices.start();
  }

  /** the UDP and TCP listeners on host:port, to be bound when the address exists */
  listeners(host: string, port: number): LateListener[] {
    return [
      { what: `cluster DNS on ${host}:${port}/udp`, bind: () => this.bindUdp(host, port) },
      { what: `cluster DNS on ${host}:${port}/tcp`, bind: () => this.bindTcp(host, port) },
    ];
  }

  async stop(): Promise<void> {
    this.services.stop();
    this.slices.stop();
    for (const s of this.udp) s.close();
    for (const c of this.conns) c.destroy();
    await Promise.all(this.tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.udp.length = 0;
    this.tcp.length = 0;
  }

  /** One query message in, the reply message out (undefined: nothing to answer). */
  async handle(msg: Buffer, from: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let q: Packet;
    try {
      q = dnsPacket().decode(msg);
    } catch {
      if (msg.length < 12) return undefined;
      return dnsPacket().encode({ id: msg.readUInt16BE(0), type: 'response', flags: RCODES.FORMERR, questions: [] });
    }
    if (q.type === 'response') return undefined;
    const reply = await this.resolve(q, from, transport);
    return transport === 'udp' ? encodeForUdp(reply, q) : dnsPacket().encode(reply);
  }

  private async resolve(q: Packet, from: string, transport: 'udp' | 'tcp'): Promise<Packet> {
    if (q.opcode && q.opcode !== 'QUERY') return buildReply(q, 'NOTIMP');
    const question = q.questions?.[0];
    if (!question || (q.questions?.length ?? 0) !== 1) return buildReply(q, 'FORMERR');
    const ours = answerCluster(question, this.view, this.zone);
    const mayRecurse = !!this.opts.podCIDR && cidrContains(this.opts.podCIDR, from);
    if (ours) return buildReply(q, ours.rcode, mayRecurse ? await this.completeCname(question, ours, transport) : ours, true);
    if (!mayRecurse) return buildReply(q, 'REFUSED');
    return this.forward(q, transport);
  }

  /**
   * An A/AAAA answer that ends in a CNAME to a name outside the zone (an ExternalName Service
   * such as example.com) gets the target's records too, looked up as any forwarded name is (its
   * cache, its upstreams): stub resolvers (musl, glibc) do not chase a CNAME themselves, and
   * CoreDNS's plugin.A completes it the same way. Failing that, the CNAME alone.
   */
  private async completeCname(question: Question, ours: ZoneAnswer, transport: 'udp' | 'tcp'): Promise<ZoneAnswer> {
    const last = ours.answers.at(-1);
    if ((question.type !== 'A' && question.type !== 'AAAA') || last?.type !== 'CNAME' || inZone(String(last.data), this.zone)) return ours;
    const lookup: Packet = { id: 0, type: 'query', flags: dnsPacket().RECURSION_DESIRED, questions: [{ name: String(last.data), type: question.type, class: 'IN' }] };
    const got = await this.forward(lookup, transport);
    if (((got.flags ?? 0) & 0xf) !== RCODES.NOERROR || !got.answers?.length) return ours;
    return { ...ours, answers: [...ours.answers, ...got.answers], authorities: [] };
  }

  private async forward(q: Packet, transport: 'udp' | 'tcp'): Promise<Packet> {
    const question = q.questions![0]!;
    const key = `${question.name.toLowerCase()}|${question.type}|${question.class ?? 'IN'}`;
    const hit = this.cache.get(key);
    if (hit && hit.expires > Date.now()) return { ...hit.packet, id: q.id, questions: q.questions };
    if (hit) this.cache.delete(key);
    if (!this.opts.upstreams.length || this.inflight >= MAX_INFLIGHT) return buildReply(q, 'SERVFAIL');
    this.inflight++;
    try {
      const out = dnsPacket().encode({ id: randomInt(0, 65536), type: 'query', flags: dnsPacket().RECURSION_DESIRED, questions: [question] });
      for (const u of this.opts.upstreams) {
        const raw = await (transport === 'tcp' ? queryTcp(u, out, this.timeout) : queryUdp(u, out, this.timeout)).catch(() => undefined);
        if (!raw) continue;
        let answer: Packet;
        try {
          answer = dnsPacket().decode(raw);
        } catch {
          continue;
        }
        if (answer.id !== out.readUInt16BE(0)) continue;
        const ttl = minTtl(answer);
        const rcode = answer.rcode ?? 'SERVFAIL';
        if (ttl > 0 && (rcode === 'NOERROR' || rcode === 'NXDOMAIN') && !answer.flag_tc) {
          if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value as string);
          this.cache.set(key, { expires: Date.now() + ttl * 1000, packet: buildReply(q, rcode, answer) });
        }
        return { ...buildReply(q, rcode, answer), flags: (buildReply(q, rcode).flags ?? 0) | (answer.flag_tc ? dnsPacket().TRUNCATED_RESPONSE : 0) };
      }
      return buildReply(q, 'SERVFAIL');
    } finally {
      this.inflight--;
    }
  }

  private get timeout(): number {
    return this.opts.upstreamTimeoutMs ?? 2000;
  }

  private bindUdp(host: string, port: number): Promise<void> {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      sock.once('error', (e) => {
        sock.close();
        reject(e);
      });
      sock.bind(port, host, () => {
        sock.removeAllListeners('error');
        sock.on('error', (e) => this.log(`cluster DNS: udp: ${e.message}`));
        sock.on('message', (msg, rinfo) => {
          void this.handle(msg, rinfo.address, 'udp')
            .then((r) => r && sock.send(r, rinfo.port, rinfo.address))
            .catch((e) => this.log(`cluster DNS: ${(e as Error).message}`));
        });
        this.udp.push(sock);
        resolve();
      });
    });
  }

  private bindTcp(host: string, port: number): Promise<void> {
    const server = net.createServer((c) => this.serveTcp(c));
    server.maxConnections = MAX_TCP_CONNECTIONS;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        this.tcp.push(server);
        resolve();
      });
    });
  }

  /** RFC 7766: 2-byte length, then the message; several per connection, answered in order */
  private serveTcp(c: net.Socket): void {
    this.conns.add(c);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => {});
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        chain = chain.then(async () => {
          const r = await this.handle(Buffer.from(msg), c.remoteAddress ?? '', 'tcp').catch(() => undefined);
          if (!r || c.destroyed) return;
          const len2 = Buffer.alloc(2);
          len2.writeUInt16BE(r.length);
          c.write(Buffer.concat([len2, r]));
        });
      }
    });
  }
}

function queryUdp(u: Upstream, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(u.host) ? 'udp6' : 'udp4');
    const done = (e?: Error, b?: Buffer) => {
      clearTimeout(t);
      sock.close();
      if (e) reject(e);
      else resolve(b!);
    };
    const t = setTimeout(() => done(new Error(`no answer from ${u.host}:${u.port}`)), timeoutMs);
    sock.on('error', (e) => done(e));
    sock.on('message', (m, r) => {
      if (r.address === u.host && r.port === u.port) done(undefined, m);
    });
    sock.send(msg, u.port, u.host);
  });
}

function queryTcp(u: Upstream, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(u.port, u.host);
    let buf = Buffer.alloc(0);
    const done = (e?: Error, b?: Buffer) => {
      clearTimeout(t);
      c.destroy();
      if (e) reject(e);
      else resolve(b!);
    };
    const t = setTimeout(() => done(new Error(`no answer from ${u.host}:${u.port}`)), timeoutMs);
    c.on('error', (e) => done(e));
    c.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      c.write(Buffer.concat([len, msg]));
    });
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(undefined, buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
  });
}

/** --cluster-dns-upstream: "none", or IP[:PORT] ([IPv6]:PORT) separated by commas */
export function parseUpstreams(v: string): Upstream[] {
  if (v === 'none' || v === '') return [];
  return v.split(',').map((x) => {
    const s = x.trim();
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)|([0-9a-fA-F:]+))(?::(\d+))?$/.exec(s);
    const host = m && (m[1] ?? m[2] ?? m[3]);
    const port = m?.[4] !== undefined ? Number(m[4]) : 53;
    // a bare IPv6 address takes no port (its colons are the address's)
    if (!host || !net.isIP(host) || port < 1 || port > 65535 || (m?.[3] && m[4] !== undefined)) throw new Error(`--cluster-dns-upstream ${JSON.stringify(s)}: want IP, IP:PORT, [IPv6]:PORT or none`);
    return { host, port };
  });
}
