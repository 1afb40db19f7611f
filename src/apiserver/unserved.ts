/**
 * Kinds podbay does not serve yet, answered as empty collections instead of being absent.
 *
 * Clients look some kinds up before they do anything else, and stop when the server has never
 * heard of them: `apply --prune` maps every kind of
 * its default prune list (Services, Endpoints, Deployments, Jobs ...) before it sends a single
 * request, `kubectl cluster-info` lists Services. For those kinds the truth is "there are
 * none here": list and watch answer an empty collection, get/update/delete of a name is 404
 * with the name in its details, deletecollection deletes nothing, and create is refused with a
 * 405 saying podbay does not serve the kind yet. Discovery lists them with the verbs that are
 * answered (no create), so `kubectl api-resources` does not promise more.
 *
 * A kind the registry (src/api/registry.ts) serves is never stubbed: real kinds always win. A
 * stub of a group the registry serves too (as networking.k8s.io's Ingress once was beside NetworkPolicy)
 * is answered beside the registry's kinds, as the core group's stubs are (groupStubRoute), and
 * listed in that group version's discovery; the other groups' stubs get a handler per group.
 */
import { methodNotAllowed, notFound, pathNotFound } from '../api/errors.js';
import type { ApiGroupHandler, ApiResourceEntry, GroupRequest } from './api-groups.js';
import { decodePathSegment, queryBool } from './query.js';

type Obj = Record<string, any>;

export interface UnservedKind {
  group: string;
  version: string;
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
}

const k = (group: string, version: string, resource: string, kind: string, namespaced: boolean, shortNames?: string[], categories?: string[]): UnservedKind => ({
  group,
  version,
  resource,
  singular: kind.toLowerCase(),
  kind,
  namespaced,
  ...(shortNames ? { shortNames } : {}),
  ...(categories ? { categories } : {}),
});

