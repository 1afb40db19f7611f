/**
 * pods/portforward over SPDY (protocol `portforward.k8s.io`), as the kubelet's portforward
 * server speaks it (pkg/kubelet/cri/streaming/portforward/httpstream.go). The same code serves
 * the plain `Upgrade: SPDY/3.1` connection and kubectl 1.31+'s WebSocket tunnel that carries
 * the very same SPDY frames (subprotocol `SPDY/3.1+portforward.k8s.io`).
 *
 * Per forwarded TCP connection the client opens two streams with the headers
 *   streamType: error|data, port: N, requestID: K
 * The pair is complete when both arrived; then the server dials the pod's port and copies bytes
 * both ways. A dial error is written as text on the error stream (kubectl prints it), and the
 * tunnel stays up for the next connection. Either side ending its half ends the same half on the
 * other; when the pod's side is done the data and error streams are closed, as the kubelet's
 * deferred Close calls do.
 */
import type { Duplex } from 'node:stream';
import type { SpdyServerConnection, SpdyStream } from './spdy/connection.js';

export const PORTFORWARD_PROTOCOL = 'portforward.k8s.io';
/** kubectl's WebSocket tunnel: the SPDY subprotocol name with this prefix */
export const SPDY_TUNNEL_PREFIX = 'SPDY/3.1+';

/** the kubelet's streamCreationTimeout: a pair not complete by then is dropped */
const PAIR_TIMEOUT_MS = 30_000;

export interface PortDialer {
  dial(port: number): Promise<Duplex>;
}

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function servePortForward(conn: SpdyServerConnection, target: PortDialer): void {
  const pairs = new Map<string, Pair>();
  const relays = new Set<Duplex>();
  conn.on('stream', (stream) => {
    const type = stream.header('streamtype');
    const requestId = stream.header('requestid');
    if ((type !== 'data' && type !== 'error') || requestId === undefined) {
      // the kubelet refuses streams it cannot place; so does podbay
      stream.destroy();
      return;
    }
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        pairs.delete(requestId);
        pair?.data?.destroy();
        pair?.error?.destroy();
      }, PAIR_TIMEOUT_MS);
      timer.unref();
      pair = { timer };
      pairs.set(requestId, pair);
    }
    if (pair[type]) {
      // a second stream of one type for one request is a broken client; drop the newcomer
      stream.destroy();
      return;
    }
    pair[type] = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      void forward(pair.data, pair.error, target, relays);
    }
  });
  conn.on('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
    for (const r of relays) r.destroy();
    relays.clear();
  });
}

async function forward(data: SpdyStream, error: SpdyStream, target: PortDialer, relays: Set<Duplex>): Promise<void> {
  // the client half-closes the error stream at once; drain it so its end is seen
  error.resume();
  const port = Number(data.header('port') ?? 'x');
  let pod: Duplex;
  try {
    pod = await target.dial(port);
  } catch (e) {
    if (!error.destroyed) error.end((e as Error).message);
    if (!data.destroyed) data.end();
    return;
  }
  if (data.destroyed) {
    pod.destroy();
    error.destroy();
    return;
  }
  relays.add(pod);
  const done = () => {
    relays.delete(pod);
    pod.destroy();
    if (!error.destroyed) error.end();
    if (!data.destroyed) data.end();
  };
  pod.on('error', done);
  data.on('error', done);
  pod.once('close', done);
  // the client reset the stream or the connection went away: nothing more to deliver
  data.once('close', done);
  data.pipe(pod); // client FIN -> half-close towards the pod
  pod.on('end', done); // the pod closed its side: FIN to the client, then the error stream
  pod.on('data', (d: Buffer) => {
    if (!data.write(d)) {
      pod.pause();
      data.once('drain', () => pod.resume());
    }
  });
}

/**
 * The older WebSocket port-forward (the kubelet's websocket.go; what the Python client speaks):
 * subprotocol v4.channel.k8s.io (binary) or v4.base64.channel.k8s.io, the ports in the query
 * (`ports`, as the API takes it, or `port`). For the i-th port, channel 2i carries the data and
 * 2i+1 the errors; each channel first gets the port as 2 bytes little-endian. One TCP
 * connection per port, dialed at once; the WebSocket lives until the client closes it.
 */
export const PORTFORWARD_WS_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];

/** The ports of a WebSocket port-forward request; throws a message for a bad one. */
export function portForwardQueryPorts(q: URLSearchParams): number[] {
  const raw = [...q.getAll('ports'), ...q.getAll('port')].flatMap((p) => p.split(','));
  if (raw.length === 0) throw new Error('query parameter "port" is required');
  return raw.map((p) => {
    const n = Number(p.trim());
    if (!/^\d+$/.test(p.trim()) || n < 1 || n > 65535) throw new Error(`unable to parse "${p}" as a port: must be an integer between 1 and 65535`);
    return n;
  });
}

export interface ChannelSocket {
  send(data: Buffer): void;
  onMessage(cb: (channel: number, data: Buffer) => void): void;
  onClose(cb: () => void): void;
  /** end the session (every port is done) */
  close(): void;
}

export function servePortForwardChannels(ws: ChannelSocket, ports: number[], target: PortDialer): void {
  const conns: (Duplex | undefined)[] = [];
  // what the client sent before its port's connection was up
  const early: Buffer[][] = ports.map(() => []);
  let closed = false;
  const send = (channel: number, data: Buffer) => {
    if (!closed) ws.send(Buffer.concat([Buffer.from([channel]), data]));
  };
  // as the kubelet's websocket port forwarder: each port is one connection, done when the pod
  // ends it or it cannot be made; once every port is done the session ends (the protocol has
  // no per-channel close, so that is how a client learns the pod closed its connection)
  let pending = ports.length;
  const done = () => {
    if (--pending === 0 && !closed) ws.close();
  };
  ports.forEach((port, i) => {
    const head = Buffer.alloc(2);
    head.writeUInt16LE(port, 0);
    send(2 * i, head);
    send(2 * i + 1, head);
    target.dial(port).then(
      (pod) => {
        if (closed) return pod.destroy();
        conns[i] = pod;
        for (const d of early[i]!.splice(0)) pod.write(d);
        pod.on('data', (d: Buffer) => send(2 * i, d));
        pod.on('error', () => pod.destroy());
        // the pod's side ended (a relay's read side ends before it closes) or failed
        let finished = false;
        const portDone = () => {
          if (!finished) (finished = true), done();
        };
        pod.once('end', portDone);
        pod.once('close', portDone);
      },
      (e: Error) => {
        early[i] = [];
        send(2 * i + 1, Buffer.from(e.message));
        done();
      },
    );
  });
  ws.onMessage((channel, data) => {
    // only data channels take input
    if (channel % 2 !== 0 || channel / 2 >= ports.length) return;
    const c = conns[channel / 2];
    if (c) c.write(data);
    else if (early[channel / 2]!.length < 1024) early[channel / 2]!.push(data);
  });
  ws.onClose(() => {
    closed = true;
    for (const c of conns) c?.destroy();
  });
}
