/**
 * runc's command line, against one state root (`--root`) so that each podbay instance keeps its
 * own container list. Every call goes through src/sys/exec.ts.
 */
import { readFile, rm } from 'node:fs/promises';
import { run } from '../sys/exec.js';

export type RuncStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface RuncState {
  id: string;
  pid: number;
  status: RuncStatus;
  bundle: string;
  created: string;
}

/** runc logs errors as logrus lines (`time=... level=error msg="..."`); keep the message only. */
export function runcMessage(text: string): string {
  const msgs: string[] = [];
  for (const line of text.split('\n')) {
    const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) {
      try {
        msgs.push(JSON.parse(`"${m[1]}"`) as string);
      } catch {
        msgs.push(m[1]!);
      }
    } else if (line.trim()) {
      try {
        const j = JSON.parse(line) as { msg?: string; level?: string };
        if (j.msg) msgs.push(j.msg);
        else msgs.push(line.trim());
      } catch {
        msgs.push(line.trim());
      }
    }
  }
  return msgs.join('; ');
}

export class Runc {
  constructor(
    readonly path: string,
    readonly root: string,
  ) {}

  private args(...a: string[]): string[] {
    return ['--root', this.root, ...a];
  }

  async start(id: string): Promise<void> {
    const r = await run(this.path, this.args('start', id), { allowFailure: true, timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`runc start ${id}: ${runcMessage(r.stderr || r.stdout) || `exit ${r.code}`}`);
  }

  /**
   * `runc exec ID ARGV...`: a process in a running container, from its config.json's process.
   * On timeout runc is killed and so is the process (its host pid from `--pid-file`), which
   * SIGKILL on runc alone would leave running.
   */
  async exec(id: string, argv: string[], timeoutMs: number, pidFile: string): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
    const started = Date.now();
    try {
      const r = await run(this.path, this.args('exec', '--pid-file', pidFile, id, ...argv), { allowFailure: true, timeoutMs });
      const timedOut = r.code === -1 && Date.now() - started >= timeoutMs;
      if (timedOut) {
        const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
      return { ...r, timedOut };
    } finally {
      await rm(pidFile, { force: true });
    }
  }

  /** undefined when runc does not know the container */
  async state(id: string): Promise<RuncState | undefined> {
    const r = await run(this.path, this.args('state', id), { allowFailure: true, timeoutMs: 15_000 });
    if (r.code !== 0) return undefined;
    return JSON.parse(r.stdout) as RuncState;
  }

  /** signal the container's init (or every process with all); false when it is already gone */
  async kill(id: string, signal: string, all = false): Promise<boolean> {
    const r = await run(this.path, this.args('kill', ...(all ? ['--all'] : []), id, signal), { allowFailure: true, timeoutMs: 15_000 });
    return r.code === 0;
  }

  /** `runc delete --force`; tolerates a container runc does not know */
  async delete(id: string): Promise<void> {
    const r = await run(this.path, this.args('delete', '--force', id), { allowFailure: true, timeoutMs: 30_000 });
    if (r.code !== 0 && !/does not exist|not exist/.test(r.stderr)) {
      throw new Error(`runc delete ${id}: ${runcMessage(r.stderr) || `exit ${r.code}`}`);
    }
  }

  async list(): Promise<RuncState[]> {
    const r = await run(this.path, this.args('list', '--format', 'json'), { allowFailure: true, timeoutMs: 15_000 });
    if (r.code !== 0) return [];
    const out = JSON.parse(r.stdout || 'null') as RuncState[] | null;
    return out ?? [];
  }
}
