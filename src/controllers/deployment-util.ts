/**
 * The pure arithmetic of Deployments (kube's pkg/controller/deployment/util): the template
 * hash, maxSurge/maxUnavailable resolution, how far to scale the new ReplicaSet up and the old
 * ones down, revisions, annotations and conditions. No client here: unit-tested as is.
 */
import type { Obj } from '../client/types.js';

export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const ROLLBACK_TO = 'deprecated.deployment.rollback.to';
/** annotations a Deployment does not copy to its ReplicaSets (kube's skipCopyAnnotation) */
const SKIP_COPY = new Set([LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO]);

// ---------------------------------------------------------------- hash

/** FNV-1a, 32 bits, over UTF-8 bytes */
export function fnv32a(data: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(data, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** k8s.io/apimachinery/pkg/util/rand.SafeEncodeString: no vowels, no look-alikes */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of Buffer.from(s, 'utf8')) out += SAFE_ALPHANUMS[ch % SAFE_ALPHANUMS.length];
  return out;
}

/** a field that Go would decode to its zero value: null, an empty list or map (k8s Semantic.DeepEqual treats them alike) */
function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v as Obj).every((k) => isEmpty((v as Obj)[k]));
}

/**
 * JSON with object keys sorted and empty fields left out: the same template always hashes the
 * same, and `creationTimestamp: null` (which kubectl rollout undo sends) equals no field at all
 */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => !isEmpty((v as Obj)[k]))
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Obj)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * kube's ComputeHash: FNV-32a over the template (and the collision count when there is one),
 * rendered with SafeEncodeString. kube hashes Go's spew dump of the struct; podbay hashes the
 * canonical JSON, so the names differ from a kube cluster's but are as stable.
 */
export function computeHash(template: Obj, collisionCount?: number): string {
  let text = canonical(template);
  if (collisionCount !== undefined && collisionCount !== null) text += String(collisionCount);
  return safeEncodeString(String(fnv32a(text)));
}

