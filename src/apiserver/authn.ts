/**
 * Authentication: who a request is, from its bearer token, as kube-apiserver's token
 * authenticators do it:
 *
 *   the admin token (DIR/pki/admin.token)  -> podbay-admin, groups system:masters, system:authenticated
 *   a service-account JWT (token-issuer.ts) -> system:serviceaccount:NS:NAME, groups
 *        system:serviceaccounts, system:serviceaccounts:NS, system:authenticated; valid while its
 *        signature, issuer, audience (the API's) and time check out AND the account (and the pod
 *        or secret it is bound to) still exists with the uid the token names (the bound-token
 *        validator): a token of a deleted pod is refused
 *   a bootstrap token ID.SECRET (api/bootstrap-token.ts) -> system:bootstrap:ID, groups
 *        system:bootstrappers + the Secret's auth-extra-groups, system:authenticated; while its
 *        Secret kube-system/bootstrap-token-ID is usable and unexpired
 *   no bearer token, and a TLS client certificate the server's CA signed for client auth
 *        (x509 authenticator) -> user CN, groups O..., system:authenticated: a node's credential
 *   anything else -> undefined (401)
 *
 * Impersonation (Impersonate-User / -Group / -Uid / -Extra-*) is checked here too, after the
 * requester is known: each identity asked for needs `impersonate` on users, groups,
 * serviceaccounts or uids (authorization.k8s.io's impersonation filter).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { timingSafeEqual } from 'node:crypto';
import { BOOTSTRAP_TOKEN_NAMESPACE, bootstrapTokenSecretName, bootstrapTokenUser, parseBootstrapToken } from '../api/bootstrap-token.js';
import { ApiError, forbidden } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { forbiddenMessage, type Attributes, type UserInfo } from '../api/rbac.js';
import { parseServiceAccountUsername, serviceAccountGroups, serviceAccountUsername } from '../api/service-account.js';
import type { Registry } from '../registry/index.js';
import { TokenIssuer } from '../registry/token-issuer.js';

const SERVICEACCOUNTS = resourceInfo('serviceaccounts')!;
const PODS = resourceInfo('pods')!;
const SECRETS = resourceInfo('secrets')!;

/** The user behind the admin token: the kubeconfig's user name, in kube-apiserver's superuser group. */
export const ADMIN_USER: UserInfo = { username: 'podbay-admin', groups: ['system:masters', 'system:authenticated'] };
/** a bound object deleted longer ago than this no longer vouches for its tokens (kube's 60 s) */
const DELETION_GRACE_MS = 60_000;

export class Authenticator {
  private readonly tokenBuf: Buffer;

  constructor(
    adminToken: string,
    private readonly resources: Registry,
  ) {
    this.tokenBuf = Buffer.from(adminToken);
  }

  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return req.headers.authorization === undefined ? clientCertificateUser(req) : undefined;
    const given = Buffer.from(m[1]);
    if (given.length === this.tokenBuf.length && timingSafeEqual(given, this.tokenBuf)) return ADMIN_USER;
    const bootstrap = parseBootstrapToken(m[1]);
    if (bootstrap) {
      const secret = await this.resources.tryGet(SECRETS, BOOTSTRAP_TOKEN_NAMESPACE, bootstrapTokenSecretName(bootstrap.id));
      return bootstrapTokenUser(bootstrap, secret);
    }
    const issuer = this.resources.options.tokens;
    if (!issuer || !TokenIssuer.looksLikeJwt(m[1])) return undefined;
    return this.serviceAccountUser(m[1], issuer);
  }

  private async serviceAccountUser(token: string, issuer: TokenIssuer): Promise<UserInfo | undefined> {
    const claims = await issuer.verify(token);
    const k8s = claims?.['kubernetes.io'];
    const ns = k8s?.namespace;
    const sa = k8s?.serviceaccount;
    if (!claims || !ns || !sa?.name || !sa.uid || claims.sub !== serviceAccountUsername(ns, sa.name)) return undefined;
    const account = await this.resources.tryGet(SERVICEACCOUNTS, ns, sa.name);
    if (!account || account.metadata.uid !== sa.uid || account.metadata.deletionTimestamp) return undefined;
    const extra: Record<string, string[]> = {};
    for (const [ref, r] of [[k8s.pod, PODS], [k8s.secret, SECRETS]] as const) {
      if (!ref) continue;
      const obj = await this.resources.tryGet(r, ns, ref.name ?? '');
      if (!obj || obj.metadata.uid !== ref.uid) return undefined;
      const del = obj.metadata.deletionTimestamp;
      if (del && Date.parse(del) < Date.now() - DELETION_GRACE_MS) return undefined;
      if (r === PODS) {
        extra['authentication.kubernetes.io/pod-name'] = [ref.name ?? ''];
        extra['authentication.kubernetes.io/pod-uid'] = [ref.uid ?? ''];
      }
    }
    if (claims.jti) extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];
    return { username: serviceAccountUsername(ns, sa.name), uid: sa.uid, groups: serviceAccountGroups(ns), extra };
  }
}

