/**
 * pods/proxy and nodes/proxy, as kube-apiserver serves them (kubectl proxy, `kubectl get --raw`,
 * dashboards):
 *
 *   /api/v1/namespaces/NS/pods/[SCHEME:]NAME[:PORT]/proxy[/PATH]
 *       HTTP to the pod's IP (the first declared container port when none is given, else the
 *       scheme's port), with the
 *       method, query, headers and body passed on, and the answer streamed back. As upstream
 *       (pod.ResourceLocation, proxy.UpgradeAwareHandler and its Transport):
 *         - the client's Authorization header never reaches the pod (the authentication
 *           filter deletes it once it has been checked);
 *         - X-Forwarded-Uri/-Host/-Proto tell the pod where it is mounted, and a Location
 *           header pointing into the pod is rewritten to go through the proxy again;
 *         - a pod without an IP is 400 "address not allowed"; a pod that does not answer is
 *           503 "error trying to reach service: dial tcp IP:PORT: connect: connection refused";
 *         - `.../proxy` without a trailing slash is redirected (301) to `.../proxy/`.
 *       Only addresses podbay itself gave the pod's running sandbox are dialled: a pod status
 *       rewritten to point at the host or elsewhere is refused the same way.
 *         - links in an HTML page (href, src, action ...) that point into the pod are rewritten
 *           to go through the proxy, so a web UI works behind `kubectl proxy`.
 *         - an upgrade (WebSocket) is relayed both ways as raw bytes once the pod answers
 *           (proxy-upgrade.ts).
 *       (Not done: gzip-encoded pages are passed on without rewriting.)
 *
 *   /api/v1/nodes/NAME/proxy/PATH
 *       The kubelet's endpoints, answered in-process since podbay's node has no kubelet port:
 *       healthz, pods (the pods bound to the node) and stats/summary (from kubelet/stats.ts).
 *       The node's own files (/logs) are refused.
 */
import http, { type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { ApiError, badRequest, forbidden, pathNotFound } from '../api/errors.js';
import type { UsageSource } from './metrics.js';
import type { ContainerUsage } from '../api/usage.js';
import { decodePathSegment } from './query.js';
import { rfc3339 as kubeletTime } from '../api/time.js';

type Obj = Record<string, any>;

export interface ProxyDeps {
  getPod(ns: string, name: string): Promise<Obj>;
  getNode(name: string): Promise<Obj>;
  podsOnNode(nodeName: string): Promise<Obj[]>;
  /** the IPs the node gave the pod's running sandbox; none when it has no running sandbox here */
  podIPs(pod: Obj): Promise<string[]>;
  usage(): UsageSource | undefined;
}

export interface ProxyTarget {
  kind: 'pod' | 'node';
  ns?: string;
  /** the NAME part, decoded ("[scheme:]name[:port]" for pods) */
  id: string;
  /** the path after /proxy, still escaped as the client sent it ("" or "/...") */
  rest: string;
  /** the path up to and including /proxy, as sent */
  prefix: string;
}

const POD_PROXY = /^(\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/proxy)(\/.*)?$/;
const NODE_PROXY = /^(\/api\/v1\/nodes\/([^/]+)\/proxy)(\/.*)?$/;

/** The proxy target a raw (still escaped) request path names, if it is a proxy path. */
export function proxyTarget(rawPath: string): ProxyTarget | undefined {
  const p = POD_PROXY.exec(rawPath);
  if (p) return { kind: 'pod', prefix: p[1]!, ns: decodePathSegment(p[2]!), id: decodePathSegment(p[3]!), rest: p[4] ?? '' };
  const n = NODE_PROXY.exec(rawPath);
  if (n) return { kind: 'node', prefix: n[1]!, id: decodePathSegment(n[2]!), rest: n[3] ?? '' };
  return undefined;
}

/** utilnet.SplitSchemeNamePort: "name", "name:port", "scheme:name:port" (scheme http or https). */
export function splitSchemeNamePort(id: string): { scheme: 'http' | 'https'; name: string; port: string } | undefined {
  const parts = id.split(':');
  let scheme = '';
  let name: string;
  let port = '';
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) [name, port] = parts as [string, string];
  else if (parts.length === 3) [scheme, name, port] = parts as [string, string, string];
  else return undefined;
  if (!name || (parts.length === 3 && !scheme)) return undefined;
  if (scheme !== '' && scheme !== 'http' && scheme !== 'https') return undefined;
  return { scheme: (scheme || 'http') as 'http' | 'https', name, port };
}

