/**
 * Termination messages (kubelet: kuberuntime_container.go makeMounts / getTerminationMessage /
 * readLastStringFromContainerLogs):
 *
 *   create  each run gets its own empty file, PODS/<uid>/containers/<name>/<n>.termination-log
 *           (mode 0666, so any user in the container can write it), bind-mounted read-write at
 *           the container's terminationMessagePath (default /dev/termination-log)
 *   exit    the file is read: at most 4096 bytes (the kubelet's limit), opened O_NOFOLLOW |
 *           O_NONBLOCK and only when it is a regular file; the container wrote it, and podbay
 *           never follows what a container made. Empty, with FallbackToLogsOnError and a non-zero
 *           exit code: the last 80 lines of the run's log, at most 2048 bytes
 *   status  state.terminated.message (after the runtime's own message and ": " when it has one)
 *
 * The path and policy ride on the run's annotations, so a run is read as it was made even after
 * the spec changed. A run's message is read once and cached by container ID.
 */
import { open, mkdir, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join, dirname } from 'node:path';
import type { ContainerStatus as RtContainer, VolumeMount } from '../runtime/types.js';
import { streamLog } from './logs.js';

type Obj = Record<string, any>;

export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
/** kubelet's MaxContainerTerminationMessageLength */
export const MAX_MESSAGE_BYTES = 4096;
/** kubelet's MaxContainerTerminationMessageLogLines / LogLength */
export const LOG_FALLBACK_LINES = 80;
export const LOG_FALLBACK_BYTES = 2048;

export const ANNOTATION_PATH = 'io.kubernetes.container.terminationMessagePath';
export const ANNOTATION_POLICY = 'io.kubernetes.container.terminationMessagePolicy';

export function terminationMessageFile(podDir: string, container: string, restartCount: number): string {
  return join(podDir, 'containers', container, `${restartCount}.termination-log`);
}

/** The annotations a run carries for its termination message. */
export function terminationAnnotations(spec: Obj): Record<string, string> {
  return {
    [ANNOTATION_PATH]: spec.terminationMessagePath || DEFAULT_TERMINATION_MESSAGE_PATH,
    [ANNOTATION_POLICY]: spec.terminationMessagePolicy || 'File',
  };
}

/** Creates the run's (empty) message file and returns its mount. podDir is podbay's own. */
export async function prepareTerminationMessage(podDir: string, spec: Obj, restartCount: number): Promise<VolumeMount> {
  const file = terminationMessageFile(podDir, spec.name, restartCount);
  await mkdir(dirname(file), { recursive: true, mode: 0o750 });
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o666);
  try {
    await fh.chmod(0o666);
  } finally {
    await fh.close();
  }
  return { hostPath: file, containerPath: spec.terminationMessagePath || DEFAULT_TERMINATION_MESSAGE_PATH, readOnly: false };
}

/** A removed run's message file goes with it (podbay's own path, never a link: rm does not follow). */
export async function removeTerminationMessage(podDir: string, container: string, restartCount: number): Promise<void> {
  await rm(terminationMessageFile(podDir, container, restartCount), { force: true });
}

/** Up to MAX_MESSAGE_BYTES of a container-written file: no links followed, no blocking, regular files only. */
export async function readMessageFile(path: string): Promise<string> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return '';
  }
  try {
    if (!(await fh.stat()).isFile()) return '';
    const buf = Buffer.alloc(MAX_MESSAGE_BYTES);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The last LOG_FALLBACK_LINES lines of a run's log, at most LOG_FALLBACK_BYTES (kubelet's ReadLogs with tail + limit). */
export async function logTail(logDir: string, restartCount: number): Promise<string> {
  let out = '';
  try {
    await streamLog(
      logDir,
      { run: restartCount, tailLines: LOG_FALLBACK_LINES, limitBytes: LOG_FALLBACK_BYTES },
      (s) => {
        out += s;
      },
      async () => false,
      () => false,
      { container: '', pod: '' },
    );
  } catch {
    return '';
  }
  return out;
}

/** Whether the fallback to logs applies (kubelet: FallbackToLogsOnError, exit code != 0, the container ran). */
export function fallsBackToLogs(policy: string | undefined, exitCode: number | undefined, reason: string | undefined): boolean {
  return policy === 'FallbackToLogsOnError' && (exitCode ?? 0) !== 0 && reason !== 'ContainerCannotRun' && reason !== 'StartError';
}

/** kubelet: the runtime's message, then ": " and the termination message when both are there. */
export function joinMessage(runtimeMessage: string | undefined, message: string): string | undefined {
  if (!message) return runtimeMessage;
  return runtimeMessage ? `${runtimeMessage}: ${message}` : message;
}

/** Reads each exited run's message once. */
export class TerminationMessages {
  private readonly cache = new Map<string, string>();

  /** The runs with their termination messages filled in (exited ones). */
  async enrich(runs: RtContainer[], logDirOf: (run: RtContainer) => string): Promise<RtContainer[]> {
    const live = new Set(runs.map((r) => r.id));
    for (const id of [...this.cache.keys()]) if (!live.has(id)) this.cache.delete(id);
    return Promise.all(
      runs.map(async (r) => {
        if (r.state !== 'exited') return r;
        let msg = this.cache.get(r.id);
        if (msg === undefined) {
          const path = r.config.annotations[ANNOTATION_PATH];
          const mount = path ? r.config.mounts.find((m) => m.containerPath === path) : undefined;
          msg = mount ? await readMessageFile(mount.hostPath) : '';
          if (!msg && fallsBackToLogs(r.config.annotations[ANNOTATION_POLICY], r.exitCode, r.reason)) msg = await logTail(logDirOf(r), r.config.restartCount);
          this.cache.set(r.id, msg);
        }
        return msg ? { ...r, message: joinMessage(r.message, msg) } : r;
      }),
    );
  }
}
