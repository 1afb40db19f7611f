/**
 * Container probes, as the kubelet's prober (pkg/kubelet/prober): one worker per probe of an
 * app container (startupProbe, readinessProbe, livenessProbe), each on its own timer of
 * periodSeconds, probing the newest run of the container.
 *
 *   a new run (container ID)   -> the probe's initial verdict: Readiness Failure, Liveness
 *                                 Success, Startup Unknown; probing resumes
 *   run not running            -> Failure
 *   < initialDelaySeconds      -> not probed
 *   not started yet            -> only the startup probe runs; once started, only the others
 *   probe                      -> httpGet (GET podIP:port, 200-399), tcpSocket (connect),
 *                                 exec (runtime.execSync, exit 0); every failure records an
 *                                 `Unhealthy` event ("Readiness probe failed: ...")
 *   verdict                    -> changes only after successThreshold successes or
 *                                 failureThreshold failures in a row (ProbeState); a Liveness or
 *                                 Startup Failure holds the worker until a new run appears
 *
 * A changed verdict calls onChange(pod UID) (the kubelet then syncs the pod: status `started`
 * and `ready`, or the kill of a container that failed its liveness or startup probe). Workers
 * go when their pod goes (removePod) or the kubelet stops.
 */
import http from 'node:http';
import net from 'node:net';
import type { Runtime, ContainerStatus as RtContainer } from '../runtime/types.js';

type Obj = Record<string, any>;

export type ProbeKind = 'Startup' | 'Readiness' | 'Liveness';
export type ProbeResult = 'Success' | 'Failure' | 'Unknown';

const FIELDS: Record<ProbeKind, string> = { Startup: 'startupProbe', Readiness: 'readinessProbe', Liveness: 'livenessProbe' };

/** A probe worker's bookkeeping (pure): the verdict for one run, with thresholds. */
export class ProbeState {
  containerId?: string;
  result: ProbeResult;
  /** after a Liveness/Startup failure: no probing until a new run */
  onHold = false;
  private last: ProbeResult = 'Unknown';
  private streak = 0;

  constructor(
    readonly kind: ProbeKind,
    readonly successThreshold = 1,
    readonly failureThreshold = 3,
  ) {
    this.result = this.initial();
  }

  private initial(): ProbeResult {
    return this.kind === 'Readiness' ? 'Failure' : this.kind === 'Liveness' ? 'Success' : 'Unknown';
  }

  private set(r: ProbeResult): boolean {
    const changed = this.result !== r;
    this.result = r;
    return changed;
  }

  /** the run being probed is (still) this one; a new one starts over. True when the verdict changed. */
  track(containerId: string): boolean {
    if (this.containerId === containerId) return false;
    this.containerId = containerId;
    this.onHold = false;
    this.last = 'Unknown';
    this.streak = 0;
    this.result = this.initial();
    return true;
  }

  /** the run is not running: Failure */
  notRunning(): boolean {
    this.streak = 0;
    return this.set('Failure');
  }

  /** one probe's outcome; the verdict moves only after enough of the same in a row */
  observe(r: ProbeResult): boolean {
    if (r === this.last) this.streak++;
    else {
      this.last = r;
      this.streak = 1;
    }
    if ((r === 'Failure' && this.streak < this.failureThreshold) || (r === 'Success' && this.streak < this.successThreshold)) return false;
    const changed = this.set(r);
    if (r === 'Failure' && this.kind !== 'Readiness') {
      this.onHold = true;
      this.streak = 0;
    }
    return changed;
  }
}

export interface ProbeOutcome {
  result: ProbeResult;
  /** what the event says after "<Kind> probe failed: " */
  output: string;
}

export interface ProbeContext {
  probe: Obj;
  container: Obj;
  containerId: string;
  /** the pod IP, or the host IP with hostNetwork */
  ip: string;
  runtime: Pick<Runtime, 'execSync'>;
}

/** The container port a probe names (a number, or the name of one of the container's ports). */
export function probePort(port: number | string | undefined, container: Obj): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port);
  const p = ((container.ports ?? []) as Obj[]).find((x) => x.name === port);
  return p?.containerPort;
}

/** kubelet's User-Agent for probes. */
const USER_AGENT = 'kube-probe/1.30';

function dialError(ip: string, port: number, e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNREFUSED') return `dial tcp ${ip}:${port}: connect: connection refused`;
  if (e.code === 'EHOSTUNREACH') return `dial tcp ${ip}:${port}: connect: no route to host`;
  if (e.code === 'ETIMEDOUT' || e.message === 'timeout') return `dial tcp ${ip}:${port}: i/o timeout`;
  return `dial tcp ${ip}:${port}: ${e.message}`;
}

/**
 * GET http://host:port/path. A probe wants a 2xx/3xx answer; a lifecycle hook (`anyStatus`) only
 * needs an answer, as the kubelet's runHTTPHandler ignores the status code.
 */
