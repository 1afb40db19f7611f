/**
 * The one way podbay runs external binaries (runc, conmon, ip, iptables, mount, CNI plugins).
 * Every call is argv-based (no shell), has a timeout, and fails with an error that names the
 * command and quotes its stderr, so a failure reaching a user says what went wrong.
 */
import { spawnVia } from './spawner.js';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ExecOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** milliseconds (default 60 s) */
  timeoutMs?: number;
  /** do not throw on a non-zero exit; the caller inspects `code` */
  allowFailure?: boolean;
  /**
   * extra file descriptors passed to the child (index 3 onward); the child has them once run()
   * returns (spawn is synchronous), so the caller may close its copies then.
   */
  extraFds?: (number | 'pipe')[];
  /** fd 3 is a pipe whose first line comes back as `sync` (conmon's sync pipe; see exec-spawn.ts) */
  syncPipe?: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  /** with `syncPipe`: the line the child wrote on fd 3 ('' when none came) */
  sync?: string;
  /** the timeout fired */
  timedOut?: boolean;
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

/**
 * PODBAY_TRACE_EXEC=1 prints every command podbay runs with its wall time; =cpu also its CPU
 * (user + system, children included, through GNU time): where a pod's time goes.
 */
const TRACE_EXEC = process.env.PODBAY_TRACE_EXEC;
let traceSeq = 0;

export function run(command: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  if (TRACE_EXEC !== '1' && TRACE_EXEC !== 'cpu') return runUntraced(command, args, opts);
  const t0 = performance.now();
  const cpuFile = TRACE_EXEC === 'cpu' ? `/tmp/podbay-trace-cpu-${process.pid}-${traceSeq++}` : undefined;
  const done = (code: number | string) => {
    let cpu = '';
    if (cpuFile) {
      try {
        const [u, sy] = readFileSync(cpuFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
        cpu = ` cpu ${((u! + sy!) * 1000).toFixed(0)} ms`;
      } catch {
        /* the command did not start */
      }
      rmSync(cpuFile, { force: true });
    }
    process.stderr.write(`${new Date().toISOString()} exec ${command.split('/').pop()} ${args.slice(0, 8).join(' ')} -> ${code} ${(performance.now() - t0).toFixed(1)} ms${cpu}\n`);
  };
  const p = cpuFile ? runUntraced('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, '--', command, ...args], opts) : runUntraced(command, args, opts);
  return p.then(
    (r) => (done(r.code), r),
    (e) => (done('error'), Promise.reject(e)),
  );
}

async function runUntraced(command: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const out = await spawnVia({ command, args, env: opts.env, cwd: opts.cwd, input: opts.input, timeoutMs: opts.timeoutMs, extraFds: opts.extraFds, syncPipe: opts.syncPipe });
  if (out.code === null) throw new ExecError(command, args, null, out.stdout, out.error ?? out.stderr);
  if (out.code !== 0 && !opts.allowFailure) throw new ExecError(command, args, out.code, out.stdout, out.stderr);
  return { code: out.code, stdout: out.stdout, stderr: out.stderr, ...(out.sync !== undefined ? { sync: out.sync } : {}), ...(out.timedOut ? { timedOut: true } : {}) };
}

/**
 * Where a name was found on a PATH: tools are looked up per pod (unshare, umount, iptables...),
 * and each lookup walked PATH with one access() per directory. A tool found stays found for the
 * process (a tool removed later fails where it is run, naming its path); a missing one is
 * looked for again on every call, so installing it needs no restart.
 */
const found = new Map<string, string>();

/** Find an executable on PATH (or at an absolute path); undefined when missing. */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return lookup(name, path);
  const key = `${path}\0${name}`;
  let hit = found.get(key);
  if (hit === undefined) {
    hit = lookup(name, path);
    if (hit !== undefined) found.set(key, hit);
  }
  return hit;
}

function lookup(name: string, path: string): string | undefined {
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
