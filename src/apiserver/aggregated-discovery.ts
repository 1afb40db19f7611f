/**
 * Aggregated discovery (apidiscovery.k8s.io/v2, and v2beta1 for kubectl 1.26-1.29): one answer
 * on /api and one on /apis that list every group version with its resources, verbs, short
 * names, categories, scope and subresources, as kube-apiserver serves them since 1.26 (GA in
 * 1.30). A client asks for it with
 *
 *   Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, ...
 *
 * and gets the same URL's legacy answer (APIVersions, APIGroupList) otherwise. Without it a
 * kubectl with an empty cache fetched /api/v1 and every /apis/GROUP/VERSION, one request each.
 *
 * The documents are converted from the legacy resource lists the server already serves, as
 * kube-apiserver's installer does (ConvertGroupVersionIntoToDiscovery: "pods/status" becomes a
 * subresource of "pods"; group and version in responseKind only where the legacy entry has
 * them), so the two formats cannot disagree. The ETag is sha512 of the body, upper-case hex
 * (aggregated/etag.go).
 */
import { createHash } from 'node:crypto';

type Obj = Record<string, any>;

export const DISCOVERY_GROUP = 'apidiscovery.k8s.io';
export const DISCOVERY_KIND = 'APIGroupDiscoveryList';
export type DiscoveryVersion = 'v2' | 'v2beta1';
const VERSIONS: readonly DiscoveryVersion[] = ['v2', 'v2beta1'];

/** One entry of a legacy APIResourceList (`name` is "pods" or "pods/status"). */
export interface LegacyResource {
  name: string;
  singularName?: string;
  namespaced: boolean;
  kind?: string;
  group?: string;
  version?: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
}

/** A group as discovery lists it: its versions, the preferred first, each with its legacy resource list. */
export interface LegacyGroup {
  /** "" for the core group (/api) */
  name: string;
  versions: { version: string; resources: readonly LegacyResource[] }[];
}

export function aggregatedContentType(v: DiscoveryVersion): string {
  return `application/json;g=${DISCOVERY_GROUP};v=${v};as=${DISCOVERY_KIND}`;
}

interface AcceptClause {
  type: string;
  params: Map<string, string>;
  q: number;
}

function parseAccept(accept: string): AcceptClause[] {
  const out: AcceptClause[] = [];
  for (const part of accept.split(',')) {
    const [type = '', ...rest] = part.split(';').map((s) => s.trim());
    if (!type) continue;
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    params.delete('q');
    out.push({ type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 });
  }
  // the client's order among equal weights (Array.prototype.sort is stable)
  return out.filter((c) => c.q > 0).sort((a, b) => b.q - a.q);
}

/**
 * Which answer an Accept header asks /api and /apis for: an aggregated version, or undefined
 * for the legacy format. The first acceptable clause wins, as the apiserver's negotiation
 * with DiscoveryEndpointRestrictions: a JSON clause naming APIGroupDiscoveryList v2 or v2beta1
 * is aggregated; a plain JSON (or wildcard) clause is the legacy answer; others (protobuf,
 * an unknown version) are skipped.
 */
export function negotiateDiscovery(accept: string | undefined): DiscoveryVersion | undefined {
  if (!accept) return undefined;
  for (const c of parseAccept(accept)) {
    if (c.type !== 'application/json' && c.type !== 'application/*' && c.type !== '*/*') continue;
    const g = c.params.get('g');
    const v = c.params.get('v');
    const as = c.params.get('as');
    if (g === undefined && v === undefined && as === undefined) return undefined;
    if (g === DISCOVERY_GROUP && as === DISCOVERY_KIND && VERSIONS.includes(v as DiscoveryVersion)) return v as DiscoveryVersion;
  }
  return undefined;
}

function gvk(r: LegacyResource): Obj {
  return { group: r.group ?? '', version: r.version ?? '', kind: r.kind ?? '' };
}

/** One group version's legacy resources as APIResourceDiscovery entries (the installer's conversion). */
export function resourcesToDiscovery(list: readonly LegacyResource[]): Obj[] {
  const out: Obj[] = [];
  const parents = new Map<string, Obj>();
  for (const r of list) {
    if (r.name.includes('/')) continue;
    const entry: Obj = {
      resource: r.name,
      responseKind: gvk(r),
      scope: r.namespaced ? 'Namespaced' : 'Cluster',
      singularResource: r.singularName ?? '',
      verbs: r.verbs,
      ...(r.shortNames?.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories?.length ? { categories: r.categories } : {}),
    };
    out.push(entry);
    parents.set(r.name, entry);
  }
  for (const r of list) {
    const slash = r.name.indexOf('/');
    if (slash < 0) continue;
    const parentName = r.name.slice(0, slash);
    let parent = parents.get(parentName);
    if (!parent) {
      // a subresource without its parent gets an empty parent, as upstream (client-go 0.26.0-0.26.3 needs a responseKind)
      parent = { resource: parentName, responseKind: { group: '', version: '', kind: '' }, scope: r.namespaced ? 'Namespaced' : 'Cluster', singularResource: '', verbs: [] };
      out.push(parent);
      parents.set(parentName, parent);
    }
    (parent.subresources ??= []).push({ subresource: r.name.slice(slash + 1), responseKind: r.kind ? gvk(r) : { group: '', version: '', kind: '' }, verbs: r.verbs });
  }
  return out;
}

/** The APIGroupDiscoveryList of `groups` (one item per group, in the order given). */
export function aggregatedDiscovery(groups: readonly LegacyGroup[], v: DiscoveryVersion): Obj {
  return {
    kind: DISCOVERY_KIND,
    apiVersion: `${DISCOVERY_GROUP}/${v}`,
    metadata: {},
    items: groups.map((g) => ({
      metadata: g.name ? { name: g.name, creationTimestamp: null } : { creationTimestamp: null },
      versions: g.versions.map((x) => ({ version: x.version, resources: resourcesToDiscovery(x.resources), freshness: 'Current' })),
    })),
  };
}

export interface RenderedDiscovery {
  body: Buffer;
  /** quoted, as the ETag header carries it */
  etag: string;
  contentType: string;
}

/** The document as sent: JSON with kube's trailing newline, and its ETag. */
export function renderDiscovery(groups: readonly LegacyGroup[], v: DiscoveryVersion): RenderedDiscovery {
  const body = Buffer.from(JSON.stringify(aggregatedDiscovery(groups, v)) + '\n');
  return { body, etag: `"${createHash('sha512').update(body).digest('hex').toUpperCase()}"`, contentType: aggregatedContentType(v) };
}
