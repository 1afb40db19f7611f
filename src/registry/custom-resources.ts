/**
 * CustomResourceDefinitions and the custom kinds they define, as apiextensions-apiserver keeps
 * them beside kube-apiserver:
 *
 *   - CRDs are stored like any kind (the generic registry, with the CRD kind's own defaulting and
 *     validation from src/api/crd), under /registry/apiextensions.k8s.io/customresourcedefinitions.
 *   - A controller-like step (the naming and establishing controllers, the finalizer) follows
 *     every change of a CRD from the store's watch: it checks the names against the other CRDs of
 *     the group (NamesAccepted), serves the kind (Established), records storedVersions, and on
 *     deletion deletes every object of the kind before it lets the CRD go (the
 *     customresourcecleanup.apiextensions.k8s.io finalizer).
 *   - The served kinds are ResourceInfos with `custom` hooks; the HTTP edge routes to them
 *     through lookup() and lists them in discovery through groups().
 */
import type { ResourceInfo } from '../api/registry.js';
import { customTypeNames, schemas } from '../api/schema.js';
import type { TypeSchema } from '../api/schema-types.js';
import { compareKubeAwareVersions, customKindFor, resourceInfoFor, typeSchemasFor } from '../api/crd/custom-kind.js';
import { CRD_FINALIZER } from '../api/crd/validation.js';
import { CRDS } from '../api/crd/crd-kind.js';
import { ApiError } from '../api/errors.js';
import { rfc3339 } from '../api/time.js';
import type { Watcher } from '../store/types.js';
import type { GenericRegistry } from './generic.js';
import { byString } from '../api/order.js';

type Obj = Record<string, any>;

export { CRDS };

function condition(type: string, status: string, reason: string, message: string, old: Obj[] | undefined): Obj {
  const prev = (old ?? []).find((c) => c.type === type);
  const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : rfc3339(Date.now());
  return { type, status, lastTransitionTime, reason, message };
}

/** the names a CRD asks for, every one that must be unique in its group, with the naming controller's reason */
function namesOf(n: Obj): { resource: [string, string][]; kind: [string, string][] } {
  return {
    resource: [
      [n.plural, 'PluralConflict'],
      [n.singular, 'SingularConflict'],
      ...((n.shortNames ?? []) as string[]).map((x): [string, string] => [x, 'ShortNamesConflict']),
    ].filter(([x]) => Boolean(x)) as [string, string][],
    kind: ([[n.kind, 'KindConflict'], [n.listKind, 'ListKindConflict']] as [string, string][]).filter(([x]) => Boolean(x)),
  };
}

/** One served group: its versions (preferred first) and the kinds of each. */
export interface CustomGroup {
  name: string;
  versions: string[];
  kinds: Map<string, ResourceInfo[]>;
}

export class CustomResources {
  /** group/version/plural -> the served kind */
  private served = new Map<string, ResourceInfo>();
  private servedGroups: CustomGroup[] = [];
  private registered: string[] = [];
  private watcher?: Watcher;
  private chain: Promise<void> = Promise.resolve();
  private pending = false;
  private readonly terminating = new Set<string>();
  /** bumped on every change of what is served (OpenAPI and discovery caches key on it) */
  generation = 0;

  constructor(
    private readonly registry: GenericRegistry,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** the served kind at /apis/GROUP/VERSION/PLURAL, if a CRD defines one */
  lookup(group: string, version: string, resource: string): ResourceInfo | undefined {
    if (group === CRDS.group && version === CRDS.version && resource === CRDS.resource) return CRDS;
    return this.served.get(`${group}/${version}/${resource}`);
  }

  /** the groups CRDs serve, in the order of their CRDs' names */
  groups(): CustomGroup[] {
    return this.servedGroups;
  }

  /** every served custom kind (all versions) */
  kinds(): ResourceInfo[] {
    return [...this.served.values()];
  }

  /** the stored CRD of a served kind */
  private crds = new Map<string, Obj>();
  crdOf(r: ResourceInfo): Obj | undefined {
    return this.crds.get(`${r.resource}.${r.group}`);
  }

  /** start following the CRDs (served at once from what is stored) */
  async start(): Promise<void> {
    const list = await this.registry.list(CRDS, undefined);
    await this.resync();
    this.watcher = await this.registry.store.watch(`/registry/${CRDS.storageResource}/`, Number(list.metadata.resourceVersion), () => this.schedule());
  }

  stop(): void {
    this.watcher?.cancel();
    this.watcher = undefined;
  }

  /** a resync after the running one, coalescing bursts of events */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    this.chain = this.chain.then(async () => {
      this.pending = false;
      try {
        await this.resync();
      } catch (e) {
        this.log(`customresourcedefinitions: ${(e as Error)?.stack ?? e}`);
        setTimeout(() => this.schedule(), 1000);
      }
    });
  }

  /** wait until the events seen so far are handled (tests, and writes that must see their CRD) */
  async settled(): Promise<void> {
    await this.chain;
  }

