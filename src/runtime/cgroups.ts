/**
 * Pod cgroups, as the kubelet's pod container manager lays them out (cgroupfs driver):
 *
 *   ROOT/kubepods/pod<uid>/                 Guaranteed pods
 *   ROOT/kubepods/burstable/pod<uid>/       Burstable pods
 *   ROOT/kubepods/besteffort/pod<uid>/      BestEffort pods (besteffort itself has cpu.shares 2)
 *       <sandbox id>/                       the pause container   (created by runc)
 *       <container id>/                     each app container     (created by runc)
 *
 * ROOT is podbay's own (`--cgroup-root`, default /podbay), so podbay never writes into cgroups
 * it did not make. podbay creates the pod-level directory and writes the pod's limits there
 * (memory, CFS quota, shares, pids.max: the sum of its containers, as the kubelet does); runc
 * creates each container's child from the OCI spec's `cgroupsPath` and `linux.resources`.
 * The pod directory goes with the pod's sandbox; the root's directories when podbay stops and
 * nothing is left in them.
 *
 * Two host layouts, told apart from /proc/self/mountinfo: cgroup v1 (one hierarchy per
 * controller under /sys/fs/cgroup/<ctl>, possibly with a controller-less cgroup2 "unified"
 * mount beside them: the hybrid layout) and pure cgroup v2 (one hierarchy). The builders here
 * are pure (layout in, paths and file writes out); `PodCgroups` does the I/O.
 */
import { existsSync, readFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { readMountinfo, type MountInfo } from '../sys/mountinfo.js';
import type { ContainerResources, PodCgroupResources, QOSClass } from './types.js';

// ---- layout ---------------------------------------------------------------------------------

/** A v1 hierarchy: its mount point and the controllers (or `name=X`) mounted there. */
export interface V1Hierarchy {
  mountPoint: string;
  controllers: string[];
}

export type CgroupLayout =
  | {
      version: 'v1';
      hierarchies: V1Hierarchy[];
      /** the hybrid layout's cgroup2 mount (no controllers; runc still makes a dir there) */
      unified?: string;
      /** memory.memsw.* exist (swap accounting), so memory+swap can be capped at the limit */
      memsw: boolean;
    }
  | {
      version: 'v2';
      mountPoint: string;
      /** the root's cgroup.controllers */
      controllers: string[];
    };

const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc',
]);

/**
 * The host's layout from its mounts. `probe` answers the questions that need the files
 * themselves (does memory.memsw.limit_in_bytes exist; the v2 root's cgroup.controllers), so
 * this stays pure. undefined: no usable cgroup mount (no memory controller anywhere).
 */
export function detectCgroupLayout(
  mounts: readonly MountInfo[],
  probe: { exists(path: string): boolean; read(path: string): string },
): CgroupLayout | undefined {
  const hierarchies: V1Hierarchy[] = [];
  const seen = new Set<string>();
  for (const m of mounts) {
    if (m.fsType !== 'cgroup') continue;
    const controllers = m.superOptions.filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
    // a controller mounted twice (bind mounts, containers' views) counts once: the first, as runc does
    const fresh = controllers.filter((c) => !seen.has(c));
    if (!fresh.length || hierarchies.some((h) => h.mountPoint === m.mountPoint)) continue;
    for (const c of controllers) seen.add(c);
    hierarchies.push({ mountPoint: m.mountPoint, controllers });
  }
  const v2 = mounts.filter((m) => m.fsType === 'cgroup2');
  const memory = hierarchies.find((h) => h.controllers.includes('memory'));
  if (memory) {
    return {
      version: 'v1',
      hierarchies,
      ...(v2[0] ? { unified: v2[0].mountPoint } : {}),
      memsw: probe.exists(join(memory.mountPoint, 'memory.memsw.limit_in_bytes')),
    };
  }
  const root = v2.find((m) => m.mountPoint === '/sys/fs/cgroup') ?? v2[0];
  if (!root) return undefined;
  const controllers = probe.read(join(root.mountPoint, 'cgroup.controllers')).trim().split(/\s+/).filter(Boolean);
  if (!controllers.includes('memory')) return undefined;
  return { version: 'v2', mountPoint: root.mountPoint, controllers };
}

