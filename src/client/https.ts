/**
 * The client contract over HTTPS, for any Kubernetes API server (podbay's own, or another):
 * bearer-token authentication, JSON bodies, and watches read as a chunked stream of one JSON
 * event per line. A non-2xx answer becomes the `ApiError` its metav1.Status describes, so callers
 * see the same errors as through the in-process client.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { ApiError, type StatusReason } from '../api/errors.js';
import { resourceInfo, type ResourceInfo } from '../api/registry.js';
import type { Client, ClientUpdateOptions, DeleteOptions, ListQuery, Obj, ObjList, PatchType, ResourceClient, Watch, WatchEventOut, WatchHandlers, WatchQuery, WriteOptions } from './types.js';

const PODS = resourceInfo('pods')!;
const SERVICEACCOUNTS = resourceInfo('serviceaccounts')!;

export interface HttpsClientOptions {
  /** https://host:port */
  server: string;
  /**
   * every server of the cluster (several `podbay server`s on one etcd), tried in turn from
   * `server`: a request that cannot reach one goes to the next (see `open`)
   */
  servers?: string[];
  /** how long a connection may take to open before the next server is tried (default 5 s) */
  connectTimeoutMs?: number;
  /** a bearer token; or none when a client certificate (certPem/keyPem) says who this is */
  token?: string;
  /** a client certificate and its key (PEM): a node's credential (src/cli/agent.ts) */
  certPem?: string;
  keyPem?: string;
  /** the CA that signed the server's certificate (PEM) */
  caPem: string;
  /** per-request timeout for everything but watches (default 30 s) */
  timeoutMs?: number;
}