export function httpProbe(host: string, port: number, path: string, headers: Obj[], timeoutMs: number, anyStatus = false): Promise<ProbeOutcome> {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path.startsWith('/') ? path : `/${path}`}`;
  const hdrs: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: '*/*' };
  for (const h of headers) {
    const known = Object.keys(hdrs).find((k) => k.toLowerCase() === String(h.name).toLowerCase());
    if (known) delete hdrs[known];
    hdrs[h.name] = h.value;
  }
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: ProbeOutcome) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(o);
      }
    };
    const req = http.get(url, { headers: hdrs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 10 * 1024) body += d;
      });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        if ((code >= 200 && code < 400) || anyStatus) finish({ result: 'Success', output: body });
        else finish({ result: 'Failure', output: `HTTP probe failed with statuscode: ${code}` });
      });
      res.on('error', (e) => finish({ result: 'Failure', output: `Get "${url}": ${e.message}` }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ result: 'Failure', output: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ result: 'Failure', output: `Get "${url}": ${dialError(host, port, e)}` }));
  });
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, timeout: timeoutMs });
    const finish = (o: ProbeOutcome) => {
      sock.destroy();
      resolve(o);
    };
    sock.once('connect', () => finish({ result: 'Success', output: '' }));
    sock.once('timeout', () => finish({ result: 'Failure', output: `dial tcp ${host}:${port}: i/o timeout` }));
    sock.once('error', (e: NodeJS.ErrnoException) => finish({ result: 'Failure', output: dialError(host, port, e) }));
  });
}

/** Run one probe once (kubelet's prober.runProbe). Unknown: the probe could not run. */
export async function runProbe(ctx: ProbeContext): Promise<ProbeOutcome> {
  const { probe, container } = ctx;
  const timeoutMs = Math.max(1, probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec) {
    const argv: string[] = probe.exec.command ?? [];
    try {
      const r = await ctx.runtime.execSync(ctx.containerId, argv, probe.timeoutSeconds ?? 1);
      if (r.timedOut) return { result: 'Failure', output: `command ${JSON.stringify(argv.join(' '))} timed out` };
      const out = (r.stdout + r.stderr).replace(/\s+$/, '');
      return { result: r.exitCode === 0 ? 'Success' : 'Failure', output: out };
    } catch (e) {
      return { result: 'Unknown', output: (e as Error).message };
    }
  }
  const target = probe.httpGet ?? probe.tcpSocket;
  if (target) {
    const port = probePort(target.port, container);
    if (port === undefined) return { result: 'Unknown', output: `couldn't find port: ${target.port} in ${container.name}` };
    const host: string = target.host || ctx.ip;
    if (!host) return { result: 'Unknown', output: 'the pod has no IP yet' };
    if (probe.httpGet) {
      if ((probe.httpGet.scheme ?? 'HTTP') !== 'HTTP') return { result: 'Unknown', output: `podbay supports HTTP probes only, not ${probe.httpGet.scheme}` };
      return httpProbe(host, port, probe.httpGet.path ?? '/', probe.httpGet.httpHeaders ?? [], timeoutMs);
    }
    return tcpProbe(host, port, timeoutMs);
  }
  return { result: 'Unknown', output: probe.grpc ? 'podbay does not support grpc probes' : 'the probe has no handler' };
}

/** What the kubelet tells the prober about a pod at each sync. */
export interface ProbeTarget {
  pod: Obj;
  ip: string;
  /** the newest run of an app container */
  latest: (name: string) => RtContainer | undefined;
}

export interface ProberOptions {
  runtime: Pick<Runtime, 'execSync'>;
  /** records an event about a container of the pod */
  record: (pod: Obj, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath: string) => void;
  /** a verdict changed: sync the pod */
  onChange: (uid: string) => void;
  log?: (line: string) => void;
  /** for tests: run one probe */
  run?: (ctx: ProbeContext) => Promise<ProbeOutcome>;
}

class Worker {
  readonly state: ProbeState;
  timer?: NodeJS.Timeout;
  busy = false;

  constructor(
    readonly uid: string,
    readonly container: Obj,
    readonly kind: ProbeKind,
    readonly probe: Obj,
  ) {
    this.state = new ProbeState(kind, probe.successThreshold ?? 1, probe.failureThreshold ?? 3);
  }
}

export class Prober {
  private readonly workers = new Map<string, Worker[]>();
  private readonly targets = new Map<string, ProbeTarget>();
  private readonly runOne: (ctx: ProbeContext) => Promise<ProbeOutcome>;

  constructor(private readonly opts: ProberOptions) {
    this.runOne = opts.run ?? runProbe;
  }

