/**
 * Where a registry host is reached and with what: k3s's registries.yaml format, so users bring
 * the file they already have, plus credentials from Docker's config.json and from
 * kubernetes.io/dockerconfigjson secrets (same `auths` shape).
 *
 *   mirrors:
 *     docker.io:
 *       endpoint: ["http://127.0.0.1:5000"]
 *   configs:
 *     "127.0.0.1:5000":
 *       auth: {username: u, password: p}        # or auth: base64(u:p)
 *       tls: {insecure_skip_verify: true, ca_file: /path/ca.pem}
 *
 * Endpoints of a host: its mirrors in order, then the host itself (https; plain http is tried for
 * loopback hosts only, as Docker allows) unless `disableDefaultEndpoint` (k3s's
 * --disable-default-registry-endpoint) — then a mirrored host is never contacted directly.
 */
import { promises as fsp } from 'node:fs';
import { yaml } from '../lazy-module.js';
import { DOCKER_HUB, isLoopbackHost, registryKey } from './reference.js';
import type { Credentials, RegistryEndpoint } from './registry-client.js';

export interface RegistryHostConfig {
  auth?: Credentials;
  tls?: { insecureSkipVerify?: boolean; caFile?: string };
}

export interface RegistriesConfig {
  /** host -> mirror endpoint URLs, in order ("*" applies to every host) */
  mirrors: Record<string, string[]>;
  /** host (or mirror's host:port) -> auth and TLS */
  configs: Record<string, RegistryHostConfig>;
}

export const EMPTY_REGISTRIES: RegistriesConfig = { mirrors: {}, configs: {} };

export class RegistriesConfigError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'RegistriesConfigError';
  }
}

function decodeAuth(auth: string): { username: string; password: string } | undefined {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function credentialsOf(o: Record<string, unknown>): Credentials | undefined {
  const str = (k: string) => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
  const username = str('username');
  const password = str('password');
  const auth = str('auth');
  const identityToken = str('identitytoken') ?? str('identity_token') ?? str('registrytoken');
  if (username !== undefined) return { username, password: password ?? '' };
  if (auth) {
    const d = decodeAuth(auth);
    if (d) return d;
  }
  if (identityToken) return { identityToken };
  return undefined;
}

/** Parse registries.yaml text (k3s format); `file` names it in errors. */
export function parseRegistriesYaml(text: string, file: string): RegistriesConfig {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (e) {
    throw new RegistriesConfigError(file, `not valid YAML (${(e as Error).message})`);
  }
  const out: RegistriesConfig = { mirrors: {}, configs: {} };
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new RegistriesConfigError(file, 'expected a mapping with "mirrors" and/or "configs"');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'mirrors' && k !== 'configs') throw new RegistriesConfigError(file, `unknown key ${JSON.stringify(k)} (expected "mirrors" and/or "configs")`);
  const mirrors = (d.mirrors ?? {}) as Record<string, unknown>;
  if (typeof mirrors !== 'object' || Array.isArray(mirrors)) throw new RegistriesConfigError(file, '"mirrors" must be a mapping of registry host to {endpoint: [URL...]}');
  for (const [host, m] of Object.entries(mirrors)) {
    const eps = (m as { endpoint?: unknown } | null)?.endpoint;
    if (!Array.isArray(eps) || eps.some((e) => typeof e !== 'string')) throw new RegistriesConfigError(file, `mirrors.${host}.endpoint must be a list of URLs`);
    for (const e of eps as string[]) {
      let u: URL;
      try {
        u = new URL(e);
      } catch {
        throw new RegistriesConfigError(file, `mirrors.${host}.endpoint: ${JSON.stringify(e)} is not a URL (write http://HOST:PORT or https://HOST)`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RegistriesConfigError(file, `mirrors.${host}.endpoint: ${JSON.stringify(e)}: only http:// and https:// are supported`);
    }
    out.mirrors[host === '*' ? '*' : registryKey(host)] = eps as string[];
  }
  const configs = (d.configs ?? {}) as Record<string, unknown>;
  if (typeof configs !== 'object' || Array.isArray(configs)) throw new RegistriesConfigError(file, '"configs" must be a mapping of registry host to {auth, tls}');
  for (const [host, c] of Object.entries(configs)) {
    const cfg = (c ?? {}) as Record<string, unknown>;
    const entry: RegistryHostConfig = {};
    if (cfg.auth !== undefined) {
      if (typeof cfg.auth !== 'object' || cfg.auth === null) throw new RegistriesConfigError(file, `configs.${host}.auth must be a mapping (username, password, auth, identity_token)`);
      const creds = credentialsOf(cfg.auth as Record<string, unknown>);
      if (!creds) throw new RegistriesConfigError(file, `configs.${host}.auth has no usable credentials: give username and password, or auth (base64 of user:password)`);
      entry.auth = creds;
    }
    if (cfg.tls !== undefined) {
      const t = (cfg.tls ?? {}) as Record<string, unknown>;
      entry.tls = {};
      if (t.insecure_skip_verify !== undefined) entry.tls.insecureSkipVerify = t.insecure_skip_verify === true;
      if (typeof t.ca_file === 'string') entry.tls.caFile = t.ca_file;
      for (const k of ['cert_file', 'key_file']) if (t[k] !== undefined) throw new RegistriesConfigError(file, `configs.${host}.tls.${k}: client certificates are not supported by podbay yet`);
    }
    out.configs[registryKey(host)] = entry;
  }
  return out;
}

/** Read a registries file; a missing default file is no configuration, a missing named one an error. */
export async function loadRegistries(file: string, required: boolean): Promise<RegistriesConfig> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !required) return { mirrors: {}, configs: {} };
    throw new RegistriesConfigError(file, `cannot read it (${(e as Error).message})`);
  }
  return parseRegistriesYaml(text, file);
}

