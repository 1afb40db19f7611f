/**
 * Ingresses -> one nginx.conf, pure (no I/O), as ingress-nginx renders its template:
 *
 *   - one `server` per host (rules of every Ingress of the class naming it, merged; when two
 *     Ingresses claim the same path the older one wins), and a catch-all `server _` for rules
 *     without a host;
 *   - Exact `/p` -> `location = /p`; Prefix `/p` -> `location = /p` and `location /p/` (so
 *     /p and /p/x match and /px does not: the Ingress API's element-wise prefix), Prefix `/`
 *     -> `location /`; ImplementationSpecific `/p` -> nginx's own prefix `location /p`. nginx
 *     then picks an exact location before any prefix and the longest prefix first, the order
 *     the Ingress API asks for; an Exact path beats a Prefix path's exact twin;
 *   - a host without a `/` path gets its Ingress's spec.defaultBackend there, else 404; the
 *     catch-all server the oldest Ingress's spec.defaultBackend, else 404;
 *   - a backend is an `upstream` of the Service's ready endpoints (IP:targetPort from its
 *     EndpointSlices, as ingress-nginx does, not the cluster IP); a Service that is missing,
 *     lacks the port, or has no ready endpoint answers 503 on that path only, the first two
 *     reported as problems (the controller turns them into events);
 *   - TLS hosts get `listen ... ssl` with the certificate files the controller wrote;
 *   - an Ingress's `nginx.ingress.kubernetes.io/*` annotations (annotations.ts) become
 *     directives of the locations its paths make: a 308 to HTTPS on a TLS host (ssl-redirect,
 *     on by default; force-ssl-redirect), regex locations (use-regex), rewrite, HTTPS to the
 *     backend, body size, timeouts, allow/deny, a permanent redirect. An annotation podbay does
 *     not implement is an UnsupportedAnnotation problem; a value that does not parse an
 *     InvalidAnnotation one, and that Ingress is left out.
 *
 * Paths land in the file inside double quotes; a path that could break out of them (a quote, a
 * backslash, a control character) is refused as a problem instead of rendered.
 */
import type { Obj } from '../api/types.js';
import { ANNOTATION_PREFIX, escapeRegex, readAnnotations, regexPathProblem, type LocationSettings } from './annotations.js';
import { byNatural, byString } from '../api/order.js';

export interface ListenConfig {
  /** the address nginx binds (0.0.0.0 for every one) */
  address: string;
  http: number;
  https: number;
}

/** where nginx keeps its own files: all of them under podbay's run dir */
export interface NginxFiles {
  /** pid file */
  pid: string;
  /** the accept mutex's lock file */
  lock: string;
  /** directory for client body / proxy temp files (owned by `user`) */
  temp: string;
  /** the worker processes' user and group */
  user: string;
  group: string;
}

/** the files of one Secret of type kubernetes.io/tls, written by the controller */
export interface TLSFiles {
  cert: string;
  key: string;
}

export interface RenderInput {
  /** the Ingresses of this controller's classes, already filtered */
  ingresses: Obj[];
  services: Obj[];
  slices: Obj[];
  /** "namespace/secretName" -> the files, or why there are none (missing, wrong type) */
  tls: Map<string, TLSFiles | string>;
  listen: ListenConfig;
  files: NginxFiles;
}

/** something about one Ingress the controller reports as a Warning event */
export interface RenderProblem {
  ingress: Obj;
  reason: string;
  message: string;
}

export interface RenderOutput {
  text: string;
  problems: RenderProblem[];
}

type Target = { upstream: string } | { status: number };

interface Location {
  /** '=' exact, '' prefix, '~*' case-insensitive regular expression (use-regex) */
  modifier: '=' | '' | '~*';
  path: string;
  /** what made it: an Exact path outranks a Prefix path's exact twin */
  origin: 'Exact' | 'Prefix' | 'ImplementationSpecific' | 'default';
  target: Target;
  /** what its Ingress's nginx.ingress.kubernetes.io annotations ask (none for a made-up default) */
  settings?: LocationSettings;
}

