/**
 * Field ownership: `metadata.managedFields` kept on every write, and server-side apply, as
 * kube-apiserver's field manager (k8s.io/apimachinery/pkg/util/managedfields) and
 * structured-merge-diff's merge.Updater do it.
 *
 *   update (create, PUT, JSON/merge/strategic PATCH): the fields the write added or changed
 *     move to its manager (operation Update, keyed by manager + apiVersion + subresource);
 *     fields it removed leave every manager.
 *   apply (PATCH application/apply-patch+yaml): the configuration is merged over the live object;
 *     fields it changes that another manager owns are conflicts (409) unless forced, when they
 *     move to the applier; fields the applier applied last time and no longer applies are
 *     removed unless someone else owns them; the applier then owns exactly what it applied.
 *
 * Fields nobody owns by choice (apiVersion, kind, name, uid, resourceVersion ...) are never
 * tracked, and the status of a kind with a status subresource is tracked only through it.
 */
import { ApiError, badRequest } from '../errors.js';
import { schemas } from '../schema.js';
import { FieldSet, pathString, fieldElement } from './fieldset.js';
import { compare, findDuplicate, merge, removeItems, shapeOfType, toFieldSet, withNamedFields, type Shape } from './typed.js';
import { rfc3339 } from '../../api/time.js';

type Obj = Record<string, any>;

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

export interface FieldManagerScope {
  /** schema type of the object, e.g. io.k8s.api.core.v1.Pod */
  typeName: string;
  /** apiVersion of the request, e.g. "v1" or "apps/v1" */
  apiVersion: string;
  /** "" for the main resource, "status" for pods/status ... */
  subresource?: string;
  /** whether the kind has a status subresource (then the main resource does not own status) */
  hasStatusSubresource: boolean;
  now?: () => Date;
}

/** Update managers beyond this many are folded into one, as kube-apiserver's capManagers does. */
export const MAX_UPDATE_MANAGERS = 10;
export const ANCIENT_CHANGES_MANAGER = 'ancient-changes';
export const BEFORE_FIRST_APPLY_MANAGER = 'before-first-apply';

interface Manager {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource: string;
  time?: string;
  set: FieldSet;
}

function idOf(m: Pick<Manager, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  // Apply managers are one per name whatever the version; Update managers one per version
  return m.operation === 'Apply' ? `A\0${m.manager}\0${m.subresource}` : `U\0${m.manager}\0${m.apiVersion}\0${m.subresource}`;
}

function rootShape(scope: FieldManagerScope): Shape {
  const t = schemas[scope.typeName];
  return t ? shapeOfType(t) : { t: 'atomic' };
}

const STRIPPED_META = ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink'];

/** The paths no manager owns for this scope (kube's stripMeta + the strategy's reset fields). */
function ignored(scope: FieldManagerScope): FieldSet {
  const s = FieldSet.of([fieldElement('apiVersion')], [fieldElement('kind')]);
  for (const m of STRIPPED_META) s.insert([fieldElement('metadata'), fieldElement(m)]);
  if (scope.subresource === 'status') {
    s.insert([fieldElement('spec')]);
    s.insert([fieldElement('metadata'), fieldElement('ownerReferences')]);
  } else if (scope.subresource === 'approval') {
    // csrApprovalStrategy.GetResetFields: spec and status.certificate
    s.insert([fieldElement('spec')]);
    s.insert([fieldElement('status'), fieldElement('certificate')]);
  } else if (scope.hasStatusSubresource) s.insert([fieldElement('status')]);
  return s;
}

/** `set` without ignored paths or anything below them */
function filterIgnored(set: FieldSet, ign: FieldSet): FieldSet {
  const out = new FieldSet();
  for (const m of set.members) if (!ign.members.has(m)) out.members.add(m);
  for (const [pe, c] of set.children) {
    if (ign.members.has(pe)) continue;
    const ic = ign.children.get(pe);
    const f = ic ? filterIgnored(c, ic) : c.clone();
    if (!f.empty()) out.children.set(pe, f);
  }
  return out;
}

function decode(entries: unknown): Map<string, Manager> | undefined {
  if (!Array.isArray(entries)) return undefined;
  const out = new Map<string, Manager>();
  for (const e of entries as ManagedFieldsEntry[]) {
    if (!e || typeof e !== 'object') return undefined;
    if (e.operation !== 'Apply' && e.operation !== 'Update') return undefined;
    if (!e.apiVersion) return undefined;
    if (e.fieldsType !== 'FieldsV1') return undefined;
    let set: FieldSet;
    try {
      set = FieldSet.fromFieldsV1(e.fieldsV1 ?? {});
    } catch {
      return undefined;
    }
    const m: Manager = { manager: e.manager ?? '', operation: e.operation, apiVersion: e.apiVersion, subresource: e.subresource ?? '', time: e.time, set };
    const id = idOf(m);
    const prev = out.get(id);
    if (prev) prev.set = prev.set.union(set);
    else out.set(id, m);
  }
  return out;
}

