import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  openapiETag,
  openapiV2,
  openapiV2Document,
  openapiV2Protobuf,
  openapiV3,
  openapiV3Document,
  openapiV3Root,
  swaggerToProtobuf,
} from './openapi.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const POD = 'io.k8s.api.core.v1.Pod';
const v2 = openapiV2() as Json;
const v3 = openapiV3('api/v1') as Json;

/** every "$ref" in `doc` */
function refs(doc: unknown, out: string[] = []): string[] {
  if (Array.isArray(doc)) doc.forEach((d) => refs(d, out));
  else if (doc && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('openapi v2', () => {
  it('is a Swagger 2.0 document with all definitions', () => {
    assert.equal(v2.swagger, '2.0');
    assert.equal(v2.info.title, 'Kubernetes');
    for (const n of [POD, 'io.k8s.api.core.v1.PodList', 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'io.k8s.apimachinery.pkg.apis.meta.v1.Status']) {
      assert.ok(v2.definitions[n], n);
    }
    for (const r of refs(v2)) assert.ok(v2.definitions[r.replace('#/definitions/', '')], r);
  });

  it('renders definitions like kube-openapi', () => {
    const pod = v2.definitions[POD];
    assert.deepEqual(pod['x-kubernetes-group-version-kind'], [{ group: '', kind: 'Pod', version: 'v1' }]);
    assert.equal(pod.type, 'object');
    assert.deepEqual(pod.properties.spec, { description: pod.properties.spec.description, $ref: '#/definitions/io.k8s.api.core.v1.PodSpec' });
    const containers = v2.definitions['io.k8s.api.core.v1.PodSpec'].properties.containers;
    assert.equal(containers.type, 'array');
    assert.deepEqual(containers.items, { $ref: '#/definitions/io.k8s.api.core.v1.Container' });
    assert.equal(containers['x-kubernetes-patch-merge-key'], 'name');
    assert.equal(containers['x-kubernetes-patch-strategy'], 'merge');
    assert.equal(containers['x-kubernetes-list-type'], 'map');
    assert.deepEqual(containers['x-kubernetes-list-map-keys'], ['name']);
    const port = v2.definitions['io.k8s.api.core.v1.ContainerPort'];
    assert.deepEqual(port.required, ['containerPort']);
    assert.deepEqual({ ...port.properties.containerPort, description: undefined }, { description: undefined, type: 'integer', format: 'int32' });
    assert.deepEqual(port.properties.protocol.enum, ['SCTP', 'TCP', 'UDP']);
    assert.deepEqual({ ...v2.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'], description: undefined }, { description: undefined, type: 'string', format: 'int-or-string' });
    assert.equal(v2.definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'].type, 'string');
    assert.equal(v2.definitions['io.k8s.apimachinery.pkg.apis.meta.v1.Time'].format, 'date-time');
    const limits = v2.definitions['io.k8s.api.core.v1.ResourceRequirements'].properties.limits;
    assert.deepEqual(limits.additionalProperties, { $ref: '#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity' });
    assert.deepEqual(v2.definitions['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.labels.additionalProperties, { type: 'string' });
  });

  it('has operations with GVKs and the fieldValidation parameter on writes', () => {
    const item = v2.paths['/api/v1/namespaces/{namespace}/pods/{name}'];
    assert.ok(item.get && item.put && item.patch && item.delete);
    assert.deepEqual(item.patch['x-kubernetes-group-version-kind'], { group: '', kind: 'Pod', version: 'v1' });
    assert.equal(item.patch['x-kubernetes-action'], 'patch');
    assert.ok(item.patch.consumes.includes('application/strategic-merge-patch+json'));
    for (const op of [item.put, item.patch, v2.paths['/api/v1/namespaces/{namespace}/pods'].post]) {
      const fv = op.parameters.find((p: Json) => p.name === 'fieldValidation');
      assert.deepEqual({ in: fv.in, type: fv.type }, { in: 'query', type: 'string' });
    }
    assert.ok(!item.get.parameters?.some((p: Json) => p.name === 'fieldValidation'));
    assert.ok(item.parameters.some((p: Json) => p.name === 'namespace' && p.in === 'path' && p.required));
    for (const p of ['/api/v1/nodes/{name}/status', '/api/v1/namespaces/{namespace}/pods/{name}/binding', '/api/v1/namespaces/{name}/finalize', '/api/v1/pods', '/api/v1/configmaps', '/api/v1/namespaces/{namespace}/secrets', '/api/v1/namespaces/{namespace}/events/{name}']) {
      assert.ok(v2.paths[p], p);
    }
    assert.equal(v2.paths['/api/v1/namespaces/{namespace}/pods/{name}/binding'].post['x-kubernetes-group-version-kind'].kind, 'Binding');
  });

  it('is cached', () => {
    assert.equal(openapiV2(), v2);
    const d = openapiV2Document();
    assert.equal(d.json, JSON.stringify(v2));
    assert.equal(d.body.toString(), d.json);
    assert.match(d.hash, /^[0-9A-F]{128}$/);
    assert.equal(d.etag, `"${d.hash}"`);
    assert.equal(openapiETag('v2'), d.etag);
  });
});

/** minimal protobuf reader: top-level (field, wire type, value) triples */
function pbFields(buf: Buffer): { field: number; value: Buffer | number }[] {
  const out: { field: number; value: Buffer | number }[] = [];
  let i = 0;
  const varint = (): number => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 0) out.push({ field: key >>> 3, value: varint() });
    else if (wire === 2) {
      const len = varint();
      out.push({ field: key >>> 3, value: buf.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

describe('openapi v2 protobuf', () => {
  it('encodes the document as gnostic openapi_v2.Document', () => {
    const { body, etag } = openapiV2Protobuf();
    assert.equal(OPENAPI_V2_PROTOBUF_CONTENT_TYPE, 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    assert.match(etag, /^"[0-9A-F]{128}"$/);
    const top = pbFields(body);
    assert.equal(String(top.find((f) => f.field === 1)!.value), '2.0');
    const definitions = pbFields(top.find((f) => f.field === 9)!.value as Buffer);
    const names = definitions.map((d) => String(pbFields(d.value as Buffer).find((f) => f.field === 1)!.value));
    assert.deepEqual(names, Object.keys(v2.definitions));
    const paths = pbFields(top.find((f) => f.field === 8)!.value as Buffer).filter((f) => f.field === 2);
    assert.equal(paths.length, Object.keys(v2.paths).length);
    // Pod: NamedSchema{name=1, value=2: Schema{... vendor_extension=31: NamedAny{name, Any{yaml=2}}}}
    const pod = pbFields(definitions[names.indexOf(POD)]!.value as Buffer).find((f) => f.field === 2)!.value as Buffer;
    const ext = pbFields(pod).filter((f) => f.field === 31).map((f) => pbFields(f.value as Buffer));
    const gvk = ext.find((e) => String(e[0]!.value) === 'x-kubernetes-group-version-kind')!;
    const yaml = String(pbFields(gvk[1]!.value as Buffer).find((f) => f.field === 2)!.value);
    assert.deepEqual(JSON.parse(yaml), [{ group: '', kind: 'Pod', version: 'v1' }]);
    assert.equal(openapiV2Protobuf(), openapiV2Protobuf());
    assert.deepEqual(swaggerToProtobuf(v2), body);
  });
});

describe('openapi v3', () => {
  it('lists the group-versions with hashed URLs', () => {
    const root = openapiV3Root() as Json;
    const url = root.paths['api/v1'].serverRelativeURL as string;
    assert.equal(url, `/openapi/v3/api/v1?hash=${openapiV3Document('api/v1')!.hash}`);
    assert.ok(root.paths.api && root.paths.apis);
    assert.equal(openapiV3('/openapi/v3/api/v1'), v3);
    assert.equal(openapiV3('apis/flowcontrol.apiserver.k8s.io/v1'), undefined);
    // the named groups: their own documents, listed in the root, with their kinds' GVKs
    assert.ok(root.paths['apis/apps/v1'] && root.paths['apis/batch/v1'] && root.paths['apis/coordination.k8s.io/v1']);
    const apps = openapiV3('apis/apps/v1') as Json;
    const deploy = apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'];
    assert.deepEqual(deploy.patch['x-kubernetes-group-version-kind'], { group: 'apps', kind: 'Deployment', version: 'v1' });
    assert.equal(deploy.patch.operationId, 'patchAppsV1NamespacedDeployment');
    assert.ok(deploy.patch.parameters.some((p: Json) => p.name === 'fieldValidation'));
    assert.deepEqual(apps.components.schemas['io.k8s.api.apps.v1.Deployment']['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
    const scale = apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'];
    assert.deepEqual(scale.get['x-kubernetes-group-version-kind'], { group: 'autoscaling', kind: 'Scale', version: 'v1' });
    assert.ok(apps.components.schemas['io.k8s.api.autoscaling.v1.Scale']);
    assert.equal(openapiETag('api/v1'), openapiV3Document('api/v1')!.etag);
    assert.ok(openapiETag('v3'));
  });

  it('is an OpenAPI 3.0 document whose refs resolve', () => {
    assert.equal(v3.openapi, '3.0.0');
    const s = v3.components.schemas as Json;
    for (const r of refs(v3)) assert.ok(s[r.replace('#/components/schemas/', '')], r);
    for (const p of ['api', 'apis']) {
      const d = openapiV3(p) as Json;
      for (const r of refs(d)) assert.ok(d.components.schemas[r.replace('#/components/schemas/', '')], r);
    }
  });

  it('renders schemas like kube-openapi v3', () => {
    const s = v3.components.schemas as Json;
    assert.deepEqual(s[POD]['x-kubernetes-group-version-kind'], [{ group: '', kind: 'Pod', version: 'v1' }]);
    assert.deepEqual(s[POD].properties.metadata.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }]);
    assert.match(s[POD].properties.metadata.description, /Standard object's metadata/);
    const containers = s['io.k8s.api.core.v1.PodSpec'].properties.containers;
    assert.deepEqual(containers.items, { allOf: [{ $ref: '#/components/schemas/io.k8s.api.core.v1.Container' }], default: {} });
    assert.equal(containers['x-kubernetes-patch-merge-key'], 'name');
    const ios = s['io.k8s.apimachinery.pkg.util.intstr.IntOrString'];
    assert.equal(ios['x-kubernetes-int-or-string'], true);
    assert.deepEqual(ios.anyOf, [{ type: 'integer' }, { type: 'string' }]);
    assert.equal(ios.type, undefined);
    assert.deepEqual(s['io.k8s.apimachinery.pkg.api.resource.Quantity'].oneOf, [{ type: 'string' }, { type: 'number' }]);
    assert.equal(s['io.k8s.api.core.v1.ContainerPort'].properties.containerPort.format, 'int32');
    assert.equal(s['io.k8s.api.core.v1.PodSpec'].properties.activeDeadlineSeconds.format, 'int64');
  });

  it('has operations with inline fieldValidation parameters and GVKs', () => {
    const item = v3.paths['/api/v1/namespaces/{namespace}/pods/{name}'];
    const fv = item.patch.parameters.find((p: Json) => p.name === 'fieldValidation');
    assert.deepEqual({ in: fv.in, schema: fv.schema }, { in: 'query', schema: { type: 'string', uniqueItems: true } });
    assert.deepEqual(item.patch['x-kubernetes-group-version-kind'], { group: '', kind: 'Pod', version: 'v1' });
    assert.ok(item.patch.requestBody.content['application/strategic-merge-patch+json']);
    assert.equal(item.get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/io.k8s.api.core.v1.Pod');
    assert.ok(v3.paths['/api/v1/namespaces/{namespace}/pods'].get['x-kubernetes-group-version-kind']);
    for (const r of ['nodes', 'namespaces']) assert.equal(v3.paths[`/api/v1/${r}`].get['x-kubernetes-action'], 'list');
  });
});
