/**
 * Upgrade requests (WebSockets) through pods/proxy, as kube-apiserver's UpgradeAwareHandler
 * relays them: the request goes to the pod with its Upgrade and Connection headers (and
 * without the client's credentials, as every proxied request), and from then on the bytes flow
 * both ways untouched, the pod's 101 (or whatever it answers) included. The connection to the
 * pod and the client's connection end together.
 *
 *   client --Upgrade--> podbay --dial pod IP:port (only an IP podbay gave the pod)--> pod
 *          <=========== raw bytes both ways until either side closes ===========>
 *
 * A pod that cannot be dialled is a 503 worded as upstream ("error trying to reach service:
 * dial tcp IP:PORT: connect: connection refused"), written on the client's socket before any
 * byte of the pod's.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { badRequest } from '../api/errors.js';
import { dialError, forwardHeaders, podProxyDestination, type ProxyDeps, type ProxyTarget } from './proxy.js';

/** the request head the pod gets: the method and path after /proxy, the forwarded headers, and the upgrade itself */
export function upgradeRequestHead(req: IncomingMessage, path: string, search: string, prefix: string, hostHeader: string): string {
  const headers = forwardHeaders(req, prefix + path);
  const lines = [`${req.method ?? 'GET'} ${path}${search} HTTP/1.1`, `Host: ${hostHeader}`];
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'host' || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${String(one).replace(/[\r\n]/g, '')}`);
  }
  lines.push('Connection: Upgrade', `Upgrade: ${String(req.headers.upgrade ?? '').replace(/[\r\n]/g, '')}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Relay an upgrade request on pods/NAME/proxy/PATH; throws (before touching the socket) when the pod cannot be reached. */
export async function servePodProxyUpgrade(t: ProxyTarget, req: IncomingMessage, socket: Duplex, head: Buffer, search: string, deps: ProxyDeps): Promise<void> {
  if (t.kind !== 'pod') throw badRequest('upgrade requests through nodes/proxy are not supported');
  const d = await podProxyDestination(t, deps);
  const path = t.rest === '' ? '/' : t.rest;
  const upstream = await new Promise<net.Socket>((resolve, reject) => {
    const opts = { host: d.ip, port: d.port, timeout: 30_000 };
    // as kube-apiserver's proxy transport: the pod's certificate is not verified
    const conn: net.Socket = d.scheme === 'https' ? tls.connect({ ...opts, rejectUnauthorized: false }) : net.connect(opts);
    const ready = d.scheme === 'https' ? 'secureConnect' : 'connect';
    const host = net.isIP(d.ip) === 6 ? `[${d.ip}]` : d.ip;
    conn.once(ready, () => {
      conn.setTimeout(0);
      conn.off('error', reject);
      resolve(conn);
    });
    conn.once('timeout', () => conn.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    conn.once('error', (e: NodeJS.ErrnoException) => reject(dialError(e, host, d.port)));
  });
  const host = net.isIP(d.ip) === 6 ? `[${d.ip}]:${d.port}` : `${d.ip}:${d.port}`;
  spliceUpgrade(upstream, socket, upgradeRequestHead(req, path, search, t.prefix, String(req.headers.host ?? host)), head);
}

/**
 * Sends the upgrade request (and the bytes the client sent after it) upstream, then relays
 * both ways untouched, as UpgradeAwareHandler does: either side ending or failing ends both, so
 * no half-open relay is left behind.
 */
export function spliceUpgrade(upstream: Duplex, socket: Duplex, requestHead: string, head: Buffer): void {
  upstream.write(requestHead);
  if (head.length) upstream.write(head);
  const close = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.on('error', close).on('close', close);
  socket.on('error', close).on('close', close);
  upstream.pipe(socket);
  socket.pipe(upstream);
}
