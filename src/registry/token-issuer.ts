/**
 * Service-account tokens, as kube-apiserver's pkg/serviceaccount issues and reads them: ES256
 * JWTs signed with the key under DIR/pki/ (sa.key, made by src/apiserver/pki.ts), with the
 * claims upstream puts in them:
 *
 *   iss  the issuer (https://kubernetes.default.svc.cluster.local, as k3s)
 *   sub  system:serviceaccount:NS:NAME      aud  the audiences asked for (the API's by default)
 *   iat, nbf = now; exp = now + expirationSeconds; jti a fresh UUID (the credential id)
 *   kubernetes.io: { namespace, serviceaccount: {name, uid}, pod|secret: {name, uid}, warnafter? }
 *
 * `warnafter` is set on a pod's admission token whose life the TokenRequest stretched to a year
 * (token-request.ts): the moment past which its use is a client that does not reread its file.
 *
 * A legacy token (`issueLegacy`, for a Secret of type kubernetes.io/service-account-token, made
 * by the tokens controller) is what pkg/serviceaccount/legacy.go makes with the same key: issuer
 * `kubernetes/serviceaccount`, sub, and four flat private claims (kubernetes.io/serviceaccount/
 * namespace, secret.name, service-account.name, service-account.uid); no audience, no time, no
 * id: it is good for the API's audiences for as long as its Secret holds it.
 *
 * `check` checks signature, issuer (ours or the legacy one), audience and time, and says why a
 * token fails in kube-apiserver's words; whether the account and the bound object (or the legacy
 * token's Secret) still exist is the authenticator's question (it has the registry at hand).
 * The JWKS (/openid/v1/jwks) lists the public key under its key id (the SHA-256 of its DER, as
 * kube-apiserver's keyIDFromPublicKey), which is also every token's `kid` header.
 */
