/**
 * One child process, run to its end with stdout and stderr collected: what ./exec.ts `run`
 * does (spawned synchronously: inherited fds are in the child when it returns).
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';

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
   * paths (FIFOs whose reader is open) opened write-only where the child is started and passed
   * to it after `extraFds`, then closed there: the child holds the only write end
   */
  openForWrite?: string[];
}

export interface SpawnOutcome {
  /** null when the command could not be started (then `error` says why) */
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

export function spawnCollect(req: SpawnRequest): Promise<SpawnOutcome> {
  return new Promise((resolve) => {
    const opened: number[] = [];
    let child: ReturnType<typeof spawn>;
    try {
      for (const p of req.openForWrite ?? []) opened.push(openSync(p, constants.O_WRONLY | constants.O_NOFOLLOW));
      child = spawn(req.command, req.args, {
        env: req.env ?? process.env,
        cwd: req.cwd,
        stdio: ['pipe', 'pipe', 'pipe', ...(req.extraFds ?? []), ...opened],
      });
    } catch (e) {
      resolve({ code: null, stdout: '', stderr: '', error: (e as Error).message });
      return;
    } finally {
      // spawn is synchronous: the child has its copies now
      for (const fd of opened) closeSync(fd);
    }
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n(killed after ${req.timeoutMs ?? 60_000} ms)`;
    }, req.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, error: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // a child that exits without reading its stdin must not fail the run (EPIPE)
    child.stdin!.on('error', () => {});
    if (req.input !== undefined) child.stdin!.end(req.input);
    else child.stdin!.end();
  });
}
