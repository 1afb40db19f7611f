/**
 * The container log manager, as the kubelet's (pkg/kubelet/logs/container_log_manager.go):
 * every monitor interval, each running container's live log is checked; past `maxSize` it is
 * renamed to `<log>.<YYYYMMDD-hhmmss>` and the runtime is told to reopen the log (conmon then
 * starts a fresh file under the old name). Before that, rotated files beyond `maxFiles - 2`
 * are deleted oldest first (the two kept slots: the file being rotated and the new live one),
 * so a container never has more than `maxFiles` log files. Unlike the kubelet, rotated files
 * are not gzipped (`kubectl logs` reads them back directly).
 *
 * The log directory is podbay's own (conmon writes into it, the container only writes bytes
 * through conmon), so plain renames and removes by name are safe here.
 */
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ContainerStatus } from '../runtime/types.js';
import { groupLogRuns } from './logs.js';
import { parseQuantity } from '../api/validation/quantity.js';

export interface LogRotationPolicy {
  /** bytes; the kubelet's --container-log-max-size (default 10Mi) */
  maxSize: number;
  /** the kubelet's --container-log-max-files (default 5, at least 2) */
  maxFiles: number;
  /** how often sizes are checked (the kubelet's containerLogMonitorInterval, default 10 s) */
  intervalMs: number;
}

export const DEFAULT_LOG_ROTATION: LogRotationPolicy = { maxSize: 10 * 1024 * 1024, maxFiles: 5, intervalMs: 10_000 };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `0.log` at 2026-11-29 18:30:00 -> `0.log.20261129-183000` (UTC, so names sort by time on any host). */
export function rotatedLogName(log: string, now: Date): string {
  const ts = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `${log}.${ts}`;
}

/**
 * Which rotated files (names, oldest first) to delete before rotating once more, so that with
 * the file about to be rotated and the new live file there are at most `maxFiles`.
 */
export function excessRotatedLogs(rotated: string[], maxFiles: number): string[] {
  const keep = Math.max(0, maxFiles - 2);
  const sorted = [...rotated].sort();
  return sorted.slice(0, Math.max(0, sorted.length - keep));
}

/** What one check of one container decides. */
export type RotationDecision = { rotate: false } | { rotate: true; remove: string[]; rotatedTo: string };

/**
 * Rotate when the live log has reached `maxSize`. `names` is the container's log directory
 * listing; a rotated name that already exists (two rotations in one second) waits a round.
 */
export function decideRotation(log: string, size: number, names: string[], policy: LogRotationPolicy, now: Date): RotationDecision {
  if (size < policy.maxSize) return { rotate: false };
  const base = basename(log);
  const restart = Number(/^(\d+)\.log$/.exec(base)?.[1] ?? NaN);
  const run = groupLogRuns(names).find((r) => r.restart === restart);
  const rotated = (run?.names ?? []).filter((n) => n !== base);
  const rotatedTo = basename(rotatedLogName(log, now));
  if (rotated.includes(rotatedTo)) return { rotate: false };
  return { rotate: true, remove: excessRotatedLogs(rotated, policy.maxFiles), rotatedTo };
}

/** A Go duration as the kubelet's flags take it: "10s", "500ms", "1m30s". */
export function parseDurationMs(v: string): number | undefined {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = v;
  if (!rest) return undefined;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * unit[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** The policy from podbay server's --container-log-* flags; a bad value throws, naming the flag. */
export function logRotationFlags(flags: Map<string, string>): LogRotationPolicy {
  const p = { ...DEFAULT_LOG_ROTATION };
  const size = flags.get('container-log-max-size');
  if (size !== undefined) {
    const q = parseQuantity(size);
    const bytes = q && q.num % q.den === 0n ? Number(q.num / q.den) : NaN;
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`--container-log-max-size ${JSON.stringify(size)}: want a positive whole quantity of bytes, e.g. 10Mi`);
    p.maxSize = bytes;
  }
  const files = flags.get('container-log-max-files');
  if (files !== undefined) {
    const n = Number(files);
    if (!/^\d+$/.test(files) || n < 2) throw new Error(`--container-log-max-files ${JSON.stringify(files)}: want a whole number of at least 2`);
    p.maxFiles = n;
  }
  const every = flags.get('container-log-monitor-interval');
  if (every !== undefined) {
    const ms = parseDurationMs(every);
    if (!ms || ms <= 0) throw new Error(`--container-log-monitor-interval ${JSON.stringify(every)}: want a positive duration, e.g. 10s or 500ms`);
    p.intervalMs = ms;
  }
  return p;
}

export interface LogRotatorDeps {
  listContainers(): Promise<ContainerStatus[]>;
  reopenContainerLog(id: string): Promise<void>;
  log: (line: string) => void;
  now?: () => Date;
}

export class ContainerLogManager {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;

  constructor(
    private readonly policy: LogRotationPolicy,
    private readonly deps: LogRotatorDeps,
  ) {}

  /** Check every interval, one round at a time, off the request path. */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.rotateAll()
        .catch((e) => this.deps.log(`container log manager: ${(e as Error).message}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.policy.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.policy.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One round over the running containers; one container's failure does not stop the others. */
  async rotateAll(): Promise<void> {
    for (const c of await this.deps.listContainers()) {
      if (c.state !== 'running' || !c.config.logPath) continue;
      try {
        await this.rotateOne(c.id, c.config.logPath);
      } catch (e) {
        this.deps.log(`container log manager: rotating the log of container ${c.id.slice(0, 12)} failed: ${(e as Error).message}`);
      }
    }
  }

  async rotateOne(id: string, log: string): Promise<boolean> {
    const st = await fsp.lstat(log).catch(() => undefined);
    if (!st?.isFile()) return false;
    const dir = dirname(log);
    const d = decideRotation(log, st.size, await fsp.readdir(dir), this.policy, (this.deps.now ?? (() => new Date()))());
    if (!d.rotate) return false;
    for (const n of d.remove) await fsp.rm(join(dir, n), { force: true });
    const rotated = join(dir, d.rotatedTo);
    await fsp.rename(log, rotated);
    try {
      await this.deps.reopenContainerLog(id);
    } catch (e) {
      // as the kubelet does: put the file back so the next round can try again
      await fsp.rename(rotated, log).catch(() => {});
      throw e;
    }
    return true;
  }
}
