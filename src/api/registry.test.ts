import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiGroup, apiGroups, apiResourceList, resourceInfo, storageKey, storageVersionHash } from './registry.js';
import { schemas } from './schema.js';

type Obj = Record<string, any>;

test('storage keys as kube-apiserver lays them out (no group in the key; RCs under "controllers")', () => {
  assert.equal(storageKey(resourceInfo('deployments', 'apps', 'v1')!, 'default', 'web'), '/registry/deployments/default/web');
  assert.equal(storageKey(resourceInfo('jobs', 'batch', 'v1')!, 'ns'), '/registry/jobs/ns/');
  assert.equal(storageKey(resourceInfo('replicationcontrollers')!, 'd', 'rc'), '/registry/controllers/d/rc');
  assert.equal(storageKey(resourceInfo('storageclasses', 'storage.k8s.io', 'v1')!, undefined, 'sc'), '/registry/storageclasses/sc');
  assert.equal(storageKey(resourceInfo('pods')!, 'd', 'p'), '/registry/pods/d/p');
});

test('lookups are per group: a core name is not found in apps, nor an apps name in core', () => {
  assert.equal(resourceInfo('deployments'), undefined);
  assert.equal(resourceInfo('pods', 'apps', 'v1'), undefined);
  assert.equal(resourceInfo('deployments', 'apps', 'v2'), undefined);
});

test('discovery: groups, preferred versions, resources with verbs, short names, categories, hashes, subresources', () => {
  assert.deepEqual(apiGroups().map((g) => g.name), ['apps', 'batch', 'certificates.k8s.io', 'networking.k8s.io', 'policy', 'rbac.authorization.k8s.io', 'storage.k8s.io', 'admissionregistration.k8s.io', 'coordination.k8s.io', 'discovery.k8s.io']);
  assert.deepEqual(apiGroup('apps'), { name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } });
  assert.equal(apiGroup('extensions'), undefined);
  const apps = apiResourceList('apps/v1') as Obj;
  const names = apps.resources.map((r: Obj) => r.name);
  assert.deepEqual(names, [...names].sort(), 'sorted by name, as kube-apiserver lists them');
  const deploy = apps.resources.find((r: Obj) => r.name === 'deployments');
  assert.deepEqual(deploy, {
    name: 'deployments',
    singularName: 'deployment',
    namespaced: true,
    kind: 'Deployment',
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['deploy'],
    categories: ['all'],
    storageVersionHash: '8aSe+NMegvE=',
  });
  assert.deepEqual(apps.resources.find((r: Obj) => r.name === 'deployments/scale'), { name: 'deployments/scale', singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
  assert.equal(apps.resources.find((r: Obj) => r.name === 'daemonsets/scale'), undefined, 'DaemonSets have no scale');
  assert.equal(storageVersionHash(resourceInfo('pods')!), 'xPOwRZ+Yhw8=');
  assert.equal(apiResourceList('apps/v2'), undefined);
});

test('every served kind has its schema with its group/version/kind', () => {
  for (const g of [...apiGroups(), { name: '', versions: ['v1'] }]) {
    const list = apiResourceList(g.name ? `${g.name}/${g.versions[0]}` : 'v1') as Obj;
    for (const r of list.resources as Obj[]) {
      if (r.name.includes('/')) continue;
      const info = resourceInfo(r.name, g.name, g.versions[0])!;
      assert.deepEqual(schemas[info.typeName]?.gvk, { group: g.name, version: g.versions[0], kind: info.kind }, info.typeName);
      assert.ok(schemas[`${info.typeName}List`], `${info.typeName}List`);
    }
  }
});
