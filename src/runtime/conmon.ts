/**
 * Containers run under conmon, as CRI-O and podman do: conmon forks away (so containers outlive
 * podbay), runs `runc create`, reports the container's pid (or runc's error) on its sync pipe,
 * writes the CRI-format log file and, when the container exits, its exit code into the exit dir.
 *
 * The sync pipe is an anonymous pipe made where conmon is started (src/sys/exec-spawn.ts
 * `syncPipe`): its write end is conmon's fd 3 (`_OCI_SYNCPIPE=3`), and podbay reads one JSON
 * line from the other end. No FIFO on disk, no `mkfifo` process. With `--api-version 1`
 * conmon writes `{"data": PID}` on success and `{"data": -1, "message": "..."}` on failure.
 */
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { run } from '../sys/exec.js';
import { parentPid, pidMentions } from './procs.js';
import { runcMessage } from './runc.js';

export interface ConmonCreateOptions {
  conmonPath: string;
  runtimePath: string;
  runcRoot: string;
  id: string;
  /** a readable name for logs (`-n`) */
  name: string;
  bundle: string;
  /** the container's init pid file (`-p`) */
  pidFile: string;
  exitDir: string;
  /** the CRI log file; undefined: conmon keeps no log (`-l none`: the pause, which prints nothing) */
  logPath?: string;
  socketDir: string;
  /** keep the container's stdin open for attach sessions (-i) */
  stdin?: boolean;
  /** ... and do not close it when an attach session ends (stdinOnce false) */
  leaveStdinOpen?: boolean;
  /** the process runs on a terminal conmon holds (-t; the OCI spec must say terminal: true) */
  tty?: boolean;
  timeoutMs?: number;
}

export interface ConmonCreated {
  pid: number;
  conmonPid: number;
}

/** runc create failed: `message` is runc's own words (e.g. `exec: "x": executable file not found in $PATH`) */
export class RuntimeCreateError extends Error {
  constructor(
    readonly id: string,
    readonly runtimeMessage: string,
  ) {
    super(runtimeMessage);
    this.name = 'RuntimeCreateError';
  }
}

export function conmonArgs(o: ConmonCreateOptions): string[] {
  return [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-r', o.runtimePath,
    '-b', o.bundle,
    '-p', o.pidFile,
    '-n', o.name,
    '--exit-dir', o.exitDir,
    '-l', o.logPath === undefined ? 'none' : `k8s-file:${o.logPath}`,
    '--socket-dir-path', o.socketDir,
    '--runtime-arg', `--root=${o.runcRoot}`,
    '--log-level', 'error',
    ...(o.stdin ? ['-i'] : []),
    ...(o.stdin && o.leaveStdinOpen ? ['--leave-stdin-open'] : []),
    ...(o.tty ? ['-t'] : []),
  ];
}

/** Parse conmon's sync message; throws RuntimeCreateError for `{"data": -1, "message": ...}`. */
export function parseSyncMessage(id: string, text: string): number {
  const line = text.split('\n').find((l) => l.trim());
  if (!line) throw new RuntimeCreateError(id, 'conmon closed its sync pipe without reporting (did it crash? see its log in the journal)');
  const j = JSON.parse(line) as { data?: number; pid?: number; message?: string };
  const pid = j.data ?? j.pid ?? -1;
  if (pid <= 0) throw new RuntimeCreateError(id, runcMessage(j.message ?? '') || j.message || 'runc create failed');
  return pid;
}

/** Start conmon, which runs `runc create`; resolves with the container's pid once it exists. */
export async function conmonCreate(o: ConmonCreateOptions): Promise<ConmonCreated> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' };
  // conmon's first process exits as soon as it has forked its monitor, which reports on fd 3
  // and keeps it open while the container runs: the run ends at that first line (or at EOF
  // when the first process failed, bad flags, and no monitor holds the pipe).
  // conmon writes an `oom` file into its working directory on an OOM kill: give it the
  // bundle, not podbay's cwd. No --persist-dir: conmon would write a second exit file there
  // (temp + rename) beside the exit dir's, which is the one podbay reads
  const r = await run(o.conmonPath, conmonArgs(o), { env, syncPipe: true, timeoutMs, allowFailure: true, cwd: o.bundle });
  if (r.timedOut && !r.sync?.includes('\n')) throw new RuntimeCreateError(o.id, `conmon did not report within ${timeoutMs} ms`);
  if (r.code !== 0 && !r.sync) throw new RuntimeCreateError(o.id, `conmon failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  const pid = parseSyncMessage(o.id, r.sync ?? '');
  // conmon's monitor is a subreaper: once `runc create` has exited, the container's init
  // (waiting on runc's exec fifo, so alive) is its child. No --conmon-pidfile to read (conmon
  // writes it by temp file + rename: an inode per container)
  const ppid = parentPid(pid);
  const conmonPid = ppid && pidMentions(ppid, o.id) ? ppid : 0;
  return { pid, conmonPid };
}

/** conmon's control message types (ctrl.c): WIN_RESIZE_EVENT, REOPEN_LOGS_EVENT */
const WIN_RESIZE_EVENT = 1;
const REOPEN_LOGS_EVENT = 2;

/**
 * Ask the conmon of a container to reopen its log file, as CRI-O's ReopenContainerLog does:
 * one line "TYPE HEIGHT WIDTH" on the `ctl` FIFO conmon made in the bundle dir. conmon closes
 * the old file and puts a new, empty one under the log path (via `<path>.tmp` and a rename).
 * The FIFO is opened non-blocking: with no conmon reading it the open fails (ENXIO) instead of
 * waiting forever.
 */
export async function conmonReopenLog(bundle: string): Promise<void> {
  await conmonControl(bundle, `${REOPEN_LOGS_EVENT} 0 0\n`);
}

/** Resize the terminal of a container started with a TTY, as CRI-O's attach does: "1 HEIGHT WIDTH". */
export async function conmonResize(bundle: string, width: number, height: number): Promise<void> {
  await conmonControl(bundle, `${WIN_RESIZE_EVENT} ${height} ${width}\n`);
}

async function conmonControl(bundle: string, line: string): Promise<void> {
  const fh = await fsp.open(join(bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    await fh.write(line);
  } finally {
    await fh.close();
  }
}

/**
 * The attach socket conmon makes in the bundle dir (`attach`, SOCK_SEQPACKET). What the
 * container prints arrives as packets of 1 byte pipe (2 stdout, 3 stderr) + data; what is sent
 * goes to the container's stdin; closing our end closes that stdin unless --leave-stdin-open.
 */
export function conmonAttachSocket(bundle: string): string {
  return join(bundle, 'attach');
}