  /** The pod as the kubelet last synced it: start workers for its probes, follow new runs. */
  update(target: ProbeTarget): void {
    const uid: string = target.pod.metadata.uid;
    this.targets.set(uid, target);
    let ws = this.workers.get(uid);
    if (!ws) {
      ws = [];
      // app containers and native sidecars (init containers with restartPolicy Always) are probed
      const sidecars = ((target.pod.spec.initContainers ?? []) as Obj[]).filter((c) => c.restartPolicy === 'Always');
      for (const c of [...((target.pod.spec.containers ?? []) as Obj[]), ...sidecars]) {
        for (const kind of ['Startup', 'Readiness', 'Liveness'] as ProbeKind[]) {
          const probe = c[FIELDS[kind]];
          if (probe) ws.push(new Worker(uid, c, kind, probe));
        }
      }
      this.workers.set(uid, ws);
      for (const w of ws) {
        w.timer = setInterval(() => void this.tick(w), Math.max(1, w.probe.periodSeconds ?? 10) * 1000);
        setImmediate(() => void this.tick(w));
      }
    }
    // a new run gets its initial verdict now, so the status written after this sync is right
    for (const w of ws) {
      const latest = target.latest(w.container.name);
      if (latest) w.state.track(latest.id);
    }
  }

  removePod(uid: string): void {
    for (const w of this.workers.get(uid) ?? []) clearInterval(w.timer);
    this.workers.delete(uid);
    this.targets.delete(uid);
  }

  stop(): void {
    for (const uid of [...this.workers.keys()]) this.removePod(uid);
  }

  private worker(uid: string, name: string, kind: ProbeKind): Worker | undefined {
    return this.workers.get(uid)?.find((w) => w.container.name === name && w.kind === kind);
  }

  /** The startup verdict for a run: undefined when the container has no startup probe. */
  started(uid: string, name: string, containerId: string): boolean | undefined {
    const w = this.worker(uid, name, 'Startup');
    return w && w.state.containerId === containerId && w.state.result === 'Success';
  }

  /** The readiness verdict for a run: undefined when the container has no readiness probe. */
  ready(uid: string, name: string, containerId: string): boolean | undefined {
    const w = this.worker(uid, name, 'Readiness');
    return w && w.state.containerId === containerId && w.state.result === 'Success';
  }

  /** 'Liveness' or 'Startup' when that probe failed for this run (the run must be killed). */
  failed(uid: string, name: string, containerId: string): 'Liveness' | 'Startup' | undefined {
    for (const kind of ['Liveness', 'Startup'] as const) {
      const w = this.worker(uid, name, kind);
      if (w && w.state.containerId === containerId && w.state.result === 'Failure') return kind;
    }
    return undefined;
  }

  /** One period of a worker (kubelet's worker.doProbe). */
  private async tick(w: Worker): Promise<void> {
    const target = this.targets.get(w.uid);
    if (w.busy || !target || this.workers.get(w.uid)?.includes(w) !== true) return;
    w.busy = true;
    let changed = false;
    try {
      const run = target.latest(w.container.name);
      if (!run) return;
      changed = w.state.track(run.id);
      if (w.state.onHold) return;
      if (run.state !== 'running') {
        changed = w.state.notRunning() || changed;
        return;
      }
      const startedAt = run.startedAt ? Date.parse(run.startedAt) : Date.now();
      if ((Date.now() - startedAt) / 1000 < (w.probe.initialDelaySeconds ?? 0)) return;
      const startup = this.worker(w.uid, w.container.name, 'Startup');
      const started = !startup || (startup.state.containerId === run.id && startup.state.result === 'Success');
      if (started ? w.kind === 'Startup' : w.kind !== 'Startup') return;

      const out = await this.runOne({ probe: w.probe, container: w.container, containerId: run.id, ip: target.ip, runtime: this.opts.runtime });
      if (this.workers.get(w.uid)?.includes(w) !== true || w.state.containerId !== run.id) return; // gone meanwhile
      const list = ((target.pod.spec.containers ?? []) as Obj[]).some((c) => c.name === w.container.name) ? 'containers' : 'initContainers';
      const fieldPath = `spec.${list}{${w.container.name}}`;
      if (out.result === 'Unknown') {
        this.opts.record(target.pod, 'Warning', 'Unhealthy', `${w.kind} probe errored: ${out.output}`, fieldPath);
        return;
      }
      if (out.result === 'Failure') this.opts.record(target.pod, 'Warning', 'Unhealthy', `${w.kind} probe failed: ${out.output}`, fieldPath);
      changed = w.state.observe(out.result) || changed;
    } catch (e) {
      this.opts.log?.(`prober: ${w.kind} probe of ${w.container.name} in pod ${w.uid}: ${(e as Error).message}`);
    } finally {
      w.busy = false;
      if (changed) this.opts.onChange(w.uid);
    }
  }
}
