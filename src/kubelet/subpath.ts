/**
 * volumeMounts[].subPath, as the kubelet does it since CVE-2021-25741:
 *
 *   the subPath is walked under the volume root component by component without the kernel
 *   following any link (src/sys/safe-open.ts); a link is followed only while it stays inside
 *   the volume, missing directories are created on the way, and the final fd is bind-mounted
 *   (mount --no-canonicalize --bind /proc/<pid>/fd/N) onto a podbay-owned target,
 *       PODS/<uid>/volume-subpaths/<volume>/<container>/<index>
 *   which the runtime mounts into the container. The container meanwhile can swap any
 *   component for a link to the host: the bind follows the fd, not a path.
 *
 * A subPath that escapes fails the container (CreateContainerConfigError) with the kubelet's
 * words, which name no host path; the detail goes to podbay's log. The binds go with the pod
 * (releaseVolumes unmounts everything under PODS/<uid>) and are re-made for every new run.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { run } from '../sys/exec.js';
import { readMountinfoAsync, mountsUnder } from '../sys/mountinfo.js';
import { openDirHandle, resolveUnder } from '../sys/safe-open.js';
import { expand } from './container-args.js';
import { ConfigError } from './env.js';

export interface SubPathRequest {
  /** the volume's directory on the host */
  volumeRoot: string;
  /** whether the volume root itself may be reached through a link (hostPath: as the admin wrote it) */
  followRoot: boolean;
  subPath: string;
  podDir: string;
  volume: string;
  container: string;
  /** the volumeMount's index in the container */
  index: number;
}

/** The subPath of a mount: `subPath`, or `subPathExpr` expanded with the container's env. */
export function subPathOf(mount: { name: string; subPath?: string; subPathExpr?: string }, env: { name: string; value: string }[]): string {
  if (!mount.subPathExpr) return mount.subPath ?? '';
  const map = new Map(env.map((e) => [e.name, e.value]));
  const missing = new Set<string>();
  const out = expand(mount.subPathExpr, (name) => {
    const v = map.get(name);
    if (v === undefined || v === '') missing.add(name);
    return v ?? '';
  });
  // the kubelet's ExpandContainerVolumeMounts
  if (missing.size) throw new ConfigError(`missing value for ${[...missing].sort().join(', ')}`);
  return out;
}

/** The kubelet's lexical checks (makeMounts): no absolute path, no `..` component. */
export function checkSubPathLexically(subPath: string): void {
  if (subPath.startsWith('/')) throw new ConfigError(`error SubPath \`${subPath}\` must not be an absolute path`);
  if (subPath.split('/').includes('..')) throw new ConfigError(`unable to provision SubPath \`${subPath}\`: must not contain '..'`);
}

export function subPathTarget(podDir: string, volume: string, container: string, index: number): string {
  return join(podDir, 'volume-subpaths', volume, container, String(index));
}

/**
 * Resolve the subPath safely and bind it onto its target; returns the target. Throws
 * ConfigError (the kubelet's message) when the subPath escapes or cannot be prepared.
 */
export async function bindSubPath(req: SubPathRequest, log: (line: string) => void = () => {}): Promise<string> {
  checkSubPathLexically(req.subPath);
  const fail = (e: unknown): never => {
    log(`kubelet: subPath ${JSON.stringify(req.subPath)} of volume ${req.volume} for container ${req.container}: ${(e as Error).message}`);
    // no detail for the user: it could tell about the host's filesystem (the kubelet's reasoning)
    throw new ConfigError(`failed to prepare subPath for volumeMount "${req.volume}" of container "${req.container}"`);
  };
  let root;
  try {
    root = await openDirHandle(req.volumeRoot, req.followRoot);
  } catch (e) {
    return fail(e);
  }
  try {
    const rootMode = (await root.stat()).mode & 0o7777;
    let resolved;
    try {
      resolved = await resolveUnder(root, req.subPath, { links: 'within', createDirsMode: rootMode });
    } catch (e) {
      return fail(e);
    }
    try {
      const target = subPathTarget(req.podDir, req.volume, req.container, req.index);
      await prepareTarget(target, resolved.stat.isDirectory());
      // --no-canonicalize: mount(8) must not resolve the source path itself; the kernel follows
      // the magic link to exactly the inode the fd holds
      await run('mount', ['--no-canonicalize', '--bind', `/proc/${process.pid}/fd/${resolved.handle.fd}`, target]).catch(fail);
      return target;
    } finally {
      await resolved.handle.close();
    }
  } finally {
    await root.close();
  }
}

/** An empty mount point of the right kind, unmounting what an earlier run left bound there. */
async function prepareTarget(target: string, directory: boolean): Promise<void> {
  await fsp.mkdir(join(target, '..'), { recursive: true, mode: 0o750 });
  for (const mp of mountsUnder(target, await readMountinfoAsync())) {
    const r = await run('umount', [mp], { allowFailure: true });
    if (r.code !== 0) await run('umount', ['-l', mp]);
  }
  const st = await fsp.lstat(target).catch(() => undefined);
  if (st && st.isDirectory() === directory && !st.isSymbolicLink()) return;
  if (st) await fsp.rm(target, { recursive: false, force: true }).catch(() => fsp.rmdir(target));
  if (directory) await fsp.mkdir(target, { mode: 0o750 });
  else await fsp.writeFile(target, '', { flag: 'wx', mode: 0o640 });
}

