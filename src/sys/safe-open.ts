/**
 * Opening paths a container can write without following its symlinks to the host and without
 * blocking the event loop (the kubelet's doSafeOpen, CVE-2021-25741).
 *
 * Node has no openat(2), but opening `/proc/self/fd/<dirfd>/<name>` resolves `<name>` relative
 * to the directory held by <dirfd> (the magic link is the directory itself, whatever its path
 * has become), and O_NOFOLLOW then applies to <name> only. Every component is opened that way
 * with O_PATH (no read access needed, never blocks on a FIFO), checked with fstat, and a
 * symlink's text, when links are resolved at all, is re-walked from the root the same way, so
 * swapping a component for a link between two steps gains nothing. All calls are async (libuv
 * threadpool): nothing here runs a blocking open on the main thread.
 */
import { constants, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** O_PATH on Linux (x86_64 and arm64); Node passes numeric flags through. */
export const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const PATH_NOFOLLOW = O_PATH | constants.O_NOFOLLOW | O_CLOEXEC;
/** the kernel's limit on symlinks in one lookup (MAXSYMLINKS) */
const MAX_LINKS = 40;

/** The path escapes its root, or a component is not what it must be. */
export class UnsafePathError extends Error {
  constructor(
    readonly path: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

/** The path, relative to an fd this process holds. */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

export interface ResolveOptions {
  /**
   * How a symlink in the path is treated:
   *   'refuse'  any symlink is an escape
   *   'within'  followed while it stays under the root; absolute or climbing above it: escape
   *             (the kubelet's EvalSymlinks + "within volume" check, done without races)
   *   'chroot'  followed as inside a container: absolute links and `..` stop at the root
   */
  links: 'refuse' | 'within' | 'chroot';
  /** create missing components as directories with this mode (the kubelet's SafeMakeDir) */
  createDirsMode?: number;
}

export interface Resolved {
  /** an O_PATH handle on the final component: the caller closes it */
  handle: FileHandle;
  stat: Stats;
  /** the components walked under the root, symlinks resolved */
  components: string[];
}

function split(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** Open `path` itself as an O_PATH directory handle (following links only when `follow`). */
export async function openDirHandle(path: string, follow: boolean): Promise<FileHandle> {
  return fsp.open(path, O_PATH | constants.O_DIRECTORY | O_CLOEXEC | (follow ? 0 : constants.O_NOFOLLOW));
}

/**
 * Walk `rel` under the directory held by `root`, one component at a time, never letting the
 * kernel follow a symlink. Throws UnsafePathError on an escape or a wrong component type, and
 * the system error (ENOENT...) otherwise.
 */
export async function resolveUnder(root: FileHandle, rel: string, opts: ResolveOptions): Promise<Resolved> {
  if (rel.startsWith('/') && opts.links !== 'chroot') throw new UnsafePathError(rel, `${rel} is an absolute path`);
  let pending = split(rel);
  const stack: { name: string; handle: FileHandle }[] = [];
  const top = () => stack[stack.length - 1]?.handle ?? root;
  const closeAll = async () => {
    for (const s of stack.splice(0)) await s.handle.close().catch(() => {});
  };
  let links = 0;
  let final: { handle: FileHandle; stat: Stats; name: string } | undefined;
  try {
    while (pending.length) {
      const name = pending.shift()!;
      if (name === '..') {
        if (stack.length === 0) {
          if (opts.links === 'chroot') continue;
          throw new UnsafePathError(rel, `${rel} climbs above its root`);
        }
        await stack.pop()!.handle.close();
        continue;
      }
      const parent = top();
      let handle: FileHandle;
      try {
        handle = await fsp.open(fdPath(parent.fd, name), PATH_NOFOLLOW);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || opts.createDirsMode === undefined) throw e;
        // mkdir does not follow a link at its last component (EEXIST); a link planted between
        // mkdir and open is caught by fstat below
        await fsp.mkdir(fdPath(parent.fd, name), { mode: opts.createDirsMode }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        handle = await fsp.open(fdPath(parent.fd, name), PATH_NOFOLLOW);
        // mkdir's mode is cut by the umask; the kubelet sets the volume root's mode exactly
        const st = await handle.stat();
        if (st.isDirectory()) await fsp.chmod(fdPath(handle.fd), opts.createDirsMode);
      }
      const stat = await handle.stat();
      if (stat.isSymbolicLink()) {
        await handle.close();
        if (opts.links === 'refuse') throw new UnsafePathError(rel, `${rel}: ${name} is a symlink`);
        if (++links > MAX_LINKS) throw new UnsafePathError(rel, `${rel}: too many levels of symbolic links`, 'ELOOP');
        // readlink does not follow its last component: this is the text of <name> in <parent>
        const text = await fsp.readlink(fdPath(parent.fd, name));
        if (text.startsWith('/')) {
          if (opts.links !== 'chroot') throw new UnsafePathError(rel, `${rel}: ${name} links to an absolute path`);
          await closeAll();
        }
        pending = [...split(text), ...pending];
        continue;
      }
      if (stat.isDirectory()) {
        stack.push({ name, handle });
        continue;
      }
      if (pending.length) {
        await handle.close();
        throw new UnsafePathError(rel, `${rel}: ${name} is not a directory`, 'ENOTDIR');
      }
      final = { handle, stat, name };
    }
    const components = stack.map((s) => s.name);
    if (final) {
      await closeAll();
      return { handle: final.handle, stat: final.stat, components: [...components, final.name] };
    }
    // the last directory walked (or a new handle on the root itself) is the answer
    const last = stack.pop();
    await closeAll();
    const handle = last?.handle ?? (await fsp.open(fdPath(root.fd), O_PATH | constants.O_DIRECTORY | O_CLOEXEC));
    return { handle, stat: await handle.stat(), components };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

export interface ReadOptions {
  /** larger files are refused (a container could grow one without bound) */
  maxBytes: number;
  links: ResolveOptions['links'];
}

/**
 * Read a regular file at `rel` under directory `root` (a path podbay owns): resolved as
 * resolveUnder does, refused when it is not a regular file (a FIFO would block the reader
 * forever), opened O_NONBLOCK through the O_PATH handle, and read up to `maxBytes`.
 */
export async function readFileUnder(root: string, rel: string, opts: ReadOptions): Promise<Buffer> {
  const rootHandle = await openDirHandle(root, true);
  try {
    const r = await resolveUnder(rootHandle, rel, { links: opts.links });
    let fh: FileHandle | undefined;
    try {
      if (!r.stat.isFile()) throw new UnsafePathError(rel, `${rel} is not a regular file`);
      // reopening the O_PATH fd's magic link gives that very inode, whatever the path is now
      fh = await fsp.open(fdPath(r.handle.fd), constants.O_RDONLY | constants.O_NONBLOCK | O_CLOEXEC);
      const st = await fh.stat();
      if (!st.isFile()) throw new UnsafePathError(rel, `${rel} is not a regular file`);
      if (st.size > opts.maxBytes) throw new UnsafePathError(rel, `${rel} is larger than ${opts.maxBytes} bytes`);
      const buf = Buffer.alloc(opts.maxBytes + 1);
      let n = 0;
      while (n < buf.length) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (n > opts.maxBytes) throw new UnsafePathError(rel, `${rel} is larger than ${opts.maxBytes} bytes`);
      return buf.subarray(0, n);
    } finally {
      await fh?.close();
      await r.handle.close();
    }
  } finally {
    await rootHandle.close();
  }
}
