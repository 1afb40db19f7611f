/**
 * The streaming subresources behind an HTTP upgrade: which protocol a request asks for, and the
 * handshake for each. Checks about the pod happen before this (so they are plain HTTP errors);
 * here the transport is chosen:
 *
 *   pods/exec         Upgrade: websocket (v5/v4.channel.k8s.io)   or  Upgrade: SPDY/3.1 (v4.channel.k8s.io)
 *   pods/portforward  Upgrade: websocket (SPDY/3.1+portforward.k8s.io, the tunnel)  or  SPDY/3.1 (portforward.k8s.io)
 *
 * SPDY protocol negotiation is the `X-Stream-Protocol-Version` handshake of
 * k8s.io/apimachinery/pkg/util/httpstream: the client lists what it speaks, the server answers
 * with the one it chose; none in common is a 403 that lists both sides.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { lazyValue, ws as wsModule } from '../lazy-module.js';
import { ApiError, badRequest } from '../api/errors.js';
import { SpdyServerConnection } from './spdy/connection.js';
import type { ChannelSocket } from './portforward.js';

export type StreamingTransport = { kind: 'websocket'; protocol: string } | { kind: 'spdy'; protocol: string };

/** The client's X-Stream-Protocol-Version list (repeated headers arrive joined by commas). */
export function offeredStreamProtocols(req: IncomingMessage): string[] {
  return String(req.headers['x-stream-protocol-version'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function offeredWebSocketProtocols(req: IncomingMessage): string[] {
  return String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Pick the transport and protocol for an upgrade request, or throw the HTTP error the client
 * should see. `websocket` and `spdy` list what the subresource serves over each, best first.
 */
export function negotiate(req: IncomingMessage, what: string, websocket: string[], spdy: string[]): StreamingTransport {
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (upgrade === 'websocket') {
    const offered = offeredWebSocketProtocols(req);
    const protocol = websocket.find((p) => offered.includes(p));
    if (!protocol) throw badRequest(`${what} over WebSocket speaks ${websocket.join(', ')}; the client offered ${offered.join(', ') || 'none'}`);
    return { kind: 'websocket', protocol };
  }
  if (upgrade.split(',').some((u) => u.trim() === 'spdy/3.1')) {
    if (!String(req.headers.connection ?? '').toLowerCase().includes('upgrade')) {
      throw badRequest('unable to upgrade: missing upgrade headers in request');
    }
    const offered = offeredStreamProtocols(req);
    // a client from before protocol negotiation offers nothing: it gets the server's newest
    if (offered.length === 0) return { kind: 'spdy', protocol: spdy[0] };
    const protocol = spdy.find((p) => offered.includes(p));
    if (!protocol) {
      throw new ApiError(403, 'Forbidden', `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server supports ${JSON.stringify(spdy)}`);
    }
    return { kind: 'spdy', protocol };
  }
  throw badRequest(`${what} needs an upgrade to WebSocket or SPDY/3.1, not ${JSON.stringify(req.headers.upgrade ?? '')}`);
}

/** Answer 101 for SPDY/3.1 and run a SPDY server connection on the socket. */
export function acceptSpdy(socket: Duplex, head: Buffer, protocol: string): SpdyServerConnection {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
  const s = socket as Duplex & { setNoDelay?(v: boolean): void; setTimeout?(ms: number): void };
  s.setNoDelay?.(true);
  s.setTimeout?.(0);
  return new SpdyServerConnection(socket, head);
}

const channelSockets = lazyValue(() => new (wsModule().WebSocketServer)({ noServer: true, handleProtocols: (protocols) => [...protocols][0] ?? false, perMessageDeflate: false }));

/**
 * Finish a WebSocket handshake for a channel protocol (already negotiated): binary messages
 * are 1 byte channel + data; the `base64` variants send text: the channel as a digit, then
 * the data in base64.
 */
export function acceptChannelWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, ready: (ws: ChannelSocket) => void): void {
  req.headers['sec-websocket-protocol'] = protocol;
  const base64 = protocol.includes('base64');
  channelSockets().handleUpgrade(req, socket, head, (ws: WebSocket) => {
    ready({
      send: (data) => {
        if (ws.readyState !== ws.OPEN) return;
        if (base64) ws.send(`${String.fromCharCode(48 + data[0]!)}${data.subarray(1).toString('base64')}`);
        else ws.send(data);
      },
      onMessage: (cb) =>
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          if (data.length === 0) return;
          if (base64 && !isBinary) cb(data[0]! - 48, Buffer.from(data.subarray(1).toString(), 'base64'));
          else if (!base64) cb(data[0]!, data.subarray(1));
        }),
      onClose: (cb) => ws.on('close', cb),
      // a normal closure once what was sent is flushed (ws sends the close frame after it)
      close: () => ws.close(1000),
    });
  });
}

const tunnels = lazyValue(() => new (wsModule().WebSocketServer)({ noServer: true, handleProtocols: (protocols) => [...protocols][0] ?? false, perMessageDeflate: false }));

/**
 * Finish a WebSocket handshake with the given subprotocol (already negotiated) and run a SPDY
 * server connection over its binary messages: kubectl's tunnel treats the messages as one byte
 * stream, so message boundaries mean nothing.
 */
export function acceptSpdyTunnel(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, ready: (conn: SpdyServerConnection) => void): void {
  // offer only the chosen protocol to the handshake's selector
  req.headers['sec-websocket-protocol'] = protocol;
  tunnels().handleUpgrade(req, socket, head, (ws: WebSocket) => {
    const duplex = wsModule().createWebSocketStream(ws);
    duplex.on('error', () => duplex.destroy());
    ready(new SpdyServerConnection(duplex));
  });
}
