/**
 * The HTTP edge of the API server: TLS, bearer-token authentication, routing of Kubernetes
 * REST paths, body decoding (with strict field validation), content negotiation (JSON or
 * meta.k8s.io Table), watch streaming, and rendering every error once as a metav1.Status.
 *
 * Paths served:
 *   /healthz /livez /readyz /version  /api /api/v1 /apis /apis/{group}[/{version}]
 *   /openapi/v2 /openapi/v3[/api/v1|/apis/{group}/{version}]
 *   /api/v1/{resource}[/{name}[/{sub}]]                      cluster-scoped, or all namespaces
 *   /api/v1/namespaces/{ns}/{resource}[/{name}[/{sub}]]      namespaced
 *   /api/v1/watch/...                                        the deprecated watch paths
 *   /apis/{group}/{version}/...                              the same, for the named groups
 *   /api/v1/namespaces/{ns}/serviceaccounts/{name}/token     TokenRequest (src/registry/token-request.ts)
 *   /.well-known/openid-configuration  /openid/v1/jwks      service-account issuer discovery
 *   /apis/podbay.io/v1alpha1/namespaces/{ns}/podexplains/{name}   podbay explain (src/explain)
 *   /ui/                                                     the web view's files, no data (src/ui)
 */
import { stampRequester } from '../api/csr.js';
import { yaml } from '../lazy-module.js';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  pathNotFound,
  statusBody,
  tooLarge,
  unauthorized,
  unsupportedMediaType,
} from '../api/errors.js';
import { apiGroup, apiGroups, apiResourceList, apiVersionOf, resourceInfo, RESOURCES, SCALE, type ResourceInfo } from '../api/registry.js';
import { applyScale, patchScale, scaleView, toScale } from '../api/scale.js';
import { noControllerWarning } from '../api/no-controller.js';
import { toTable, type IncludeObject } from '../api/tables.js';
import { strictErrors } from '../api/strict.js';
import { decodeTyped } from '../api/typecheck.js';
import { decodeTypedOrThrow, patchDecodeError, validateDeleteOptions, validateListOptions } from './request-options.js';
import { jsonTooDeep, nestingMessage, yamlTooDeep } from './body-depth.js';
import { checkQueryEscapes, decodePathSegment, queryBool, queryInt, watchTimeoutSeconds } from './query.js';
import { acceptsGzip, gzipOnce, GZIP_MIN_BYTES } from './gzip-cache.js';
import { openapiV3Document, OPENAPI_V2_PROTOBUF_CONTENT_TYPE, OPENAPI_V3_PATHS, type RenderedDocument } from './openapi.js';
import type { Registry } from '../registry/index.js';
import type { AdmissionAuthorization, AdmissionRequestContext, DeleteOptions, Obj, WatchEventOut, WatchQuery } from '../api/types.js';
import { VERSION_INFO } from '../version.js';
import { decodeProtobufObject } from './protobuf.js';
import { serveContainerLogs, serveStreamUpgrade, type NodeBackend, type StreamKind } from './node-streams.js';
import { kubeletAddress, relayGet, relayLogs, relayUpgrade, type KubeletClientCredential, type KubeletLocation } from './kubelet-relay.js';
import { fieldManagerOf, optionsInvalid } from './field-manager.js';
import { APPLY_PATCH_YAML } from '../api/patch/index.js';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT, DEFAULT_MAX_REQUESTS_INFLIGHT, InflightLimiter, requestClass, RETRY_AFTER_SECONDS, tooManyRequests } from './inflight.js';
import { DEFAULT_WATCH_QUEUE_MAX_BYTES, WatchQueue } from './watch-queue.js';
import { EXPLAIN_API_GROUP, EXPLAIN_API_RESOURCES, EXPLAIN_PREFIX, serveExplain } from '../explain/endpoint.js';
import { negotiateDiscovery, renderDiscovery, type DiscoveryVersion, type LegacyGroup, type LegacyResource, type RenderedDiscovery } from './aggregated-discovery.js';
import { uiFile } from '../ui/serve.js';
import { groupEntry, groupOf, serveGroup, type ApiGroupHandler } from './api-groups.js';
import { authenticationGroup, authorizationGroup } from './authz-review.js';
import { Authenticator, impersonate } from './authn.js';
import { RbacAuthorizer } from './authorizer.js';
import { requestAttributes } from './request-info.js';
import { forbiddenMessage, type Attributes, type UserInfo } from '../api/rbac.js';
import { coreStubRoute, discoveryEntry, groupStubRoute, serveStub, stubGroups, stubsInServedGroups, unservedKinds, type UnservedKind } from './unserved.js';
import { metricsGroup } from './metrics.js';
import { proxyTarget, serveProxy, type ProxyDeps, type ProxyTarget } from './proxy.js';
import { admittedQuery, attachOptions, execOptions, portForwardOptions, proxyOptions, proxyRest } from './connect-admission.js';
import { portForwardQueryPorts } from './portforward.js';
import { servePodProxyUpgrade } from './proxy-upgrade.js';
import { podLogOptions, type PodLogOptions } from './log-options.js';
import { CustomResourceServing } from './custom-resources.js';
import { apiServicesGroup } from './apiservices.js';
import { rfc3339 } from '../api/time.js';
import { nodeIdentity } from '../api/node-graph.js';
import { tokenRequestRestriction } from '../registry/node-restriction.js';
import { serveHealth, within, type HealthCheck, type HealthEndpoint } from './health.js';

const CSRS = resourceInfo('certificatesigningrequests', 'certificates.k8s.io')!;

const PROTOBUF = 'application/vnd.kubernetes.protobuf';

/** etcd's default request limit; kube-apiserver refuses bigger bodies too. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export type { NodeBackend } from './node-streams.js';

export interface ApiServerOptions {
  /** the node's side of pods/log; without it, logs answer 503 */
  node?: NodeBackend;
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  token: string;
  /**
   * --anonymous-auth (default true): a request with no credentials is system:anonymous, which
   * RBAC lets read /healthz, /livez, /readyz and /version only (403 elsewhere); false: 401
   */
  anonymousAuth?: boolean;
  /**
   * the CA whose client certificates authenticate (kube-apiserver's --client-ca-file): the
   * server asks every client for a certificate, verifies one against this CA, and still serves
   * a client without one (it may carry a token). Sent after the serving certificate too, so an
   * agent can pin the CA by its hash (--ca-cert-hash) before it trusts the server.
   */
  clientCaPem?: string;
  /**
   * the node `node` serves (the server's own kubelet): logs, exec, attach and port-forward of a
   * pod on another node (an agent's) go to that node's kubelet server (kubelet-relay.ts)
   */
  nodeName?: string;
  /** the API server's client certificate towards kubelets (DIR/pki/apiserver-kubelet-client.*) and the CA their serving certificates come from */
  kubeletClient?: KubeletClientCredential;
  /** seconds between BOOKMARK events on watches that allow them */
  bookmarkIntervalSeconds?: number;
  /** non-mutating requests in flight (watches and other long-running ones excluded); 0 = no limit */
  maxRequestsInflight?: number;
  /** mutating requests in flight; 0 = no limit */
  maxMutatingRequestsInflight?: number;
  /** concurrent connections; beyond it the listener drops new ones */
  maxConnections?: number;
  /** bytes a watcher may fall behind before it is closed (see watch-queue.ts) */
  watchQueueMaxBytes?: number;
  log?: (line: string) => void;
}

