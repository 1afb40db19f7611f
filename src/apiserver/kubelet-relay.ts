/**
 * The API server's way to another node's kubelet, as kube-apiserver's: the node's address from
 * Node.status.addresses (InternalIP first, as --kubelet-preferred-address-types) and its port
 * from status.daemonEndpoints.kubeletEndpoint.Port; HTTPS trusting the cluster CA, the API
 * server authenticated by its kubelet client certificate (DIR/pki/apiserver-kubelet-client.*).
 *
 *   pods/log:                         GET /containerLogs/NS/POD/CONTAINER?query, the answer
 *                                     streamed back as it comes (status and body as the kubelet's)
 *   nodes/NAME/proxy/PATH:            GET PATH?query on the kubelet, the same way
 *   pods/exec, attach, portforward:   the client's upgrade request, rewritten to /exec/NS/POD/
 *                                     CONTAINER (/attach, /portForward/NS/POD) with its query and
 *                                     upgrade headers intact, then the bytes both ways untouched
 *                                     (UpgradeAwareHandler): the kubelet's 101 and protocol
 *                                     choice reach the client as the kubelet sent them
 */
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, badRequest } from '../api/errors.js';
import type { Obj } from '../api/types.js';
import { spliceUpgrade, upgradeRequestHead } from './proxy-upgrade.js';
import type { StreamKind } from './node-streams.js';

/** the kubelet's default --port */
export const DEFAULT_KUBELET_PORT = 10250;

/** the API server's credential towards kubelets (kube-apiserver's --kubelet-client-certificate/-key, --kubelet-certificate-authority) */
export interface KubeletClientCredential {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface KubeletLocation {
  host: string;
  port: number;
  cred: KubeletClientCredential;
}

/** where a node's kubelet listens (GetConnectionInfo), or an error worded as upstream's */
export function kubeletAddress(node: Obj): { host: string; port: number } {
  const addresses: Obj[] = node.status?.addresses ?? [];
  const preferred = ['InternalIP', 'ExternalIP', 'Hostname'];
  const found = preferred.map((t) => addresses.find((a) => a.type === t && a.address)).find(Boolean);
  if (!found) throw new ApiError(500, 'InternalError', `no preferred addresses found; known addresses: ${JSON.stringify(addresses)}`);
  const port = Number(node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0);
  return { host: found.address, port: port > 0 ? port : DEFAULT_KUBELET_PORT };
}

/** the kubelet's path for a pod's streaming subresource */
export function kubeletPath(kind: StreamKind | 'log', pod: Obj, container: string | undefined): string {
  const e = encodeURIComponent;
  const base = `${e(pod.metadata.namespace)}/${e(pod.metadata.name)}`;
  if (kind === 'portforward') return `/portForward/${base}`;
  const c = container ? `/${e(container)}` : '';
  return `${kind === 'log' ? '/containerLogs' : kind === 'exec' ? '/exec' : '/attach'}/${base}${c}`;
}

const hostPort = (l: KubeletLocation) => (net.isIP(l.host) === 6 ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`);

function backendError(e: NodeJS.ErrnoException, l: KubeletLocation): ApiError {
  const why = e.code === 'ECONNREFUSED' ? 'connect: connection refused' : e.code === 'ETIMEDOUT' ? 'i/o timeout' : e.code === 'EHOSTUNREACH' ? 'connect: no route to host' : e.message;
  return new ApiError(500, 'InternalError', `error dialing backend: dial tcp ${hostPort(l)}: ${why}`);
}

/** pods/log of a pod on another node: the kubelet's answer relayed as it streams */
export function relayLogs(l: KubeletLocation, pod: Obj, container: string | undefined, search: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return relayGet(l, kubeletPath('log', pod, container) + search, req, res);
}

/** A GET of `pathAndQuery` on the kubelet, its status, type and body relayed as they come. */
export function relayGet(l: KubeletLocation, pathAndQuery: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const upstream = https.request(
      { host: l.host, port: l.port, method: 'GET', path: pathAndQuery, ca: l.cred.caPem, cert: l.cred.certPem, key: l.cred.keyPem, agent: false, timeout: 30_000 },
      (kres) => {
        upstream.setTimeout(0);
        const headers: Record<string, string> = { 'Cache-Control': 'no-cache, private' };
        for (const h of ['content-type']) if (kres.headers[h]) headers[h] = String(kres.headers[h]);
        if (kres.statusCode === 200) headers['Transfer-Encoding'] = 'chunked';
        res.writeHead(kres.statusCode ?? 502, headers);
        kres.pipe(res);
        kres.on('end', resolve);
        kres.on('error', () => (res.destroy(), resolve()));
      },
    );
    // the client going away ends the kubelet's stream too (a followed log would run forever)
    req.on('close', () => upstream.destroy());
    upstream.on('timeout', () => upstream.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    upstream.on('error', (e: NodeJS.ErrnoException) => (res.headersSent ? (res.destroy(), resolve()) : reject(backendError(e, l))));
    upstream.end();
  });
}

/** exec, attach or port-forward of a pod on another node: the upgrade relayed to its kubelet; throws before touching the socket when the kubelet cannot be reached */
export async function relayUpgrade(l: KubeletLocation, kind: StreamKind, pod: Obj, req: IncomingMessage, socket: Duplex, head: Buffer, q: URLSearchParams): Promise<void> {
  const container = kind === 'portforward' ? undefined : q.get('container') || undefined;
  if (kind === 'exec' && q.getAll('command').length === 0) throw badRequest('you must specify at least 1 command');
  const upstream = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const conn = tls.connect({ host: l.host, port: l.port, ca: l.cred.caPem, cert: l.cred.certPem, key: l.cred.keyPem, servername: net.isIP(l.host) ? undefined : l.host, timeout: 30_000 });
    conn.once('secureConnect', () => {
      conn.setTimeout(0);
      conn.off('error', reject);
      resolve(conn);
    });
    conn.once('timeout', () => conn.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    conn.once('error', (e: NodeJS.ErrnoException) => reject(backendError(e, l)));
  });
  const search = q.toString();
  spliceUpgrade(upstream, socket, upgradeRequestHead(req, kubeletPath(kind, pod, container), search ? `?${search}` : '', '', hostPort(l)), head);
}
