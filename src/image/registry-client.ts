/**
 * A client for one registry endpoint speaking the OCI distribution API (/v2/...), with Node's
 * own http/https:
 *
 *   request --401 + WWW-Authenticate--> Basic: retry with the credentials
 *                                       Bearer realm,service,scope: GET realm (with the
 *                                       credentials, if any) -> token, cached per scope
 *
 * Bodies are streamed: getBlob hands back the response for the caller to hash while writing.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { RegistryError } from './errors.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** a bearer token given directly (identitytoken / registrytoken) */
  identityToken?: string;
}

export interface EndpointTls {
  insecureSkipVerify?: boolean;
  /** PEM of extra CAs to trust */
  ca?: string;
}

export interface RegistryEndpoint {
  /** "https://host:5000" or "http://127.0.0.1:5000", optionally with a path prefix standing for /v2 */
  url: string;
  tls?: EndpointTls;
  credentials?: Credentials;
}

export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parse a WWW-Authenticate header (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated name=value or name="quoted \"value\"" parameters.
 */
export function parseAuthChallenges(header: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = () => {
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(s.slice(i));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  let current: AuthChallenge | undefined;
  while (i < s.length) {
    skipWs();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const name = token();
    if (!name) {
      i++; // junk: skip a character
      continue;
    }
    skipWs();
    if (s[i] === '=' && current) {
      i++;
      skipWs();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++; // closing quote
      } else {
        // unquoted: up to the next comma or blank (lenient: realms are URLs, not RFC tokens)
        const m = /^[^,\s]*/.exec(s.slice(i))!;
        value = m[0];
        i += value.length;
      }
      current.params[name.toLowerCase()] = value;
    } else {
      // a new scheme; "Bearer realm=..." has its first parameter right after a space
      i = start + name.length;
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

export interface ResponseInfo {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: IncomingMessage;
}

interface RequestOpts {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | (() => Readable);
  /** repository scope for a token ("repository:library/nginx:pull") */
  scope?: string;
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
};

/** What a response that is not what we wanted says, for error messages. */
async function readErrorBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    if (n < 4096) chunks.push(c as Buffer);
    n += (c as Buffer).length;
  }
  const text = Buffer.concat(chunks).toString('utf8').slice(0, 4096);
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (Array.isArray(j.errors) && j.errors.length) return j.errors.map((e) => `${e.code ?? ''}${e.message ? `: ${e.message}` : ''}`).join('; ');
  } catch {
    /* not JSON */
  }
  return text.trim().slice(0, 200);
}

export class RegistryClient {
  readonly base: URL;
  /** "host:port" as users name the registry in messages */
  readonly host: string;
  private readonly tokens = new Map<string, string>();
  private basic = false;
  private readonly httpsAgent?: https.Agent;

  constructor(
    readonly endpoint: RegistryEndpoint,
    private readonly timeoutMs = 30_000,
  ) {
    const u = new URL(endpoint.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RegistryError(endpoint.url, `registry endpoint ${endpoint.url}: only http:// and https:// are supported`);
    let p = u.pathname.replace(/\/+$/, '');
    if (p.endsWith('/v2')) p = p.slice(0, -3);
    u.pathname = p + '/v2';
    this.base = u;
    this.host = u.host;
    if (u.protocol === 'https:') {
      this.httpsAgent = new https.Agent({
        keepAlive: true,
        maxSockets: 8,
        rejectUnauthorized: !endpoint.tls?.insecureSkipVerify,
        ...(endpoint.tls?.ca ? { ca: endpoint.tls.ca } : {}),
      });
    }
  }

  close(): void {
    this.httpsAgent?.destroy();
  }

  private raw(url: URL, opts: RequestOpts, auth?: string): Promise<ResponseInfo> {
    return new Promise((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const headers: Record<string, string> = { 'user-agent': 'podbay', ...(opts.headers ?? {}) };
      if (auth) headers.authorization = auth;
      const body = opts.body;
      if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
      const req = mod.request(
        url,
        { method: opts.method ?? 'GET', headers, agent: url.protocol === 'https:' ? this.httpsAgent : agents.http, timeout: this.timeoutMs },
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.timeoutMs / 1000}s`)));
      req.on('error', (e) => reject(new RegistryError(this.host, `${this.host}: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.replace(/:\s+/, ': '), undefined, true)));
      if (Buffer.isBuffer(body)) req.end(body);
      else if (body) {
        const src = body();
        src.on('error', (e) => req.destroy(e));
        src.pipe(req);
      } else req.end();
    });
  }

  private authHeader(scope: string | undefined): string | undefined {
    const c = this.endpoint.credentials;
    const tok = this.tokens.get(scope ?? '');
    if (tok) return `Bearer ${tok}`;
    if (this.basic && c?.username !== undefined) return `Basic ${Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64')}`;
    return undefined;
  }

  /**
   * A request under /v2 (or an absolute URL from a Location header), answering an auth
   * challenge once. Redirects (blob storage) are followed without credentials.
   */
  async request(pathOrUrl: string, opts: RequestOpts = {}): Promise<ResponseInfo> {
    const url = /^https?:\/\//.test(pathOrUrl) ? new URL(pathOrUrl) : new URL(this.base.href + pathOrUrl);
    let res = await this.raw(url, opts, this.authHeader(opts.scope));
    if (res.status === 401) {
      const challenge = res.headers['www-authenticate'];
      res.body.resume();
      await this.answerChallenge(Array.isArray(challenge) ? challenge.join(', ') : challenge ?? '', opts.scope);
      res = await this.raw(url, opts, this.authHeader(opts.scope));
    }
    for (let hops = 0; [301, 302, 303, 307, 308].includes(res.status) && hops < 5; hops++) {
      const loc = res.headers.location;
      res.body.resume();
      if (!loc) break;
      const next = new URL(loc, url);
      // same host: keep the credentials; elsewhere (blob storage): the URL carries its own
      res = await this.raw(next, { ...opts, method: opts.method === 'HEAD' ? 'HEAD' : 'GET', body: undefined }, next.host === url.host ? this.authHeader(opts.scope) : undefined);
    }
    return res;
  }

  private async answerChallenge(header: string, scope: string | undefined): Promise<void> {
    const challenges = parseAuthChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const creds = this.endpoint.credentials;
    if (bearer) {
      const realm = bearer.params.realm;
      if (!realm) throw new RegistryError(this.host, `${this.host} asked for a bearer token without a realm`, 401);
      const u = new URL(realm);
      if (bearer.params.service) u.searchParams.set('service', bearer.params.service);
      const wanted = scope ?? bearer.params.scope;
      if (wanted) u.searchParams.set('scope', wanted);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
      else if (creds?.identityToken) headers.authorization = `Bearer ${creds.identityToken}`;
      const res = await this.raw(u, { headers });
      if (res.status !== 200) {
        const why = await readErrorBody(res.body);
        throw new RegistryError(this.host, `${this.host}: the token service ${u.host} refused ${creds?.username ? `the credentials of ${JSON.stringify(creds.username)}` : 'anonymous access'} (HTTP ${res.status}${why ? `: ${why}` : ''})`, 401);
      }
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c as Buffer);
      let tok: string | undefined;
      try {
        const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { token?: string; access_token?: string };
        tok = j.token ?? j.access_token;
      } catch {
        tok = undefined;
      }
      if (!tok) throw new RegistryError(this.host, `${this.host}: the token service ${u.host} answered without a token`, 401);
      this.tokens.set(scope ?? '', tok);
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (creds?.username === undefined) throw unauthorized(this.host, false);
      this.basic = true;
      return;
    }
    throw new RegistryError(this.host, `${this.host} answered 401 with no usable authentication challenge (${JSON.stringify(header)})`, 401);
  }

  /** GET a manifest (by tag or digest), accepting every manifest and index type podbay reads. */
  async getManifest(repo: string, ref: string, accept: string[]): Promise<{ bytes: Buffer; mediaType: string; digest?: string }> {
    const res = await this.request(`/${repo}/manifests/${ref}`, { headers: { accept: accept.join(', ') }, scope: `repository:${repo}:pull` });
    if (res.status !== 200) throw await this.failure(res, `manifest ${repo}:${ref}`);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > 4 << 20) throw new RegistryError(this.host, `${this.host}: manifest ${repo}:${ref} is larger than 4 MiB`);
      chunks.push(c as Buffer);
    }
    const dcd = res.headers['docker-content-digest'];
    return { bytes: Buffer.concat(chunks), mediaType: String(res.headers['content-type'] ?? '').split(';')[0].trim(), digest: typeof dcd === 'string' ? dcd : undefined };
  }

  /** The response of GET blob: the caller streams and verifies it. */
  async getBlob(repo: string, digest: string): Promise<ResponseInfo> {
    const res = await this.request(`/${repo}/blobs/${digest}`, { scope: `repository:${repo}:pull` });
    if (res.status !== 200) throw await this.failure(res, `blob ${digest} of ${repo}`);
    return res;
  }

  async blobExists(repo: string, digest: string, scope: string): Promise<boolean> {
    const res = await this.request(`/${repo}/blobs/${digest}`, { method: 'HEAD', scope });
    res.body.resume();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.failure(res, `blob ${digest} of ${repo}`);
  }

  /** A failed response as a RegistryError naming the registry and what was asked. */
  async failure(res: ResponseInfo, what: string): Promise<RegistryError> {
    const why = await readErrorBody(res.body);
    if (res.status === 401 || res.status === 403) return unauthorized(this.host, Boolean(this.endpoint.credentials), res.status, why);
    if (res.status === 404) return new RegistryError(this.host, `${this.host}: ${what} not found${why ? ` (${why})` : ''}`, 404);
    return new RegistryError(this.host, `${this.host}: ${what}: HTTP ${res.status}${why ? ` (${why})` : ''}`, res.status, res.status >= 500 || res.status === 429);
  }
}

function unauthorized(host: string, hadCredentials: boolean, status = 401, why = ''): RegistryError {
  const detail = why ? ` (${why})` : '';
  return new RegistryError(
    host,
    hadCredentials
      ? `${host}: authorization failed with the credentials given${detail}: check the username and password (imagePullSecrets, registries.yaml configs, or ~/.docker/config.json)`
      : `${host}: authentication required${detail}: give credentials for ${host} (an imagePullSecret of type kubernetes.io/dockerconfigjson, registries.yaml configs, or ~/.docker/config.json)`,
    status,
  );
}
