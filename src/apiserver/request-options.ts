/**
 * Request decoding checks that kube-apiserver's handlers make before they touch storage, kept
 * out of server.ts (the HTTP edge) so they can be read and tested on their own:
 *
 *   - typed decoding of a body (src/api/typecheck.ts) turned into the handler's answer:
 *     400 `<Kind> in version "v1" cannot be handled as a <Kind>: <decoder error>` for a create or
 *     update, 422 on the field `patch` for a patch whose result does not decode;
 *   - ListOptions and DeleteOptions validation (apimachinery's ValidateListOptions and
 *     ValidateDeleteOptions), answered 422 on `ListOptions.meta.k8s.io` / `DeleteOptions.meta.k8s.io`.
 */
import { ApiError, badRequest, invalid, type FieldError } from '../api/errors.js';
import { decodeTyped } from '../api/typecheck.js';
import type { Obj } from '../api/types.js';

/**
 * Typed decoding of a request body (src/api/typecheck.ts), as kube-apiserver's decoder does it
 * into the Go struct: a value of the wrong type is 400 with the decoder's message (and a cause
 * naming the field). With `prune: false` unknown fields stay (so strict checking can still see
 * them); the second pass, after strict checking, removes them.
 */
export function decodeTypedOrThrow(typeName: string, kind: string, version: string, obj: Obj, prune: boolean): void {
  const { failure } = decodeTyped(typeName, obj, { prune });
  if (!failure) return;
  throw badRequest(`${kind} in version "${version}" cannot be handled as a ${kind}: ${failure.message}`, [
    { reason: 'FieldValueInvalid', message: failure.message, field: failure.field },
  ]);
}

/** the longest patch echoed back in a 422 (kube-apiserver echoes it whole) */
const MAX_ECHOED_PATCH = 1024;

/**
 * A patch whose result does not decode: kube-apiserver answers 422 with the field "patch"
 * (patch.go: field.Invalid(field.NewPath("patch"), ..., err.Error()) under an empty kind);
 * podbay adds a second cause naming the field inside the object.
 */
export function patchDecodeError(patchText: string, failure: { message: string; field: string }): ApiError {
  const value = patchText.length > MAX_ECHOED_PATCH ? `${patchText.slice(0, MAX_ECHOED_PATCH)}...` : patchText;
  const err = invalid('', '', [{ type: 'FieldValueInvalid', field: 'patch', value, detail: failure.message }]);
  err.details?.causes?.push({ reason: 'FieldValueInvalid', message: failure.message, field: failure.field });
  return err;
}

/**
 * metainternalversion ValidateListOptions for a list (not a watch): 422 on ListOptions, as the
 * list handler answers (`ListOptions.meta.k8s.io "" is invalid: ...`).
 */
export function validateListOptions(o: { resourceVersion?: string; resourceVersionMatch?: string; continue?: string }): void {
  const match = o.resourceVersionMatch;
  if (!match) return;
  const errs: FieldError[] = [];
  const field = 'resourceVersionMatch';
  if (!o.resourceVersion) errs.push({ type: 'FieldValueForbidden', field, detail: 'resourceVersionMatch is forbidden unless resourceVersion is provided' });
  if (o.continue) errs.push({ type: 'FieldValueForbidden', field, detail: 'resourceVersionMatch is forbidden when continue is provided' });
  if (match !== 'Exact' && match !== 'NotOlderThan') {
    errs.push({ type: 'FieldValueNotSupported', field, value: match, detail: 'supported values: "Exact", "NotOlderThan", ""' });
  }
  if (match === 'Exact' && o.resourceVersion === '0') {
    errs.push({ type: 'FieldValueForbidden', field, detail: 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"' });
  }
  if (errs.length) throw invalid('ListOptions.meta.k8s.io', '', errs);
}

/** apimachinery ValidateDeleteOptions: 422 on DeleteOptions before anything is deleted */
export function validateDeleteOptions(propagationPolicy: unknown, dryRun: unknown, orphanDependents?: unknown): void {
  const errs: FieldError[] = [];
  if (orphanDependents !== undefined && orphanDependents !== null && propagationPolicy !== undefined && propagationPolicy !== null) {
    errs.push({ type: 'FieldValueInvalid', field: 'propagationPolicy', value: propagationPolicy, detail: 'orphanDependents and deletionPropagation cannot be both set' });
  }
  const policies = ['Foreground', 'Background', 'Orphan'];
  if (propagationPolicy !== undefined && propagationPolicy !== null && !policies.includes(propagationPolicy as string)) {
    errs.push({ type: 'FieldValueNotSupported', field: 'propagationPolicy', value: propagationPolicy, detail: 'supported values: "Foreground", "Background", "Orphan", "nil"' });
  }
  if (Array.isArray(dryRun)) {
    for (const v of dryRun) if (v !== 'All') errs.push({ type: 'FieldValueNotSupported', field: 'dryRun', value: v, detail: 'supported values: "All"' });
  }
  if (errs.length) throw invalid('DeleteOptions.meta.k8s.io', '', errs);
}
