/**
 * Container lifecycle hooks (postStart, preStop) as the kubelet runs them
 * (pkg/kubelet/lifecycle/handlers.go, kuberuntime_container.go startContainer / killContainer /
 * executePreStopHook):
 *
 *   postStart  runs right after `start`; the kubelet's start of that container blocks on it, so
 *              the container is not Running (status keeps it ContainerCreating) until it returns.
 *              Failure: event FailedPostStartHook "PostStartHook failed" (the handler's words stay
 *              out of events: they can hold secrets), the container is killed (Killing
 *              "FailedPostStartHook") and waits with PostStartHookError until restarted per policy.
 *   preStop    runs before SIGTERM, bounded by the grace period; what it used is taken from the
 *              grace left for SIGTERM, which is never under 2 s (minimumGracePeriodInSeconds).
 *              Failure: event FailedPreStopHook "PreStopHook failed"; the kill goes on.
 *
 * Handlers: exec (runtime.execSync in the container), httpGet (prober.ts's GET, any status is
 * an answer), sleep (seconds). exec and httpGet reuse the prober's machinery. A hook in flight
 * for a pod that is being deleted is abandoned (the kill that follows ends an exec), as the
 * kubelet cancels the sync's context.
 */
import type { Runtime } from '../runtime/types.js';
import { httpProbe, probePort } from './prober.js';
import { formatPod } from './security-context.js';

type Obj = Record<string, any>;

/** kubelet's minimumGracePeriodInSeconds */
export const MIN_GRACE_SECONDS = 2;

/** A postStart hook that never answers is given up after this long (the kubelet waits as long as its sync lives). */
const POST_START_LIMIT_SECONDS = 3600;

/**
 * The SIGTERM grace left after a preStop hook took `hookSeconds` of `graceSeconds` (kubelet's
 * killContainer). 0 stays 0: podbay's own immediate kills (eviction, force) do not wait.
 */
export function graceAfterPreStop(graceSeconds: number, hookSeconds: number): number {
  if (graceSeconds <= 0) return 0;
  return Math.max(MIN_GRACE_SECONDS, graceSeconds - Math.floor(hookSeconds));
}

/** Which action a handler names, or undefined (validation already refused handlers with none). */
export function hookAction(h: Obj | undefined): 'exec' | 'httpGet' | 'sleep' | undefined {
  if (!h) return undefined;
  if (h.exec) return 'exec';
  if (h.httpGet) return 'httpGet';
  if (h.sleep) return 'sleep';
  return undefined;
}

export interface HookTarget {
  pod: Obj;
  container: Obj;
  containerId: string;
  /** pod IP (host IP with hostNetwork): httpGet's default host */
  ip: string;
}

/**
 * Run one handler. Resolves undefined on success, or the kubelet's failure message (what the
 * container's waiting state shows; events say less).
 */
export async function runHandler(runtime: Pick<Runtime, 'execSync'>, h: Obj, t: HookTarget, timeoutSeconds: number, signal?: AbortSignal): Promise<string | undefined> {
  const action = hookAction(h);
  const pod = formatPod(t.pod);
  if (action === 'sleep') {
    const ms = Math.max(0, Number(h.sleep.seconds ?? 0)) * 1000;
    await abortable(new Promise((r) => setTimeout(r, Math.min(ms, timeoutSeconds * 1000)).unref?.()), signal);
    return undefined;
  }
  if (action === 'exec') {
    const argv: string[] = h.exec.command ?? [];
    try {
      const r = await abortable(runtime.execSync(t.containerId, argv, timeoutSeconds), signal);
      if (!r) return undefined; // abandoned
      if (r.timedOut || r.exitCode !== 0) {
        const err = r.timedOut ? `command '${argv.join(' ')}' timed out` : `command '${argv.join(' ')}' exited with ${r.exitCode}: ${r.stderr}`;
        return `Exec lifecycle hook ([${argv.join(' ')}]) for Container "${t.container.name}" in Pod "${pod}" failed - error: ${err}, message: ${JSON.stringify(r.stdout + r.stderr)}`;
      }
      return undefined;
    } catch (e) {
      return `Exec lifecycle hook ([${argv.join(' ')}]) for Container "${t.container.name}" in Pod "${pod}" failed - error: ${(e as Error).message}, message: ""`;
    }
  }
  if (action === 'httpGet') {
    const g = h.httpGet;
    const port = probePort(g.port, t.container);
    const path: string = g.path ?? '';
    const fail = (err: string) => `HTTP lifecycle hook (${path}) for Container "${t.container.name}" in Pod "${pod}" failed - error: ${err}`;
    if (port === undefined) return fail(`couldn't find port: ${g.port} in ${t.container.name}`);
    if ((g.scheme ?? 'HTTP') !== 'HTTP') return fail(`podbay's lifecycle hooks speak HTTP only, not ${g.scheme}`);
    const host: string = g.host || t.ip;
    if (!host) return fail('the pod has no IP');
    const out = await abortable(httpProbe(host, port, path || '/', g.httpHeaders ?? [], timeoutSeconds * 1000, true), signal);
    return !out || out.result === 'Success' ? undefined : fail(out.output);
  }
  return `the lifecycle handler of container ${t.container.name} names no action`;
}

