/**
 * Resource usage of the node and of each running container, as the kubelet's resource
 * metrics and /stats/summary report them (what metrics-server turns into the Metrics API):
 *
 *   container CPU      rate of the container cgroup's cumulative CPU time, in nanocores
 *                      (v1 cpuacct.usage, ns; v2 cpu.stat usage_usec)
 *   container memory   working set = usage - inactive file pages
 *                      (v1 memory.usage_in_bytes - memory.stat total_inactive_file;
 *                       v2 memory.current - memory.stat inactive_file)
 *   node CPU           rate of /proc/stat's busy jiffies (all but idle and iowait)
 *   node memory        MemTotal - MemFree - Inactive(file) from /proc/meminfo
 *
 * A rate needs two samples. Nothing samples in the background: a request reads the counters
 * once and compares them with the samples kept from earlier requests (at least MIN_WINDOW_MS
 * old); only when there is none does it wait MIN_WINDOW_MS and read again. The reads are
 * asynchronous reads of kernel files (cgroupfs, procfs), which no container can replace.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { controllerDir, type CgroupLayout } from '../runtime/cgroups.js';
import type { ContainerUsage, NodeUsage, PodUsage } from '../api/usage.js';

export type { ContainerUsage, NodeUsage, PodUsage } from '../api/usage.js';

/** One sample of a cumulative counter (ns of CPU time) at a time (ms since the epoch). */
interface Sample {
  t: number;
  v: number;
}

export const MIN_WINDOW_MS = 1000;
/** samples older than this are no base for a rate (the rate would be a long average) */
export const MAX_WINDOW_MS = 60_000;
/** keys not read for this long are forgotten (containers that went away) */
const FORGET_MS = 5 * 60_000;

/** A rate over a window: `perSecond` of the counter between two samples `windowMs` apart. */
export interface Rate {
  perSecond: number;
  windowMs: number;
  at: number;
}

/**
 * Keeps the last samples of cumulative counters and turns a new reading into a rate against
 * the newest sample at least MIN_WINDOW_MS old. Pure bookkeeping (time is passed in).
 */
export class RateKeeper {
  private readonly samples = new Map<string, Sample[]>();

  /** The sample a reading at `now` can be compared with, if any. */
  base(key: string, now: number): Sample | undefined {
    const list = this.samples.get(key) ?? [];
    return [...list].reverse().find((s) => now - s.t >= MIN_WINDOW_MS && now - s.t <= MAX_WINDOW_MS);
  }

  /** Records a reading; at most two samples per key are kept, at least MIN_WINDOW_MS apart. */
  record(key: string, s: Sample): void {
    const list = this.samples.get(key) ?? [];
    const newest = list.at(-1);
    if (newest && s.v < newest.v) list.length = 0; // the counter restarted (a new container behind the key)
    if (!newest || list.length === 0 || s.t - newest.t >= MIN_WINDOW_MS) list.push(s);
    while (list.length > 2) list.shift();
    this.samples.set(key, list);
  }

  /** The rate from the base sample to `s`, undefined without a base (or when the counter went back). */
  rate(key: string, s: Sample): Rate | undefined {
    const b = this.base(key, s.t);
    if (!b || s.v < b.v) return undefined;
    const windowMs = s.t - b.t;
    return { perSecond: ((s.v - b.v) * 1000) / windowMs, windowMs, at: s.t };
  }

  forgetOlderThan(now: number): void {
    for (const [k, list] of this.samples) if (!list.length || now - list.at(-1)!.t > FORGET_MS) this.samples.delete(k);
  }
}

/** "total_inactive_file 123" (v1) / "inactive_file 123" (v2) from a memory.stat text. */
export function memoryStatValue(text: string, key: string): number | undefined {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Busy CPU time in ns from /proc/stat's first line (user nice system idle iowait irq softirq steal ...). */
export function procStatBusyNs(text: string, userHz = 100): number | undefined {
  const line = /^cpu\s+(.*)$/m.exec(text)?.[1];
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).map(Number);
  // guest and guest_nice (fields 9, 10) are already counted in user and nice
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return (busy * 1e9) / userHz;
}

