/**
 * What the benches read of a podbay process from /proc: CPU (the engine, and its spawner with
 * the commands the spawner ran: src/sys/spawner.ts) and memory.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

function statFields(pid: number, tid?: number): string[] {
  const f = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  return f.slice(f.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime ('self'), plus cutime + cstime ('all': children count once waited for), in ms */
export function cpuMs(pid: number, which: 'all' | 'self' = 'all'): number {
  const rest = statFields(pid);
  return (which === 'all' ? [11, 12, 13, 14] : [11, 12]).reduce((a, i) => a + Number(rest[i]), 0) * TICK_MS;
}

/**
 * utime + stime of one thread of `pid` in ms; the main thread by default (its JavaScript, the
 * synchronous syscalls it makes, SQLite); the process's other threads are libuv's pool (every
 * asynchronous fs call) and V8's workers (GC, compilation).
 */
export function threadCpuMs(pid: number, tid = pid): number {
  const rest = statFields(pid, tid);
  return (Number(rest[11]) + Number(rest[12])) * TICK_MS;
}

/** the spawner process(es) of the engine `pid`: its children running spawner-child.js */
export function spawnersOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(statFields(Number(d))[1]) !== pid) continue;
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('spawner-child')) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * CPU of the engine and of its spawner: their own ('self'), or with the commands each waited for
 * ('all'). (A spawner that exited meanwhile is in the engine's children's time already.)
 */
export function podbayCpuMs(pid: number, which: 'all' | 'self' = 'all'): { total: number; engine: number; spawner: number } {
  const engine = cpuMs(pid, which);
  let spawner = 0;
  for (const s of spawnersOf(pid)) {
    try {
      spawner += cpuMs(s, which);
    } catch {
      /* gone */
    }
  }
  return { total: engine + spawner, engine, spawner };
}

/**
 * The whole host's busy CPU in ms (every process and kernel thread, interrupts included: the
 * first line of /proc/stat without idle and iowait). Where podbay's figure above cannot see:
 * conmon daemonizes, so it and the `runc create` it runs are never waited for by podbay.
 */
export function hostBusyCpuMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user already)
  const busy = f.slice(0, 8).reduce((a, v, i) => (i === 3 || i === 4 ? a : a + v), 0);
  return busy * TICK_MS;
}

/** VmRSS in MB, 0 when the process is gone */
export function rssMb(pid: number | string): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** proportional set size in MB (shared pages divided among their users): what a process adds */
export function pssMb(pid: number | string): number {
  try {
    const m = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
