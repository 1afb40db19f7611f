/**
 * Server-side apply of a CustomResourceDefinition owns its spec field by field, as
 * apiextensions-apiserver's typed CRD does: Helm applying a chart's crds/ over the same CRD
 * someone created with kubectl shares the fields (no conflict on a whole `.spec` that
 * defaulting changed); a different value is a conflict naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CRDS } from './custom-resources.js';
import { apiError, memoryRegistry } from './registry.test-util.js';

const crd = (scope = 'Namespaced') => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'posts.blog.example.com' },
  spec: {
    group: 'blog.example.com',
    names: { kind: 'Post', plural: 'posts', shortNames: ['pst'] },
    scope,
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { title: { type: 'string' } } } } } } }],
  },
});

const owned = (o: any, manager: string) => JSON.stringify(o.metadata.managedFields.find((m: any) => m.manager === manager)?.fieldsV1 ?? null);

describe('server-side apply of a CRD', () => {
  it('repeating what another manager set shares the fields; the defaulted ones stay the creator\'s', async () => {
    const reg = await memoryRegistry();
    await reg.create(CRDS, undefined, crd(), { fieldManager: 'kubectl-client-side-apply' });
    const { object } = await reg.apply(CRDS, undefined, 'posts.blog.example.com', crd(), { fieldManager: 'helm', force: false });
    const creator = owned(object, 'kubectl-client-side-apply');
    const helm = owned(object, 'helm');
    for (const f of ['"f:group"', '"f:scope"', '"f:versions"', '"f:kind"', '"f:plural"', '"f:shortNames"']) {
      assert.ok(creator.includes(f), `the creator keeps ${f}: ${creator}`);
      assert.ok(helm.includes(f), `helm co-owns ${f}: ${helm}`);
    }
    // defaults the apply did not repeat are the creator's alone
    assert.match(creator, /"f:conversion":\{[^}]*"f:strategy"/);
    assert.match(creator, /"f:listKind"/);
    assert.doesNotMatch(helm, /f:conversion|f:listKind/);
  });

  it('changing a field another manager set is a conflict naming that field', async () => {
    const reg = await memoryRegistry();
    await reg.create(CRDS, undefined, crd(), { fieldManager: 'kubectl-client-side-apply' });
    const e = await apiError(reg.apply(CRDS, undefined, 'posts.blog.example.com', crd('Cluster'), { fieldManager: 'helm', force: false }));
    assert.equal(e.code, 409);
    assert.match(e.message, /conflict with "kubectl-client-side-apply".*\.spec\.scope/);
    assert.doesNotMatch(e.message, /\.spec:|\.spec$/m, 'not the whole spec');
  });
});
