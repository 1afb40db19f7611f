/**
 * The processes the runtime watches and signals (a container's init, its conmon), read from
 * /proc. Nothing here trusts what a container can change: a process's name in /proc/PID/stat
 * is skipped (the fields after its last ')' are the kernel's).
 */
import { readFileSync } from 'node:fs';

export function pidAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie is not alive
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** the parent of `pid` (the kernel's field of /proc/PID/stat), 0 when it cannot be read */
export function parentPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

/** true when /proc/<pid>/cmdline mentions `needle` (guards against a recycled pid) */
export function pidMentions(pid: number, needle: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return false;
  }
}

/**
 * Signal a container's init from here instead of through `runc kill` (one runc process fewer
 * per stop), when `pid` is certainly that process: alive, not a zombie, and a child of the
 * container's own conmon. conmon is a subreaper that has not reaped it, so the pid cannot have
 * been reused. false when that is not provable (conmon gone, pid unknown): the caller asks runc.
 * The fields after the last ')' of /proc/PID/stat are the kernel's, whatever the process named
 * itself.
 */
export function signalInit(pid: number, conmonPid: number, id: string, signal: 'SIGTERM' | 'SIGKILL'): boolean {
  if (!pid || !conmonPid || !pidMentions(conmonPid, id)) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (state === 'Z' || Number(ppid) !== conmonPid) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