/** the template without the pod-template-hash label (kube's EqualIgnoreHash) */
function withoutHash(t: Obj | undefined): Obj {
  const c = structuredClone(t ?? {});
  if (c.metadata?.labels) {
    delete c.metadata.labels[POD_TEMPLATE_HASH];
    if (Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels;
  }
  return c;
}

export function equalIgnoreHash(a: Obj | undefined, b: Obj | undefined): boolean {
  return canonical(withoutHash(a)) === canonical(withoutHash(b));
}

// ---------------------------------------------------------------- surge and unavailability

/** intstr.GetScaledValueFromIntOrPercent */
export function scaledValue(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    const n = Number(v);
    if (Number.isInteger(n)) return n;
    throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(v)}`);
  }
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

export function replicasOf(o: Obj | undefined): number {
  return o?.spec?.replicas ?? (o ? 1 : 0);
}

export function isRollingUpdate(d: Obj): boolean {
  return (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/** kube's ResolveFenceposts: surge rounds up, unavailable down; both 0 -> unavailable 1 */
export function resolveFenceposts(d: Obj): { surge: number; unavailable: number } {
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  const desired = replicasOf(d);
  const surge = scaledValue(ru.maxSurge ?? '25%', desired, true);
  let unavailable = scaledValue(ru.maxUnavailable ?? '25%', desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export function maxSurge(d: Obj): number {
  return isRollingUpdate(d) ? resolveFenceposts(d).surge : 0;
}

export function maxUnavailable(d: Obj): number {
  const desired = replicasOf(d);
  if (!isRollingUpdate(d) || desired === 0) return 0;
  return Math.min(resolveFenceposts(d).unavailable, desired);
}

export const sumReplicas = (rss: (Obj | undefined)[]): number => rss.reduce((n, rs) => n + (rs ? replicasOf(rs) : 0), 0);
export const sumActual = (rss: (Obj | undefined)[]): number => rss.reduce((n, rs) => n + (rs?.status?.replicas ?? 0), 0);
export const sumReady = (rss: (Obj | undefined)[]): number => rss.reduce((n, rs) => n + (rs?.status?.readyReplicas ?? 0), 0);
export const sumAvailable = (rss: (Obj | undefined)[]): number => rss.reduce((n, rs) => n + (rs?.status?.availableReplicas ?? 0), 0);

/** kube's NewRSNewReplicas: the size the new ReplicaSet may grow to now */
export function newRSNewReplicas(d: Obj, allRSs: Obj[], newRS: Obj): number {
  if (!isRollingUpdate(d)) return replicasOf(d);
  const current = sumReplicas(allRSs);
  const maxTotal = replicasOf(d) + maxSurge(d);
  if (current >= maxTotal) return replicasOf(newRS);
  const up = Math.min(maxTotal - current, replicasOf(d) - replicasOf(newRS));
  return replicasOf(newRS) + up;
}

// ---------------------------------------------------------------- ordering and revisions

function created(o: Obj): number {
  return Date.parse(o.metadata?.creationTimestamp ?? '') || 0;
}

/** ReplicaSetsByCreationTimestamp: oldest first, then by name */
export function byCreation(a: Obj, b: Obj): number {
  return created(a) - created(b) || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);
}

export function revisionOf(o: Obj | undefined): number {
  const v = Number(o?.metadata?.annotations?.[REVISION] ?? 0);
  return Number.isFinite(v) ? v : 0;
}

/** ReplicaSetsByRevision: lowest revision first, then by creation */
export function byRevision(a: Obj, b: Obj): number {
  return revisionOf(a) - revisionOf(b) || byCreation(a, b);
}

export function maxRevision(rss: Obj[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

/** FindNewReplicaSet: the oldest set whose template equals the deployment's, ignoring the hash */
export function findNewReplicaSet(d: Obj, rss: Obj[]): Obj | undefined {
  return [...rss].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

/**
 * kube's SetNewReplicaSetAnnotations: copy the deployment's annotations, raise the revision
 * (keeping the old one in revision-history), and for a new set the replica annotations.
 * Mutates `rs`; true when something changed.
 */
export function setNewReplicaSetAnnotations(d: Obj, rs: Obj, newRevision: number, exists: boolean): boolean {
  rs.metadata.annotations ??= {};
  const a = rs.metadata.annotations;
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (SKIP_COPY.has(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  const old = a[REVISION];
  const oldN = Number(old ?? 0) || 0;
  if (oldN < newRevision) {
    a[REVISION] = String(newRevision);
    changed = true;
    if (old !== undefined) a[REVISION_HISTORY] = a[REVISION_HISTORY] ? `${a[REVISION_HISTORY]},${old}` : old;
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

/** SetReplicasAnnotations: true when changed */
export function setReplicasAnnotations(rs: Obj, desired: number, max: number): boolean {
  rs.metadata.annotations ??= {};
  const a = rs.metadata.annotations;
  if (a[DESIRED_REPLICAS] === String(desired) && a[MAX_REPLICAS] === String(max)) return false;
  a[DESIRED_REPLICAS] = String(desired);
  a[MAX_REPLICAS] = String(max);
  return true;
}

// ---------------------------------------------------------------- proportional scaling

function annotationInt(rs: Obj, key: string): number | undefined {
  const v = rs.metadata?.annotations?.[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

export function desiredReplicasAnnotation(rs: Obj): number | undefined {
  return annotationInt(rs, DESIRED_REPLICAS);
}

/** kube's getReplicaSetFraction */
function replicaSetFraction(rs: Obj, d: Obj): number {
  if (replicasOf(d) === 0) return -replicasOf(rs);
  const deploymentReplicas = replicasOf(d) + maxSurge(d);
  const annotated = annotationInt(rs, MAX_REPLICAS) ?? d.status?.replicas ?? 0;
  if (!annotated) return 0;
  const size = (replicasOf(rs) * deploymentReplicas) / annotated;
  return Math.round(size) - replicasOf(rs);
}

/** kube's GetProportion */
export function proportion(rs: Obj, d: Obj, toAdd: number, added: number): number {
  if (replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

// ---------------------------------------------------------------- conditions

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastUpdateTime: string;
  lastTransitionTime: string;
}

export function condition(type: string, status: Condition['status'], reason: string, message: string, now: string): Condition {
  return { type, status, reason, message, lastUpdateTime: now, lastTransitionTime: now };
}

export function getDeploymentCondition(status: Obj | undefined, type: string): Condition | undefined {
  return (status?.conditions ?? []).find((c: Condition) => c.type === type);
}

/** SetDeploymentCondition: same status and reason keeps the old one; same status keeps its transition time */
export function setDeploymentCondition(status: Obj, c: Condition): void {
  const cur = getDeploymentCondition(status, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  if (cur && cur.status === c.status) c = { ...c, lastTransitionTime: cur.lastTransitionTime };
  status.conditions = [...(status.conditions ?? []).filter((x: Condition) => x.type !== c.type), c];
}

export function removeDeploymentCondition(status: Obj, type: string): void {
  status.conditions = (status.conditions ?? []).filter((x: Condition) => x.type !== type);
}

export function hasProgressDeadline(d: Obj): boolean {
  const s = d.spec?.progressDeadlineSeconds;
  return s !== undefined && s !== null && s !== 2147483647;
}

/** DeploymentComplete */
export function deploymentComplete(d: Obj, st: Obj): boolean {
  const n = replicasOf(d);
  return (st.updatedReplicas ?? 0) === n && (st.replicas ?? 0) === n && (st.availableReplicas ?? 0) === n && (st.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** DeploymentProgressing: any count moved the right way since the stored status */
export function deploymentProgressing(d: Obj, st: Obj): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (st.replicas ?? 0) - (st.updatedReplicas ?? 0);
  return (
    (st.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || newOld < oldOld || (st.readyReplicas ?? 0) > (old.readyReplicas ?? 0) || (st.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/** DeploymentTimedOut */
export function deploymentTimedOut(d: Obj, st: Obj, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getDeploymentCondition(st, 'Progressing');
  if (!c) return false;
  if (c.reason === 'NewReplicaSetAvailable') return false;
  if (c.reason === 'ProgressDeadlineExceeded') return true;
  const from = Date.parse(c.lastUpdateTime);
  return from + d.spec.progressDeadlineSeconds * 1000 < now;
}
