/**
 * Local ephemeral storage eviction, as the kubelet's eviction manager does it
 * (localStorageEviction): every interval the pods that declare an emptyDir `sizeLimit` or an
 * `ephemeral-storage` limit are measured, and the first of these that is exceeded evicts the
 * pod (phase Failed, reason Evicted, the kubelet's message, a Warning Evicted event):
 *
 *   1. an emptyDir volume's usage over its sizeLimit
 *        Usage of EmptyDir volume "cache" exceeds the limit "1Mi".
 *   2. the pod's usage (containers' writable layers and logs, emptyDir volumes on disk) over
 *      the sum of its containers' limits
 *        Pod ephemeral local storage usage exceeds the total limit of containers 4Mi.
 *   3. one container's writable layer and logs over its own limit
 *        Container app exceeded its local ephemeral storage limit "2Mi".
 *
 * Everything measured is written by containers, so it is measured as the kubelet does, by
 * `du -x -s -B 1` in a child process (never on the event loop): du does not follow symlinks,
 * stays on one file system and counts blocks (a sparse file costs what it occupies).
 */
import { join } from 'node:path';
import type { Obj } from '../api/types.js';
import { formatQuantity, parseQuantity } from '../api/validation/quantity.js';
import { run } from '../sys/exec.js';
import { bytesValue } from './qos.js';
import { podLogDir } from './logs.js';
import type { ContainerStatus, Runtime } from '../runtime/types.js';

export interface PodStorageUsage {
  /** bytes used by each emptyDir volume, by name */
  emptyDirs: Record<string, number>;
  /** bytes of each container's writable layer and logs, by name */
  containers: Record<string, { rootfs: number; logs: number }>;
}

/** The kubelet's eviction reason and the trailing space its messages carry. */
export const EVICTED = 'Evicted';

/** Whether a pod has anything local storage eviction looks at. */
export function hasStorageLimits(pod: Obj): boolean {
  const vols = (pod.spec?.volumes ?? []) as Obj[];
  const ctrs = [...((pod.spec?.containers ?? []) as Obj[]), ...((pod.spec?.initContainers ?? []) as Obj[])];
  return vols.some((v) => v.emptyDir && bytesValue(v.emptyDir.sizeLimit) > 0) || ctrs.some((c) => bytesValue(c.resources?.limits?.['ephemeral-storage']) > 0);
}

/** Quantity.String() of a byte count, in the format of the quantity it was summed from. */
function bytesString(bytes: number, like: unknown): string {
  const format = parseQuantity(like)?.format ?? 'BinarySI';
  return formatQuantity({ num: BigInt(bytes), den: 1n, format });
}

/** The kubelet's eviction message for a pod's storage usage, or undefined when it is within its limits. */
export function storageEvictionMessage(pod: Obj, usage: PodStorageUsage): string | undefined {
  const vols = (pod.spec?.volumes ?? []) as Obj[];
  for (const v of vols) {
    const limit = v.emptyDir ? bytesValue(v.emptyDir.sizeLimit) : 0;
    if (limit > 0 && (usage.emptyDirs[v.name] ?? 0) > limit) return `Usage of EmptyDir volume "${v.name}" exceeds the limit "${v.emptyDir.sizeLimit}". `;
  }
  const apps = (pod.spec?.containers ?? []) as Obj[];
  const limitOf = (c: Obj) => bytesValue(c.resources?.limits?.['ephemeral-storage']);
  // resource.PodLimits: the app containers' sum, or a larger init container's
  let podLimit = apps.reduce((n, c) => n + limitOf(c), 0);
  for (const c of (pod.spec?.initContainers ?? []) as Obj[]) podLimit = Math.max(podLimit, limitOf(c));
  if (podLimit > 0) {
    const onDisk = vols.filter((v) => v.emptyDir && v.emptyDir.medium !== 'Memory').reduce((n, v) => n + (usage.emptyDirs[v.name] ?? 0), 0);
    const used = Object.values(usage.containers).reduce((n, c) => n + c.rootfs + c.logs, onDisk);
    const like = [...apps].find((c) => limitOf(c) > 0)?.resources?.limits?.['ephemeral-storage'];
    if (used > podLimit) return `Pod ephemeral local storage usage exceeds the total limit of containers ${bytesString(podLimit, like)}. `;
  }
  for (const c of apps) {
    const limit = limitOf(c);
    const u = usage.containers[c.name];
    if (limit > 0 && u && u.rootfs + u.logs > limit) return `Container ${c.name} exceeded its local ephemeral storage limit "${c.resources.limits['ephemeral-storage']}". `;
  }
  return undefined;
}

