/**
 * ControllerRevisions as the StatefulSet and DaemonSet controllers keep them (kube's
 * controller/history): one per pod template an owner has had, named `<owner>-<hash>`, labelled
 * with the hash, owned by the set, holding the template as a strategic-merge patch
 * (`$patch: replace`) and a revision number (`kubectl rollout history` lists them). The oldest
 * beyond revisionHistoryLimit that no pod uses are deleted.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Client, Obj } from '../client/types.js';
import { controllerRef, controllerUid } from './owner.js';

export const REVISIONS = resourceInfo('controllerrevisions', 'apps')!;
export const REVISION_LABEL = 'controller-revision-hash';

/** the characters apimachinery's SafeEncodeString maps to (no vowels, no 0/1/3) */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** a template's revision hash: FNV-32a of its JSON (and the collision count), safe-encoded as kube spells hashes */
export function templateHash(template: unknown, collisionCount = 0): string {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(canonicalJson(template) + (collisionCount ? String(collisionCount) : ''))) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return [...String(h)].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join('');
}

/** JSON with object keys sorted, so equal templates hash the same whatever their key order */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Obj)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** the ControllerRevision of `owner`'s current template (`kind`: StatefulSet or DaemonSet), made when new */
export async function ensureRevision(client: Client, owner: Obj, kind: string, revisions: Obj[]): Promise<Obj> {
  const template = owner.spec?.template ?? {};
  const hash = templateHash(template, owner.status?.collisionCount ?? 0);
  const revName = `${owner.metadata.name}-${hash}`;
  const same = revisions.find((r) => r.metadata.name === revName);
  const latest = revisions.reduce((n, r) => Math.max(n, Number(r.revision ?? 0)), 0);
  if (same) {
    // back to an earlier template (`kubectl rollout undo`): that revision becomes the newest, as in kube
    if (Number(same.revision) === latest) return same;
    return client.resource(REVISIONS).update({ ...same, revision: latest + 1 });
  }
  const revision = latest + 1;
  const cr = {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: revName,
      namespace: owner.metadata.namespace,
      labels: { ...(owner.spec?.selector?.matchLabels ?? {}), [REVISION_LABEL]: hash },
      ownerReferences: [controllerRef(owner, 'apps/v1', kind)],
    },
    data: { spec: { template: { ...structuredClone(template), $patch: 'replace' } } },
    revision,
  };
  try {
    return await client.resource(REVISIONS).create(owner.metadata.namespace, cr);
  } catch (e) {
    if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
    const existing = await client.resource(REVISIONS).get(owner.metadata.namespace, revName);
    if (controllerUid(existing, kind) !== owner.metadata.uid) throw new Error(`controllerrevision ${revName} exists and is not this ${kind}'s`);
    return existing;
  }
}

/** revisionHistoryLimit (default 10): the oldest revisions not in `live` (by name) go */
export async function pruneRevisions(client: Client, owner: Obj, revisions: Obj[], live: Set<string | undefined>): Promise<void> {
  const limit = owner.spec?.revisionHistoryLimit ?? 10;
  const old = revisions.filter((r) => !live.has(r.metadata.name)).sort((a, b) => Number(a.revision) - Number(b.revision));
  for (const r of old.slice(0, Math.max(0, old.length - limit))) {
    try {
      await client.resource(REVISIONS).delete(r.metadata.namespace, r.metadata.name, { preconditions: { uid: r.metadata.uid } });
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
    }
  }
}
