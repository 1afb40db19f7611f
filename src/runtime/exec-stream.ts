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
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';

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

export function startExec(rt: { runtimePath: string; runcRoot: string }, id: string, argv: string[], tty: boolean): ChildProcess {
  const args = ['--root', rt.runcRoot, 'exec', ...(tty ? ['--tty'] : []), id, ...argv];
  if (!tty) return spawn(rt.runtimePath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const child = spawn('python3', ['-c', PTY_RELAY, rt.runtimePath, ...args], {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: process.env.TERM ?? 'xterm' },
  });
  (child.stdio[3] as Writable | null)?.on('error', () => {}); // the relay already exited
  return child;
}

/** Set the terminal size of a TTY exec started by startExec (a no-op for one without a terminal). */
export function resizeExec(child: ChildProcess, width: number, height: number): void {
  const ctl = child.stdio[3] as Writable | null | undefined;
  if (!ctl || ctl.destroyed || ctl.writableEnded) return;
  ctl.write(`${height} ${width}\n`);
}
