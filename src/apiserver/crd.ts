/**
 * apiextensions.k8s.io/v1 CustomResourceDefinitions, served empty: podbay has no custom
 * resources yet, but clients ask this list to tell "a kind this server lacks" from "a broken
 * server" (kubectl apply looks a kind it cannot map up here before it reports "no matches for
 * kind" for that one object and goes on with the rest of the file). So: list and watch answer
 * an empty collection, get answers 404 for every name, and create/update/delete are refused
 * with a message saying CRDs are not served yet.
 */
import { methodNotAllowed, notFound, pathNotFound } from '../api/errors.js';
import type { ApiGroupHandler, GroupRequest } from './api-groups.js';
import { queryBool } from './query.js';

const GROUP = 'apiextensions.k8s.io';
const RESOURCE = 'customresourcedefinitions';

function refuse(r: GroupRequest, name?: string): never {
  const what = name ? `${RESOURCE}.${GROUP} "${name}"` : `${RESOURCE}.${GROUP}`;
  throw methodNotAllowed(`podbay does not serve CustomResourceDefinitions yet: ${what} cannot be ${r.method === 'POST' ? 'created' : r.method === 'DELETE' ? 'deleted' : 'changed'} (${r.method}); only the built-in kinds are served`);
}

/** An empty watch: headers now, then nothing until the client goes or its timeout passes. */
function emptyWatch(r: GroupRequest): void {
  const t = Number(r.q.get('timeoutSeconds'));
  r.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  r.res.flushHeaders();
  const timer = setTimeout(() => r.res.end(), (Number.isFinite(t) && t > 0 ? Math.min(t, 1800) : 1800) * 1000);
  r.res.on('close', () => clearTimeout(timer));
}

export function crdGroup(currentRevision: () => Promise<number>): ApiGroupHandler {
  return {
    name: GROUP,
    versions: ['v1'],
    resources: () => [
      {
        name: RESOURCE,
        singularName: 'customresourcedefinition',
        namespaced: false,
        kind: 'CustomResourceDefinition',
        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
        shortNames: ['crd', 'crds'],
        categories: ['api-extensions'],
      },
    ],
    async serve(r) {
      let seg = r.seg;
      const watchPath = seg[0] === 'watch';
      if (watchPath) seg = seg.slice(1);
      if (seg[0] !== RESOURCE || seg.length > 3) throw pathNotFound(`the server could not find the requested resource (${r.method} /apis/${GROUP}/${r.version}/${r.seg.join('/')})`);
      const name = seg[1];
      if (name === undefined) {
        if (r.method === 'GET' && (watchPath || queryBool(r.q, 'watch'))) return emptyWatch(r);
        if (r.method === 'GET') {
          const rv = String(await currentRevision());
          return r.send(200, { kind: 'CustomResourceDefinitionList', apiVersion: `${GROUP}/v1`, metadata: { resourceVersion: rv }, items: [] });
        }
        if (r.method === 'DELETE') return r.send(200, { kind: 'CustomResourceDefinitionList', apiVersion: `${GROUP}/v1`, metadata: { resourceVersion: String(await currentRevision()) }, items: [] });
        if (r.method === 'POST') {
          const body = await r.readObject('CustomResourceDefinition');
          refuse(r, typeof body.metadata?.name === 'string' ? body.metadata.name : undefined);
        }
        refuse(r);
      }
      if (r.method === 'GET' && (watchPath || queryBool(r.q, 'watch'))) return emptyWatch(r);
      // no CRD exists: reading, changing or deleting one is "not found", as upstream answers
      if (seg[2] === undefined || seg[2] === 'status') {
        if (r.method === 'GET' || r.method === 'DELETE' || r.method === 'PATCH' || r.method === 'PUT') throw notFound(RESOURCE, name, GROUP);
      }
      refuse(r, name);
    },
  };
}
