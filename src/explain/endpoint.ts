/**
 * The API server's extension endpoint for explanations (the API server's route hook calls
 * this; it owns no HTTP itself):
 *
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

export const EXPLAIN_PREFIX = '/apis/podbay.io/';
const PATH_RE = /^\/apis\/podbay\.io\/v1alpha1\/namespaces\/([^/]+)\/podexplains\/([^/]+)$/;

export function explainPath(ns: string, name: string): string {
  return `/apis/podbay.io/v1alpha1/namespaces/${encodeURIComponent(ns)}/podexplains/${encodeURIComponent(name)}`;
}

export interface ExplainDeps {
  getPod(ns: string, name: string): Promise<Obj>;
  /** the node's explainer; absent on a server without a kubelet */
  explain?: (pod: Obj) => Promise<PodExplain>;
}

export async function serveExplain(method: string, path: string, accept: string, deps: ExplainDeps): Promise<{ contentType: string; body: string }> {
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
