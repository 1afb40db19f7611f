/**
 * CertificateSigningRequests (pkg/registry/certificates/certificates/strategy.go): a create's
 * status is empty (no one creates an approved request); the main resource changes only
 * metadata; /status keeps the stored Approved and Denied conditions where the client sent as
 * many (adding or removing one is validation's 403-worded error), /approval writes only the
 * conditions; both fill a condition's missing lastUpdateTime and lastTransitionTime (the latter
 * kept from a stored condition of the same type and status).
 */
import type { Obj } from '../../api/types.js';
import { rfc3339 } from '../../api/time.js';
import type { Strategy } from './types.js';

const conditions = (o: Obj): Obj[] => (Array.isArray(o.status?.conditions) ? o.status.conditions : []);

/** preserveConditionInstances: the stored instances of `type`, when the client sent as many */
function preserveConditions(obj: Obj, old: Obj, type: string): void {
  const before = conditions(old).filter((c) => c?.type === type);
  const at = conditions(obj).flatMap((c, i) => (c?.type === type ? [i] : []));
  if (before.length !== at.length) return;
  at.forEach((i, k) => (obj.status.conditions[i] = structuredClone(before[k])));
}

/** populateConditionTimestamps */
function stampConditions(obj: Obj, old: Obj): void {
  const now = rfc3339();
  for (const c of conditions(obj)) {
    if (!c || typeof c !== 'object') continue;
    if (!c.lastUpdateTime) c.lastUpdateTime = now;
    if (!c.lastTransitionTime) {
      const same = conditions(old).find((o) => o?.type === c.type && o?.status === c.status && o?.lastTransitionTime);
      c.lastTransitionTime = same ? same.lastTransitionTime : now;
    }
  }
}

export const csrStrategy: Strategy = {
  prepareForCreate(obj) {
    obj.status = {};
  },
  prepareForUpdate(obj, old, part) {
    obj.spec = structuredClone(old.spec);
    if (part === 'status') {
      obj.status ??= {};
      preserveConditions(obj, old, 'Approved');
      preserveConditions(obj, old, 'Denied');
      stampConditions(obj, old);
    } else if (part === 'approval') {
      stampConditions(obj, old);
      const sent = obj.status?.conditions;
      obj.status = { ...structuredClone(old.status ?? {}) };
      if (sent === undefined) delete obj.status.conditions;
      else obj.status.conditions = sent;
    }
  },
};