/** id-kp-clientAuth */
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

/**
 * The x509 authenticator: a client certificate that the TLS handshake verified against the
 * server's CA (the server requests one and verifies it, `authorized`), valid for client auth.
 */
function clientCertificateUser(req: IncomingMessage): UserInfo | undefined {
  const sock = req.socket as TLSSocket;
  if (!sock.encrypted || !sock.authorized) return undefined;
  const cert = sock.getPeerCertificate();
  if (!cert?.subject) return undefined;
  if (cert.ext_key_usage && !cert.ext_key_usage.includes(CLIENT_AUTH_EKU)) return undefined;
  const cn = [cert.subject.CN].flat()[0];
  if (!cn) return undefined;
  const orgs = [cert.subject.O ?? []].flat().filter((o): o is string => typeof o === 'string' && o !== '');
  return { username: cn, groups: [...orgs, 'system:authenticated'] };
}

function headerValues(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === name) out.push(req.rawHeaders[i + 1]);
  return out;
}

/**
 * The impersonation filter: the identity the request acts as, or the requester's own when it
 * asks for none. Each identity asked for must be allowed by `may` (the authorizer), or 403.
 */
export async function impersonate(req: IncomingMessage, requester: UserInfo, may: (a: Attributes) => Promise<boolean>): Promise<UserInfo> {
  const users = headerValues(req, 'impersonate-user');
  const groups = headerValues(req, 'impersonate-group');
  const uids = headerValues(req, 'impersonate-uid');
  const extraHeaders = Object.keys(req.headers).filter((h) => h.startsWith('impersonate-extra-'));
  if (!users.length && !groups.length && !uids.length && !extraHeaders.length) return requester;
  if (!users.length) throw new ApiError(500, 'InternalError', 'Internal error occurred: requested impersonation of groups, uid or extra without impersonating a user');
  const check = async (resource: string, name: string, namespace = '', apiGroup = '') => {
    const a: Attributes = { user: requester, verb: 'impersonate', isResourceRequest: true, path: '', namespace, apiGroup, apiVersion: '', resource, subresource: '', name };
    if (!(await may(a))) throw forbidden(forbiddenMessage(a));
  };
  const username = users[0];
  const sa = parseServiceAccountUsername(username);
  if (sa) await check('serviceaccounts', sa.name, sa.namespace);
  else await check('users', username);
  for (const g of groups) await check('groups', g);
  for (const u of uids) await check('uids', u, '', 'authentication.k8s.io');
  const extra: Record<string, string[]> = {};
  for (const h of extraHeaders) {
    const key = decodeURIComponent(h.slice('impersonate-extra-'.length));
    const vals = headerValues(req, h);
    for (const v of vals) {
      const a: Attributes = { user: requester, verb: 'impersonate', isResourceRequest: true, path: '', namespace: '', apiGroup: 'authentication.k8s.io', apiVersion: '', resource: 'userextras', subresource: key, name: v };
      if (!(await may(a))) throw forbidden(forbiddenMessage(a));
    }
    extra[key] = vals;
  }
  let outGroups = [...groups];
  // an impersonated service account gets its groups when none are asked for; every user is authenticated
  if (sa && !groups.length) outGroups = serviceAccountGroups(sa.namespace);
  else if (username !== 'system:anonymous' && !outGroups.includes('system:authenticated')) outGroups.push('system:authenticated');
  return { username, groups: outGroups, ...(uids.length ? { uid: uids[0] } : {}), ...(Object.keys(extra).length ? { extra } : {}) };
}