/** Every directory tree a cgroup path has on this host (each v1 hierarchy and cgroup2 mount). */
export function hierarchyMounts(layout: CgroupLayout): string[] {
  if (layout.version === 'v2') return [layout.mountPoint];
  return [...layout.hierarchies.map((h) => h.mountPoint), ...(layout.unified ? [layout.unified] : [])];
}

/** Where `controller`'s files for a cgroup path live. */
export function controllerDir(layout: CgroupLayout, controller: string, cgroupPath: string): string | undefined {
  if (layout.version === 'v2') return join(layout.mountPoint, cgroupPath);
  const h = layout.hierarchies.find((x) => x.controllers.includes(controller));
  return h && join(h.mountPoint, cgroupPath);
}

// ---- paths ----------------------------------------------------------------------------------

/** "/podbay", "podbay/", "/a//b" -> "/podbay", "/a/b"; refuses "..", the host root and odd characters. */
export function normalizeCgroupRoot(root: string): string {
  const parts = root.split('/').filter(Boolean);
  if (!parts.length) throw new Error(`cgroup root ${JSON.stringify(root)}: podbay needs a directory of its own, e.g. /podbay (not the hierarchy's root)`);
  for (const p of parts) {
    if (p === '.' || p === '..' || !/^[A-Za-z0-9_.:@-]+$/.test(p)) throw new Error(`cgroup root ${JSON.stringify(root)}: each part must be a plain name of letters, digits and _.:@-`);
  }
  return '/' + parts.join('/');
}

const UID_RE = /^[0-9A-Za-z-]{1,64}$/;

/** The QoS-level directories under the root, shallowest first: root, kubepods, burstable, besteffort. */
export function qosCgroupDirs(root: string): string[] {
  const kubepods = `${root}/kubepods`;
  return [root, kubepods, `${kubepods}/burstable`, `${kubepods}/besteffort`];
}

/** The kubelet's pod cgroup name for a QoS class and pod UID (cgroupfs driver). */
export function podCgroupParent(root: string, qos: QOSClass, podUid: string): string {
  if (!UID_RE.test(podUid)) throw new Error(`pod UID ${JSON.stringify(podUid)} cannot name a cgroup`);
  const kubepods = `${root}/kubepods`;
  if (qos === 'Guaranteed') return `${kubepods}/pod${podUid}`;
  return `${kubepods}/${qos === 'Burstable' ? 'burstable' : 'besteffort'}/pod${podUid}`;
}

/** The pod UID a pod cgroup directory name stands for ("pod<uid>"), or undefined. */
export function podUidOfCgroup(name: string): string | undefined {
  const m = /^pod([0-9A-Za-z-]{1,64})$/.exec(name);
  return m?.[1];
}

// ---- values ---------------------------------------------------------------------------------

/** runc's (and the kubelet's) cpu.shares -> cpu.weight conversion for cgroup v2. */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 0;
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

export interface CgroupWrite {
  /** absolute directory of the cgroup */
  dir: string;
  file: string;
  value: string;
  /** a file the kernel may not offer (swap accounting off): skip when missing */
  optional?: boolean;
}

/** v2 controllers podbay needs enabled down to the pod's directory */
const V2_WANTED = ['cpu', 'memory', 'pids'];

/**
 * The writes that make a pod-level cgroup (its directory must exist in each listed tree first:
 * see `podCgroupDirs`). v1: per controller hierarchy; v2: controllers enabled in each ancestor's
 * cgroup.subtree_control, then the limits.
 */
