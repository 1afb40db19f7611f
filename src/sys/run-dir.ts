/**
 * The run dir on a tmpfs, as /run is on a systemd machine.
 *
 * The run dir (--run-dir, default /run/podbay) holds what lives as long as the pods and no
 * longer: runc's root, the bundles, conmon's exit files and attach sockets, the sandboxes' and
 * containers' records, the netns pins, IPAM leases and the CNI cache. None of it may outlive a
 * reboot (the pods do not), which is why it belongs under /run, a tmpfs on most Linux machines.
 * Where /run is on a disk (as on this project's VMs: /run is on the root ext4), every pod's
 * files there cost journal writes: a 50-pod burst spent ~10 ms more engine CPU per pod with the
 * run dir on ext4 than on a tmpfs, and took ~12 % longer (docs/performance.md).
 *
 * So, at start (before the run dir's lock is taken in it):
 *   - a run dir already on a tmpfs (its own mount or /run's) is used as it is;
 *   - an empty (or missing) run dir elsewhere gets a tmpfs of its own, source `podbay-run`,
 *     mode 0700, nosuid, nodev;
 *   - a run dir on a disk that is not empty is used as it is, and the log says why: it may hold
 *     the state of pods still running (an older podbay's), which a mount would hide.
 * At a clean stop with nothing left running (no sandbox, no container: the runtime says so) and
 * no mount below it, the tmpfs podbay made is unmounted again, so the host is left as found. With
 * pods running it stays: they outlive podbay, their state with them.
 */
import { mkdirSync, readdirSync, statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import { run } from './exec.js';
import { mountsUnder, readMountinfo, type MountInfo } from './mountinfo.js';

/** the tmpfs's source name in /proc/self/mountinfo: how podbay knows the mount is its own */
export const RUN_DIR_SOURCE = 'podbay-run';
const TMPFS_MAGIC = 0x01021994;

export type RunDirPlan = { mount: true } | { mount: false; why: string };

/** What to do with a run dir: `onTmpfs` from statfs, `entries` its names (none if missing). */
export function planRunDir(onTmpfs: boolean, entries: string[]): RunDirPlan {
  if (onTmpfs) return { mount: false, why: 'it is on a tmpfs already' };
  if (entries.length) return { mount: false, why: `it is on a disk and not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}: the state of pods that may still run), so it stays there` };
  return { mount: true };
}

/**
 * Put the run dir on a tmpfs of its own if it is on a disk and empty (see the top). True when
 * this call mounted it: only then may a start that fails take it off again.
 */
export async function mountRunDir(dir: string, log: (line: string) => void): Promise<boolean> {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  const plan = planRunDir(statfsSync(abs).type === TMPFS_MAGIC, readdirSync(abs));
  if (!plan.mount) {
    if (!plan.why.startsWith('it is on a tmpfs')) log(`podbay: run dir ${abs}: ${plan.why}`);
    return false;
  }
  await run('mount', ['-t', 'tmpfs', '-o', 'mode=0700,nosuid,nodev', RUN_DIR_SOURCE, abs], { timeoutMs: 30_000 });
  // two podbays started on one run dir at once may both have mounted; one that finds two tmpfs
  // there takes the top one off again, so neither takes its lock on a tmpfs hiding the other's
  // (the run dir's lock then decides)
  const ours = readMountinfo().filter((m) => m.mountPoint === abs);
  if (ours.length > 1) {
    await run('umount', [abs], { allowFailure: true });
    return false;
  }
  return true;
}

/** the tmpfs podbay mounted on `dir`, if that is what is mounted there (the topmost mount) */
export function ownRunDirMount(dir: string, mounts: MountInfo[]): MountInfo | undefined {
  const top = mounts.filter((m) => m.mountPoint === dir).at(-1);
  return top && top.fsType === 'tmpfs' && top.source === RUN_DIR_SOURCE ? top : undefined;
}

/** Unmount the run dir's tmpfs at a clean stop, when it is podbay's and nothing is left in use. */
export async function releaseRunDir(dir: string, idle: boolean, log: (line: string) => void): Promise<void> {
  const abs = resolve(dir);
  const mounts = readMountinfo();
  if (!ownRunDirMount(abs, mounts)) return;
  if (!idle) return; // pods keep running across a restart; their state stays with them
  const below = mountsUnder(abs, mounts).filter((mp) => mp !== abs);
  if (below.length) {
    log(`podbay: run dir ${abs} stays mounted: ${below.length} mount(s) below it (${below[0]})`);
    return;
  }
  const r = await run('umount', [abs], { allowFailure: true, timeoutMs: 30_000 });
  if (r.code !== 0) log(`podbay: run dir ${abs}: umount: ${r.stderr.trim()} (the tmpfs stays)`);
}
