/**
 * Ephemeral containers (`kubectl debug -it POD --image=...`): containers added to a running pod
 * through pods/NAME/ephemeralcontainers. The kubelet's rules for them, kept here:
 *
 *   start       as soon as the pod has a sandbox (even before its init containers are done),
 *               in the pod's network, IPC and UTS namespaces, like any container
 *   --target    targetContainerName: the ephemeral container joins that container's PID
 *               namespace (CRI's NamespaceMode TARGET; runc joins /proc/PID/ns/pid of the target),
 *               unless the pod shares one PID namespace anyway (shareProcessNamespace, hostPID).
 *               A target that is not running fails the creation (CreateContainerConfigError,
 *               "unable to find target container NAME", the kubelet's getTargetID wording)
 *   restart     never, whatever the pod's restartPolicy
 *   status      status.ephemeralContainerStatuses; they never count towards the pod's phase or
 *               readiness
 *   teardown    stopped and removed with the pod, as any container of its sandbox
 */
import type { ContainerStatus as RtContainer } from '../runtime/types.js';
import { ConfigError } from './env.js';

type Obj = Record<string, any>;

/** Which list of the pod spec a container is declared in. */
export type ContainerList = 'containers' | 'initContainers' | 'ephemeralContainers';

export function ephemeralSpecs(pod: Obj): Obj[] {
  return (pod.spec?.ephemeralContainers ?? []) as Obj[];
}

/** Every container a client may name (exec, attach, logs): podutil.VisitContainers' order. */
export function allContainerSpecs(pod: Obj): Obj[] {
  return [...((pod.spec?.initContainers ?? []) as Obj[]), ...((pod.spec?.containers ?? []) as Obj[]), ...ephemeralSpecs(pod)];
}

/** which list of the pod spec declares the container `name` */
export function listOf(pod: Obj, name: string): ContainerList {
  if (((pod.spec?.initContainers ?? []) as Obj[]).some((c) => c.name === name)) return 'initContainers';
  if (ephemeralSpecs(pod).some((c) => c.name === name)) return 'ephemeralContainers';
  return 'containers';
}

/**
 * The runtime id of the running container whose PID namespace an ephemeral container joins, or
 * undefined when it has no target or the pod shares one PID namespace anyway.
 */
export function targetContainerId(pod: Obj, spec: Obj, runs: RtContainer[]): string | undefined {
  const target = spec.targetContainerName;
  if (!target || pod.spec?.shareProcessNamespace || pod.spec?.hostPID) return undefined;
  const running = runs.find((c) => c.config.name === target && c.state === 'running');
  if (!running) throw new ConfigError(`unable to find target container ${target}`);
  return running.id;
}

/**
 * The error message kube-apiserver gives a log request that names no container in a pod with
 * several (pkg/registry/core/pod's LogLocation: ephemeral containers are not offered).
 */
export function chooseContainerMessage(pod: Obj): string {
  const names = ((pod.spec?.containers ?? []) as Obj[]).map((c) => c.name);
  const inits = ((pod.spec?.initContainers ?? []) as Obj[]).map((c) => c.name);
  const msg = `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(' ')}]`;
  return inits.length ? `${msg} or one of the init containers: [${inits.join(' ')}]` : msg;
}
