/**
 * Pod volumes on the host, under PODS/<uid>/volumes/<plugin>/<name>:
 *
 *   configMap, secret   the kubelet's atomic-writer layout, so a container never sees a half
 *                       update and updates propagate:
 *                         ..2026_11_27_15_00_00.123456789/   the files of one version
 *                         ..data -> ..2026_11_27_...          swapped with one rename
 *                         nginx.conf -> ..data/nginx.conf     what the user sees
 *                       mounted read-only into every container whatever the pod says (as the
 *                       kubelet does); a secret's dir is a tmpfs, so secrets never reach the disk
 *   emptyDir            a directory that lives as long as the pod (a tmpfs with medium: Memory,
 *                       sized as the kubelet sizes it: emptyDirMemorySize)
 *   hostPath            the host path itself, after the `type` check
 *   persistentVolumeClaim  the bound PersistentVolume's path (claim-volume.ts)
 *
 * The atomic writer never trusts what is in the volume dir (CVE-2017-1002102): it compares the
 * wanted content with what it wrote last (a digest in memory), and keeps, outside the volume
 * (PODS/<uid>/volume-records/<plugin>/<name>.json), the names of the timestamped dirs it made
 * and of the user-visible links; it only ever removes those, checked with lstat, and never
 * reads `..data` back. Everything is done relative to an fd on the volume dir, asynchronously,
 * but the check that a volume is unchanged: an lstat of the version dir it wrote last, by path
 * (the dir is podbay's own mount point; lstat does not follow a link put at that name).
 *
 * Missing sources fail with VolumeError (the kubelet reports FailedMount and retries).
 */
