/**
 * The API server's extension endpoint for explanations (the API server's route hook calls
 * this; it owns no HTTP itself):
 *
 *   GET /apis/podbay.io                 -> APIGroup (discovery)
 *   GET /apis/podbay.io/v1alpha1        -> APIResourceList: podexplains, namespaced, get only
 *   GET /apis/podbay.io/v1alpha1/namespaces/NS/podexplains/NAME
 *       Accept: application/json (default)  -> PodExplain
 *       Accept: image/svg+xml               -> the diagram (svg.ts)
 *
 * Authentication happened before (the same bearer token as every other path).
 */
import { ApiError, methodNotAllowed } from '../api/errors.js';
import { renderSvg } from './svg.js';
import type { PodExplain } from './types.js';

type Obj = Record<string, any>;

/** every path of the group, /apis/podbay.io itself included (others under it get a 404 there) */
export const EXPLAIN_PREFIX = '/apis/podbay.io';
const PATH_RE = /^\/apis\/podbay\.io\/v1alpha1\/namespaces\/([^/]+)\/podexplains\/([^/]+)$/;

const GROUP = 'podbay.io';
const VERSION = 'v1alpha1';
const GROUP_VERSION = { groupVersion: `${GROUP}/${VERSION}`, version: VERSION };

/**
 * The group as an entry of /apis (APIGroupList.groups): a legacy client reads it there, then
 * the group version's resource list (EXPLAIN_API_RESOURCES), so `kubectl api-resources` shows
 * podexplains; the aggregated /apis document (kubectl 1.27+) is built from the same two.
 */
export const EXPLAIN_API_GROUP = { name: GROUP, versions: [GROUP_VERSION], preferredVersion: GROUP_VERSION };

/** GET /apis/podbay.io/v1alpha1; no categories, so `kubectl get all` never lists it */
export const EXPLAIN_API_RESOURCES = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: GROUP_VERSION.groupVersion,
  resources: [{ name: 'podexplains', singularName: 'podexplain', namespaced: true, kind: 'PodExplain', verbs: ['get'] }],
};

export function explainPath(ns: string, name: string): string {
  return `/apis/podbay.io/v1alpha1/namespaces/${encodeURIComponent(ns)}/podexplains/${encodeURIComponent(name)}`;
}

export interface ExplainDeps {
  getPod(ns: string, name: string): Promise<Obj>;
  /** the node's explainer; absent on a server without a kubelet */
  explain?: (pod: Obj) => Promise<PodExplain>;
}

export async function serveExplain(method: string, path: string, accept: string, deps: ExplainDeps): Promise<{ contentType: string; body: string }> {
  const discovery = path === '/apis/podbay.io' ? { kind: 'APIGroup', apiVersion: 'v1', ...EXPLAIN_API_GROUP } : path === '/apis/podbay.io/v1alpha1' ? EXPLAIN_API_RESOURCES : undefined;
  if (discovery) {
    if (method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} ${path}`);
    return { contentType: 'application/json', body: JSON.stringify(discovery) };
  }
  const m = PATH_RE.exec(path);
  if (!m) {
    throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${method} ${path}): podbay.io serves v1alpha1/namespaces/NAMESPACE/podexplains/NAME`);
  }
  if (method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${method} podexplains.podbay.io`);
  const pod = await deps.getPod(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!));
  if (!deps.explain) {
    throw new ApiError(503, 'ServiceUnavailable', 'explain needs the node: this podbay server runs no kubelet (--no-kubelet), and running pods needs root on the node');
  }
  const data = await deps.explain(pod);
  if (/image\/svg\+xml/.test(accept)) return { contentType: 'image/svg+xml', body: renderSvg(data) };
  return { contentType: 'application/json', body: JSON.stringify(data) };
}
