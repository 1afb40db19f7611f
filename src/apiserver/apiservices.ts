/**
 * apiregistration.k8s.io/v1 APIService: the aggregation layer's view of what is served, as
 * kube-apiserver's autoregister controller lists it. Every served group version has a Local
 * APIService (no spec.service; Available, reason Local), the Metrics API included (podbay
 * serves it in-process). The list is derived from what is served, so it cannot be written:
 * creating an APIService that points at a Service (an extension API server) is refused with a
 * Forbidden naming why, since podbay does not proxy API groups to other servers.
 */
import { forbidden, methodNotAllowed, notFound, pathNotFound } from '../api/errors.js';
import { customTable } from '../api/crd/custom-kind.js';
import type { ApiGroupHandler, GroupRequest } from './api-groups.js';
import { queryBool } from './query.js';

type Obj = Record<string, any>;

export const APIREGISTRATION = 'apiregistration.k8s.io';

/** kube-apiserver's group priorities (pkg/controlplane/controller/crdregistration, aggregator) */
const PRIORITY: Record<string, [number, number]> = {
  '': [18000, 1],
  'events.k8s.io': [17750, 15],
  'authentication.k8s.io': [17700, 15],
  'authorization.k8s.io': [17600, 15],
  'autoscaling': [17500, 15],
  'batch': [17400, 15],
  'certificates.k8s.io': [17300, 15],
  'networking.k8s.io': [17200, 15],
  'policy': [17100, 15],
  'rbac.authorization.k8s.io': [17000, 15],
  'storage.k8s.io': [16800, 15],
  'apps': [17800, 15],
  'admissionregistration.k8s.io': [16700, 15],
  'apiextensions.k8s.io': [16700, 15],
  'coordination.k8s.io': [16500, 15],
  'discovery.k8s.io': [16200, 15],
  'metrics.k8s.io': [100, 100],
  'apiregistration.k8s.io': [18000, 15],
};

/** the APIService of a served group version */
export function apiServiceFor(group: string, version: string, created: string): Obj {
  // CRD groups get 1000 and 100 from the crd registration controller
  const [groupPriorityMinimum, versionPriority] = PRIORITY[group] ?? [1000, 100];
  return {
    kind: 'APIService',
    apiVersion: `${APIREGISTRATION}/v1`,
    metadata: { name: `${version}.${group}`, creationTimestamp: created, labels: { 'kube-aggregator.kubernetes.io/automanaged': 'onstart' } },
    spec: { ...(group ? { group } : {}), version, groupPriorityMinimum, versionPriority },
    status: {
      conditions: [{ type: 'Available', status: 'True', lastTransitionTime: created, reason: 'Local', message: 'Local APIServices are always available' }],
    },
  };
}

