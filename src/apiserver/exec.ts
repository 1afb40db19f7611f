/**
 * pods/exec (and the relay half of pods/attach) over the two transports kubectl speaks:
 *
 * WebSocket, the channel protocol kubectl 1.30+ speaks first (k8s.io/client-go/tools/remotecommand,
 * subprotocols v5/v4.channel.k8s.io):
 *   every binary message = 1 byte channel + payload
 *   0 stdin (client -> server)   1 stdout   2 stderr   3 error: a metav1.Status, then close
 *   4 resize {"Width","Height"}  255 close (v5: the client closed the given channel)
 *
 * SPDY/3.1 (kubectl 1.27-1.29, and later ones when WebSocket is refused), protocol
 * v4.channel.k8s.io: the client opens one stream per channel, named by the `streamType` header
 * (error, stdin, stdout, stderr, resize); resize carries a stream of JSON {"Width","Height"}
 * objects; the error stream gets the final Status. As the kubelet does, the command starts once
 * every expected stream has arrived, and a TTY session has no stderr stream.
 *
 * stdout=false / stderr=false: no such channel, and what the process writes there is dropped,
 * as the CRI runtime does with an unrequested stream.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { lazyValue, ws as wsModule } from '../lazy-module.js';
import { badRequest } from '../api/errors.js';
import { queryBool } from './query.js';
import type { SpdyServerConnection, SpdyStream } from './spdy/connection.js';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
/** over SPDY the kubelet's newest is v4; v5 only adds the close channel of the WebSocket protocol */
export const EXEC_SPDY_PROTOCOLS = ['v4.channel.k8s.io'];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

/** the kubelet's streamCreationTimeout */
const STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface ExecRequest {
  command: string[];
  container?: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** pods/attach takes the same flags without a command (booleans read as kube-apiserver reads them). */
export function parseStreamFlags(q: URLSearchParams): Omit<ExecRequest, 'command'> {
  const flag = (k: string) => queryBool(q, k) ?? false;
  const tty = flag('tty');
  return {
    container: q.get('container') ?? undefined,
    stdin: flag('stdin'),
    stdout: flag('stdout'),
    // the kubelet: "Access to exec with tty and stderr is not supported, bypassing stderr"
    stderr: flag('stderr') && !tty,
    tty,
  };
}

export function parseExecQuery(q: URLSearchParams): ExecRequest {
  const command = q.getAll('command');
  if (command.length === 0) throw badRequest('you must specify at least 1 command');
  return { command, ...parseStreamFlags(q) };
}

/** The subprotocol to speak, or undefined when the client offers none podbay knows. */
export function chooseProtocol(req: IncomingMessage, known = EXEC_PROTOCOLS): string | undefined {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim());
  return known.find((p) => offered.includes(p));
}

// the ws package loads with the first WebSocket session, not at start
const wss = lazyValue(() => new (wsModule().WebSocketServer)({ noServer: true, handleProtocols: (protocols) => EXEC_PROTOCOLS.find((p) => protocols.has(p)) ?? false }));

/** What a streaming session runs: a process, how to resize its terminal, how to end it. */
export type { StreamTarget } from '../api/streaming.js';
import type { StreamTarget } from '../api/streaming.js';

/** One client session, whatever the transport. */
interface Channels {
  onStdin(data: (d: Buffer) => void, end: () => void): void;
  onResize(cb: (width: number, height: number) => void): void;
  stdout?: (d: Buffer) => void;
  stderr?: (d: Buffer) => void;
  /** the client went away */
  onGone(cb: () => void): void;
  finish(status: object): void;
}

/** Complete the WebSocket handshake and relay the process's stdio over the channels. */
export function serveExec(req: IncomingMessage, socket: Duplex, head: Buffer, start: () => Promise<StreamTarget>, opts: ExecRequest): void {
  wss().handleUpgrade(req, socket, head, (ws: WebSocket) => {
    void relay(webSocketChannels(ws, opts), start, opts);
  });
}

function frame(channel: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from([channel]), payload]);
}

function webSocketChannels(ws: WebSocket, opts: ExecRequest): Channels {
  const send = (ch: number) => (d: Buffer) => {
    if (ws.readyState === ws.OPEN) ws.send(frame(ch, d));
  };
  // kubectl sends its terminal size (and maybe stdin) at once, before the process is started:
  // kept until the relay takes over, not dropped
  const early: Buffer[] = [];
  let handle: ((data: Buffer) => void) | undefined;
  let stdinData: (d: Buffer) => void = () => {};
  let stdinEnd = () => {};
  let resize: (w: number, h: number) => void = () => {};
  const dispatch = (data: Buffer) => {
    const ch = data[0];
    if (ch === STDIN && opts.stdin) stdinData(data.subarray(1));
    else if (ch === RESIZE) parseResize(data.subarray(1).toString(), resize);
    else if (ch === CLOSE && data[1] === STDIN) stdinEnd();
  };
  ws.on('message', (data: Buffer) => {
    if (!Buffer.isBuffer(data) || data.length === 0) return;
    if (handle) handle(data);
    else if (early.length < 4096) early.push(data);
  });
  const flush = () => {
    if (handle) return;
    handle = dispatch;
    for (const d of early.splice(0)) dispatch(d);
  };
  return {
    onStdin: (d, e) => {
      stdinData = d;
      stdinEnd = e;
    },
    onResize: (cb) => {
      resize = cb;
      // the relay sets stdin first, then resize: from here on, messages go straight through
      flush();
    },
    stdout: opts.stdout ? send(STDOUT) : undefined,
    // a TTY has one output: the terminal, on stdout
    stderr: opts.tty ? send(STDOUT) : opts.stderr ? send(STDERR) : undefined,
    onGone: (cb) => ws.on('close', cb),
    finish: (status) => {
      if (ws.readyState === ws.OPEN) ws.send(frame(ERROR, JSON.stringify(status)));
      ws.close(1000);
    },
  };
}

