/**
 * fsGroup volume ownership, as the kubelet's SetVolumeOwnership (pkg/volume/volume_linux.go):
 * every file and directory of an emptyDir, configMap, secret, downwardAPI or projected volume
 * gets group fsGroup; files gain group rw (r for the read-only kinds), directories also x and
 * setgid, so what containers create later inherits the group. fsGroupChangePolicy
 * OnRootMismatch skips the walk when the volume's root already has that group and those bits.
 *
 * An emptyDir holds what containers wrote: hostile. The walk never follows a symlink and never
 * names a path twice: each entry is opened with O_PATH|O_NOFOLLOW relative to its parent's fd
 * (through /proc/self/fd/N, Node's openat), fstat'ed, and changed through its own fd, so a
 * directory swapped for a symlink mid-walk cannot redirect a chown or chmod to the host. Symlinks
 * themselves are left alone (their mode means nothing; the kubelet lchowns them). O_PATH opens
 * no file, so FIFOs and devices are inert; everything is asynchronous, off the event loop.
 * Each level of the walk holds one fd, so a container nesting directories thousands deep could
 * exhaust podbay's fds: the walk stops at MAX_DEPTH (what lies deeper is reported, not changed),
 * and walks run one at a time node-wide.
 */
import { constants, promises as fsp } from 'node:fs';

const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY } = constants;
const RW = 0o660;
const RO = 0o440;
const EXEC = 0o110;
const SETGID = 0o2000;
export const MAX_DEPTH = 128;

/** ownership of one volume could not be set (the kubelet reports it as a failed mount) */
export class FsGroupError extends Error {
  constructor(
    readonly volume: string,
    message: string,
  ) {
    super(message);
  }
}

export type FsGroupChangePolicy = 'Always' | 'OnRootMismatch';

/** the mode the kubelet gives an entry: its own mode plus group (and owner) rw or r, x and setgid for directories */
export function ownedMode(mode: number, isDir: boolean, readOnly: boolean): number {
  let mask = readOnly ? RO : RW;
  if (isDir) mask |= SETGID | EXEC;
  return (mode & 0o7777) | mask;
}

/** kubelet's requiresPermissionChange: false when the root already has the group and the bits */
export function rootNeedsChange(st: { gid: number; mode: number; isDir: boolean }, fsGroup: number, readOnly: boolean): boolean {
  if (st.gid !== fsGroup || !st.isDir) return true;
  const want = (readOnly ? RO : RW) | EXEC;
  return (st.mode & want) !== want || (st.mode & SETGID) === 0;
}

const fdPath = (fd: number, name?: string) => (name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`);

export interface FsGroupResult {
  /** entries changed */
  changed: number;
  /** directories below MAX_DEPTH that were left as they were */
  tooDeep: number;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Applies fsGroup to the tree at `root` (the volume's directory on the host, which podbay made),
 * after any walk already under way.
 */
export function applyFsGroup(root: string, fsGroup: number, opts: { readOnly: boolean; policy?: FsGroupChangePolicy; rootOnly?: boolean; maxDepth?: number }): Promise<FsGroupResult> {
  const next = queue.then(() => walk(root, fsGroup, opts));
  queue = next.catch(() => undefined);
  return next;
}

async function walk(root: string, fsGroup: number, opts: { readOnly: boolean; policy?: FsGroupChangePolicy; rootOnly?: boolean; maxDepth?: number }): Promise<FsGroupResult> {
  const maxDepth = opts.maxDepth ?? MAX_DEPTH;
  const top = await fsp.open(root, O_PATH | O_NOFOLLOW | O_DIRECTORY);
  let changed = 0;
  let tooDeep = 0;
  try {
    const st = await top.stat();
    if (opts.policy === 'OnRootMismatch' && !rootNeedsChange({ gid: st.gid, mode: st.mode, isDir: st.isDirectory() }, fsGroup, opts.readOnly)) return { changed, tooDeep };
    const visit = async (fh: fsp.FileHandle, isDir: boolean, mode: number, depth: number): Promise<void> => {
      const p = fdPath(fh.fd);
      await fsp.chown(p, -1, fsGroup);
      await fsp.chmod(p, ownedMode(mode, isDir, opts.readOnly));
      changed++;
      if (!isDir || (opts.rootOnly && fh === top)) return;
      if (depth >= maxDepth) {
        tooDeep++;
        return;
      }
      let names: string[];
      try {
        names = await fsp.readdir(p);
      } catch {
        return;
      }
      for (const name of names) {
        let child: fsp.FileHandle;
        try {
          child = await fsp.open(fdPath(fh.fd, name), O_PATH | O_NOFOLLOW);
        } catch {
          continue; // removed meanwhile
        }
        try {
          const cs = await child.stat();
          if (cs.isSymbolicLink()) continue;
          await visit(child, cs.isDirectory(), cs.mode, depth + 1);
        } finally {
          await child.close();
        }
      }
    };
    await visit(top, true, st.mode, 0);
  } finally {
    await top.close();
  }
  return { changed, tooDeep };
}

/** the volume kinds the kubelet applies fsGroup to, and whether the kind is read-only */
export function fsGroupKind(volume: Record<string, unknown>): { readOnly: boolean; remount: boolean } | undefined {
  if (volume.emptyDir) return { readOnly: false, remount: false };
  for (const k of ['configMap', 'secret', 'downwardAPI', 'projected']) if (volume[k]) return { readOnly: true, remount: true };
  return undefined;
}

/**
 * The kubelet's side: which volumes of which pod were done. An emptyDir is walked once per pod
 * (at set-up, as the kubelet mounts it once; later syncs only fix its root); the podbay-written
 * kinds after every write.
 */
export class VolumeOwnership {
  private readonly done = new Map<string, Set<string>>();

  constructor(private readonly log: (line: string) => void = () => {}) {}

  async apply(pod: Record<string, any>, volumes: ReadonlyMap<string, { hostPath: string }>): Promise<void> {
    const sc = pod.spec.securityContext ?? {};
    const fsGroup = sc.fsGroup;
    if (typeof fsGroup !== 'number') return;
    const policy: FsGroupChangePolicy = sc.fsGroupChangePolicy === 'OnRootMismatch' ? 'OnRootMismatch' : 'Always';
    let done = this.done.get(pod.metadata.uid);
    if (!done) this.done.set(pod.metadata.uid, (done = new Set()));
    for (const v of (pod.spec.volumes ?? []) as Record<string, any>[]) {
      const kind = fsGroupKind(v);
      const path = volumes.get(v.name)?.hostPath;
      if (!kind || !path) continue;
      // a done emptyDir: only its root again (set-up may have reset the root's mode), not
      // what the containers have written since
      const rootOnly = !kind.remount && done.has(v.name);
      try {
        const r = await applyFsGroup(path, fsGroup, { readOnly: kind.readOnly, policy, rootOnly });
        if (r.tooDeep) this.log(`kubelet: volume ${v.name} of pod ${pod.metadata.uid}: fsGroup ${fsGroup} not applied below ${MAX_DEPTH} levels of directories (${r.tooDeep} left as they were)`);
      } catch (e) {
        throw new FsGroupError(v.name, `applying fsGroup ${fsGroup}: ${(e as Error).message}`);
      }
      done.add(v.name);
    }
  }

  forget(uid: string): void {
    this.done.delete(uid);
  }
}
