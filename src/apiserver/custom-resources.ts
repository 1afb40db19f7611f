/**
 * The HTTP edge's side of CustomResourceDefinitions: the apiextensions.k8s.io group and every
 * group a CRD serves, in /apis, in /apis/GROUP[/VERSION] discovery and in the OpenAPI v2 and v3
 * documents (so `kubectl explain` finds custom kinds, and kubectl sees that they take
 * fieldValidation and no strategic merge patch). Requests for their objects go through the
 * server's ordinary dispatch with the ResourceInfo lookup() returns; what differs per kind sits
 * in its `custom` hooks (src/api/crd).
 */
import { apiResourceList, type ResourceInfo } from '../api/registry.js';
import { CRDS, CustomResources } from '../registry/custom-resources.js';
import type { GenericRegistry } from '../registry/generic.js';
import { openapiV2DocumentWith, openapiV3CustomDocument, openapiV3RootDocumentWith, swaggerToProtobuf, type RenderedDocument } from './openapi.js';
import { createHash } from 'node:crypto';

type Obj = Record<string, any>;

export class CustomResourceServing {
  readonly crs: CustomResources;
  private cache?: { generation: number; v3: Map<string, RenderedDocument>; root?: RenderedDocument; v2?: RenderedDocument; v2pb?: { body: Buffer; etag: string } };

  constructor(registry: GenericRegistry, log?: (line: string) => void) {
    this.crs = new CustomResources(registry, log);
    // admission webhooks with matchPolicy Equivalent look for a custom resource's other versions
    registry.customKinds = () => this.crs.kinds();
  }

  start(): Promise<void> {
    return this.crs.start();
  }

  stop(): void {
    this.crs.stop();
  }

  /** the kind served at /apis/GROUP/VERSION/RESOURCE by a CRD (or the CRD kind itself) */
  lookup(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.crs.lookup(group, version, resource);
  }

  /** the groups and versions served here: apiextensions.k8s.io first, then the CRDs' groups */
  groupVersions(): { name: string; versions: string[] }[] {
    return [{ name: CRDS.group, versions: [CRDS.version] }, ...this.crs.groups().map((g) => ({ name: g.name, versions: g.versions }))];
  }

  /** entries for /apis (APIGroupList.groups) */
  groupEntries(): Obj[] {
    return this.groupVersions().map((g) => {
      const versions = g.versions.map((version) => ({ groupVersion: `${g.name}/${version}`, version }));
      return { name: g.name, versions, preferredVersion: versions[0] };
    });
  }

  /** the served kinds of one group version */
  private kindsOf(group: string, version: string): ResourceInfo[] {
    if (group === CRDS.group) return version === CRDS.version ? [CRDS] : [];
    return this.crs.groups().find((g) => g.name === group)?.kinds.get(version) ?? [];
  }

  /**
   * The answer to GET /apis/GROUP or /apis/GROUP/VERSION for a group served here; undefined
   * when the group is not one of them; null when the version is unknown.
   */
  discovery(group: string, version: string | undefined): Obj | null | undefined {
    const g = this.groupVersions().find((x) => x.name === group);
    if (!g) return undefined;
    if (version === undefined) return { kind: 'APIGroup', apiVersion: 'v1', ...this.groupEntries().find((e) => e.name === group) };
    if (!g.versions.includes(version)) return null;
    return apiResourceList(`${group}/${version}`, this.kindsOf(group, version)) ?? { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources: [] };
  }

  /** whether a group (any version) is served here */
  servesGroup(group: string): boolean {
    return this.groupVersions().some((g) => g.name === group);
  }

  private documents() {
    if (!this.cache || this.cache.generation !== this.crs.generation) this.cache = { generation: this.crs.generation, v3: new Map() };
    return this.cache;
  }

  /** OpenAPI v3 of a custom group version (apis/GROUP/VERSION), or undefined */
  openapiV3(path: string): RenderedDocument | undefined {
    const m = /^apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (!m) return undefined;
    const kinds = this.kindsOf(m[1]!, m[2]!);
    if (!kinds.length) return undefined;
    const c = this.documents();
    let doc = c.v3.get(path);
    if (!doc) c.v3.set(path, (doc = openapiV3CustomDocument(path, kinds)));
    return doc;
  }

  /** GET /openapi/v3 with the custom group versions listed */
  openapiV3Root(): RenderedDocument {
    const c = this.documents();
    if (!c.root) {
      const extra = this.groupVersions().flatMap((g) => g.versions.map((v) => `apis/${g.name}/${v}`)).map((path) => ({ path, hash: this.openapiV3(path)!.hash }));
      c.root = openapiV3RootDocumentWith(extra);
    }
    return c.root;
  }

  private allKinds(): ResourceInfo[] {
    return [CRDS, ...this.crs.kinds()];
  }

  /** GET /openapi/v2 (JSON) with the custom kinds */
  openapiV2(): RenderedDocument {
    const c = this.documents();
    return (c.v2 ??= openapiV2DocumentWith(this.allKinds()));
  }

  /** GET /openapi/v2 as gnostic protobuf, which kubectl <= 1.27 asks for */
  openapiV2Protobuf(): { body: Buffer; etag: string } {
    const c = this.documents();
    if (!c.v2pb) {
      const body = swaggerToProtobuf(this.openapiV2().doc);
      c.v2pb = { body, etag: `"${createHash('sha512').update(body).digest('hex').toUpperCase()}"` };
    }
    return c.v2pb;
  }

  /** every served group version (core as ""), for the APIService list */
  static groupVersionsOf(builtIn: { name: string; versions: string[] }[], handlers: { name: string; versions: string[] }[], custom: CustomResourceServing): { group: string; version: string }[] {
    const out: { group: string; version: string }[] = [{ group: '', version: 'v1' }];
    for (const g of [...builtIn, ...handlers, ...custom.groupVersions()]) for (const v of g.versions) if (!out.some((x) => x.group === g.name && x.version === v)) out.push({ group: g.name, version: v });
    return out;
  }
}

