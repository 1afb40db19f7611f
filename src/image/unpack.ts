/**
 * Unpack one layer tarball into a directory an overlay mount can use as a lowerdir: the layer's
 * own files only, with OCI whiteouts turned into their overlayfs form.
 *
 *   .wh.NAME        -> NAME as a character device 0:0   (overlayfs: "this name is deleted")
 *   .wh..wh..opq    -> the directory gets xattr trusted.overlay.opaque=y (hide lower contents)
 *   .wh..wh.OTHER   -> dropped (aufs bookkeeping)
 *
 * node-tar writes regular files, directories, symlinks and hardlinks (refusing paths that
 * escape the target, hardlinks that climb out or pass through a symlink, and writing through
 * symlinks); device nodes, FIFOs and whiteouts are filtered out of its stream and made afterwards
 * with mknod(1) and setfattr(1), after checking that no parent on the way is a symlink. node-tar
 * forces u+rwx on directories and lets chown clear set-id bits, so the exact modes from the
 * archive are applied last.
 *
 * Symlink targets are stored exactly as written: `/bin/sh -> /bin/busybox` (Alpine) or
 * `a -> ../../..` are resolved inside the container's root at run time, never on the host, so
 * they are legitimate. node-tar would strip the "/" (breaking the link) and refuse a target that
 * climbs, so each symlink is first written with a placeholder target unique to its entry, and
 * the placeholder is swapped for the real target (symlink to a temporary name + rename, never
 * following anything) once node-tar is done. The safety is that nothing is ever written through
 * a link, whatever it names: node-tar refuses a later entry under a symlinked parent, and every
 * step here checks its parents with lstat.
 *
 * The layer is unpacked into a temporary directory on the same file system and renamed into
 * place, so a crash never leaves a half layer under its final name.
 */
import { promises as fsp } from 'node:fs';
import { posix, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ReadEntry } from 'tar';
import { run, which } from '../sys/exec.js';
import { InvalidArchiveError, MissingToolError } from './errors.js';

interface Special {
  rel: string;
  kind: 'c' | 'b' | 'p';
  mode: number;
  uid: number;
  gid: number;
  major: number;
  minor: number;
}

/** A symlink entry node-tar wrote with `placeholder` as its target, to be given `target`. */
interface LinkFix {
  rel: string;
  placeholder: string;
  target: string;
  uid: number;
  gid: number;
}

interface ModeFix {
  mode: number;
  dir: boolean;
}

