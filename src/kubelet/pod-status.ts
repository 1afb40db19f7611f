/**
 * Pod status as the kubelet computes it (pure): container statuses from the runtime's view of
 * each container's runs, the pod phase (kubelet's getPhase), and the conditions.
 *
 * Pod phase:
 *
 *   Pending --(all containers started once)--> Running --(all exited, policy says stop)--> Succeeded | Failed
 *      (a container waiting without a previous run keeps the pod Pending; phases never go back
 *       from Succeeded/Failed)
 *
 *   With init containers: Pending until every init container exited 0 (Initialized False,
 *   "containers with incomplete status: [...]"); a failed one with restartPolicy Never: Failed.
 */
import type { ContainerStatus as RuntimeContainer } from '../runtime/types.js';

type Obj = Record<string, any>;

/** Why a container is waiting, when the kubelet knows better than the runtime. */
export interface Waiting {
  reason: string;
  message?: string;
}

export interface ContainerView {
  name: string;
  image: string;
  /** runs of this container, newest first (restartCount descending) */
  runs: RuntimeContainer[];
  waiting?: Waiting;
  /** the startup probe's verdict for the newest run (undefined: no startup probe) */
  started?: boolean;
  /** the readiness probe's verdict for the newest run (undefined: no readiness probe) */
  ready?: boolean;
  /** an init container with restartPolicy Always (a native sidecar): started/ready as an app container */
  sidecar?: boolean;
  /** the container's resources as applied to its cgroup (pod resources cannot change here: no resize) */
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
}

export const CONTAINER_ID_PREFIX = 'podbay://';

/** metav1.Time: RFC 3339 in whole seconds (truncation keeps startedAt <= finishedAt) */
export function apiTime(t: string | undefined): string | null {
  if (!t) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().replace(/\.\d+Z$/, 'Z');
}

function terminatedOf(c: RuntimeContainer): Obj {
  const t: Obj = {
    exitCode: c.exitCode ?? 0,
    reason: c.reason ?? ((c.exitCode ?? 0) === 0 ? 'Completed' : 'Error'),
    startedAt: apiTime(c.startedAt),
    finishedAt: apiTime(c.finishedAt),
    containerID: CONTAINER_ID_PREFIX + c.id,
  };
  if (c.message) t.message = c.message;
  return t;
}

/**
 * One entry of containerStatuses (or initContainerStatuses with `init`). A container that has
 * no run yet waits with `defaultReason`: ContainerCreating, or PodInitializing in a pod with
 * init containers. App containers: `started` follows the startup probe and `ready` the
 * readiness probe once started (both true while running when there is no such probe). Init
 * containers: `started` while running, `ready` once exited 0.
 */
export function containerStatus(v: ContainerView, defaultReason = 'ContainerCreating', init = false): Obj {
  const [latest, previous] = v.runs;
  const st: Obj = {
    name: v.name,
    state: {},
    lastState: {},
    ready: false,
    restartCount: latest ? latest.config.restartCount : 0,
    image: v.image,
    imageID: latest?.imageId ?? '',
    started: false,
  };
  if (latest) st.containerID = CONTAINER_ID_PREFIX + latest.id;
  // as the kubelet with InPlacePodVerticalScaling (beta, on in 1.33): what was allocated once the
  // container exists, and what its cgroup carries while it runs
  const requests = v.resources?.requests && Object.keys(v.resources.requests).length ? v.resources.requests : undefined;
  const limits = v.resources?.limits && Object.keys(v.resources.limits).length ? v.resources.limits : undefined;
  if (latest && requests) st.allocatedResources = { ...requests };
  if (latest?.state === 'running' && (requests || limits)) st.resources = { ...(limits ? { limits: { ...limits } } : {}), ...(requests ? { requests: { ...requests } } : {}) };
  if (v.waiting) {
    st.state = { waiting: { reason: v.waiting.reason, ...(v.waiting.message ? { message: v.waiting.message } : {}) } };
    if (latest && latest.state === 'exited') st.lastState = { terminated: terminatedOf(latest) };
    else if (previous && previous.state === 'exited') st.lastState = { terminated: terminatedOf(previous) };
    return st;
  }
  if (!latest || latest.state === 'created' || latest.state === 'unknown') {
    st.state = { waiting: { reason: defaultReason } };
    if (previous?.state === 'exited') st.lastState = { terminated: terminatedOf(previous) };
    return st;
  }
  if (latest.state === 'running') {
    st.state = { running: { startedAt: apiTime(latest.startedAt) } };
    const asInit = init && !v.sidecar;
    st.started = asInit ? true : (v.started ?? true);
    st.ready = asInit ? false : st.started && (v.ready ?? true);
  } else {
    st.state = { terminated: terminatedOf(latest) };
    if (init && !v.sidecar && (latest.exitCode ?? 0) === 0) st.ready = true;
  }
  if (previous?.state === 'exited') st.lastState = { terminated: terminatedOf(previous) };
  return st;
}

/** kubecontainer.HasAnyRegularContainerStarted: an app container runs or ran */
function anyAppStarted(statuses: Obj[]): boolean {
  return statuses.some((s) => s.state.running || s.state.terminated || s.lastState?.terminated);
}

/**
 * kubelet's getPhase over the init container and container statuses. `sidecars` names the init
 * containers with restartPolicy Always: a running one counts as running, a terminated one is
 * ignored, one not yet started keeps the pod Pending until an app container started.
 */
