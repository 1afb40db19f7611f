/**
 * pods/exec over WebSocket: the channel protocol kubectl 1.30+ speaks first
 * (k8s.io/client-go/tools/remotecommand, subprotocols v5/v4.channel.k8s.io).
 *
 *   every binary message = 1 byte channel + payload
 *   0 stdin (client -> server)   1 stdout   2 stderr   3 error: a metav1.Status, then close
 *   4 resize {"Width","Height"}  255 close (v5: the client closed the given channel)
 *
 * kubectl up to 1.29 speaks only SPDY, which podbay does not serve: such a request gets a 400
 * that says to use kubectl 1.30 or newer.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import { WebSocketServer, type WebSocket } from 'ws';
import { badRequest } from '../api/errors.js';
import { queryBool } from './query.js';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const CLOSE = 255;

export interface ExecRequest {
  command: string[];
  container?: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export function parseExecQuery(q: URLSearchParams): ExecRequest {
  const command = q.getAll('command');
  if (command.length === 0) throw badRequest('you must specify at least 1 command');
  const flag = (k: string) => queryBool(q, k) ?? false;
  return {
    command,
    container: q.get('container') ?? undefined,
    stdin: flag('stdin'),
    stdout: flag('stdout'),
    stderr: flag('stderr'),
    tty: flag('tty'),
  };
}

/** The subprotocol to speak, or undefined when the client offers none podbay knows. */
export function chooseProtocol(req: IncomingMessage): string | undefined {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim());
  return EXEC_PROTOCOLS.find((p) => offered.includes(p));
}

const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => EXEC_PROTOCOLS.find((p) => protocols.has(p)) ?? false });

/** Complete the WebSocket handshake and relay the process's stdio over the channels. */
export function serveExec(req: IncomingMessage, socket: Duplex, head: Buffer, start: () => Promise<ChildProcess>, opts: ExecRequest): void {
  wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
    void relay(ws, start, opts);
  });
}

function frame(channel: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from([channel]), payload]);
}

function sendStatus(ws: WebSocket, status: object): void {
  if (ws.readyState === ws.OPEN) ws.send(frame(ERROR, JSON.stringify(status)));
  ws.close(1000);
}

async function relay(ws: WebSocket, start: () => Promise<ChildProcess>, opts: ExecRequest): Promise<void> {
  let child: ChildProcess;
  try {
    child = await start();
  } catch (e) {
    sendStatus(ws, { metadata: {}, status: 'Failure', message: (e as Error).message, reason: 'InternalError', code: 500 });
    return;
  }
  const closeStdin = () => child.stdin?.end();
  ws.on('message', (data: Buffer) => {
    if (!Buffer.isBuffer(data) || data.length === 0) return;
    const ch = data[0];
    if (ch === STDIN && opts.stdin) child.stdin?.write(data.subarray(1));
    else if (ch === CLOSE && data[1] === STDIN) closeStdin();
  });
  ws.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  child.stdout?.on('data', (d: Buffer) => ws.readyState === ws.OPEN && ws.send(frame(STDOUT, d)));
  child.stderr?.on('data', (d: Buffer) => ws.readyState === ws.OPEN && ws.send(frame(opts.tty ? STDOUT : STDERR, d)));
  if (!opts.stdin) closeStdin();
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('close', (c, s) => resolve([c, s]));
    // a command that cannot be started at all (the relay binary is missing) must not take the
    // server down: it ends this session with the reason
    child.once('error', (e) => {
      if (ws.readyState === ws.OPEN) ws.send(frame(STDERR, `${e.message}\n`));
      resolve([127, null]);
    });
  });
  const exit = code ?? (signal ? 128 + 9 : 1);
  if (exit === 0) {
    sendStatus(ws, { metadata: {}, status: 'Success' });
    return;
  }
  sendStatus(ws, {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${opts.command.join(' ')}], exit code ${exit}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exit) }] },
  });
}
