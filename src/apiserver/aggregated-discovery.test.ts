import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiResourceList } from '../api/registry.js';
import { aggregatedContentType, aggregatedDiscovery, negotiateDiscovery, renderDiscovery, resourcesToDiscovery, type LegacyGroup, type LegacyResource } from './aggregated-discovery.js';

// what client-go sends (discovery.AcceptV2 / AcceptV2Beta1 / AcceptV1)
const V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

test('negotiateDiscovery: the first acceptable clause decides, as kubectl 1.27 and 1.33 ask', () => {
  assert.equal(negotiateDiscovery(`${V2},${V2BETA1},application/json`), 'v2', 'kubectl 1.30+');
  assert.equal(negotiateDiscovery(`${V2BETA1},application/json`), 'v2beta1', 'kubectl 1.27');
  assert.equal(negotiateDiscovery('application/json'), undefined, 'a plain client gets the legacy format');
  assert.equal(negotiateDiscovery(undefined), undefined);
  assert.equal(negotiateDiscovery('*/*'), undefined);
  assert.equal(negotiateDiscovery(`application/json, ${V2}`), undefined, 'legacy first: legacy');
  assert.equal(negotiateDiscovery(`application/json;q=0.5, ${V2}`), 'v2', 'weights before order');
  assert.equal(negotiateDiscovery(`${V2};q=0, application/json`), undefined, 'q=0 is refused');
  // protobuf is not served here: skipped, the next clause answers
  assert.equal(negotiateDiscovery(`application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,${V2},application/json`), 'v2');
  assert.equal(negotiateDiscovery('application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json'), undefined, 'an unknown version falls through');
  assert.equal(negotiateDiscovery('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscovery'), undefined, 'not the list kind');
  assert.equal(negotiateDiscovery('application/json; g="apidiscovery.k8s.io"; v=v2; as=APIGroupDiscoveryList'), 'v2', 'spaces and quoted values');
});

test('resourcesToDiscovery turns a legacy list into resources with their subresources, as the installer does', () => {
  const list = (apiResourceList('v1') as { resources: LegacyResource[] }).resources;
  const out = resourcesToDiscovery(list);
  assert.ok(out.every((r) => !r.resource.includes('/')), 'subresources are not top-level');
  const pods = out.find((r) => r.resource === 'pods')!;
  assert.deepEqual(pods.responseKind, { group: '', version: '', kind: 'Pod' });
  assert.equal(pods.scope, 'Namespaced');
  assert.equal(pods.singularResource, 'pod');
  assert.deepEqual(pods.shortNames, ['po']);
  assert.deepEqual(pods.categories, ['all']);
  assert.ok(pods.verbs.includes('watch') && pods.verbs.includes('deletecollection'));
  const subs = new Map<string, any>(pods.subresources.map((s: any) => [s.subresource, s]));
  for (const s of ['status', 'log', 'exec', 'eviction', 'binding', 'ephemeralcontainers']) assert.ok(subs.has(s), `pods/${s}`);
  assert.deepEqual(subs.get('eviction').responseKind, { group: 'policy', version: 'v1', kind: 'Eviction' });
  assert.deepEqual(subs.get('status').verbs, ['get', 'patch', 'update']);
  const nodes = out.find((r) => r.resource === 'nodes')!;
  assert.equal(nodes.scope, 'Cluster');
  // every legacy entry is somewhere in the aggregated one, with the same verbs
  for (const r of list) {
    const [parent, sub] = r.name.split('/');
    const p = out.find((x) => x.resource === parent)!;
    const verbs = sub ? p.subresources.find((s: any) => s.subresource === sub).verbs : p.verbs;
    assert.deepEqual(verbs, r.verbs, r.name);
  }
});

test('resourcesToDiscovery: scale names autoscaling/v1, and a subresource without its parent gets an empty one', () => {
  const apps = (apiResourceList('apps/v1') as { resources: LegacyResource[] }).resources;
  const deployments = resourcesToDiscovery(apps).find((r) => r.resource === 'deployments')!;
  assert.deepEqual(deployments.subresources.find((s: any) => s.subresource === 'scale').responseKind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  assert.deepEqual(deployments.shortNames, ['deploy']);
  const orphan = resourcesToDiscovery([{ name: 'things/status', namespaced: true, kind: 'Thing', verbs: ['get'] }]);
  assert.deepEqual(orphan, [
    { resource: 'things', responseKind: { group: '', version: '', kind: '' }, scope: 'Namespaced', singularResource: '', verbs: [], subresources: [{ subresource: 'status', responseKind: { group: '', version: '', kind: 'Thing' }, verbs: ['get'] }] },
  ]);
});

const groups: LegacyGroup[] = [
  { name: 'apps', versions: [{ version: 'v1', resources: (apiResourceList('apps/v1') as { resources: LegacyResource[] }).resources }] },
  { name: 'example.com', versions: [{ version: 'v2', resources: [{ name: 'widgets', singularName: 'widget', namespaced: true, kind: 'Widget', verbs: ['get', 'list'] }] }, { version: 'v1', resources: [] }] },
];

test('aggregatedDiscovery: one item per group in order, versions preferred first, each Current', () => {
  const doc = aggregatedDiscovery(groups, 'v2');
  assert.equal(doc.kind, 'APIGroupDiscoveryList');
  assert.equal(doc.apiVersion, 'apidiscovery.k8s.io/v2');
  assert.deepEqual(doc.metadata, {});
  assert.deepEqual(
    doc.items.map((g: any) => [g.metadata.name, g.versions.map((v: any) => v.version)]),
    [
      ['apps', ['v1']],
      ['example.com', ['v2', 'v1']],
    ],
  );
  assert.ok(doc.items.flatMap((g: any) => g.versions).every((v: any) => v.freshness === 'Current'));
  assert.deepEqual(doc.items[1].versions[1].resources, []);
  assert.equal(aggregatedDiscovery(groups, 'v2beta1').apiVersion, 'apidiscovery.k8s.io/v2beta1');
  const core = aggregatedDiscovery([{ name: '', versions: [{ version: 'v1', resources: [] }] }], 'v2');
  assert.equal(core.items[0].metadata.name, undefined, 'the core group has no name');
});

test('renderDiscovery: the ETag is the body digest, so it moves exactly when what is served changes', () => {
  const a = renderDiscovery(groups, 'v2');
  assert.equal(a.contentType, aggregatedContentType('v2'));
  assert.match(a.etag, /^"[0-9A-F]{128}"$/);
  assert.ok(a.body.toString().endsWith('}\n'));
  assert.equal(renderDiscovery(structuredClone(groups), 'v2').etag, a.etag, 'same content, same ETag');
  assert.notEqual(renderDiscovery(groups, 'v2beta1').etag, a.etag, 'each version its own');
  const more = structuredClone(groups);
  more[1]!.versions[0]!.resources = [...more[1]!.versions[0]!.resources, { name: 'gadgets', singularName: 'gadget', namespaced: false, kind: 'Gadget', verbs: ['get'] }];
  assert.notEqual(renderDiscovery(more, 'v2').etag, a.etag, 'a new kind, a new ETag');
});
