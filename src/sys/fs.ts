/** File helpers shared by the rooms. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';

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
 * entries, the other kind) goes by fs.rm's recursive walk, which never follows links.
 */
export async function removeFast(path: string, kind: 'file' | 'dir'): Promise<void> {
  try {
    await (kind === 'file' ? unlink(path) : rmdir(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    await rm(path, { recursive: true, force: true });
  }
}
