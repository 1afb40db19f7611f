/** File helpers shared by the rooms. */
import { randomBytes } from 'node:crypto';
import { readFileSync, type Dirent } from 'node:fs';
import { lstat, readdir, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Write via a temp file and rename, so readers see the old or the new content, never half;
 * the temp name is unique per call, so concurrent writers of one path do not collide.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

let umaskRead: number | undefined;
/**
 * The process's umask, read once from /proc/self/status ("Umask:" line); 0o777 when it cannot
 * be read, so that a caller comparing modes always falls back to its explicit chmod. Not
 * process.umask(): reading it that way sets it to 0 for a moment, under the thread pool's feet.
 * podbay never changes its umask after start.
 */
export function processUmask(): number {
  if (umaskRead === undefined) {
    let m: RegExpExecArray | null = null;
    try {
      m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    } catch {
      /* no /proc */
    }
    umaskRead = m ? parseInt(m[1], 8) : 0o777;
  }
  return umaskRead;
}

/** Whether a file created with `mode` gets exactly those bits (special bits need a chmod anyway). */
export function createModeExact(mode: number): boolean {
  return (mode & 0o7777) === (mode & 0o777 & ~processUmask());
}

/**
 * Remove what is expected to be a file (unlink) or an empty directory (rmdir) with one call, a
 * missing one being fine: fs.rm makes an lstat first, and its recursive walk an lstat, a failed
 * rmdir and a readdir for a directory with entries. Anything else at the path (a directory with
 * entries, the other kind) goes by removeTree below, which never follows links.
 */
export async function removeFast(path: string, kind: 'file' | 'dir'): Promise<void> {
  try {
    await (kind === 'file' ? unlink(path) : rmdir(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    await removeTree(path);
  }
}

/**
 * Remove a tree podbay made, with no process writing in it any more (a pod's dirs after its
 * containers are gone, a removed snapshot), in fewer calls than fs.rm's recursive walk, which
 * lstats every entry and tries rmdir before it reads a directory (four calls per directory, two
 * per file; ~85 per pod in a burst's teardown). Here: one lstat of the top, then per directory a
 * readdir with file types and an rmdir, per file an unlink. A link is removed, never followed:
 * a Dirent's type is the entry's own, as lstat's, and the top is lstat'ed. A missing path is
 * fine. A directory that gained entries meanwhile (ENOTEMPTY) is left to fs.rm; other errors
 * (a mount point: EBUSY) are thrown, as fs.rm throws them. A tree a running container can still
 * write in needs safe-remove.ts, which reaches every entry through a directory handle.
 */
export async function removeTree(path: string): Promise<void> {
  const st = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!st) return;
  if (!st.isDirectory()) return ignoreMissing(unlink(path));
  await removeDirEntries(path);
}

const ignoreMissing = (p: Promise<void>) =>
  p.catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });

async function removeDirEntries(dir: string): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  await Promise.all(entries.map((e) => (e.isDirectory() ? removeDirEntries(join(dir, e.name)) : ignoreMissing(unlink(join(dir, e.name))))));
  try {
    await rmdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return rm(dir, { recursive: true, force: true });
    throw e;
  }
}
