/**
 * Who is writing, for metadata.managedFields: the `fieldManager` query parameter, checked as
 * kube-apiserver checks it (at most 128 bytes, printable), else the first word of the
 * User-Agent ("kubectl/v1.33.0 (linux/amd64) ..." -> "kubectl"), as kube's managerOrUserAgent.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, fieldErrorText, fieldErrorBody, type FieldError } from '../api/errors.js';

export const FIELD_MANAGER_MAX_LENGTH = 128;

export type OptionsKind = 'CreateOptions' | 'UpdateOptions' | 'PatchOptions';

/** 422 on the request options, worded as errors.NewInvalid(meta.k8s.io/KIND, "", errs) words it */
export function optionsInvalid(kind: OptionsKind, errs: FieldError[]): ApiError {
  const texts = errs.map(fieldErrorText);
  const body = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${kind}.meta.k8s.io "" is invalid: ${body}`, {
    group: 'meta.k8s.io',
    kind,
    causes: errs.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  });
}

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space */
function isPrint(s: string): boolean {
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u.test(s);
}

export function fieldManagerOf(req: IncomingMessage, q: URLSearchParams, kind: OptionsKind): string {
  const fm = q.get('fieldManager');
  if (fm !== null && fm !== '') {
    const errs: FieldError[] = [];
    if (Buffer.byteLength(fm) > FIELD_MANAGER_MAX_LENGTH) errs.push({ type: 'FieldValueTooLong', field: 'fieldManager', detail: `may not be more than ${FIELD_MANAGER_MAX_LENGTH} bytes` });
    else if (!isPrint(fm)) errs.push({ type: 'FieldValueInvalid', field: 'fieldManager', value: fm, detail: 'invalid characters' });
    if (errs.length) throw optionsInvalid(kind, errs);
    return fm;
  }
  const ua = String(req.headers['user-agent'] ?? '');
  return Buffer.from(ua.split('/')[0]).subarray(0, FIELD_MANAGER_MAX_LENGTH).toString();
}