/** kubectl's default prune list (apply --prune without an allowlist); CRDs are served (custom-resources.ts) */
export const UNSERVED_KINDS: UnservedKind[] = [
  k('', 'v1', 'services', 'Service', true, ['svc']),
  k('', 'v1', 'endpoints', 'Endpoints', true, ['ep']),
  k('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, ['pvc']),
  k('', 'v1', 'persistentvolumes', 'PersistentVolume', false, ['pv']),
  k('', 'v1', 'replicationcontrollers', 'ReplicationController', true, ['rc']),
  k('apps', 'v1', 'deployments', 'Deployment', true, ['deploy']),
  k('apps', 'v1', 'replicasets', 'ReplicaSet', true, ['rs']),
  k('apps', 'v1', 'statefulsets', 'StatefulSet', true, ['sts']),
  k('apps', 'v1', 'daemonsets', 'DaemonSet', true, ['ds']),
  k('batch', 'v1', 'jobs', 'Job', true),
  k('batch', 'v1', 'cronjobs', 'CronJob', true, ['cj']),
];

/** the verbs a stub answers truthfully */
const VERBS = ['delete', 'deletecollection', 'get', 'list', 'watch'];

export function discoveryEntry(u: UnservedKind): ApiResourceEntry {
  return {
    name: u.resource,
    singularName: u.singular,
    namespaced: u.namespaced,
    kind: u.kind,
    verbs: VERBS,
    ...(u.shortNames ? { shortNames: u.shortNames } : {}),
    ...(u.categories ? { categories: u.categories } : {}),
  };
}

/**
 * The stubs to serve through a group handler of their own: kinds the registry lacks, in groups
 * the registry does not serve at all (and the core group's, routed by coreStubRoute).
 * `served(group, resource)` says whether the registry has that resource; `groupServed(group)`
 * whether it has any resource in that (non-core) group.
 */
export function unservedKinds(served: (group: string, resource: string) => boolean, groupServed: (group: string) => boolean): UnservedKind[] {
  return UNSERVED_KINDS.filter((u) => !served(u.group, u.resource) && (u.group === '' || !groupServed(u.group)));
}

/** Stubs of kinds the registry lacks in (non-core) groups it serves: routed by groupStubRoute. */
export function stubsInServedGroups(served: (group: string, resource: string) => boolean, groupServed: (group: string) => boolean): UnservedKind[] {
  return UNSERVED_KINDS.filter((u) => u.group !== '' && groupServed(u.group) && !served(u.group, u.resource));
}

/** `/apis/GROUP/VERSION/...` of one of `kinds` (stubsInServedGroups), or undefined. */
export function groupStubRoute(path: string, kinds: UnservedKind[]): ReturnType<typeof stubRoute> {
  const [group, version, ...rest] = path.startsWith('/apis/') ? path.slice('/apis/'.length).split('/') : [];
  const members = kinds.filter((u) => u.group === group && u.version === version);
  return members.length ? stubRoute(rest.map(decodePathSegment), members) : undefined;
}

/** One request to a stub, after routing. */
export interface StubRequest {
  method: string;
  ns?: string;
  name?: string;
  sub?: string;
  watchPath: boolean;
  q: URLSearchParams;
  res: GroupRequest['res'];
  readObject(kind: string): Promise<Obj>;
  send(code: number, body: unknown): void;
}

function qualified(u: UnservedKind): string {
  return u.group ? `${u.resource}.${u.group}` : u.resource;
}

/** An empty watch: headers now, then nothing until the client goes or its timeout passes. */
function emptyWatch(r: StubRequest): void {
  const t = Number(r.q.get('timeoutSeconds'));
  r.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  r.res.flushHeaders();
  const timer = setTimeout(() => r.res.end(), (Number.isFinite(t) && t > 0 ? Math.min(t, 1800) : 1800) * 1000);
  r.res.on('close', () => clearTimeout(timer));
}

function refuse(u: UnservedKind, method: string, name?: string): never {
  const what = name ? `${qualified(u)} "${name}"` : qualified(u);
  const verb = method === 'POST' ? 'created' : 'changed';
  throw methodNotAllowed(`podbay does not serve ${u.kind} objects yet: ${what} cannot be ${verb}`);
}

export async function serveStub(u: UnservedKind, r: StubRequest, currentRevision: () => Promise<number>): Promise<void> {
  const apiVersion = u.group ? `${u.group}/${u.version}` : u.version;
  const emptyList = async () => ({ kind: `${u.kind}List`, apiVersion, metadata: { resourceVersion: String(await currentRevision()) }, items: [] });
  const watching = r.watchPath || (r.method === 'GET' && queryBool(r.q, 'watch'));
  if (r.name === undefined) {
    if (watching) return emptyWatch(r);
    if (r.method === 'GET' || r.method === 'DELETE') return r.send(200, await emptyList());
    if (r.method === 'POST') {
      // the name, when the body can be read (a protobuf body of a kind podbay has no table for cannot)
      const body = await r.readObject(u.kind).catch(() => ({}) as Obj);
      refuse(u, r.method, typeof body.metadata?.name === 'string' ? body.metadata.name : undefined);
    }
    refuse(u, r.method);
  }
  if (watching && r.sub === undefined) return emptyWatch(r);
  // nothing exists: reading, changing or deleting one is "not found", as upstream answers
  if (r.method === 'GET' || r.method === 'DELETE' || r.method === 'PATCH' || r.method === 'PUT') throw notFound(u.resource, r.name, u.group);
  refuse(u, r.method, r.name);
}

/**
 * `[watch/][namespaces/NS/]RESOURCE[/NAME[/SUB]]` (segments after /api/v1/ or
 * /apis/GROUP/VERSION/, decoded) for one of `kinds`, or undefined.
 */
export function stubRoute(seg: string[], kinds: UnservedKind[]): { u: UnservedKind; ns?: string; name?: string; sub?: string; watchPath: boolean } | undefined {
  let watchPath = false;
  if (seg[0] === 'watch') {
    watchPath = true;
    seg = seg.slice(1);
  }
  let ns: string | undefined;
  if (seg[0] === 'namespaces' && seg.length >= 3) {
    ns = seg[1];
    seg = seg.slice(2);
  }
  const u = kinds.find((x) => x.resource === seg[0]);
  if (!u || seg.length > 3 || seg[1] === '' || (ns !== undefined && !u.namespaced)) return undefined;
  return { u, ns, name: seg[1], sub: seg[2], watchPath };
}

/** The core (/api/v1) stubs' routing: undefined when the path is not one of theirs. */
export function coreStubRoute(path: string, kinds: UnservedKind[]): ReturnType<typeof stubRoute> {
  if (!path.startsWith('/api/v1/')) return undefined;
  return stubRoute(path.slice('/api/v1/'.length).split('/').map(decodePathSegment), kinds.filter((u) => u.group === ''));
}

/** One API group handler per non-core group of stubs. */
export function stubGroups(kinds: UnservedKind[], currentRevision: () => Promise<number>): ApiGroupHandler[] {
  const groups = new Map<string, UnservedKind[]>();
  for (const u of kinds) if (u.group) groups.set(u.group, [...(groups.get(u.group) ?? []), u]);
  return [...groups].map(([name, members]) => ({
    name,
    versions: [members[0]!.version],
    resources: () => members.map(discoveryEntry),
    async serve(r) {
      const route = stubRoute(r.seg, members);
      if (!route) throw pathNotFound(`the server could not find the requested resource (${r.method} /apis/${name}/${r.version}/${r.seg.join('/')})`);
      return serveStub(route.u, { ...route, method: r.method, q: r.q, res: r.res, readObject: r.readObject, send: r.send }, currentRevision);
    },
  }));
}
