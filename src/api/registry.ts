/**
 * The served resources: one entry per kind, the single source for discovery, routing, storage
 * keys, OpenAPI and table printing. Adding a kind starts here.
 */
import { createHash } from 'node:crypto';
import type { CustomKind } from './crd/types.js';

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
  nameRule: 'dns1123-subdomain' | 'dns1123-label' | 'dns1035-label';
  /**
   * the storage key's resource segment as kube-apiserver lays it out (/registry/<this>/NS/NAME):
   * the resource name, except where upstream kept an old one (replicationcontrollers ->
   * "controllers")
   */
  storageResource: string;
  /**
   * metadata.generation is kept: 1 on create, +1 on every change of spec (kinds whose
   * controllers report status.observedGeneration, and pods)
   */
  generation: boolean;
  /**
   * set for the kinds a CustomResourceDefinition defines (and the CRD kind itself): their
   * defaulting, validation and printing come from the definition (src/api/crd), not from
   * per-kind code
   */
  custom?: CustomKind;
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
    storageResource: resource,
    generation: false,
    ...extra,
  };
}

/** A kind of a named API group (apps/v1, batch/v1 ...). */
function grouped(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceInfo> = {},
): ResourceInfo {
  // io.k8s.api.apps.v1.Deployment, io.k8s.api.coordination.v1.Lease (the ".k8s.io" is dropped)
  const pkg = group.replace(/\.k8s\.io$/, '');
  return core(resource, kind, kind.toLowerCase(), namespaced, { group, version, typeName: `io.k8s.api.${pkg}.${version}.${kind}`, ...extra });
}

/** the workloads' shape: spec with a pod template, status and scale subresources, generation */
const WORKLOAD: Partial<ResourceInfo> = { categories: ['all'], subresources: ['status', 'scale'], generation: true };

