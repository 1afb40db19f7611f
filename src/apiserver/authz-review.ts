/**
 * The review APIs clients ask "who am I" and "may I" with (`kubectl auth whoami`, `kubectl
 * auth can-i [--list] [--as=...]`): authentication.k8s.io SelfSubjectReview and
 * authorization.k8s.io SelfSubjectAccessReview / SelfSubjectRulesReview / SubjectAccessReview.
 * Create-only, never stored, as upstream. Each is answered by the authorizer every request
 * goes through (authorizer.ts), for the request's user (after impersonation) or, for a
 * SubjectAccessReview, for the user its spec names.
 *
 * authentication.k8s.io TokenReview ("who is this token?", what a webhook or an aggregated
 * server asks about the bearer tokens it is given; RBAC: create tokenreviews, which
 * system:auth-delegator holds) is answered by the token authenticator every request's bearer
 * token goes through (authn.ts), for the audiences the review asks (the API's by default).
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, invalid, methodNotAllowed, pathNotFound, type FieldError } from '../api/errors.js';
import type { Attributes, PolicyRule, UserInfo } from '../api/rbac.js';
import type { ApiGroupHandler, GroupRequest } from './api-groups.js';
import type { TokenAuthentication } from './authn.js';

type Obj = Record<string, any>;

/** what the reviews need of the server: who asks, and the authorizer */
export interface ReviewDeps {
  userOf(req: IncomingMessage): UserInfo;
  authorize(a: Attributes): Promise<{ allowed: boolean; reason: string }>;
  rulesFor(user: UserInfo, ns: string): Promise<PolicyRule[]>;
  /** the token authenticator, for TokenReview */
  authenticateToken(token: string, audiences: readonly string[]): Promise<TokenAuthentication>;
}
const AUTHZ = 'authorization.k8s.io';
const AUTHN = 'authentication.k8s.io';