/** Credentials keyed by registry host, from a docker config.json or a dockerconfigjson secret. */
export type CredentialStore = Map<string, Credentials>;

/** `{"auths": {HOST: {auth|username/password}}}` (also the legacy .dockercfg shape without "auths"). */
export function parseDockerConfig(json: string, what: string): CredentialStore {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new Error(`${what} is not valid JSON (${(e as Error).message})`);
  }
  const out: CredentialStore = new Map();
  if (!doc || typeof doc !== 'object') return out;
  const auths = ((doc as { auths?: unknown }).auths ?? doc) as Record<string, unknown>;
  for (const [host, v] of Object.entries(auths)) {
    if (!v || typeof v !== 'object') continue;
    const creds = credentialsOf(v as Record<string, unknown>);
    if (creds && !out.has(registryKey(host))) out.set(registryKey(host), creds);
  }
  return out;
}

/** ~/.docker/config.json (or $DOCKER_CONFIG/config.json); none is no credentials. */
export async function loadDockerConfig(env: NodeJS.ProcessEnv = process.env): Promise<CredentialStore> {
  const dir = env.DOCKER_CONFIG ?? (env.HOME ? `${env.HOME}/.docker` : undefined);
  if (!dir) return new Map();
  const file = `${dir}/config.json`;
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return new Map();
  }
  return parseDockerConfig(text, file);
}

export interface ResolveOptions {
  /** never fall back to a mirrored host itself (k3s --disable-default-registry-endpoint) */
  disableDefaultEndpoint?: boolean;
  /** credentials by host, first match wins (pod secrets, then the CLI's docker config) */
  credentials?: CredentialStore[];
  /** environment to read PODBAY_LOOPBACK_REGISTRIES_ONLY from (default process.env) */
  env?: NodeJS.ProcessEnv;
}

/**
 * The endpoints to try for registry `host`, in order, each with its TLS settings and
 * credentials (looked up by the endpoint's own host, so a mirror never receives the
 * credentials meant for the registry it stands in for).
 */
export async function endpointsFor(host: string, cfg: RegistriesConfig, opts: ResolveOptions = {}): Promise<RegistryEndpoint[]> {
  const mirrors = cfg.mirrors[host] ?? cfg.mirrors['*'] ?? [];
  const urls = [...mirrors];
  if (!(opts.disableDefaultEndpoint && mirrors.length)) {
    const direct = host === DOCKER_HUB ? 'registry-1.docker.io' : host;
    urls.push(`https://${direct}`);
    // Docker's default "insecure registries" are the loopback ones: plain HTTP allowed there
    if (isLoopbackHost(host)) urls.push(`http://${host}`);
  }
  const out: RegistryEndpoint[] = [];
  // test safety net: PODBAY_LOOPBACK_REGISTRIES_ONLY=1 (set by the e2e harness) drops every
  // endpoint off this machine, so a misconfigured test fails instead of reaching the internet
  const loopbackOnly = (opts.env ?? process.env).PODBAY_LOOPBACK_REGISTRIES_ONLY === '1';
  const allowed = [...new Set(urls)].filter((u) => !loopbackOnly || isLoopbackHost(new URL(u).host));
  if (loopbackOnly && allowed.length === 0) throw new Error(`not contacting ${urls.join(', ')}: PODBAY_LOOPBACK_REGISTRIES_ONLY=1 allows registries on this machine only`);
  for (const url of allowed) {
    const key = registryKey(url);
    const hostKey = key === 'registry-1.docker.io' ? DOCKER_HUB : key;
    const conf = cfg.configs[hostKey];
    let credentials: Credentials | undefined;
    for (const store of opts.credentials ?? []) {
      credentials = store.get(hostKey);
      if (credentials) break;
    }
    credentials ??= conf?.auth;
    let ca: string | undefined;
    if (conf?.tls?.caFile) {
      try {
        ca = await fsp.readFile(conf.tls.caFile, 'utf8');
      } catch (e) {
        throw new Error(`registries config for ${hostKey}: cannot read tls.ca_file ${conf.tls.caFile} (${(e as Error).message})`);
      }
    }
    out.push({ url, ...(credentials ? { credentials } : {}), ...(conf?.tls ? { tls: { insecureSkipVerify: conf.tls.insecureSkipVerify, ...(ca ? { ca } : {}) } } : {}) });
  }
  return out;
}