export const RESOURCES: ResourceInfo[] = [
  core('namespaces', 'Namespace', 'namespace', false, { shortNames: ['ns'], subresources: ['status', 'finalize'], nameRule: 'dns1123-label' }),
  core('pods', 'Pod', 'pod', true, { shortNames: ['po'], categories: ['all'], subresources: ['status', 'binding', 'eviction', 'log', 'exec', 'ephemeralcontainers'], generation: true }),
  core('configmaps', 'ConfigMap', 'configmap', true, { shortNames: ['cm'] }),
  core('secrets', 'Secret', 'secret', true),
  core('events', 'Event', 'event', true, { shortNames: ['ev'] }),
  core('nodes', 'Node', 'node', false, { shortNames: ['no'], subresources: ['status'] }),
  core('replicationcontrollers', 'ReplicationController', 'replicationcontroller', true, { ...WORKLOAD, shortNames: ['rc'], storageResource: 'controllers' }),
  core('persistentvolumes', 'PersistentVolume', 'persistentvolume', false, { shortNames: ['pv'], subresources: ['status'] }),
  core('persistentvolumeclaims', 'PersistentVolumeClaim', 'persistentvolumeclaim', true, { shortNames: ['pvc'], subresources: ['status'] }),
  core('serviceaccounts', 'ServiceAccount', 'serviceaccount', true, { shortNames: ['sa'], subresources: ['token'] }),
  // kube-apiserver keeps services under /registry/services/specs (endpoints beside them)
  core('services', 'Service', 'service', true, { shortNames: ['svc'], categories: ['all'], subresources: ['status'], storageResource: 'services/specs', nameRule: 'dns1035-label' }),
  // Endpoints is its own plural (kind Endpoints, list EndpointsList), kept beside the services
  core('endpoints', 'Endpoints', 'endpoints', true, { shortNames: ['ep'], storageResource: 'services/endpoints' }),
  grouped('apps', 'v1', 'deployments', 'Deployment', true, { ...WORKLOAD, shortNames: ['deploy'] }),
  grouped('apps', 'v1', 'replicasets', 'ReplicaSet', true, { ...WORKLOAD, shortNames: ['rs'] }),
  grouped('apps', 'v1', 'statefulsets', 'StatefulSet', true, { ...WORKLOAD, shortNames: ['sts'] }),
  grouped('apps', 'v1', 'daemonsets', 'DaemonSet', true, { ...WORKLOAD, subresources: ['status'], shortNames: ['ds'] }),
  grouped('apps', 'v1', 'controllerrevisions', 'ControllerRevision', true),
  grouped('batch', 'v1', 'jobs', 'Job', true, { ...WORKLOAD, subresources: ['status'] }),
  grouped('batch', 'v1', 'cronjobs', 'CronJob', true, { ...WORKLOAD, subresources: ['status'], shortNames: ['cj'] }),
  // a node's client certificate is asked for here (src/controllers/csr-signing.ts approves and
  // signs); approval is kubectl certificate approve|deny's
  grouped('certificates.k8s.io', 'v1', 'certificatesigningrequests', 'CertificateSigningRequest', false, { shortNames: ['csr'], subresources: ['status', 'approval'] }),
  // spec changes bump metadata.generation (networkPolicyStrategy.PrepareForUpdate)
  grouped('networking.k8s.io', 'v1', 'ingressclasses', 'IngressClass', false),
  // spec changes bump metadata.generation (ingressStrategy.PrepareForUpdate); the controller writes status
  grouped('networking.k8s.io', 'v1', 'ingresses', 'Ingress', true, { shortNames: ['ing'], subresources: ['status'], generation: true }),
  grouped('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true, { shortNames: ['netpol'], generation: true }),
  grouped('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, { shortNames: ['pdb'], subresources: ['status'], generation: true }),
  // (named groups in kube-apiserver's order of /apis: apps, batch, certificates, networking, policy, rbac, storage, coordination)
  ...(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const).map((kind) =>
    grouped('rbac.authorization.k8s.io', 'v1', `${kind.toLowerCase()}s`, kind, !kind.startsWith('Cluster'), { typeName: `io.k8s.api.rbac.v1.${kind}` }),
  ),
  grouped('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false, { shortNames: ['sc'] }),
  // admission webhooks (src/registry/webhooks): kube-apiserver lists the group after storage
  grouped('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false, { categories: ['api-extensions'] }),
  grouped('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false, { categories: ['api-extensions'] }),
  grouped('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  grouped('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
];

/** The subresource `scale` answers with an autoscaling/v1 Scale. */
export const SCALE = { group: 'autoscaling', version: 'v1', kind: 'Scale', typeName: 'io.k8s.api.autoscaling.v1.Scale' };

const byResource = new Map(RESOURCES.map((r) => [`${r.group}/${r.version}/${r.resource}`, r]));
const byKind = new Map(RESOURCES.map((r) => [r.kind, r]));

/** the served resource `resource` of group/version (the core group v1 when not given) */
export function resourceInfo(resource: string, group = '', version = 'v1'): ResourceInfo | undefined {
  return byResource.get(`${group}/${version}/${resource}`);
}

export function resourceForKind(kind: string): ResourceInfo | undefined {
  return byKind.get(kind);
}

/** The named API groups served, in the order /apis lists them (the core group is /api). */
export function apiGroups(): { name: string; versions: string[] }[] {
  const out: { name: string; versions: string[] }[] = [];
  for (const r of RESOURCES) {
    if (!r.group) continue;
    let g = out.find((x) => x.name === r.group);
    if (!g) out.push((g = { name: r.group, versions: [] }));
    if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  return out;
}

/** An APIGroup as /apis lists it and /apis/GROUP answers (without kind/apiVersion). */
export function apiGroup(name: string): object | undefined {
  const g = apiGroups().find((x) => x.name === name);
  if (!g) return undefined;
  const versions = g.versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions, preferredVersion: versions[0] };
}

/**
 * discovery's storageVersionHash (k8s.io/apiserver/pkg/endpoints/discovery.StorageVersionHash):
 * the first 8 bytes of sha256("group/version/kind"), base64. Clients use it to notice a
 * change of storage version; podbay stores every kind at its only served version.
 */
export function storageVersionHash(r: ResourceInfo): string {
  return createHash('sha256').update(`${r.group}/${r.version}/${r.kind}`).digest().subarray(0, 8).toString('base64');
}

export function apiVersionOf(r: ResourceInfo): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** Storage key: /registry/pods/default/nginx, /registry/nodes/vm; prefix for a list. */
export function storageKey(r: ResourceInfo, namespace: string | undefined, name?: string): string {
  const parts = ['', 'registry', r.storageResource];
  if (r.namespaced && namespace) parts.push(namespace);
  if (name !== undefined) parts.push(name);
  else parts.push('');
  return parts.join('/');
}

/** verbs of a subresource, as kube-apiserver lists them in discovery */
function subresourceVerbs(sub: string): string[] {
  switch (sub) {
    case 'binding':
    case 'token':
    case 'eviction':
      return ['create'];
    case 'finalize':
      return ['update'];
    case 'log':
      return ['get'];
    case 'exec':
      return ['create', 'get'];
    default: // status, scale
      return ['get', 'patch', 'update'];
  }
}

/** The APIResourceList for discovery (/api/v1, /apis/apps/v1 ...), or undefined for an unknown one. */
export function apiResourceList(groupVersion: string, served: readonly ResourceInfo[] = RESOURCES): object | undefined {
  const resources: object[] = [];
  for (const r of served) {
    if (apiVersionOf(r) !== groupVersion) continue;
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
      storageVersionHash: storageVersionHash(r),
    });
    for (const sub of r.subresources) {
      resources.push({
        name: `${r.resource}/${sub}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(sub === 'scale' ? { group: SCALE.group, version: SCALE.version } : {}),
        ...(sub === 'token' ? { group: 'authentication.k8s.io', version: 'v1' } : {}),
        // kubectl drain finds eviction support by this entry's group and version (CheckEvictionSupport)
        ...(sub === 'eviction' ? { group: 'policy', version: 'v1' } : {}),
        kind: sub === 'binding' ? 'Binding' : sub === 'scale' ? SCALE.kind : sub === 'token' ? 'TokenRequest' : sub === 'eviction' ? 'Eviction' : r.kind,
        verbs: subresourceVerbs(sub),
      });
    }
  }
  if (!resources.length) return undefined;
  // kube-apiserver lists a group version's resources by name (a subresource after its parent)
  resources.sort((a, b) => ((a as { name: string }).name < (b as { name: string }).name ? -1 : 1));
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}
