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
 *   a legacy service-account JWT (issuer kubernetes/serviceaccount, the token of a Secret of
 *        type kubernetes.io/service-account-token, made by the tokens controller) -> the same
 *        user, while that Secret exists, is not being deleted, holds this very token and is not
 *        labelled kubernetes.io/legacy-token-invalid-since, and the account exists with the uid
 *        the token names (pkg/serviceaccount/legacy.go); each day of use stamps the Secret's
 *        kubernetes.io/legacy-token-last-used label
 *   a bootstrap token ID.SECRET (api/bootstrap-token.ts) -> system:bootstrap:ID, groups
 *        system:bootstrappers + the Secret's auth-extra-groups, system:authenticated; while its
 *        Secret kube-system/bootstrap-token-ID is usable and unexpired
 *   no bearer token, and a TLS client certificate the server's CA signed for client auth
 *        (x509 authenticator) -> user CN, groups O..., system:authenticated: a node's credential
 *   no credentials at all (no bearer token: no Authorization header, another scheme, or an
 *        empty token; no client certificate) -> system:anonymous, group system:unauthenticated
 *        (the anonymous authenticator, --anonymous-auth, on by default as in kube-apiserver);
 *        RBAC then lets it read /healthz, /livez, /readyz and /version only
 *        (system:public-info-viewer)
 *   a bearer token no authenticator accepts -> undefined (401), anonymous or not
 *
 * `authenticateToken` is the token part alone, with kube-apiserver's words for a refusal: what
 * a TokenReview answers (authz-review.ts).
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
import { LEGACY_TOKEN_INVALID_SINCE_LABEL, LEGACY_TOKEN_LAST_USED_LABEL, parseServiceAccountUsername, serviceAccountGroups, serviceAccountUsername } from '../api/service-account.js';
import type { Obj } from '../api/types.js';
import type { Registry } from '../registry/index.js';
import { LEGACY_CLAIMS, LEGACY_ISSUER, TokenIssuer, type TokenCheck, type TokenClaims } from '../registry/token-issuer.js';

const SERVICEACCOUNTS = resourceInfo('serviceaccounts')!;
const PODS = resourceInfo('pods')!;
const SECRETS = resourceInfo('secrets')!;

/** The user behind the admin token: the kubeconfig's user name, in kube-apiserver's superuser group. */
export const ADMIN_USER: UserInfo = { username: 'podbay-admin', groups: ['system:masters', 'system:authenticated'] };
/** Who a request without credentials is, when anonymous requests are allowed (k8s.io/apiserver's anonymous authenticator). */
export const ANONYMOUS_USER: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
/** a bound object deleted longer ago than this no longer vouches for its tokens (kube's 60 s) */
const DELETION_GRACE_MS = 60_000;
/** the bearer-token authenticator's refusal when no token authenticator took the token */
const INVALID_BEARER_TOKEN = 'invalid bearer token';

/** A bearer token's authentication: the user and the audiences it is good for, or why not. */
export type TokenAuthentication = { user: UserInfo; audiences: string[] } | { user?: undefined; error: string };

export interface AuthenticatorOptions {
  /** --anonymous-auth (default true): a request without credentials is system:anonymous instead of 401 */
  anonymous?: boolean;
}

/**
 * The token of an Authorization header as bearertoken.go reads it: "Bearer TOKEN" (any case);
 * undefined when the header carries none (absent, another scheme, an empty token), which is no
 * credential rather than a wrong one.
 */
export function bearerToken(header: string | undefined): string | undefined {
  const parts = (header ?? '').trim().split(' ');
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer') return undefined;
  return parts[1] || undefined;
}

export class Authenticator {
  private readonly tokenBuf: Buffer;
  private readonly anonymous: boolean;

