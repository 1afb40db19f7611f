/**
 * One child process, run to its end with stdout and stderr collected: what ./exec.ts `run`
 * does (spawned synchronously: inherited fds are in the child when it returns).
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface SpawnRequest {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer | Uint8Array;
  /** milliseconds (default 60 s) */
  timeoutMs?: number;
  /** extra file descriptors passed to the child (index 3 onward) */
  extraFds?: (number | 'pipe')[];
  /**
   * fd 3 of the child is the write end of a pipe (a socketpair, as Node makes its stdio pipes)
   * read here up to its first newline (conmon's sync pipe, `_OCI_SYNCPIPE=3`): the run ends
   * once the child has exited AND that line has come (or every holder of the write end has
   * closed it), and the line comes back as `sync`. Our end is then closed: a daemon the child
   * forked may keep its copy for as long as it runs (conmon does).
   */
  syncPipe?: boolean;
}

export interface SpawnOutcome {
  /** null when the command could not be started (then `error` says why) */
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
  /** with `syncPipe`: what the child wrote on fd 3, up to and with its first newline */
  sync?: string;
  /** the timeout fired (the child was killed; with `syncPipe`, the wait for its line ended) */
  timedOut?: boolean;
}

export function spawnCollect(req: SpawnRequest): Promise<SpawnOutcome> {
  return new Promise((resolve) => {
    if (req.syncPipe && req.extraFds?.length) {
      resolve({ code: null, stdout: '', stderr: '', error: 'syncPipe is fd 3: it cannot go with extraFds' });
      return;
    }
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(req.command, req.args, {
        env: req.env ?? process.env,
        cwd: req.cwd,
        stdio: ['pipe', 'pipe', 'pipe', ...(req.syncPipe ? ['pipe' as const] : (req.extraFds ?? []))],
      });
    } catch (e) {
      resolve({ code: null, stdout: '', stderr: '', error: (e as Error).message });
      return;
    }
    let stdout = '';
    let stderr = '';
    let sync: string | undefined;
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // the child's 'close' waits for this end too: it is destroyed at the first newline
    const syncEnd = req.syncPipe ? (child.stdio[3] as Readable) : undefined;
    if (syncEnd) {
      sync = '';
      syncEnd.setEncoding('utf8');
      syncEnd.on('data', (d: string) => {
        sync += d;
        const nl = sync!.indexOf('\n');
        if (nl >= 0) {
          sync = sync!.slice(0, nl + 1);
          syncEnd.destroy();
        }
      });
      syncEnd.on('error', () => {});
    }
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      syncEnd?.destroy();
      stderr += `\n(killed after ${req.timeoutMs ?? 60_000} ms)`;
    }, req.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      syncEnd?.destroy();
      resolve({ code: null, stdout, stderr, error: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ...(syncEnd ? { sync } : {}), ...(timedOut ? { timedOut } : {}) });
    });
    // a child that exits without reading its stdin must not fail the run (EPIPE)
    child.stdin!.on('error', () => {});
    if (req.input !== undefined) child.stdin!.end(req.input);
    else child.stdin!.end();
  });
}
