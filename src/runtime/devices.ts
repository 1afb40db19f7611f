/**
 * The host's devices for privileged containers, as containerd's WithDevices/HostDevices gives
 * them: every character and block device under /dev (recursively; not pts, shm, fd, mqueue and
 * the lxc/lxd/udev helper directories, not the console), created by runc in the container's
 * /dev with the host's major/minor, mode and owner. Symlinks are not devices (lstat).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface OciDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** glibc's major()/minor() of a dev_t */
export function splitDev(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** One lstat result -> an OCI device, or undefined when it is not a device. */
export function deviceOf(path: string, st: { mode: bigint; rdev: bigint; uid: bigint; gid: bigint }): OciDevice | undefined {
  const fmt = Number(st.mode) & 0o170000;
  const type = fmt === 0o020000 ? 'c' : fmt === 0o060000 ? 'b' : undefined;
  if (!type) return undefined;
  return { path, type, ...splitDev(st.rdev), fileMode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid) };
}

/** Walks the host's /dev (the host's, never a container's) asynchronously. */
export async function hostDevices(root = '/dev'): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const p = join(dir, name);
      let st;
      try {
        st = await lstat(p, { bigint: true });
      } catch {
        continue; // gone meanwhile
      }
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name)) await walk(p);
        continue;
      }
      if (name === 'console' && dir === root) continue;
      const d = deviceOf(p, st);
      if (d) out.push(d);
    }
  };
  await walk(root);
  return out;
}