/** The port to dial: the one given (a number, or a container port's name), else the first declared. */
export function podPort(pod: Obj, port: string): number | undefined {
  const containers: Obj[] = pod.spec?.containers ?? [];
  if (port === '') {
    for (const c of containers) if (c.ports?.length) return c.ports[0].containerPort;
    return undefined;
  }
  if (/^[0-9]+$/.test(port)) {
    const n = Number(port);
    if (n < 1 || n > 65535) throw badRequest(`invalid pod request: port ${port} is out of range`);
    return n;
  }
  for (const c of containers) for (const p of c.ports ?? []) if (p.name === port) return p.containerPort;
  throw badRequest(`invalid pod request: pod ${pod.metadata?.name} has no container port named ${JSON.stringify(port)}`);
}

export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The request headers the pod gets: the client's, less hop-by-hop ones and its credentials, plus X-Forwarded-*. */
export function forwardHeaders(req: IncomingMessage, forwardedUri: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionListed = String(req.headers.connection ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || connectionListed.includes(k) || k === 'authorization') continue;
    out[k] = v;
  }
  out['x-forwarded-uri'] = forwardedUri;
  if (req.headers.host) out['x-forwarded-host'] = req.headers.host;
  out['x-forwarded-proto'] = 'https';
  return out;
}

/** A Location header pointing at the pod itself is rewritten to go through the proxy. */
export function rewriteLocation(location: string, podBase: string, prefix: string): string {
  if (location.startsWith(podBase + '/') || location === podBase) return prefix + (location.slice(podBase.length) || '/');
  if (location.startsWith('/')) return prefix + location;
  return location;
}

/** HTML answers bigger than this are passed on without their links rewritten */
export const HTML_REWRITE_MAX_BYTES = 4 * 1024 * 1024;

/** Reads a stream up to `max` bytes: all of it (complete) or the first `max` (the rest left unread). */
function collect(stream: IncomingMessage, max: number): Promise<{ body: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size > max) {
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.pause();
        resolve({ body: Buffer.concat(chunks), complete: false });
      }
    };
    const onEnd = () => resolve({ body: Buffer.concat(chunks), complete: true });
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', reject);
  });
}

/**
 * The link attributes of a page rewritten to go through the proxy, as kube-apiserver's proxy
 * transport does (href, src, action and the like): absolute paths ("/x") and absolute URLs to
 * the pod itself get the proxy prefix; relative links, links elsewhere and "//host" stay.
 */
