/**
 * The served resources: one entry per kind, the single source for discovery, routing, storage
 * keys, OpenAPI and table printing. Adding a kind starts here.
 */

export interface ResourceInfo {
  /** plural resource name, as in URLs: "pods" */
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  group: string;
  version: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** subresources served, e.g. ["status", "binding"] */
  subresources: string[];
  /** OpenAPI/schema definition name */
  typeName: string;
  /** how metadata.name is validated */
  nameRule: 'dns1123-subdomain' | 'dns1123-label';
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function core(
  resource: string,
  kind: string,
  singular: string,
  namespaced: boolean,
  extra: Partial<ResourceInfo> = {},
): ResourceInfo {
  return {
    resource,
    singular,
    kind,
    listKind: `${kind}List`,
    group: '',
    version: 'v1',
    namespaced,
    shortNames: [],
    categories: [],
    subresources: [],
    typeName: `io.k8s.api.core.v1.${kind}`,
    nameRule: 'dns1123-subdomain',
    ...extra,
  };
}

export const RESOURCES: ResourceInfo[] = [
  core('namespaces', 'Namespace', 'namespace', false, { shortNames: ['ns'], subresources: ['status', 'finalize'], nameRule: 'dns1123-label' }),
  core('pods', 'Pod', 'pod', true, { shortNames: ['po'], categories: ['all'], subresources: ['status', 'binding', 'log', 'exec'] }),
  core('configmaps', 'ConfigMap', 'configmap', true, { shortNames: ['cm'] }),
  core('secrets', 'Secret', 'secret', true),
  core('events', 'Event', 'event', true, { shortNames: ['ev'] }),
  core('nodes', 'Node', 'node', false, { shortNames: ['no'], subresources: ['status'] }),
];

const byResource = new Map(RESOURCES.map((r) => [r.resource, r]));
const byKind = new Map(RESOURCES.map((r) => [r.kind, r]));

export function resourceInfo(resource: string): ResourceInfo | undefined {
  return byResource.get(resource);
}

export function resourceForKind(kind: string): ResourceInfo | undefined {
  return byKind.get(kind);
}

export function apiVersionOf(r: ResourceInfo): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** Storage key: /registry/pods/default/nginx, /registry/nodes/vm; prefix for a list. */
export function storageKey(r: ResourceInfo, namespace: string | undefined, name?: string): string {
  const parts = ['', 'registry', r.group ? `${r.group}/${r.resource}` : r.resource];
  if (r.namespaced && namespace) parts.push(namespace);
  if (name !== undefined) parts.push(name);
  else parts.push('');
  return parts.join('/');
}

/** The APIResourceList for discovery (/api/v1). */
export function apiResourceList(groupVersion: string): object {
  const resources: object[] = [];
  for (const r of RESOURCES) {
    if (apiVersionOf(r) !== groupVersion) continue;
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    });
    for (const sub of r.subresources) {
      resources.push({
        name: `${r.resource}/${sub}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: sub === 'binding' ? 'Binding' : r.kind,
        verbs: sub === 'binding' ? ['create'] : sub === 'finalize' ? ['update'] : sub === 'log' ? ['get'] : sub === 'exec' ? ['create', 'get'] : ['get', 'patch', 'update'],
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}