  constructor(
    adminToken: string,
    private readonly resources: Registry,
    opts: AuthenticatorOptions = {},
  ) {
    this.tokenBuf = Buffer.from(adminToken);
    this.anonymous = opts.anonymous ?? true;
  }

  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) return clientCertificateUser(req) ?? (this.anonymous ? ANONYMOUS_USER : undefined);
    return (await this.authenticateToken(token)).user;
  }

  /**
   * A bearer token's user, valid for one of `audiences` (the API's when none are given).
   * The admin and bootstrap tokens name no audience: they are good for the API's only
   * (authenticator.WrapAudienceAgnosticToken).
   */
  async authenticateToken(token: string, audiences: readonly string[] = []): Promise<TokenAuthentication> {
    const issuer = this.resources.options.tokens;
    const apiAudiences = issuer?.apiAudiences ?? [];
    const wanted = audiences.length ? audiences : apiAudiences;
    const agnostic = (user: UserInfo | undefined): TokenAuthentication => {
      const good = apiAudiences.filter((a) => wanted.includes(a));
      return user && (good.length || !wanted.length) ? { user, audiences: good } : { error: INVALID_BEARER_TOKEN };
    };
    const given = Buffer.from(token);
    if (given.length === this.tokenBuf.length && timingSafeEqual(given, this.tokenBuf)) return agnostic(ADMIN_USER);
    const bootstrap = parseBootstrapToken(token);
    if (bootstrap) {
      const secret = await this.resources.tryGet(SECRETS, BOOTSTRAP_TOKEN_NAMESPACE, bootstrapTokenSecretName(bootstrap.id));
      return agnostic(bootstrapTokenUser(bootstrap, secret));
    }
    if (!issuer || !TokenIssuer.looksLikeJwt(token)) return { error: INVALID_BEARER_TOKEN };
    const checked = await issuer.check(token, wanted);
    const r = 'claims' in checked && checked.claims.iss === LEGACY_ISSUER ? await this.legacyServiceAccountUser(token, checked.claims, checked.audiences) : await this.serviceAccountUser(checked);
    // the union of token authenticators reports the service-account one's reason beside its own
    return 'user' in r ? r : { error: r.foreign ? INVALID_BEARER_TOKEN : `[${INVALID_BEARER_TOKEN}, ${r.error}]` };
  }

  /** the validator of bound tokens (pkg/serviceaccount claims.go): the account and the bound object must still be there */
  private async serviceAccountUser(checked: TokenCheck): Promise<{ user: UserInfo; audiences: string[] } | { error: string; foreign?: boolean }> {
    if (!('claims' in checked)) return checked;
    const { claims } = checked;
    const k8s = claims['kubernetes.io'];
    const ns = k8s?.namespace;
    const sa = k8s?.serviceaccount;
    if (!ns || !sa?.name || !sa.uid || claims.sub !== serviceAccountUsername(ns, sa.name)) return { error: 'service account token claims could not be validated' };
    const invalidated = { error: 'service account token has been invalidated' };
    const account = await this.resources.readCached(SERVICEACCOUNTS, ns, sa.name);
    if (!account || account.metadata.deletionTimestamp) return invalidated;
    if (account.metadata.uid !== sa.uid) return { error: `service account UID (${account.metadata.uid}) does not match claim (${sa.uid})` };
    const extra: Record<string, string[]> = {};
    for (const [ref, r, what] of [[k8s.pod, PODS, 'pod'], [k8s.secret, SECRETS, 'secret']] as const) {
      if (!ref) continue;
      const obj = await this.resources.tryGet(r, ns, ref.name ?? '');
      if (!obj) return invalidated;
      const del = obj.metadata.deletionTimestamp;
      if (del && Date.parse(del) < Date.now() - DELETION_GRACE_MS) return invalidated;
      if (obj.metadata.uid !== ref.uid) return { error: `${what} UID (${obj.metadata.uid}) does not match claim (${ref.uid})` };
      if (r === PODS) {
        extra['authentication.kubernetes.io/pod-name'] = [ref.name ?? ''];
        extra['authentication.kubernetes.io/pod-uid'] = [ref.uid ?? ''];
      }
    }
    if (claims.jti) extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];
    return { user: { username: serviceAccountUsername(ns, sa.name), uid: sa.uid, groups: serviceAccountGroups(ns), extra }, audiences: checked.audiences };
  }

  /** the legacy validator (pkg/serviceaccount/legacy.go): the claims, then the Secret that holds the token and the account, in its words */
  private async legacyServiceAccountUser(token: string, claims: TokenClaims, audiences: string[]): Promise<{ user: UserInfo; audiences: string[] } | { error: string; foreign?: boolean }> {
    const ns = claims[LEGACY_CLAIMS.namespace];
    const secretName = claims[LEGACY_CLAIMS.secretName];
    const name = claims[LEGACY_CLAIMS.accountName];
    const uid = claims[LEGACY_CLAIMS.accountUid];
    if (!claims.sub) return { error: 'sub claim is missing' };
    if (!ns) return { error: 'namespace claim is missing' };
    if (!secretName) return { error: 'secretName claim is missing' };
    if (!name) return { error: 'serviceAccountName claim is missing' };
    if (!uid) return { error: 'serviceAccountUID claim is missing' };
    if (claims.sub !== serviceAccountUsername(ns, name)) return { error: 'sub claim is invalid' };
    const secret = await this.resources.tryGet(SECRETS, ns, secretName);
    if (!secret || secret.metadata.deletionTimestamp) return { error: 'Token has been invalidated' };
    const held = Buffer.from(String(secret.data?.token ?? ''), 'base64');
    const given = Buffer.from(token);
    if (held.length !== given.length || !timingSafeEqual(held, given)) return { error: "Token does not match server's copy" };
    const account = await this.resources.readCached(SERVICEACCOUNTS, ns, name);
    if (!account) return { error: `serviceaccounts "${name}" not found` };
    if (account.metadata.deletionTimestamp) return { error: `ServiceAccount ${ns}/${name} has been deleted` };
    if (account.metadata.uid !== uid) return { error: `ServiceAccount UID (${account.metadata.uid}) does not match claim (${uid})` };
    const invalidSince = secret.metadata.labels?.[LEGACY_TOKEN_INVALID_SINCE_LABEL];
    await this.stampLastUsed(secret);
    if (invalidSince) {
      return {
        error: `the token in secret ${ns}/${secretName} for service account ${ns}/${name} has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '${LEGACY_TOKEN_INVALID_SINCE_LABEL}' label from the secret to temporarily allow use of this token`,
      };
    }
    return { user: { username: serviceAccountUsername(ns, name), uid, groups: serviceAccountGroups(ns), extra: {} }, audiences };
  }

  /** legacy token tracking: the Secret's last-used label says today (UTC), written at most once a day */
  private async stampLastUsed(secret: Obj): Promise<void> {
    const now = new Date();
    const day = (d: Date) => d.toISOString().slice(0, 10);
    const lastUsed = secret.metadata.labels?.[LEGACY_TOKEN_LAST_USED_LABEL];
    if (lastUsed === day(now) || lastUsed === day(new Date(now.getTime() + 86_400_000))) return;
    const patch = { metadata: { uid: secret.metadata.uid, labels: { [LEGACY_TOKEN_LAST_USED_LABEL]: day(now) } } };
    // a failed stamp does not fail the request (kube-apiserver logs it)
    await this.resources.patch(SECRETS, secret.metadata.namespace, secret.metadata.name, 'application/merge-patch+json', JSON.stringify(patch), { fieldManager: 'kube-apiserver' }).catch(() => undefined);
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
