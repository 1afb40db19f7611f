/**
 * RuncRuntime: the Runtime contract on runc under conmon, with state on disk.
 *
 *   RUN/runc/                       runc --root (this instance's own container list)
 *   RUN/exits/<id>                  conmon's exit files (watched for onContainerExit)
 *   RUN/attach/                     conmon's attach sockets
 *   RUN/sandboxes/<id>/             sandbox.json, the pause bundle (config.json), hosts,
 *                                   hostname, resolv.conf, shm/ (a per-pod tmpfs)
 *   RUN/containers/<id>/            container.json, config.json, rootfs/ (an empty dir: runc mounts
 *                                   the snapshot's overlay on it inside the container's own mount
 *                                   namespace; a container made by an older podbay has it mounted
 *                                   here, on the host, and its removal unmounts it)
 *   DATA/pause/rootfs/catatonit     the pause image: one static binary, shared read-only
 *
 * Records are written atomically (temp file + rename) and hold what cannot be asked of the
 * system later; the live state comes from conmon's exit files and process liveness, so a new
 * RuncRuntime over the same dirs (a restarted podbay) sees exactly what is running.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, watch, type Dirent, type FSWatcher, promises as fsp } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ImageService, Mount } from '../image/types.js';
import type { PodNetwork } from '../network/types.js';
import { run, which } from '../sys/exec.js';
import { Cleanup, sideBySide } from '../sys/cleanup.js';
import { currentMountPoints, currentMountsUnder, mountOf, readMountinfoAsync } from '../sys/mountinfo.js';
import { startAttach, startExec } from './exec-stream.js';
import { removeFast, writeFileAtomic } from '../sys/fs.js';
import { readFileUnder, UnsafePathError } from '../sys/safe-open.js';
import { conmonAttachSocket, conmonCreate, conmonReopenLog, conmonResize, RuntimeCreateError } from './conmon.js';
import { capabilitiesFromMask, containerSpec, nodeHostsFile, propagationProblem, hostsFile, pauseSpec, podResolvConf, resolvConfOf, resolveUser, type ResolvedUser } from './oci-spec.js';
import { hostDevices } from './devices.js';
import { Runc } from './runc.js';
import { pidAlive, pidMentions, signalInit } from './procs.js';
import { containerOciResources, withCgroup, type PodCgroups } from './cgroups.js';
import { imageRefOf } from '../image/reference.js';
import type {
  ContainerConfig,
  ContainerState,
  ContainerStatus,
  ExecSyncResult,
  Runtime,
  SandboxConfig,
  SandboxState,
  SandboxStatus,
  StreamingProcess,
  VolumeMount,
} from './types.js';
import { byString } from '../api/order.js';

export interface RuncRuntimeOptions {
  runDir: string;
  dataDir: string;
  runtimePath?: string;
  conmonPath?: string;
  /** catatonit (default /usr/bin/catatonit), copied once into the pause rootfs */
  pausePath?: string;
  images: ImageService;
  network: PodNetwork;
  /** pod cgroups (cgroups.ts); without it containers get no cgroupsPath (runc's default place) */
  cgroups?: PodCgroups;
}

/** when this podbay process started: records older than this were written by an earlier one */
const PROCESS_STARTED_AT = Date.now() - Math.round(performance.now());

interface SandboxRecord {
  id: string;
  config: SandboxConfig;
  state: SandboxState;
  pid: number;
  conmonPid: number;
  netnsPath?: string;
  ips: string[];
  createdAt: string;
  shmMounted: boolean;
  /** CNI DEL done and the netns gone (stopPodSandbox) */
  networkDown?: boolean;
  /** the pod-level cgroup path (cgroups.ts) the pause and app containers live under */
  cgroupParent?: string;
}

interface ContainerRecord {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  /** what podbay last did; 'exited' is final (set from the exit file or a failed create) */
  state: 'created' | 'running' | 'exited';
  pid: number;
  conmonPid: number;
  exitCode?: number;
  reason?: string;
  message?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  imageId: string;
}

/** The CRI way: a sandbox id is a 64-hex digest; here derived from (pod UID, attempt) so a retry finds it. */
export function sandboxIdFor(podUid: string, attempt: number): string {
  return createHash('sha256').update(`podbay-sandbox\0${podUid}\0${attempt}`).digest('hex');
}

const ID_RE = /^[0-9a-f]{64}$/;

/** runc's own words of a failed `runc start` (without the command that Runc puts before them) */
function runcStartMessage(e: unknown): string {
  return (e as Error).message.replace(/^runc start \S+: /, '');
}

