/**
 * Server-side apply and managedFields, driven by real kubectl (1.27 and 1.33) against an API-only
 * server: apply creates and configures, a field another manager owns is a conflict kubectl
 * explains (and --force-conflicts takes it), a field dropped from the file is pruned, client-side
 * apply moves to server-side apply and back, and managedFields are kept on every write.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PodbayServer, kubectlBinaries } from './harness.js';

function cm(name: string, data: Record<string, string>, labels: Record<string, string> = {}): string {
  const lines = [`apiVersion: v1`, `kind: ConfigMap`, `metadata:`, `  name: ${name}`];
  if (Object.keys(labels).length) lines.push('  labels:', ...Object.entries(labels).map(([k, v]) => `    ${k}: "${v}"`));
  lines.push('data:', ...Object.entries(data).map(([k, v]) => `  ${k}: "${v}"`));
  return lines.join('\n') + '\n';
}

for (const { name: kname, path: kubectl } of kubectlBinaries()) {
  describe(`server-side apply with ${kname}`, () => {
    let s: PodbayServer;
    before(async () => {
      s = await PodbayServer.start(['--no-kubelet']);
    });
    after(async () => {
      await s?.teardown();
    });
    const k = (args: string[], input?: string) => s.kubectl(kubectl, args, input);
    const managed = (kind: string, name: string) => JSON.parse(k(['get', kind, name, '-o', 'json', '--show-managed-fields']).stdout).metadata.managedFields;

    it('creates, configures, and records the applier as an Apply manager', () => {
      let r = k(['apply', '--server-side', '-f', '-'], cm('site', { title: 'hello', theme: 'dark' }));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /configmap\/site serverside-applied/);
      r = k(['apply', '--server-side', '-f', '-'], cm('site', { title: 'hello again', theme: 'dark' }));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(k(['get', 'cm', 'site', '-o', 'jsonpath={.data.title}']).stdout, 'hello again');
      const mf = managed('cm', 'site');
      assert.deepEqual(
        mf.map((e: any) => [e.manager, e.operation]),
        [['kubectl', 'Apply']],
      );
      assert.deepEqual(mf[0].fieldsV1, { 'f:data': { 'f:theme': {}, 'f:title': {} } });
      // kubectl hides them unless asked
      assert.doesNotMatch(k(['get', 'cm', 'site', '-o', 'yaml']).stdout, /managedFields/);
    });

    it('a field dropped from the file is removed; one another manager set is kept', () => {
      assert.equal(k(['label', 'cm', 'site', 'owner=ops']).code, 0);
      const r = k(['apply', '--server-side', '-f', '-'], cm('site', { title: 'hello again' }));
      assert.equal(r.code, 0, r.stderr);
      const got = JSON.parse(k(['get', 'cm', 'site', '-o', 'json']).stdout);
      assert.deepEqual(got.data, { title: 'hello again' });
      assert.equal(got.metadata.labels.owner, 'ops');
      const managers = managed('cm', 'site').map((e: any) => `${e.manager}/${e.operation}`);
      assert.deepEqual(managers.sort(), ['kubectl-label/Update', 'kubectl/Apply']);
    });

    it('changing a field another manager owns is a conflict kubectl explains; --force-conflicts takes it', () => {
      assert.equal(k(['create', 'configmap', 'db', '--from-literal=host=a']).code, 0);
      const r = k(['apply', '--server-side', '-f', '-'], cm('db', { host: 'b' }));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Apply failed with 1 conflict: conflict with "kubectl-create" using v1: \.data\.host/);
      assert.match(r.stderr, /--force-conflicts/);
      assert.equal(k(['get', 'cm', 'db', '-o', 'jsonpath={.data.host}']).stdout, 'a', 'nothing written');
      const f = k(['apply', '--server-side', '--force-conflicts', '-f', '-'], cm('db', { host: 'b' }));
      assert.equal(f.code, 0, f.stderr);
      assert.equal(k(['get', 'cm', 'db', '-o', 'jsonpath={.data.host}']).stdout, 'b');
      const mf = managed('cm', 'db');
      const create = mf.find((e: any) => e.manager === 'kubectl-create');
      assert.ok(!create || !JSON.stringify(create.fieldsV1).includes('f:host'), 'the forced field left kubectl-create');
    });

    it('client-side apply moves to server-side apply and back without conflicts', () => {
      let r = k(['apply', '-f', '-'], cm('csa', { a: '1' }, { app: 'web' }));
      assert.equal(r.code, 0, r.stderr);
      r = k(['apply', '--server-side', '-f', '-'], cm('csa', { a: '2' }, { app: 'web' }));
      assert.equal(r.code, 0, `client-side -> server-side: ${r.stderr}`);
      assert.equal(k(['get', 'cm', 'csa', '-o', 'jsonpath={.data.a}']).stdout, '2');
      r = k(['apply', '-f', '-'], cm('csa', { a: '3' }, { app: 'web' }));
      assert.equal(r.code, 0, `server-side -> client-side: ${r.stderr}`);
      assert.equal(k(['get', 'cm', 'csa', '-o', 'jsonpath={.data.a}']).stdout, '3');
    });

    it('a Pod applied server-side gets defaults stored and its containers owned by key', () => {
      const pod = ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', 'spec:', '  containers:', '  - name: nginx', '    image: nginx:1.27', ''].join('\n');
      const r = k(['apply', '--server-side', '-f', '-'], pod);
      assert.equal(r.code, 0, r.stderr);
      const got = JSON.parse(k(['get', 'pod', 'web', '-o', 'json', '--show-managed-fields']).stdout);
      assert.equal(got.spec.containers[0].terminationMessagePath, '/dev/termination-log', 'defaults applied');
      const apply = got.metadata.managedFields.find((e: any) => e.operation === 'Apply');
      assert.deepEqual(apply.fieldsV1['f:spec']['f:containers'], { 'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:name': {} } });
    });

    it('refuses what kube-apiserver refuses', async () => {
      const noManager = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/site', { body: cm('site', { x: 'y' }), contentType: 'application/apply-patch+yaml' });
      assert.equal(noManager.status, 422);
      assert.equal(noManager.json.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
      const forceOnMerge = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/site?force=true', { body: '{}', contentType: 'application/merge-patch+json' });
      assert.equal(forceOnMerge.status, 422);
      assert.match(forceOnMerge.json.message, /force: Forbidden: may not be specified for non-apply patch/);
      const withManaged = await s.request('PATCH', '/api/v1/namespaces/default/configmaps/site?fieldManager=x', {
        body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: site\n  managedFields: []\n',
        contentType: 'application/apply-patch+yaml',
      });
      assert.equal(withManaged.status, 400);
      assert.match(withManaged.json.message, /metadata.managedFields must be nil/);
    });
  });
}