export function podCgroupWrites(layout: CgroupLayout, parent: string, r: PodCgroupResources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (layout.version === 'v1') {
    const mem = controllerDir(layout, 'memory', parent);
    const cpu = controllerDir(layout, 'cpu', parent);
    const pids = controllerDir(layout, 'pids', parent);
    if (mem && r.memoryLimitBytes !== undefined) {
      out.push({ dir: mem, file: 'memory.limit_in_bytes', value: String(r.memoryLimitBytes) });
      // no swap: memory+swap capped at the same value (what the kubelet does on cgroup v1)
      if (layout.memsw) out.push({ dir: mem, file: 'memory.memsw.limit_in_bytes', value: String(r.memoryLimitBytes) });
    }
    if (cpu) {
      out.push({ dir: cpu, file: 'cpu.shares', value: String(r.cpuShares) });
      if (r.cpuQuota !== undefined) {
        out.push({ dir: cpu, file: 'cpu.cfs_period_us', value: String(r.cpuPeriod ?? 100_000) });
        out.push({ dir: cpu, file: 'cpu.cfs_quota_us', value: String(r.cpuQuota) });
      }
    }
    if (pids && r.pidsLimit !== undefined) out.push({ dir: pids, file: 'pids.max', value: String(r.pidsLimit) });
    return out;
  }
  const enable = V2_WANTED.filter((c) => layout.controllers.includes(c));
  const dir = (p: string) => join(layout.mountPoint, p);
  // every ancestor from the mount's root down to the pod's parent delegates the controllers
  const segs = parent.split('/').filter(Boolean);
  if (enable.length) {
    for (let i = 0; i < segs.length; i++) {
      out.push({ dir: join(layout.mountPoint, ...segs.slice(0, i)), file: 'cgroup.subtree_control', value: enable.map((c) => `+${c}`).join(' ') });
    }
  }
  const pod = dir(parent);
  if (enable.includes('memory') && r.memoryLimitBytes !== undefined) {
    out.push({ dir: pod, file: 'memory.max', value: String(r.memoryLimitBytes) });
    out.push({ dir: pod, file: 'memory.swap.max', value: '0', optional: true });
  }
  if (enable.includes('cpu')) {
    out.push({ dir: pod, file: 'cpu.weight', value: String(sharesToWeight(r.cpuShares)) });
    if (r.cpuQuota !== undefined) out.push({ dir: pod, file: 'cpu.max', value: `${r.cpuQuota} ${r.cpuPeriod ?? 100_000}` });
  }
  if (enable.includes('pids') && r.pidsLimit !== undefined) out.push({ dir: pod, file: 'pids.max', value: String(r.pidsLimit) });
  return out;
}

/**
 * Directories podbay makes for a pod (shallowest first): the QoS levels and the pod's own, in
 * the trees where it writes limits (v1: memory, cpu, pids; runc makes the rest for its child).
 */
export function podCgroupDirs(layout: CgroupLayout, root: string, parent: string): string[] {
  const rel = [...qosCgroupDirs(root).filter((d) => parent.startsWith(d + '/')), parent];
  const trees =
    layout.version === 'v2'
      ? [layout.mountPoint]
      : [...new Set(['memory', 'cpu', 'pids'].map((c) => layout.hierarchies.find((h) => h.controllers.includes(c))?.mountPoint).filter((x): x is string => !!x))];
  return trees.flatMap((t) => rel.map((r) => join(t, r)));
}

/** What the node may give pods: kubepods is capped at it (the kubelet's enforce-node-allocatable=pods). */
export interface NodeAllocatable {
  memoryBytes: number;
  milliCpu: number;
}

/** kubepods: memory limit = allocatable memory, cpu.shares = allocatable CPUs (1024 each), as the kubelet sets them. */
export function kubepodsWrites(layout: CgroupLayout, root: string, a: NodeAllocatable): CgroupWrite[] {
  const kubepods = qosCgroupDirs(root)[1]!;
  const shares = Math.max(2, Math.floor((a.milliCpu * 1024) / 1000));
  if (layout.version === 'v1') {
    const out: CgroupWrite[] = [];
    const mem = controllerDir(layout, 'memory', kubepods);
    const cpu = controllerDir(layout, 'cpu', kubepods);
    if (mem) out.push({ dir: mem, file: 'memory.limit_in_bytes', value: String(a.memoryBytes) });
    if (cpu) out.push({ dir: cpu, file: 'cpu.shares', value: String(shares) });
    return out;
  }
  const dir = join(layout.mountPoint, kubepods);
  return [
    ...(layout.controllers.includes('memory') ? [{ dir, file: 'memory.max', value: String(a.memoryBytes) }] : []),
    ...(layout.controllers.includes('cpu') ? [{ dir, file: 'cpu.weight', value: String(sharesToWeight(shares)) }] : []),
  ];
}

/** BestEffort's QoS directory gets the minimum cpu.shares (2), as the kubelet gives it. */
export function bestEffortWrites(layout: CgroupLayout, root: string): CgroupWrite[] {
  const be = qosCgroupDirs(root)[3]!;
  if (layout.version === 'v1') {
    const cpu = controllerDir(layout, 'cpu', be);
    return cpu ? [{ dir: cpu, file: 'cpu.shares', value: '2' }] : [];
  }
  return layout.controllers.includes('cpu') ? [{ dir: join(layout.mountPoint, be), file: 'cpu.weight', value: String(sharesToWeight(2)) }] : [];
}

