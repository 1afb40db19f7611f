/**
 * API groups served by small handlers of their own, outside the stored resources of the
 * registry: the review APIs (authz-review.ts), the kinds not served yet, listed empty
 * (unserved.ts: apps, batch, networking) and the Metrics API
 * (metrics.ts). Each one declares its discovery (APIGroup and
 * APIResourceList per version) and answers the paths under /apis/GROUP/VERSION/; the server
 * lists them in /apis and hands them the request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { methodNotAllowed, pathNotFound } from '../api/errors.js';

type Obj = Record<string, any>;

/** One entry of an APIResourceList (discovery), as kubectl reads it. */
export interface ApiResourceEntry {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
}

/** What a group handler gets for one request. */
export interface GroupRequest {
  method: string;
  version: string;
  /** decoded path segments after /apis/GROUP/VERSION/ */
  seg: string[];
  q: URLSearchParams;
  req: IncomingMessage;
  res: ServerResponse;
  /** the request body as an object (JSON, YAML or, for the kinds protobuf.ts knows, protobuf) */
  readObject(kind: string): Promise<Obj>;
  /** writes a JSON answer (with the newline kube-apiserver ends objects with) */
  send(code: number, body: unknown): void;
}

export interface ApiGroupHandler {
  name: string;
  /** served versions, the preferred one first */
  versions: string[];
  resources(version: string): ApiResourceEntry[];
  serve(r: GroupRequest): Promise<void>;
}

/** The group's entry in /apis (an APIGroup without its kind, as in APIGroupList.groups). */
export function groupEntry(g: ApiGroupHandler): Obj {
  const versions = g.versions.map((version) => ({ groupVersion: `${g.name}/${version}`, version }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

/** GET /apis/GROUP/VERSION */
export function resourceList(g: ApiGroupHandler, version: string): Obj {
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${g.name}/${version}`, resources: g.resources(version) };
}

/** The handler for a path under /apis/, if one of `groups` owns it. */
export function groupOf(groups: readonly ApiGroupHandler[], path: string): ApiGroupHandler | undefined {
  const name = path.split('/')[2];
  return groups.find((g) => g.name === name);
}

/**
 * Discovery of the group itself (/apis/GROUP, /apis/GROUP/VERSION), or the handler's answer
 * for the paths below. `seg` is the path split on "/" after "/apis/", decoded.
 */
export async function serveGroup(g: ApiGroupHandler, seg: string[], base: Omit<GroupRequest, 'version' | 'seg'>): Promise<void> {
  const [, version, ...rest] = seg;
  const path = `/apis/${seg.join('/')}`;
  if (version === undefined || rest.length === 0) {
    if (base.method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${base.method} ${path}`);
    if (version === undefined) return base.send(200, { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(g) });
    if (!g.versions.includes(version)) throw pathNotFound(`the server could not find the requested resource (${base.method} ${path}): ${g.name} serves ${g.versions.join(', ')}`);
    return base.send(200, resourceList(g, version));
  }
  if (!g.versions.includes(version)) throw pathNotFound(`the server could not find the requested resource (${base.method} ${path}): ${g.name} serves ${g.versions.join(', ')}`);
  return g.serve({ ...base, version, seg: rest });
}
