/**
 * A streaming exec into a running container (what `kubectl exec` reaches): `runc exec` with
 * pipes, or, for a TTY, inside a pseudo-terminal made by a small python3 relay, so that runc
 * has a terminal to relay the container's console through (Node cannot receive runc's console
 * fd over a socket by itself).
 *
 * The relay copies stdin to the terminal until EOF without typing an EOF character into it
 * (util-linux `script` would, as a NUL that the console echoes as "^@"), the terminal to stdout,
 * and reads "ROWS COLS" lines on fd 3: each sets the terminal's size (TIOCSWINSZ), the kernel
 * sends SIGWINCH to runc, and runc resizes the container's console to match.
 */
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { StreamingProcess } from './types.js';

const PTY_RELAY = `
import fcntl, os, pty, select, struct, sys, termios
pid, master = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
fds = [master, 0, 3]
pending = b''
while master in fds:
    r, _, _ = select.select(fds, [], [])
    if master in r:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b''
        if not data:
            break
        write_all(1, data)
    if 0 in r:
        data = os.read(0, 65536)
        if data:
            write_all(master, data)
        else:
            fds.remove(0)
    if 3 in r:
        data = os.read(3, 4096)
        if not data:
            fds.remove(3)
        pending += data
        while b'\\n' in pending:
            line, pending = pending.split(b'\\n', 1)
            try:
                rows, cols = (int(x) for x in line.split())
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
            except (ValueError, OSError):
                pass
        pending = pending[-64:]
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

/**
 * `runc exec` writes the pid of the process it started in the container to `pidFile`, so that
 * kill() reaches that process: killing runc alone would leave it running inside the container
 * (reparented to the container's init), which is not what a client that went away expects.
 */
export function startExec(rt: { runtimePath: string; runcRoot: string }, id: string, argv: string[], tty: boolean, pidFile: string): StreamingProcess {
  const args = ['--root', rt.runcRoot, 'exec', '--pid-file', pidFile, ...(tty ? ['--tty'] : []), id, ...argv];
  const child = tty
    ? spawn('python3', ['-c', PTY_RELAY, rt.runtimePath, ...args], {
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        env: { ...process.env, TERM: process.env.TERM ?? 'xterm' },
      })
    : spawn(rt.runtimePath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const ctl = child.stdio[3] as Writable | null | undefined;
  ctl?.on('error', () => {}); // the relay already exited
  const alive = () => child.exitCode === null && child.signalCode === null;
  child.once('close', () => void rm(pidFile, { force: true }).catch(() => {}));
  return {
    child,
    resize: tty
      ? (width, height) => {
          if (ctl && !ctl.destroyed && !ctl.writableEnded) ctl.write(`${height} ${width}\n`);
        }
      : undefined,
    kill: () => {
      void (async () => {
        // while runc (or the relay above it) runs, it waits for that pid: it cannot have been reused
        const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
        if (alive() && Number.isInteger(pid) && pid > 1) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        if (alive()) child.kill('SIGKILL');
      })();
    },
  };
}

/**
 * Attach to a container's stdio through conmon's attach socket. The socket is SOCK_SEQPACKET,
 * which Node cannot open, so a python3 relay connects (through /proc/self/fd/N of the bundle
 * dir: socket paths are limited to 108 bytes) and turns packets into plain stdout/stderr;
 * stdin, when asked for, is sent on in packets conmon's 8 KiB buffer takes whole, and its EOF
 * becomes a shutdown that conmon answers by closing the container's stdin (stdinOnce).
 */
const ATTACH_RELAY = `
import os, select, socket, sys
path, use_stdin = sys.argv[1], sys.argv[2] == '1'
d = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect('/proc/self/fd/%d/%s' % (d, os.path.basename(path)))
except OSError as e:
    sys.stderr.write('attach: %s\\n' % e.strerror)
    sys.exit(1)
os.close(d)
def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
fds = [s.fileno()] + ([0] if use_stdin else [])
while True:
    r, _, _ = select.select(fds, [], [])
    if 0 in r:
        data = os.read(0, 8192)
        if data:
            s.sendall(data)
        else:
            fds.remove(0)
            s.shutdown(socket.SHUT_WR)
    if s.fileno() in r:
        try:
            pkt = s.recv(65536)
        except OSError:
            pkt = b''
        if not pkt:
            break
        write_all(2 if pkt[0] == 3 else 1, pkt[1:])
`;

export function startAttach(socketPath: string, stdin: boolean, resize: (width: number, height: number) => void): StreamingProcess {
  const child = spawn('python3', ['-c', ATTACH_RELAY, socketPath, stdin ? '1' : '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    child,
    resize,
    // only the relay: the container itself runs on, as after any attach session
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