/** Apply each complete {"Width":W,"Height":H} object in `text`; returns the unfinished rest. */
export function parseResize(text: string, apply: (width: number, height: number) => void): string {
  let rest = text;
  for (let end = rest.indexOf('}'); end >= 0; end = rest.indexOf('}')) {
    const one = rest.slice(0, end + 1);
    rest = rest.slice(end + 1);
    try {
      const j = JSON.parse(one.slice(one.indexOf('{'))) as { Width?: unknown; Height?: unknown };
      const w = Number(j.Width);
      const h = Number(j.Height);
      // TIOCSWINSZ takes unsigned shorts; anything else is a broken client, ignored as the kubelet logs and ignores it
      if (Number.isInteger(w) && Number.isInteger(h) && w >= 0 && h >= 0 && w <= 0xffff && h <= 0xffff) apply(w, h);
    } catch {
      /* not JSON: ignored */
    }
  }
  return rest;
}

/** The SPDY half: collect the client's streams, then relay as over WebSocket. */
export function serveExecSpdy(conn: SpdyServerConnection, start: () => Promise<StreamTarget>, opts: ExecRequest): void {
  const expected = 1 + Number(opts.stdin) + Number(opts.stdout) + Number(opts.stderr) + Number(opts.tty);
  const streams = new Map<string, SpdyStream>();
  const timer = setTimeout(() => conn.close(), STREAM_CREATION_TIMEOUT_MS);
  timer.unref();
  conn.on('close', () => clearTimeout(timer));
  conn.on('stream', (s) => {
    const type = s.header('streamtype') ?? '';
    if (!['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type) || streams.has(type)) {
      s.destroy();
      return;
    }
    streams.set(type, s);
    if (type !== 'stdin' && type !== 'resize') s.resume(); // nothing is read from these
    if (streams.size === expected) {
      clearTimeout(timer);
      void relay(spdyChannels(conn, streams), start, opts);
    }
  });
}

function spdyChannels(conn: SpdyServerConnection, streams: Map<string, SpdyStream>): Channels {
  const writer = (s: Writable | undefined) => (s ? (d: Buffer) => void (s.writableEnded || s.destroyed || s.write(d)) : undefined);
  return {
    onStdin: (data, end) => {
      const s = streams.get('stdin');
      s?.on('data', data);
      s?.on('end', end);
    },
    onResize: (cb) => {
      let pending = '';
      streams.get('resize')?.on('data', (d: Buffer) => {
        pending = parseResize(pending + d.toString(), cb);
        if (pending.length > 4096) pending = ''; // no object that long: garbage
      });
    },
    stdout: writer(streams.get('stdout')),
    stderr: writer(streams.get('stderr')),
    onGone: (cb) => conn.on('close', cb),
    finish: (status) => {
      for (const t of ['stdout', 'stderr', 'stdin', 'resize']) {
        const s = streams.get(t);
        if (s && !s.destroyed) s.end();
      }
      const err = streams.get('error');
      if (err && !err.destroyed) err.end(JSON.stringify(status));
      conn.close();
    },
  };
}

async function relay(io: Channels, start: () => Promise<StreamTarget>, opts: ExecRequest): Promise<void> {
  let gone = false;
  io.onGone(() => {
    gone = true;
  });
  let target: StreamTarget;
  try {
    target = await start();
  } catch (e) {
    io.finish({ metadata: {}, status: 'Failure', message: (e as Error).message, reason: 'InternalError', code: 500 });
    return;
  }
  const { child } = target;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (target.kill) target.kill();
    else child.kill('SIGKILL');
  };
  if (gone) kill();
  io.onGone(kill);
  child.stdin?.on('error', () => {}); // EPIPE: the process closed its stdin first
  const closeStdin = () => child.stdin?.end();
  io.onStdin((d) => opts.stdin && child.stdin?.write(d), closeStdin);
  io.onResize((w, h) => target.resize?.(w, h));
  const pump = (from: NodeJS.ReadableStream | null | undefined, to: ((d: Buffer) => void) | undefined) =>
    from?.on('data', (d: Buffer) => to?.(d));
  pump(child.stdout, io.stdout);
  pump(child.stderr, io.stderr);
  if (!opts.stdin) closeStdin();
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('close', (c, s) => resolve([c, s]));
    // a command that cannot be started at all (the relay binary is missing) must not take the
    // server down: it ends this session with the reason
    child.once('error', (e) => {
      io.stderr?.(Buffer.from(`${e.message}\n`));
      resolve([127, null]);
    });
  });
  const exit = code ?? (signal ? 128 + 9 : 1);
  if (exit === 0) {
    io.finish({ metadata: {}, status: 'Success' });
    return;
  }
  io.finish({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${target.what}], exit code ${exit}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exit) }] },
  });
}
