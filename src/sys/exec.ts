/**
 * The one way podbay runs external binaries (runc, conmon, ip, iptables, mount, CNI plugins).
 * Every call is argv-based (no shell), has a timeout, and fails with an error that names the
 * command and quotes its stderr, so a failure reaching a user says what went wrong.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ExecOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** milliseconds (default 60 s) */
  timeoutMs?: number;
  /** do not throw on a non-zero exit; the caller inspects `code` */
  allowFailure?: boolean;
  /** extra file descriptors passed to the child (index 3 onward) */
  extraFds?: (number | 'pipe')[];
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    const detail = (stderr || stdout).trim().split('\n').slice(-5).join('\n');
    super(`${command} ${args.join(' ')} failed (exit ${code ?? 'signal'})${detail ? `: ${detail}` : ''}`);
    this.name = 'ExecError';
  }
}

export function run(command: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe', ...(opts.extraFds ?? [])],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n(killed after ${opts.timeoutMs ?? 60_000} ms)`;
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ExecError(command, args, null, stdout, `${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const res = { code: code ?? -1, stdout, stderr };
      if (code !== 0 && !opts.allowFailure) reject(new ExecError(command, args, code, stdout, stderr));
      else resolve(res);
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** Find an executable on PATH (or at an absolute path); undefined when missing. */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = name.includes('/') ? [name] : [...path.split(delimiter), '/usr/sbin', '/sbin', '/usr/bin'].map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}