  private async resync(): Promise<void> {
    const crds = (await this.registry.list(CRDS, undefined)).items;
    // naming: first come (oldest) keeps a contested name, as the naming controller decides
    crds.sort((a, b) => byString(String(a.metadata.creationTimestamp), String(b.metadata.creationTimestamp)) || byString(a.metadata.name, b.metadata.name));
    const taken = new Map<string, string>();
    const statuses = new Map<string, Obj>();
    for (const crd of crds) {
      const g = crd.spec.group;
      const n = namesOf(crd.spec.names);
      const other = (space: string, x: string) => taken.has(`${g}/${space}/${x}`) && taken.get(`${g}/${space}/${x}`) !== crd.metadata.name;
      const conflict = n.resource.find(([x]) => other('r', x)) ?? n.kind.find(([x]) => other('k', x));
      const old = crd.status ?? {};
      const conds: Obj[] = [];
      let accepted = old.acceptedNames?.kind ? old.acceptedNames : undefined;
      if (conflict) {
        conds.push(condition('NamesAccepted', 'False', conflict[1], `"${conflict[0]}" is already in use`, old.conditions));
      } else {
        accepted = { ...crd.spec.names };
        conds.push(condition('NamesAccepted', 'True', 'NoConflicts', 'no conflicts found', old.conditions));
      }
      if (accepted) {
        const an = namesOf(accepted);
        for (const [x] of an.resource) taken.set(`${g}/r/${x}`, crd.metadata.name);
        for (const [x] of an.kind) taken.set(`${g}/k/${x}`, crd.metadata.name);
      }
      const established = accepted !== undefined;
      conds.push(
        established
          ? condition('Established', 'True', 'InitialNamesAccepted', 'the initial names have been accepted', old.conditions)
          : condition('Established', 'False', 'NotAccepted', 'not all names are accepted', old.conditions),
      );
      if (crd.metadata.deletionTimestamp) {
        conds.push(condition('Terminating', 'True', 'InstanceDeletionInProgress', 'CustomResource deletion is in progress', old.conditions));
      }
      const storage = (crd.spec.versions ?? []).find((v: Obj) => v.storage)?.name;
      const storedVersions: string[] = [...(old.storedVersions ?? [])];
      if (storage && !storedVersions.includes(storage)) storedVersions.push(storage);
      statuses.set(crd.metadata.name, { conditions: conds, acceptedNames: accepted ?? { plural: '', kind: '' }, storedVersions });
    }

    // what is served: established CRDs (also while terminating, so their objects can go)
    const served = new Map<string, ResourceInfo>();
    const groups: CustomGroup[] = [];
    const byName = new Map<string, Obj>();
    for (const name of this.registered) {
      delete schemas[name];
      customTypeNames.delete(name);
    }
    this.registered = [];
    this.terminating.clear();
    for (const crd of crds) {
      const status = statuses.get(crd.metadata.name)!;
      if (!status.acceptedNames.kind) continue;
      const view = { ...crd, status: { ...crd.status, acceptedNames: status.acceptedNames } };
      byName.set(crd.metadata.name, view);
      if (crd.metadata.deletionTimestamp) this.terminating.add(crd.metadata.name);
      const versions = (crd.spec.versions as Obj[]).filter((v) => v.served).map((v) => v.name as string);
      let g = groups.find((x) => x.name === crd.spec.group);
      if (!g) groups.push((g = { name: crd.spec.group, versions: [], kinds: new Map() }));
      for (const v of sortVersions(versions)) {
        const custom = customKindFor(view, v, () => this.terminating.has(crd.metadata.name));
        const r = resourceInfoFor(view, v, custom);
        served.set(`${r.group}/${v}/${r.resource}`, r);
        if (!g.versions.includes(v)) g.versions.push(v);
        g.kinds.set(v, [...(g.kinds.get(v) ?? []), r]);
        const defs: Record<string, TypeSchema> = typeSchemasFor(view, v);
        for (const [k, t] of Object.entries(defs)) {
          schemas[k] = t;
          customTypeNames.add(k);
          this.registered.push(k);
        }
      }
    }
    for (const g of groups) g.versions = sortVersions(g.versions);
    this.served = served;
    this.servedGroups = groups;
    this.crds = byName;
    this.generation++;

    for (const crd of crds) {
      const status = statuses.get(crd.metadata.name)!;
      if (crd.metadata.deletionTimestamp) {
        await this.writeStatus(crd, status);
        await this.cleanup(crd);
        continue;
      }
      await this.writeStatus(crd, status);
    }
  }

  private async writeStatus(crd: Obj, status: Obj): Promise<void> {
    if (JSON.stringify(crd.status ?? {}) === JSON.stringify(status)) return;
    try {
      await this.registry.guaranteedUpdate(CRDS, undefined, crd.metadata.name, {}, (cur) => ({ ...cur, status }));
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
    }
  }

  /** the finalizer's work: every object of the kind goes, then the CRD does */
  private async cleanup(crd: Obj): Promise<void> {
    const name = crd.metadata.name;
    const r = [...this.served.values()].find((x) => `${x.resource}.${x.group}` === name);
    if (r) {
      const items = (await this.registry.list(r, undefined)).items;
      for (const item of items) {
        try {
          // the objects' own finalizers are not waited on: upstream's cleanup deletes and waits,
          // podbay removes them with the definition
          await this.registry.delete(r, item.metadata.namespace, item.metadata.name, {});
        } catch (e) {
          if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
        }
      }
      const left = (await this.registry.list(r, undefined)).items;
      if (left.length) {
        setTimeout(() => this.schedule(), 1000);
        return;
      }
    }
    const cur = await this.registry.tryGet(CRDS, undefined, name);
    if (!cur || !(cur.metadata.finalizers ?? []).includes(CRD_FINALIZER)) return;
    const next = { ...cur, metadata: { ...cur.metadata, finalizers: cur.metadata.finalizers.filter((f: string) => f !== CRD_FINALIZER) } };
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
    try {
      await this.registry.update(CRDS, undefined, name, next, {});
    } catch (e) {
      if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict'))) throw e;
      this.schedule();
    }
  }
}

/** the versions in Kubernetes' priority order, the order discovery lists them in; the first is preferred */
export function sortVersions(versions: string[]): string[] {
  return [...versions].sort(compareKubeAwareVersions);
}
