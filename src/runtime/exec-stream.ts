/**
 * A streaming exec into a running container (what `kubectl exec` reaches): `runc exec` with
 * pipes, or, for a TTY, inside a pseudo-terminal made by python3's pty module, so that runc
 * has a terminal to relay the container's console through (Node cannot receive runc's console
 * fd over a socket by itself).
 */
import { spawn, type ChildProcess } from 'node:child_process';

const PTY_RELAY = 'import os, pty, sys\nsys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';

export function startExec(rt: { runtimePath: string; runcRoot: string }, id: string, argv: string[], tty: boolean): ChildProcess {
  const args = ['--root', rt.runcRoot, 'exec', ...(tty ? ['--tty'] : []), id, ...argv];
  if (!tty) return spawn(rt.runtimePath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // python's pty.spawn relays stdin to the terminal until EOF and does not type an EOF
  // character into it (util-linux `script` would, as a NUL that the console echoes as "^@")
  return spawn('python3', ['-c', PTY_RELAY, rt.runtimePath, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: process.env.TERM ?? 'xterm' },
  });
}
