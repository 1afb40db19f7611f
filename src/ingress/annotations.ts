/**
 * The `nginx.ingress.kubernetes.io/*` annotations podbay's ingress controller honours, read
 * and checked as ingress-nginx reads them, and the rest named so they are never ignored
 * silently:
 *
 *   ssl-redirect            "true" (default): a host served with TLS answers plain HTTP with
 *                           308 to https:// (ingress-nginx's default http-redirect-code)
 *   force-ssl-redirect      "true": the same even for a host without TLS
 *   use-regex               "true": the Ingress's Prefix and ImplementationSpecific paths are
 *                           case-insensitive regular expressions (nginx `location ~*`)
 *   rewrite-target          the URI sent to the backend for a matching request (nginx
 *                           `rewrite ... break`, the whole URI replaced; $1.. are the path's
 *                           capture groups under use-regex)
 *   backend-protocol        HTTP (default) or HTTPS to the backend
 *   proxy-body-size         client_max_body_size (a size: 8m, 512k, 0 for no limit)
 *   proxy-read-timeout, proxy-send-timeout, proxy-connect-timeout   seconds
 *   allowlist-source-range (whitelist-source-range, its older name)   CIDRs or addresses,
 *                           comma-separated; others get 403
 *   permanent-redirect      a URL every request is sent to (permanent-redirect-code, 301 by
 *                           default)
 *
 * A value that does not parse makes the Ingress unserved (an event says which annotation and
 * why; the other Ingresses keep serving). Any other annotation with the prefix is reported as
 * unsupported: ingress-nginx has dozens, podbay renders the ones that map to a directive.
 */
import type { Obj } from '../api/types.js';
import { ipFamily, isValidCIDR } from '../api/validation/names.js';

export const ANNOTATION_PREFIX = 'nginx.ingress.kubernetes.io/';

/** what the annotations of one Ingress ask of each location its paths make */
export interface LocationSettings {
  sslRedirect: boolean;
  forceSslRedirect: boolean;
  useRegex: boolean;
  rewriteTarget?: string;
  backendProtocol: 'HTTP' | 'HTTPS';
  /** nginx size text */
  proxyBodySize?: string;
  /** seconds */
  proxyReadTimeout?: number;
  proxySendTimeout?: number;
  proxyConnectTimeout?: number;
  allowSourceRanges?: string[];
  permanentRedirect?: string;
  permanentRedirectCode: number;
}

export const DEFAULT_SETTINGS: LocationSettings = { sslRedirect: true, forceSslRedirect: false, useRegex: false, backendProtocol: 'HTTP', permanentRedirectCode: 301 };

const SUPPORTED = [
  'ssl-redirect',
  'force-ssl-redirect',
  'use-regex',
  'rewrite-target',
  'backend-protocol',
  'proxy-body-size',
  'proxy-read-timeout',
  'proxy-send-timeout',
  'proxy-connect-timeout',
  'allowlist-source-range',
  'whitelist-source-range',
  'permanent-redirect',
  'permanent-redirect-code',
];

export interface AnnotationReading {
  settings: LocationSettings;
  /** `annotation: why` for each value that does not parse (the Ingress is then not served) */
  invalid: string[];
  /** full names of the prefix's annotations podbay does not implement */
  unsupported: string[];
}

