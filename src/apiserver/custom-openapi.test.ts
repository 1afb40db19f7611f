/**
 * OpenAPI for custom kinds: the v3 document of a CRD's group version (what `kubectl explain`
 * and kubectl's field-validation and patch-type checks read), and the v2 document with and
 * without them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { customTypeNames, schemas } from '../api/schema.js';
import { customKindFor, resourceInfoFor, typeSchemasFor } from '../api/crd/custom-kind.js';
import { openapiV2Document, openapiV2DocumentWith, openapiV3CustomDocument } from './openapi.js';

const crd: any = {
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [{ name: 'v1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', description: 'What it does.', properties: { size: { type: 'integer' }, ports: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', properties: { name: { type: 'string' } } } } } } } } } }],
  },
};

describe('OpenAPI of a custom kind', () => {
  const defs = typeSchemasFor(crd, 'v1');
  for (const [k, t] of Object.entries(defs)) {
    schemas[k] = t;
    customTypeNames.add(k);
  }
  const r = resourceInfoFor(crd, 'v1', customKindFor(crd, 'v1', () => false));

  it('v3: the kind with its GVK and fields, PATCH with fieldValidation and without strategic merge', () => {
    const doc = openapiV3CustomDocument('apis/example.com/v1', [r]).doc as any;
    const patch = doc.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}'].patch;
    assert.deepEqual(Object.keys(patch.requestBody.content).sort(), ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json']);
    assert.ok(patch.parameters.some((p: any) => p.name === 'fieldValidation'));
    const widget = doc.components.schemas['com.example.v1.Widget'];
    assert.deepEqual(widget['x-kubernetes-group-version-kind'], [{ group: 'example.com', kind: 'Widget', version: 'v1' }]);
    assert.equal(doc.components.schemas['com.example.v1.Widget.spec'].description, 'What it does.');
    assert.ok(doc.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'], 'metadata is ObjectMeta');
    assert.ok(doc.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status']);
  });

  it('v2: the process-lifetime document leaves custom kinds out; the per-request one has them', () => {
    assert.equal((openapiV2Document().doc as any).definitions['com.example.v1.Widget'], undefined);
    const withCustom = openapiV2DocumentWith([r]).doc as any;
    assert.ok(withCustom.definitions['com.example.v1.Widget']);
    assert.ok(withCustom.definitions['io.k8s.api.core.v1.Pod']);
    assert.ok(!withCustom.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}'].patch.consumes.includes('application/strategic-merge-patch+json'));
  });
});
