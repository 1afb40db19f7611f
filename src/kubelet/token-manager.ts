/**
 * The kubelet's service-account token manager (pkg/kubelet/token): the tokens of projected
 * serviceAccountToken sources, requested through serviceaccounts/NAME/token bound to the pod,
 * cached per pod, account, audience and lifetime, and requested again once 80% of a token's
 * life has passed or it is 24 h old, whichever comes first (requiresRefresh), so the file in
 * the pod is rewritten (atomically, volumes.ts) well before the token expires.
 */
import type { Obj } from '../api/types.js';

/** a token older than this is refreshed even when it lives longer (maxTTL) */
const MAX_TTL_MS = 24 * 3600 * 1000;

interface Cached {
  token: string;
  issuedAtMs: number;
  expiresAtMs: number;
  podUid: string;
}

export type RequestToken = (ns: string, serviceAccount: string, request: Obj) => Promise<Obj>;

/** requiresRefresh: past 80% of the token's life, or past 24 h */
export function requiresRefresh(issuedAtMs: number, expiresAtMs: number, nowMs: number): boolean {
  if (nowMs >= issuedAtMs + MAX_TTL_MS) return true;
  return nowMs >= expiresAtMs - 0.2 * (expiresAtMs - issuedAtMs);
}

export class TokenManager {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly request: RequestToken,
    private readonly now: () => number = Date.now,
  ) {}

  /** the token for `pod`'s projection {audience, expirationSeconds}; a fresh one when due */
  async token(pod: Obj, projection: Obj): Promise<string> {
    const ns: string = pod.metadata.namespace;
    const sa: string = pod.spec?.serviceAccountName || 'default';
    const seconds: number = projection.expirationSeconds ?? 3600;
    const audiences: string[] = projection.audience ? [projection.audience] : [];
    const key = JSON.stringify([ns, sa, pod.metadata.name, pod.metadata.uid, audiences, seconds]);
    const hit = this.cache.get(key);
    if (hit && !requiresRefresh(hit.issuedAtMs, hit.expiresAtMs, this.now())) return hit.token;
    const issuedAtMs = this.now();
    const tr = await this.request(ns, sa, {
      spec: { audiences, expirationSeconds: seconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } },
    });
    const token = tr.status?.token;
    if (typeof token !== 'string' || !token) throw new Error('the token request was answered without a token');
    const expiresAtMs = Date.parse(tr.status.expirationTimestamp ?? '') || issuedAtMs + seconds * 1000;
    this.cache.set(key, { token, issuedAtMs, expiresAtMs, podUid: pod.metadata.uid });
    return token;
  }

  /** the pod is gone: its tokens with it (DeleteServiceAccountToken) */
  forgetPod(uid: string): void {
    for (const [k, v] of this.cache) if (v.podUid === uid) this.cache.delete(k);
  }
}