/** Resolves to the promise's value, or undefined once the signal aborts. */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export interface HooksOptions {
  runtime: Pick<Runtime, 'execSync' | 'stopContainer'>;
  record: (pod: Obj, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath: string) => void;
  log?: (line: string) => void;
}

/** The kubelet's hook runner and container killer, with the in-flight hooks of each pod. */
export class LifecycleHooks {
  private readonly aborts = new Map<string, AbortController>();
  /** podbay is stopping: no hook is waited for any longer */
  private readonly stopping = new AbortController();

  constructor(private readonly opts: HooksOptions) {}

  private signalOf(uid: string): AbortSignal {
    let a = this.aborts.get(uid);
    if (!a || a.signal.aborted) this.aborts.set(uid, (a = new AbortController()));
    return AbortSignal.any([a.signal, this.stopping.signal]);
  }

  /** The kubelet is stopping: every hook in flight is abandoned (its container keeps running). */
  stop(): void {
    this.stopping.abort();
  }

  /** The pod is going: stop waiting for its hooks. */
  cancelPod(uid: string): void {
    this.aborts.get(uid)?.abort();
    this.aborts.delete(uid);
  }

  /** Runs the container's postStart hook; undefined: none or it succeeded; else the failure message. */
  async postStart(t: HookTarget, fieldPath: string): Promise<string | undefined> {
    const h = t.container.lifecycle?.postStart;
    if (!hookAction(h)) return undefined;
    const msg = await runHandler(this.opts.runtime, h, t, POST_START_LIMIT_SECONDS, this.signalOf(t.pod.metadata.uid));
    if (msg) {
      this.opts.log?.(`kubelet: ${msg}`);
      this.opts.record(t.pod, 'Warning', 'FailedPostStartHook', 'PostStartHook failed', fieldPath);
    }
    return msg;
  }

  /**
   * kubelet's killContainer after its Killing event: the preStop hook within the grace period,
   * then SIGTERM with what is left of it (at least 2 s), then SIGKILL.
   */
  async kill(t: HookTarget | undefined, containerId: string, graceSeconds: number, fieldPath = ''): Promise<void> {
    const h = t?.container.lifecycle?.preStop;
    let grace = graceSeconds;
    if (t && hookAction(h) && graceSeconds > 0) {
      const started = Date.now();
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), graceSeconds * 1000);
      try {
        const msg = await runHandler(this.opts.runtime, h, t, graceSeconds, AbortSignal.any([timeout.signal, this.stopping.signal]));
        if (msg) {
          this.opts.log?.(`kubelet: ${msg}`);
          this.opts.record(t.pod, 'Warning', 'FailedPreStopHook', 'PreStopHook failed', fieldPath);
        }
      } finally {
        clearTimeout(timer);
      }
      grace = graceAfterPreStop(graceSeconds, (Date.now() - started) / 1000);
      if (this.stopping.signal.aborted) throw new Error(`podbay is stopping: the preStop hook of ${t.container.name} was abandoned; the pod's next sync kills it`);
    }
    await this.opts.runtime.stopContainer(containerId, grace);
  }
}