export function rewriteHtml(html: string, podBase: string, prefix: string): string {
  return html.replace(/(\s(?:href|src|action|background|cite|codebase|data|formaction|icon|longdesc|manifest|poster|profile|usemap)\s*=\s*)(["']?)([^"'\s>]*)\2/gi, (all, attr: string, q: string, url: string) => {
    if (url.startsWith(podBase + '/') || url === podBase) return `${attr}${q}${prefix}${url.slice(podBase.length) || '/'}${q}`;
    if (url.startsWith('/') && !url.startsWith('//') && !url.startsWith(prefix + '/')) return `${attr}${q}${prefix}${url}${q}`;
    return all;
  });
}

export function dialError(err: NodeJS.ErrnoException, host: string, port: number): ApiError {
  const why = err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.code === 'EHOSTUNREACH' ? 'connect: no route to host' : err.code === 'ETIMEDOUT' ? 'i/o timeout' : err.message;
  return new ApiError(503, 'ServiceUnavailable', `error trying to reach service: dial tcp ${host}:${port}: ${why}`);
}

/** Relay one HTTP exchange to ip:port; resolves once the answer is streamed (or the error thrown before any byte). */
function relay(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https', ip: string, port: number, path: string, search: string, prefix: string): Promise<void> {
  const host = isIP(ip) === 6 ? `[${ip}]` : ip;
  const podBase = `${scheme}://${host}:${port}`;
  const forwardedUri = prefix + path;
  return new Promise((resolve, reject) => {
    const mod = scheme === 'https' ? https : http;
    const out = mod.request(
      {
        host: ip,
        port,
        method: req.method,
        path: path + search,
        headers: forwardHeaders(req, forwardedUri),
        // as kube-apiserver's proxy transport: the pod's certificate is not verified (it has no name to verify against)
        ...(scheme === 'https' ? { rejectUnauthorized: false } : {}),
        timeout: 30_000,
        // Go's parser (kube-apiserver's proxy) takes header lines ended by a bare LF, as
        // many small servers and CGI scripts write them; Node's strict one would refuse them
        insecureHTTPParser: true,
      },
      (up) => {
        // the timeout covers connecting and waiting for the answer's head; a long answer
        // (a log stream, server-sent events) may then be quiet as long as it likes
        out.setTimeout(0);
        const headers: OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(up.headers)) {
          if (v === undefined || HOP_BY_HOP.has(k)) continue;
          headers[k] = k === 'location' && typeof v === 'string' ? rewriteLocation(v, podBase, prefix) : v;
        }
        const html = /^text\/html\b/i.test(String(up.headers['content-type'] ?? '')) && !up.headers['content-encoding'];
        if (html) {
          // links in a page point into the pod: rewrite them to go through the proxy (as
          // kube-apiserver's proxy transport does), so a web UI works behind kubectl proxy
          delete headers['content-length'];
          return void collect(up, HTML_REWRITE_MAX_BYTES).then(({ body, complete }) => {
            res.writeHead(up.statusCode ?? 502, headers);
            if (!complete) {
              // too big to rewrite: passed on as it is
              res.write(body);
              up.pipe(res);
              up.on('end', resolve);
              return;
            }
            res.end(rewriteHtml(body.toString('utf8'), podBase, prefix));
            resolve();
          }, () => {
            res.destroy();
            resolve();
          });
        }
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
        up.on('end', resolve);
        up.on('error', () => {
          res.destroy();
          resolve();
        });
      },
    );
    out.on('timeout', () => out.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (res.headersSent) {
        res.destroy();
        resolve();
      } else reject(dialError(e, host, port));
    });
    // the client went away: so does the request to the pod
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
}

/** Where a pods/proxy request goes: the scheme, and an IP podbay gave the pod's sandbox, and the port. */
export async function podProxyDestination(t: ProxyTarget, deps: ProxyDeps): Promise<{ scheme: 'http' | 'https'; ip: string; port: number }> {
  const parsed = splitSchemeNamePort(t.id);
  if (!parsed) throw badRequest(`invalid pod request ${JSON.stringify(t.id)}`);
  const pod = await deps.getPod(t.ns!, parsed.name);
  const port = podPort(pod, parsed.port);
  const ip: string | undefined = pod.status?.podIP;
  const made = ip ? await deps.podIPs(pod) : [];
  if (!ip || !made.includes(ip)) throw badRequest('address not allowed');
  // no port given or declared: the scheme's own, as a URL without a port means upstream
  return { scheme: parsed.scheme, ip, port: port ?? (parsed.scheme === 'https' ? 443 : 80) };
}

async function servePodProxy(t: ProxyTarget, req: IncomingMessage, res: ServerResponse, search: string, deps: ProxyDeps): Promise<void> {
  const d = await podProxyDestination(t, deps);
  if (t.rest === '') return redirectWithSlash(req, res, t.prefix, search);
  await relay(req, res, d.scheme, d.ip, d.port, t.rest, search, t.prefix);
}

function redirectWithSlash(req: IncomingMessage, res: ServerResponse, prefix: string, search: string): void {
  res.writeHead(301, { Location: `${prefix}/${search}` });
  res.end();
  req.resume();
}


/** The kubelet's /stats/summary (statsapi.Summary), with what podbay measures: CPU and memory. */
export async function statsSummary(node: Obj, pods: Obj[], usage: UsageSource | undefined): Promise<Obj> {
  const nodeUsage = await usage?.nodeUsage();
  const podUsages = await Promise.all(pods.map((p) => (usage && p.metadata?.uid ? usage.podUsage(p.metadata.uid) : undefined)));
  const cpu = (at: number, nano: number, total: number) => ({ time: kubeletTime(at), usageNanoCores: nano, usageCoreNanoSeconds: Math.round(total) });
  const mem = (at: number, ws: number) => ({ time: kubeletTime(at), workingSetBytes: ws });
  return {
    node: {
      nodeName: node.metadata.name,
      ...(node.metadata.creationTimestamp ? { startTime: node.metadata.creationTimestamp } : {}),
      ...(nodeUsage ? { cpu: cpu(nodeUsage.at, nodeUsage.cpuNanoCores, nodeUsage.cpuUsageCoreNanoSeconds), memory: mem(nodeUsage.at, nodeUsage.memoryWorkingSetBytes) } : {}),
    },
    pods: pods.flatMap((p, i) => {
      const u = podUsages[i];
      if (!u) return [];
      const sum = (f: (c: ContainerUsage) => number) => u.containers.reduce((a, c) => a + f(c), 0);
      return [
        {
          podRef: { name: p.metadata.name, namespace: p.metadata.namespace, uid: p.metadata.uid },
          ...(p.status?.startTime ? { startTime: p.status.startTime } : {}),
          containers: u.containers.map((c) => ({ name: c.name, cpu: cpu(u.at, c.cpuNanoCores, c.cpuUsageCoreNanoSeconds), memory: mem(u.at, c.memoryWorkingSetBytes) })),
          cpu: cpu(u.at, sum((c) => c.cpuNanoCores), sum((c) => c.cpuUsageCoreNanoSeconds)),
          memory: mem(u.at, sum((c) => c.memoryWorkingSetBytes)),
        },
      ];
    }),
  };
}

const NODE_PATHS = 'healthz, pods and stats/summary';

async function serveNodeProxy(t: ProxyTarget, req: IncomingMessage, res: ServerResponse, search: string, deps: ProxyDeps): Promise<void> {
  const node = await deps.getNode(t.id);
  if (t.rest === '') return redirectWithSlash(req, res, t.prefix, search);
  const path = t.rest.replace(/\/+$/, '') || '/';
  const send = (type: string, body: string) => {
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache, private' });
    res.end(body);
  };
  if (path === '/logs' || path.startsWith('/logs/')) throw forbidden(`podbay does not serve the node's log files through nodes/proxy (${NODE_PATHS} are served)`);
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, 'MethodNotAllowed', `nodes/proxy${path} serves GET only`);
  switch (path) {
    case '/healthz':
      return send('text/plain; charset=utf-8', 'ok');
    case '/pods': {
      const pods = await deps.podsOnNode(node.metadata.name);
      return send('application/json', JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: pods }) + '\n');
    }
    case '/stats/summary':
      return send('application/json', JSON.stringify(await statsSummary(node, await deps.podsOnNode(node.metadata.name), deps.usage())) + '\n');
  }
  throw pathNotFound(`the server could not find the requested resource (${req.method} ${t.prefix}${t.rest}): podbay's node serves ${NODE_PATHS} through nodes/proxy`);
}

export function serveProxy(t: ProxyTarget, req: IncomingMessage, res: ServerResponse, search: string, deps: ProxyDeps): Promise<void> {
  return t.kind === 'pod' ? servePodProxy(t, req, res, search, deps) : serveNodeProxy(t, req, res, search, deps);
}
