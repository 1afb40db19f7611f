/**
 * AdmissionReview requests as kube-apiserver builds them (webhook/request.CreateV1AdmissionReview)
 * and what their responses mean (webhook/mutating and validating dispatchers): the uid must come
 * back, a denial becomes the webhook's status with `admission webhook "NAME" denied the
 * request: ...`, a mutating webhook's patch is a base64 JSONPatch.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/registry.js';
import type { Obj } from '../../api/types.js';
import type { AdmissionAttributes } from './types.js';

/** the review for webhook calling version `reviewVersion`, the kind seen as `as` (matchPolicy Equivalent) */
export function buildReview(a: AdmissionAttributes, as: ResourceInfo, reviewVersion: string, convert: (o: Obj | null) => Obj | null, uid = randomUUID()): Obj {
  const gvk = (r: ResourceInfo) => ({ group: r.group, version: r.version, kind: r.kind });
  const gvr = (r: ResourceInfo) => ({ group: r.group, version: r.version, resource: r.resource });
  const request: Obj = {
    uid,
    kind: a.kind ?? gvk(as),
    resource: gvr(as),
    ...(a.subResource ? { subResource: a.subResource } : {}),
    requestKind: a.kind ?? gvk(a.r),
    requestResource: gvr(a.r),
    ...(a.subResource ? { requestSubResource: a.subResource } : {}),
    name: a.name,
    ...(a.namespace ? { namespace: a.namespace } : {}),
    operation: a.operation,
    userInfo: { username: a.user.username, ...(a.user.uid ? { uid: a.user.uid } : {}), groups: a.user.groups, ...(a.user.extra ? { extra: a.user.extra } : {}) },
    object: convert(a.object),
    oldObject: convert(a.oldObject),
    dryRun: a.dryRun,
    options: a.options,
  };
  return { apiVersion: `admission.k8s.io/${reviewVersion}`, kind: 'AdmissionReview', request };
}

/** an error calling a webhook: failurePolicy decides whether it stops the request */
export class WebhookCallError extends Error {
  constructor(
    readonly webhook: string,
    readonly reason: string,
  ) {
    super(`failed calling webhook "${webhook}": ${reason}`);
  }
  /** apierrors.NewInternalError(err), as kube-apiserver answers a failed call under Fail */
  toApiError(): ApiError {
    return new ApiError(500, 'InternalError', `Internal error occurred: ${this.message}`, { causes: [{ reason: '', message: this.message }] });
  }
}

/** the response of a review, checked (webhook/request.VerifyAdmissionResponse) */
export function reviewResponse(webhook: string, sent: Obj, body: Obj, mutating: boolean): Obj {
  const resp = body?.response;
  if (!resp || typeof resp !== 'object') throw new WebhookCallError(webhook, 'received invalid webhook response: response was absent');
  if (body.apiVersion !== sent.apiVersion || body.kind !== 'AdmissionReview') {
    throw new WebhookCallError(webhook, `received invalid webhook response: expected webhook response of ${sent.apiVersion}, Kind=AdmissionReview, got ${body.apiVersion}, Kind=${body.kind}`);
  }
  if (resp.uid !== sent.request.uid) throw new WebhookCallError(webhook, `expected response.uid="${sent.request.uid}", got "${resp.uid ?? ''}"`);
  if (!mutating && (resp.patch !== undefined || resp.patchType !== undefined)) {
    throw new WebhookCallError(webhook, 'received invalid webhook response: validating webhooks may not return patches');
  }
  if (resp.patch !== undefined && resp.patchType !== 'JSONPatch') {
    throw new WebhookCallError(webhook, `received invalid webhook response: expected patchType JSONPatch, got ${JSON.stringify(resp.patchType ?? '')}`);
  }
  return resp;
}

/** webhookerrors.ToStatusErr: the webhook's denial as the request's answer */
export function denial(webhook: string, result: Obj | undefined): ApiError {
  const r = result ?? {};
  const code = typeof r.code === 'number' && r.code >= 400 ? r.code : 400;
  const by = `admission webhook "${webhook}" denied the request`;
  const message = r.message ? `${by}: ${r.message}` : r.reason ? `${by}: ${r.reason}` : `${by} without explanation`;
  return new ApiError(code, (r.reason ?? '') as ApiError['reason'], message, r.details);
}