import { createHash, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import type { JWK, JWTPayload } from 'jose';
import { serviceAccountUsername } from '../api/service-account.js';

export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** serviceaccount.LegacyIssuer: the issuer of Secret-held tokens */
export const LEGACY_ISSUER = 'kubernetes/serviceaccount';
const ALG = 'ES256';

// jose loads with the first token issued or read, not at start (~30 ms of a cold start)
const jose = () => import('jose');

/** what a token is bound to, besides its account */
export interface BoundRef {
  kind: 'Pod' | 'Secret';
  name: string;
  uid: string;
}

/** the private claims of a legacy token (legacyPrivateClaims) */
export const LEGACY_CLAIMS = {
  namespace: 'kubernetes.io/serviceaccount/namespace',
  secretName: 'kubernetes.io/serviceaccount/secret.name',
  accountName: 'kubernetes.io/serviceaccount/service-account.name',
  accountUid: 'kubernetes.io/serviceaccount/service-account.uid',
} as const;

export interface TokenClaims extends JWTPayload {
  [LEGACY_CLAIMS.namespace]?: string;
  [LEGACY_CLAIMS.secretName]?: string;
  [LEGACY_CLAIMS.accountName]?: string;
  [LEGACY_CLAIMS.accountUid]?: string;
  'kubernetes.io'?: {
    namespace?: string;
    serviceaccount?: { name?: string; uid?: string };
    pod?: { name?: string; uid?: string };
    secret?: { name?: string; uid?: string };
    /** seconds since the epoch past which the token is stale (an extended admission token) */
    warnafter?: number;
  };
}

/**
 * A token checked for some audiences: its claims and the audiences it is good for (those it
 * names that were asked for), or why not. `foreign`: not a token this issuer signed (another
 * issuer's, a bad signature, not a JWT): kube-apiserver's plain "invalid bearer token".
 */
export type TokenCheck = { claims: TokenClaims; audiences: string[] } | { error: string; foreign?: boolean };

/** Go's %q of a []string: ["a" "b"] */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

export interface IssueRequest {
  namespace: string;
  account: { name: string; uid: string };
  audiences: string[];
  expirationSeconds: number;
  bound?: BoundRef;
  /** seconds since the epoch; now when absent (tests pin it) */
  now?: number;
  /** seconds after `now` past which the token is stale (the kubernetes.io warnafter claim) */
  warnAfterSeconds?: number;
}

export interface IssuerOptions {
  /**
   * --service-account-extend-token-expiration (default true): a pod's admission token (3607 s,
   * for the API) is issued for a year, with a warnafter claim at the hour (token-request.ts)
   */
  extendExpiration?: boolean;
}

export class TokenIssuer {
  /** the signing key as WebCrypto wants it, imported with the first token */
  private signingKey?: Promise<CryptoKey>;

  private constructor(
    private readonly privatePem: string,
    private readonly publicKey: KeyObject,
    readonly keyId: string,
    readonly issuer: string,
    /** the audiences the API server itself accepts (--api-audiences; the issuer by default) */
    readonly apiAudiences: string[],
    readonly extendExpiration: boolean,
  ) {}

  /** from the PKCS#8 PEM of an EC P-256 private key */
  static async fromPem(privatePem: string, issuer = DEFAULT_ISSUER, apiAudiences = [issuer], opts: IssuerOptions = {}): Promise<TokenIssuer> {
    const publicKey = createPublicKey(privatePem);
    // what importPKCS8(pem, 'ES256') refused at start is still refused at start
    if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new TypeError(`the service-account key must be an EC P-256 key for ${ALG}, not ${publicKey.asymmetricKeyType} ${publicKey.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
    }
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const kid = createHash('sha256').update(der).digest('base64url');
    return new TokenIssuer(privatePem, publicKey, kid, issuer, apiAudiences, opts.extendExpiration ?? true);
  }

  async issue(req: IssueRequest): Promise<{ token: string; expiresAt: number }> {
    const now = req.now ?? Math.floor(Date.now() / 1000);
    const exp = now + req.expirationSeconds;
    const k8s: TokenClaims['kubernetes.io'] = { namespace: req.namespace, serviceaccount: { name: req.account.name, uid: req.account.uid } };
    if (req.bound?.kind === 'Pod') k8s.pod = { name: req.bound.name, uid: req.bound.uid };
    if (req.bound?.kind === 'Secret') k8s.secret = { name: req.bound.name, uid: req.bound.uid };
    if (req.warnAfterSeconds) k8s.warnafter = now + req.warnAfterSeconds;
    const jwt = (await this.signer({ 'kubernetes.io': k8s }, this.issuer, req.namespace, req.account.name))
      .setAudience(req.audiences)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .setJti(randomUUID());
    return { token: await jwt.sign(await this.signingKey!), expiresAt: exp };
  }

  /**
   * The legacy token of a kubernetes.io/service-account-token Secret (serviceaccount.LegacyClaims):
   * it never expires; the authenticator takes it while the Secret holds it and names the account.
   */
  async issueLegacy(req: { namespace: string; account: { name: string; uid: string }; secretName: string }): Promise<string> {
    const claims = {
      [LEGACY_CLAIMS.namespace]: req.namespace,
      [LEGACY_CLAIMS.secretName]: req.secretName,
      [LEGACY_CLAIMS.accountName]: req.account.name,
      [LEGACY_CLAIMS.accountUid]: req.account.uid,
    };
    return (await this.signer(claims, LEGACY_ISSUER, req.namespace, req.account.name)).sign(await this.signingKey!);
  }

  /** a JWT of `claims` from `issuer` for the account, headed with our algorithm and key id, to sign with `signingKey` */
  private async signer(claims: JWTPayload, issuer: string, namespace: string, account: string) {
    const { SignJWT, importPKCS8 } = await jose();
    this.signingKey ??= importPKCS8(this.privatePem, ALG);
    return new SignJWT(claims).setProtectedHeader({ alg: ALG, kid: this.keyId }).setIssuer(issuer).setSubject(serviceAccountUsername(namespace, account));
  }

  /** the claims of a token this issuer signed for one of the API's audiences, or undefined */
  async verify(token: string): Promise<TokenClaims | undefined> {
    const c = await this.check(token);
    return 'claims' in c ? c.claims : undefined;
  }

  /**
   * Signature, issuer and time (60 s of leeway), then the audiences: the token must name one of
   * `audiences` (the API's by default; a TokenReview may ask for others), as jwt.go and
   * claims.go of pkg/serviceaccount word each refusal.
   */
  async check(token: string, audiences: readonly string[] = this.apiAudiences): Promise<TokenCheck> {
    let claims: TokenClaims;
    const { jwtVerify } = await jose();
    try {
      claims = (await jwtVerify(token, this.publicKey, { issuer: [this.issuer, LEGACY_ISSUER], algorithms: [ALG], clockTolerance: 60 })).payload as TokenClaims;
    } catch (e) {
      const { code, claim } = e as { code?: string; claim?: string };
      if (code === 'ERR_JWT_EXPIRED') return { error: 'service account token has expired' };
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'nbf') return { error: 'service account token is not valid yet' };
      return { error: 'invalid bearer token', foreign: true };
    }
    // a token naming no audience (a legacy one) is good for the API's (jwt.go's implicit audiences)
    const named = typeof claims.aud === 'string' ? [claims.aud] : claims.aud?.length ? claims.aud : this.apiAudiences;
    const good = audiences.filter((a) => named.includes(a));
    if (!good.length) return { error: `token audiences ${goQuoteList(named)} is invalid for the target audiences ${goQuoteList(audiences)}` };
    return { claims, audiences: good };
  }

  /** does this look like one of ours (a JWT naming our issuer)? Decides whether a bearer token is tried as one */
  static looksLikeJwt(token: string): boolean {
    return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
  }

  /** GET /openid/v1/jwks */
  async jwks(): Promise<{ keys: JWK[] }> {
    const jwk = await (await jose()).exportJWK(this.publicKey);
    return { keys: [{ ...jwk, use: 'sig', kid: this.keyId, alg: ALG }] };
  }

  /** GET /.well-known/openid-configuration */
  discovery(): object {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [ALG],
    };
  }
}
