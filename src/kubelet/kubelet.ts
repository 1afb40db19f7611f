/**
 * The kubelet: runs the pods bound to this node.
 *
 *   watch pods (spec.nodeName = this node) --> one worker per pod UID, syncs serialized:
 *
 *   sync(pod)
 *     deleted/terminating  -> SIGTERM, grace, SIGKILL every container; remove containers,
 *                             sandbox (pause, CNI DEL, netns); confirm deletion (grace 0)
 *     terminal (Succeeded/Failed) -> tear the sandbox down, keep the status
 *     past activeDeadlineSeconds -> kill, Failed/DeadlineExceeded (active-deadline.ts)
 *     otherwise            -> volumes -> sandbox -> init containers one at a time, in order
 *                             (init-containers.ts; native sidecars kept running, sidecars.ts),
 *                             then every app container (create/start/restart with back-off;
 *                             postStart blocks the start, lifecycle-hooks.ts; kill and restart
 *                             one that failed its liveness probe or whose image changed,
 *                             container-hash.ts); ephemeral containers once there is a
 *                             sandbox, never restarted (ephemeral-containers.ts)
 *                             -> status (PUT pods/status when it changed; termination
 *                             messages, termination-message.ts)
 *   every kill             -> Killing event, preStop within the grace period, TERM, KILL;
 *                             sidecars after the app containers, in reverse order
 *
 * Container exits (from the runtime), probe verdicts (prober.ts) and a periodic resync re-run
 * sync. On start the kubelet adopts what the runtime already runs (conmon keeps containers
 * alive across podbay restarts) and removes sandboxes that no pod owns.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { removeTree } from '../sys/fs.js';
import { join } from 'node:path';
import type { Runtime, ContainerStatus as RtContainer, SandboxStatus, ContainerConfig, VolumeMount, SandboxDNS } from '../runtime/types.js';
import type { ImageService } from '../image/types.js';
import { kubeletClient, type KubeletClient } from './client.js';
import type { Client } from '../client/types.js';
import { Informer } from '../client/informer.js';
import { resourceInfo } from '../api/registry.js';
import type { Obj, WatchEventOut } from '../api/types.js';
import { ApiError, badRequest } from '../api/errors.js';
import { EventRecorder } from '../client/events.js';
import { prepareVolumes, releaseVolumes, VolumeError, type PreparedVolume } from './volumes.js';
import { bindSubPath, subPathOf } from './subpath.js';
import { containerEnv, ConfigError } from './env.js';
import { serviceEnv } from './service-env.js';
import type { DownwardContext } from './downward.js';
import { nodeResources } from './node.js';
import { podDNS, podHostnameAndDomain } from './pod-dns.js';
import { resolveArgv, mergeEnv } from './container-args.js';
import { podChangeNeedsSync } from './pod-changes.js';
import { computePodStatus, type ContainerView, type Waiting } from './pod-status.js';
import { containerLogPath, podLogDir, streamLog, type LogOptions } from './logs.js';
import { ContainerLogManager, DEFAULT_LOG_ROTATION, type LogRotationPolicy } from './log-rotation.js';
import { nextInitStep } from './init-containers.js';
import { Prober } from './prober.js';
import { admitAppArmor, containerSecurity, detectHostSecurity, type HostSecurity } from './security-context.js';
import { FORBIDDEN_REASON, podSysctls, SysctlAllowlist } from './sysctls.js';
import { FsGroupError, VolumeOwnership } from './volume-ownership.js';
import { containerResources, podCgroupConfig } from './qos.js';
import { StorageEviction, evictedStatus, measurePodStorage } from './eviction.js';
import { ImagePullManager } from './image-pull.js';
import type { ImagePuller } from '../image/pull.js';
import { LifecycleHooks, graceAfterPreStop, type HookTarget } from './lifecycle-hooks.js';
import { DeadlineTimers, deadlineRemainingMs, failedStatus, DEADLINE_REASON, DEADLINE_MESSAGE } from './active-deadline.js';
import { LABEL_CONTAINER_HASH, containerHash, definitionChanged, definitionChangedMessage } from './container-hash.js';
import { TerminationMessages, prepareTerminationMessage, removeTerminationMessage, terminationAnnotations } from './termination-message.js';
import { SyncBackoff } from './sync-backoff.js';
import { CRASH_BACKOFF_MAX_MS, crashBackoff, crashBackoffEventMessage, crashBackoffMessage, type CrashBackoffEntry } from './crash-backoff.js';
import { osErrorText } from '../sys/os-error.js';
import { appContainersDone, containerRestartPolicy, isSidecar, sidecarNames, terminationOrder } from './sidecars.js';
import { rfc3339 } from '../api/time.js';
import { allContainerSpecs, chooseContainerMessage, ephemeralSpecs, listOf, targetContainerId, type ContainerList } from './ephemeral-containers.js';

export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';

/** PODBAY_TRACE=1 prints the steps of each pod sync with timestamps (what dominates start-up). */
const TRACE = process.env.PODBAY_TRACE === '1';
function trace(pod: Obj | undefined, step: string): void {
  if (TRACE) process.stderr.write(`${new Date().toISOString()} trace ${pod?.metadata?.name ?? '?'}: ${step}\n`);
}

export interface KubeletOptions {
  client: Client;
  runtime: Runtime;
  images: ImageService;
  nodeName: string;
  hostIP: string;
  /** per-pod state (volumes): PODS/<uid>/ */
  podsDir: string;
  /** container logs: LOGS/<ns>_<name>_<uid>/<container>/<n>.log */
  logsDir: string;
  /** container log rotation (--container-log-max-size / -max-files); the kubelet's defaults when absent */
  logRotation?: LogRotationPolicy;
  resyncSeconds?: number;
  /** pids.max of each pod's cgroup (the kubelet's podPidsLimit); undefined or <= 0: unlimited */
  podPidsLimit?: number;
  /** how often local storage (emptyDir sizeLimit, ephemeral-storage limits) is measured */
  evictionIntervalMs?: number;
  log?: (line: string) => void;
  /** --allowed-unsafe-sysctls: names or "prefix*" patterns beyond the safe set */
  allowedUnsafeSysctls?: string[];
  /** Localhost seccomp profiles are read from here (the kubelet's <root-dir>/seccomp) */
  seccompDir: string;
  /** --cluster-dns: the cluster DNS servers ClusterFirst pods use; none: pods fall back to Default */
  clusterDNS?: string[];
  /** --cluster-domain (default cluster.local): pods' subdomain FQDNs and search paths */
  clusterDomain?: string;
  /** pulls images from registries; absent: only images already stored can run */
  puller?: ImagePuller;
}