import { createHash } from 'node:crypto';
import { constants, promises as fsp, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { KubeletClient } from './client.js';
import { run } from '../sys/exec.js';
import { createModeExact, removeTree, writeFileAtomic } from '../sys/fs.js';
import { currentMountPoints, currentMountsUnder } from '../sys/mountinfo.js';
import { fdPath, openDirHandle, resolveUnder } from '../sys/safe-open.js';
import { downwardFile, DownwardError, type DownwardContext } from './downward.js';
import { claimVolume } from './claim-volume.js';
import { podCgroupConfig } from './qos.js';
import { bytesValue } from '../api/pod-resources.js';
import { VolumeError } from './volume-error.js';

import { osErrorText } from '../sys/os-error.js';
import { byString } from '../api/order.js';

type Obj = Record<string, any>;

export { VolumeError } from './volume-error.js';

export interface FileEntry {
  path: string;
  content: Buffer;
  mode: number;
}

function projectItems(volume: string, data: Record<string, Buffer>, items: Obj[] | undefined, defaultMode: number, optional: boolean): FileEntry[] {
  if (!items || items.length === 0) {
    return Object.keys(data)
      .sort()
      .map((k) => ({ path: k, content: data[k], mode: defaultMode }));
  }
  const out: FileEntry[] = [];
  for (const it of items) {
    if (!(it.key in data)) {
      if (optional) continue;
      throw new VolumeError(volume, `configmap references non-existent config key: ${it.key}`);
    }
    out.push({ path: it.path, content: data[it.key], mode: it.mode ?? defaultMode });
  }
  return out;
}

const TS_DIR_RE = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d{9}$/;

function timestampDirName(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const ns = process.hrtime.bigint() % 1_000_000_000n;
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${String(ns).padStart(9, '0')}`;
}

/** What the atomic writer made in one volume dir, kept outside it. */
interface WriterRecord {
  /** the timestamped dirs podbay made (the newest is the one `..data` names) */
  made: string[];
  /** the user-visible links podbay made */
  tops: string[];
}

/**
 * Digest of what was last written to each volume dir, and the version dir it went into. In
 * memory only: a secret's hash never reaches the disk; after a restart each volume is written
 * once more (same content, new dir).
 */
const written = new Map<string, { digest: string; version: string }>();

function digestOf(files: FileEntry[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => byString(a.path, b.path))) {
    h.update(`${f.path}\0${f.mode & 0o7777}\0${f.content.length}\0`);
    h.update(f.content);
  }
  return h.digest('hex');
}

async function readRecord(path: string): Promise<WriterRecord> {
  try {
    const r = JSON.parse(await fsp.readFile(path, 'utf8'));
    return { made: (r.made ?? []).filter((n: unknown) => typeof n === 'string' && TS_DIR_RE.test(n)), tops: (r.tops ?? []).filter((n: unknown) => typeof n === 'string') };
  } catch {
    return { made: [], tops: [] };
  }
}

async function saveRecord(path: string, r: WriterRecord): Promise<void> {
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o750 });
  await writeFileAtomic(path, JSON.stringify(r), 0o600);
}

/** The kubelet's atomic writer path rules: relative, no `..`, not starting with `..`. */
function checkFilePath(volume: string, p: string): string[] {
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (p.startsWith('/') || parts.length === 0 || parts.includes('..') || parts[0].startsWith('..')) throw new VolumeError(volume, `invalid path ${JSON.stringify(p)} for a projected file`);
  return parts;
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Write `files` into `dir` with the atomic-writer layout; a no-op when it is what podbay wrote
 * last. `recordPath` is podbay's record of what it made there (never inside `dir`).
 * Returns true if it wrote.
 */
export async function atomicWrite(dir: string, files: FileEntry[], recordPath: string, volume = dir): Promise<boolean> {
  const digest = digestOf(files);
  // unchanged since this process wrote it (every resync): one lstat of the version dir, which
  // podbay made in the dir it made (lstat does not follow a link a container put there)
  const last = written.get(dir);
  if (last?.digest === digest && (await fsp.lstat(join(dir, last.version)).catch(() => undefined))?.isDirectory()) return false;
  // the dir is made only when it is not there yet (prepareVolumes makes it first)
  const dirHandle = await openDirHandle(dir, false).catch(async (e) => {
    if (errno(e) !== 'ENOENT') throw e;
    await fsp.mkdir(dirname(dir), { recursive: true, mode: 0o750 });
    await fsp.mkdir(dir, { mode: 0o755 }).catch((err) => {
      if (errno(err) !== 'EEXIST') throw err;
    });
    return openDirHandle(dir, false);
  });
  const record = await readRecord(recordPath); // never throws: unreadable is empty
  const at = (name: string) => fdPath(dirHandle.fd, name);
  const lstat = (name: string) => fsp.lstat(at(name)).catch(() => undefined);
  try {
    const paths = files.map((f) => checkFilePath(volume, f.path));

    // 1. the new version, in a dir of its own, recorded before anything can point at it; but
    // not when there is no record and the dir is empty (a pod's first write): nothing there to
    // clean up later but this version, and writing the record twice is an inode allocated and
    // one freed (docs/performance.md). A crash before step 4 then leaves this one directory
    // unrecorded in the volume, which goes with the pod.
    const first = record.made.length === 0 && record.tops.length === 0 && (await fsp.readdir(fdPath(dirHandle.fd))).length === 0;
    const tsName = timestampDirName();
    await fsp.mkdir(at(tsName), { mode: 0o755 });
    record.made.push(tsName);
    if (!first) await saveRecord(recordPath, record);
    // mkdir's and open's modes are cut by the umask: a chmod only when that changes them
    if (!createModeExact(0o755)) await fsp.chmod(at(tsName), 0o755);
    const ts = await openDirHandle(at(tsName), false);
    try {
      for (let i = 0; i < files.length; i++) {
        const parts = paths[i];
        // a file at the top goes straight into the new dir; deeper ones through their subdirs
        const parent = parts.length > 1 ? (await resolveUnder(ts, parts.slice(0, -1).join('/'), { links: 'refuse', createDirsMode: 0o755 })).handle : undefined;
        try {
          const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
          const fh = await fsp.open(fdPath((parent ?? ts).fd, parts[parts.length - 1]), flags, files[i].mode & 0o777);
          try {
            await fh.writeFile(files[i].content);
            if (!createModeExact(files[i].mode)) await fh.chmod(files[i].mode & 0o7777);
          } finally {
            await fh.close();
          }
        } finally {
          await parent?.close();
        }
      }
    } finally {
      await ts.close();
    }

    // 2. swap ..data with one rename (a rename replaces a link, never follows one); in a dir
    // that was empty a moment ago there is no ..data_tmp left over to remove
    if (!first) {
      await fsp.unlink(at('..data_tmp')).catch((e) => {
        if (errno(e) !== 'ENOENT') throw new VolumeError(volume, `cannot remove ..data_tmp: ${(e as Error).message}`);
      });
    }
    await fsp.symlink(tsName, at('..data_tmp'));
    await fsp.rename(at('..data_tmp'), at('..data')).catch((e) => {
      throw new VolumeError(volume, `cannot replace ..data: ${(e as Error).message}`);
    });

    // 3. user-visible links: new ones made; those podbay made for keys now gone unlinked
    const tops = [...new Set(paths.map((p) => p[0]))];
    // symlink(2) never follows what is at the name: EEXIST leaves the link already there
    for (const t of tops) {
      await fsp.symlink(`..data/${t}`, at(t)).catch((e) => {
        if (errno(e) !== 'EEXIST') throw e;
      });
    }
    for (const t of record.tops) {
      if (tops.includes(t)) continue;
      if ((await lstat(t))?.isSymbolicLink()) await fsp.unlink(at(t)).catch(() => {});
    }

    // 4. the versions podbay made before, if they are still its directories
    for (const old of record.made.filter((n) => n !== tsName)) {
      const st = await lstat(old);
      if (st?.isDirectory()) await fsp.rm(at(old), { recursive: true, force: true });
    }
    await saveRecord(recordPath, { made: [tsName], tops });
    written.set(dir, { digest, version: tsName });
    return true;
  } finally {
    await dirHandle.close();
  }
}

/** Forget the digests of the volumes under a pod dir (the pod is gone). */
function forgetWritten(podDir: string): void {
  for (const d of written.keys()) if (d.startsWith(podDir + '/')) written.delete(d);
}

export interface PreparedVolume {
  /** the volume's directory (or file, for a hostPath) on the host */
  hostPath: string;
  /** mounted read-only whatever volumeMounts[].readOnly says (configMap, secret) */
  forceReadOnly: boolean;
  /** the path is the admin's own (hostPath): links in it are the host's to follow */
  hostOwned: boolean;
}

export interface PreparedVolumes {
  volumes: Map<string, PreparedVolume>;
}

/** podbay's record of what its atomic writer made in a volume dir, outside that dir */
function recordPathOf(podDir: string, plugin: string, name: string): string {
  return join(podDir, 'volume-records', plugin, `${name}.json`);
}

/** Is `dir` itself a mount point now? */
async function mounted(dir: string): Promise<boolean> {
  return (await currentMountPoints()).has(dir);
}

/**
 * The size of a medium: Memory emptyDir's tmpfs, as the kubelet's calculateEmptyDirMemorySize
 * (SizeMemoryBackedVolumes, on since 1.22): the node's allocatable memory, lowered to the pod's
 * memory limit (its cgroup's: ResourceConfigForPod, set when the pod is Guaranteed or every app
 * container has a memory limit), then to the volume's sizeLimit; each only when it is positive
 * and no larger. 0: no size (the kernel's default, half of RAM).
 */
export function emptyDirMemorySize(pod: Obj, emptyDir: Obj, allocatableMemoryBytes: number): number {
  let size = allocatableMemoryBytes;
  const podLimit = podCgroupConfig(pod).resources.memoryLimitBytes ?? 0;
  if (podLimit > 0 && podLimit <= size) size = podLimit;
  const sizeLimit = bytesValue(emptyDir.sizeLimit);
  if (sizeLimit > 0 && sizeLimit <= size) size = sizeLimit;
  return size;
}

/** Prepare (or refresh) every volume of a pod. */
export async function prepareVolumes(client: KubeletClient, pod: Obj, podDir: string, downward: DownwardContext): Promise<PreparedVolumes> {
  const volumes = new Map<string, PreparedVolume>();
  const ns = pod.metadata.namespace;
  const projected = async (name: string, plugin: string, files: () => Promise<FileEntry[]>, beforeWrite?: (dir: string) => Promise<void>) => {
    const dir = join(podDir, 'volumes', plugin, name);
    const wanted = await files();
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
      await beforeWrite?.(dir);
      await atomicWrite(dir, wanted, recordPathOf(podDir, plugin, name), name);
    } catch (e) {
      // any failure to set the volume up is the kubelet's FailedMount, retried
      throw e instanceof VolumeError ? e : new VolumeError(name, osErrorText(e));
    }
    volumes.set(name, { hostPath: dir, forceReadOnly: true, hostOwned: false });
  };
  for (const v of (pod.spec.volumes ?? []) as Obj[]) {
    // any failure to set a volume up (a hostPath that cannot be created, a tmpfs mount refused)
    // is the kubelet's FailedMount for that volume, retried: never an error of the whole sync
    await prepareVolume(v).catch((e: unknown) => {
      throw e instanceof VolumeError ? e : new VolumeError(v.name, osErrorText(e));
    });
  }
  return { volumes };

  async function prepareVolume(v: Obj): Promise<void> {
    if (v.configMap) {
      await projected(v.name, 'kubernetes.io~configmap', () => configMapFiles(client, ns, v.name, v.configMap, v.configMap.defaultMode ?? 0o644));
    } else if (v.secret) {
      await projected(v.name, 'kubernetes.io~secret', () => secretFiles(client, ns, v.name, v.secret.secretName, v.secret, v.secret.defaultMode ?? 0o644), memoryBacked);
    } else if (v.downwardAPI) {
      await projected(v.name, 'kubernetes.io~downward-api', async () => downwardFiles(pod, v.name, v.downwardAPI.items, v.downwardAPI.defaultMode ?? 0o644, downward), memoryBacked);
    } else if (v.projected) {
      await projected(v.name, 'kubernetes.io~projected', () => projectedFiles(client, pod, v.name, v.projected, downward), memoryBacked);
    } else if (v.emptyDir) {
      const dir = join(podDir, 'volumes', 'kubernetes.io~empty-dir', v.name);
      await fsp.mkdir(dir, { recursive: true, mode: 0o777 });
      // medium: Memory is a tmpfs, as the kubelet makes it, sized as its SizeMemoryBackedVolumes does
      if (v.emptyDir.medium === 'Memory' && !(await mounted(dir))) {
        const size = emptyDirMemorySize(pod, v.emptyDir, bytesValue(downward.allocatable.memory));
        await run('mount', ['-t', 'tmpfs', '-o', `nosuid,nodev,mode=1777${size > 0 ? `,size=${size}` : ''}`, 'tmpfs', dir]);
      }
      // as the kubelet's setupDir: only the permission bits, so fsGroup's setgid stays
      if (((await fsp.stat(dir)).mode & 0o777) !== 0o777) await fsp.chmod(dir, 0o777);
      volumes.set(v.name, { hostPath: dir, forceReadOnly: false, hostOwned: false });
    } else if (v.hostPath) {
      volumes.set(v.name, { hostPath: checkHostPath(v.name, v.hostPath.path, v.hostPath.type ?? ''), forceReadOnly: false, hostOwned: true });
    } else if (v.persistentVolumeClaim || v.ephemeral) {
      const c = await claimVolume(client, pod, v);
      volumes.set(v.name, { hostPath: c.hostPath ? checkHostPath(v.name, c.hostPath.path, c.hostPath.type) : c.localPath, forceReadOnly: c.forceReadOnly, hostOwned: c.hostOwned });
    } else {
      const kind = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
      throw new VolumeError(v.name, `volume type ${kind} is not supported by podbay yet (supported: configMap, secret, downwardAPI, projected, emptyDir, hostPath, persistentVolumeClaim, ephemeral)`);
    }
  }
}

/** memory-backed, as the kubelet's secret, downwardAPI and projected volumes: never on the data disk */
async function memoryBacked(dir: string): Promise<void> {
  if (!(await mounted(dir))) await run('mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,mode=0755', 'tmpfs', dir]);
}

async function configMapFiles(client: KubeletClient, ns: string, volume: string, src: Obj, defaultMode: number): Promise<FileEntry[]> {
  const cm = await client.getConfigMap(ns, src.name);
  if (!cm) {
    if (src.optional) return [];
    throw new VolumeError(volume, `configmap "${src.name}" not found`);
  }
  const data: Record<string, Buffer> = {};
  for (const [k, val] of Object.entries(cm.data ?? {})) data[k] = Buffer.from(String(val));
  for (const [k, val] of Object.entries(cm.binaryData ?? {})) data[k] = Buffer.from(String(val), 'base64');
  return projectItems(volume, data, src.items, defaultMode, Boolean(src.optional));
}

async function secretFiles(client: KubeletClient, ns: string, volume: string, name: string, src: Obj, defaultMode: number): Promise<FileEntry[]> {
  const s = await client.getSecret(ns, name);
  if (!s) {
    if (src.optional) return [];
    throw new VolumeError(volume, `secret "${name}" not found`);
  }
  const data: Record<string, Buffer> = {};
  for (const [k, val] of Object.entries(s.data ?? {})) data[k] = Buffer.from(String(val), 'base64');
  for (const [k, val] of Object.entries(s.stringData ?? {})) data[k] = Buffer.from(String(val));
  return projectItems(volume, data, src.items, defaultMode, Boolean(src.optional));
}

/** downwardAPI items as files (downward.ts computes each value); a bad reference is FailedMount */
export function downwardFiles(pod: Obj, volume: string, items: Obj[] | undefined, defaultMode: number, ctx: DownwardContext): FileEntry[] {
  return (items ?? []).map((it) => {
    try {
      return { path: it.path, content: downwardFile(pod, it, ctx), mode: it.mode ?? defaultMode };
    } catch (e) {
      throw e instanceof DownwardError ? new VolumeError(volume, e.message) : e;
    }
  });
}

/**
 * A projected volume: its sources' files in one directory, in source order (a later source's
 * file of the same path wins, as the kubelet's collectData map does). A serviceAccountToken is
 * the pod's bound token (token-manager.ts: requested through the API, refreshed at 80% of its
 * life, so a resync rewrites the file in time). clusterTrustBundle has nothing to come from
 * (no ClusterTrustBundles): refused by name rather than mounted without it.
 */
async function projectedFiles(client: KubeletClient, pod: Obj, volume: string, p: Obj, ctx: DownwardContext): Promise<FileEntry[]> {
  const ns = pod.metadata.namespace;
  const mode = p.defaultMode ?? 0o644;
  const byPath = new Map<string, FileEntry>();
  for (const src of (p.sources ?? []) as Obj[]) {
    let files: FileEntry[];
    if (src.configMap) files = await configMapFiles(client, ns, volume, src.configMap, mode);
    else if (src.secret) files = await secretFiles(client, ns, volume, src.secret.name, src.secret, mode);
    else if (src.downwardAPI) files = downwardFiles(pod, volume, src.downwardAPI.items, mode, ctx);
    else if (src.serviceAccountToken) files = [await tokenFile(client, pod, volume, src.serviceAccountToken, mode)];
    else if (src.clusterTrustBundle) throw new VolumeError(volume, 'projected source clusterTrustBundle is not supported by podbay: it serves no ClusterTrustBundle API');
    else throw new VolumeError(volume, `projected source ${Object.keys(src)[0] ?? '(empty)'} is not supported by podbay`);
    for (const f of files) byPath.set(f.path, f);
  }
  return [...byPath.values()];
}

async function tokenFile(client: KubeletClient, pod: Obj, volume: string, projection: Obj, mode: number): Promise<FileEntry> {
  try {
    return { path: projection.path, content: Buffer.from(await client.serviceAccountToken(pod, projection)), mode };
  } catch (e) {
    throw new VolumeError(volume, `failed to fetch token: ${(e as Error).message}`);
  }
}

function checkHostPath(volume: string, path: string, type: string): string {
  const st = (() => {
    try {
      return statSync(path);
    } catch {
      return undefined;
    }
  })();
  const fail = (what: string) => {
    throw new VolumeError(volume, `hostPath type check failed: ${path} is not a ${what}`);
  };
  switch (type) {
    case '':
      break;
    case 'DirectoryOrCreate':
      if (!st) mkdirSync(path, { recursive: true, mode: 0o755 });
      else if (!st.isDirectory()) fail('directory');
      break;
    case 'Directory':
      if (!st?.isDirectory()) fail('directory');
      break;
    case 'FileOrCreate':
      if (!st) {
        // as the kubelet's makeFile (O_CREATE, 0644): the parent is not created ("FileOrCreate
        // mode does not create the parent directory of the file", the hostPath docs say)
        try {
          writeFileSync(path, '', { mode: 0o644, flag: 'a' });
        } catch (e) {
          throw new VolumeError(volume, `open ${path}: ${errno(e) === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
        }
      } else if (!st.isFile()) fail('file');
      break;
    case 'File':
      if (!st?.isFile()) fail('file');
      break;
    case 'Socket':
      if (!st?.isSocket()) fail('socket file');
      break;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) fail('character device');
      break;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) fail('block device');
      break;
    default:
      throw new VolumeError(volume, `${type} is an invalid volume type`);
  }
  return path;
}

/**
 * Remove a pod's volume dirs, unmounting what is mounted there first (tmpfs emptyDirs and
 * secrets, subPath binds). Nothing is removed while anything is still mounted below the pod
 * dir: a recursive remove through a bind would delete what it shows (the host's files).
 */
export async function releaseVolumes(podDir: string): Promise<void> {
  // each read starts after the call; pods torn down together share one (a burst's teardown)
  for (const mp of await currentMountsUnder(podDir)) {
    const r = await run('umount', [mp], { allowFailure: true });
    if (r.code !== 0) await run('umount', ['-l', mp], { allowFailure: true });
  }
  const left = await currentMountsUnder(podDir);
  if (left.length) throw new Error(`cannot remove ${podDir}: still mounted: ${left.join(', ')}`);
  forgetWritten(podDir);
  await removeTree(podDir);
}
