import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, notFound } from '../api/errors.js';
import { explainPath, serveExplain } from './endpoint.js';
import { sampleExplain } from './sample.js';

const pod = { metadata: { name: 'duo', namespace: 'default', uid: 'u' }, spec: {} };
const deps = {
  getPod: async (ns: string, name: string) => {
    if (ns === 'default' && name === 'duo') return pod;
    throw notFound('pods', name);
  },
  explain: async () => sampleExplain(),
};

const fails = async (p: Promise<unknown>, code: number, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => e instanceof ApiError && e.code === code && re.test(e.message));
};

test('GET podexplains/NAME: JSON by default, SVG when asked', async () => {
  const path = explainPath('default', 'duo');
  assert.equal(path, '/apis/podbay.io/v1alpha1/namespaces/default/podexplains/duo');
  const json = await serveExplain('GET', path, 'application/json', deps);
  assert.equal(json.contentType, 'application/json');
  assert.equal(JSON.parse(json.body).kind, 'PodExplain');
  const svg = await serveExplain('GET', path, 'image/svg+xml', deps);
  assert.equal(svg.contentType, 'image/svg+xml');
  assert.match(svg.body, /^<svg /);
});

test('not found, other paths, other verbs, no kubelet', async () => {
  await fails(serveExplain('GET', explainPath('default', 'ghost'), '', deps), 404, /^pods "ghost" not found$/);
  await fails(serveExplain('GET', '/apis/podbay.io/v1alpha1/podexplains', '', deps), 404, /podexplains\/NAME/);
  await fails(serveExplain('DELETE', explainPath('default', 'duo'), '', deps), 405, /DELETE podexplains\.podbay\.io/);
  await fails(serveExplain('GET', explainPath('default', 'duo'), '', { getPod: deps.getPod }), 503, /runs no kubelet/);
});

test('discovery: the group and its one resource, get only, namespaced, in no category', async () => {
  const group = JSON.parse((await serveExplain('GET', '/apis/podbay.io', '', deps)).body);
  assert.deepEqual(group, {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: 'podbay.io',
    versions: [{ groupVersion: 'podbay.io/v1alpha1', version: 'v1alpha1' }],
    preferredVersion: { groupVersion: 'podbay.io/v1alpha1', version: 'v1alpha1' },
  });
  const list = await serveExplain('GET', '/apis/podbay.io/v1alpha1', '', deps);
  assert.equal(list.contentType, 'application/json');
  assert.deepEqual(JSON.parse(list.body), {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'podbay.io/v1alpha1',
    resources: [{ name: 'podexplains', singularName: 'podexplain', namespaced: true, kind: 'PodExplain', verbs: ['get'] }],
  });
  await fails(serveExplain('POST', '/apis/podbay.io/v1alpha1', '', deps), 405, /POST/);
  await fails(serveExplain('GET', '/apis/podbay.io/v1beta1', '', deps), 404, /podexplains\/NAME/);
  await fails(serveExplain('GET', '/apis/podbay.iox', '', deps), 404, /podexplains\/NAME/);
});
