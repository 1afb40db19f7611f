/**
 * The kubelet's server on a node (the real kubelet's :10250), for the API server to reach the
 * node's pods: HTTPS with the node's serving certificate (signer kubernetes.io/kubelet-serving,
 * SANs its address and name), clients authenticated by a certificate from the cluster CA and
 * authorized when in system:masters, which the API server's kube-apiserver-kubelet-client
 * certificate is (kubeadm's; the real kubelet asks the API with a SubjectAccessReview on
 * nodes/proxy, which a system:masters member always passes and a node never does).
 *
 *   GET /healthz                                  ok
 *   GET /pods                                     the PodList of the pods bound to this node
 *   GET /containerLogs/NS/POD/CONTAINER?follow&tailLines&timestamps&previous&sinceSeconds&sinceTime&limitBytes
 *   GET /exec/NS/POD/CONTAINER?command=..&stdin&stdout&stderr&tty      (upgrade)
 *   GET /attach/NS/POD/CONTAINER?stdin&stdout&stderr&tty               (upgrade)
 *   GET /portForward/NS/POD?port=..                                    (upgrade)
 *
 * Served by the same code as the API server's own node (node-streams.ts). It lives in this room,
 * not the kubelet's, because it is an HTTP edge made of the streaming protocols here; the
 * composition root (src/cli/agent.ts) hands it the node's kubelet. Only pods bound to this
 * node are served: any other is "pod does not exist", as the kubelet's pod manager answers.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ApiError, internalError, notFound, statusBody } from '../api/errors.js';
import type { Obj } from '../api/types.js';
import { decodePathSegment } from './query.js';
import { podLogOptions } from './log-options.js';
import { serveContainerLogs, serveStreamUpgrade, type NodeBackend, type StreamKind } from './node-streams.js';

export interface KubeletServerOptions {
  nodeName: string;
  host: string;
  port: number;
  /** the node's serving certificate and key (PEM) */
  certPem: string;
  keyPem: string;
  /** the CA whose client certificates are accepted (the cluster's) */
  clientCaPem: string;
  node: NodeBackend;
  /** the pod as the API has it (the node's own view: its client) */
  getPod(namespace: string, name: string): Promise<Obj | undefined>;
  /** the pods bound to this node (GET /pods) */
  listPods(): Promise<Obj[]>;
  log?: (line: string) => void;
}

const PRIVILEGED_GROUP = 'system:masters';

/** the user a verified client certificate names: CN, and O as groups */
export function certificateUser(sock: TLSSocket): { username: string; groups: string[] } | undefined {
  if (!sock.authorized) return undefined;
  const subject = sock.getPeerCertificate()?.subject;
  if (!subject?.CN) return undefined;
  const o = subject.O as string | string[] | undefined;
  return { username: String(subject.CN), groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
}

/** what a path asks for: a log or a stream of NS/POD[/CONTAINER] */
export function kubeletRoute(path: string): { kind: StreamKind | 'log'; namespace: string; pod: string; container?: string } | undefined {
  const m = /^\/(containerLogs|exec|attach|portForward)\/([^/]+)\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return undefined;
  const kind = m[1] === 'containerLogs' ? 'log' : m[1] === 'portForward' ? 'portforward' : (m[1] as StreamKind);
  if (kind === 'portforward' && m[4] !== undefined) return undefined;
  return { kind, namespace: decodePathSegment(m[2]), pod: decodePathSegment(m[3]), container: m[4] === undefined ? undefined : decodePathSegment(m[4]) };
}

export class KubeletServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly log: (line: string) => void;

  constructor(private readonly opts: KubeletServerOptions) {
    this.log = opts.log ?? (() => {});
  }

  /** Listen; resolves with the bound port. */
  listen(): Promise<number> {
    const o = this.opts;
    const server = createServer({ cert: o.certPem, key: o.keyPem, ca: o.clientCaPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (req, res) => void this.handle(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head));
    server.on('connection', (sock: Socket) => {
      this.sockets.add(sock);
      sock.once('close', () => this.sockets.delete(sock));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : o.port);
      });
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
      for (const sock of this.sockets) sock.destroy();
    });
  }

  /** 401 without a certificate from the CA, 403 unless the API server (the kubelet's wording) */
  private authorize(req: IncomingMessage, verb: string): void {
    const user = certificateUser(req.socket as TLSSocket);
    if (!user) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    if (!user.groups.includes(PRIVILEGED_GROUP)) throw new ApiError(403, 'Forbidden', `Forbidden (user=${user.username}, verb=${verb}, resource=nodes, subresource=proxy)`);
  }

  /** the pod, when bound to this node */
  private async pod(namespace: string, name: string): Promise<Obj> {
    const pod = await this.opts.getPod(namespace, name);
    if (!pod || pod.spec?.nodeName !== this.opts.nodeName) throw notFound('pods', name);
    return pod;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    try {
      this.authorize(req, req.method === 'GET' ? 'get' : 'create');
      if (url.pathname === '/healthz') return void res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ok');
      if (url.pathname === '/pods' || url.pathname === '/pods/') {
        const body = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: await this.opts.listPods() }) + '\n';
        return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
      }
      const route = kubeletRoute(url.pathname);
      if (!route) throw new ApiError(404, 'NotFound', `the kubelet server of node ${this.opts.nodeName} serves /healthz, /pods, /containerLogs, /exec, /attach and /portForward, not ${url.pathname}`);
      if (route.kind !== 'log') throw new ApiError(400, 'BadRequest', `${url.pathname} needs an upgrade: Upgrade: websocket or Upgrade: SPDY/3.1`);
      if (req.method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
      const opts = podLogOptions(url.searchParams, route.pod);
      if (route.container) opts.container = route.container;
      await serveContainerLogs(req, res, this.opts.node, await this.pod(route.namespace, route.pod), opts);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError((e as Error)?.message ?? String(e));
      if (res.headersSent) res.destroy();
      else res.writeHead(err.code, { 'Content-Type': 'application/json' }).end(statusBody(err));
    } finally {
      this.log(`kubelet server: ${req.method} ${url.pathname} ${res.statusCode}`);
    }
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'https://kubelet');
    try {
      this.authorize(req, 'create');
      const route = kubeletRoute(url.pathname);
      if (!route || route.kind === 'log') throw new ApiError(404, 'NotFound', `404 page not found: ${url.pathname}`);
      await serveStreamUpgrade(route.kind, req, socket, head, url.searchParams, this.opts.node, await this.pod(route.namespace, route.pod), this.log, route.container);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError((e as Error)?.message ?? String(e));
      this.log(`kubelet server: ${req.method} ${url.pathname} ${err.code} (upgrade)`);
      const body = statusBody(err);
      socket.end(`HTTP/1.1 ${err.code} ${err.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
  }
}