/** "./a/b/" -> "a/b"; "/" or "./" -> ""; undefined when the path climbs out ("..") */
export function cleanEntryPath(p: string): string | undefined {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

/**
 * Make sure every parent of `rel` under `root` is a real directory (creating missing ones 0755)
 * and return the absolute path. A symlinked parent would let a layer write outside its directory.
 */
async function safePath(blob: string, root: string, rel: string, what: string): Promise<string> {
  const parts = rel.split('/');
  let p = root;
  for (const comp of parts.slice(0, -1)) {
    p = join(p, comp);
    try {
      const st = await fsp.lstat(p);
      if (!st.isDirectory()) {
        const kind = st.isSymbolicLink() ? 'a symbolic link (nothing is written through a link)' : 'not a directory';
        throw new InvalidArchiveError(blob, `${what} ${JSON.stringify(rel)}: parent ${JSON.stringify(p.slice(root.length + 1))} is ${kind}`);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await fsp.mkdir(p, { mode: 0o755 });
    }
  }
  return join(root, rel);
}

/**
 * `isRealDir(rel)`: `rel` and every parent up to `root` are directories, not symlinks (lstat),
 * memoised for one pass over the finished tree.
 */
function realDirChecker(root: string): (rel: string) => Promise<boolean> {
  const known = new Map<string, boolean>([['', true]]);
  const isRealDir = async (rel: string): Promise<boolean> => {
    const k = known.get(rel);
    if (k !== undefined) return k;
    const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    const ok = (await isRealDir(parent)) && ((await fsp.lstat(join(root, rel)).catch(() => undefined))?.isDirectory() ?? false);
    known.set(rel, ok);
    return ok;
  };
  return isRealDir;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

export interface UnpackOptions {
  /** a directory on the same file system as `dest`, for the temporary unpack */
  tmpDir: string;
}

/**
 * Unpack `blob` (tar, or gzip'd tar) into `dest` unless `dest` already exists.
 * Returns false when `dest` was already there (unpacked before, or by a concurrent process).
 */
export async function unpackLayer(blob: string, dest: string, opts: UnpackOptions): Promise<boolean> {
  if (await exists(dest)) return false;
  await fsp.mkdir(opts.tmpDir, { recursive: true });
  const tmp = join(opts.tmpDir, `layer-${process.pid}-${randomBytes(6).toString('hex')}`);
  await fsp.mkdir(tmp, { mode: 0o755 });
  try {
    await extractInto(blob, tmp);
    try {
      await fsp.rename(tmp, dest);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') return false; // someone else won the race
      throw e;
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

const asRoot = process.getuid?.() === 0;

async function extractInto(blob: string, root: string): Promise<void> {
  const specials: Special[] = [];
  const whiteouts: string[] = [];
  const opaque = new Set<string>();
  const modes = new Map<string, ModeFix>();
  const problems: string[] = [];
  const links: LinkFix[] = [];
  const token = randomBytes(8).toString('hex');

  // tar loads with the first layer, not at start
  await (await import('tar')).x({
    file: blob,
    cwd: root,
    preserveOwner: asRoot,
    strict: false,
    onwarn: (code, message, data) => {
      if (code === 'TAR_ENTRY_INFO') return;
      const entry = (data?.entry as ReadEntry | undefined)?.path ?? data?.path;
      problems.push(`${code}: ${message}${entry ? ` (entry ${JSON.stringify(entry)})` : ''}`);
    },
    filter: (path, entry) => {
      const e = entry as ReadEntry;
      const rel = cleanEntryPath(path);
      if (rel === undefined) return true; // node-tar refuses it and warns; we fail the layer below
      const base = posix.basename(rel);
      if (base.startsWith('.wh.')) {
        const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
        if (base === '.wh..wh..opq') opaque.add(dir);
        else if (!base.startsWith('.wh..wh.')) whiteouts.push(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
        return false;
      }
      switch (e.type) {
        case 'CharacterDevice':
        case 'BlockDevice':
        case 'FIFO':
          specials.push({
            rel,
            kind: e.type === 'CharacterDevice' ? 'c' : e.type === 'BlockDevice' ? 'b' : 'p',
            mode: (e.mode ?? 0o644) & 0o7777,
            uid: e.uid ?? 0,
            gid: e.gid ?? 0,
            major: e.header.devmaj ?? 0,
            minor: e.header.devmin ?? 0,
          });
          return false;
        case 'File':
        case 'OldFile':
        case 'ContiguousFile':
          if (e.mode !== undefined) modes.set(rel, { mode: e.mode & 0o7777, dir: false });
          return true;
        case 'Directory':
        case 'GNUDumpDir':
          if (e.mode !== undefined) modes.set(rel, { mode: e.mode & 0o7777, dir: true });
          return true;
        case 'SymbolicLink': {
          // a relative name in the link's own directory: passes node-tar's checks, names nothing
          const placeholder = `.podbay-link-${token}-${links.length}`;
          links.push({ rel, placeholder, target: e.linkpath ?? '', uid: e.uid ?? 0, gid: e.gid ?? 0 });
          e.linkpath = placeholder;
          return true;
        }
        default:
          return true;
      }
    },
  });
  if (problems.length) {
    throw new InvalidArchiveError(blob, `cannot unpack: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`);
  }

  await fixLinks(blob, root, links);

  for (const s of specials) {
    const p = await safePath(blob, root, s.rel, 'device entry');
    await fsp.rm(p, { force: true, recursive: true });
    const args = s.kind === 'p' ? [p, 'p'] : [p, s.kind, String(s.major), String(s.minor)];
    await run('mknod', args);
    if (asRoot) await fsp.lchown(p, s.uid, s.gid);
    await fsp.chmod(p, s.mode);
  }

  for (const rel of whiteouts) {
    const p = await safePath(blob, root, rel, 'whiteout');
    if (await exists(p)) continue; // the layer itself has the name: a whiteout only hides lower layers
    await run('mknod', [p, 'c', '0', '0']);
    if (asRoot) await fsp.lchown(p, 0, 0);
  }

  if (opaque.size) {
    const setfattr = which('setfattr');
    if (!setfattr) throw new MissingToolError('setfattr', 'attr', `mark opaque directories (.wh..wh..opq) in ${blob}`);
    const dirs: string[] = [];
    for (const rel of opaque) {
      if (rel === '') {
        dirs.push(root);
        continue;
      }
      const p = await safePath(blob, root, `${rel}/x`, 'opaque directory');
      dirs.push(posix.dirname(p));
    }
    for (let i = 0; i < dirs.length; i += 200) {
      await run(setfattr, ['-n', 'trusted.overlay.opaque', '-v', 'y', ...dirs.slice(i, i + 200)]);
    }
  }

  // parents are checked too: a later entry may have replaced a directory with a symlink
  const isRealDir = realDirChecker(root);
  for (const [rel, fix] of modes) {
    const p = rel ? join(root, rel) : root;
    const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    if (rel && !(await isRealDir(parent))) continue;
    try {
      const st = await fsp.lstat(p);
      if (st.isSymbolicLink() || st.isDirectory() !== fix.dir) continue;
      if ((st.mode & 0o7777) !== fix.mode) await fsp.chmod(p, fix.mode);
    } catch {
      /* replaced by a later entry of another type */
    }
  }
}

/**
 * Give each symlink node-tar wrote with a placeholder its real target. A link whose name a later
 * entry took over (or whose parent is no longer a real directory) is left alone: the placeholder
 * is checked with readlink, and the new link is made under a temporary name beside it and
 * renamed over it, so nothing is followed and no name is ever missing.
 */
async function fixLinks(blob: string, root: string, links: LinkFix[]): Promise<void> {
  const isRealDir = realDirChecker(root);
  for (const l of links) {
    const dir = posix.dirname(l.rel) === '.' ? '' : posix.dirname(l.rel);
    if (!(await isRealDir(dir))) continue;
    const p = join(root, l.rel);
    const now = await fsp.readlink(p).catch(() => undefined);
    if (now !== l.placeholder) continue; // replaced by a later entry
    if (l.target === '') throw new InvalidArchiveError(blob, `symbolic link ${JSON.stringify(l.rel)} has an empty target`);
    const tmp = join(root, dir, `${l.placeholder}.new`);
    await fsp.symlink(l.target, tmp);
    if (asRoot) await fsp.lchown(tmp, l.uid, l.gid);
    await fsp.rename(tmp, p);
  }
}
