/**
 * Network namespaces pinned as bind mounts at `<runDir>/netns/<id>`.
 *
 * Not /run/netns: two podbay servers (or a podbay server and `ip netns`) must never see or
 * delete each other's namespaces, so each podbay keeps its pins under its own run dir.
 *
 *   (absent) --create--> pinned (nsfs bind mount on the pin file) --delete--> (absent)
 *
 * create uses util-linux `unshare --net=<pin> true`: unshare makes a new network namespace and a
 * helper child bind-mounts /proc/<pid>/ns/net onto the (pre-existing) pin file in our own mount
 * namespace, so the namespace outlives `true`. No shell is involved.
 *
 * Mount propagation: the pin is made in whatever mount the run dir lives on. On a shared mount
 * (systemd's default for /) the pin propagates to peer mount namespaces and so does its umount,
 * which is what `ip netns` arranges for /run/netns too; on a private mount (as on this machine)
 * it stays local. Either way no extra self-bind-mount of the netns dir is needed, which keeps
 * teardown to "umount the pin, unlink it".
 *
 * Both verbs are idempotent: create on a pinned id returns its path; delete on an absent id
 * does nothing. A pin file left unmounted by a crash is treated as absent and re-pinned.
 */
import { mkdir, open, readdir, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { run, which } from '../sys/exec.js';
import { removeFast } from '../sys/fs.js';
import { currentMountPoints } from '../sys/mountinfo.js';

/** CNI container ids and our pin names: alphanumerics plus `_ . -`, starting alphanumeric. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validateId(id: string): void {
  if (!ID_RE.test(id)) {
    throw new Error(`invalid sandbox id ${JSON.stringify(id)}: use 1-128 letters, digits, "_", "." or "-", starting with a letter or digit`);
  }
}

export { parseMountinfo } from '../sys/mountinfo.js';

function tool(name: string, pkg: string): string {
  const p = which(name);
  if (!p) throw new Error(`${name} is not installed: install the Debian package ${pkg}`);
  return p;
}

export class NetnsPins {
  /** absolute directory holding the pins, e.g. <runDir>/netns */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  path(id: string): string {
    validateId(id);
    return join(this.dir, id);
  }

  /** True when the pin file carries a namespace mount. */
  async exists(id: string): Promise<boolean> {
    const pin = this.path(id);
    // a read shared with other callers (in a burst every pod's setUp and tearDown asks)
    return (await currentMountPoints()).has(pin);
  }

  /** Create (or find) the pinned namespace, its lo up; returns the pin path. */
  async create(id: string): Promise<string> {
    const pin = this.path(id);
    if (await this.exists(id)) return pin;
    // unshare bind-mounts onto an existing file only. The directory is made when that file
    // cannot be for want of it (the first pod, or after destroy), not before every pod.
    const touch = async () => (await open(pin, 'a', 0o444)).close();
    await touch().catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      await mkdir(this.dir, { recursive: true, mode: 0o755 });
      await touch();
    });
    try {
      // lo comes up inside the new namespace in the same process chain (unshare execs ip there):
      // what the CNI loopback plugin's ADD does, without a Go binary per pod. It needs no DEL:
      // lo goes with the namespace.
      await run(tool('unshare', 'util-linux'), [`--net=${pin}`, tool('ip', 'iproute2'), 'link', 'set', 'lo', 'up'], { timeoutMs: 15_000 });
    } catch (e) {
      await rm(pin, { force: true }).catch(() => {});
      throw new Error(`creating network namespace ${pin}: ${(e as Error).message}`);
    }
    return pin;
  }

  /** Unpin (lazily when busy) and remove the pin file. A no-op for an absent id. */
  async delete(id: string): Promise<void> {
    const pin = this.path(id);
    // A pin mounted twice (e.g. by two racing creates) needs two umounts; stop after a few.
    for (let i = 0; i < 4 && (await this.exists(id)); i++) {
      const umount = tool('umount', 'mount');
      const r = await run(umount, [pin], { allowFailure: true, timeoutMs: 15_000 });
      if (r.code !== 0) {
        // EBUSY (a process still has it as cwd, unlikely for a file) -> detach lazily.
        const lazy = await run(umount, ['-l', pin], { allowFailure: true, timeoutMs: 15_000 });
        if (lazy.code !== 0 && (await this.exists(id))) {
          throw new Error(`unmounting network namespace ${pin} failed: ${(lazy.stderr || r.stderr).trim()}`);
        }
      }
    }
    await removeFast(pin, 'file');
  }

  /** Ids with a pin file (mounted or a leftover), sorted. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names.filter((n) => ID_RE.test(n)).sort();
  }

  /** Remove the pin directory when it is empty (used by destroy). */
  async removeDirIfEmpty(): Promise<void> {
    await rmdir(this.dir).catch(() => {});
  }
}
