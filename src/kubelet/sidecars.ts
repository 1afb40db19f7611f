/**
 * Native sidecars (KEP-753, GA in 1.33): init containers with `restartPolicy: Always`. Which
 * init container starts when is init-containers.ts's; this file holds the rest of the rules:
 *
 *   restart     a sidecar restarts whenever it exits (policy Always), whatever the pod's policy
 *   job end     with the pod's restartPolicy Never/OnFailure, once every app container is done
 *               for good, the sidecars are stopped, so the pod can complete
 *   shutdown    app containers (and any regular init container) are stopped first, all at once;
 *               then the sidecars one at a time in reverse order, with what is left of the grace
 *               period (kubelet's killContainersWithSyncResult)
 */
import type { RunView } from './init-containers.js';

type Obj = Record<string, any>;

export function isSidecar(c: Obj | undefined): boolean {
  return c?.restartPolicy === 'Always';
}

export function sidecarNames(pod: Obj): string[] {
  return ((pod.spec.initContainers ?? []) as Obj[]).filter(isSidecar).map((c) => c.name);
}

/** The restart policy a container of `list` follows. */
export function containerRestartPolicy(podPolicy: string, list: 'containers' | 'initContainers' | 'ephemeralContainers', spec: Obj): 'Always' | 'OnFailure' | 'Never' {
  // an ephemeral container is never restarted (ephemeral-containers.ts)
  if (list === 'ephemeralContainers') return 'Never';
  if (list === 'containers') return podPolicy as 'Always' | 'OnFailure' | 'Never';
  if (isSidecar(spec)) return 'Always';
  return podPolicy === 'Never' ? 'Never' : 'OnFailure';
}

/** Every app container exited and will not be restarted by the pod's policy: the sidecars may go. */
export function appContainersDone(podPolicy: string, apps: (RunView | undefined)[]): boolean {
  if (podPolicy === 'Always' || apps.length === 0) return false;
  return apps.every((r) => r?.state === 'exited' && (podPolicy === 'Never' || (r.exitCode ?? 0) === 0));
}

/**
 * The order a pod's running containers are stopped in: first everything but the sidecars
 * together, then each sidecar alone, the last declared first. Names not in the spec go first.
 */
export function terminationOrder(pod: Obj, names: string[]): string[][] {
  const sidecars = sidecarNames(pod).filter((n) => names.includes(n));
  const first = names.filter((n) => !sidecars.includes(n));
  return [...(first.length ? [first] : []), ...sidecars.reverse().map((n) => [n])];
}