/** Blocks used under `dir` (du -x -s -B 1: no symlinks followed, one file system); 0 when it is gone. */
export async function diskUsage(dir: string): Promise<number> {
  const r = await run('du', ['-x', '-s', '-B', '1', dir], { allowFailure: true, timeoutMs: 60_000 });
  // du reports what it could read even when a file vanished under it (exit 1)
  const n = Number(/^(\d+)\s/.exec(r.stdout)?.[1]);
  return Number.isFinite(n) ? n : 0;
}

/** Where the kubelet keeps a pod's emptyDir volume (volumes.ts lays them out so). */
export function emptyDirPath(podsDir: string, uid: string, name: string): string {
  return join(podsDir, uid, 'volumes', 'kubernetes.io~empty-dir', name);
}

export interface StorageEvictionOptions {
  /** the pods to look at (those bound here, not terminal, not being deleted) */
  pods: () => Obj[];
  /** measures a pod (I/O lives with the caller, which knows the runtime and the dirs) */
  measure: (pod: Obj) => Promise<PodStorageUsage>;
  evict: (pod: Obj, message: string) => void;
  intervalMs?: number;
  log?: (line: string) => void;
}

/** The periodic loop: one pass at a time, every interval (the kubelet's housekeeping is 10 s). */
export class StorageEviction {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly o: StorageEvictionOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.pass(), this.o.intervalMs ?? 5000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async pass(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const pod of this.o.pods()) {
        if (!hasStorageLimits(pod)) continue;
        try {
          const message = storageEvictionMessage(pod, await this.o.measure(pod));
          if (message) this.o.evict(pod, message);
        } catch (e) {
          this.o.log?.(`eviction: measuring pod ${pod.metadata?.namespace}/${pod.metadata?.name}: ${(e as Error).message}`);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/** What a pod uses now: its emptyDirs, and each container's newest run (writable layer + logs). */
export async function measurePodStorage(
  pod: Obj,
  o: { runtime: Pick<Runtime, 'listPodSandboxes' | 'listContainers' | 'containerWritableLayer'>; podsDir: string; logsDir: string },
): Promise<PodStorageUsage> {
  const uid: string = pod.metadata.uid;
  const usage: PodStorageUsage = { emptyDirs: {}, containers: {} };
  for (const v of (pod.spec?.volumes ?? []) as Obj[]) if (v.emptyDir) usage.emptyDirs[v.name] = await diskUsage(emptyDirPath(o.podsDir, uid, v.name));
  const logs = podLogDir(o.logsDir, pod.metadata.namespace, pod.metadata.name, uid);
  for (const s of (await o.runtime.listPodSandboxes()).filter((x) => x.config.podUid === uid)) {
    const newest = new Map<string, ContainerStatus>();
    for (const c of await o.runtime.listContainers(s.id)) {
      const prev = newest.get(c.config.name);
      if (!prev || c.config.restartCount > prev.config.restartCount) newest.set(c.config.name, c);
    }
    for (const [name, c] of newest) {
      const layer = await o.runtime.containerWritableLayer?.(c.id);
      usage.containers[name] = { rootfs: layer ? await diskUsage(layer) : 0, logs: await diskUsage(join(logs, name)) };
    }
  }
  return usage;
}

/** The status of an evicted pod, over what the containers say: Failed/Evicted and a DisruptionTarget condition. */
export function evictedStatus(status: Obj, message: string, now: string): Obj {
  const conditions = ((status.conditions ?? []) as Obj[]).filter((c) => c.type !== 'DisruptionTarget');
  conditions.push({ type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: now, reason: 'TerminationByKubelet', message });
  return { ...status, phase: 'Failed', reason: EVICTED, message, conditions };
}