// ---- OCI ------------------------------------------------------------------------------------

/** The cgroup part of an OCI spec's linux.resources (runc applies it to the container's cgroup). */
export interface OciCgroupResources {
  memory?: { limit: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number };
  pids?: { limit: number };
}

/**
 * A container's resources as OCI: memory limit (memory+swap set to the same on hosts that
 * account swap, and on v2, where runc turns it into memory.swap.max 0), CFS quota/period,
 * shares (runc converts them to cpu.weight on v2).
 */
export function containerOciResources(r: ContainerResources | undefined, layout: CgroupLayout): OciCgroupResources {
  if (!r) return {};
  const out: OciCgroupResources = { cpu: { shares: r.cpuShares } };
  if (r.cpuQuota !== undefined) out.cpu = { ...out.cpu, quota: r.cpuQuota, period: r.cpuPeriod ?? 100_000 };
  if (r.memoryLimitBytes !== undefined) {
    const swap = layout.version === 'v2' || layout.memsw;
    out.memory = { limit: r.memoryLimitBytes, ...(swap ? { swap: r.memoryLimitBytes } : {}) };
  }
  return out;
}

/** `spec` with its cgroupsPath and resources set (devices and other resources kept). */
export function withCgroup<S extends { linux: { cgroupsPath?: string; resources?: object } }>(spec: S, cgroupsPath: string, res: OciCgroupResources): S {
  return { ...spec, linux: { ...spec.linux, cgroupsPath, resources: { ...(spec.linux.resources ?? {}), ...res } } };
}

// ---- I/O ------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** Creates, limits and removes pod cgroups under one root on this host. */
export class PodCgroups {
  constructor(
    readonly layout: CgroupLayout,
    readonly root: string,
    /** when given, kubepods is capped at it */
    readonly allocatable?: NodeAllocatable,
  ) {}

  /** Reads this host's layout; throws when there is no memory cgroup controller to confine pods with. */
  static detect(root: string, allocatable?: NodeAllocatable, mounts: MountInfo[] = readMountinfo()): PodCgroups {
    const layout = detectCgroupLayout(mounts, {
      exists: existsSync,
      read: (p) => {
        try {
          return readFileSync(p, 'utf8');
        } catch {
          return '';
        }
      },
    });
    if (!layout) throw new Error('no cgroup memory controller is mounted (neither cgroup v1 /sys/fs/cgroup/memory nor cgroup v2 /sys/fs/cgroup): podbay cannot confine pods');
    return new PodCgroups(layout, normalizeCgroupRoot(root), allocatable);
  }

  parentOf(qos: QOSClass, podUid: string): string {
    return podCgroupParent(this.root, qos, podUid);
  }

  /**
   * The QoS level a pod's cgroup goes under (its directories in each tree, kubepods' and
   * besteffort's limits), made once per process and QoS class: they were made and written again
   * for every pod (9 mkdir and 3 writes of 12 mkdir and 5 writes per BestEffort pod on cgroup
   * v1). Only podbay writes under its root and it removes these directories only when it stops
   * (removeRootIfEmpty, which forgets them); a pod directory that cannot be made for want of its
   * parent makes the level again (createPod).
   */
  private readonly qosReady = new Map<string, Promise<void>>();

  private ensureQos(qosDirs: string[], besteffort: boolean): Promise<void> {
    const key = qosDirs.join('\0');
    let ready = this.qosReady.get(key);
    if (!ready) {
      ready = (async () => {
        for (const d of qosDirs) await mkdirExisting(d);
        if (this.allocatable) await this.apply(kubepodsWrites(this.layout, this.root, this.allocatable));
        if (besteffort) await this.apply(bestEffortWrites(this.layout, this.root));
      })();
      this.qosReady.set(key, ready);
      ready.catch(() => {
        if (this.qosReady.get(key) === ready) this.qosReady.delete(key);
      });
    }
    return ready;
  }

