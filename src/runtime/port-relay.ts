/**
 * A TCP connection to 127.0.0.1:PORT inside a pod's network namespace, for pods/portforward.
 *
 * Node cannot enter a network namespace, so each forwarded connection is one helper process:
 * util-linux `nsenter --net=<pin>` running a small python3 relay that connects (IPv4 first, then
 * IPv6, as containerd does), says "ok" or the dial errors on stderr, then copies stdin to the
 * socket and the socket to stdout. The helper is the connection: killing it closes the socket,
 * and it exits by itself when the pod's side closes. No shell is involved; the pin path comes
 * from podbay's own run dir, never from the container.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { which } from '../sys/exec.js';

const RELAY = `
import os, select, socket, sys
port = int(sys.argv[1])
errs = []
conn = None
for fam, host, name in ((socket.AF_INET, '127.0.0.1', 'tcp4'), (socket.AF_INET6, '::1', 'tcp6')):
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
        conn = s
        break
    except OSError as e:
        s.close()
        text = os.strerror(e.errno) if e.errno else str(e)
        addr = ('[%s]:%d' if fam == socket.AF_INET6 else '%s:%d') % (host, port)
        errs.append('dial %s %s: connect: %s' % (name, addr, text[:1].lower() + text[1:]))
if conn is None:
    sys.stderr.write('IPv4: %s IPv6 %s ' % (errs[0], errs[1]))
    sys.exit(1)
sys.stderr.write('ok\\n')
sys.stderr.flush()
fds = [0, conn.fileno()]
while fds:
    r, _, _ = select.select(fds, [], [])
    if 0 in r:
        data = os.read(0, 65536)
        if data:
            conn.sendall(data)
        else:
            fds.remove(0)
            conn.shutdown(socket.SHUT_WR)
    if conn.fileno() in r:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b''
        if not data:
            break
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]
`;

/** The pod's side refused or could not be reached: `message` is worded as Go's dialer words it. */
export class PortDialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortDialError';
  }
}

/** A helper process seen as one Duplex: writes go to its stdin, reads come from its stdout. */
class ProcessConnection extends Duplex {
  constructor(private readonly child: ChildProcess) {
    super({ allowHalfOpen: true });
    child.stdout!.on('data', (d: Buffer) => {
      if (!this.push(d)) child.stdout!.pause();
    });
    child.stdout!.on('end', () => this.push(null));
    // EPIPE after the pod closed: the read side ends too. No destroy on the helper's exit: that
    // would drop output still buffered here; the relay destroys the connection when done.
    child.stdin!.on('error', () => {});
  }

  override _read(): void {
    this.child.stdout!.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.child.stdin!.destroyed) return cb();
    if (this.child.stdin!.write(chunk)) cb();
    else this.child.stdin!.once('drain', () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin!.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.child.stdout!.destroy();
    this.child.stdin!.destroy();
    this.child.stderr!.destroy();
    cb(err);
  }
}

/**
 * Connect to localhost:PORT in the namespace pinned at `netnsPath` (the host's own network when
 * undefined, for hostNetwork pods). Resolves once connected; rejects with PortDialError.
 */
export function dialInNetns(netnsPath: string | undefined, port: number, timeoutMs = 30_000): Promise<Duplex> {
  if (!netnsPath) return dialHost(port);
  const nsenter = which('nsenter');
  if (!nsenter) return Promise.reject(new Error('nsenter is not installed: install the Debian package util-linux'));
  const child = spawn(nsenter, [`--net=${netnsPath}`, '--', 'python3', '-c', RELAY, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise<Duplex>((resolve, reject) => {
    let said = '';
    let settled = false;
    const timer = setTimeout(() => fail(new PortDialError(`timed out after ${timeoutMs} ms connecting to localhost:${port}`)), timeoutMs);
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(e);
    };
    const onErr = (d: Buffer) => {
      said += d.toString();
      if (said.startsWith('ok\n') && !settled) {
        settled = true;
        clearTimeout(timer);
        child.stderr!.off('data', onErr);
        child.stderr!.resume(); // anything later (a traceback) is dropped, not buffered
        resolve(new ProcessConnection(child));
      }
    };
    child.stderr!.on('data', onErr);
    child.once('error', (e) => fail(e));
    child.once('close', (code) => fail(code === 1 && said.startsWith('IPv4:') ? new PortDialError(said) : new Error(`port relay exited (${code}): ${said.trim()}`)));
  });
}

function goDialError(network: string, addr: string, e: NodeJS.ErrnoException): string {
  const words: Record<string, string> = { ECONNREFUSED: 'connection refused', EADDRNOTAVAIL: 'cannot assign requested address', ENETUNREACH: 'network is unreachable', ETIMEDOUT: 'connection timed out' };
  return `dial ${network} ${addr}: connect: ${words[e.code ?? ''] ?? e.message}`;
}

/** hostNetwork pods: the kubelet's runtime dials from the host itself, IPv4 first. */
async function dialHost(port: number): Promise<Duplex> {
  const attempt = (host: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.removeAllListeners('error');
        s.on('error', () => s.destroy()); // a reset later ends the relay through 'close'
        resolve(s);
      });
      s.once('error', (e) => {
        s.destroy();
        reject(e);
      });
    });
  try {
    return await attempt('127.0.0.1');
  } catch (e4) {
    try {
      return await attempt('::1');
    } catch (e6) {
      throw new PortDialError(`IPv4: ${goDialError('tcp4', `127.0.0.1:${port}`, e4 as NodeJS.ErrnoException)} IPv6 ${goDialError('tcp6', `[::1]:${port}`, e6 as NodeJS.ErrnoException)} `);
    }
  }
}