/** POST only; anything else on a review is refused as kube-apiserver refuses it (create is its one verb). */
function createOnly(r: GroupRequest, resource: string, group: string): void {
  if (r.seg.length !== 1) throw pathNotFound(`the server could not find the requested resource (${r.method} /apis/${group}/${r.version}/${r.seg.join('/')})`);
  if (r.method !== 'POST') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${r.method} ${resource}.${group}`);
}

/** The body's kind and apiVersion must be the review's (or absent), as the decoder checks. */
function checkType(obj: Obj, kind: string, apiVersion: string): void {
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion})`);
  }
  if (obj.kind !== undefined && obj.kind !== kind) throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${kind})`);
}

/** The answer's metadata: what was sent, with the creationTimestamp a never-stored object has. */
function replyMeta(obj: Obj): Obj {
  const m = obj.metadata && typeof obj.metadata === 'object' ? obj.metadata : {};
  return { ...m, creationTimestamp: null };
}

/** ValidateSelfSubjectAccessReviewSpec: exactly one of resourceAttributes and nonResourceAttributes. */
export function accessReviewErrors(spec: Obj | undefined): FieldError[] {
  const ra = spec?.resourceAttributes;
  const nra = spec?.nonResourceAttributes;
  if (ra != null && nra != null) return [{ type: 'FieldValueInvalid', field: 'spec.nonResourceAttributes', rawValue: JSON.stringify(nra), detail: 'cannot be specified in combination with resourceAttributes' }];
  if (ra == null && nra == null) return [{ type: 'FieldValueInvalid', field: 'spec.resourceAttributes', rawValue: 'null', detail: 'exactly one of nonResourceAttributes or resourceAttributes must be specified' }];
  return [];
}

/** the attributes a review's spec asks about, for `user` */
export function reviewAttributes(spec: Obj, user: UserInfo): Attributes {
  const ra = spec.resourceAttributes;
  if (ra) {
    return { user, verb: ra.verb ?? '', isResourceRequest: true, path: '', namespace: ra.namespace ?? '', apiGroup: ra.group ?? '', apiVersion: ra.version ?? '', resource: ra.resource ?? '', subresource: ra.subresource ?? '', name: ra.name ?? '' };
  }
  const nra = spec.nonResourceAttributes ?? {};
  return { user, verb: nra.verb ?? '', isResourceRequest: false, path: nra.path ?? '', namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' };
}

/** a (Self)SubjectAccessReview's answer: what the authorizer decides for `user` */
export async function accessReview(kind: string, body: Obj, user: UserInfo, deps: Pick<ReviewDeps, 'authorize'>): Promise<Obj> {
  const errs = accessReviewErrors(body.spec);
  if (errs.length) throw invalid(`${kind}.authorization.k8s.io`, body.metadata?.name ?? '', errs);
  const d = await deps.authorize(reviewAttributes(body.spec, user));
  return { kind, apiVersion: `${AUTHZ}/v1`, metadata: replyMeta(body), spec: body.spec, status: { allowed: d.allowed, ...(d.reason ? { reason: d.reason } : {}) } };
}

/** SelfSubjectRulesReview's answer: the rules the user holds in the namespace */
export async function rulesReview(body: Obj, user: UserInfo, deps: Pick<ReviewDeps, 'rulesFor'>): Promise<Obj> {
  if (!body.spec || typeof body.spec !== 'object') body.spec = {};
  const rules = await deps.rulesFor(user, body.spec.namespace ?? '');
  return {
    kind: 'SelfSubjectRulesReview',
    apiVersion: `${AUTHZ}/v1`,
    metadata: replyMeta(body),
    spec: body.spec,
    status: {
      resourceRules: rules.filter((r) => !r.nonResourceURLs?.length).map((r) => ({ verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], ...(r.resourceNames?.length ? { resourceNames: r.resourceNames } : {}) })),
      nonResourceRules: rules.filter((r) => r.nonResourceURLs?.length).map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs })),
      incomplete: false,
    },
  };
}

/** authentication.k8s.io UserInfo: empty fields left out, as Go's omitempty does */
function userInfo(user: UserInfo): Obj {
  return { username: user.username, ...(user.uid ? { uid: user.uid } : {}), groups: [...user.groups], ...(user.extra && Object.keys(user.extra).length ? { extra: user.extra } : {}) };
}

/** SelfSubjectReview's answer (kubectl auth whoami): the user and its groups */
export function subjectReview(body: Obj, version: string, user: UserInfo): Obj {
  return { kind: 'SelfSubjectReview', apiVersion: `${AUTHN}/${version}`, metadata: replyMeta(body), status: { userInfo: userInfo(user) } };
}

/**
 * TokenReview's answer (pkg/registry/authentication/tokenreview): the token is required (400
 * without it); the review echoes its spec, and its status says whether the token
 * authenticated, as whom, for which of the audiences asked, or why not. A token that does not
 * authenticate is a 201 with authenticated left out (false) and the error, never a 401: the
 * reviewer is the one asking.
 */
export async function tokenReview(body: Obj, deps: Pick<ReviewDeps, 'authenticateToken'>): Promise<Obj> {
  const spec = body.spec && typeof body.spec === 'object' ? body.spec : {};
  if (typeof spec.token !== 'string' || !spec.token) throw badRequest('token is required for TokenReview in authentication');
  const audiences: string[] = Array.isArray(spec.audiences) ? spec.audiences.filter((a: unknown): a is string => typeof a === 'string') : [];
  const r = await deps.authenticateToken(spec.token, audiences);
  const status = r.user ? { authenticated: true, user: userInfo(r.user), ...(r.audiences.length ? { audiences: r.audiences } : {}) } : { user: {}, error: r.error };
  return { kind: 'TokenReview', apiVersion: `${AUTHN}/v1`, metadata: replyMeta(body), spec, status };
}

const CREATE = ['create'];

/** the user a SubjectAccessReview asks about (its spec), checked as upstream: a user or a group is needed */
function specUser(body: Obj): UserInfo {
  const spec = body.spec ?? {};
  if (!spec.user && !(spec.groups ?? []).length) {
    throw invalid('SubjectAccessReview.authorization.k8s.io', body.metadata?.name ?? '', [{ type: 'FieldValueInvalid', field: 'spec.user', rawValue: '""', detail: 'at least one of user or group must be specified' }]);
  }
  return { username: spec.user ?? '', groups: spec.groups ?? [], ...(spec.uid ? { uid: spec.uid } : {}), ...(spec.extra ? { extra: spec.extra } : {}) };
}

export function authorizationGroup(deps: Omit<ReviewDeps, 'authenticateToken'>): ApiGroupHandler {
  return {
    name: AUTHZ,
    versions: ['v1'],
    resources: () => [
      { name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: CREATE },
      { name: 'selfsubjectrulesreviews', singularName: 'selfsubjectrulesreview', namespaced: false, kind: 'SelfSubjectRulesReview', verbs: CREATE },
      { name: 'subjectaccessreviews', singularName: 'subjectaccessreview', namespaced: false, kind: 'SubjectAccessReview', verbs: CREATE },
      { name: 'localsubjectaccessreviews', singularName: 'localsubjectaccessreview', namespaced: true, kind: 'LocalSubjectAccessReview', verbs: CREATE },
    ],
    async serve(r) {
      // namespaces/NS/localsubjectaccessreviews: a SubjectAccessReview confined to NS
      if (r.seg[0] === 'namespaces' && r.seg.length === 3 && r.seg[2] === 'localsubjectaccessreviews') {
        if (r.method !== 'POST') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${r.method} localsubjectaccessreviews.${AUTHZ}`);
        const ns = r.seg[1]!;
        const body = await r.readObject('LocalSubjectAccessReview');
        checkType(body, 'LocalSubjectAccessReview', `${AUTHZ}/v1`);
        const ra = body.spec?.resourceAttributes;
        if (body.spec?.nonResourceAttributes) throw badRequest('nonResourceAttributes are not allowed on a LocalSubjectAccessReview');
        if (ra && typeof ra === 'object') {
          if (!ra.namespace) ra.namespace = ns;
          else if (ra.namespace !== ns) throw badRequest(`spec.resourceAttributes.namespace must match namespace: ${ns}`);
        }
        const out = await accessReview('LocalSubjectAccessReview', body, specUser(body), deps);
        out.metadata.namespace = ns;
        return r.send(201, out);
      }
      const which = r.seg[0];
      const kinds: Record<string, string> = { selfsubjectaccessreviews: 'SelfSubjectAccessReview', selfsubjectrulesreviews: 'SelfSubjectRulesReview', subjectaccessreviews: 'SubjectAccessReview' };
      const kind = kinds[which];
      if (!kind) throw pathNotFound(`the server could not find the requested resource (${r.method} /apis/${AUTHZ}/${r.version}/${r.seg.join('/')}): ${AUTHZ} serves ${Object.keys(kinds).join(', ')}`);
      createOnly(r, which, AUTHZ);
      const body = await r.readObject(kind);
      checkType(body, kind, `${AUTHZ}/v1`);
      const user = deps.userOf(r.req);
      if (kind === 'SelfSubjectRulesReview') return r.send(201, await rulesReview(body, user, deps));
      if (kind === 'SubjectAccessReview') return r.send(201, await accessReview(kind, body, specUser(body), deps));
      return r.send(201, await accessReview(kind, body, user, deps));
    },
  };
}