interface Route {
  /** "" for the core group */
  ns?: string;
  r: ResourceInfo;
  name?: string;
  sub?: string;
  watchPath: boolean;
}

type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  // kube-apiserver's JSON encoder ends every object with a newline
  const text = typeof body === 'string' ? body : JSON.stringify(body) + '\n';
  // a warning set for the whole request (a deprecated custom version) comes first, then the handler's
  const before = res.getHeader('Warning');
  if (before !== undefined && headers.Warning !== undefined) headers = { ...headers, Warning: [before, headers.Warning].flat() as unknown as string };
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

/**
 * A cached document with its ETag; 304 when the client already has it. `immutable`: the URL
 * names the content (an /openapi/v3 document asked for with its `hash`), so clients may keep it
 * a year without asking again, as kube-openapi's handler3 tells them.
 */
async function sendCached(req: IncomingMessage, res: ServerResponse, body: Buffer, etag: string, contentType: string, immutable = false, extra: Record<string, string> = {}): Promise<void> {
  const headers: Record<string, string> = {
    'Content-Type': contentType,
    ETag: etag,
    'Cache-Control': immutable ? 'public, immutable' : 'no-cache, private',
    Vary: 'Accept, Accept-Encoding',
    ...(immutable ? { Expires: new Date(Date.now() + 365 * 86400_000).toUTCString() } : {}),
    ...extra,
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  // the documents are hundreds of KiB of JSON that compress ~8x: each is compressed once (off
  // the event loop) and every later answer to a client that accepts gzip (kubectl's Go transport
  // always does) encrypts and writes an eighth of the bytes
  if (acceptsGzip(req) && body.length >= GZIP_MIN_BYTES) {
    const gz = await gzipOnce(body);
    res.writeHead(200, { ...headers, 'Content-Encoding': 'gzip' });
    res.end(gz);
    return;
  }
  res.writeHead(200, headers);
  res.end(body);
}

async function sendDocument(req: IncomingMessage, res: ServerResponse, doc: RenderedDocument, immutable = false): Promise<void> {
  await sendCached(req, res, doc.body, doc.etag, 'application/json', immutable);
}

function sendStatus(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.code, err.toStatus());
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      reject(tooLarge(`Request entity too large: limit is ${MAX_BODY_BYTES}`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(tooLarge(`Request entity too large: limit is ${MAX_BODY_BYTES}`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function mediaType(req: IncomingMessage): string {
  return String(req.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();
}

/**
 * Parse a JSON, YAML or (for the built-in kinds) protobuf request body into an object, or 400
 * with what is wrong. A custom resource is never read as protobuf, as in kube-apiserver.
 */
function parseBody(buf: Buffer, type: string, what: string, custom = false): Obj {
  if (type === PROTOBUF && !custom) return decodeProtobufObject(buf, what);
  const text = buf.toString('utf8');
  if (!text.trim()) throw badRequest(`the body of the request was empty: send a ${what} object as JSON`);
  let obj: unknown;
  if (type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml' || type === APPLY_PATCH_YAML) {
    // checked before parsing: the yaml package overflows its stack on deep nesting
    if (yamlTooDeep(text)) throw badRequest(`the object provided is unrecognized (must be of type ${what}): error converting YAML to JSON: ${nestingMessage()}`);
    try {
      obj = yaml().parse(text, { uniqueKeys: false });
    } catch (e) {
      throw badRequest(`error converting YAML to JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  } else if (type === 'application/json' || type === '' || type === '*/*') {
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
    }
    // JSON.parse copes with any depth, but JSON.stringify and structuredClone do not
    if (jsonTooDeep(text)) throw badRequest(`the object provided is unrecognized (must be of type ${what}): couldn't get version/kind; json parse error: ${nestingMessage()}`);
  } else {
    throw unsupportedMediaType(
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml${custom ? '' : `, ${PROTOBUF}`}`,
    );
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw badRequest(`the body of the request must be a JSON object (a ${what}), not ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
  }
  return obj as Obj;
}

/** server-side printing: a custom kind's columns come from its definition */
function tableOf(r: ResourceInfo, objects: Obj[], listMeta: Obj, o: { include?: IncludeObject; noHeaders?: boolean }): Obj {
  const opts = { ...o, typeMeta: { kind: r.kind, apiVersion: apiVersionOf(r) } };
  return r.custom ? r.custom.table(objects, listMeta, opts) : toTable(r.kind, objects, listMeta, opts);
}

/** responsewriters.Forbidden: 403 with the resource, name and group in the details */
function forbiddenError(a: Attributes, reason = ''): ApiError {
  return new ApiError(403, 'Forbidden', forbiddenMessage(a, reason), a.isResourceRequest ? { name: a.name || undefined, group: a.apiGroup || undefined, kind: a.resource } : {});
}

function wantsTable(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? '');
  return accept.split(',').some((part) => /as=Table/.test(part) && /g=meta\.k8s\.io/.test(part));
}

function fieldValidationOf(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation parameter unsupported: ${v}: must be one of Ignore, Warn or Strict`);
}

function dryRunOf(q: URLSearchParams): boolean {
  const all = q.getAll('dryRun');
  for (const v of all) if (v !== 'All') throw badRequest(`dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`);
  return all.length > 0;
}

function warningHeader(messages: string[]): Record<string, string | string[]> {
  if (!messages.length) return {};
  // a webhook's warning may hold any text: its UTF-8 bytes go out as they are (Node refuses a
  // header string with characters past U+00FF, so each byte is written as one latin1 character)
  return { Warning: messages.map((m) => Buffer.from(`299 - ${JSON.stringify(m)}`, 'utf8').toString('latin1')) as unknown as string };
}

export class ApiServer {
  private server?: Server;
  private extraServers: Server[] = [];
  private readonly openWatches = new Set<ServerResponse>();
  /** set when close() begins: /readyz's shutdown check fails from then on */
  private stopping = false;
  /** what /healthz, /livez and /readyz run (health.ts) */
  private readonly healthChecks: Record<HealthEndpoint, HealthCheck[]> = (() => {
    const ping: HealthCheck = { name: 'ping', check: async () => {} };
    const etcd: HealthCheck = { name: 'etcd', check: async () => void (await within(2000, this.resources.store.currentRevision(), 'the store')) };
    const shutdown: HealthCheck = {
      name: 'shutdown',
      check: async () => {
        if (this.stopping) throw new Error('the server is shutting down');
      },
    };
    return { healthz: [ping, etcd], livez: [ping, etcd], readyz: [ping, etcd, shutdown] };
  })();
  private readonly sockets = new Set<Socket>();
  private readonly authn: Authenticator;
  readonly authz: RbacAuthorizer;
  /** who each request in flight is (after impersonation), for the reviews and the escalation check */
  private readonly users = new WeakMap<IncomingMessage, UserInfo>();
  private readonly log: (line: string) => void;
  private readonly inflight: InflightLimiter;
  /** API groups answered by handlers of their own (api-groups.ts) */
  private readonly groups: ApiGroupHandler[];
  private readonly proxyDeps: ProxyDeps;
  /** kinds answered as empty collections until podbay serves them (unserved.ts) */
  private readonly stubs: UnservedKind[];
  /** the same, in groups the registry serves other kinds of (Ingress beside NetworkPolicy) */
  private readonly groupStubs: UnservedKind[];
  /** CustomResourceDefinitions and the kinds they serve (custom-resources.ts) */
  private readonly custom: CustomResourceServing;
  /** the aggregated discovery documents, for one generation of the CRDs */
  private discoveryCache?: { generation: number; docs: Map<string, RenderedDiscovery> };

  constructor(
    readonly resources: Registry,
    private readonly opts: ApiServerOptions,
  ) {
    this.authn = new Authenticator(opts.token, resources, { anonymous: opts.anonymousAuth });
    this.authz = new RbacAuthorizer(resources);
    this.log = opts.log ?? (() => {});
    this.inflight = new InflightLimiter(
      opts.maxRequestsInflight ?? DEFAULT_MAX_REQUESTS_INFLIGHT,
      opts.maxMutatingRequestsInflight ?? DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
    );
    const pods = resourceInfo('pods')!;
    const nodes = resourceInfo('nodes')!;
    const served = (group: string, resource: string) => RESOURCES.some((r) => r.group === group && r.resource === resource);
    const groupServed = (group: string) => RESOURCES.some((r) => r.group === group);
    this.stubs = unservedKinds(served, groupServed);
    this.groupStubs = stubsInServedGroups(served, groupServed);
    this.custom = new CustomResourceServing(resources, this.log);
    const started = rfc3339(Date.now());
    this.groups = [
      authenticationGroup({ userOf: (req) => this.userOf(req), authenticateToken: (token, audiences) => this.authn.authenticateToken(token, audiences) }),
      authorizationGroup({ userOf: (req) => this.userOf(req), authorize: (a) => this.authz.authorize(a), rulesFor: (u, ns) => this.authz.rulesFor(u, ns) }),
      apiServicesGroup(() => CustomResourceServing.groupVersionsOf(apiGroups(), this.groups, this.custom), () => resources.store.currentRevision(), started),
      ...stubGroups(this.stubs, () => resources.store.currentRevision()),
      metricsGroup({
        listPods: async (ns, q) => (await resources.list(pods, ns, q)).items,
        getPod: (ns, name) => resources.get(pods, ns, name),
        listNodes: async (q) => (await resources.list(nodes, undefined, q)).items,
        getNode: (name) => resources.get(nodes, undefined, name),
        usage: () => this.opts.node?.usage,
      }),
    ];
    this.proxyDeps = {
      getPod: (ns, name) => resources.get(pods, ns, name),
      getNode: (name) => resources.get(nodes, undefined, name),
      podsOnNode: async (node) => (await resources.list(pods, undefined, { fieldSelector: `spec.nodeName=${node}` })).items,
      podIPs: async (pod) => (await this.opts.node?.podIPs?.(pod)) ?? [],
      usage: () => this.opts.node?.usage,
    };
  }

  /** The node answering streaming subresources (set once the kubelet exists). */
  setNode(node: NodeBackend): void {
    this.opts.node = node;
  }

  /** Listen; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    await this.custom.start();
    const server = this.makeServer();
    this.server = server;
    return listenOn(server, this.opts.port, this.opts.host);
  }

  /**
   * Serve the same API on one more address (the advertise address pods reach the `kubernetes`
   * Service at), on `port`: the one listen() bound. Closed with the main listener.
   */
  async listenAlso(host: string, port: number): Promise<void> {
    const server = this.makeServer();
    await listenOn(server, port, host);
    this.extraServers.push(server);
  }

  private makeServer(): Server {
    const ca = this.opts.clientCaPem;
    const tls = ca ? { cert: this.opts.certPem.trimEnd() + '\n' + ca, ca, requestCert: true, rejectUnauthorized: false } : { cert: this.opts.certPem };
    const server = createHttpsServer({ ...tls, key: this.opts.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
      void this.handle(req, res);
    });
    server.keepAliveTimeout = 65_000;
    server.maxConnections = this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head));
    // every socket, also those that finished TLS but never sent a request (closeAllConnections
    // does not see those), so close() cannot hang on an idle client
    server.on('connection', (sock: Socket) => {
      this.sockets.add(sock);
      sock.once('close', () => this.sockets.delete(sock));
    });
    return server;
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.custom.stop();
    this.resources.stopCaches();
    for (const res of this.openWatches) res.end();
    this.openWatches.clear();
    const servers = [...this.extraServers, ...(this.server ? [this.server] : [])];
    this.extraServers = [];
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
            for (const sock of this.sockets) sock.destroy();
          }),
      ),
    );
  }

  /**
   * Upgrade requests: pods/exec, attach and portforward over WebSocket or SPDY/3.1 (see
   * streaming.ts, node-streams.ts) for a pod on this server's node, relayed as they are to the
   * kubelet server of any other node (kubelet-relay.ts); any upgrade through pods/proxy, relayed
   * to the pod (proxy-upgrade.ts). The pod and container are checked before the handshake, so a
   * bad name is an ordinary HTTP error.
   */
  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const fail = (err: ApiError) => {
      const body = statusBody(err);
      socket.end(`HTTP/1.1 ${err.code} ${err.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    socket.on('error', () => socket.destroy());
    try {
      const url = new URL(req.url ?? '/', 'https://podbay');
      await this.admit(req, url.pathname, url.searchParams, true);
      const proxied = proxyTarget(url.pathname);
      if (proxied) {
        await servePodProxyUpgrade(await this.admitProxy(req, proxied), req, socket, head, url.search, this.proxyDeps);
        this.log(`${req.method} ${req.url} (upgrade through pods/proxy)`);
        return;
      }
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward)\/?$/.exec(url.pathname);
      if (!m) throw pathNotFound(`the server could not find the requested resource (${req.method} ${url.pathname}): only pods/exec, pods/attach, pods/portforward and pods/proxy upgrade`);
      const pod = await this.resources.get(resourceInfo('pods')!, decodePathSegment(m[1]), decodePathSegment(m[2]));
      const kind = m[3] as StreamKind;
      // CONNECT admission: the webhooks see the options (PodExecOptions ...), and the connection
      // is made with what they return, here or on the pod's node
      let sentPorts: number[] = [];
      if (kind === 'portforward') {
        try {
          sentPorts = portForwardQueryPorts(url.searchParams);
        } catch {
          // over SPDY the ports come with the streams: the options carry none
        }
      }
      const shown = kind === 'exec' ? execOptions(url.searchParams) : kind === 'attach' ? attachOptions(url.searchParams) : portForwardOptions(sentPorts);
      const admitted = await this.resources.admitConnect(resourceInfo('pods')!, decodePathSegment(m[1]), decodePathSegment(m[2]), kind, shown, { user: this.userOf(req) });
      const q = admittedQuery(kind, url.searchParams, admitted, sentPorts);
      const remote = await this.remoteKubelet(pod);
      if (remote) {
        await relayUpgrade(remote, kind, pod, req, socket, head, q);
        this.log(`${req.method} ${req.url} (upgrade relayed to the kubelet of node ${pod.spec.nodeName} at ${remote.host}:${remote.port})`);
        return;
      }
      await serveStreamUpgrade(kind, req, socket, head, q, this.opts.node, pod, this.log);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError((e as Error)?.message ?? String(e));
      this.log(`${req.method} ${req.url} ${err.code} (upgrade)`);
      fail(err);
    }
  }

  /**
   * Authentication (authn.ts: 401 for a token no authenticator takes; no credentials at all are
   * system:anonymous unless --anonymous-auth=false), impersonation, then authorization of
   * what the request asks (request-info.ts, authorizer.ts: 403 worded as kube-apiserver's).
   */
  private async admit(req: IncomingMessage, path: string, q: URLSearchParams, upgrade = false): Promise<UserInfo> {
    const requester = await this.authn.authenticate(req);
    if (!requester) throw unauthorized();
    const user = await impersonate(req, requester, async (a) => (await this.authz.authorize(a)).allowed);
    const attrs = requestAttributes(user, req.method ?? 'GET', path.replace(/\/+$/, '') || '/', q, upgrade);
    const d = await this.authz.authorize(attrs);
    if (!d.allowed) throw forbiddenError(attrs, d.reason);
    this.users.set(req, user);
    return user;
  }

  /** CONNECT admission of pods/proxy and nodes/proxy: the target with the path the webhooks left */
  private async admitProxy(req: IncomingMessage, t: ProxyTarget): Promise<ProxyTarget> {
    const r = resourceInfo(t.kind === 'pod' ? 'pods' : 'nodes')!;
    const shown = proxyOptions(t.kind, t.rest);
    const admitted = await this.resources.admitConnect(r, t.ns, t.id, 'proxy', shown, { user: this.userOf(req) });
    return { ...t, rest: proxyRest(t.rest, shown, admitted) };
  }

  /**
   * what a write's admission knows of the request: its user, where its warnings go, and the
   * authorizer for that user (the CertificateApproval and CertificateSigning plugins ask it)
   */
  private admissionOf(req: IncomingMessage, warnings?: string[]): AdmissionRequestContext {
    const user = this.userOf(req);
    const authorize = async (a: AdmissionAuthorization) =>
      (await this.authz.authorize({ user, verb: a.verb, isResourceRequest: true, path: '', namespace: '', apiGroup: a.apiGroup, apiVersion: '*', resource: a.resource, subresource: '', name: a.name })).allowed;
    return { user, warnings, authorize };
  }

  private userOf(req: IncomingMessage): UserInfo {
    const u = this.users.get(req);
    if (!u) throw internalError('the request has no authenticated user');
    return u;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'https://podbay');
    try {
      const path = url.pathname.replace(/\/+$/, '') || '/';
      if (await serveHealth(path, url.searchParams, this.healthChecks, res, this.log)) return;
      const ui = req.method === 'GET' ? uiFile(path) : undefined;
      if (ui) return void res.writeHead(200, ui.headers).end(ui.body);
      await this.admit(req, url.pathname, url.searchParams);
      checkQueryEscapes(url.search);
      const release = this.inflight.acquire(requestClass(req.method ?? 'GET', path, url.searchParams));
      if (!release) {
        // read (and drop) any body, so the connection stays usable for the retry
        req.resume();
        sendJson(res, 429, tooManyRequests().toStatus(), { 'Retry-After': RETRY_AFTER_SECONDS });
        return;
      }
      res.once('close', release);
      await this.route(req, res, path, url.searchParams);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError((e as Error)?.message ?? String(e));
      if (!(e instanceof ApiError)) this.log(`error: ${req.method} ${req.url}: ${(e as Error)?.stack ?? e}`);
      sendStatus(res, err);
    } finally {
      this.log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string, q: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    switch (path) {
      case '/version':
        return sendJson(res, 200, VERSION_INFO);
      case '/api':
      case '/apis': {
        // kubectl 1.26+ asks for the aggregated answer (every group version's resources in one
        // document) and falls back on the legacy one, which plain clients get
        const aggregated = negotiateDiscovery(req.headers.accept);
        if (aggregated) {
          const doc = this.aggregatedDiscovery(path === '/api' ? 'api' : 'apis', aggregated);
          // as kube-apiserver (aggregated/etag.go): the ETag of the body, public, varying with Accept
          return await sendCached(req, res, doc.body, doc.etag, doc.contentType, false, { 'Cache-Control': 'public' });
        }
        if (path === '/api') {
          return sendJson(
            res,
            200,
            { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.opts.host}:${this.opts.port}` }] },
            { Vary: 'Accept' },
          );
        }
        return sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [...apiGroups().map((g) => apiGroup(g.name)), ...this.groups.map(groupEntry), EXPLAIN_API_GROUP, ...this.custom.groupEntries()] }, { Vary: 'Accept' });
      }
      case '/api/v1':
        return sendJson(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1', resources: this.coreResources() });
      case '/openapi/v2':
        // kubectl up to 1.27 asks for (and can only read) the gnostic protobuf rendering.
        if (/protobuf/.test(String(req.headers.accept ?? ''))) {
          const pb = this.custom.openapiV2Protobuf();
          return await sendCached(req, res, pb.body, pb.etag, OPENAPI_V2_PROTOBUF_CONTENT_TYPE);
        }
        return await sendDocument(req, res, this.custom.openapiV2());
      case '/openapi/v3':
        return await sendDocument(req, res, this.custom.openapiV3Root());
      // service-account issuer discovery (OIDC), for relying parties that verify pod tokens
      case '/.well-known/openid-configuration':
      case '/openid/v1/jwks': {
        const issuer = this.resources.options.tokens;
        if (!issuer) throw pathNotFound(`the server could not find the requested resource (${method} ${path}): this podbay server issues no service account tokens`);
        if (method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} ${path}`);
        if (path === '/openid/v1/jwks') return sendJson(res, 200, await issuer.jwks(), { 'Content-Type': 'application/jwk-set+json' });
        return sendJson(res, 200, issuer.discovery());
      }
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = openapiV3Document(path.slice('/openapi/v3/'.length)) ?? this.custom.openapiV3(path.slice('/openapi/v3/'.length));
      if (!doc) throw pathNotFound(`the server could not find the requested resource (GET ${path}): OpenAPI v3 documents are served for ${OPENAPI_V3_PATHS.join(', ')}`);
      const hash = q.get('hash');
      if (hash !== null && hash !== doc.hash) {
        // an older hash (the document changed since the client read /openapi/v3): kube-openapi
        // sends the client to the current one permanently, so its cache keeps the new URL
        res.writeHead(301, { Location: `${path}?hash=${doc.hash}`, 'Cache-Control': 'no-cache, private' });
        return void res.end();
      }
      return await sendDocument(req, res, doc, hash !== null);
    }
    if (path.startsWith(EXPLAIN_PREFIX)) {
      const node = this.opts.node;
      const getPod = (ns: string, name: string) => this.resources.get(resourceInfo('pods')!, ns, name);
      const out = await serveExplain(method, path, String(req.headers.accept ?? ''), { getPod, explain: node?.explainPod && ((pod) => node.explainPod!(pod)) });
      res.writeHead(200, { 'Content-Type': out.contentType, 'Cache-Control': 'no-cache, private' });
      return void res.end(out.body);
    }
    // pods/proxy and nodes/proxy: the path after /proxy is the pod's, kept as sent (trailing slash too)
    const raw = new URL(req.url ?? '/', 'https://podbay');
    const proxied = proxyTarget(raw.pathname);
    if (proxied) {
      const admittedTarget = await this.admitProxy(req, proxied);
      // another node's nodes/proxy is its kubelet server's to answer (GET only, as podbay's own node)
      const remote = admittedTarget.kind === 'node' && admittedTarget.id !== this.opts.nodeName && admittedTarget.rest !== '' && req.method === 'GET' ? await this.remoteKubelet({ metadata: { name: '' }, spec: { nodeName: admittedTarget.id } }) : undefined;
      if (remote) return relayGet(remote, admittedTarget.rest + raw.search, req, res);
      return serveProxy(admittedTarget, req, res, raw.search, this.proxyDeps);
    }
    const readObject = async (kind: string) => parseBody(await readBody(req), mediaType(req), kind);
    const send = (code: number, body: unknown) => sendJson(res, code, body);
    const stub = coreStubRoute(path, this.stubs) ?? groupStubRoute(path, this.groupStubs);
    if (stub) return serveStub(stub.u, { ...stub, method, q, res, readObject, send }, () => this.resources.store.currentRevision());
    const handled = path.startsWith('/apis/') ? groupOf(this.groups, path) : undefined;
    if (handled) {
      const seg = path.slice('/apis/'.length).split('/').map(decodePathSegment);
      return serveGroup(handled, seg, { method, q, req, res, readObject, send });
    }
    if (path.startsWith('/apis/')) {
      const [group = '', version, ...rest] = path.slice('/apis/'.length).split('/');
      if (this.custom.servesGroup(group)) {
        // CRDs and the groups they serve: their own discovery, then the ordinary dispatch
        if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
          if (method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} ${path}`);
          const found = this.custom.discovery(group, version || undefined);
          if (!found) throw pathNotFound(`the server could not find the requested resource (${method} ${path})`);
          return sendJson(res, 200, found);
        }
        return this.dispatch(req, res, this.parseRoute(rest.map(decodePathSegment), method, path, group, version), method, q);
      }
      const served = apiGroups().find((g) => g.name === group);
      const unknown = () =>
        pathNotFound(`the server could not find the requested resource (${method} ${path}): podbay serves the groups ${[...apiGroups().map((g) => g.name), ...this.groups.map((g) => groupEntry(g).name)].join(', ')} and podbay.io`);
      if (!served || (version !== undefined && version !== '' && !served.versions.includes(version))) throw unknown();
      if (version === undefined || version === '') return sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group) });
      if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
        return sendJson(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources: this.builtinResources(group, version) });
      }
      const route = this.parseRoute(rest.map(decodePathSegment), method, path, group, version);
      return this.dispatch(req, res, route, method, q);
    }
    if (!path.startsWith('/api/v1/')) {
      throw pathNotFound(`the server could not find the requested resource (${method} ${path})`);
    }
    const route = this.parseRoute(path.slice('/api/v1/'.length).split('/').map(decodePathSegment), method, path);
    await this.dispatch(req, res, route, method, q);
  }

  /** GET /api/v1's resources: the served core kinds and the unserved ones listed empty */
  private coreResources(): LegacyResource[] {
    const list = apiResourceList('v1') as { resources: LegacyResource[] };
    return [...list.resources, ...this.stubs.filter((u) => u.group === '').map(discoveryEntry)];
  }

  /** GET /apis/GROUP/VERSION's resources for a built-in group, sorted by name as kube-apiserver lists them */
  private builtinResources(group: string, version: string): LegacyResource[] {
    const list = (apiResourceList(`${group}/${version}`) ?? { resources: [] }) as { resources: LegacyResource[] };
    const out = [...list.resources, ...this.groupStubs.filter((u) => u.group === group && u.version === version).map(discoveryEntry)];
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** every group /apis lists, in its order, with each version's resources as /apis/GROUP/VERSION serves them */
  private discoveryGroups(): LegacyGroup[] {
    const custom = this.custom.groupVersions().map((g) => ({
      name: g.name,
      versions: g.versions.map((version) => ({ version, resources: ((this.custom.discovery(g.name, version) ?? { resources: [] }) as { resources: LegacyResource[] }).resources })),
    }));
    return [
      ...apiGroups().map((g) => ({ name: g.name, versions: g.versions.map((version) => ({ version, resources: this.builtinResources(g.name, version) })) })),
      ...this.groups.map((g) => ({ name: g.name, versions: g.versions.map((version) => ({ version, resources: g.resources(version) })) })),
      { name: EXPLAIN_API_GROUP.name, versions: [{ version: EXPLAIN_API_GROUP.preferredVersion.version, resources: EXPLAIN_API_RESOURCES.resources }] },
      ...custom,
    ];
  }

  /**
   * The aggregated discovery document of /api or /apis, rendered once per set of CRDs: only
   * CRDs change what is served, and each change gives the document a new ETag.
   */
  private aggregatedDiscovery(which: 'api' | 'apis', v: DiscoveryVersion): RenderedDiscovery {
    const generation = this.custom.crs.generation;
    if (this.discoveryCache?.generation !== generation) this.discoveryCache = { generation, docs: new Map() };
    const key = `${which} ${v}`;
    let doc = this.discoveryCache.docs.get(key);
    if (!doc) {
      const groups = which === 'api' ? [{ name: '', versions: [{ version: 'v1', resources: this.coreResources() }] }] : this.discoveryGroups();
      this.discoveryCache.docs.set(key, (doc = renderDiscovery(groups, v)));
    }
    return doc;
  }

  private parseRoute(seg: string[], method: string, path: string, group = '', version = 'v1'): Route {
    let watchPath = false;
    if (seg[0] === 'watch') {
      watchPath = true;
      seg = seg.slice(1);
    }
    const nf = () => pathNotFound(`the server could not find the requested resource (${method} ${path})`);
    let ns: string | undefined;
    // namespaces/{ns}/{resource}... unless it is the namespace object itself or its subresource
    if (seg[0] === 'namespaces' && seg.length >= 3 && !(seg.length === 3 && resourceInfo('namespaces')!.subresources.includes(seg[2]))) {
      ns = seg[1];
      seg = seg.slice(2);
    }
    const r = resourceInfo(seg[0], group, version) ?? this.custom.lookup(group, version, seg[0]);
    if (!r || seg.length > 3) throw nf();
    if (ns !== undefined && !r.namespaced) throw nf();
    const route: Route = { r, ns, name: seg[1], sub: seg[2], watchPath };
    if (route.sub !== undefined && !r.subresources.includes(route.sub)) throw nf();
    if (route.name === '') throw nf();
    return route;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, rt: Route, method: string, q: URLSearchParams): Promise<void> {
    const { r, ns, name, sub } = rt;
    // every request to a deprecated custom version is told so, errors and watches included
    if (r.custom?.warning !== undefined) res.setHeader('Warning', warningHeader([r.custom.warning]).Warning);
    const svc = this.resources;
    const asTable = wantsTable(req);
    const include = (q.get('includeObject') ?? 'Metadata') as IncludeObject;

    if (name === undefined) {
      // collection
      if (method === 'GET') {
        const listQ = {
          labelSelector: q.get('labelSelector') ?? undefined,
          fieldSelector: q.get('fieldSelector') ?? undefined,
          limit: queryInt(q, 'limit'),
          continue: q.get('continue') ?? undefined,
          resourceVersion: q.get('resourceVersion') ?? undefined,
          resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
        };
        if (rt.watchPath || queryBool(q, 'watch')) {
          return this.serveWatch(req, res, r, ns, {
            ...listQ,
            allowWatchBookmarks: queryBool(q, 'allowWatchBookmarks'),
            sendInitialEvents: queryBool(q, 'sendInitialEvents'),
          }, watchTimeoutSeconds(q), asTable ? include : undefined);
        }
        validateListOptions(listQ);
        const list = await svc.list(r, ns, listQ);
        if (asTable) return sendJson(res, 200, tableOf(r, list.items, list.metadata, { include, noHeaders: queryBool(q, 'noHeaders') }));
        return sendJson(res, 200, list);
      }
      if (method === 'POST') {
        const body = await this.decodeObject(req, q, r, ns);
        await this.checkEscalation(req, r, ns, body.obj);
        if (r === CSRS) stampRequester(body.obj, this.userOf(req));
        const warnings = body.warnings;
        const pending = noControllerWarning(r);
        if (pending) warnings.push(pending);
        const created = await svc.create(r, r.namespaced ? ns ?? body.obj.metadata?.namespace : undefined, body.obj, { dryRun: dryRunOf(q), fieldManager: fieldManagerOf(req, q, 'CreateOptions'), admission: this.admissionOf(req, warnings) });
        return this.sendObject(res, 201, r, created, asTable, include, warnings);
      }
      if (method === 'DELETE') {
        const opts = { ...(await this.deleteOptions(req, q)), admission: this.admissionOf(req) };
        const out = await svc.deleteCollection(r, ns, { labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined }, opts);
        return sendJson(res, 200, out);
      }
      throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} ${r.resource}`);
    }

    if (r.namespaced && ns === undefined) {
      const base = r.group ? `/apis/${r.group}/${r.version}` : '/api/v1';
      throw pathNotFound(`the server could not find the requested resource: ${r.resource} are namespaced, use ${base}/namespaces/NAMESPACE/${r.resource}/${name}`);
    }

    if (sub === 'binding') {
      if (method !== 'POST') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} pods/binding`);
      const { obj } = await this.decodeObject(req, q, r, ns, 'Binding');
      await svc.bind(ns!, name, obj, { dryRun: dryRunOf(q) });
      return sendJson(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    }
    if (sub === 'token') {
      if (method !== 'POST') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} serviceaccounts/token`);
      const body = parseBody(await readBody(req), mediaType(req), 'TokenRequest');
      if (body.apiVersion !== undefined && body.apiVersion !== 'authentication.k8s.io/v1') {
        throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (authentication.k8s.io/v1)`);
      }
      if (body.kind !== undefined && body.kind !== 'TokenRequest') throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (TokenRequest) for serviceaccounts/token`);
      decodeTypedOrThrow('io.k8s.api.authentication.v1.TokenRequest', 'TokenRequest', 'v1', body, false);
      // NodeRestriction: a node's token is bound to a pod of its own
      const requester = nodeIdentity(this.userOf(req));
      if (requester !== undefined) {
        const ref = body.spec?.boundObjectRef;
        const pod = ref?.kind === 'Pod' && ref?.name ? await svc.get(resourceInfo('pods')!, ns, String(ref.name)) : undefined;
        const refused = tokenRequestRestriction(requester, name, body, pod);
        if (refused) throw refused;
      }
      return sendJson(res, 201, await svc.createToken(ns!, name, body));
    }
    if (sub === 'eviction') {
      if (method !== 'POST') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} pods/eviction`);
      const body = parseBody(await readBody(req), mediaType(req), 'Eviction');
      // NodeRestriction: a node evicts only pods bound to it
      const evicting = nodeIdentity(this.userOf(req));
      if (evicting !== undefined && (await svc.get(r, ns, name)).spec?.nodeName !== evicting) {
        throw new ApiError(403, 'Forbidden', `pods ${JSON.stringify(name)} is forbidden: node ${evicting} can only evict pods with spec.nodeName set to itself`, { name, kind: 'pods' });
      }
      await svc.evict(ns!, name, body);
      return sendJson(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    }
    if (sub === 'log') {
      if (method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} pods/log`);
      // the options are parsed and validated before the pod is looked up, as upstream
      const logOpts = podLogOptions(q, name);
      return this.serveLogs(req, res, await svc.get(r, ns, name), logOpts, new URL(req.url ?? '/', 'https://podbay').search);
    }
    if (sub === 'exec' || sub === 'attach' || sub === 'portforward') {
      throw badRequest(`pods/${sub} needs an upgrade: Upgrade: websocket or Upgrade: SPDY/3.1`);
    }
    // namespaces/finalize: PUT only, as kube-apiserver (the namespace controller's last step)
    if (sub === 'finalize' && method !== 'PUT') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} namespaces/finalize`);
    if (sub === 'scale') return this.serveScale(req, res, r, ns!, name, method, q);
    if (sub === 'ephemeralcontainers' && method !== 'GET' && method !== 'PUT' && method !== 'PATCH') {
      throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} pods/ephemeralcontainers`);
    }
    const part: 'status' | 'finalize' | 'ephemeralcontainers' | 'approval' | undefined = sub === 'status' || sub === 'finalize' || sub === 'ephemeralcontainers' || sub === 'approval' ? sub : undefined;

    switch (method) {
      case 'GET': {
        if (rt.watchPath || queryBool(q, 'watch')) {
          return this.serveWatch(req, res, r, ns, {
            fieldSelector: `metadata.name=${name}`,
            resourceVersion: q.get('resourceVersion') ?? undefined,
            allowWatchBookmarks: queryBool(q, 'allowWatchBookmarks'),
          }, watchTimeoutSeconds(q), asTable ? include : undefined);
        }
        const obj = await svc.get(r, ns, name);
        return this.sendObject(res, 200, r, obj, asTable, include);
      }
      case 'PUT': {
        const { obj, warnings } = await this.decodeObject(req, q, r, ns);
        await this.checkEscalation(req, r, ns, { ...obj, metadata: { ...obj.metadata, name } });
        const out = await svc.update(r, ns, name, obj, { dryRun: dryRunOf(q), sub: part, fieldManager: fieldManagerOf(req, q, 'UpdateOptions'), admission: this.admissionOf(req, warnings) });
        return this.sendObject(res, 200, r, out, asTable, include, warnings);
      }
      case 'PATCH': {
        if (mediaType(req) === APPLY_PATCH_YAML) {
          // server-side apply: the body is the user's intent, merged by field ownership
          if (!q.get('fieldManager')) {
            throw optionsInvalid('PatchOptions', [{ type: 'FieldValueRequired', field: 'fieldManager', detail: 'is required for apply patch' }]);
          }
          const fieldManager = fieldManagerOf(req, q, 'PatchOptions');
          const { obj, warnings } = await this.decodeObject(req, q, r, ns);
          const applyOpts = { sub: part, fieldManager, force: queryBool(q, 'force') ?? false };
          // a role or binding is checked for escalation as it would be after the apply
          if (this.escalationChecked(req, r)) await this.checkEscalation(req, r, ns, (await svc.apply(r, ns, name, obj, { ...applyOpts, dryRun: true })).object);
          const applied = await svc.apply(r, ns, name, obj, { ...applyOpts, dryRun: dryRunOf(q), admission: this.admissionOf(req, warnings) });
          return this.sendObject(res, applied.created ? 201 : 200, r, applied.object, asTable, include, warnings);
        }
        if (q.get('force') !== null) {
          throw optionsInvalid('PatchOptions', [{ type: 'FieldValueForbidden', field: 'force', detail: 'may not be specified for non-apply patch' }]);
        }
        const text = (await readBody(req)).toString('utf8');
        // every patch type is JSON; the appliers recurse, so depth is bounded first
        if (jsonTooDeep(text)) throw badRequest(`json: ${nestingMessage()}`);
        const fv = fieldValidationOf(q);
        const warnings: string[] = [];
        const patchOpts = {
          sub: part,
          fieldManager: fieldManagerOf(req, q, 'PatchOptions'),
          check: (patched: Obj) => {
            if (r.custom) return this.customFields(r, fv, patched, warnings, true);
            const { failure } = decodeTyped(r.typeName, patched, { prune: false });
            if (failure) throw patchDecodeError(text, failure);
            this.checkFields(r, fv, JSON.stringify(patched), patched, warnings, true);
            decodeTyped(r.typeName, patched);
          },
        };
        // a role or binding is checked for escalation as it would be after the patch
        if (this.escalationChecked(req, r)) await this.checkEscalation(req, r, ns, await svc.patch(r, ns, name, mediaType(req), text, { ...patchOpts, dryRun: true }));
        warnings.length = 0;
        const out = await svc.patch(r, ns, name, mediaType(req), text, { ...patchOpts, dryRun: dryRunOf(q), admission: this.admissionOf(req, warnings) });
        return this.sendObject(res, 200, r, out, asTable, include, warnings);
      }
      case 'DELETE': {
        if (sub) throw methodNotAllowed(`the server does not allow this method on the requested resource: DELETE ${r.resource}/${sub}`);
        const warnings: string[] = [];
        const opts = { ...(await this.deleteOptions(req, q)), admission: this.admissionOf(req, warnings) };
        const out = await svc.delete(r, ns, name, opts);
        return sendJson(res, 200, out.object, warningHeader(warnings) as Record<string, string>);
      }
    }
    throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} ${r.resource}`);
  }

  /** whether a write of this kind by this user needs the escalation check */
  private escalationChecked(req: IncomingMessage, r: ResourceInfo): boolean {
    return r.group === 'rbac.authorization.k8s.io' && !this.userOf(req).groups.includes('system:masters');
  }

  /** RBAC's escalation check on a role or binding write (authorizer.ts) */
  private async checkEscalation(req: IncomingMessage, r: ResourceInfo, ns: string | undefined, obj: Obj): Promise<void> {
    if (r.group !== 'rbac.authorization.k8s.io') return;
    const refusal = await this.authz.escalationRefusal(this.userOf(req), r, ns ?? '', obj);
    if (refusal) throw refusal;
  }

  /** GET/PUT/PATCH of the scale subresource: an autoscaling/v1 Scale onto spec.replicas (src/api/scale.ts) */
  private async serveScale(req: IncomingMessage, res: ServerResponse, r: ResourceInfo, ns: string, name: string, method: string, q: URLSearchParams): Promise<void> {
    const svc = this.resources;
    if (method === 'GET') return sendJson(res, 200, toScale(r, await svc.get(r, ns, name)));
    if (method === 'PUT') {
      const buf = await readBody(req);
      const scale = parseBody(buf, mediaType(req), SCALE.kind);
      if (scale.apiVersion !== undefined && scale.apiVersion !== `${SCALE.group}/${SCALE.version}`) {
        throw badRequest(`the API version in the data (${scale.apiVersion}) does not match the expected API version (${SCALE.group}/${SCALE.version})`);
      }
      if (scale.kind !== undefined && scale.kind !== SCALE.kind) throw badRequest(`the kind in the data (${scale.kind}) does not match the expected kind (${SCALE.kind}) for ${r.resource}/scale`);
      decodeTypedOrThrow(SCALE.typeName, SCALE.kind, SCALE.version, scale, false);
      const obj = await svc.get(r, ns, name);
      const warnings: string[] = [];
      const out = await svc.update(r, ns, name, applyScale(obj, scale, r), { dryRun: dryRunOf(q), view: scaleView(r), through: 'scale', fieldManager: fieldManagerOf(req, q, 'UpdateOptions'), admission: this.admissionOf(req, warnings) });
      return sendJson(res, 200, toScale(r, out), warningHeader(warnings) as Record<string, string>);
    }
    if (method === 'PATCH') {
      const text = (await readBody(req)).toString('utf8');
      if (jsonTooDeep(text)) throw badRequest(`json: ${nestingMessage()}`);
      for (let attempt = 0; ; attempt++) {
        const obj = await svc.get(r, ns, name);
        const scale = patchScale(r, obj, mediaType(req), text);
        const pinned = scale.metadata?.resourceVersion !== obj.metadata.resourceVersion;
        try {
          const warnings: string[] = [];
          const out = await svc.update(r, ns, name, applyScale(obj, scale, r), { dryRun: dryRunOf(q), view: scaleView(r), through: 'scale', fieldManager: fieldManagerOf(req, q, 'PatchOptions'), admission: this.admissionOf(req, warnings) });
          return sendJson(res, 200, toScale(r, out), warningHeader(warnings) as Record<string, string>);
        } catch (e) {
          // a race with another writer: read and patch again, unless the client pinned a version
          if (e instanceof ApiError && e.reason === 'Conflict' && !pinned && attempt < 5) continue;
          throw e;
        }
      }
    }
    throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} ${r.resource}/scale`);
  }

  private sendObject(res: ServerResponse, code: number, r: ResourceInfo, obj: Obj, asTable: boolean, include: IncludeObject, warnings: string[] = []): void {
    const body = asTable ? tableOf(r, [obj], { resourceVersion: obj.metadata?.resourceVersion }, { include }) : obj;
    sendJson(res, code, body, warningHeader(warnings) as Record<string, string>);
  }

  /** A custom kind's unknown fields per the request's fieldValidation directive (pruned unless Strict fails). */
  private customFields(r: ResourceInfo, fv: FieldValidation, obj: Obj, warnings: string[], patch: boolean): void {
    const problems = r.custom!.unknownFields(obj);
    if (!problems.length || fv === 'Ignore') return;
    if (fv === 'Warn') return void warnings.push(...problems);
    const head = patch ? 'strict decoding error' : `${obj.kind ?? r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: strict decoding error`;
    throw badRequest(`${head}: ${problems.join(', ')}`);
  }

  /** Unknown/duplicate fields per the request's fieldValidation directive. */
  private checkFields(r: ResourceInfo, fv: FieldValidation, text: string, obj: Obj, warnings: string[], patch = false): void {
    if (fv === 'Ignore') return;
    const problems = strictErrors(r.typeName, text, obj);
    // kubectl apply drops null-valued keys (a mis-indented `volumeMounts:` with nothing under
    // it) from the body, but keeps them in the last-applied annotation, which is the user's file
    // as written: name those too, so every misplaced field is reported at once.
    const lastApplied = obj.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
    if (typeof lastApplied === 'string') {
      try {
        const original = JSON.parse(lastApplied);
        if (original?.kind === r.kind) {
          const fromFile = strictErrors(r.typeName, undefined, original);
          const merged = [...fromFile, ...problems.filter((p) => !fromFile.includes(p))];
          problems.splice(0, problems.length, ...merged);
        }
      } catch {
        /* not JSON: nothing more to learn from it */
      }
    }
    if (!problems.length) return;
    if (fv === 'Warn') {
      warnings.push(...problems);
      return;
    }
    const kind = obj.kind ?? r.kind;
    const head = patch ? 'strict decoding error' : `${kind} in version "${r.version}" cannot be handled as a ${r.kind}: strict decoding error`;
    throw badRequest(`${head}: ${problems.join(', ')}`);
  }

  private async decodeObject(req: IncomingMessage, q: URLSearchParams, r: ResourceInfo, ns: string | undefined, kind = r.kind): Promise<{ obj: Obj; warnings: string[] }> {
    const buf = await readBody(req);
    const type = mediaType(req);
    // (the CustomResourceDefinition kind is built into kube-apiserver, protobuf and all)
    const obj = parseBody(buf, type, kind, r.custom !== undefined && r.group !== 'apiextensions.k8s.io');
    const want = apiVersionOf(r);
    if (obj.apiVersion !== undefined && obj.apiVersion !== want && !(kind === 'Binding' && obj.apiVersion === 'v1')) {
      throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${want})`);
    }
    if (obj.kind !== undefined && obj.kind !== kind) {
      throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${kind}) for ${r.resource}`);
    }
    // rest.EnsureObjectNamespaceMatchesRequestNamespace (a cluster-scoped object's namespace is cleared later)
    const bodyNs = obj.metadata?.namespace;
    if (r.namespaced && ns !== undefined && typeof bodyNs === 'string' && bodyNs !== '' && bodyNs !== ns) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const warnings: string[] = [];
    if (r.custom) {
      // a custom kind: unknown fields are pruned by its schema (type errors are its validation's 422s)
      this.customFields(r, fieldValidationOf(q), obj, warnings, false);
      return { obj, warnings };
    }
    const typeName = kind === r.kind ? r.typeName : `io.k8s.api.core.v1.${kind}`;
    // a type error wins over unknown fields, as in the Go decoder
    decodeTypedOrThrow(typeName, kind, r.version, obj, false);
    // Protobuf cannot carry unknown or duplicate fields; JSON and YAML can.
    const text = type === PROTOBUF ? JSON.stringify(obj) : buf.toString('utf8');
    if (kind === r.kind) this.checkFields(r, fieldValidationOf(q), text, obj, warnings);
    // Ignore and Warn: unknown fields are dropped, never stored
    decodeTyped(typeName, obj);
    return { obj, warnings };
  }

  private async deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
    const buf = await readBody(req);
    const body: Obj = buf.toString('utf8').trim() ? parseBody(buf, mediaType(req), 'DeleteOptions') : {};
    decodeTypedOrThrow('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions', 'DeleteOptions', 'v1', body, true);
    const grace = queryInt(q, 'gracePeriodSeconds') ?? body.gracePeriodSeconds;
    const propagationPolicy = q.get('propagationPolicy') ?? body.propagationPolicy;
    const orphanDependents = queryBool(q, 'orphanDependents') ?? body.orphanDependents ?? undefined;
    validateDeleteOptions(propagationPolicy, body.dryRun, orphanDependents);
    const dryRun = dryRunOf(q) || (Array.isArray(body.dryRun) && body.dryRun.includes('All'));
    return {
      gracePeriodSeconds: grace,
      preconditions: body.preconditions,
      propagationPolicy,
      orphanDependents,
      dryRun,
    };
  }

  /**
   * Where the kubelet of a pod on another node listens (kubelet-relay.ts), or undefined when
   * the pod is this server's own node's (or on none yet): served in-process then.
   */
  private async remoteKubelet(pod: Obj): Promise<KubeletLocation | undefined> {
    const on: string | undefined = pod.spec?.nodeName;
    if (!on || on === this.opts.nodeName) return undefined;
    const cred = this.opts.kubeletClient;
    if (!cred) throw new ApiError(503, 'ServiceUnavailable', `pod ${pod.metadata.name} runs on node ${on}, and this podbay server has no kubelet client certificate to reach it`);
    const node = await this.resources.get(resourceInfo('nodes')!, undefined, on);
    return { ...kubeletAddress(node), cred };
  }

  private async serveLogs(req: IncomingMessage, res: ServerResponse, pod: Obj, opts: PodLogOptions, search: string): Promise<void> {
    if (!pod.spec?.nodeName) {
      throw badRequest(`pod ${pod.metadata.name} does not have a host assigned`);
    }
    const remote = await this.remoteKubelet(pod);
    if (remote) return relayLogs(remote, pod, opts.container, search, req, res);
    return serveContainerLogs(req, res, this.opts.node, pod, opts);
  }

  private async serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    r: ResourceInfo,
    ns: string | undefined,
    wq: WatchQuery,
    timeoutSeconds: number | undefined,
    table: IncludeObject | undefined,
  ): Promise<void> {
    let started = false;
    let ended = false;
    const pending: WatchEventOut[] = [];
    const maxQueued = this.opts.watchQueueMaxBytes ?? DEFAULT_WATCH_QUEUE_MAX_BYTES;
    const queue = new WatchQueue(res, maxQueued, (queued) => {
      // as kube-apiserver's cacher: end the watch; the client re-watches (or re-lists on 410)
      this.log(`warning: forcing ${r.resource} watcher close due to unresponsiveness: ${queued} bytes queued (limit ${maxQueued}): ${req.socket.remoteAddress}:${req.socket.remotePort} ${req.url}`);
      finish();
      // what the socket holds cannot be flushed to a client that does not read: drop it
      res.destroy();
    });
    res.on('drain', () => queue.drained());
    const write = (ev: WatchEventOut, force = false) => {
      if (ended && !force) return;
      let object = ev.object;
      if (table && ev.type !== 'ERROR' && ev.type !== 'BOOKMARK') {
        object = tableOf(r, [ev.object], { resourceVersion: ev.object.metadata?.resourceVersion }, { include: table });
      }
      queue.push(JSON.stringify({ type: ev.type, object }) + '\n');
    };
    const emit = (ev: WatchEventOut) => (started ? write(ev) : pending.push(ev));
    const finish = () => {
      if (ended) return;
      ended = true;
      clearInterval(bookmarks);
      clearTimeout(timer);
      handle?.cancel();
      this.openWatches.delete(res);
      if (started && !queue.closed) {
        queue.flushAll();
        res.end();
      }
    };
    let handle: { cancel(): void; lastRevision(): number } | undefined;
    const bookmarkEvery = (this.opts.bookmarkIntervalSeconds ?? 60) * 1000;
    const bookmarks = setInterval(() => {
      if (!wq.allowWatchBookmarks || !handle) return;
      write({ type: 'BOOKMARK', object: { kind: r.kind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(handle.lastRevision()) } } });
    }, bookmarkEvery);
    const timeoutMs = timeoutSeconds !== undefined && timeoutSeconds > 0 ? timeoutSeconds * 1000 : (1800 + Math.random() * 1800) * 1000;
    const timer = setTimeout(finish, timeoutMs);
    try {
      handle = await this.resources.watch(r, ns, wq, emit, finish);
    } catch (e) {
      clearInterval(bookmarks);
      clearTimeout(timer);
      throw e;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    this.openWatches.add(res);
    started = true;
    for (const ev of pending) write(ev, true);
    pending.length = 0;
    req.on('close', finish);
    res.on('close', finish);
    if (ended) res.end();
  }
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
