import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';

import { fieldSchemaAt, patchMetaAt, refType, schemaFilePath, schemas, typeAt, typeFor } from './schema.js';
import type { FieldSchema } from './schema-types.js';

const CORE = 'io.k8s.api.core.v1.';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const POD = CORE + 'Pod';

describe('generated schema', () => {
  it('has the served kinds, their lists and the meta types', () => {
    for (const k of ['Namespace', 'Pod', 'ConfigMap', 'Secret', 'Event', 'Node']) {
      assert.ok(schemas[CORE + k], k);
      assert.ok(schemas[CORE + k + 'List'], k + 'List');
      assert.deepEqual(schemas[CORE + k].gvk, { group: '', version: 'v1', kind: k });
    }
    for (const n of ['ObjectMeta', 'ListMeta', 'Status', 'StatusDetails', 'StatusCause', 'OwnerReference', 'ManagedFieldsEntry', 'Time', 'MicroTime', 'DeleteOptions', 'Preconditions', 'WatchEvent', 'APIResource', 'APIResourceList']) {
      assert.ok(schemas[META + n], n);
    }
    for (const n of [CORE + 'Binding', CORE + 'ObjectReference', 'io.k8s.apimachinery.pkg.api.resource.Quantity', 'io.k8s.apimachinery.pkg.util.intstr.IntOrString']) {
      assert.ok(schemas[n], n);
    }
  });

  it('is closed: every ref names a definition', () => {
    const check = (f: FieldSchema, where: string): void => {
      if (f.ref) assert.ok(schemas[f.ref], `${where} -> ${f.ref}`);
      if (f.kind === 'array' || f.kind === 'map') {
        assert.ok(f.items, where);
        check(f.items!, where + '[]');
      }
    };
    for (const t of Object.values(schemas)) for (const [n, f] of Object.entries(t.fields)) check(f, `${t.name}.${n}`);
  });

  it('keeps descriptions, required fields and enums', () => {
    const c = schemas[CORE + 'Container'];
    assert.match(c.description, /single application container/);
    assert.ok(c.required.includes('name'));
    assert.match(c.fields.image.description ?? '', /Container image name/);
    const port = schemas[CORE + 'ContainerPort'];
    assert.deepEqual(port.required, ['containerPort']);
    assert.deepEqual(port.fields.protocol.enum, ['SCTP', 'TCP', 'UDP']);
    assert.match(port.fields.protocol.description ?? '', /Possible enum values:\n - `"SCTP"`/);
  });

  it('has apiVersion and kind as optional strings with the TypeMeta docs', () => {
    const pod = schemas[POD];
    assert.equal(pod.fields.apiVersion.kind, 'string');
    assert.equal(pod.fields.apiVersion.enum, undefined);
    assert.match(pod.fields.kind.description ?? '', /REST resource this object represents/);
    assert.ok(!pod.required.includes('apiVersion') && !pod.required.includes('kind'));
    assert.deepEqual(schemas[CORE + 'PodList'].required, ['items']);
  });

  it('takes integer formats from the validators', () => {
    assert.deepEqual(
      { kind: schemas[CORE + 'ContainerPort'].fields.containerPort.kind, format: schemas[CORE + 'ContainerPort'].fields.containerPort.format },
      { kind: 'integer', format: 'int32' },
    );
    assert.equal(schemas[CORE + 'PodSpec'].fields.activeDeadlineSeconds.format, 'int64');
    assert.equal(schemas[CORE + 'PodSpec'].fields.terminationGracePeriodSeconds.format, 'int64');
    assert.equal(schemas[CORE + 'PodSecurityContext'].fields.supplementalGroups.items?.format, 'int64');
    assert.equal(schemas[META + 'ObjectMeta'].fields.generation.format, 'int64');
    assert.equal(schemas[CORE + 'Secret'].fields.data.items?.format, 'byte');
    for (const t of Object.values(schemas)) {
      for (const [n, f] of Object.entries(t.fields)) {
        const leaf = f.kind === 'array' || f.kind === 'map' ? f.items! : f;
        if (leaf.kind === 'integer') assert.ok(leaf.format === 'int32' || leaf.format === 'int64', `${t.name}.${n}`);
      }
    }
  });

  it('maps special types to leaf kinds', () => {
    assert.equal(schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString'].kind, 'int-or-string');
    assert.equal(schemas['io.k8s.apimachinery.pkg.api.resource.Quantity'].kind, 'quantity');
    assert.match(schemas['io.k8s.apimachinery.pkg.api.resource.Quantity'].description, /fixed-point/);
    assert.equal(schemas[META + 'Time'].kind, 'time');
    const port = fieldSchemaAt(POD, ['spec', 'containers', 0, 'livenessProbe', 'httpGet', 'port']);
    assert.equal(port?.kind, 'int-or-string');
    assert.equal(port?.ref, 'io.k8s.apimachinery.pkg.util.intstr.IntOrString');
    assert.equal(fieldSchemaAt(POD, ['spec', 'containers', 0, 'resources', 'limits', 'cpu'])?.kind, 'quantity');
    assert.equal(fieldSchemaAt(POD, ['metadata', 'creationTimestamp'])?.format, 'date-time');
    assert.equal(fieldSchemaAt(CORE + 'Event', ['eventTime'])?.ref, META + 'MicroTime');
  });

  it('carries upstream patch metadata', () => {
    const containers = fieldSchemaAt(POD, ['spec', 'containers'])!;
    assert.deepEqual(
      { k: containers.patchMergeKey, s: containers.patchStrategy, t: containers.listType, m: containers.listMapKeys },
      { k: 'name', s: 'merge', t: 'map', m: ['name'] },
    );
    const ports = fieldSchemaAt(POD, ['spec', 'containers', 0, 'ports'])!;
    assert.deepEqual([ports.patchMergeKey, ports.patchStrategy, ports.listMapKeys], ['containerPort', 'merge', ['containerPort', 'protocol']]);
    assert.equal(fieldSchemaAt(POD, ['spec', 'containers', 0, 'env'])?.patchMergeKey, 'name');
    assert.equal(fieldSchemaAt(POD, ['spec', 'containers', 0, 'volumeMounts'])?.patchMergeKey, 'mountPath');
    assert.equal(fieldSchemaAt(POD, ['spec', 'initContainers'])?.patchMergeKey, 'name');
    assert.equal(fieldSchemaAt(POD, ['spec', 'ephemeralContainers'])?.patchMergeKey, 'name');
    assert.equal(fieldSchemaAt(POD, ['spec', 'ephemeralContainers', 0, 'ports'])?.patchMergeKey, 'containerPort');
    assert.deepEqual(patchMetaAt(POD, ['spec', 'volumes']), { patchMergeKey: 'name', patchStrategies: ['merge', 'retainKeys'], listType: 'map' });
    assert.equal(fieldSchemaAt(POD, ['spec', 'imagePullSecrets'])?.patchMergeKey, 'name');
    assert.equal(fieldSchemaAt(POD, ['spec', 'hostAliases'])?.patchMergeKey, 'ip');
    const tolerations = fieldSchemaAt(POD, ['spec', 'tolerations'])!;
    assert.deepEqual([tolerations.patchStrategy, tolerations.patchMergeKey, tolerations.listType], [undefined, undefined, 'atomic']);
    assert.equal(fieldSchemaAt(POD, ['status', 'conditions'])?.patchMergeKey, 'type');
    assert.equal(fieldSchemaAt(POD, ['status', 'containerStatuses'])?.patchStrategy, undefined);
    assert.deepEqual(patchMetaAt(POD, ['metadata', 'finalizers']), { patchMergeKey: undefined, patchStrategies: ['merge'], listType: 'set' });
    assert.equal(fieldSchemaAt(POD, ['metadata', 'ownerReferences'])?.patchMergeKey, 'uid');
    assert.equal(fieldSchemaAt(CORE + 'Node', ['status', 'addresses'])?.patchMergeKey, 'type');
    assert.equal(fieldSchemaAt(CORE + 'Node', ['status', 'conditions'])?.patchMergeKey, 'type');
    assert.equal(fieldSchemaAt(CORE + 'Namespace', ['status', 'conditions'])?.patchMergeKey, 'type');
  });

  it('is regenerated deterministically', () => {
    const file = schemaFilePath()!;
    const before = readFileSync(file, 'utf8');
    const root = dirname(dirname(dirname(file))).replace(/[/\\]src$/, '');
    execFileSync(process.execPath, [join(root, 'scripts', 'gen-schema.mjs')], { stdio: 'pipe' });
    assert.equal(readFileSync(file, 'utf8'), before);
  });
});

describe('lookups', () => {
  it('typeFor finds kinds by apiVersion', () => {
    assert.equal(typeFor('Pod')?.name, POD);
    assert.equal(typeFor('PodList', 'v1')?.name, POD + 'List');
    assert.equal(typeFor('Status')?.name, META + 'Status');
    assert.equal(typeFor('Pod', 'apps/v1'), undefined);
    assert.equal(typeFor('Deployment'), undefined);
  });

  it('fieldSchemaAt walks fields, list elements and map values', () => {
    assert.equal(fieldSchemaAt(POD, ['spec', 'containers', 0])?.ref, CORE + 'Container');
    assert.equal(fieldSchemaAt(POD, ['spec', 'containers', '3', 'name'])?.kind, 'string');
    assert.equal(fieldSchemaAt(POD, ['metadata', 'labels', 'app'])?.kind, 'string');
    assert.equal(fieldSchemaAt(POD, ['spec', 'nope']), undefined);
    assert.equal(fieldSchemaAt(POD, ['metadata', 'name', 'x']), undefined);
    assert.equal(fieldSchemaAt('io.k8s.nope', ['x']), undefined);
    assert.equal(fieldSchemaAt(POD, []), undefined);
  });

  it('typeAt and refType resolve object definitions', () => {
    assert.equal(typeAt(POD, [])?.name, POD);
    assert.equal(typeAt(POD, ['spec', 'volumes', 0, 'configMap'])?.name, CORE + 'ConfigMapVolumeSource');
    assert.equal(typeAt(POD, ['metadata', 'labels']), undefined);
    assert.equal(refType(fieldSchemaAt(POD, ['spec']))?.name, CORE + 'PodSpec');
  });
});
