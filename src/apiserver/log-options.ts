/**
 * pods/log query parameters, parsed and validated as kube-apiserver does it: the conversion
 * from url.Values (booleans as Convert_Slice_string_To_bool, integers with strconv.ParseInt's
 * errors: 400) and then ValidatePodLogOptions (422 `PodLogOptions "NAME" is invalid: ...`),
 * both before the pod is looked up.
 */
import { badRequest, invalid, type FieldError } from '../api/errors.js';
import { queryBool, queryInt } from './query.js';

export interface PodLogOptions {
  container?: string;
  follow?: boolean;
  previous?: boolean;
  timestamps?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  sinceTime?: string;
  limitBytes?: number;
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

export function podLogOptions(q: URLSearchParams, podName: string): PodLogOptions {
  const sinceTime = q.get('sinceTime') || undefined;
  if (sinceTime !== undefined && (!RFC3339.test(sinceTime) || Number.isNaN(Date.parse(sinceTime)))) {
    throw badRequest(`parsing time ${JSON.stringify(sinceTime)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(sinceTime)} as RFC 3339`);
  }
  const opts: PodLogOptions = {
    container: q.get('container') || undefined,
    follow: queryBool(q, 'follow'),
    previous: queryBool(q, 'previous'),
    timestamps: queryBool(q, 'timestamps'),
    tailLines: queryInt(q, 'tailLines'),
    sinceSeconds: queryInt(q, 'sinceSeconds'),
    sinceTime,
    limitBytes: queryInt(q, 'limitBytes'),
  };
  const errs: FieldError[] = [];
  if (opts.tailLines !== undefined && opts.tailLines < 0) errs.push({ type: 'FieldValueInvalid', field: 'tailLines', value: opts.tailLines, detail: 'must be greater than or equal to 0' });
  if (opts.limitBytes !== undefined && opts.limitBytes < 1) errs.push({ type: 'FieldValueInvalid', field: 'limitBytes', value: opts.limitBytes, detail: 'must be greater than 0' });
  if (opts.sinceSeconds !== undefined && opts.sinceTime !== undefined) errs.push({ type: 'FieldValueForbidden', field: '', detail: 'at most one of `sinceTime` or `sinceSeconds` may be specified' });
  else if (opts.sinceSeconds !== undefined && opts.sinceSeconds < 1) errs.push({ type: 'FieldValueInvalid', field: 'sinceSeconds', value: opts.sinceSeconds, detail: 'must be greater than 0' });
  if (errs.length) throw invalid('PodLogOptions', podName, errs);
  return opts;
}
