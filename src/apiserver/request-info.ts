/**
 * What a request asks to do, as kube-apiserver's RequestInfoFactory reads it off the URL and
 * method: resource requests under /api/v1 and /apis/GROUP/VERSION (verb get/list/watch/create/
 * update/patch/delete/deletecollection, namespace, resource, subresource, name), everything
 * else a non-resource request (verb = the method, lowercased; path). The authorizer decides on it.
 */
import type { Attributes, UserInfo } from '../api/rbac.js';
import { decodePathSegment } from './query.js';

const METHOD_VERBS: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete', GET: 'get', HEAD: 'get' };

export function requestAttributes(user: UserInfo, method: string, path: string, q: URLSearchParams, upgrade = false): Attributes {
  const base: Attributes = { user, verb: (method || 'GET').toLowerCase(), isResourceRequest: false, path, namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' };
  const segs = path.split('/').filter((s) => s !== '');
  let parts: string[];
  let apiGroup = '';
  let apiVersion: string;
  if (segs[0] === 'api' && segs.length >= 3) {
    apiVersion = segs[1];
    parts = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    apiGroup = segs[1];
    apiVersion = segs[2];
    parts = segs.slice(3);
  } else {
    return base;
  }
  parts = parts.map(decodePathSegment); // a malformed escape is kube-apiserver's 400, not a 500
  let verb = METHOD_VERBS[method] ?? method.toLowerCase();
  if (parts[0] === 'watch') {
    verb = 'watch';
    parts = parts.slice(1);
  }
  let namespace = '';
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      namespace = parts[1];
      // namespaces/NS/RESOURCE...: a namespaced resource (not the namespace itself or its subresource)
      if (parts.length > 2 && !['status', 'finalize'].includes(parts[2])) parts = parts.slice(2);
    }
  }
  const [resource = '', name = '', subresource = ''] = parts;
  if (parts.length > 3) return { ...base, apiGroup, apiVersion };
  if (method === 'GET' || method === 'HEAD') {
    if (verb !== 'watch') {
      const watching = q.get('watch') === 'true' || q.get('watch') === '1';
      if (!name) verb = watching ? 'watch' : 'list';
      else if (watching) verb = 'watch';
    }
  }
  if (method === 'DELETE' && !name) verb = 'deletecollection';
  // exec, attach and portforward over an upgraded GET create a session (as a POST does)
  if (upgrade && ['exec', 'attach', 'portforward'].includes(subresource)) verb = 'create';
  let n = name;
  // a list or watch narrowed to one name by fieldSelector counts as a request on that name
  if ((verb === 'list' || verb === 'watch') && !n) {
    const m = /(?:^|,)metadata\.name==?([^,]+)(?:,|$)/.exec(q.get('fieldSelector') ?? '');
    if (m) n = m[1];
  }
  return { ...base, verb, isResourceRequest: true, namespace, apiGroup, apiVersion, resource, subresource, name: n };
}
