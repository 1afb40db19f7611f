/**
 * Which init container runs next (pure): kubelet's findNextInitContainerToRun
 * (pkg/kubelet/kuberuntime/kuberuntime_container.go) over the runtime's view of the current
 * sandbox. Init containers run one at a time, in order; each must exit 0 before the next
 * starts; app containers start only when the last one has succeeded.
 *
 *   no init containers, or an app container is running      -> done
 *   an init container's newest run failed (exit != 0)       -> failed: that one (restart it, or
 *                                                               with restartPolicy Never the pod fails)
 *   the newest init container that ran is still running     -> wait
 *   it exited 0                                             -> next: the one after it (or done)
 *   none ran yet                                            -> next: the first
 *
 * The runtime only lists the containers of the current sandbox, so a recreated sandbox runs
 * every init container again, as the kubelet does.
 *
 * Sidecar init containers (`restartPolicy: Always` on an init container) are not supported as
 * sidecars: they run as ordinary init containers, so one that never exits keeps the pod
 * initializing.
 */
import type { ContainerState } from '../runtime/types.js';

export interface RunView {
  state: ContainerState;
  exitCode?: number;
}

export interface InitStep {
  /** every init container succeeded: the app containers may run */
  done: boolean;
  /** the init container to create or start now */
  next?: string;
  /** the init container whose newest run failed */
  failed?: string;
}

export function isInitFailed(run: RunView): boolean {
  return (run.state === 'exited' && (run.exitCode ?? 0) !== 0) || run.state === 'unknown';
}

/**
 * @param initNames spec.initContainers names, in order
 * @param latestOf  the newest run of a container by name (undefined: never ran in this sandbox)
 * @param appNames  spec.containers names
 */
export function nextInitStep(initNames: string[], appNames: string[], latestOf: (name: string) => RunView | undefined): InitStep {
  if (initNames.length === 0) return { done: true };
  if (appNames.some((n) => latestOf(n)?.state === 'running')) return { done: true };
  for (let i = initNames.length - 1; i >= 0; i--) {
    const run = latestOf(initNames[i]!);
    if (run && isInitFailed(run)) return { done: false, failed: initNames[i] };
  }
  for (let i = initNames.length - 1; i >= 0; i--) {
    const run = latestOf(initNames[i]!);
    if (!run) continue;
    if (run.state === 'running') return { done: false };
    // created but never started (podbay stopped in between): start it
    if (run.state === 'created') return { done: false, next: initNames[i] };
    if (i === initNames.length - 1) return { done: true };
    return { done: false, next: initNames[i + 1] };
  }
  return { done: false, next: initNames[0] };
}