export function authenticationGroup(deps: Pick<ReviewDeps, 'userOf' | 'authenticateToken'>): ApiGroupHandler {
  const selfSubjectReviews = { name: 'selfsubjectreviews', singularName: 'selfsubjectreview', namespaced: false, kind: 'SelfSubjectReview', verbs: CREATE };
  return {
    name: AUTHN,
    // v1 since Kubernetes 1.28; kubectl 1.27's whoami asks v1beta1 (then v1alpha1)
    versions: ['v1', 'v1beta1', 'v1alpha1'],
    // TokenReview is v1 only (its v1beta1 went in 1.22)
    resources: (version) => (version === 'v1' ? [{ name: 'tokenreviews', singularName: 'tokenreview', namespaced: false, kind: 'TokenReview', verbs: CREATE }, selfSubjectReviews] : [selfSubjectReviews]),
    async serve(r) {
      const served = r.version === 'v1' ? ['tokenreviews', 'selfsubjectreviews'] : ['selfsubjectreviews'];
      if (!served.includes(r.seg[0] ?? '')) {
        throw pathNotFound(`the server could not find the requested resource (${r.method} /apis/${AUTHN}/${r.version}/${r.seg.join('/')}): ${AUTHN}/${r.version} serves ${served.join(', ')}`);
      }
      if (r.seg[0] === 'tokenreviews') {
        createOnly(r, 'tokenreviews', AUTHN);
        const body = await r.readObject('TokenReview');
        checkType(body, 'TokenReview', `${AUTHN}/v1`);
        return r.send(201, await tokenReview(body, deps));
      }
      createOnly(r, 'selfsubjectreviews', AUTHN);
      const body = await r.readObject('SelfSubjectReview');
      checkType(body, 'SelfSubjectReview', `${AUTHN}/${r.version}`);
      r.send(201, subjectReview(body, r.version, deps.userOf(r.req)));
    },
  };
}