/** managedFields: [{}] asks for the field to be cleared (the documented way to reset ownership) */
function isResetRequest(entries: unknown): boolean {
  return Array.isArray(entries) && entries.length === 1 && entries[0] && typeof entries[0] === 'object' && Object.keys(entries[0]).length === 0;
}

function encode(managers: Map<string, Manager>): ManagedFieldsEntry[] {
  const list = [...managers.values()].filter((m) => !m.set.empty());
  list.sort((p, q) => {
    if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
    const pt = p.time ? Date.parse(p.time) : 0;
    const qt = q.time ? Date.parse(q.time) : 0;
    if (pt !== qt) return pt - qt;
    if (p.manager !== q.manager) return p.manager < q.manager ? -1 : 1;
    if (p.apiVersion !== q.apiVersion) return p.apiVersion < q.apiVersion ? -1 : 1;
    return p.subresource < q.subresource ? -1 : p.subresource > q.subresource ? 1 : 0;
  });
  return list.map((m) => {
    const e: ManagedFieldsEntry = { manager: m.manager, operation: m.operation, apiVersion: m.apiVersion };
    if (m.time) e.time = m.time;
    e.fieldsType = 'FieldsV1';
    e.fieldsV1 = m.set.toFieldsV1();
    if (m.subresource) e.subresource = m.subresource;
    return e;
  });
}


function withoutManagedFields(o: Obj | undefined): Obj {
  if (!o) return {};
  const c: Obj = { ...o, metadata: { ...(o.metadata ?? {}) } };
  delete c.metadata.managedFields;
  return c;
}

/** fold the oldest Update managers into one when there are too many */
function capManagers(managers: Map<string, Manager>): void {
  const updates = [...managers.entries()].filter(([, m]) => m.operation === 'Update' && m.manager !== ANCIENT_CHANGES_MANAGER);
  if (updates.length <= MAX_UPDATE_MANAGERS) return;
  updates.sort(([, a], [, b]) => (a.time ? Date.parse(a.time) : 0) - (b.time ? Date.parse(b.time) : 0));
  for (const [id, m] of updates.slice(0, updates.length - MAX_UPDATE_MANAGERS + 1)) {
    managers.delete(id);
    const ancient: Manager = { manager: ANCIENT_CHANGES_MANAGER, operation: 'Update', apiVersion: m.apiVersion, subresource: '', set: new FieldSet() };
    const aid = idOf(ancient);
    const prev = managers.get(aid) ?? ancient;
    prev.set = prev.set.union(m.set);
    managers.set(aid, prev);
  }
}

/** the others lose what changed; returns what they owned of it (the conflicts) */
function takeFrom(managers: Map<string, Manager>, selfId: string, changed: FieldSet): Map<string, FieldSet> {
  const conflicts = new Map<string, FieldSet>();
  for (const [id, m] of managers) {
    if (id === selfId) continue;
    const c = m.set.intersection(changed);
    if (!c.empty()) conflicts.set(id, c);
  }
  return conflicts;
}

function dropFrom(managers: Map<string, Manager>, selfId: string, take: Map<string, FieldSet>, removed: FieldSet): void {
  for (const [id, m] of managers) {
    if (id === selfId) continue;
    const c = take.get(id);
    let set = c ? m.set.difference(c) : m.set;
    if (!removed.empty()) set = set.difference(removed);
    m.set = set;
    if (m.set.empty()) managers.delete(id);
  }
}

/**
 * Record a non-apply write: returns `next` with its managedFields set. `live` is the stored
 * object (undefined on create). A client may edit managedFields itself; `[{}]` clears them.
 */
