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
 * Sidecar init containers (`restartPolicy: Always` on an init container, kubelet's
 * computeInitContainerActions): started in their place in the order; once running and started
 * (startup probe passed, or none) they do not block the next one; they are kept running
 * (restarted on exit, with back-off) for the pod's life, so every one that ran is in `sidecars`
 * for the kubelet to keep. An exited sidecar does not block the next init container.
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
  /** sidecar init containers that ran in this sandbox: keep them running (restartPolicy Always) */
  sidecars?: string[];
}

export function isInitFailed(run: RunView): boolean {
  return (run.state === 'exited' && (run.exitCode ?? 0) !== 0) || run.state === 'unknown';
}

export interface SidecarView {
  /** init containers with restartPolicy Always */
  restartable?: (name: string) => boolean;
  /** the newest run passed its startup probe (true when it has none) */
  started?: (name: string) => boolean;
}

/**
 * @param initNames spec.initContainers names, in order
 * @param latestOf  the newest run of a container by name (undefined: never ran in this sandbox)
 * @param appNames  spec.containers names
 */
export function nextInitStep(initNames: string[], appNames: string[], latestOf: (name: string) => RunView | undefined, view: SidecarView = {}): InitStep {
  const restartable = view.restartable ?? (() => false);
  const sidecars = initNames.filter((n) => restartable(n) && latestOf(n));
  const out = (s: InitStep): InitStep => (sidecars.length ? { ...s, sidecars } : s);
  if (initNames.length === 0) return { done: true };
  // an app container ran in this sandbox: initialization happened (kubelet's isPreviouslyInitialized)
  if (appNames.some((n) => latestOf(n)?.state === 'running')) return out({ done: true });
  for (const name of initNames) {
    const run = latestOf(name);
    if (!run || run.state === 'created') return out({ done: false, next: name });
    if (restartable(name)) {
      if (run.state === 'running' && !(view.started?.(name) ?? true)) return out({ done: false });
      continue; // running and started, or exited (restarted as a sidecar): the next one may go
    }
    if (isInitFailed(run)) return out({ done: false, failed: name });
    if (run.state === 'running') return out({ done: false });
  }
  return out({ done: true });
}
