/**
 * What a streaming session (exec, attach) runs against, as the node hands it to the API server:
 * a shared vocabulary on the bottom floor, so the kubelet need not import the API server.
 */
import type { ChildProcess } from 'node:child_process';

export interface StreamTarget {
  child: ChildProcess;
  /** apply a terminal size (TTY sessions) */
  resize?(width: number, height: number): void;
  /** the client went away (default: SIGKILL the child) */
  kill?(): void;
  /** a label for the error message on a non-zero exit */
  what: string;
}
