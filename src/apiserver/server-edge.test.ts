/**
 * What a client sees of the API server's generic handlers, over HTTPS to an in-process server on
 * the memory store (no node): status codes, Statuses and the bodies kubectl decodes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { memoryRegistry } from '../registry/registry.test-util.js';
import { ensureCredentials } from './pki.js';
import { ApiServer } from './server.js';

type Obj = Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'podbay-edge-'));
let api: ApiServer;
let port = 0;
let token = '';

before(async () => {
  const creds = await ensureCredentials(dir, ['127.0.0.1']);
  token = creds.token;
  const reg = await memoryRegistry();
  await reg.bootstrapPolicy();
  api = new ApiServer(reg, { host: '127.0.0.1', port: 0, certPem: creds.certPem, keyPem: creds.keyPem, token });
  port = await api.listen();
});

after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** one request; the answer's status and JSON body */
function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ code: number; body: Obj }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        rejectUnauthorized: false,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'User-Agent': 'kubectl/v1.33.0 (linux/amd64) kubernetes/abc', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ code: res.statusCode!, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const TABLE = { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' };

describe('Tables with includeObject', () => {
  it('includeObject=Object: each row holds the whole object with its kind and apiVersion (kubectl --sort-by decodes them)', async () => {
    assert.equal((await call('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'a' }, data: { k: 'v' } })).code, 201);
    const list = await call('GET', '/api/v1/namespaces/default/configmaps?includeObject=Object', undefined, TABLE);
    assert.equal(list.body.kind, 'Table');
    const row = list.body.rows.find((r: Obj) => r.cells[0] === 'a');
    assert.equal(row.object.kind, 'ConfigMap');
    assert.equal(row.object.apiVersion, 'v1');
    assert.deepEqual(row.object.data, { k: 'v' });
    assert.deepEqual(Object.keys(row.object).slice(0, 2), ['kind', 'apiVersion']);
    // one object too
    const one = await call('GET', '/api/v1/namespaces/default/configmaps/a?includeObject=Object', undefined, TABLE);
    assert.equal(one.body.rows[0].object.kind, 'ConfigMap');
    // a group kind
    assert.equal((await call('POST', '/apis/apps/v1/namespaces/default/deployments', { metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } })).code, 201);
    const deps = await call('GET', '/apis/apps/v1/namespaces/default/deployments?includeObject=Object', undefined, TABLE);
    assert.equal(deps.body.rows[0].object.kind, 'Deployment');
    assert.equal(deps.body.rows[0].object.apiVersion, 'apps/v1');
  });

  it('includeObject=Metadata (the default): a PartialObjectMetadata; None: no object', async () => {
    const meta = await call('GET', '/api/v1/namespaces/default/configmaps', undefined, TABLE);
    const row = meta.body.rows.find((r: Obj) => r.cells[0] === 'a');
    assert.equal(row.object.kind, 'PartialObjectMetadata');
    assert.equal(row.object.apiVersion, 'meta.k8s.io/v1');
    assert.equal(row.object.metadata.name, 'a');
    assert.equal(row.object.data, undefined);
    const none = await call('GET', '/api/v1/namespaces/default/configmaps?includeObject=None', undefined, TABLE);
    assert.ok(none.body.rows.every((r: Obj) => r.object === undefined));
  });

  it('a custom kind and the CRDs themselves: rows carry their kind and apiVersion', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { replicas: { type: 'integer' } } }, status: { type: 'object', properties: { replicas: { type: 'integer' } } } } } },
            subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } },
          },
        ],
      },
    };
    assert.equal((await call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).code, 201);
    let made = 0;
    for (let i = 0; i < 100 && made !== 201; i++) {
      made = (await call('POST', '/apis/example.com/v1/namespaces/default/widgets', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { replicas: 1 } })).code;
      if (made !== 201) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(made, 201);
    const ws = await call('GET', '/apis/example.com/v1/namespaces/default/widgets?includeObject=Object', undefined, TABLE);
    assert.equal(ws.body.rows[0].object.kind, 'Widget');
    assert.equal(ws.body.rows[0].object.apiVersion, 'example.com/v1');
    assert.equal(ws.body.rows[0].object.spec.replicas, 1);
    const crds = await call('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions?includeObject=Object', undefined, TABLE);
    assert.equal(crds.body.rows[0].object.kind, 'CustomResourceDefinition');
    assert.equal(crds.body.rows[0].object.apiVersion, 'apiextensions.k8s.io/v1');
    const svcs = await call('GET', '/apis/apiregistration.k8s.io/v1/apiservices?includeObject=Object', undefined, TABLE);
    const v1 = svcs.body.rows.find((r: Obj) => r.cells[0] === 'v1.');
    assert.equal(v1.cells[1], 'Local');
    assert.equal(v1.object.kind, 'APIService');
    assert.equal(v1.object.spec.service, undefined);
  });
});

describe('the scale subresource', () => {
  it('a write through scale is the User-Agent\'s, recorded with subresource scale; another manager\'s apply conflicts with it by name', async () => {
    const merge = { 'Content-Type': 'application/merge-patch+json' };
    assert.equal((await call('PATCH', '/apis/apps/v1/namespaces/default/deployments/d/scale', { spec: { replicas: 3 } }, merge)).code, 200);
    const d = await call('GET', '/apis/apps/v1/namespaces/default/deployments/d');
    assert.equal(d.body.spec.replicas, 3);
    const entry = d.body.metadata.managedFields.find((m: Obj) => m.subresource === 'scale');
    assert.deepEqual({ ...entry, time: undefined }, { manager: 'kubectl', operation: 'Update', apiVersion: 'apps/v1', time: undefined, fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:replicas': {} } }, subresource: 'scale' });
    const apply = await call(
      'PATCH',
      '/apis/apps/v1/namespaces/default/deployments/d?fieldManager=helm',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { replicas: 5 } },
      { 'Content-Type': 'application/apply-patch+yaml' },
    );
    assert.equal(apply.code, 409);
    assert.match(apply.body.message, /conflict with "kubectl" with subresource "scale" using apps\/v1: \.spec\.replicas/);
    // a PUT of the Scale, by another client and to a custom kind
    const put = await call('PUT', '/apis/apps/v1/namespaces/default/deployments/d/scale', { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'd', namespace: 'default' }, spec: { replicas: 2 } }, { 'User-Agent': 'hpa/v1' });
    assert.equal(put.code, 200);
    const after = await call('GET', '/apis/apps/v1/namespaces/default/deployments/d');
    assert.equal(after.body.metadata.managedFields.find((m: Obj) => m.subresource === 'scale')?.manager, 'hpa');
    assert.equal((await call('PATCH', '/apis/example.com/v1/namespaces/default/widgets/w/scale', { spec: { replicas: 4 } }, merge)).code, 200);
    const w = await call('GET', '/apis/example.com/v1/namespaces/default/widgets/w');
    const we = w.body.metadata.managedFields.find((m: Obj) => m.subresource === 'scale');
    assert.equal(we.manager, 'kubectl');
    assert.equal(we.apiVersion, 'example.com/v1');
    assert.deepEqual(we.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
  });
});