export function recordUpdate(scope: FieldManagerScope, live: Obj | undefined, next: Obj, managerName: string): Obj {
  const sent = next.metadata?.managedFields;
  const out = { ...next, metadata: { ...(next.metadata ?? {}) } };
  if (isResetRequest(sent)) {
    delete out.metadata.managedFields;
    return out;
  }
  let managers = sent !== undefined && Array.isArray(sent) && sent.length > 0 ? decode(sent) : undefined;
  if (!managers) managers = decode(live?.metadata?.managedFields) ?? new Map();
  const shape = rootShape(scope);
  const ign = ignored(scope);
  const cmp = compare(withoutManagedFields(live), withoutManagedFields(next), shape);
  const changed = filterIgnored(cmp.added.union(cmp.modified), ign);
  const removed = filterIgnored(cmp.removed, ign);
  const self: Manager = { manager: managerName, operation: 'Update', apiVersion: scope.apiVersion, subresource: scope.subresource ?? '', set: new FieldSet() };
  const selfId = idOf(self);
  dropFrom(managers, selfId, takeFrom(managers, selfId, changed), removed);
  const prev = managers.get(selfId);
  const set = (prev?.set ?? new FieldSet()).difference(removed).union(changed);
  const now = rfc3339((scope.now ?? (() => new Date()))().getTime());
  if (!set.empty()) {
    const time = prev && prev.set.equals(set) ? prev.time : now;
    managers.set(selfId, { ...self, set, time });
  } else managers.delete(selfId);
  capManagers(managers);
  const encoded = encode(managers);
  if (encoded.length > 0) out.metadata.managedFields = encoded;
  else delete out.metadata.managedFields;
  return out;
}

/** 409 Conflict worded as kube-apiserver's NewConflictError */
function conflictError(conflicts: Map<string, FieldSet>, managers: Map<string, Manager>): ApiError {
  const list: { manager: string; path: string }[] = [];
  for (const [id, set] of conflicts) {
    const m = managers.get(id)!;
    const who = printManager(m);
    for (const p of set.paths()) list.push({ manager: who, path: pathString(p) });
  }
  const causes = list.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${c.manager}`, field: c.path }));
  let message: string;
  if (list.length === 1) message = `Apply failed with 1 conflict: conflict with ${list[0].manager}: ${list[0].path}`;
  else {
    const by = new Map<string, string[]>();
    for (const c of list) by.set(c.manager, [...(by.get(c.manager) ?? []), c.path]);
    const lines: string[] = [];
    for (const who of [...by.keys()].sort()) {
      lines.push(`conflicts with ${who}:`);
      for (const p of by.get(who)!) lines.push(`- ${p}`);
    }
    message = `Apply failed with ${list.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, { causes });
}

function printManager(m: Manager): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s = `${s} with subresource ${JSON.stringify(m.subresource)}`;
  return m.operation === 'Update' ? `${s} using ${m.apiVersion}` : s;
}

/**
 * Server-side apply of `config` by `managerName` over `live` (undefined: the object is created).
 * Returns the object to store, with managedFields. Throws 409 on conflicts unless `force`.
 */
export function applyConfiguration(scope: FieldManagerScope, live: Obj | undefined, config: Obj, managerName: string, force: boolean): Obj {
  if (config.metadata?.managedFields !== undefined && config.metadata.managedFields !== null) {
    throw badRequest('metadata.managedFields must be nil');
  }
  const shape = rootShape(scope);
  const dup = findDuplicate(config, shape);
  if (dup) {
    throw new ApiError(422, 'Invalid', `failed to create typed patch object (${gvkText(config)}): .${dup.path}: duplicate entries for key ${dup.element.slice(2)}`);
  }
  const ign = ignored(scope);
  const liveBare = live ? withoutManagedFields(live) : undefined;
  let managers = decode(live?.metadata?.managedFields) ?? new Map<string, Manager>();
  if (live && managers.size === 0) {
    // an object written before anybody applied: its fields so far belong to one Update manager
    const bfa: Manager = { manager: BEFORE_FIRST_APPLY_MANAGER, operation: 'Update', apiVersion: scope.apiVersion, subresource: '', set: filterIgnored(toFieldSet(liveBare, shape), ign) };
    if (!bfa.set.empty()) managers.set(idOf(bfa), bfa);
  }
  managers = new Map([...managers].map(([k, v]) => [k, { ...v }]));
  const self: Manager = { manager: managerName, operation: 'Apply', apiVersion: scope.apiVersion, subresource: scope.subresource ?? '', set: new FieldSet() };
  const selfId = idOf(self);
  const lastSet = managers.get(selfId)?.set;
  const applied = filterIgnored(toFieldSet(config, shape), ign);
  let merged = merge(liveBare ?? {}, config, shape) as Obj;
  const prevTime = managers.get(selfId)?.time;
  managers.set(selfId, { ...self, set: applied, time: prevTime });
  if (lastSet && !lastSet.empty()) merged = prune(merged, managers, lastSet, shape);
  // conflicts: what the apply changes that others own
  const cmp = compare(liveBare ?? {}, merged, shape);
  const changed = filterIgnored(cmp.added.union(cmp.modified), ign);
  const removed = filterIgnored(cmp.removed, ign);
  const conflicts = takeFrom(managers, selfId, changed);
  if (conflicts.size > 0 && !force) {
    const remaining = withoutLastAppliedConflicts(conflicts, live, managerName, shape);
    if (remaining.size > 0) throw conflictError(remaining, managers);
  }
  dropFrom(managers, selfId, conflicts, removed);
  const mine = managers.get(selfId)!;
  const now = rfc3339((scope.now ?? (() => new Date()))().getTime());
  if (!lastSet || !lastSet.equals(applied) || !mine.time) mine.time = now;
  if (mine.set.empty()) managers.delete(selfId);
  capManagers(managers);
  updateLastApplied(merged, config, live, managerName);
  const encoded = encode(managers);
  merged.metadata = { ...(merged.metadata ?? {}) };
  if (encoded.length > 0) merged.metadata.managedFields = encoded;
  else delete merged.metadata.managedFields;
  return merged;
}