const PODS = resourceInfo('pods')!;
const SERVICES = resourceInfo('services')!;

const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';


function isTerminal(pod: Obj): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function stable(o: unknown): string {
  return JSON.stringify(o);
}

/** how long stop() lets syncs in flight finish before cutting their waits short */
const STOP_SYNC_WAIT_MS = 3000;

export class Kubelet {
  private readonly client: KubeletClient;
  private readonly runtime: Runtime;
  private readonly images: ImageService;
  private readonly events: EventRecorder;
  private readonly prober: Prober;
  private readonly logManager: ContainerLogManager;
  private readonly storage: StorageEviction;
  /** pods evicted (uid -> the kubelet's message), until their Failed status is written */
  private readonly evictions = new Map<string, string>();
  private readonly log: (line: string) => void;
  /** the newest object seen for each pod UID on this node */
  private readonly pods = new Map<string, Obj>();
  private readonly syncing = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly backoff = new Map<string, CrashBackoffEntry>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private informer?: Informer<Obj>;
  /** every Service, for the pods' service environment variables (the kubelet's serviceLister) */
  private services?: Informer<Obj>;
  private resync?: NodeJS.Timeout;
  private stopped = false;
  /** the pods found at start whose first sync has not finished yet, and when the start began */
  private adopting?: { uids: Set<string>; count: number; failed: number; t0: number };
  private readonly sysctls: SysctlAllowlist;
  private readonly ownership: VolumeOwnership;
  private hostSecurity?: Promise<HostSecurity>;
  private readonly imagePulls: ImagePullManager;
  private readonly hooks: LifecycleHooks;
  private readonly deadlines: DeadlineTimers;
  private readonly termMessages = new TerminationMessages();
  /** pods the kubelet fails on purpose (activeDeadlineSeconds): uid -> reason and message */
  private readonly failures = new Map<string, { reason: string; message: string }>();
  /** back-off of failed steps (volumes, sandbox, container creation, a failed sync): sync-backoff.ts */
  private readonly retries = new SyncBackoff();

