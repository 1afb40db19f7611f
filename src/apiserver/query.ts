/**
 * URL decoding for the API server, worded as kube-apiserver (Go's net/url and strconv) words it.
 *
 *   - a bad %-escape in the path or the query: `invalid URL escape "%zz"` (url.EscapeError);
 *     Go's server refuses such a path outright, and podbay refuses such a query rather than
 *     silently dropping the parameter as url.Values would;
 *   - integer parameters (limit, timeoutSeconds, gracePeriodSeconds ...) are parsed as
 *     metav1 does, with strconv.ParseInt(s, 10, 64):
 *       strconv.ParseInt: parsing "1e20": invalid syntax
 *       strconv.ParseInt: parsing "99999999999999999999": value out of range
 *     (a negative limit is legal upstream and means "no limit", so it is accepted here too);
 *   - boolean parameters (watch, follow, timestamps, stdin, allowWatchBookmarks ...) are read as
 *     runtime.Convert_Slice_string_To_bool reads them for every options struct: absent, "0" or
 *     "false" in any letter case is false; anything else, the empty string and "True" included,
 *     is true (so Python's watch=True is a watch). It never refuses a value: unlike
 *     strconv.ParseBool, "f" and "no" are true too, as kube-apiserver takes them;
 *   - resourceVersion parameters are unsigned integers (APIObjectVersioner.ParseResourceVersion):
 *       invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax
 */
import { badRequest } from '../api/errors.js';

const BAD_ESCAPE = /%(?![0-9a-fA-F]{2})/;

function escapeError(s: string): never {
  const i = s.search(BAD_ESCAPE);
  throw badRequest(`invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
}

/** decodeURIComponent for one path segment, or 400 naming the bad escape */
export function decodePathSegment(seg: string): string {
  if (BAD_ESCAPE.test(seg)) escapeError(seg);
  try {
    return decodeURIComponent(seg);
  } catch {
    // well-formed escapes that are not UTF-8 (e.g. %ff): Go would pass the byte through;
    // no Kubernetes name can hold it, so it is refused here
    throw badRequest(`invalid URL escape in ${JSON.stringify(seg)}: not UTF-8`);
  }
}

/** 400 if the raw query string (url.search) holds a malformed %-escape */
export function checkQueryEscapes(rawQuery: string): void {
  if (BAD_ESCAPE.test(rawQuery)) escapeError(rawQuery);
}

/** runtime.Convert_Slice_string_To_bool on one value (null: the parameter is absent) */
export function parseQueryBool(v: string | null): boolean {
  if (v === null) return false;
  return !(v === '0' || v.toLowerCase() === 'false');
}

/** a boolean query parameter (its first value, as url.Values.Get); undefined when absent, as a *bool field stays nil */
export function queryBool(q: URLSearchParams, key: string): boolean | undefined {
  const v = q.get(key);
  return v === null ? undefined : parseQueryBool(v);
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** strconv.ParseInt(s, 10, 64), with Go's error text */
export function parseGoInt64(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = BigInt(s);
  if (n > INT64_MAX || n < INT64_MIN) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`);
  return Number(n);
}

/** an integer query parameter, undefined when absent or empty */
export function queryInt(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  return parseGoInt64(v);
}

/**
 * A watch's timeoutSeconds. Any int64 is legal upstream; Node's timers hold at most 2^31-1 ms
 * (a longer one fires at once), so longer timeouts are capped at that (about 24.8 days).
 */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
export function watchTimeoutSeconds(q: URLSearchParams): number | undefined {
  const t = queryInt(q, 'timeoutSeconds');
  return t === undefined ? undefined : Math.min(t, MAX_TIMER_SECONDS);
}

export { parseResourceVersion } from '../api/resource-version.js';