interface Server {
  host: string;
  tls?: TLSFiles;
  locations: Map<string, Location>;
  /** the spec.defaultBackend of the first Ingress naming this host that has one */
  fallback?: Target;
}

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** oldest first, then by namespace/name: the order conflicts are settled in */
export function ingressOrder(a: Obj, b: Obj): number {
  const ta = String(a.metadata?.creationTimestamp ?? '');
  const tb = String(b.metadata?.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata?.namespace}/${a.metadata?.name}`;
  const kb = `${b.metadata?.namespace}/${b.metadata?.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** a path that is safe inside nginx's double quotes */
function quotable(path: string): boolean {
  return !/["\\\x00-\x1f\x7f]/.test(path);
}

export function upstreamName(ns: string, svc: string, port: string | number): string {
  return `${ns}-${svc}-${port}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

class Resolver {
  readonly upstreams = new Map<string, string[]>();
  private readonly services = new Map<string, Obj>();

  constructor(
    services: Obj[],
    private readonly slices: Obj[],
  ) {
    for (const s of services) this.services.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
  }

  /** the target of one backend, and the problem to report when it is not served */
  resolve(ns: string, backend: Obj): { target: Target; problem?: { reason: string; message: string } } {
    if (backend.resource) {
      const r = backend.resource;
      return { target: { status: 503 }, problem: { reason: 'UnsupportedBackend', message: `resource backend ${r.apiGroup ? `${r.kind}.${r.apiGroup}` : r.kind}/${r.name} is not supported by podbay's ingress controller: answering 503` } };
    }
    const ref = backend.service ?? {};
    const svc = this.services.get(`${ns}/${ref.name}`);
    if (!svc) return { target: { status: 503 }, problem: { reason: 'ServiceNotFound', message: `Service "${ns}/${ref.name}" not found: its paths answer 503` } };
    const wanted = ref.port?.name ? `name ${JSON.stringify(ref.port.name)}` : `port ${ref.port?.number}`;
    const port = ((svc.spec?.ports ?? []) as Obj[]).find((p) => (ref.port?.name ? p.name === ref.port.name : p.port === ref.port?.number));
    if (!port) return { target: { status: 503 }, problem: { reason: 'ServicePortNotFound', message: `Service "${ns}/${ref.name}" has no ${wanted}: its paths answer 503` } };
    const servers = this.endpoints(ns, ref.name, port.name ?? '');
    // no ready endpoint: 503 until one is (as ingress-nginx answers), not a problem of the Ingress
    if (servers.length === 0) return { target: { status: 503 } };
    const name = upstreamName(ns, ref.name, ref.port?.name || ref.port?.number);
    this.upstreams.set(name, servers);
    return { target: { upstream: name } };
  }

  /** ready IP:port of the service port named `portName`, from the Service's EndpointSlices */
  private endpoints(ns: string, svc: string, portName: string): string[] {
    const out = new Set<string>();
    for (const slice of this.slices) {
      if (slice.metadata?.namespace !== ns || slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== svc) continue;
      if (slice.addressType && slice.addressType !== 'IPv4') continue;
      const port = ((slice.ports ?? []) as Obj[]).find((p) => (p.name ?? '') === portName);
      if (typeof port?.port !== 'number') continue;
      for (const e of (slice.endpoints ?? []) as Obj[]) {
        if (e.conditions?.ready === false) continue;
        for (const ip of (e.addresses ?? []) as string[]) out.add(`${ip}:${port.port}`);
      }
    }
    return [...out].sort((a, b) => byNatural(a, b));
  }
}

function locationsOf(path: string, pathType: string, useRegex: boolean): { modifier: Location['modifier']; path: string; origin: Location['origin'] }[] {
  // use-regex: Prefix and ImplementationSpecific paths are regular expressions anchored at the start
  if (useRegex && pathType !== 'Exact') return [{ modifier: '~*', path, origin: pathType === 'Prefix' ? 'Prefix' : 'ImplementationSpecific' }];
  switch (pathType) {
    case 'Exact':
      return [{ modifier: '=', path, origin: 'Exact' }];
    case 'Prefix': {
      const base = path.replace(/\/+$/, '');
      if (base === '') return [{ modifier: '', path: '/', origin: 'Prefix' }];
      return [
        { modifier: '=', path: base, origin: 'Prefix' },
        { modifier: '', path: `${base}/`, origin: 'Prefix' },
      ];
    }
    default:
      return [{ modifier: '', path: path || '/', origin: 'ImplementationSpecific' }];
  }
}

function serverFor(servers: Map<string, Server>, host: string): Server {
  let s = servers.get(host);
  if (!s) servers.set(host, (s = { host, locations: new Map() }));
  return s;
}

/** the model: servers with their locations, the upstreams they use, the problems met */
export function buildModel(input: RenderInput): { servers: Server[]; upstreams: Map<string, string[]>; problems: RenderProblem[] } {
  const resolver = new Resolver(input.services, input.slices);
  const servers = new Map<string, Server>();
  const catchAll = serverFor(servers, '_');
  const problems: RenderProblem[] = [];
  const seen = new Set<string>();
  const report = (ingress: Obj, p: { reason: string; message: string } | undefined) => {
    const key = `${ingress.metadata.uid ?? ingress.metadata.name}\0${p?.reason}\0${p?.message}`;
    if (p && !seen.has(key)) {
      seen.add(key);
      problems.push({ ingress, ...p });
    }
  };
  for (const ing of [...input.ingresses].sort(ingressOrder)) {
    const ns: string = ing.metadata.namespace;
    const spec = ing.spec ?? {};
    const { settings, invalid, unsupported } = readAnnotations(ing);
    if (unsupported.length) {
      report(ing, { reason: 'UnsupportedAnnotation', message: `podbay's ingress controller ignores ${unsupported.join(', ')}: not implemented (it honours ${ANNOTATION_PREFIX}{ssl-redirect, force-ssl-redirect, use-regex, rewrite-target, backend-protocol, proxy-body-size, proxy-*-timeout, allowlist-source-range, permanent-redirect})` });
    }
    if (invalid.length) {
      // a value nginx could not be given: none of this Ingress is served, the others are
      report(ing, { reason: 'InvalidAnnotation', message: `${invalid.join('; ')}: the Ingress is not served` });
      continue;
    }
    let fallback: Target | undefined;
    if (spec.defaultBackend) {
      const r = resolver.resolve(ns, spec.defaultBackend);
      report(ing, r.problem);
      fallback = r.target;
      catchAll.fallback ??= fallback;
    }
    for (const rule of (spec.rules ?? []) as Obj[]) {
      const server = serverFor(servers, rule.host || '_');
      if (fallback && rule.host) server.fallback ??= fallback;
      for (const p of (rule.http?.paths ?? []) as Obj[]) {
        const path = String(p.path ?? '');
        if (!quotable(path)) {
          report(ing, { reason: 'InvalidPath', message: `path ${JSON.stringify(path)} holds a quote, a backslash or a control character: not served` });
          continue;
        }
        const regexProblem = settings.useRegex && p.pathType !== 'Exact' ? regexPathProblem(path) : undefined;
        if (regexProblem) {
          report(ing, { reason: 'InvalidPath', message: `${regexProblem}: not served` });
          continue;
        }
        const r = resolver.resolve(ns, p.backend ?? {});
        report(ing, r.problem);
        for (const l of locationsOf(path, String(p.pathType), settings.useRegex)) {
          const key = `${l.modifier} ${l.path}`;
          const had = server.locations.get(key);
          // the older Ingress keeps a path, except that Exact outranks a Prefix path's exact twin
          if (had && !(l.origin === 'Exact' && had.origin === 'Prefix')) continue;
          server.locations.set(key, { ...l, target: r.target, settings });
        }
      }
    }
    for (const t of (spec.tls ?? []) as Obj[]) {
      const files = t.secretName ? input.tls.get(`${ns}/${t.secretName}`) : undefined;
      if (typeof files === 'string') report(ing, { reason: 'TLSSecretInvalid', message: files });
      for (const host of (t.hosts ?? []) as string[]) {
        const server = serverFor(servers, host);
        if (typeof files === 'object') server.tls ??= files;
      }
    }
  }
  for (const s of servers.values()) {
    if (!s.locations.has(' /')) s.locations.set(' /', { modifier: '', path: '/', origin: 'default', target: s.fallback ?? { status: 404 } });
  }
  // the catch-all first, then hosts by name (wildcards after exact names, as nginx prefers them)
  const ordered = [...servers.values()].sort((a, b) => (a.host === '_' ? -1 : b.host === '_' ? 1 : byString(a.host, b.host)));
  return { servers: ordered, upstreams: resolver.upstreams, problems };
}

const MODIFIER_RANK = { '=': 0, '': 1, '~*': 2 } as const;

/**
 * exact locations first, then prefixes longest first (nginx's own precedence, written out in
 * that order), then regular expressions longest first (nginx tries them in the order written,
 * the order ingress-nginx writes them in)
 */
function locationOrder(a: Location, b: Location): number {
  if (a.modifier !== b.modifier) return MODIFIER_RANK[a.modifier] - MODIFIER_RANK[b.modifier];
  if (a.path.length !== b.path.length) return b.path.length - a.path.length;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** what the annotations add to a location, before it proxies (or answers) */
function annotationDirectives(l: Location, server: Server, httpsPort: number): string[] {
  const a = l.settings;
  if (!a) return [];
  const out: string[] = [];
  for (const cidr of a.allowSourceRanges ?? []) out.push(`allow ${cidr};`);
  if (a.allowSourceRanges) out.push('deny all;');
  if (a.forceSslRedirect || (a.sslRedirect && server.tls)) {
    // ingress-nginx's default http-redirect-code: 308 keeps the method and the body
    const port = httpsPort === 443 ? '' : `:${httpsPort}`;
    out.push(`if ($scheme = http) {`, `  return 308 "https://$host${port}$request_uri";`, '}');
  }
  if (a.permanentRedirect) out.push(`return ${a.permanentRedirectCode} "${a.permanentRedirect}";`);
  if (a.proxyBodySize !== undefined) out.push(`client_max_body_size ${a.proxyBodySize};`);
  if (a.proxyConnectTimeout !== undefined) out.push(`proxy_connect_timeout ${a.proxyConnectTimeout}s;`);
  if (a.proxySendTimeout !== undefined) out.push(`proxy_send_timeout ${a.proxySendTimeout}s;`);
  if (a.proxyReadTimeout !== undefined) out.push(`proxy_read_timeout ${a.proxyReadTimeout}s;`);
  if (a.rewriteTarget !== undefined) {
    // the whole URI is replaced (nginx's rewrite); under use-regex $1.. are the path's groups
    const pattern = l.modifier === '~*' ? l.path : escapeRegex(l.path);
    out.push(`rewrite "(?i)^${pattern}" "${a.rewriteTarget}" break;`);
  }
  return out;
}

function renderLocation(l: Location, server: Server, httpsPort: number): string[] {
  const head = `    location ${l.modifier ? `${l.modifier} ` : ''}"${l.modifier === '~*' ? `^${l.path}` : l.path}" {`;
  const scheme = l.settings?.backendProtocol === 'HTTPS' ? 'https' : 'http';
  const body = 'upstream' in l.target ? `proxy_pass ${scheme}://${l.target.upstream};` : `return ${l.target.status};`;
  return [head, ...[...annotationDirectives(l, server, httpsPort), body].map((d) => `      ${d}`), '    }'];
}

export function renderNginxConf(input: RenderInput): RenderOutput {
  const { servers, upstreams, problems } = buildModel(input);
  const { address, http, https } = input.listen;
  const f = input.files;
  const out: string[] = [
    '# written by podbay\'s ingress controller: every change is overwritten',
    `user ${f.user} ${f.group};`,
    'worker_processes 1;',
    `pid ${f.pid};`,
    `lock_file ${f.lock};`,
    'error_log stderr notice;',
    'events {',
    '  worker_connections 1024;',
    '}',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${f.temp}/client-body;`,
    `  proxy_temp_path ${f.temp}/proxy;`,
    `  fastcgi_temp_path ${f.temp}/fastcgi;`,
    `  uwsgi_temp_path ${f.temp}/uwsgi;`,
    `  scgi_temp_path ${f.temp}/scgi;`,
    '  server_tokens off;',
    '  server_names_hash_bucket_size 128;',
    '  map $http_upgrade $connection_upgrade {',
    '    default upgrade;',
    "    '' '';",
    '  }',
    '  proxy_http_version 1.1;',
    '  proxy_set_header Host $host;',
    '  proxy_set_header Upgrade $http_upgrade;',
    '  proxy_set_header Connection $connection_upgrade;',
    '  proxy_set_header X-Real-IP $remote_addr;',
    '  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '  proxy_set_header X-Forwarded-Host $host;',
    '  proxy_set_header X-Forwarded-Proto $scheme;',
    '  proxy_connect_timeout 5s;',
    '  proxy_next_upstream error timeout;',
  ];
  for (const [name, list] of [...upstreams].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out.push(`  upstream ${name} {`, ...list.map((s) => `    server ${s} max_fails=0;`), '  }');
  }
  for (const s of servers) {
    out.push('  server {');
    out.push(`    listen ${address}:${http}${s.host === '_' ? ' default_server' : ''};`);
    if (s.tls) out.push(`    listen ${address}:${https} ssl;`, `    ssl_certificate ${s.tls.cert};`, `    ssl_certificate_key ${s.tls.key};`);
    out.push(`    server_name ${s.host};`);
    for (const l of [...s.locations.values()].sort(locationOrder)) out.push(...renderLocation(l, s, https));
    out.push('  }');
  }
  out.push('}', '');
  return { text: out.join('\n'), problems };
}
