/**
 * Bootstrap tokens, as kubeadm makes them and kube-apiserver's bootstrap-token authenticator
 * reads them (k8s.io/cluster-bootstrap/token): a token `ID.SECRET` (6 and 16 characters of
 * [a-z0-9]) lives as the Secret kube-system/bootstrap-token-ID of type
 * bootstrap.kubernetes.io/token. A request carrying it is user system:bootstrap:ID in the groups
 * system:bootstrappers and the Secret's auth-extra-groups, while the Secret says
 * usage-bootstrap-authentication=true and its expiration has not passed.
 */
import { randomInt } from 'node:crypto';
import type { Obj } from './types.js';

export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'bootstrap.kubernetes.io/token';
export const BOOTSTRAP_TOKEN_NAMESPACE = 'kube-system';
export const BOOTSTRAP_TOKEN_SECRET_PREFIX = 'bootstrap-token-';
/** the group every bootstrap token's user is in (upstream's BootstrapDefaultGroup) */
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers';
/** the extra group kubeadm gives the tokens it makes; its RBAC lets them ask for a node certificate */
export const DEFAULT_NODE_TOKEN_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
export const BOOTSTRAP_USER_PREFIX = 'system:bootstrap:';

const TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const GROUP_RE = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export interface BootstrapToken {
  id: string;
  secret: string;
}

/** `ID.SECRET` split, or undefined when the text is not a bootstrap token's shape */
export function parseBootstrapToken(text: string): BootstrapToken | undefined {
  const m = TOKEN_RE.exec(text);
  return m ? { id: m[1], secret: m[2] } : undefined;
}

/** A fresh random token (crypto-random, as kubeadm's GenerateBootstrapToken). */
export function generateBootstrapToken(): BootstrapToken {
  const pick = (n: number) => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return { id: pick(6), secret: pick(16) };
}

export function bootstrapTokenSecretName(id: string): string {
  return BOOTSTRAP_TOKEN_SECRET_PREFIX + id;
}

/** The Secret kubeadm writes for a token (stringData: the API server encodes it). */
export function bootstrapTokenSecret(t: BootstrapToken, opts: { ttlMs?: number; now?: number; description?: string; groups?: string[] }): Obj {
  const now = opts.now ?? Date.now();
  const stringData: Record<string, string> = {
    'token-id': t.id,
    'token-secret': t.secret,
    'usage-bootstrap-authentication': 'true',
    'usage-bootstrap-signing': 'true',
    'auth-extra-groups': (opts.groups ?? [DEFAULT_NODE_TOKEN_GROUP]).join(','),
  };
  if (opts.ttlMs) stringData.expiration = new Date(now + opts.ttlMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (opts.description) stringData.description = opts.description;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: bootstrapTokenSecretName(t.id), namespace: BOOTSTRAP_TOKEN_NAMESPACE },
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    stringData,
  };
}

/** a Secret's data field, decoded */
function field(secret: Obj, key: string): string | undefined {
  const v = secret.data?.[key];
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined;
}

export interface BootstrapTokenUser {
  username: string;
  groups: string[];
}

/**
 * The user a token authenticates as, given the Secret named after its id; undefined (401) when
 * the Secret is not a usable bootstrap token for it: wrong type, secret mismatch, expired,
 * being deleted, not marked for authentication, or naming a group outside system:bootstrappers:.
 */
export function bootstrapTokenUser(t: BootstrapToken, secret: Obj | undefined, now = Date.now()): BootstrapTokenUser | undefined {
  if (!secret || secret.type !== BOOTSTRAP_TOKEN_SECRET_TYPE || secret.metadata?.deletionTimestamp) return undefined;
  if (field(secret, 'token-id') !== t.id || !constantTimeEqual(field(secret, 'token-secret') ?? '', t.secret)) return undefined;
  if (field(secret, 'usage-bootstrap-authentication') !== 'true') return undefined;
  if (isExpired(secret, now)) return undefined;
  const extra = (field(secret, 'auth-extra-groups') ?? '').split(',').map((g) => g.trim()).filter(Boolean);
  if (extra.some((g) => !GROUP_RE.test(g))) return undefined;
  return { username: BOOTSTRAP_USER_PREFIX + t.id, groups: [BOOTSTRAPPERS_GROUP, ...extra.filter((g) => g !== BOOTSTRAPPERS_GROUP), 'system:authenticated'] };
}

/** expired, or an expiration that does not parse (upstream refuses those too) */
export function isExpired(secret: Obj, now = Date.now()): boolean {
  const exp = field(secret, 'expiration');
  if (exp === undefined) return false;
  const at = Date.parse(exp);
  return !Number.isFinite(at) || at <= now;
}

/** A row of `podbay token list`, as kubeadm token list prints it. */
export function bootstrapTokenRow(secret: Obj, now = Date.now()): { token: string; ttl: string; expires: string; usages: string; groups: string } | undefined {
  if (secret.type !== BOOTSTRAP_TOKEN_SECRET_TYPE) return undefined;
  const id = field(secret, 'token-id');
  const sec = field(secret, 'token-secret');
  if (!id || !sec) return undefined;
  const exp = field(secret, 'expiration');
  const left = exp ? Date.parse(exp) - now : undefined;
  const ttl = left === undefined ? '<forever>' : left <= 0 ? '<invalid>' : left >= 3_600_000 ? `${Math.floor(left / 3_600_000)}h` : `${Math.max(1, Math.floor(left / 60_000))}m`;
  const usages = Object.keys(secret.data ?? {})
    .filter((k) => k.startsWith('usage-bootstrap-') && field(secret, k) === 'true')
    .map((k) => k.slice('usage-bootstrap-'.length))
    .join(',');
  return { token: `${id}.${sec}`, ttl, expires: exp ?? '<never>', usages, groups: field(secret, 'auth-extra-groups') ?? '' };
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

/** --ttl: a Go duration of hours/minutes/seconds (24h, 90m, 1h30m); 0 = never expires */
export function parseTtl(v: string): number {
  if (v === '0') return 0;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(v);
  if (!m || !v) throw new Error(`--ttl ${JSON.stringify(v)}: want a duration such as 24h, 90m or 1h30m (0: never expires)`);
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}
