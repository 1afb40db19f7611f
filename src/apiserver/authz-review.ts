/**
 * The review APIs clients ask "who am I" and "may I" with (`kubectl auth whoami`, `kubectl
 * auth can-i [--list]`): authentication.k8s.io SelfSubjectReview and authorization.k8s.io
 * SelfSubjectAccessReview / SelfSubjectRulesReview. Create-only, never stored, as upstream.
 *
 * podbay has one identity: whoever holds the admin token its kubeconfig carries. It is answered
 * as kube-apiserver answers a member of system:masters (the privileged-group authorizer allows
 * every request, so every review says allowed, with the "*" rules).
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, forbidden, invalid, methodNotAllowed, pathNotFound, type ApiError, type FieldError } from '../api/errors.js';
import type { ApiGroupHandler, GroupRequest } from './api-groups.js';

type Obj = Record<string, any>;

/** The user behind the admin token: the kubeconfig's user name, in kube-apiserver's superuser group. */
export const ADMIN_USER = { username: 'podbay-admin', groups: ['system:masters', 'system:authenticated'] } as const;

/**
 * Requests that ask to act as someone else (`kubectl --as`, Impersonate-* headers): podbay has
 * no other identity to answer for, so they are refused rather than silently answered as the
 * admin (a `kubectl auth can-i --as=bob` must not say what the admin may do).
 */
export function impersonationRefusal(req: IncomingMessage): ApiError | undefined {
  const asked = Object.keys(req.headers).filter((h) => h.startsWith('impersonate-'));
  if (!asked.length) return undefined;
  const who = req.headers['impersonate-user'] ?? req.headers['impersonate-uid'] ?? req.headers['impersonate-group'];
  return forbidden(`impersonation is not supported: podbay has one identity, ${ADMIN_USER.username}, and cannot act as ${who ? JSON.stringify(String(who)) : 'another user'} (${asked.join(', ')})`);
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

/** SelfSubjectAccessReview's answer: everything is allowed to the one (admin) identity. */
export function accessReview(body: Obj): Obj {
  const errs = accessReviewErrors(body.spec);
  if (errs.length) throw invalid('SelfSubjectAccessReview.authorization.k8s.io', body.metadata?.name ?? '', errs);
  return { kind: 'SelfSubjectAccessReview', apiVersion: `${AUTHZ}/v1`, metadata: replyMeta(body), spec: body.spec, status: { allowed: true } };
}

/** SelfSubjectRulesReview's answer: the "*" rules a superuser has, complete. */
export function rulesReview(body: Obj): Obj {
  if (!body.spec || typeof body.spec !== 'object') body.spec = {};
  return {
    kind: 'SelfSubjectRulesReview',
    apiVersion: `${AUTHZ}/v1`,
    metadata: replyMeta(body),
    spec: body.spec,
    status: {
      resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
      nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
      incomplete: false,
    },
  };
}

/** SelfSubjectReview's answer (kubectl auth whoami): the admin user and its groups. */
export function subjectReview(body: Obj, version: string): Obj {
  return {
    kind: 'SelfSubjectReview',
    apiVersion: `${AUTHN}/${version}`,
    metadata: replyMeta(body),
    status: { userInfo: { username: ADMIN_USER.username, groups: [...ADMIN_USER.groups] } },
  };
}

const CREATE = ['create'];

export const AUTHORIZATION_GROUP: ApiGroupHandler = {
  name: AUTHZ,
  versions: ['v1'],
  resources: () => [
    // the namespaced LocalSubjectAccessReview and the SubjectAccessReview about others need
    // other identities to mean anything: podbay has one, so only the self reviews are served
    { name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: CREATE },
    { name: 'selfsubjectrulesreviews', singularName: 'selfsubjectrulesreview', namespaced: false, kind: 'SelfSubjectRulesReview', verbs: CREATE },
  ],
  async serve(r) {
    const which = r.seg[0];
    if (which === 'selfsubjectaccessreviews') {
      createOnly(r, which, AUTHZ);
      const body = await r.readObject('SelfSubjectAccessReview');
      checkType(body, 'SelfSubjectAccessReview', `${AUTHZ}/v1`);
      return r.send(201, accessReview(body));
    }
    if (which === 'selfsubjectrulesreviews') {
      createOnly(r, which, AUTHZ);
      const body = await r.readObject('SelfSubjectRulesReview');
      checkType(body, 'SelfSubjectRulesReview', `${AUTHZ}/v1`);
      return r.send(201, rulesReview(body));
    }
    throw pathNotFound(`the server could not find the requested resource (${r.method} /apis/${AUTHZ}/${r.version}/${r.seg.join('/')}): ${AUTHZ} serves selfsubjectaccessreviews and selfsubjectrulesreviews`);
  },
};

export const AUTHENTICATION_GROUP: ApiGroupHandler = {
  name: AUTHN,
  // v1 since Kubernetes 1.28; kubectl 1.27's whoami asks v1beta1 (then v1alpha1)
  versions: ['v1', 'v1beta1', 'v1alpha1'],
  resources: () => [{ name: 'selfsubjectreviews', singularName: 'selfsubjectreview', namespaced: false, kind: 'SelfSubjectReview', verbs: CREATE }],
  async serve(r) {
    if (r.seg[0] !== 'selfsubjectreviews') {
      throw pathNotFound(`the server could not find the requested resource (${r.method} /apis/${AUTHN}/${r.version}/${r.seg.join('/')}): ${AUTHN} serves selfsubjectreviews (tokenreviews need other identities than podbay's one)`);
    }
    createOnly(r, 'selfsubjectreviews', AUTHN);
    const body = await r.readObject('SelfSubjectReview');
    checkType(body, 'SelfSubjectReview', `${AUTHN}/${r.version}`);
    r.send(201, subjectReview(body, r.version));
  },
};
