/**
 * Bounds on concurrent work, as kube-apiserver's --max-requests-inflight (400) and
 * --max-mutating-requests-inflight (200) set them (k8s.io/apiserver filters/maxinflight.go):
 * a request beyond its class's limit is answered 429 TooManyRequests with `Retry-After: 1`
 * at once, not queued.
 *
 * Long-running requests (watches; pods' log, exec, attach, portforward and proxy
 * subresources) do not count, as in kube-apiserver: they hold a connection for minutes by
 * design. Health probes (/healthz, /livez, /readyz) are exempt, as APF's exempt priority level
 * makes them, so a loaded server still reports itself alive. Unlike kube-apiserver, the admin
 * token (podbay's only identity, system:masters-like) is NOT exempt: it is every client here,
 * and exempting it would make the limits decorative.
 */
import { ApiError } from '../api/errors.js';
import { queryBool } from './query.js';

export type RequestClass = 'exempt' | 'long-running' | 'mutating' | 'readonly';

export const DEFAULT_MAX_REQUESTS_INFLIGHT = 400;
export const DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT = 200;
/** concurrent TCP connections; beyond it, new ones are dropped by the listener */
export const DEFAULT_MAX_CONNECTIONS = 2000;

const LONG_RUNNING_SUBRESOURCES = new Set(['log', 'exec', 'attach', 'portforward', 'proxy']);
const PROBE = /^\/(healthz|livez|readyz)(\/.*)?$/;

/** Which budget a request is charged to (before routing: from its method, path and query). */
export function requestClass(method: string, pathname: string, query: URLSearchParams): RequestClass {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (PROBE.test(path)) return 'exempt';
  if (/^\/(api\/v1|apis\/[^/]+\/[^/]+)\/watch(\/|$)/.test(path) || queryBool(query, 'watch')) return 'long-running';
  // .../{resource}/{name}/{subresource}: the last segment of a 3-segment tail
  const m = /^\/api\/v1\/(?:namespaces\/[^/]+\/)?[^/]+\/[^/]+\/([^/]+)$/.exec(path);
  if (m && LONG_RUNNING_SUBRESOURCES.has(m[1]!)) return 'long-running';
  // pods/NAME[:PORT]/proxy/ANY/PATH and nodes/NAME/proxy/...: the proxied path has any length
  if (/^\/api\/v1\/(?:namespaces\/[^/]+\/)?(?:pods|nodes)\/[^/]+\/proxy(?:\/|$)/.test(path)) return 'long-running';
  const verb = method.toUpperCase();
  return verb === 'GET' || verb === 'HEAD' || verb === 'OPTIONS' ? 'readonly' : 'mutating';
}

/** kube-apiserver's answer beyond the limit (maxinflight.go tooManyRequests), as a Status. */
export function tooManyRequests(): ApiError {
  return new ApiError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 });
}

export const RETRY_AFTER_SECONDS = '1';

export class InflightLimiter {
  private readonly inflight = { readonly: 0, mutating: 0 };

  /** 0 disables a limit, as in kube-apiserver */
  constructor(
    private readonly maxReadonly: number,
    private readonly maxMutating: number,
  ) {}

  /** in-flight counts now (for tests and logs) */
  get counts(): { readonly: number; mutating: number } {
    return { ...this.inflight };
  }

  /**
   * Take a slot for a request of this class: returns the release function (call it exactly
   * once, when the response is done), or undefined when the class is at its limit.
   */
  acquire(cls: RequestClass): (() => void) | undefined {
    if (cls === 'exempt' || cls === 'long-running') return () => {};
    const max = cls === 'mutating' ? this.maxMutating : this.maxReadonly;
    if (max > 0 && this.inflight[cls] >= max) return undefined;
    this.inflight[cls]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inflight[cls]--;
    };
  }
}
