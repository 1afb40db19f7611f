/**
 * A streaming exec into a running container (what `kubectl exec` reaches): `runc exec` with
 * pipes, or, for a TTY, under `script` so that runc gets a terminal to relay the container's
 * console through (Node cannot receive runc's console fd over a socket by itself).
 */
import { spawn, type ChildProcess } from 'node:child_process';

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function startExec(rt: { runtimePath: string; runcRoot: string }, id: string, argv: string[], tty: boolean): ChildProcess {
  const args = ['--root', rt.runcRoot, 'exec', ...(tty ? ['--tty'] : []), id, ...argv];
  if (!tty) return spawn(rt.runtimePath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const command = [rt.runtimePath, ...args].map(shellQuote).join(' ');
  return spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: process.env.TERM ?? 'xterm' },
  });
}