const COLUMNS = [
  { name: 'Service', type: 'string', jsonPath: '.spec.service', description: 'The reference to the service that hosts this API endpoint.' },
  { name: 'Available', type: 'string', jsonPath: '.status.conditions[?(@.type=="Available")].status', description: 'Whether this service is available.' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' },
];

/**
 * The group handler. `servedGroupVersions` lists every served group version (core as group
 * ""), `revision` the store's current revision (lists' resourceVersion).
 */
export function apiServicesGroup(servedGroupVersions: () => { group: string; version: string }[], revision: () => Promise<number>, started: string): ApiGroupHandler {
  const all = () => servedGroupVersions().map((gv) => apiServiceFor(gv.group, gv.version, started)).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const table = (items: Obj[], meta: Obj, r: GroupRequest) =>
    customTable(COLUMNS, items, meta, {
      include: (r.q.get('includeObject') as 'None' | 'Metadata' | 'Object' | null) ?? 'Metadata',
      typeMeta: { kind: 'APIService', apiVersion: `${APIREGISTRATION}/v1` },
      // the Service column prints NAMESPACE/NAME, or Local
      view: (i) => ({ ...i, spec: { ...i.spec, service: i.spec.service ? `${i.spec.service.namespace}/${i.spec.service.name}` : 'Local' } }),
    });
  const wantsTable = (r: GroupRequest) => /as=Table/.test(String(r.req.headers.accept ?? ''));
  return {
    name: APIREGISTRATION,
    versions: ['v1'],
    resources: () => [
      { name: 'apiservices', singularName: 'apiservice', namespaced: false, kind: 'APIService', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], categories: ['api-extensions'] },
      { name: 'apiservices/status', singularName: '', namespaced: false, kind: 'APIService', verbs: ['get', 'patch', 'update'] },
    ],
    async serve(r) {
      let seg = r.seg;
      const watchPath = seg[0] === 'watch';
      if (watchPath) seg = seg.slice(1);
      if (seg[0] !== 'apiservices' || seg.length > 3) throw pathNotFound(`the server could not find the requested resource (${r.method} /apis/${APIREGISTRATION}/v1/${r.seg.join('/')})`);
      const name = seg[1];
      const rv = String(await revision());
      if (name === undefined) {
        if (r.method === 'GET' && (watchPath || queryBool(r.q, 'watch'))) {
          r.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
          if (r.q.get('resourceVersion') === null || r.q.get('resourceVersion') === '0') {
            for (const o of all()) r.res.write(JSON.stringify({ type: 'ADDED', object: wantsTable(r) ? table([o], { resourceVersion: rv }, r) : { ...o, metadata: { ...o.metadata, resourceVersion: rv } } }) + '\n');
          }
          const t = Number(r.q.get('timeoutSeconds'));
          const timer = setTimeout(() => r.res.end(), (Number.isFinite(t) && t > 0 ? Math.min(t, 1800) : 1800) * 1000);
          r.res.on('close', () => clearTimeout(timer));
          return;
        }
        if (r.method === 'GET') {
          const items: Obj[] = all().map((o) => ({ ...o, metadata: { ...o.metadata, resourceVersion: rv } }));
          if (wantsTable(r)) return r.send(200, table(items, { resourceVersion: rv }, r));
          return r.send(200, { kind: 'APIServiceList', apiVersion: `${APIREGISTRATION}/v1`, metadata: { resourceVersion: rv }, items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest) });
        }
        if (r.method === 'POST') {
          const body = await r.readObject('APIService').catch(() => ({}) as Obj);
          refuse(body);
        }
        throw methodNotAllowed(`the server does not allow this method on the requested resource: ${r.method} apiservices: APIServices are derived from what podbay serves`);
      }
      const found = all().find((o) => o.metadata.name === name);
      if (r.method === 'GET') {
        if (!found) throw notFound('apiservices', name, APIREGISTRATION);
        const o = { ...found, metadata: { ...found.metadata, resourceVersion: rv } };
        return r.send(200, wantsTable(r) ? table([o], { resourceVersion: rv }, r) : o);
      }
      if (r.method === 'PUT' || r.method === 'PATCH') {
        const body = await r.readObject('APIService').catch(() => ({}) as Obj);
        if (!found) refuse({ ...body, metadata: { ...(body.metadata ?? {}), name } });
      }
      throw forbidden(`apiservices.${APIREGISTRATION} "${name}" is forbidden: podbay derives APIServices from the API groups it serves itself; they cannot be changed or deleted`);
    },
  };
}

function refuse(body: Obj): never {
  const name = typeof body.metadata?.name === 'string' ? body.metadata.name : '';
  const svc = body.spec?.service;
  const target = svc ? ` (spec.service ${svc.namespace ?? ''}/${svc.name ?? ''})` : '';
  throw forbidden(
    `apiservices.${APIREGISTRATION} "${name}" is forbidden: podbay does not support API aggregation to external servers${target}: ` +
      'extension API servers cannot be registered; serve custom kinds with a CustomResourceDefinition instead',
  );
}