/** Working set from /proc/meminfo: MemTotal - MemFree - Inactive(file), in bytes. */
export function meminfoWorkingSetBytes(text: string): number | undefined {
  const kb = (k: string) => {
    const m = new RegExp(`^${k.replace(/[()]/g, '\\$&')}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  const free = kb('MemFree');
  if (total === undefined || free === undefined) return undefined;
  return Math.max(0, total - free - (kb('Inactive(file)') ?? 0));
}

/** What the stats need to know about the node's pods (the runtime's records). */
export interface StatsView {
  layout: CgroupLayout;
  /** the pod-level cgroup path of the pod's newest running sandbox, and its id */
  podSandbox(podUid: string): Promise<{ id: string; cgroupParent: string } | undefined>;
  /** the running app containers of a sandbox, newest of each name */
  runningContainers(sandboxId: string): Promise<{ id: string; name: string }[]>;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NodeStats {
  private readonly rates = new RateKeeper();

  constructor(
    private readonly view: StatsView,
    private readonly now: () => number = Date.now,
  ) {}

  /** cumulative CPU ns and working set bytes of one cgroup (path below the hierarchy roots), undefined if it is gone */
  private async readCgroup(path: string): Promise<{ cpu: number; mem: number } | undefined> {
    const l = this.view.layout;
    if (l.version === 'v2') {
      const dir = join(l.mountPoint, path);
      const [cpuStat, current, stat] = await Promise.all([readText(join(dir, 'cpu.stat')), readText(join(dir, 'memory.current')), readText(join(dir, 'memory.stat'))]);
      const usec = cpuStat ? memoryStatValue(cpuStat, 'usage_usec') : undefined;
      if (usec === undefined || current === undefined) return undefined;
      return { cpu: usec * 1000, mem: Math.max(0, Number(current) - (memoryStatValue(stat ?? '', 'inactive_file') ?? 0)) };
    }
    const cpuDir = controllerDir(l, 'cpuacct', path);
    const memDir = controllerDir(l, 'memory', path);
    if (!cpuDir || !memDir) return undefined;
    const [usage, memUsage, stat] = await Promise.all([readText(join(cpuDir, 'cpuacct.usage')), readText(join(memDir, 'memory.usage_in_bytes')), readText(join(memDir, 'memory.stat'))]);
    if (usage === undefined || memUsage === undefined) return undefined;
    return { cpu: Number(usage), mem: Math.max(0, Number(memUsage) - (memoryStatValue(stat ?? '', 'total_inactive_file') ?? 0)) };
  }

  /**
   * Reads `keys` twice if needed: once now, and again after MIN_WINDOW_MS when some key has no
   * earlier sample to be compared with (the first request for a container).
   */
  private async sampled<T extends { cpu: number }>(read: () => Promise<Map<string, T>>): Promise<{ values: Map<string, T>; rates: Map<string, Rate> }> {
    let values = await read();
    let at = this.now();
    if ([...values.keys()].some((k) => !this.rates.base(k, at))) {
      for (const [k, v] of values) this.rates.record(k, { t: at, v: v.cpu });
      // a little over the window, so the first sample is surely old enough to be the base
      await sleep(MIN_WINDOW_MS + 20);
      values = await read();
      at = this.now();
    }
    const rates = new Map<string, Rate>();
    for (const [k, v] of values) {
      const r = this.rates.rate(k, { t: at, v: v.cpu });
      if (r) rates.set(k, r);
      this.rates.record(k, { t: at, v: v.cpu });
    }
    this.rates.forgetOlderThan(at);
    return { values, rates };
  }

  /** Usage of a pod's running containers; undefined when it has none running on this node. */
  async podUsage(podUid: string): Promise<PodUsage | undefined> {
    const sb = await this.view.podSandbox(podUid);
    if (!sb) return undefined;
    const containers = await this.view.runningContainers(sb.id);
    if (!containers.length) return undefined;
    const { values, rates } = await this.sampled(async () => {
      const out = new Map<string, { cpu: number; mem: number; name: string }>();
      await Promise.all(
        containers.map(async (c) => {
          const v = await this.readCgroup(`${sb.cgroupParent}/${c.id}`);
          if (v) out.set(c.id, { ...v, name: c.name });
        }),
      );
      return out;
    });
    const usage: ContainerUsage[] = [];
    let windowMs = 0;
    let at = 0;
    for (const c of containers) {
      const v = values.get(c.id);
      const r = rates.get(c.id);
      if (!v || !r) continue;
      windowMs = Math.max(windowMs, r.windowMs);
      at = Math.max(at, r.at);
      usage.push({ name: c.name, cpuNanoCores: Math.round(r.perSecond), memoryWorkingSetBytes: v.mem, cpuUsageCoreNanoSeconds: v.cpu });
    }
    return usage.length ? { at, windowMs, containers: usage } : undefined;
  }

  async nodeUsage(): Promise<NodeUsage | undefined> {
    const { values, rates } = await this.sampled(async () => {
      const [stat, meminfo] = await Promise.all([readText('/proc/stat'), readText('/proc/meminfo')]);
      const cpu = stat ? procStatBusyNs(stat) : undefined;
      const mem = meminfo ? meminfoWorkingSetBytes(meminfo) : undefined;
      const out = new Map<string, { cpu: number; mem: number }>();
      if (typeof cpu === 'number' && typeof mem === 'number') out.set('node', { cpu, mem });
      return out;
    });
    const v = values.get('node');
    const r = rates.get('node');
    if (!v || !r) return undefined;
    return { at: r.at, windowMs: r.windowMs, cpuNanoCores: Math.round(r.perSecond), memoryWorkingSetBytes: v.mem, cpuUsageCoreNanoSeconds: v.cpu };
  }
}