/** The collection path of a resource: /api/v1[/namespaces/NS]/pods, /apis/apps/v1/... */
export function resourcePath(r: ResourceInfo, ns: string | undefined, name?: string, sub?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && ns) p += `/namespaces/${encodeURIComponent(ns)}`;
  p += `/${r.resource}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (sub) p += `/${sub}`;
  return p;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

function listParams(q: ListQuery): Record<string, string | number | undefined> {
  return {
    labelSelector: q.labelSelector,
    fieldSelector: q.fieldSelector,
    limit: q.limit,
    continue: q.continue,
    resourceVersion: q.resourceVersion,
    resourceVersionMatch: q.resourceVersionMatch,
  };
}

/** The ApiError a non-2xx answer describes (a Status body), or one made from the code. */
function errorFrom(code: number, body: string): ApiError {
  try {
    const s = JSON.parse(body) as Obj;
    if (s.kind === 'Status') return new ApiError(s.code ?? code, (s.reason || 'InternalError') as StatusReason, s.message ?? '', s.details);
  } catch {
    /* not JSON: fall through */
  }
  return new ApiError(code, code === 404 ? 'NotFound' : 'InternalError', `the server answered ${code}: ${body.slice(0, 200)}`);
}

/** a request that never reached a server: connection refused, unreachable, or not opened in time */
class ConnectError extends Error {
  constructor(
    readonly server: string,
    /** the error as a client of one server sees it */
    readonly original: Error,
  ) {
    super(`${server}: ${original.message}`);
  }
}

/** the server stopped answering a request it had taken (reset, or no answer in time) */
class NoAnswerError extends Error {
  constructor(
    message: string,
    readonly original: Error,
  ) {
    super(message);
  }
}

export class HttpsClient implements Client {
  private readonly agent: https.Agent;
  private readonly bases: URL[];
  /** the server requests go to, until one fails to reach it */
  private current = 0;

  constructor(private readonly opts: HttpsClientOptions) {
    this.bases = [...new Set([opts.server, ...(opts.servers ?? [])].map((s) => new URL(s).origin))].map((s) => new URL(s));
    this.agent = new https.Agent({ keepAlive: true, ca: opts.caPem, ...(opts.certPem ? { cert: opts.certPem, key: opts.keyPem } : {}) });
  }

  resource<T = Obj>(r: ResourceInfo): ResourceClient<T> {
    return new HttpsResource<T>(this, r);
  }

  async bind(ns: string, pod: string, node: string): Promise<void> {
    await this.request('POST', resourcePath(PODS, ns, pod, 'binding'), {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: pod, namespace: ns },
      target: { apiVersion: 'v1', kind: 'Node', name: node },
    });
  }

  createToken(ns: string, serviceAccount: string, request: Obj): Promise<Obj> {
    return this.request('POST', resourcePath(SERVICEACCOUNTS, ns, serviceAccount, 'token'), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', ...request });
  }

  /** close kept-alive connections */
  close(): void {
    this.agent.destroy();
  }

  /** the server requests go to now */
  get server(): string {
    return this.bases[this.current].origin;
  }

  /**
   * A request to the current server; with several servers, failing over as a kubelet behind a
   * load balancer would see it: a request that never reached its server (refused, unreachable,
   * no connection within connectTimeoutMs) is sent to the next one, whatever its verb. One the
   * server took and then did not answer (connection reset, no answer in timeoutMs) moves the
   * client to the next server too, but is sent again only when it is a GET: a write may have
   * been done, and the caller (which retries its writes anyway) must see that it failed.
   */
  private async open(method: string, path: string, headers: Record<string, string>, timeoutMs: number | undefined, body?: string): Promise<IncomingMessage> {
    let last: Error | undefined;
    for (let tried = 0; tried < this.bases.length; tried++) {
      const i = this.current;
      try {
        return await this.openOn(this.bases[i], method, path, headers, timeoutMs, body);
      } catch (e) {
        last = e as Error;
        const retryable = e instanceof ConnectError || (e instanceof NoAnswerError && method === 'GET');
        if (!(e instanceof ConnectError || e instanceof NoAnswerError)) throw e;
        if (this.bases.length === 1) throw e.original;
        // another request may have moved on already: move only from the server that failed
        if (this.current === i) this.current = (i + 1) % this.bases.length;
        if (!retryable) throw e;
      }
    }
    throw last!;
  }

  private openOn(base: URL, method: string, path: string, headers: Record<string, string>, timeoutMs: number | undefined, body?: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      let connected = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const req = https.request(
        {
          method,
          host: base.hostname.replace(/^\[|\]$/g, ''),
          port: base.port || 443,
          path,
          agent: this.agent,
          headers: { ...(this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {}), Accept: 'application/json', ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) },
          timeout: timeoutMs,
        },
        (res) => {
          clearTimeout(connectTimer);
          resolve(res);
        },
      );
      req.on('socket', (sock) => {
        // a kept-alive socket is connected already; a new one carries nothing of the request
        // until its TLS handshake is done
        if (!sock.connecting && !sock.pending) {
          connected = true;
          return;
        }
        sock.once('secureConnect', () => (connected = true));
        // one server: wait for it as long as for an answer (timeoutMs), as before failover
        if (this.bases.length === 1) return;
        const ms = this.opts.connectTimeoutMs ?? 5000;
        connectTimer = setTimeout(() => req.destroy(new ConnectError(base.origin, new Error(`no TLS connection in ${ms} ms`))), ms);
        sock.once('secureConnect', () => clearTimeout(connectTimer));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        if (e instanceof ConnectError || e instanceof NoAnswerError) return reject(e);
        if (!connected || ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'].includes(e.code ?? '')) return reject(new ConnectError(base.origin, e));
        if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return reject(new NoAnswerError(`${method} ${path} on ${base.origin}: ${e.message}`, e));
        reject(e);
      });
      req.on('timeout', () => {
        const plain = new Error(`${method} ${path}: no answer in ${timeoutMs} ms`);
        req.destroy(connected ? new NoAnswerError(`${method} ${path} on ${base.origin}: no answer in ${timeoutMs} ms`, plain) : new ConnectError(base.origin, plain));
      });
      req.end(body);
    });
  }

  /** One request with a JSON answer; a non-2xx answer throws its ApiError. */
  async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Obj> {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const res = await this.open(method, path, text !== undefined ? { 'Content-Type': contentType } : {}, this.opts.timeoutMs ?? 30_000, text);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const out = Buffer.concat(chunks).toString('utf8');
    const code = res.statusCode ?? 0;
    if (code < 200 || code > 299) throw errorFrom(code, out);
    return out ? (JSON.parse(out) as Obj) : {};
  }

  /** A watch: one JSON event per line of a chunked answer. */
  async stream(path: string, handlers: WatchHandlers): Promise<Watch> {
    const res = await this.open('GET', path, {}, undefined);
    const code = res.statusCode ?? 0;
    if (code !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw errorFrom(code, Buffer.concat(chunks).toString('utf8'));
    }
    let cancelled = false;
    let ended = false;
    let buf = '';
    const end = (err?: Error) => {
      if (ended || cancelled) return;
      ended = true;
      handlers.end?.(err);
    };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (cancelled) return;
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let ev: WatchEventOut;
        try {
          ev = JSON.parse(line) as WatchEventOut;
        } catch (e) {
          res.destroy();
          end(new Error(`watch ${path}: an event that is not JSON: ${(e as Error).message}`));
          return;
        }
        handlers.event(ev);
      }
    });
    res.on('end', () => end());
    res.on('error', (e) => end(e));
    res.on('close', () => end());
    return {
      cancel() {
        cancelled = true;
        res.destroy();
      },
    };
  }
}

class HttpsResource<T> implements ResourceClient<T> {
  constructor(
    private readonly c: HttpsClient,
    private readonly r: ResourceInfo,
  ) {}

  async get(ns: string | undefined, name: string): Promise<T> {
    return (await this.c.request('GET', resourcePath(this.r, ns, name))) as T;
  }

  async tryGet(ns: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get(ns, name);
    } catch (e) {
      if (e instanceof ApiError && e.reason === 'NotFound') return undefined;
      throw e;
    }
  }

  async list(ns: string | undefined, q: ListQuery = {}): Promise<ObjList<T>> {
    return (await this.c.request('GET', resourcePath(this.r, ns) + query(listParams(q)))) as ObjList<T>;
  }

  watch(ns: string | undefined, q: WatchQuery, handlers: WatchHandlers): Promise<Watch> {
    const params = { ...listParams(q), watch: 'true', allowWatchBookmarks: q.allowWatchBookmarks, sendInitialEvents: q.sendInitialEvents };
    return this.c.stream(resourcePath(this.r, ns) + query(params), handlers);
  }

  async create(ns: string | undefined, obj: T | Obj, opts: WriteOptions = {}): Promise<T> {
    const o = obj as Obj;
    const path = resourcePath(this.r, this.r.namespaced ? ns ?? o.metadata?.namespace : undefined);
    return (await this.c.request('POST', path + query({ dryRun: opts.dryRun ? 'All' : undefined }), o)) as T;
  }

  async update(obj: T | Obj, opts: ClientUpdateOptions = {}): Promise<T> {
    const o = obj as Obj;
    const path = resourcePath(this.r, o.metadata?.namespace, o.metadata?.name, opts.sub);
    return (await this.c.request('PUT', path + query({ dryRun: opts.dryRun ? 'All' : undefined }), o)) as T;
  }

  async patch(ns: string | undefined, name: string, type: PatchType, patch: unknown, opts: ClientUpdateOptions = {}): Promise<T> {
    const path = resourcePath(this.r, ns, name, opts.sub) + query({ dryRun: opts.dryRun ? 'All' : undefined });
    return (await this.c.request('PATCH', path, typeof patch === 'string' ? patch : JSON.stringify(patch), type)) as T;
  }

  async delete(ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<Obj> {
    const body: Obj = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.preconditions) body.preconditions = opts.preconditions;
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.orphanDependents !== undefined) body.orphanDependents = opts.orphanDependents;
    if (opts.dryRun) body.dryRun = ['All'];
    return this.c.request('DELETE', resourcePath(this.r, ns, name), body);
  }
}