/** Go's strconv.ParseBool, which ingress-nginx's parser uses */
function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** text that may stand inside nginx's double quotes as one token: no quote, backslash, control character or space */
export function nginxToken(v: string): boolean {
  return v !== '' && !/["\\\s\x00-\x1f\x7f;{}]/.test(v);
}

export function readAnnotations(ingress: Obj): AnnotationReading {
  const all: Record<string, unknown> = ingress.metadata?.annotations ?? {};
  const s: LocationSettings = { ...DEFAULT_SETTINGS };
  const invalid: string[] = [];
  const unsupported: string[] = [];
  const get = (k: string): string | undefined => {
    const v = all[ANNOTATION_PREFIX + k];
    return typeof v === 'string' ? v.trim() : undefined;
  };
  const bad = (k: string, v: string, why: string) => invalid.push(`${ANNOTATION_PREFIX}${k}: ${JSON.stringify(v)} ${why}`);
  for (const name of Object.keys(all).sort()) {
    if (name.startsWith(ANNOTATION_PREFIX) && !SUPPORTED.includes(name.slice(ANNOTATION_PREFIX.length))) unsupported.push(name);
  }
  for (const k of ['ssl-redirect', 'force-ssl-redirect', 'use-regex'] as const) {
    const v = get(k);
    if (v === undefined) continue;
    const b = parseBool(v);
    if (b === undefined) bad(k, v, 'is not a boolean ("true" or "false")');
    else if (k === 'ssl-redirect') s.sslRedirect = b;
    else if (k === 'force-ssl-redirect') s.forceSslRedirect = b;
    else s.useRegex = b;
  }
  const target = get('rewrite-target');
  if (target !== undefined) {
    if (!nginxToken(target)) bad('rewrite-target', target, 'holds a space, a quote, a backslash, a brace, a semicolon or a control character');
    else s.rewriteTarget = target;
  }
  const proto = get('backend-protocol');
  if (proto !== undefined) {
    const p = proto.toUpperCase();
    if (p === 'HTTP' || p === 'HTTPS') s.backendProtocol = p;
    else bad('backend-protocol', proto, `is not supported by podbay (HTTP or HTTPS; ingress-nginx's GRPC, GRPCS, AJP and FCGI are not)`);
  }
  const size = get('proxy-body-size');
  if (size !== undefined) {
    if (/^\d+[kKmMgG]?$/.test(size)) s.proxyBodySize = size;
    else bad('proxy-body-size', size, 'is not a size (a number with an optional k, m or g suffix)');
  }
  for (const [k, field] of [
    ['proxy-read-timeout', 'proxyReadTimeout'],
    ['proxy-send-timeout', 'proxySendTimeout'],
    ['proxy-connect-timeout', 'proxyConnectTimeout'],
  ] as const) {
    const v = get(k);
    if (v === undefined) continue;
    if (/^\d{1,6}$/.test(v)) s[field] = Number(v);
    else bad(k, v, 'is not a number of seconds');
  }
  const rangeKey = get('allowlist-source-range') !== undefined ? 'allowlist-source-range' : 'whitelist-source-range';
  const ranges = get(rangeKey);
  if (ranges !== undefined) {
    const list = ranges.split(',').map((r) => r.trim()).filter(Boolean);
    const wrong = list.filter((r) => !(r.includes('/') ? isValidCIDR(r) : ipFamily(r) !== 0));
    if (list.length === 0) bad(rangeKey, ranges, 'names no CIDR');
    else if (wrong.length) bad(rangeKey, ranges, `holds ${wrong.map((w) => JSON.stringify(w)).join(', ')}, not a CIDR or an IP address`);
    else s.allowSourceRanges = list;
  }
  const redirect = get('permanent-redirect');
  if (redirect !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(redirect);
    } catch {
      /* reported below */
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !nginxToken(redirect)) bad('permanent-redirect', redirect, 'is not an http or https URL');
    else s.permanentRedirect = redirect;
  }
  const code = get('permanent-redirect-code');
  if (code !== undefined) {
    const n = Number(code);
    if (/^\d{3}$/.test(code) && n >= 300 && n <= 308) s.permanentRedirectCode = n;
    else bad('permanent-redirect-code', code, 'is not a redirect status code (300 to 308)');
  }
  return { settings: s, invalid, unsupported };
}

/** a regular expression nginx (PCRE) and JavaScript both take, checked with JavaScript's */
export function regexPathProblem(path: string): string | undefined {
  try {
    new RegExp(path);
  } catch (e) {
    return `path ${JSON.stringify(path)} is not a regular expression (use-regex): ${(e as Error).message}`;
  }
  return undefined;
}

/** a literal path as a PCRE pattern */
export function escapeRegex(path: string): string {
  return path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