  /** Makes the pod's cgroup with its limits; idempotent. */
  async createPod(parent: string, r: PodCgroupResources): Promise<void> {
    const dirs = podCgroupDirs(this.layout, this.root, parent);
    // the pod's own directory in each tree; the rest are its QoS level's (shallowest first)
    const own = dirs.filter((d) => d.endsWith(parent));
    const qos = dirs.filter((d) => !d.endsWith(parent));
    const besteffort = parent.startsWith(qosCgroupDirs(this.root)[3]! + '/');
    const key = qos.join('\0');
    await this.ensureQos(qos, besteffort);
    for (const d of own) {
      await mkdirExisting(d).catch(async (e: unknown) => {
        if (errno(e) !== 'ENOENT') throw e;
        // the level went away since it was made: make it again (and its limits), once
        this.qosReady.delete(key);
        await this.ensureQos(qos, besteffort);
        await mkdirExisting(d);
      });
    }
    // (on v2 the limits' files appear once the ancestors delegate the controllers: writes in order)
    await this.apply(podCgroupWrites(this.layout, parent, r));
  }

  private async apply(writes: CgroupWrite[]): Promise<void> {
    for (const w of writes) {
      try {
        await fsp.writeFile(join(w.dir, w.file), w.value);
      } catch (e) {
        if (w.optional && errno(e) === 'ENOENT') continue;
        throw new Error(`cgroup ${join(w.dir, w.file)} = ${w.value}: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Removes a pod's cgroup from every tree, children first. With `kill`, processes still in it
   * (a container runc could not delete) are SIGKILLed first, as the kubelet does before it
   * removes a pod cgroup; without, a busy cgroup is left and reported.
   */
  async removePod(parent: string, kill = true): Promise<string[]> {
    const left: string[] = [];
    for (const t of hierarchyMounts(this.layout)) {
      const dir = join(t, parent);
      for (let attempt = 0; ; attempt++) {
        const err = await removeTree(dir);
        if (!err) break;
        if (!kill || attempt >= 20) {
          left.push(`${dir}: ${err}`);
          break;
        }
        for (const pid of await procsIn(dir)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        await sleep(50);
      }
    }
    return left;
  }

  /** Pod UIDs that have a cgroup directory under the root (in the memory tree, or v2's). */
  async podUids(): Promise<{ uid: string; parent: string }[]> {
    const out: { uid: string; parent: string }[] = [];
    for (const qosDir of qosCgroupDirs(this.root).slice(1)) {
      const abs = controllerDir(this.layout, 'memory', qosDir);
      if (!abs) continue;
      const entries = await fsp.readdir(abs, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const uid = e.isDirectory() ? podUidOfCgroup(e.name) : undefined;
        if (uid) out.push({ uid, parent: `${qosDir}/${e.name}` });
      }
    }
    return out;
  }

  /** Removes the root's own directories where they are empty (on shutdown); busy ones stay. */
  async removeRootIfEmpty(): Promise<void> {
    this.qosReady.clear();
    const dirs = qosCgroupDirs(this.root).reverse();
    for (const t of hierarchyMounts(this.layout)) {
      for (const d of dirs) await fsp.rmdir(join(t, d)).catch(() => undefined);
    }
  }
}

/** mkdir, where a directory already there is fine */
async function mkdirExisting(dir: string): Promise<void> {
  await fsp.mkdir(dir).catch((e: unknown) => {
    if (errno(e) !== 'EEXIST') throw e;
  });
}

/** rmdir a cgroup and its child cgroups, deepest first; the first error's text, or undefined. */
async function removeTree(dir: string): Promise<string | undefined> {
  // most often it has no child left (runc delete removed the containers'): one rmdir, and the
  // listing only when that fails (EBUSY: a child cgroup or a process in it)
  try {
    await fsp.rmdir(dir);
    return undefined;
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
  }
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    return errno(e) === 'ENOENT' ? undefined : (e as Error).message;
  }
  // cgroupfs holds only control files and child cgroups (no symlinks can be made in it)
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const err = await removeTree(join(dir, e.name));
    if (err) return err;
  }
  try {
    await fsp.rmdir(dir);
    return undefined;
  } catch (e) {
    return errno(e) === 'ENOENT' ? undefined : (e as Error).message;
  }
}

/** pids in a cgroup and its children */
async function procsIn(dir: string): Promise<number[]> {
  const out: number[] = [];
  const text = await fsp.readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const l of text.split('\n')) if (/^\d+$/.test(l)) out.push(Number(l));
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) out.push(...(await procsIn(join(dir, e.name))));
  return out;
}
