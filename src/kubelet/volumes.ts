/**
 * Pod volumes on the host, under PODS/<uid>/volumes/<plugin>/<name>:
 *
 *   configMap, secret   the kubelet's atomic-writer layout, so a container never sees a half
 *                       update and updates propagate:
 *                         ..2026_11_27_15_00_00.123456789/   the files of one version
 *                         ..data -> ..2026_11_27_...          swapped with one rename
 *                         nginx.conf -> ..data/nginx.conf     what the user sees
 *   emptyDir            a directory that lives as long as the pod (a tmpfs with medium: Memory)
 *   hostPath            the host path itself, after the `type` check
 *
 * Missing sources fail with VolumeError (the kubelet reports FailedMount and retries).
 */
import { readFileSync, mkdirSync, writeFileSync, symlinkSync, renameSync, rmSync, readdirSync, readlinkSync, existsSync, statSync, chmodSync, lstatSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { KubeletClient } from './client.js';
import { run } from '../sys/exec.js';
import { mountsUnder } from '../sys/mountinfo.js';

type Obj = Record<string, any>;

export class VolumeError extends Error {
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(`MountVolume.SetUp failed for volume "${volume}" : ${message}`);
  }
}

interface FileEntry {
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

function sameContent(dir: string, files: FileEntry[]): boolean {
  const dataLink = join(dir, '..data');
  if (!existsSync(dataLink)) return false;
  try {
    const current = join(dir, readlinkSync(dataLink));
    const listed = new Set<string>();
    const walk = (d: string, rel: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(join(d, e.name), r);
        else listed.add(r);
      }
    };
    walk(current, '');
    if (listed.size !== files.length) return false;
    for (const f of files) {
      const p = join(current, f.path);
      if (!listed.has(f.path)) return false;
      const st = statSync(p);
      if ((st.mode & 0o777) !== (f.mode & 0o777)) return false;
      const buf = readFileSync(p);
      if (!buf.equals(f.content)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function timestampDirName(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const ns = process.hrtime.bigint() % 1_000_000_000n;
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${String(ns).padStart(9, '0')}`;
}

/** Write `files` into `dir` with the atomic-writer layout; no-op when nothing changed. Returns true if it wrote. */
export function atomicWrite(dir: string, files: FileEntry[]): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (sameContent(dir, files)) return false;
  const tsName = timestampDirName();
  const tsDir = join(dir, tsName);
  mkdirSync(tsDir, { mode: 0o755 });
  for (const f of files) {
    const p = join(tsDir, f.path);
    mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
    writeFileSync(p, f.content, { mode: f.mode & 0o777 });
    chmodSync(p, f.mode & 0o777);
  }
  const dataLink = join(dir, '..data');
  const old = existsSync(dataLink) ? readlinkSync(dataLink) : undefined;
  const tmpLink = join(dir, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(tsName, tmpLink);
  renameSync(tmpLink, dataLink);
  // user-visible names: one symlink per top-level path component
  const tops = new Set(files.map((f) => f.path.split('/')[0]));
  for (const t of tops) {
    const link = join(dir, t);
    if (!existsSync(link) && !isSymlink(link)) symlinkSync(join('..data', t), link);
  }
  for (const e of readdirSync(dir)) {
    if (e.startsWith('..')) continue;
    if (!tops.has(e)) rmSync(join(dir, e), { force: true, recursive: true });
  }
  if (old && old !== tsName) rmSync(join(dir, old), { recursive: true, force: true });
  return true;
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

export interface PreparedVolumes {
  /** volume name -> host path */
  paths: Map<string, string>;
}

/** Prepare (or refresh) every volume of a pod. */
export async function prepareVolumes(client: KubeletClient, pod: Obj, podDir: string): Promise<PreparedVolumes> {
  const paths = new Map<string, string>();
  const ns = pod.metadata.namespace;
  for (const v of (pod.spec.volumes ?? []) as Obj[]) {
    if (v.configMap) {
      const dir = join(podDir, 'volumes', 'kubernetes.io~configmap', v.name);
      const cm = await client.getConfigMap(ns, v.configMap.name);
      if (!cm) {
        if (v.configMap.optional) {
          atomicWrite(dir, []);
          paths.set(v.name, dir);
          continue;
        }
        throw new VolumeError(v.name, `configmap "${v.configMap.name}" not found`);
      }
      const data: Record<string, Buffer> = {};
      for (const [k, val] of Object.entries(cm.data ?? {})) data[k] = Buffer.from(String(val));
      for (const [k, val] of Object.entries(cm.binaryData ?? {})) data[k] = Buffer.from(String(val), 'base64');
      atomicWrite(dir, projectItems(v.name, data, v.configMap.items, v.configMap.defaultMode ?? 0o644, Boolean(v.configMap.optional)));
      paths.set(v.name, dir);
    } else if (v.secret) {
      const dir = join(podDir, 'volumes', 'kubernetes.io~secret', v.name);
      const s = await client.getSecret(ns, v.secret.secretName);
      if (!s) {
        if (v.secret.optional) {
          atomicWrite(dir, []);
          paths.set(v.name, dir);
          continue;
        }
        throw new VolumeError(v.name, `secret "${v.secret.secretName}" not found`);
      }
      const data: Record<string, Buffer> = {};
      for (const [k, val] of Object.entries(s.data ?? {})) data[k] = Buffer.from(String(val), 'base64');
      for (const [k, val] of Object.entries(s.stringData ?? {})) data[k] = Buffer.from(String(val));
      atomicWrite(dir, projectItems(v.name, data, v.secret.items, v.secret.defaultMode ?? 0o644, Boolean(v.secret.optional)));
      paths.set(v.name, dir);
    } else if (v.emptyDir) {
      const dir = join(podDir, 'volumes', 'kubernetes.io~empty-dir', v.name);
      mkdirSync(dir, { recursive: true, mode: 0o777 });
      // medium: Memory is a tmpfs, as the kubelet makes it (its size: the kernel's default)
      if (v.emptyDir.medium === 'Memory' && !mountsUnder(dir).includes(dir)) {
        await run('mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev,mode=1777', 'tmpfs', dir]);
      }
      // as the kubelet's setupDir: only the permission bits, so fsGroup's setgid stays
      if ((statSync(dir).mode & 0o777) !== 0o777) chmodSync(dir, 0o777);
      paths.set(v.name, dir);
    } else if (v.hostPath) {
      paths.set(v.name, checkHostPath(v.name, v.hostPath.path, v.hostPath.type ?? ''));
    } else {
      const kind = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
      throw new VolumeError(v.name, `volume type ${kind} is not supported by podbay yet (supported: configMap, secret, emptyDir, hostPath)`);
    }
  }
  return { paths };
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
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, '', { mode: 0o644 });
      } else if (!st.isFile()) fail('file');
      break;
    case 'File':
      if (!st?.isFile()) fail('file');
      break;
    case 'Socket':
      if (!st?.isSocket()) fail('socket');
      break;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) fail('character device');
      break;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) fail('block device');
      break;
    default:
      throw new VolumeError(volume, `hostPath type ${JSON.stringify(type)} is not supported`);
  }
  return path;
}

/** Remove a pod's volume dirs, unmounting what is mounted there first (tmpfs emptyDirs). */
export async function releaseVolumes(podDir: string): Promise<void> {
  for (const mp of mountsUnder(podDir)) {
    const r = await run('umount', [mp], { allowFailure: true });
    if (r.code !== 0) await run('umount', ['-l', mp], { allowFailure: true });
  }
  rmSync(podDir, { recursive: true, force: true });
}
