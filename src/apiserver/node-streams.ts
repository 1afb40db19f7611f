/**
 * The node's side of pods/log, exec, attach and port-forward: what a kubelet serves on its
 * /containerLogs, /exec, /attach and /portForward. The same code answers for the API server's
 * own node (in-process, server.ts) and on an agent's kubelet server (kubelet-server.ts), so a
 * session reads alike wherever its pod runs.
 *
 *   upgrade:  negotiate WebSocket (v5/v4.channel.k8s.io, port-forward's tunnel or channel
 *             protocols) or SPDY/3.1, then relay the session (exec.ts, portforward.ts)
 *   logs:     chunked text/plain, written as the kubelet reads the log (follow keeps it open)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, badRequest } from '../api/errors.js';
import type { Obj } from '../api/types.js';
import { EXEC_PROTOCOLS, EXEC_SPDY_PROTOCOLS, parseExecQuery, parseStreamFlags, serveExec, serveExecSpdy, type StreamTarget } from './exec.js';
import {
  PORTFORWARD_PROTOCOL,
  PORTFORWARD_WS_PROTOCOLS,
  SPDY_TUNNEL_PREFIX,
  portForwardQueryPorts,
  servePortForward,
  servePortForwardChannels,
  type PortDialer,
} from './portforward.js';
import { acceptChannelWebSocket, acceptSpdy, acceptSpdyTunnel, negotiate } from './streaming.js';
import type { PodExplain } from '../explain/types.js';
import type { UsageSource } from './metrics.js';
import type { PodLogOptions } from './log-options.js';

export type StreamKind = 'exec' | 'attach' | 'portforward';

/** What the API server asks of the node for streaming subresources (pods/log). */
export interface NodeBackend {
  containerLogs(
    pod: Obj,
    container: string | undefined,
    opts: { follow?: boolean; previous?: boolean; tailLines?: number; timestamps?: boolean; sinceSeconds?: number; sinceTime?: string; limitBytes?: number },
    write: (chunk: string) => boolean | void,
    closed: () => boolean,
  ): Promise<void>;
  /**
   * pods/exec: check the pod and container, and return how to start the command; the process
   * is started only once the upgrade (WebSocket or SPDY) is done and the client's streams are there.
   */
  exec?(pod: Obj, container: string | undefined, argv: string[], tty: boolean): Promise<() => Promise<StreamTarget>>;
  /**
   * pods/attach: check the pod and container; whether the session has a terminal comes from the
   * container (as the kubelet decides it), and the attach starts once the client's streams are there
   */
  attach?(pod: Obj, container: string | undefined, stdin: boolean): Promise<{ tty: boolean; start: () => Promise<StreamTarget> }>;
  /** pods/portforward: check the pod has a running sandbox, and return how to dial its ports */
  portForward?(pod: Obj): Promise<PortDialer>;
  /** podbay explain: the pod's namespaces, network, processes and volumes, read live */
  explainPod?(pod: Obj): Promise<PodExplain>;
  /** CPU and memory usage of the node and its pods (the Metrics API, nodes/proxy/stats/summary) */
  usage?: UsageSource;
  /** the IPs the node gave the pod's running sandbox (pods/proxy dials only these) */
  podIPs?(pod: Obj): Promise<string[]>;
}

/**
 * Serve an exec, attach or port-forward upgrade for `pod` on `node`: checked (pod, container,
 * command) before the handshake, so a bad name is an ordinary HTTP error the caller writes.
 * `container`: the one the path names (the kubelet's /exec/NS/POD/CONTAINER), else the query's.
 */
export async function serveStreamUpgrade(kind: StreamKind, req: IncomingMessage, socket: Duplex, head: Buffer, q: URLSearchParams, node: NodeBackend | undefined, pod: Obj, log: (line: string) => void, container?: string): Promise<void> {
  if (kind === 'exec') {
    if (!node?.exec) throw new ApiError(503, 'ServiceUnavailable', 'exec is not available: this podbay server runs no kubelet');
    const opts = parseExecQuery(q);
    if (container) opts.container = container;
    const start = await node.exec(pod, opts.container, opts.command, opts.tty);
    const t = negotiate(req, 'pods/exec', EXEC_PROTOCOLS, EXEC_SPDY_PROTOCOLS);
    log(`${req.method} ${req.url} 101 (exec, ${t.kind} ${t.protocol})`);
    if (t.kind === 'websocket') serveExec(req, socket, head, start, opts);
    else serveExecSpdy(acceptSpdy(socket, head, t.protocol), start, opts);
    return;
  }
  if (kind === 'attach') {
    if (!node?.attach) throw new ApiError(503, 'ServiceUnavailable', 'attach is not available: this podbay server runs no kubelet');
    const flags = parseStreamFlags(q);
    if (container) flags.container = container;
    const { tty, start } = await node.attach(pod, flags.container, flags.stdin);
    const opts = { ...flags, command: [], tty, stderr: flags.stderr && !tty };
    const t = negotiate(req, 'pods/attach', EXEC_PROTOCOLS, EXEC_SPDY_PROTOCOLS);
    log(`${req.method} ${req.url} 101 (attach, ${t.kind} ${t.protocol})`);
    if (t.kind === 'websocket') serveExec(req, socket, head, start, opts);
    else serveExecSpdy(acceptSpdy(socket, head, t.protocol), start, opts);
    return;
  }
  if (!node?.portForward) throw new ApiError(503, 'ServiceUnavailable', 'port-forward is not available: this podbay server runs no kubelet');
  const target = await node.portForward(pod);
  const t = negotiate(req, 'pods/portforward', [SPDY_TUNNEL_PREFIX + PORTFORWARD_PROTOCOL, ...PORTFORWARD_WS_PROTOCOLS], [PORTFORWARD_PROTOCOL]);
  if (t.kind === 'websocket' && PORTFORWARD_WS_PROTOCOLS.includes(t.protocol)) {
    let ports: number[];
    try {
      ports = portForwardQueryPorts(q);
    } catch (e) {
      throw badRequest((e as Error).message);
    }
    log(`${req.method} ${req.url} 101 (portforward, ${t.kind} ${t.protocol})`);
    acceptChannelWebSocket(req, socket, head, t.protocol, (ws) => servePortForwardChannels(ws, ports, target));
    return;
  }
  log(`${req.method} ${req.url} 101 (portforward, ${t.kind} ${t.protocol})`);
  if (t.kind === 'websocket') acceptSpdyTunnel(req, socket, head, t.protocol, (conn) => servePortForward(conn, target));
  else servePortForward(acceptSpdy(socket, head, t.protocol), target);
}

/** Stream a container's log as the kubelet's /containerLogs does (the headers go out with the first byte). */
export async function serveContainerLogs(req: IncomingMessage, res: ServerResponse, node: NodeBackend | undefined, pod: Obj, opts: PodLogOptions): Promise<void> {
  if (!node) throw new ApiError(503, 'ServiceUnavailable', 'logs are not available: this podbay server runs no kubelet');
  let closed = false;
  req.on('close', () => (closed = true));
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  };
  const { container, ...logOpts } = opts;
  await node.containerLogs(
    pod,
    container,
    logOpts,
    (chunk) => {
      start();
      return res.write(chunk);
    },
    () => closed,
  );
  start();
  res.end();
}