  constructor(private readonly opts: KubeletOptions) {
    // a malformed or node-wide pattern stops the kubelet from starting, as the kubelet's flag does
    this.sysctls = new SysctlAllowlist(opts.allowedUnsafeSysctls);
    this.ownership = new VolumeOwnership(opts.log);
    this.client = kubeletClient(opts.client);
    this.runtime = opts.runtime;
    this.images = opts.images;
    this.log = opts.log ?? (() => {});
    this.events = new EventRecorder(opts.client, 'kubelet', opts.nodeName, this.log);
    this.imagePulls = new ImagePullManager({
      images: this.images,
      puller: opts.puller,
      client: this.client,
      record: (pod, type, reason, message, fieldPath) => this.events.record(pod, type, reason, message, fieldPath),
      enqueue: (uid) => this.enqueue(uid),
      log: this.log,
    });
    this.prober = new Prober({
      runtime: this.runtime,
      record: (pod, type, reason, message, fieldPath) => this.events.record(pod, type, reason, message, fieldPath),
      onChange: (uid) => this.enqueue(uid),
      log: this.log,
    });
    this.hooks = new LifecycleHooks({
      runtime: this.runtime,
      record: (pod, type, reason, message, fieldPath) => this.events.record(pod, type, reason, message, fieldPath),
      log: this.log,
    });
    this.deadlines = new DeadlineTimers((uid) => this.enqueue(uid));
    this.storage = new StorageEviction({
      pods: () => [...this.pods.values()].filter((p) => !p.metadata.deletionTimestamp && !isTerminal(p) && !this.evictions.has(p.metadata.uid)),
      measure: (pod) => measurePodStorage(pod, { runtime: this.runtime, podsDir: opts.podsDir, logsDir: opts.logsDir }),
      evict: (pod, message) => {
        this.evictions.set(pod.metadata.uid, message);
        this.events.record(pod, 'Warning', 'Evicted', message);
        this.enqueue(pod.metadata.uid);
      },
      intervalMs: opts.evictionIntervalMs,
      log: this.log,
    });
    this.logManager = new ContainerLogManager(opts.logRotation ?? DEFAULT_LOG_ROTATION, {
      listContainers: () => this.runtime.listContainers(),
      reopenContainerLog: (id) => this.runtime.reopenContainerLog(id),
      log: this.log,
    });
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    this.runtime.onContainerExit((id) => void this.onExit(id));
    // the pods bound here, from an informer: its watch resumes (or relists) when it ends, as it
    // will over HTTPS, so the kubelet never goes deaf
    // Services first: a container's environment names them (service-env.ts), and the kubelet
    // makes no container before it has read them once
    // (both listed at once: no sync runs before start() has both)
    this.services = new Informer<Obj>(this.opts.client, SERVICES, { log: this.log });
    const informer = new Informer<Obj>(this.opts.client, PODS, { fieldSelector: `spec.nodeName=${this.opts.nodeName}`, log: this.log });
    this.informer = informer;
    await Promise.all([this.services.start(), informer.start()]);
    for (const p of informer.cache.list()) this.pods.set(p.metadata.uid, p);
    if (this.pods.size) this.adopting = { uids: new Set(this.pods.keys()), count: this.pods.size, failed: 0, t0 };
    await this.collectOrphans();
    // a late handler hears of every cached pod as added: each is enqueued
    informer.addEventHandler({
      add: (pod) => this.onPodEvent({ type: 'ADDED', object: pod }),
      update: (old, pod) => {
        // a relist may show a pod deleted and made again under its name as one update
        if (old.metadata.uid !== pod.metadata.uid) this.onPodEvent({ type: 'DELETED', object: old });
        this.onPodEvent({ type: 'MODIFIED', object: pod });
      },
      delete: (pod) => this.onPodEvent({ type: 'DELETED', object: pod }),
    });
    // pods that went while orphans were collected: the cache no longer has them
    const cached = new Set(informer.cache.list().map((p) => p.metadata.uid));
    for (const [uid, pod] of [...this.pods]) if (!cached.has(uid)) this.onPodEvent({ type: 'DELETED', object: pod });
    this.logManager.start();
    this.storage.start();
    this.resync = setInterval(() => {
      for (const uid of this.pods.keys()) this.enqueue(uid);
    }, (this.opts.resyncSeconds ?? 10) * 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.informer?.stop();
    this.services?.stop();
    this.storage.stop();
    clearInterval(this.resync);
    this.prober.stop();
    this.deadlines.stop();
    await this.logManager.stop();
    for (const t of this.timers.values()) clearTimeout(t);
    // syncs in flight may finish for a moment (a kill whose container exits on SIGTERM completes
    // and releases its volumes); past that, no hook or grace period is waited out: pods outlive
    // podbay, and a deletion under way is finished by the next start
    const inFlight = Promise.allSettled([...this.syncing.values()]);
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([inFlight.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STOP_SYNC_WAIT_MS)))]);
    clearTimeout(timer);
    if (!done) {
      this.log(`kubelet: ${this.syncing.size} pod sync(s) still waiting on grace periods or hooks after ${STOP_SYNC_WAIT_MS / 1000} s: cut short`);
      this.hooks.stop();
      this.runtime.interruptWaits();
      await inFlight;
    }
    // a pod deleted (--force) while its sandbox was being made, whose kill the stop cut off,
    // must not run on: as at start, what belongs to no pod the cache knows is removed (only
    // with a synced cache: an empty one would take every pod for gone)
    if (this.informer?.hasSynced()) await this.collectOrphans().catch((e) => this.log(`kubelet: ${(e as Error).message}`));
  }

  private onPodEvent(ev: WatchEventOut): void {
    if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') return;
    const pod = ev.object;
    const uid = pod.metadata.uid;
    const before = this.pods.get(uid);
    if (ev.type === 'DELETED') this.pods.delete(uid);
    else this.pods.set(uid, pod);
    // a new spec (kubectl set image, a fixed volume) is tried at once, not after the back-off
    if (before && before.metadata.generation !== pod.metadata.generation) this.retries.forget(uid);
    // a hook in flight (a long postStart) must not hold the pod's teardown
    if (ev.type === 'DELETED' || pod.metadata.deletionTimestamp) this.hooks.cancelPod(uid);
    // the kubelet's own status writes come back here: a status-only change needs no sync (pod-changes.ts)
    if (ev.type === 'MODIFIED' && before && !podChangeNeedsSync(before, pod)) return;
    this.enqueue(uid);
  }

  private async onExit(containerId: string): Promise<void> {
    const st = await this.runtime.containerStatus(containerId).catch(() => undefined);
    const uid = st?.config.labels[LABEL_POD_UID];
    if (uid) this.enqueue(uid);
  }

  /** Serialize syncs per pod: a request during a sync runs once more after it. */
  enqueue(uid: string): void {
    if (this.stopped) return;
    if (this.syncing.has(uid)) {
      this.dirty.add(uid);
      return;
    }
    const run = (async () => {
      do {
        this.dirty.delete(uid);
        let ok = true;
        try {
          await this.sync(uid);
        } catch (e) {
          ok = false;
          await this.syncFailed(uid, e);
        }
        this.adopted(uid, ok);
      } while (this.dirty.has(uid) && !this.stopped);
    })().finally(() => this.syncing.delete(uid));
    this.syncing.set(uid, run);
  }

  /**
   * After a restart, the pods found at start (running ones are adopted: conmon kept them) have
   * each been synced once, their status checked against the runtime, when the log says
   * `kubelet: synced the N pods found at start in MS ms` (bench/cold-start.ts --pods waits for it).
   */
  private adopted(uid: string, ok: boolean): void {
    const a = this.adopting;
    if (!a?.uids.delete(uid)) return;
    if (!ok) a.failed++;
    if (a.uids.size) return;
    this.adopting = undefined;
    this.log(`kubelet: synced the ${a.count} pods found at start in ${Math.round(performance.now() - a.t0)} ms${a.failed ? ` (${a.failed} of them failed and are retried)` : ''}`);
  }

  /**
   * A sync that threw: as the kubelet's pod workers, an event on the pod (FailedSync, or
   * FailedKillPod for a teardown), the status as the runtime has it (containers that never ran
   * show ContainerCreating, not a bare Pending), and a retry after the pod's back-off.
   */
  private async syncFailed(uid: string, e: unknown): Promise<void> {
    if (this.stopped) {
      this.log(`kubelet: sync of pod ${uid} cut short: ${(e as Error)?.message ?? e}`);
      return;
    }
    this.log(`kubelet: sync of pod ${uid} failed: ${(e as Error)?.stack ?? e}`);
    const pod = this.pods.get(uid);
    const message = osErrorText(e);
    if (pod?.metadata.deletionTimestamp) this.events.record(pod, 'Warning', 'FailedKillPod', `error killing pod: ${message}`);
    else if (pod) {
      this.events.record(pod, 'Warning', 'FailedSync', `Error syncing pod, skipping: ${message}`);
      try {
        const sandbox = (await this.sandboxesOf(uid)).find((s) => s.state === 'ready');
        await this.writeStatus(pod, sandbox, sandbox ? await this.runtime.listContainers(sandbox.id) : []);
      } catch (e2) {
        this.log(`kubelet: status of pod ${uid} after a failed sync: ${(e2 as Error).message}`);
      }
    }
    this.retryLater(uid);
  }

  /** a step of `uid` (or of its container, `key` UID/name) failed: sync again after its back-off */
  private retryLater(uid: string, key = uid): void {
    this.enqueueAfter(uid, this.retries.failed(key));
  }

  private enqueueAfter(uid: string, ms: number): void {
    clearTimeout(this.timers.get(uid));
    this.timers.set(
      uid,
      setTimeout(() => {
        this.timers.delete(uid);
        this.enqueue(uid);
      }, ms),
    );
  }

  // ------------------------------------------------------------------ sync

  private async sandboxesOf(uid: string): Promise<SandboxStatus[]> {
    return (await this.runtime.listPodSandboxes({ podUid: uid })).filter((s) => s.config.podUid === uid);
  }

  private async sync(uid: string): Promise<void> {
    const pod = this.pods.get(uid);
    if (!pod) {
      await this.killPod(uid, undefined, 0);
      await this.forget(uid, undefined);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      await this.killPod(uid, pod, pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30);
      await this.client.deletePod(pod.metadata.namespace, pod.metadata.name, uid);
      return;
    }
    if (isTerminal(pod)) {
      if ((await this.sandboxesOf(uid)).length) await this.killPod(uid, pod, 0);
      return;
    }
    const deadline = deadlineRemainingMs(pod, Date.now());
    if (deadline !== undefined && deadline <= 0 && !this.failures.has(uid)) {
      this.failures.set(uid, { reason: DEADLINE_REASON, message: DEADLINE_MESSAGE });
      this.events.record(pod, 'Warning', DEADLINE_REASON, DEADLINE_MESSAGE);
    } else if (deadline !== undefined) this.deadlines.arm(uid, deadline);
    if (this.evictions.has(uid) || this.failures.has(uid)) {
      // evicted (eviction.ts): kill at once; past its deadline: kill with the pod's grace period.
      // Then the Failed status; the next sync tears down
      const sandboxes = await this.sandboxesOf(uid);
      const grace = this.evictions.has(uid) ? 0 : (pod.spec.terminationGracePeriodSeconds ?? 30);
      for (const sb of sandboxes) await this.stopContainers(pod, sb, await this.runtime.listContainers(sb.id), grace);
      const sb = sandboxes.find((x) => x.state === 'ready') ?? sandboxes[0];
      await this.writeStatus(pod, sb, sb ? await this.runtime.listContainers(sb.id) : []);
      return;
    }

    // a pod whose volumes or sandbox failed is not tried again before its back-off is over
    // (its status and events already say why); resyncs and watch events meanwhile are no-ops
    if (this.retries.waiting(uid)) return;
    trace(pod, 'sync start');
    const sysctls = podSysctls(pod, this.sysctls);
    const sandboxes = await this.sandboxesOf(uid);
    if ((!pod.status?.phase || pod.status.phase === 'Pending') && !sandboxes.length) {
      const host = await (this.hostSecurity ??= detectHostSecurity());
      const appArmor = admitAppArmor(pod, host);
      if ('message' in sysctls) return this.rejectPod(pod, FORBIDDEN_REASON, sysctls.message);
      if (appArmor) return this.rejectPod(pod, 'AppArmor', appArmor);
    }
    const podDir = join(this.opts.podsDir, uid);
    let sandbox = sandboxes.find((s) => s.state === 'ready');
    // A pod's first sandbox is made beside its volumes: neither needs the other, and together
    // they are the start of every pod. The kubelet makes none before the volumes are mounted, so
    // a volume that fails takes the new sandbox away again, and nothing of the sandbox (the pod
    // IP) reaches the status before the volumes are ready. After a failure, one after the other.
    const early = !sandbox && !sandboxes.length && !this.retries.failedBefore(uid) && !('message' in sysctls) ? this.newSandbox(pod, sandboxes, sysctls) : undefined;
    let volumes: Map<string, PreparedVolume>;
    try {
      await mkdir(podDir, { recursive: true, mode: 0o750 });
      volumes = (await prepareVolumes(this.client, pod, podDir, this.downwardContext(pod, undefined))).volumes;
      await this.ownership.apply(pod, volumes).catch((e: unknown) => {
        throw e instanceof FsGroupError ? new VolumeError(e.volume, e.message) : e;
      });
    } catch (e) {
      const made = early && (await early);
      if (!(e instanceof VolumeError)) throw e;
      if (made && 'sandbox' in made) await this.removeSandbox(made.sandbox, pod, 0);
      this.events.record(pod, 'Warning', 'FailedMount', e.message);
      this.retryLater(uid);
      await this.writeStatus(pod, undefined, []);
      return;
    }
    trace(pod, 'volumes ready');

    // the sandbox: reuse a ready one, replace a dead one
    if (!sandbox) {
      // a sandbox never runs without the pod's sysctls (the allowlist may have changed since admission)
      if ('message' in sysctls) return this.rejectPod(pod, FORBIDDEN_REASON, sysctls.message);
      const made = await (early ?? this.newSandbox(pod, sandboxes, sysctls));
      if ('error' in made) {
        this.events.record(pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${osErrorText(made.error)}`);
        this.retryLater(uid);
        await this.writeStatus(pod, undefined, []);
        return;
      }
      sandbox = made.sandbox;
    }

    trace(pod, 'sandbox ready');
    const all = await this.runtime.listContainers(sandbox.id);
    const inits: Obj[] = pod.spec.initContainers ?? [];
    const specs: Obj[] = pod.spec.containers ?? [];
    const latestOf = (name: string) => this.runsOf(all, name)[0];
    const initNamed = (name: string | undefined) => inits.find((c) => c.name === name);
    const step = nextInitStep(
      inits.map((c) => c.name),
      specs.map((c) => c.name),
      latestOf,
      {
        restartable: (name) => isSidecar(initNamed(name)),
        started: (name) => {
          const run = latestOf(name);
          return !!run && this.prober.started(uid, name, run.id) !== false;
        },
      },
    );
    // native sidecars that ran are kept running, until the app containers are done for good
    const appsDone = appContainersDone(pod.spec.restartPolicy ?? 'Always', specs.map((c) => latestOf(c.name)));
    if (appsDone) {
      const running = all.filter((c) => sidecarNames(pod).includes(c.config.name) && c.state === 'running');
      if (running.length) await this.stopContainers(pod, sandbox, running, pod.spec.terminationGracePeriodSeconds ?? 30);
    } else {
      // a sidecar that is `next` (created, not yet started) is started below, once
      const kept = (step.sidecars ?? []).filter((n) => n !== step.next);
      await Promise.all(kept.map((n) => this.syncContainer(pod, sandbox!, initNamed(n)!, all, volumes, 'initContainers')));
    }
    if (step.done) await Promise.all(specs.map((c) => this.syncContainer(pod, sandbox!, c, all, volumes, 'containers')));
    // a failed init container is restarted (with back-off) unless restartPolicy is Never: then the pod fails
    else if (step.failed && pod.spec.restartPolicy !== 'Never') await this.syncContainer(pod, sandbox, initNamed(step.failed)!, all, volumes, 'initContainers');
    else if (step.next) await this.syncContainer(pod, sandbox, initNamed(step.next)!, all, volumes, 'initContainers');
    // ephemeral containers start whether or not the pod is initialized (ephemeral-containers.ts)
    await Promise.all(ephemeralSpecs(pod).map((c) => this.syncContainer(pod, sandbox!, c, all, volumes, 'ephemeralContainers')));
    trace(pod, 'containers synced');
    const fresh = await this.runtime.listContainers(sandbox.id);
    await this.writeStatus(pod, sandbox, fresh);
    this.retries.succeeded(uid);
    trace(pod, 'status written');
  }

  /**
   * The crash back-off before (re)starting a container (crash-backoff.ts): true to start it now;
   * false while it waits (CrashLoopBackOff, a BackOff event, a sync when the wait is over).
   * `finishedAt`: the end of its newest exited run, undefined if it has none.
   */
  private backedOff(pod: Obj, spec: Obj, key: string, fieldPath: string, finishedAt: number | undefined): boolean {
    const d = crashBackoff(this.backoff.get(key), finishedAt, Date.now());
    if (d.start) {
      if (d.entry) this.backoff.set(key, d.entry);
      return true;
    }
    this.waiting.set(key, { reason: 'CrashLoopBackOff', message: crashBackoffMessage(d.delayMs, spec.name, pod) });
    this.events.record(pod, 'Warning', 'BackOff', crashBackoffEventMessage(spec.name, pod), fieldPath);
    this.enqueueAfter(pod.metadata.uid, d.waitMs + 10);
    return false;
  }

  private runsOf(all: RtContainer[], name: string): RtContainer[] {
    return all.filter((c) => c.config.name === name).sort((a, b) => b.config.restartCount - a.config.restartCount);
  }

  /**
   * One container towards its desired state. Init containers restart only on failure (and never
   * with restartPolicy Never); app containers follow restartPolicy.
   */
  private async syncContainer(pod: Obj, sandbox: SandboxStatus, spec: Obj, all: RtContainer[], volumes: Map<string, PreparedVolume>, list: ContainerList): Promise<void> {
    const uid = pod.metadata.uid;
    const key = `${uid}/${spec.name}`;
    const runs = this.runsOf(all, spec.name);
    const latest = runs[0];
    const fieldPath = `spec.${list}{${spec.name}}`;
    const podPolicy: string = pod.spec.restartPolicy ?? 'Always';
    const policy = containerRestartPolicy(podPolicy, list, spec);

    // keep the newest two runs (status shows the last termination); older ones go
    for (const old of runs.slice(2)) {
      await this.runtime.removeContainer(old.id).catch(() => {});
      await removeTerminationMessage(join(this.opts.podsDir, uid), spec.name, old.config.restartCount);
    }

    const probeFailed = latest?.state === 'running' && (list === 'containers' || isSidecar(spec)) ? this.prober.failed(uid, spec.name, latest.id) : undefined;
    // the spec changed under a running container (kubectl set image): kill it, start the new definition at once
    const changed = latest?.state === 'running' && !probeFailed && definitionChanged(spec, latest);
    if (changed) {
      this.events.record(pod, 'Normal', 'Killing', definitionChangedMessage(spec.name), fieldPath);
      await this.hooks.kill(this.hookTarget(pod, sandbox, spec, latest.id), latest.id, pod.spec.terminationGracePeriodSeconds ?? 30, fieldPath);
      this.backoff.delete(key);
    } else if (latest?.state === 'running' && !probeFailed) {
      this.waiting.delete(key);
      // a long healthy run resets the back-off, as the kubelet's does after 2x the max delay
      if (latest.startedAt && Date.now() - Date.parse(latest.startedAt) > 2 * CRASH_BACKOFF_MAX_MS) this.backoff.delete(key);
      return;
    }
    if (latest?.state === 'running' && probeFailed) {
      // kill the run that failed its liveness (or startup) probe; unless the policy is Never it is
      // restarted through the same back-off as a container that exited, measured (as the
      // kubelet's doBackOff does, deciding before the kill) from the previous run's end
      const restart = policy !== 'Never';
      const message = `Container ${spec.name} failed ${probeFailed.toLowerCase()} probe`;
      this.events.record(pod, 'Normal', 'Killing', restart ? `${message}, will be restarted` : message, fieldPath);
      const probe = probeFailed === 'Liveness' ? spec.livenessProbe : spec.startupProbe;
      await this.hooks.kill(this.hookTarget(pod, sandbox, spec, latest.id), latest.id, probe?.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30, fieldPath);
      if (!restart) return;
      const previous = runs[1]?.state === 'exited' ? runs[1] : undefined;
      if (!this.backedOff(pod, spec, key, fieldPath, previous && (previous.finishedAt ? Date.parse(previous.finishedAt) : Date.now()))) return;
    } else if (latest?.state === 'created') {
      // created but never started (podbay stopped in between): start it now
      await this.startContainer(pod, sandbox, latest, spec, key, fieldPath);
      return;
    } else if (latest?.state === 'exited') {
      const restart = policy === 'Always' || (policy === 'OnFailure' && (latest.exitCode ?? 0) !== 0);
      if (!restart) {
        this.waiting.delete(key);
        return;
      }
      // the back-off belongs to a definition (the kubelet keys it by the container hash): a new image starts afresh
      if (definitionChanged(spec, latest)) this.backoff.delete(key);
      if (!this.backedOff(pod, spec, key, fieldPath, latest.finishedAt ? Date.parse(latest.finishedAt) : Date.now())) return;
    }

    // a container whose last creation failed waits out its back-off (its waiting reason stays)
    if (this.retries.waiting(key)) return;
    // create a new run
    const restartCount = latest ? latest.config.restartCount + 1 : 0;
    // imagePullPolicy, pulls (in the background) and their back-off: image-pull.ts
    const ensured = await this.imagePulls.ensure(pod, spec, fieldPath);
    if ('waiting' in ensured) {
      this.waiting.set(key, ensured.waiting);
      if (ensured.retryMs !== undefined) this.enqueueAfter(uid, ensured.retryMs);
      return;
    }
    const image = ensured.image;

    let config: ContainerConfig;
    try {
      const serviceVars = serviceEnv(this.services?.cache.list() ?? [], pod.metadata.namespace, pod.spec.enableServiceLinks !== false);
      const env = await containerEnv(this.client, pod, spec, this.downwardContext(pod, sandbox), serviceVars);
      const argv = resolveArgv(spec, image.config, env);
      if (argv.length === 0) throw new ConfigError(`no command specified: the image ${spec.image} has no Entrypoint or Cmd, so the container needs a command`);
      const sec = await containerSecurity(pod, spec, image.config.user ?? undefined, {
        seccompRoot: this.opts.seccompDir,
        host: await (this.hostSecurity ??= detectHostSecurity()),
      });
      config = {
        name: spec.name,
        image: spec.image,
        argv,
        env: mergeEnv(image.config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], env),
        workingDir: spec.workingDir ?? image.config.workingDir ?? undefined,
        user: sec.user,
        mounts: [...(await this.mountsOf(pod, spec, volumes, env)), await prepareTerminationMessage(join(this.opts.podsDir, uid), spec, restartCount)],
        logPath: containerLogPath(this.opts.logsDir, pod.metadata.namespace, pod.metadata.name, uid, spec.name, restartCount),
        privileged: Boolean(spec.securityContext?.privileged),
        readOnlyRootfs: Boolean(spec.securityContext?.readOnlyRootFilesystem),
        capAdd: spec.securityContext?.capabilities?.add,
        capDrop: spec.securityContext?.capabilities?.drop,
        security: sec.security,
        restartCount,
        resources: containerResources(spec),
        stdin: Boolean(spec.stdin),
        stdinOnce: Boolean(spec.stdinOnce),
        tty: Boolean(spec.tty),
        ...(list === 'ephemeralContainers' ? { targetContainerId: targetContainerId(pod, spec, all) } : {}),
        labels: {
          [LABEL_POD_UID]: uid,
          [LABEL_POD_NAME]: pod.metadata.name,
          [LABEL_POD_NAMESPACE]: pod.metadata.namespace,
          [LABEL_CONTAINER_NAME]: spec.name,
          [LABEL_CONTAINER_HASH]: containerHash(spec),
        },
        annotations: terminationAnnotations(spec),
      };
    } catch (e) {
      // as the kubelet's generateContainerConfig: whatever fails while the container's config is
      // formed (env, mounts, subPaths, security, the termination-message file) is this reason
      if (!(e instanceof ConfigError)) this.log(`kubelet: container ${spec.name} of pod ${uid}: ${(e as Error)?.stack ?? e}`);
      const message = osErrorText(e);
      this.waiting.set(key, { reason: 'CreateContainerConfigError', message });
      this.events.record(pod, 'Warning', 'Failed', `Error: ${message}`, fieldPath);
      this.retryLater(uid, key);
      return;
    }

    let id: string;
    trace(pod, `create ${spec.name}`);
    try {
      id = await this.runtime.createContainer(sandbox.id, config);
    } catch (e) {
      const message = (e as Error).message;
      this.waiting.set(key, { reason: 'CreateContainerError', message });
      this.events.record(pod, 'Warning', 'Failed', `Error: ${message}`, fieldPath);
      this.retryLater(uid, key);
      return;
    }
    this.retries.succeeded(key);
    this.events.record(pod, 'Normal', 'Created', `Created container: ${spec.name}`, fieldPath);
    const created = await this.runtime.containerStatus(id);
    if (created) await this.startContainer(pod, sandbox, created, spec, key, fieldPath);
  }

  /**
   * The pod's hostname and what its /etc/hosts and resolv.conf say (pod-dns.ts), with the
   * events the kubelet records while forming them (MissingClusterDNS, DNSConfigForming).
   */
  /**
   * A new sandbox for the pod, after the dead ones are removed: what it became, or why it
   * failed (the caller reports that, once it knows the volumes did not fail first).
   */
  private async newSandbox(pod: Obj, dead: SandboxStatus[], sysctls: { sysctls: Record<string, string> }): Promise<{ sandbox: SandboxStatus } | { error: unknown }> {
    const uid: string = pod.metadata.uid;
    const ns: string = pod.metadata.namespace;
    const attempt = dead.reduce((m, s) => Math.max(m, s.config.attempt + 1), 0);
    try {
      for (const s of dead) await this.removeSandbox(s, pod, 0);
      if (attempt > 0) this.events.record(pod, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      const names = await this.sandboxNames(pod);
      const sandbox = await this.runtime.runPodSandbox({
        podName: pod.metadata.name,
        podNamespace: ns,
        podUid: uid,
        attempt,
        hostname: names.hostname,
        dns: names.dns,
        hostNetwork: Boolean(pod.spec.hostNetwork),
        hostIPC: Boolean(pod.spec.hostIPC),
        hostPID: Boolean(pod.spec.hostPID),
        shareProcessNamespace: Boolean(pod.spec.shareProcessNamespace),
        portMappings: portMappings(pod),
        labels: { [LABEL_POD_UID]: uid, [LABEL_POD_NAME]: pod.metadata.name, [LABEL_POD_NAMESPACE]: ns },
        annotations: {},
        sysctls: sysctls.sysctls,
        cgroup: podCgroupConfig(pod, this.opts.podPidsLimit),
      });
      return { sandbox };
    } catch (error) {
      return { error };
    }
  }

  private async sandboxNames(pod: Obj): Promise<{ hostname: string; dns: SandboxDNS }> {
    const names = podHostnameAndDomain(pod, this.opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN);
    const hostResolvConf = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    const { config, notes } = podDNS({ pod, hostResolvConf, clusterDNS: this.opts.clusterDNS ?? [], clusterDomain: this.opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN });
    for (const n of notes) this.events.record(pod, n.type, n.reason, n.message);
    const hostAliases = ((pod.spec.hostAliases ?? []) as Obj[]).map((a) => ({ ip: String(a.ip), hostnames: (a.hostnames ?? []).map(String) }));
    return { hostname: names.utsHostname, dns: { hostname: names.hostname, domain: names.domain, hostAliases, resolv: config } };
  }

  /** What the downward API reads that the stored pod may not say yet (downward.ts). */
  private downwardContext(pod: Obj, sandbox: SandboxStatus | undefined): DownwardContext {
    const hostIPs = [this.opts.hostIP];
    // the node's allocatable (os.cpus() reads /proc) only for the resourceFieldRefs that need it
    return {
      podIPs: pod.spec.hostNetwork ? hostIPs : (sandbox?.ips ?? []),
      hostIPs,
      get allocatable() {
        return nodeResources().allocatable;
      },
    };
  }

  /** what a lifecycle hook of this container needs: the pod's IP for httpGet */
  private hookTarget(pod: Obj, sandbox: SandboxStatus | undefined, container: Obj, containerId: string): HookTarget {
    return { pod, container, containerId, ip: pod.spec.hostNetwork ? this.opts.hostIP : (sandbox?.ips[0] ?? '') };
  }

  /**
   * Stop running containers of a pod as the kubelet's killContainer does (Killing event, preStop
   * within the grace period, TERM, KILL): everything but the sidecars together, then the sidecars
   * in reverse order with what is left of the grace period.
   */
  private async stopContainers(pod: Obj | undefined, sandbox: SandboxStatus, containers: RtContainer[], graceSeconds: number): Promise<void> {
    const running = containers.filter((c) => c.state === 'running');
    const t0 = Date.now();
    const groups = pod ? terminationOrder(pod, running.map((c) => c.config.name)) : [running.map((c) => c.config.name)];
    for (const [i, group] of groups.entries()) {
      const grace = i === 0 ? graceSeconds : graceAfterPreStop(graceSeconds, (Date.now() - t0) / 1000);
      await Promise.all(
        running
          .filter((c) => group.includes(c.config.name))
          .map(async (c) => {
            const list = pod ? listOf(pod, c.config.name) : 'containers';
            const fieldPath = `spec.${list}{${c.config.name}}`;
            const spec = pod ? ((pod.spec[list] ?? []) as Obj[]).find((x) => x.name === c.config.name) : undefined;
            if (pod) this.events.record(pod, 'Normal', 'Killing', `Stopping container ${c.config.name}`, fieldPath);
            await this.hooks.kill(pod && spec ? this.hookTarget(pod, sandbox, spec, c.id) : undefined, c.id, grace, fieldPath);
          }),
      );
    }
  }

  private async startContainer(pod: Obj, sandbox: SandboxStatus, c: RtContainer, spec: Obj, key: string, fieldPath: string): Promise<void> {
    try {
      trace(pod, `start ${spec.name}`);
      await this.runtime.startContainer(c.id);
      trace(pod, `started ${spec.name}`);
      this.waiting.delete(key);
      this.events.record(pod, 'Normal', 'Started', `Started container ${spec.name}`, fieldPath);
      // the kubelet's start blocks on postStart; a failed one kills the container (restarted per policy)
      const failed = await this.hooks.postStart(this.hookTarget(pod, sandbox, spec, c.id), fieldPath);
      if (failed !== undefined) {
        this.events.record(pod, 'Normal', 'Killing', 'FailedPostStartHook', fieldPath);
        await this.hooks.kill(this.hookTarget(pod, sandbox, spec, c.id), c.id, pod.spec.terminationGracePeriodSeconds ?? 30, fieldPath);
        this.waiting.set(key, { reason: 'PostStartHookError', message: failed });
        this.enqueueAfter(pod.metadata.uid, 1000);
      }
    } catch (e) {
      const message = (e as Error).message;
      this.waiting.set(key, { reason: 'RunContainerError', message });
      this.events.record(pod, 'Warning', 'Failed', `Error: ${message}`, fieldPath);
      // the failed run stays as an exited container; the next sync backs off and retries
      this.enqueueAfter(pod.metadata.uid, 2000);
    }
  }

  /**
   * A pod the node cannot run as asked (a kubelet admit handler said no): Failed at once, with
   * the handler's reason and message, as the kubelet's rejectPod.
   */
  private async rejectPod(pod: Obj, reason: string, message: string): Promise<void> {
    this.events.record(pod, 'Warning', reason, message);
    const uid = pod.metadata.uid;
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = attempt === 0 ? pod : await this.client.getPod(pod.metadata.namespace, pod.metadata.name);
      if (!current || current.metadata.uid !== uid) return;
      const status = { ...current.status, phase: 'Failed', reason, message: `Pod was rejected: ${message}`, startTime: current.status?.startTime ?? rfc3339() };
      try {
        const updated = await this.client.updatePodStatus({ ...current, status });
        if (this.pods.has(uid)) this.pods.set(uid, updated);
        return;
      } catch (e) {
        if (e instanceof ApiError && e.reason === 'Conflict') continue;
        if (e instanceof ApiError && e.reason === 'NotFound') return;
        throw e;
      }
    }
  }

  private async writeStatus(pod: Obj, sandbox: SandboxStatus | undefined, listed: RtContainer[]): Promise<void> {
    const uid = pod.metadata.uid;
    const logDir = (run: RtContainer) => join(podLogDir(this.opts.logsDir, pod.metadata.namespace, pod.metadata.name, uid), run.config.name);
    const containers = await this.termMessages.enrich(listed, logDir);
    const podIPs = sandbox && !pod.spec.hostNetwork ? sandbox.ips : pod.spec.hostNetwork ? [this.opts.hostIP] : [];
    if (sandbox && !isTerminal(pod)) this.prober.update({ pod, ip: podIPs[0] ?? '', latest: (name) => this.runsOf(containers, name)[0] });
    const view = (c: Obj, list: ContainerList): ContainerView => {
      const init = list !== 'containers';
      // app containers and native sidecars have probes (started/ready); regular init containers not
      const sidecar = list === 'initContainers' && isSidecar(c);
      const probed = !init || sidecar;
      const runs = this.runsOf(containers, c.name);
      let waiting = this.waiting.get(`${uid}/${c.name}`);
      // a waiting reason from before a run that is now running no longer applies
      if (waiting && runs[0]?.state === 'running') waiting = undefined;
      // a run that failed to start and will not be run again stays terminated (StartError): the
      // kubelet gives its waiting reasons only to containers it restarts (convertToAPIContainerStatuses)
      if (waiting?.reason === 'RunContainerError' && runs[0]?.state === 'exited' && containerRestartPolicy(pod.spec.restartPolicy ?? 'Always', list, c) === 'Never') waiting = undefined;
      const v: ContainerView = { name: c.name, image: c.image, runs, waiting, resources: c.resources, ...(sidecar ? { sidecar } : {}) };
      if (probed && runs[0]) {
        v.started = this.prober.started(uid, c.name, runs[0].id);
        v.ready = this.prober.ready(uid, c.name, runs[0].id);
      }
      return v;
    };
    const views = ((pod.spec.containers ?? []) as Obj[]).map((c) => view(c, 'containers'));
    const initViews = ((pod.spec.initContainers ?? []) as Obj[]).map((c) => view(c, 'initContainers'));
    const ephemeralViews = ephemeralSpecs(pod).map((c) => view(c, 'ephemeralContainers'));
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = attempt === 0 ? pod : await this.client.getPod(pod.metadata.namespace, pod.metadata.name);
      if (!current || current.metadata.uid !== uid) return;
      const computed = computePodStatus({
        pod: current,
        containers: views,
        initContainers: initViews,
        ephemeralContainers: ephemeralViews,
        sandboxReady: sandbox?.state === 'ready',
        podIPs,
        hostIP: this.opts.hostIP,
        now: rfc3339(),
      });
      const evicted = this.evictions.get(uid);
      const failure = this.failures.get(uid);
      const status = evicted ? evictedStatus(computed, evicted, rfc3339()) : failure ? failedStatus(computed, failure.reason, failure.message) : computed;
      if (stable(status) === stable(current.status)) return;
      try {
        const updated = await this.client.updatePodStatus({ ...current, status });
        if (this.pods.has(uid)) this.pods.set(uid, updated);
        if (isTerminal(updated)) this.enqueue(uid);
        return;
      } catch (e) {
        if (e instanceof ApiError && e.reason === 'Conflict') continue;
        if (e instanceof ApiError && e.reason === 'NotFound') return;
        throw e;
      }
    }
  }

  /**
   * The container's volume mounts. configMap and secret volumes are read-only whatever the pod
   * says (as the kubelet mounts them); a subPath (or subPathExpr, expanded with the container's
   * env) is resolved under the volume without following links out of it and bound onto a
   * podbay-owned target (subpath.ts). Failures are ConfigErrors: CreateContainerConfigError.
   */
  private async mountsOf(pod: Obj, spec: Obj, volumes: Map<string, PreparedVolume>, env: { name: string; value: string }[]): Promise<VolumeMount[]> {
    const out: VolumeMount[] = [];
    const mounts = (spec.volumeMounts ?? []) as Obj[];
    for (let i = 0; i < mounts.length; i++) {
      const m = mounts[i];
      const vol = volumes.get(m.name);
      if (!vol) throw new ConfigError(`volume "${m.name}" of container ${spec.name} was not prepared`);
      const subPath = subPathOf(m as { name: string }, env);
      const hostPath = subPath
        ? await bindSubPath(
            { volumeRoot: vol.hostPath, followRoot: vol.hostOwned, subPath, podDir: join(this.opts.podsDir, pod.metadata.uid), volume: m.name, container: spec.name, index: i },
            this.log,
          )
        : vol.hostPath;
      out.push({ hostPath, containerPath: m.mountPath, readOnly: vol.forceReadOnly || Boolean(m.readOnly), ...(m.mountPropagation ? { propagation: m.mountPropagation } : {}) });
    }
    return out;
  }

  // ------------------------------------------------------------------ teardown

  private async removeSandbox(s: SandboxStatus, pod: Obj | undefined, graceSeconds: number): Promise<void> {
    const containers = await this.runtime.listContainers(s.id);
    await this.stopContainers(pod, s, containers, graceSeconds);
    // the runtime kills what is left (created containers, the pause), then removes the
    // containers beside the sandbox's own teardown (CNI DEL, the pause's runc state, shm)
    await this.runtime.removePodSandbox(s.id);
  }

  /** Stop and remove everything the runtime has for a pod UID. */
  private async killPod(uid: string, pod: Obj | undefined, graceSeconds: number): Promise<void> {
    this.prober.removePod(uid);
    this.deadlines.forget(uid);
    // every sandbox is torn down even when one of them fails; the failure is retried (FailedKillPod)
    const failed: string[] = [];
    for (const s of await this.sandboxesOf(uid)) await this.removeSandbox(s, pod, graceSeconds).catch((e: unknown) => failed.push(osErrorText(e)));
    if (failed.length) throw new Error(failed.join('; '));
    for (const k of [...this.waiting.keys()]) if (k.startsWith(`${uid}/`)) this.waiting.delete(k);
    await releaseVolumes(join(this.opts.podsDir, uid));
  }

  private async forget(uid: string, pod: Obj | undefined): Promise<void> {
    this.evictions.delete(uid);
    this.failures.delete(uid);
    this.retries.forget(uid);
    this.hooks.cancelPod(uid);
    for (const k of [...this.backoff.keys()]) if (k.startsWith(`${uid}/`)) this.backoff.delete(k);
    this.ownership.forget(uid);
    this.imagePulls.forget(uid);
    this.client.forgetTokens(uid);
    clearTimeout(this.timers.get(uid));
    this.timers.delete(uid);
    this.events.forget(uid);
    // each pod's Scheduled event stayed here for good (up to the recorder's cap of 5,000)
    const labels = pod?.metadata;
    if (labels) await removeTree(podLogDir(this.opts.logsDir, labels.namespace, labels.name, uid));
    else await removeLogsOfUid(this.opts.logsDir, uid);
  }

  /** Sandboxes whose pod is gone (deleted while podbay was down) are removed at start. */
  private async collectOrphans(): Promise<void> {
    for (const s of await this.runtime.listPodSandboxes()) {
      if (this.pods.has(s.config.podUid)) continue;
      this.log(`kubelet: removing sandbox ${s.id.slice(0, 12)} of pod ${s.config.podNamespace}/${s.config.podName}: no such pod`);
      await this.removeSandbox(s, undefined, 0).catch((e) => this.log(`kubelet: ${(e as Error).message}`));
      await releaseVolumes(join(this.opts.podsDir, s.config.podUid));
      await removeLogsOfUid(this.opts.logsDir, s.config.podUid);
    }
    // a pod whose volumes were made but whose sandbox never was (podbay killed in between), and
    // that was deleted while podbay was down, has only its pod dir: its tmpfs and binds go too
    // (the kubelet's cleanupOrphanedPodDirs)
    const dirs = await readdir(this.opts.podsDir).catch(() => [] as string[]);
    for (const uid of dirs) {
      if (this.pods.has(uid) || !/^[0-9a-f-]{36}$/.test(uid)) continue;
      this.log(`kubelet: removing the volumes of pod ${uid}: no such pod`);
      await releaseVolumes(join(this.opts.podsDir, uid)).catch((e) => this.log(`kubelet: ${(e as Error).message}`));
    }
  }

  // ------------------------------------------------------------------ logs

  /** GET pods/NAME/log: stream a container's log as kubelet's /containerLogs does. */
  async containerLogs(pod: Obj, container: string | undefined, opts: LogOptions, write: (s: string) => boolean | void, closed: () => boolean): Promise<void> {
    const names: string[] = (pod.spec.containers ?? []).map((c: Obj) => c.name);
    const name = container ?? (names.length === 1 ? names[0] : undefined);
    if (!name) throw badRequest(chooseContainerMessage(pod));
    if (!allContainerSpecs(pod).some((c) => c.name === name)) throw badRequest(`container ${name} is not valid for pod ${pod.metadata.name}`);
    const dir = join(podLogDir(this.opts.logsDir, pod.metadata.namespace, pod.metadata.name, pod.metadata.uid), name);
    const waiting = this.waiting.get(`${pod.metadata.uid}/${name}`);
    const running = async () => {
      const sandboxes = await this.sandboxesOf(pod.metadata.uid);
      for (const s of sandboxes) {
        const runs = this.runsOf(await this.runtime.listContainers(s.id), name);
        if (runs[0]?.state === 'running') return true;
      }
      return false;
    };
    try {
      await streamLog(dir, opts, write, running, closed, { container: name, pod: pod.metadata.name });
    } catch (e) {
      if (e instanceof ApiError && waiting && !opts.previous) {
        throw badRequest(`container "${name}" in pod "${pod.metadata.name}" is waiting to start: ${waiting.reason}`);
      }
      throw e;
    }
  }
}

async function removeLogsOfUid(logsDir: string, uid: string): Promise<void> {
  let names: string[] = [];
  try {
    names = await readdir(logsDir);
  } catch {
    return;
  }
  for (const n of names) if (n.endsWith(`_${uid}`)) await removeTree(join(logsDir, n));
}

/** hostPort mappings for every container port that asks for one. */
export function portMappings(pod: Obj): { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' | 'sctp'; hostIP?: string }[] {
  const out = [];
  for (const c of (pod.spec.containers ?? []) as Obj[]) {
    for (const p of (c.ports ?? []) as Obj[]) {
      if (!p.hostPort || pod.spec.hostNetwork) continue;
      out.push({
        hostPort: p.hostPort,
        containerPort: p.containerPort,
        protocol: String(p.protocol ?? 'TCP').toLowerCase() as 'tcp' | 'udp' | 'sctp',
        ...(p.hostIP ? { hostIP: p.hostIP } : {}),
      });
    }
  }
  return out;
}