/** The pod's hostname: the node's for host-network pods (they share its UTS namespace). */
async function sandboxHostname(cfg: SandboxConfig): Promise<string> {
  return cfg.hostNetwork ? (await fsp.readFile('/proc/sys/kernel/hostname', 'utf8')).trim() : cfg.hostname || cfg.podName;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RuncRuntime implements Runtime {
  /** set by interruptWaits(): podbay is stopping, grace periods are no longer waited out */
  private interrupted = false;
  readonly runDir: string;
  readonly dataDir: string;
  readonly runtimePath: string;
  readonly conmonPath: string;
  readonly pausePath: string;
  readonly runcRoot: string;
  readonly exitDir: string;
  readonly attachDir: string;
  readonly sandboxesDir: string;
  readonly containersDir: string;
  readonly pauseRootfs: string;
  private readonly runc: Runc;
  private readonly images: ImageService;
  private readonly network: PodNetwork;
  readonly cgroups?: PodCgroups;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly listeners: ((id: string) => void)[] = [];
  private watcher?: FSWatcher;
  private readonly notified = new Set<string>();
  private pauseReady?: Promise<void>;
  private boundingSet?: Promise<string[]>;
  /**
   * Pauses whose `runc start` runs after runPodSandbox returned, by sandbox id: the app
   * containers join the pause's namespaces, which exist from its `runc create` on, so they are
   * created meanwhile, and each one's start waits for this (which also puts the sandbox's record
   * on disk). A pause that did not start stays here, rejected, until its sandbox is removed.
   */
  private readonly pauseStarts = new Map<string, Promise<void>>();

  constructor(opts: RuncRuntimeOptions) {
    this.runDir = resolve(opts.runDir);
    this.dataDir = resolve(opts.dataDir);
    this.runtimePath = opts.runtimePath ?? '/usr/sbin/runc';
    this.conmonPath = opts.conmonPath ?? which('conmon') ?? '/usr/bin/conmon';
    this.pausePath = opts.pausePath ?? '/usr/bin/catatonit';
    this.runcRoot = join(this.runDir, 'runc');
    this.exitDir = join(this.runDir, 'exits');
    this.attachDir = join(this.runDir, 'attach');
    this.sandboxesDir = join(this.runDir, 'sandboxes');
    this.containersDir = join(this.runDir, 'containers');
    this.pauseRootfs = join(this.dataDir, 'pause', 'rootfs');
    this.runc = new Runc(this.runtimePath, this.runcRoot);
    this.images = opts.images;
    this.network = opts.network;
    this.cgroups = opts.cgroups;
    for (const d of [this.runcRoot, this.exitDir, this.attachDir, this.sandboxesDir, this.containersDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    // read once, here (before any creation can race the listing); kept by this runtime from
    // then on (see `sandboxIds`)
    for (const [dir, ids] of [
      [this.sandboxesDir, this.sandboxIds],
      [this.containersDir, this.containerIds],
    ] as const) {
      for (const id of readdirSync(dir)) if (ID_RE.test(id)) ids.add(id);
    }
  }

  /**
   * The directories under sandboxes/ and containers/, by id. podbay is the only writer of its
   * run dir (one server per run dir), so they are read once at construction and kept as they
   * are made and removed here: every pod's sync listed both directories (a readdir of N entries
   * each, several times per pod in a burst). A directory whose removal failed stays listed, as
   * it stays on disk; a restarted podbay reads them again.
   */
  private readonly sandboxIds = new Set<string>();
  private readonly containerIds = new Set<string>();
  /**
   * Containers' exits once read from conmon's exit file: conmon writes it once when the
   * container exits, and container ids are never reused, so a listing need not look again.
   */
  private readonly exits = new Map<string, { code: number; at: string }>();

  // ---- helpers ------------------------------------------------------------------------------

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  private sandboxDir(id: string): string {
    if (!ID_RE.test(id)) throw new Error(`invalid sandbox id ${JSON.stringify(id)}: expected 64 hex digits`);
    return join(this.sandboxesDir, id);
  }

  private containerDir(id: string): string {
    if (!ID_RE.test(id)) throw new Error(`invalid container id ${JSON.stringify(id)}: expected 64 hex digits`);
    return join(this.containersDir, id);
  }

  private readSandbox(id: string, mention?: string): Promise<SandboxRecord | undefined> {
    return this.readRecord<SandboxRecord>(join(this.sandboxDir(id), 'sandbox.json'), mention);
  }

  private writeSandbox(r: SandboxRecord, persist = true): Promise<void> {
    return this.writeRecord(join(this.sandboxDir(r.id), 'sandbox.json'), r, persist);
  }

  private async readContainer(id: string, mention?: string): Promise<ContainerRecord | undefined> {
    const rec = await this.readRecord<ContainerRecord>(join(this.containerDir(id), 'container.json'), mention);
    if (rec && this.containerIds.has(id)) this.sandboxOfContainer.set(id, rec.sandboxId);
    return rec;
  }

  private writeContainer(r: ContainerRecord, persist = true): Promise<void> {
    if (this.containerIds.has(r.id)) this.sandboxOfContainer.set(r.id, r.sandboxId);
    return this.writeRecord(join(this.containerDir(r.id), 'container.json'), r, persist);
  }

  /**
   * Each container's sandbox, once its record was read or written (it never changes): a listing
   * of one sandbox's containers skips the others without looking at their records (with N pods,
   * each pod's sync scanned N records' text).
   */
  private readonly sandboxOfContainer = new Map<string, string>();

  /**
   * The records' JSON as this runtime last wrote or read it, by path. podbay is the only writer
   * of its run dir (one server per run dir), so a listing need not open every record again:
   * with N pods, each pod's sync listing its containers read N files (N^2 reads in a burst).
   * Parsed on every read, so a caller's changes to a record never reach the cache unwritten.
   * `generation` moves on every removal: a read that started before one does not cache what it
   * read.
   */
  private readonly records = new Map<string, string | null>();
  private generation = 0;

  /**
   * The record at `path`; with `mention`, undefined without parsing it when its text does not
   * contain that string (a listing filtered by a 64-hex id or a UID: most records are not the
   * one asked for, and with 100 pods parsing them all was most of a listing's time).
   */
  private async readRecord<T>(path: string, mention?: string): Promise<T | undefined> {
    let text = this.records.get(path);
    if (text === undefined) {
      const gen = this.generation;
      // a record not there (yet: a sandbox or container being made) is remembered as null until
      // this runtime writes it; in a burst most directories listed are such
      const read = await fsp.readFile(path, 'utf8').then(
        (t) => t,
        (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : undefined),
      );
      if (read === undefined) return undefined;
      if (gen === this.generation && !this.records.has(path)) this.records.set(path, read);
      text = read;
    }
    if (text === null || (mention !== undefined && !text.includes(mention))) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      return undefined;
    }
  }

  /**
   * Write a record (temp file + rename: readers and a crash see the old or the new text, never
   * half). With `persist` false only this runtime's copy changes: for a state the disk need not
   * keep because what follows writes or removes the record anyway, and a restart in between
   * finds the last written state and does the step again (each such step is idempotent). Every
   * rewrite of a record is an inode allocated and one freed, which ext4 pays dearly for in a
   * burst (docs/performance.md).
   */
  private async writeRecord(path: string, value: unknown, persist = true): Promise<void> {
    const text = JSON.stringify(value, null, 1) + '\n';
    if (persist) await writeFileAtomic(path, text, 0o600);
    this.records.set(path, text);
  }

  /**
   * Remove a sandbox's or container's directory, and what the record cache holds of it. With
   * `record` (its sandbox.json or container.json) that file goes last: a removal that fails
   * half-way leaves the record, so the next sync still lists it and tries again instead of
   * leaving the rest of the directory behind for good.
   */
  private async removeDir(dir: string, record?: string): Promise<void> {
    const forget = () => {
      this.generation++;
      for (const k of this.records.keys()) if (k.startsWith(dir + '/')) this.records.delete(k);
    };
    // before (reads in flight do not cache) and after (nor do reads made while rm ran)
    forget();
    try {
      if (record) {
        const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
        // a file by unlink: fs.rm's recursive mode reports a file it cannot unlink as "scandir
        // ...: not a directory"
        // ...and a directory (rootfs, shm: empty once unmounted) by rmdir first
        const rmEntry = (e: Dirent) =>
          e.isDirectory()
            ? removeFast(join(dir, e.name), 'dir')
            : fsp.unlink(join(dir, e.name)).catch((err: NodeJS.ErrnoException) => {
                if (err.code !== 'ENOENT') throw err;
              });
        await Promise.all(entries.filter((e) => e.name !== record).map(rmEntry));
        await removeFast(join(dir, record), 'file');
      }
      await removeFast(dir, 'dir');
      const parent = dirname(dir);
      if (parent === this.containersDir) {
        this.containerIds.delete(basename(dir));
        this.sandboxOfContainer.delete(basename(dir));
      } else if (parent === this.sandboxesDir) this.sandboxIds.delete(basename(dir));
    } finally {
      forget();
    }
  }

  /** conmon's exit file: the exit code and when it was written, or undefined */
  private async exitOf(id: string): Promise<{ code: number; at: string } | undefined> {
    const known = this.exits.get(id);
    if (known) return known;
    const p = join(this.exitDir, id);
    // a running container has none: a failed open costs an Error with its stack, per container
    // per listing (as sandboxStatusOf, a stat without one first)
    if (!existsSync(p)) return undefined;
    try {
      const [text, st] = await Promise.all([fsp.readFile(p, 'utf8'), fsp.stat(p)]);
      const code = Number.parseInt(text.trim(), 10);
      if (!Number.isFinite(code)) return undefined;
      const ex = { code, at: st.mtime.toISOString() };
      // only for a container still there (a removal in between must not leave it behind)
      if (this.containerIds.has(id)) this.exits.set(id, ex);
      return ex;
    } catch {
      return undefined;
    }
  }

  private async ensurePauseRootfs(): Promise<void> {
    this.pauseReady ??= (async () => {
      const bin = join(this.pauseRootfs, 'catatonit');
      if (!existsSync(bin)) {
        if (!existsSync(this.pausePath)) throw new Error(`pause binary ${this.pausePath} not found: install the Debian package 'catatonit' (apt-get install catatonit)`);
        for (const d of ['proc', 'dev', 'sys', 'etc']) await fsp.mkdir(join(this.pauseRootfs, d), { recursive: true, mode: 0o755 });
        const tmp = `${bin}.${process.pid}.tmp`;
        await fsp.copyFile(this.pausePath, tmp);
        await fsp.chmod(tmp, 0o755);
        await fsp.rename(tmp, bin);
      }
    })();
    try {
      await this.pauseReady;
    } catch (e) {
      this.pauseReady = undefined;
      throw e;
    }
  }

  /** podbay's own bounding set (CapBnd): what runc can give a container; read once */
  private hostCapabilities(): Promise<string[]> {
    this.boundingSet ??= fsp.readFile('/proc/self/status', 'utf8').then((t) => capabilitiesFromMask(/^CapBnd:\s*([0-9a-f]+)/m.exec(t)?.[1] ?? '0'));
    return this.boundingSet;
  }

  private async umountAll(dir: string): Promise<void> {
    for (const mp of await currentMountsUnder(dir)) {
      const r = await run('umount', [mp], { allowFailure: true, timeoutMs: 30_000 });
      if (r.code !== 0 && (await currentMountPoints()).has(mp)) {
        // busy (a process still holds it open): detach it so the directory can go
        await run('umount', ['-l', mp], { allowFailure: true, timeoutMs: 30_000 });
      }
    }
  }

  /**
   * `runc delete --force` when runc still has the container (its state dir under --root): a
   * container deleted by an earlier step or never created costs no runc process.
   */
  private async runcDelete(id: string): Promise<void> {
    if (existsSync(join(this.runcRoot, id))) await this.runc.delete(id);
  }

  private async killConmon(pid: number, id: string): Promise<void> {
    if (pid && pidAlive(pid) && pidMentions(pid, id)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /**
   * Wait for conmon's exit file (the container has exited) up to `ms`. With `pid` (the
   * container's init, given when its conmon is gone: killed, or never got that far) nobody will
   * write that file, so the process itself is watched instead.
   */
  private async waitExit(id: string, ms: number, pid = 0, interruptible = false): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (let i = 0; ; i++) {
      if (existsSync(join(this.exitDir, id))) return true;
      if (pid && !pidAlive(pid)) return true;
      if (Date.now() >= deadline || (interruptible && this.interrupted)) return false;
      // with the exit dir watched (onContainerExit), its event for this id wakes the wait (and a
      // look every 50 ms in case one is missed); else, or for a process without its conmon, a
      // poll: a SIGKILLed process is gone and its exit file written within a few ms
      await (this.watcher && !pid ? this.exitEvent(id, 50) : sleep(i < 10 ? 2 : Math.min(5 + i * 5, 50)));
    }
  }

  private readonly exitWaiters = new Map<string, Set<() => void>>();

  /** Resolves at the exit dir's next event for `id`, or after `ms`. */
  private exitEvent(id: string, ms: number): Promise<void> {
    return new Promise((done) => {
      let waiters = this.exitWaiters.get(id);
      if (!waiters) this.exitWaiters.set(id, (waiters = new Set()));
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (!waiters.size && this.exitWaiters.get(id) === waiters) this.exitWaiters.delete(id);
        done();
      };
      const timer = setTimeout(wake, ms);
      waiters.add(wake);
    });
  }

  private wakeExitWaiters(id: string): void {
    const waiters = this.exitWaiters.get(id);
    if (waiters) for (const w of [...waiters]) w();
  }

  // ---- sandboxes ----------------------------------------------------------------------------

  async runPodSandbox(cfg: SandboxConfig): Promise<SandboxStatus> {
    const id = sandboxIdFor(cfg.podUid, cfg.attempt);
    return this.locked(id, async () => {
      const existing = await this.readSandbox(id);
      if (existing) return this.sandboxStatusOf(existing);
      const dir = this.sandboxDir(id);
      // a directory without a record: a crash half-way through an earlier attempt
      if (this.sandboxIds.has(id)) await this.removeSandboxRemains(id, undefined);
      await this.ensurePauseRootfs();
      const cleanup = new Cleanup();
      let settled: Promise<unknown> = Promise.resolve();
      let pauseStart: Promise<void> | undefined;
      try {
        await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
        this.sandboxIds.add(id);
        cleanup.push('remove sandbox dir', () => this.removeDir(dir));
        let netnsPath: string | undefined;
        let ips: string[] = [];
        const shm = join(dir, 'shm');
        let created: { pid: number; conmonPid: number } | undefined;
        // what the pause needs besides its netns (its hostname, the pod cgroup, the shm tmpfs)
        // is made while the netns is pinned and attached: one after another they were ~15 ms
        // of every pod's start
        const ready = Promise.all([
          sandboxHostname(cfg),
          this.createPodCgroup(cfg, cleanup),
          (async () => {
            if (cfg.hostIPC) return false;
            await fsp.mkdir(shm, { mode: 0o1777 });
            cleanup.push('unmount shm', () => this.umountAll(shm));
            await run('mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,mode=1777,size=65536k', 'shm', shm], { timeoutMs: 30_000 });
            return true;
          })(),
        ]);
        // settled before any cleanup runs: a failure elsewhere must not unwind while these still add steps
        settled = ready.then(
          () => undefined,
          () => undefined,
        );
        const startPause = async (nsPath: string | undefined) => {
          const [hostname, cgroupParent, shmMounted] = await ready;
          const spec = pauseSpec({
            rootfs: this.pauseRootfs,
            args: ['/catatonit', '-P'],
            hostname,
            netnsPath: nsPath,
            hostNetwork: cfg.hostNetwork,
            hostIPC: cfg.hostIPC,
            hostPID: cfg.hostPID,
            shm: shmMounted ? shm : undefined,
            sysctls: cfg.sysctls,
            annotations: { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': id },
          });
          await fsp.writeFile(join(dir, 'config.json'), JSON.stringify(cgroupParent ? withCgroup(spec, `${cgroupParent}/${id}`, {}) : spec));
          cleanup.push('delete pause', () => this.runc.delete(id));
          created = await conmonCreate({
            conmonPath: this.conmonPath,
            runtimePath: this.runtimePath,
            runcRoot: this.runcRoot,
            id,
            name: `k8s_POD_${cfg.podName}_${cfg.podNamespace}_${cfg.podUid}_${cfg.attempt}`,
            bundle: dir,
            pidFile: join(dir, 'pidfile'),
            exitDir: this.exitDir,
            // no log file: catatonit prints nothing while it works, and runc's errors come
            // back on the sync pipe (one inode less per pod)
            socketDir: this.attachDir,
          }).catch((e: unknown) => {
            throw e instanceof RuntimeCreateError ? new Error(`pause container for pod ${cfg.podNamespace}/${cfg.podName}: ${e.message}`) : e;
          });
          const conmonPid = created.conmonPid;
          cleanup.push('kill conmon', () => this.killConmon(conmonPid, id));
          // not awaited here: catatonit's exec runs beside what follows (see pauseStarts)
          pauseStart = this.runc.start(id);
          pauseStart.catch(() => {});
        };
        if (!cfg.hostNetwork) {
          cleanup.push('network tear-down', () => this.network.tearDown(id));
          const att = await this.network.setUp({
            sandboxId: id,
            podName: cfg.podName,
            podNamespace: cfg.podNamespace,
            podUid: cfg.podUid,
            portMappings: cfg.portMappings,
            whileAttaching: (nsPath) => startPause(nsPath),
          });
          netnsPath = att.netnsPath;
          ips = att.ips;
        } else {
          await startPause(undefined);
        }
        if (!created) throw new Error(`pause container for pod ${cfg.podNamespace}/${cfg.podName} was not started`);
        const [hostname, cgroupParent, shmMounted] = await ready;
        // the kubelet's hosts file: the node's own (plus hostAliases) for hostNetwork pods
        const dns = cfg.dns;
        const aliases = dns?.hostAliases ?? [];
        const hostsContent = cfg.hostNetwork
          ? nodeHostsFile(await fsp.readFile('/etc/hosts', 'utf8').catch(() => ''), aliases)
          : hostsFile(dns?.hostname ?? hostname, ips, dns?.domain ?? '', aliases);
        const resolvContent = dns ? resolvConfOf(dns.resolv) : podResolvConf(await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => ''), cfg.hostNetwork);
        await fsp.writeFile(join(dir, 'hosts'), hostsContent, { mode: 0o644 });
        await fsp.writeFile(join(dir, 'hostname'), hostname + '\n', { mode: 0o644 });
        await fsp.writeFile(join(dir, 'resolv.conf'), resolvContent, { mode: 0o644 });
        const rec: SandboxRecord = {
          id,
          config: cfg,
          state: 'ready',
          pid: created.pid,
          conmonPid: created.conmonPid,
          netnsPath,
          ips,
          createdAt: new Date().toISOString(),
          shmMounted,
          ...(cgroupParent ? { cgroupParent } : {}),
        };
        // the record reaches the disk once the pause runs (a restart in between finds the
        // sandbox without one and removes it, as any creation cut short)
        await this.writeSandbox(rec, false);
        const started = pauseStart!;
        const what = `pause container for pod ${cfg.podNamespace}/${cfg.podName}`;
        const done = this.locked(id, async () => {
          try {
            await started;
          } catch (e) {
            // not ready: the kubelet stops it (which kills a pause still in runc's init) and
            // makes a new sandbox
            await this.writeSandbox({ ...rec, state: 'notready' });
            throw new Error(`${what} did not start: ${runcStartMessage(e)}`);
          }
          await this.writeSandbox(rec);
          this.pauseStarts.delete(id);
        });
        done.catch(() => {});
        this.pauseStarts.set(id, done);
        return this.sandboxStatusOf(rec);
      } catch (e) {
        await settled;
        await pauseStart?.catch(() => {});
        const errs = await cleanup.unwind();
        await fsp.rm(join(this.exitDir, id), { force: true });
        if (errs.length) (e as Error).message += ` (cleanup also failed: ${errs.join('; ')})`;
        throw e;
      }
    });
  }

  /**
   * The pod's cgroup with its limits (every pod gets one when the runtime has cgroups; a
   * sandbox config without resources is BestEffort), undone by `cleanup` on failure.
   */
  private async createPodCgroup(cfg: SandboxConfig, cleanup: Cleanup): Promise<string | undefined> {
    const cg = this.cgroups;
    if (!cg) return undefined;
    const want = cfg.cgroup ?? { qosClass: 'BestEffort', resources: { cpuShares: 2 } };
    const parent = cg.parentOf(want.qosClass, cfg.podUid);
    cleanup.push('remove pod cgroup', async () => {
      const left = await cg.removePod(parent);
      if (left.length) throw new Error(left.join('; '));
    });
    await cg.createPod(parent, want.resources);
    return parent;
  }

  private async sandboxStatusOf(r: SandboxRecord): Promise<SandboxStatus> {
    let state = r.state;
    if (state === 'ready' && (existsSync(join(this.exitDir, r.id)) || !pidAlive(r.pid))) state = 'notready';
    return {
      id: r.id,
      config: r.config,
      state,
      pid: state === 'ready' ? r.pid : 0,
      netnsPath: r.netnsPath,
      ips: r.ips,
      createdAt: r.createdAt,
    };
  }

  async stopPodSandbox(id: string): Promise<void> {
    if (!(await this.readSandbox(id))) return;
    await this.stopSandboxProcesses(id);
    await this.locked(id, async () => {
      const r = await this.readSandbox(id);
      if (r) await this.sandboxNetworkDown(r);
    });
  }

  /** Every container of the sandbox killed (SIGKILL, no grace), then the pause; their exits awaited. */
  private async stopSandboxProcesses(id: string): Promise<void> {
    const live = (await this.listContainers(id)).filter((c) => c.state === 'running' || c.state === 'created');
    await Promise.all(live.map((c) => this.stopContainer(c.id, 0)));
    await this.locked(id, async () => {
      const r = await this.readSandbox(id);
      if (!r || existsSync(join(this.exitDir, id))) return;
      // the pause is its pid namespace's init: SIGKILL to it ends every process in it. With
      // hostPID it has none of its own, and runc walks its cgroup instead
      if (r.config.hostPID || !signalInit(r.pid, r.conmonPid, id, 'SIGKILL')) await this.runc.kill(id, 'SIGKILL', true);
      await this.waitExit(id, 10_000, pidAlive(r.conmonPid) ? 0 : r.pid);
    });
  }

  /**
   * CNI DEL and the netns pin (unless done), then the record says so: on disk for a sandbox that
   * stays (stopPodSandbox), in memory only for one being removed (`persist` false): its record
   * goes within the same call, and a removal cut short repeats the DEL, which is idempotent.
   */
  private async sandboxNetworkDown(r: SandboxRecord, persist = true): Promise<void> {
    if (!r.config.hostNetwork && !r.networkDown) await this.network.tearDown(r.id);
    if (r.state !== 'notready' || !r.networkDown) await this.writeSandbox({ ...r, state: 'notready', networkDown: true }, persist);
  }

  /**
   * Stop (if it is not) and remove a sandbox with its containers. Once every process of the pod
   * is gone, the independent steps run side by side: the CNI DEL (the netns is pinned by a bind
   * mount, so it needs the pin's path, not the pause), the pause's runc state and conmon and the
   * shm tmpfs, and each container's removal (runc delete, rootfs, snapshot). A failed step fails
   * the call and leaves the record: the next call does what is left (each step is idempotent).
   */
  async removePodSandbox(id: string): Promise<void> {
    const dir = this.sandboxDir(id);
    if (await this.readSandbox(id)) await this.stopSandboxProcesses(id);
    const containers = await this.listContainers(id);
    await sideBySide([
      [
        'sandbox',
        () =>
          this.locked(id, async () => {
            const r = await this.readSandbox(id);
            await sideBySide([
              ['network', async () => r && (await this.sandboxNetworkDown(r, false))],
              [
                'pause',
                async () => {
                  await this.runcDelete(id);
                  await this.killConmon(r?.conmonPid ?? 0, id);
                  await this.umountAll(join(dir, 'shm'));
                },
              ],
            ]);
          }),
      ],
      ...containers.map((c): [string, () => Promise<void>] => [`container ${c.config.name}`, () => this.removeContainer(c.id)]),
    ]);
    await this.locked(id, async () => this.removeSandboxRemains(id, await this.readSandbox(id)));
  }

  /** everything a sandbox may have left, in any state of completion */
  private async removeSandboxRemains(id: string, rec: SandboxRecord | undefined): Promise<void> {
    const dir = this.sandboxDir(id);
    await this.runcDelete(id);
    // without a record (creation cut short) the forced delete above ended the pause, and its
    // conmon exits with it
    await this.killConmon(rec?.conmonPid ?? 0, id);
    if (!rec?.config.hostNetwork && !rec?.networkDown) await this.network.tearDown(id);
    await this.umountAll(dir);
    await this.removePodCgroup(id, rec);
    await this.removeDir(dir, 'sandbox.json');
    this.pauseStarts.delete(id);
    await removeFast(join(this.exitDir, id), 'file');
    // conmon's symlink to the bundle dir (for a short attach socket path)
    await removeFast(join(this.attachDir, id), 'file');
  }

  /** The pod's cgroup goes with its last sandbox (an older attempt's removal leaves it to the newer). */
  private async removePodCgroup(id: string, rec: SandboxRecord | undefined): Promise<void> {
    const parent = rec?.cgroupParent;
    if (!this.cgroups || !parent) return;
    const others = (await this.listPodSandboxes({ podUid: rec.config.podUid })).filter((s) => s.id !== id);
    if (others.length) return;
    const left = await this.cgroups.removePod(parent);
    if (left.length) throw new Error(`pod cgroup of ${rec.config.podNamespace}/${rec.config.podName} not removed: ${left.join('; ')}`);
  }

  /**
   * Pod cgroups under podbay's root that belong to no sandbox (podbay stopped between making
   * one and recording its sandbox): removed where empty, never killing (call before the kubelet
   * starts syncing, so no pod is half-way through getting its cgroup).
   */
  async removeOrphanCgroups(log: (line: string) => void = () => {}): Promise<void> {
    if (!this.cgroups) return;
    const known = new Set((await this.listPodSandboxes()).map((s) => s.config.podUid));
    for (const { uid, parent } of await this.cgroups.podUids()) {
      if (known.has(uid)) continue;
      const left = await this.cgroups.removePod(parent, false);
      log(`runtime: removed the cgroup of pod ${uid}, which has no sandbox${left.length ? ` (some remain: ${left.join('; ')})` : ''}`);
    }
  }

  /**
   * Containers whose creation was cut short by a crash or kill -9 of podbay (a directory under
   * containers/ without container.json: maybe a snapshot, the image-root scratch mount, a runc
   * container and its conmon) are removed at start. Their ids are random, so nothing else would ever look
   * at them again. Call before the kubelet starts syncing: a create in progress has no record yet.
   */
  async removeIncompleteContainers(log: (line: string) => void = () => {}): Promise<void> {
    const ids = (await fsp.readdir(this.containersDir).catch(() => [] as string[])).filter((id) => ID_RE.test(id));
    // the records read at once (a restart with 100 pods read 200 of them one after another)
    const records = await Promise.all(ids.map((id) => this.readContainer(id)));
    for (const [i, id] of ids.entries()) {
      if (records[i]) continue;
      await this.removeContainer(id).then(
        () => log(`runtime: removed container ${id.slice(0, 12)}, whose creation was interrupted`),
        (e) => log(`runtime: cannot remove the interrupted container ${id.slice(0, 12)}: ${(e as Error).message}`),
      );
    }
  }

  /**
   * Sandboxes whose creation was cut short (a directory under sandboxes/ without sandbox.json:
   * maybe a netns with its CNI attachment, a pod cgroup, a pause container whose conmon never
   * started) are removed at start, as removeIncompleteContainers does for containers: the pod may
   * be deleted before it is synced again, and no one would look at them then. Their pod's cgroup
   * is left to removeOrphanCgroups (other sandboxes of the pod may use it).
   */
  async removeIncompleteSandboxes(log: (line: string) => void = () => {}): Promise<void> {
    const ids = (await fsp.readdir(this.sandboxesDir).catch(() => [] as string[])).filter((id) => ID_RE.test(id));
    const records = await Promise.all(ids.map((id) => this.readSandbox(id)));
    for (const [i, id] of ids.entries()) {
      if (records[i]) continue;
      await this.locked(id, () => this.removeSandboxRemains(id, undefined)).then(
        () => log(`runtime: removed sandbox ${id.slice(0, 12)}, whose creation was interrupted`),
        (e) => log(`runtime: cannot remove the interrupted sandbox ${id.slice(0, 12)}: ${(e as Error).message}`),
      );
    }
  }

  async podSandboxStatus(id: string): Promise<SandboxStatus | undefined> {
    if (!ID_RE.test(id)) return undefined;
    const r = await this.readSandbox(id);
    return r && this.sandboxStatusOf(r);
  }

  async listPodSandboxes(filter?: { podUid?: string }): Promise<SandboxStatus[]> {
    const out: SandboxStatus[] = [];
    for (const id of [...this.sandboxIds]) {
      const r = await this.readSandbox(id, filter?.podUid);
      // the filter before the status: a status looks at the pause process in /proc
      if (!r || (filter?.podUid !== undefined && r.config.podUid !== filter.podUid)) continue;
      out.push(await this.sandboxStatusOf(r));
    }
    return out.sort((a, b) => byString(a.createdAt, b.createdAt));
  }

  // ---- containers ---------------------------------------------------------------------------

  /**
   * The image's /etc/passwd or /etc/group, read from the image's root (withImageRoot): links resolved
   * inside it (as containerd does), only a regular file (an image or an earlier run can
   * make it a FIFO, which would block a reader forever), at most 4 MiB, never a blocking call on
   * the event loop. Anything else reads as empty: a named user then fails "no matching entries".
   */
  private async readPasswdFile(rootfs: string, name: string): Promise<{ text: string; lasting: boolean }> {
    try {
      return { text: (await readFileUnder(rootfs, `etc/${name}`, { links: 'chroot', maxBytes: 4 << 20 })).toString('utf8'), lasting: true };
    } catch (e) {
      // what the image holds (missing, not a file, a link out of bounds, too big) reads the same
      // next time; anything else (EMFILE, EIO) may not
      const code = (e as NodeJS.ErrnoException).code;
      return { text: '', lasting: e instanceof UnsafePathError || code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' };
    }
  }

  /**
   * /etc/passwd and /etc/group of a fresh rootfs, by the layers under it: a new container's
   * rootfs is exactly its image's layers (a fresh snapshot: an empty upper dir over the layer
   * dirs, which are named by chain id), so what they hold is the same for every container of
   * the image, and reading them cost ~8 opens per container. Read from the image's root the
   * first time (withImageRoot), remembered only when both reads gave what the image holds; a
   * few images at most.
   */
  private readonly passwdByLayers = new Map<string, { passwd: string; group: string }>();

  private async imagePasswd(dir: string, mounts: Mount[]): Promise<{ passwd: string; group: string }> {
    const only = mounts.length === 1 ? mounts[0] : undefined;
    const lower = only && only.type === 'overlay' && !only.target ? only.options.find((o) => o.startsWith('lowerdir=')) : undefined;
    const known = lower === undefined ? undefined : this.passwdByLayers.get(lower);
    if (known) return known;
    const [passwd, group] = await this.withImageRoot(mounts, join(dir, 'image-root'), (root) =>
      Promise.all([this.readPasswdFile(root, 'passwd'), this.readPasswdFile(root, 'group')]),
    );
    const out = { passwd: passwd.text, group: group.text };
    if (lower !== undefined && passwd.lasting && group.lasting) {
      if (this.passwdByLayers.size >= 32) this.passwdByLayers.delete(this.passwdByLayers.keys().next().value!);
      this.passwdByLayers.set(lower, out);
    }
    return out;
  }

  /**
   * `fn` on the image's root as a fresh snapshot shows it, read-only, without the snapshot's
   * writable layer (the container's rootfs is mounted by runc inside its own mount namespace,
   * so the host has none to read): one layer dir is read where it lies; otherwise the lower dirs
   * are mounted as a read-only overlay (a one-dir overlay as a read-only bind) at `scratch`, a
   * dir of the container's own, and unmounted before returning (a crash in between leaves a
   * mount under the container's dir, which its removal unmounts).
   */
  private async withImageRoot<T>(mounts: Mount[], scratch: string, fn: (root: string) => Promise<T>): Promise<T> {
    const ro = mounts.map((m): Mount => {
      if (m.type !== 'overlay') return { ...m, options: [...m.options.filter((o) => o !== 'rw'), 'ro'] };
      const lower = (m.options.find((o) => o.startsWith('lowerdir='))?.slice('lowerdir='.length) ?? '').split(':').filter(Boolean);
      if (lower.length === 1) return { type: 'bind', source: lower[0], target: m.target, options: ['ro'] };
      return { ...m, options: ['ro', `lowerdir=${lower.join(':')}`] };
    });
    if (ro.length === 1 && ro[0].type === 'bind' && !ro[0].target) return fn(ro[0].source);
    await fsp.mkdir(scratch, { mode: 0o700 });
    try {
      for (const m of ro) {
        const target = m.target ? join(scratch, m.target) : scratch;
        const args = m.type === 'bind' ? ['--bind', '-o', m.options.join(',')] : ['-t', m.type, '-o', m.options.join(',')];
        await run('mount', [...args, m.source, target], { timeoutMs: 60_000 });
      }
      return await fn(scratch);
    } finally {
      await this.umountAll(scratch);
      await fsp.rmdir(scratch);
    }
  }

  /**
   * Prepares the bundle (the snapshot's mounts as the spec's first mounts, over an empty rootfs
   * dir: runc mounts them inside the container's mount namespace) and runs `runc create` under
   * conmon. When runc refuses the process itself (a missing executable, a bad user or working
   * dir), the container is still recorded, as exited with reason "StartError", exit code 128
   * and runc's message, and its id returned: then startContainer throws that message
   * (containerd's behaviour, which the kubelet reports as RunContainerError). Other failures (image, mounts) throw here.
   */
  async createContainer(sandboxId: string, cfg: ContainerConfig): Promise<string> {
    const sb = await this.readSandbox(sandboxId);
    if (!sb) throw new Error(`sandbox ${sandboxId} not found`);
    const sbs = await this.sandboxStatusOf(sb);
    if (sbs.state !== 'ready') throw new Error(`sandbox ${sandboxId} of pod ${sb.config.podNamespace}/${sb.config.podName} is not ready: create a new sandbox`);
    await checkPropagation(cfg.mounts);
    const id = randomBytes(32).toString('hex');
    return this.locked(id, async () => {
      const dir = this.containerDir(id);
      const rootfs = join(dir, 'rootfs');
      const cleanup = new Cleanup();
      try {
        await fsp.mkdir(rootfs, { recursive: true, mode: 0o700 });
        this.containerIds.add(id);
        cleanup.push('remove container dir', () => this.removeDir(dir));
        cleanup.push('remove snapshot', () => this.images.removeSnapshot(id));
        const mounts = await this.images.prepareSnapshot(id, cfg.image);
        const img = await this.images.get(cfg.image);
        // CRI's imageRef: the repo digest when known (what the kubelet shows as imageID)
        const imageId = img ? imageRefOf(img, cfg.image) : '';
        await fsp.mkdir(dirname(cfg.logPath), { recursive: true });
        let user: ResolvedUser;
        try {
          const files = await this.imagePasswd(dir, mounts);
          user = resolveUser(cfg.user, files.passwd, files.group);
        } catch (e) {
          throw new Error(`container ${cfg.name}: ${(e as Error).message} (image ${cfg.image})`);
        }
        const c = sb.config;
        const spec = containerSpec({
          rootfs,
          imageMounts: mounts,
          cfg,
          user,
          targetPid: cfg.targetContainerId ? await this.targetPid(sandboxId, cfg.targetContainerId) : undefined,
          hostCapabilities: await this.hostCapabilities(),
          hostDevices: cfg.privileged ? await hostDevices() : undefined,
          sandbox: {
            pausePid: sb.pid,
            // as the sandbox was made, not read back from its hostname file: containers can write that
            hostname: await sandboxHostname(c),
            hostNetwork: c.hostNetwork,
            hostIPC: c.hostIPC,
            hostPID: c.hostPID,
            shareProcessNamespace: c.shareProcessNamespace,
          },
          files: {
            hosts: join(this.sandboxDir(sandboxId), 'hosts'),
            hostname: join(this.sandboxDir(sandboxId), 'hostname'),
            resolvConf: join(this.sandboxDir(sandboxId), 'resolv.conf'),
            shm: join(this.sandboxDir(sandboxId), 'shm'),
          },
          annotations: {
            'io.kubernetes.cri.container-type': 'container',
            'io.kubernetes.cri.container-name': cfg.name,
            'io.kubernetes.cri.sandbox-id': sandboxId,
          },
        });
        const confined = this.cgroups && sb.cgroupParent ? withCgroup(spec, `${sb.cgroupParent}/${id}`, containerOciResources(cfg.resources, this.cgroups.layout)) : spec;
        await fsp.writeFile(join(dir, 'config.json'), JSON.stringify(confined));
        const rec: ContainerRecord = {
          id,
          sandboxId,
          config: cfg,
          state: 'created',
          pid: 0,
          conmonPid: 0,
          createdAt: new Date().toISOString(),
          imageId,
        };
        cleanup.push('delete container', () => this.runc.delete(id));
        try {
          const created = await conmonCreate({
            conmonPath: this.conmonPath,
            runtimePath: this.runtimePath,
            runcRoot: this.runcRoot,
            id,
            name: `k8s_${cfg.name}_${c.podName}_${c.podNamespace}_${c.podUid}_${cfg.restartCount}`,
            bundle: dir,
            pidFile: join(dir, 'pidfile'),
            exitDir: this.exitDir,
            logPath: cfg.logPath,
            socketDir: this.attachDir,
            stdin: cfg.stdin,
            leaveStdinOpen: cfg.stdin && !cfg.stdinOnce,
            tty: cfg.tty,
          });
          rec.pid = created.pid;
          rec.conmonPid = created.conmonPid;
        } catch (e) {
          if (!(e instanceof RuntimeCreateError)) throw e;
          // the process could not be set up: keep the record (exited, StartError)
          const now = new Date().toISOString();
          Object.assign(rec, { state: 'exited', exitCode: 128, reason: 'StartError', message: e.runtimeMessage, finishedAt: now });
        }
        // a created container's record reaches the disk once, when startContainer records it
        // running (the kubelet starts it at once): a restart in between finds its directory
        // without a record and removes it (removeIncompleteContainers), and the kubelet
        // creates it again. A final state (StartError) is written now.
        await this.writeContainer(rec, rec.state === 'exited');
        return id;
      } catch (e) {
        const errs = await cleanup.unwind();
        if (errs.length) (e as Error).message += ` (cleanup also failed: ${errs.join('; ')})`;
        throw e;
      }
    });
  }

  async startContainer(id: string): Promise<void> {
    await this.locked(id, async () => {
      const rec = await this.readContainer(id);
      if (!rec) throw new Error(`container ${id} not found`);
      if (rec.state === 'running') return;
      if (rec.state === 'exited') {
        throw new Error(`failed to start container ${JSON.stringify(rec.config.name)}: ${rec.message ?? `it has already exited (code ${rec.exitCode})`}`);
      }
      // the process runs from the moment `runc start` opens its exec fifo, before runc returns: a
      // short-lived container can exit (conmon's exit file mtime = finishedAt) before the call
      // returns, so startedAt is taken before it, never after its finishedAt
      const startedAt = new Date().toISOString();
      // created by an earlier podbay that may have been killed between `runc start` and the
      // record's update: if runc already started it, record that instead of starting it again
      // (runc would refuse, the record would say exited, and the kubelet would start a second
      // copy beside the one still running)
      if (Date.parse(rec.createdAt) < PROCESS_STARTED_AT) {
        const st = await this.runc.state(id);
        if (st && st.status !== 'created') {
          await this.writeContainer({ ...rec, state: 'running', startedAt: rec.createdAt });
          return;
        }
      }
      try {
        // the pause runs first: the pod's hostname, sysctls and zombie reaper are in place
        // before any of its processes
        await this.pauseStarts.get(rec.sandboxId);
        await this.runc.start(id);
      } catch (e) {
        const msg = runcStartMessage(e);
        await this.writeContainer({ ...rec, state: 'exited', exitCode: 128, reason: 'StartError', message: msg, finishedAt: new Date().toISOString() });
        throw new Error(`failed to start container ${JSON.stringify(rec.config.name)}: ${msg}`);
      }
      await this.writeContainer({ ...rec, state: 'running', startedAt });
    });
  }

  interruptWaits(): void {
    this.interrupted = true;
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.locked(id, async () => {
      const rec = await this.readContainer(id);
      if (!rec || rec.state === 'exited') return;
      if (existsSync(join(this.exitDir, id))) return;
      if (!pidAlive(rec.conmonPid)) return; // nothing left to signal; status says 'unknown'
      const sb = await this.readSandbox(rec.sandboxId);
      // with a shared pid namespace (the pod's, or a target container's) the container's init is
      // not its namespace's init: its children survive it unless every process is signalled
      const all = (!!sb && (sb.config.shareProcessNamespace || sb.config.hostPID)) || !!rec.config.targetContainerId;
      // every process of the namespace needs runc (it walks the cgroup); the init alone is
      // signalled from here when it can be (signalInit)
      const signal = async (sig: 'SIGTERM' | 'SIGKILL') => {
        if (all || !signalInit(rec.pid, rec.conmonPid, id, sig)) await this.runc.kill(id, sig, all);
      };
      if (timeoutSeconds > 0) {
        await signal('SIGTERM');
        if (await this.waitExit(id, timeoutSeconds * 1000, 0, true)) return;
        if (this.interrupted) throw new Error(`podbay is stopping: container ${rec.config.name} (${id.slice(0, 12)}) is left in its grace period; the pod's next sync finishes it`);
      }
      await signal('SIGKILL');
      if (!(await this.waitExit(id, 10_000))) throw new Error(`container ${rec.config.name} (${id}) did not exit 10 s after SIGKILL`);
    });
  }

  async removeContainer(id: string): Promise<void> {
    this.containerDir(id);
    const rec = await this.readContainer(id);
    if (rec && rec.state !== 'exited') await this.stopContainer(id, 0).catch(() => undefined);
    await this.locked(id, async () => {
      const dir = this.containerDir(id);
      await this.runcDelete(id);
      // without a record (creation cut short) the forced delete above ended the container,
      // and its conmon exits with it
      await this.killConmon(rec?.conmonPid ?? 0, id);
      // the rootfs overlay went with the container's mount namespace; what the host table may
      // still hold under the dir: the rootfs of a container made by an older podbay (mounted on
      // the host), or an image-root scratch mount a crash left (one shared read of the table)
      await this.umountAll(dir);
      await this.images.removeSnapshot(id);
      await this.removeDir(dir, 'container.json');
      await removeFast(join(this.exitDir, id), 'file');
      this.exits.delete(id);
      await removeFast(join(this.attachDir, id), 'file');
      this.notified.delete(id);
    });
  }

  /** live state: the record, corrected by conmon's exit file and whether conmon still runs */
  private async statusOf(rec: ContainerRecord): Promise<ContainerStatus> {
    let state: ContainerState = rec.state;
    let { exitCode, reason, message, finishedAt } = rec;
    if (state !== 'exited') {
      let ex = await this.exitOf(rec.id);
      if (!ex && !pidAlive(rec.conmonPid)) {
        ex = await this.exitOf(rec.id); // conmon may have just written it and exited
        if (!ex) state = 'unknown';
      }
      if (ex) {
        state = 'exited';
        exitCode = ex.code;
        finishedAt = ex.at;
        const oom = existsSync(join(this.containerDir(rec.id), 'oom'));
        reason = oom ? 'OOMKilled' : ex.code === 0 ? 'Completed' : 'Error';
      }
    }
    return {
      id: rec.id,
      sandboxId: rec.sandboxId,
      config: rec.config,
      state,
      pid: state === 'running' || state === 'created' ? rec.pid : 0,
      exitCode,
      reason,
      message,
      createdAt: rec.createdAt,
      startedAt: rec.startedAt,
      finishedAt,
      imageId: rec.imageId,
    };
  }

  async reopenContainerLog(id: string): Promise<void> {
    const st = await this.containerStatus(id);
    if (st?.state !== 'running') throw new Error(`container ${id} is not running (${st?.state ?? 'not found'}): its log cannot be reopened`);
    await conmonReopenLog(this.containerDir(id));
  }

  /**
   * The pid whose PID namespace a container with targetContainerId joins: the target's init,
   * which must be a running container of the same sandbox (a pid of anything else would let a
   * pod join a namespace that is not its own).
   */
  private async targetPid(sandboxId: string, targetId: string): Promise<number> {
    const st = await this.containerStatus(targetId);
    if (!st || st.sandboxId !== sandboxId) throw new Error(`target container ${targetId.slice(0, 12)} is not a container of sandbox ${sandboxId.slice(0, 12)}`);
    if (st.state !== 'running' || !pidAlive(st.pid)) throw new Error(`target container ${JSON.stringify(st.config.name)} is not running`);
    return st.pid;
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    if (!ID_RE.test(id)) return undefined;
    const rec = await this.readContainer(id);
    return rec && this.statusOf(rec);
  }

  async listContainers(sandboxId?: string): Promise<ContainerStatus[]> {
    const out: ContainerStatus[] = [];
    for (const id of [...this.containerIds]) {
      if (sandboxId && (this.sandboxOfContainer.get(id) ?? sandboxId) !== sandboxId) continue;
      const rec = await this.readContainer(id, sandboxId || undefined);
      if (!rec || (sandboxId && rec.sandboxId !== sandboxId)) continue;
      out.push(await this.statusOf(rec));
    }
    return out.sort((a, b) => byString(a.createdAt, b.createdAt));
  }

  async execSync(id: string, argv: string[], timeoutSeconds: number): Promise<ExecSyncResult> {
    const st = await this.containerStatus(id);
    if (!st) throw new Error(`container ${id} not found`);
    if (st.state !== 'running') throw new Error(`container ${st.config.name} (${id.slice(0, 12)}) is not running`);
    if (argv.length === 0) throw new Error('exec: no command');
    const pidFile = join(this.containerDir(id), `exec-${randomBytes(6).toString('hex')}.pid`);
    const r = await this.runc.exec(id, argv, Math.max(1, timeoutSeconds) * 1000, pidFile);
    return { exitCode: r.timedOut ? -1 : r.code, stdout: r.stdout, stderr: r.timedOut ? r.stderr.replace(/\n?\(killed after \d+ ms\)$/, '') : r.stderr, timedOut: r.timedOut };
  }

  attachStream(id: string, stdin: boolean): StreamingProcess {
    const dir = this.containerDir(id);
    // kubectl sends size+1 then the size at once (to force a redraw). conmon 2.1's ctl reader
    // handles only the first line of what one read() returns (it passes the buffer's start for
    // every line), so two messages in one read apply the first twice and drop the second: send
    // one at a time with a pause, and only the newest size when several queued up meanwhile.
    let wanted: [number, number] | undefined;
    let sending = false;
    const send = async () => {
      sending = true;
      while (wanted) {
        const [w, h] = wanted;
        wanted = undefined;
        await conmonResize(dir, w, h).catch(() => {});
        await new Promise((r) => setTimeout(r, 50));
      }
      sending = false;
    };
    const resize = (w: number, h: number) => {
      wanted = [w, h];
      if (!sending) void send();
    };
    return startAttach(conmonAttachSocket(dir), stdin, resize);
  }

  execStream(id: string, argv: string[], tty: boolean): StreamingProcess {
    return startExec(this, id, argv, tty, join(this.containerDir(id), `exec-${randomBytes(6).toString('hex')}.pid`));
  }

  async containerWritableLayer(id: string): Promise<string | undefined> {
    if (!ID_RE.test(id)) return undefined;
    // the container's snapshot (key = its id), mounted by runc in the container's namespace or,
    // for a container made by an older podbay, on the host: the same upper dir either way
    return this.images.snapshotUpperDir(id);
  }

  // ---- exits --------------------------------------------------------------------------------

  onContainerExit(listener: (id: string) => void): void {
    this.listeners.push(listener);
    if (this.watcher) return;
    this.watcher = watch(this.exitDir, (_event, name) => {
      const id = typeof name === 'string' ? name : undefined;
      if (!id || !ID_RE.test(id)) return;
      this.wakeExitWaiters(id);
      if (this.notified.has(id)) return;
      // containers only (sandboxes' exits come here too), the cheap question first
      if (!this.containerIds.has(id) || !existsSync(join(this.exitDir, id))) return;
      this.notified.add(id);
      for (const l of this.listeners) {
        try {
          l(id);
        } catch {
          /* a listener's failure is its own */
        }
      }
    });
    this.watcher.on('error', () => undefined);
  }

  /** At start, before the kubelet adopts pods: remove what a crash left half-made. */
  async sweep(log: (line: string) => void): Promise<void> {
    await this.removeIncompleteContainers(log);
    await this.removeIncompleteSandboxes(log);
    await this.removeOrphanCgroups(log);
  }

  /**
   * podbay is stopping. Pods keep running (conmon, not podbay, is their parent; the next start
   * adopts them); with no pod left, leave the host as it was: the bridge and IPAM state go too.
   */
  /** At a clean stop: with no pod left, the network goes. Answers whether nothing is left (no sandbox, no container). */
  async shutdown(log: (line: string) => void): Promise<boolean> {
    const idle = (await this.listPodSandboxes()).length === 0;
    if (idle) await this.network.destroy().catch((e) => log(`network cleanup: ${(e as Error).message}`));
    const nothingLeft = idle && (await this.listContainers()).length === 0;
    await this.close();
    return nothingLeft;
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    await Promise.all([...this.locks.values()]);
    // pods keep running across a restart; with none left, podbay's cgroup root goes too
    await this.cgroups?.removeRootIfEmpty();
  }
}

export interface MissingTool {
  tool: string;
  /** the Debian package that provides it */
  package: string;
}

/** Host tools the runtime and network need; the server reports these at start. */
export function checkHostTools(opts: { runtimePath?: string; conmonPath?: string; pausePath?: string; cniBinDirs?: string[] } = {}): MissingTool[] {
  const missing: MissingTool[] = [];
  const need = (tool: string, pkg: string, path?: string) => {
    if (!which(path ?? tool)) missing.push({ tool: path ?? tool, package: pkg });
  };
  need('runc', 'runc', opts.runtimePath);
  need('conmon', 'conmon', opts.conmonPath);
  need('catatonit', 'catatonit', opts.pausePath);
  need('iptables', 'iptables');
  need('mount', 'mount');
  need('umount', 'mount');
  // the netns pin: unshare, and ip to bring its lo up
  need('unshare', 'util-linux');
  need('ip', 'iproute2');
  const dirs = opts.cniBinDirs ?? ['/usr/lib/cni', '/opt/cni/bin'];
  for (const p of ['bridge', 'host-local']) {
    if (!dirs.some((d) => existsSync(join(d, p)))) missing.push({ tool: `CNI plugin ${p} (in ${dirs.join(' or ')})`, package: 'containernetworking-plugins' });
  }
  return missing;
}

/** HostToContainer / Bidirectional mounts need a source on a propagating host mount (containerd's check). */
async function checkPropagation(mounts: readonly VolumeMount[]): Promise<void> {
  const wanted = mounts.filter((m) => m.propagation && m.propagation !== 'None');
  if (!wanted.length) return;
  const info = await readMountinfoAsync();
  for (const m of wanted) {
    const on = mountOf(await fsp.realpath(m.hostPath).catch(() => m.hostPath), info);
    const problem = propagationProblem(m, on?.mountPoint ?? '/', on?.optional ?? []);
    if (problem) throw new Error(problem);
  }
}
