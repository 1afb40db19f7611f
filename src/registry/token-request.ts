/**
 * POST serviceaccounts/NAME/token (authentication.k8s.io/v1 TokenRequest), as kube-apiserver's
 * pkg/registry/core/serviceaccount/storage/token.go: the account must exist; the audiences
 * default to the API's; expirationSeconds defaults to 3600 and must lie in [600 s, 2^32 s]
 * (ValidateTokenRequest); a boundObjectRef names a Pod (running as this account) or a Secret of
 * the namespace, whose uid, when given, must be the stored one. The answer carries the token
 * and its expiry; nothing is stored.
 *
 * A pod-bound token for the API's audiences whose life is the admission's 3607 s (the kubelet's
 * kube-api-access volume) is signed for a year with a warnafter claim at the hour, as
 * kube-apiserver does with --service-account-extend-token-expiration (the default; the issuer's
 * extendExpiration): a client that reads its token file once keeps working while the kubelet
 * still refreshes the file by the hour the answer's expirationTimestamp gives.
 */
import { ApiError, badRequest, conflict, invalid, notFound, type FieldError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import { rfc3339 } from '../api/time.js';
import type { Obj } from '../api/types.js';
import { ADMISSION_TOKEN_EXPIRATION_SECONDS } from '../api/service-account.js';
import type { BoundRef, TokenIssuer } from './token-issuer.js';

const SERVICEACCOUNTS = resourceInfo('serviceaccounts')!;
const PODS = resourceInfo('pods')!;
const SECRETS = resourceInfo('secrets')!;
export const TOKEN_REQUEST_API_VERSION = 'authentication.k8s.io/v1';
const MIN_SECONDS = 600;
const MAX_SECONDS = 2 ** 32;
/** serviceaccount.ExpirationExtensionSeconds: what an extended admission token lives */
export const EXPIRATION_EXTENSION_SECONDS = 365 * 24 * 3600;

export type Lookup = (r: typeof PODS, ns: string, name: string) => Promise<Obj | undefined>;

/** ValidateTokenRequest */
export function tokenRequestErrors(spec: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const exp = spec.expirationSeconds;
  if (exp < MIN_SECONDS) errs.push({ type: 'FieldValueInvalid', field: 'spec.expirationSeconds', rawValue: String(exp), detail: 'may not specify a duration less than 10 minutes' });
  if (exp > MAX_SECONDS) errs.push({ type: 'FieldValueInvalid', field: 'spec.expirationSeconds', rawValue: String(exp), detail: 'may not specify a duration larger than 2^32 seconds' });
  return errs;
}

export async function createToken(issuer: TokenIssuer | undefined, lookup: Lookup, ns: string, name: string, body: Obj): Promise<Obj> {
  if (!issuer) throw new ApiError(503, 'ServiceUnavailable', 'this podbay server issues no service account tokens');
  const sa = await lookup(SERVICEACCOUNTS, ns, name);
  if (!sa) throw notFound(SERVICEACCOUNTS.resource, name);
  const spec: Obj = { ...(body.spec ?? {}) };
  if (!Array.isArray(spec.audiences) || spec.audiences.length === 0) spec.audiences = [...issuer.apiAudiences];
  if (spec.expirationSeconds === undefined || spec.expirationSeconds === null) spec.expirationSeconds = 3600;
  const errs = tokenRequestErrors(spec);
  if (errs.length) throw invalid('TokenRequest', '', errs, 'authentication.k8s.io');
  let bound: BoundRef | undefined;
  const ref = spec.boundObjectRef;
  if (ref) {
    const apiVersion = ref.apiVersion ?? '';
    const core = apiVersion === 'v1' || apiVersion === '';
    const gvk = `${apiVersion ? `${apiVersion}, ` : ''}Kind=${ref.kind ?? ''}`;
    if (!core || (ref.kind !== 'Pod' && ref.kind !== 'Secret')) throw badRequest(`cannot bind token to object of type /${gvk}`);
    const r = ref.kind === 'Pod' ? PODS : SECRETS;
    const obj = await lookup(r, ns, ref.name ?? '');
    if (!obj) throw notFound(r.resource, ref.name ?? '');
    if (ref.kind === 'Pod' && obj.spec?.serviceAccountName !== name) {
      throw badRequest(`cannot bind token for serviceaccount ${JSON.stringify(name)} to pod running with different serviceaccount name.`);
    }
    if (ref.uid && ref.uid !== obj.metadata.uid) {
      throw conflict(ref.kind, ref.name, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
    }
    bound = { kind: ref.kind, name: obj.metadata.name, uid: obj.metadata.uid };
    spec.boundObjectRef = { kind: ref.kind, apiVersion: 'v1', name: obj.metadata.name, uid: obj.metadata.uid };
  }
  const now = Math.floor(Date.now() / 1000);
  // token.go: only the admission's own request (its odd 3607 s) for the API's audiences (a
  // subset of them) is stretched; the answer still says the hour that was asked for
  const extend = issuer.extendExpiration && bound?.kind === 'Pod' && spec.expirationSeconds === ADMISSION_TOKEN_EXPIRATION_SECONDS && spec.audiences.every((a: string) => issuer.apiAudiences.includes(a));
  const { token } = await issuer.issue({
    namespace: ns,
    account: { name, uid: sa.metadata.uid },
    audiences: spec.audiences,
    expirationSeconds: extend ? EXPIRATION_EXTENSION_SECONDS : spec.expirationSeconds,
    ...(extend ? { warnAfterSeconds: spec.expirationSeconds } : {}),
    bound,
    now,
  });
  return {
    kind: 'TokenRequest',
    apiVersion: TOKEN_REQUEST_API_VERSION,
    metadata: { name, namespace: ns, creationTimestamp: null },
    spec,
    status: { token, expirationTimestamp: rfc3339((now + spec.expirationSeconds) * 1000) },
  };
}