export function podPhase(restartPolicy: string, statuses: Obj[], initStatuses: Obj[] = [], sidecars: ReadonlySet<string> = new Set()): string {
  let pendingInit = 0;
  let pendingSidecars = 0;
  let failedInit = 0;
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of initStatuses) {
    if (sidecars.has(s.name)) {
      if (s.state.running) {
        if (!s.started) pendingSidecars++;
        running++;
      } else if (s.state.terminated || s.lastState?.terminated) {
        // a terminated sidecar does not count
      } else {
        pendingSidecars++;
        waiting++;
      }
      continue;
    }
    if (s.state.running) pendingInit++;
    else if (s.state.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.state.waiting && s.lastState?.terminated) {
      if (s.lastState.terminated.exitCode !== 0) failedInit++;
    } else pendingInit++;
  }
  for (const s of statuses) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    }
  }
  if (failedInit > 0 && restartPolicy === 'Never') return 'Failed';
  if (pendingInit > 0 || (pendingSidecars > 0 && !anyAppStarted(statuses)) || waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(old: Obj[] | undefined, type: string, status: string, now: string, reason?: string, message?: string): Obj {
  const prev = (old ?? []).find((c) => c.type === type);
  const c: Obj = { type, status, lastProbeTime: null, lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now };
  if (reason) c.reason = reason;
  if (message) c.message = message;
  return c;
}

/** kubelet's GeneratePodInitializedCondition: True once every init container exited 0. */
function initializedCondition(old: Obj[] | undefined, initStatuses: Obj[], statuses: Obj[], sidecars: ReadonlySet<string>, phase: string, now: string): Obj {
  if (initStatuses.length === 0) return condition(old, 'Initialized', 'True', now);
  // an app container that started means the pod was initialized (sidecars may restart later)
  if (anyAppStarted(statuses)) return condition(old, 'Initialized', 'True', now);
  if (phase === 'Succeeded') return condition(old, 'Initialized', 'True', now, 'PodCompleted');
  const complete = (s: Obj) => (sidecars.has(s.name) ? s.started === true : s.state.terminated && s.state.terminated.exitCode === 0);
  const incomplete = initStatuses.filter((s) => !complete(s)).map((s) => s.name);
  if (incomplete.length === 0) return condition(old, 'Initialized', 'True', now);
  return condition(old, 'Initialized', 'False', now, 'ContainersNotInitialized', `containers with incomplete status: [${incomplete.join(' ')}]`);
}

export interface PodStatusInput {
  pod: Obj;
  containers: ContainerView[];
  /** views of spec.initContainers, in order (empty or absent when there are none) */
  initContainers?: ContainerView[];
  /** views of spec.ephemeralContainers (they count towards neither phase nor readiness) */
  ephemeralContainers?: ContainerView[];
  sandboxReady: boolean;
  podIPs: string[];
  hostIP: string;
  now: string;
}

/** The full status the kubelet writes for a pod. */
export function computePodStatus(input: PodStatusInput): Obj {
  const { pod, now } = input;
  const old: Obj = pod.status ?? {};
  const inits = input.initContainers ?? [];
  const defaultReason = inits.length ? 'PodInitializing' : 'ContainerCreating';
  const statuses = input.containers.map((v) => containerStatus(v, defaultReason));
  const initStatuses = inits.map((v) => containerStatus(v, defaultReason, true));
  const sidecars = new Set(inits.filter((v) => v.sidecar).map((v) => v.name));
  let phase = podPhase(pod.spec.restartPolicy ?? 'Always', statuses, initStatuses, sidecars);
  if (old.phase === 'Succeeded' || old.phase === 'Failed') phase = old.phase;
  const terminal = phase === 'Succeeded' || phase === 'Failed';

  // kubelet's GenerateContainersReadyCondition: sidecars first, then the app containers
  const unready = [...initStatuses.filter((s) => sidecars.has(s.name)), ...statuses].filter((s) => !s.ready).map((s) => s.name);
  const ready = unready.length === 0 && statuses.length > 0;
  const notReadyMsg = `containers with unready status: [${unready.join(' ')}]`;
  const conds: Obj[] = [
    condition(old.conditions, 'PodReadyToStartContainers', input.sandboxReady ? 'True' : 'False', now),
    initializedCondition(old.conditions, initStatuses, statuses, sidecars, phase, now),
    terminal
      ? condition(old.conditions, 'Ready', 'False', now, 'PodCompleted')
      : condition(old.conditions, 'Ready', ready ? 'True' : 'False', now, ready ? undefined : 'ContainersNotReady', ready ? undefined : notReadyMsg),
    terminal
      ? condition(old.conditions, 'ContainersReady', 'False', now, 'PodCompleted')
      : condition(old.conditions, 'ContainersReady', ready ? 'True' : 'False', now, ready ? undefined : 'ContainersNotReady', ready ? undefined : notReadyMsg),
  ];
  const scheduled = (old.conditions ?? []).find((c: Obj) => c.type === 'PodScheduled');
  conds.push(scheduled ?? condition(undefined, 'PodScheduled', 'True', now));

  const status: Obj = {
    phase,
    conditions: conds,
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    startTime: old.startTime ?? now,
    ...(inits.length ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
    qosClass: old.qosClass,
  };
  const ephemerals = input.ephemeralContainers ?? [];
  // as the kubelet converts them: init-container style (started while running), never ready
  if (ephemerals.length) status.ephemeralContainerStatuses = ephemerals.map((v) => ({ ...containerStatus(v, defaultReason, true), ready: false }));
  if (input.podIPs.length) {
    status.podIP = input.podIPs[0];
    status.podIPs = input.podIPs.map((ip) => ({ ip }));
  } else if (old.podIP && !terminal) {
    status.podIP = old.podIP;
    status.podIPs = old.podIPs;
  }
  if (!status.qosClass) delete status.qosClass;
  return status;
}
