/**
 * Removing a tree whose content a container wrote, without ever following a link it made: each
 * directory is opened with O_NOFOLLOW and its entries are reached through that handle
 * (`/proc/self/fd/<fd>/<name>`, see safe-open.ts), so swapping a directory for a symlink to
 * the host between two steps makes the remove fail or unlink the link, never descend into the
 * host. unlink and rmdir never follow a final link. Everything is asynchronous.
 */
import { constants, promises as fsp } from 'node:fs';
import { fdPath, O_PATH, openDirHandle } from './safe-open.js';

const O_CLOEXEC = 0o2000000;
const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Remove `name` (a file, a link or a whole directory tree) from the directory `parent`.
 * `parent` itself is opened without following a link. A missing `name` is not an error.
 */
export async function removeTreeUnder(parent: string, name: string): Promise<void> {
  if (!name || name === '.' || name === '..' || name.includes('/')) throw new Error(`refusing to remove ${JSON.stringify(name)} under ${parent}: not a single path component`);
  const dir = await openDirHandle(parent, false);
  try {
    await removeEntry(dir.fd, name);
  } finally {
    await dir.close();
  }
}

async function removeEntry(parentFd: number, name: string): Promise<void> {
  const at = fdPath(parentFd, name);
  const st = await fsp.lstat(at).catch((e) => {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  });
  if (!st) return;
  if (!st.isDirectory()) {
    await fsp.unlink(at);
    return;
  }
  let handle;
  try {
    handle = await fsp.open(at, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW | O_CLOEXEC);
  } catch (e) {
    // swapped for a link (ELOOP) or a file (ENOTDIR) since the lstat: take the name away, whatever it is now
    if (errno(e) === 'ELOOP' || errno(e) === 'ENOTDIR') return fsp.unlink(at);
    if (errno(e) === 'ENOENT') return;
    throw e;
  }
  try {
    for (const child of await fsp.readdir(fdPath(handle.fd))) await removeEntry(handle.fd, child);
  } finally {
    await handle.close();
  }
  await fsp.rmdir(at);
}