function gvkText(o: Obj): string {
  const av = String(o.apiVersion ?? '');
  const [g, v] = av.includes('/') ? av.split('/') : ['', av];
  return `${g}/${v}, Kind=${o.kind ?? ''}`;
}

/**
 * Prune: remove what the applier applied last time and no longer applies, unless another
 * manager (or the new configuration) owns it (merge.Updater.prune with one version).
 */
function prune(merged: Obj, managers: Map<string, Manager>, lastSet: FieldSet, shape: Shape): Obj {
  const last = withNamedFields(lastSet, shape);
  const pruned0 = removeItems(merged, last, shape);
  let owned = new FieldSet();
  for (const m of managers.values()) owned = owned.union(m.set);
  const mergedSet = withNamedFields(toFieldSet(merged, shape), shape);
  const pruned0Set = withNamedFields(toFieldSet(pruned0, shape), shape);
  const pruned1 = removeItems(merged, mergedSet.difference(pruned0Set.union(withNamedFields(owned, shape))), shape);
  const pruned1Set = withNamedFields(toFieldSet(pruned1, shape), shape);
  return removeItems(merged, mergedSet.difference(pruned1Set).intersection(last), shape) as Obj;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * `kubectl apply --server-side` over an object client-side apply manages: the fields of the
 * last-applied annotation that still hold their applied value are the user's own, so taking
 * them from client-side apply's manager is no conflict (kube-apiserver's lastAppliedManager,
 * for the kubectl manager only). Returns the conflicts that remain.
 */
function withoutLastAppliedConflicts(conflicts: Map<string, FieldSet>, live: Obj | undefined, managerName: string, shape: Shape): Map<string, FieldSet> {
  if (managerName !== 'kubectl') return conflicts;
  const text = live?.metadata?.annotations?.[LAST_APPLIED];
  if (typeof text !== 'string' || !text) return conflicts;
  let lastApplied: Obj;
  try {
    lastApplied = JSON.parse(text);
  } catch {
    return conflicts;
  }
  if (!lastApplied || typeof lastApplied !== 'object' || lastApplied.apiVersion !== live?.apiVersion) return conflicts;
  const cmp = compare(lastApplied, withoutManagedFields(live), shape);
  const allowed = toFieldSet(lastApplied, shape).difference(cmp.modified).difference(cmp.added).difference(cmp.removed);
  const out = new Map<string, FieldSet>();
  for (const [id, set] of conflicts) {
    const rest = set.difference(allowed);
    if (!rest.empty()) out.set(id, rest);
  }
  return out;
}

/**
 * An object that client-side apply manages keeps its last-applied annotation current when
 * `kubectl apply --server-side` takes over, so a later client-side apply diffs correctly
 * (kube-apiserver's lastAppliedUpdater, for the kubectl manager).
 */
function updateLastApplied(merged: Obj, config: Obj, live: Obj | undefined, managerName: string): void {
  if (managerName !== 'kubectl') return;
  if (!live?.metadata?.annotations?.[LAST_APPLIED]) return;
  const cfg = structuredClone(config);
  if (cfg.metadata?.annotations) {
    delete cfg.metadata.annotations[LAST_APPLIED];
    if (Object.keys(cfg.metadata.annotations).length === 0) delete cfg.metadata.annotations;
  }
  merged.metadata = { ...(merged.metadata ?? {}), annotations: { ...(merged.metadata?.annotations ?? {}), [LAST_APPLIED]: JSON.stringify(cfg) + '\n' } };
}
