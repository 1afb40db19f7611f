import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldSet, pathString, keyElement } from './fieldset.js';
import { toFieldSet, shapeOfType, merge, compare } from './typed.js';
import { applyConfiguration, recordUpdate, type FieldManagerScope } from './managed-fields.js';
import { schemas } from '../schema.js';
import { ApiError } from '../errors.js';

const POD = 'io.k8s.api.core.v1.Pod';
const podShape = shapeOfType(schemas[POD]);
const clock = (iso: string) => () => new Date(iso);
const podScope = (now = '2026-11-29T10:00:00Z'): FieldManagerScope => ({ typeName: POD, apiVersion: 'v1', hasStatusSubresource: true, now: clock(now) });
const cmScope: FieldManagerScope = { typeName: 'io.k8s.api.core.v1.ConfigMap', apiVersion: 'v1', hasStatusSubresource: false, now: clock('2026-11-29T10:00:00Z') };

function pod(image = 'nginx', extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: { containers: [{ name: 'nginx', image, ...extra }] },
  };
}

test('fieldsV1 round-trips, with "." where a path is both a member and a parent', () => {
  const json = { 'f:data': { '.': {}, 'f:a': {} }, 'f:metadata': { 'f:labels': { 'f:x': {} } } };
  const s = FieldSet.fromFieldsV1(json);
  assert.deepEqual(s.toFieldsV1(), json);
  assert.ok(s.has(['f:data']));
  assert.ok(s.has(['f:data', 'f:a']));
  assert.ok(!s.has(['f:metadata']));
  assert.throws(() => FieldSet.fromFieldsV1({ 'x:bad': {} }), /unknown path element/);
});

test('paths print as fieldpath prints them in conflict messages', () => {
  assert.equal(pathString(['f:spec', 'f:containers', keyElement({ name: 'nginx' }), 'f:image']), '.spec.containers[name="nginx"].image');
  assert.equal(pathString(['f:spec', 'f:containers', keyElement({ name: 'a' }), 'f:ports', keyElement({ protocol: 'TCP', containerPort: 80 })]), '.spec.containers[name="a"].ports[containerPort=80,protocol="TCP"]');
  assert.equal(pathString(['f:metadata', 'f:finalizers', 'v:"x"']), '.metadata.finalizers[="x"]');
});

test('ToFieldSet: leaves, list items by key, atomic lists whole, map entries', () => {
  const s = toFieldSet({ ...pod('nginx', { command: ['sh', '-c'], ports: [{ containerPort: 80 }] }) }, podShape);
  const v1 = s.toFieldsV1() as any;
  const c = v1['f:spec']['f:containers']['k:{"name":"nginx"}'];
  assert.deepEqual(Object.keys(c).sort(), ['.', 'f:command', 'f:image', 'f:name', 'f:ports']);
  assert.deepEqual(c['f:command'], {}, 'an atomic list is one field');
  assert.ok(c['f:ports']['k:{"containerPort":80,"protocol":"TCP"}'], 'the default protocol completes the key');
  assert.deepEqual(v1['f:metadata']['f:labels'], { 'f:app': {} });
});

test('Merge: associative lists merge by key, atomic lists are replaced, order follows the configuration', () => {
  const live = { spec: { containers: [{ name: 'a', image: 'x', command: ['1', '2'] }, { name: 'b', image: 'y' }] } };
  const cfg = { spec: { containers: [{ name: 'b', image: 'z' }, { name: 'a', command: ['3'] }] } };
  const out = merge(live, cfg, podShape) as any;
  assert.deepEqual(out.spec.containers, [
    { name: 'b', image: 'z' },
    { name: 'a', image: 'x', command: ['3'] },
  ]);
});

test('Compare finds added, modified and removed fields', () => {
  const c = compare(pod('a'), pod('b', { args: ['x'] }), podShape);
  assert.deepEqual(c.modified.paths().map(pathString), ['.spec.containers[name="nginx"].image']);
  assert.deepEqual(c.added.paths().map(pathString), ['.spec.containers[name="nginx"].args']);
  assert.ok(c.removed.empty());
});

test('create records an Update manager without the fields nobody owns', () => {
  const out = recordUpdate(cmScope, undefined, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'd', labels: { a: '1' } }, data: { k: 'v' } }, 'kubectl-create');
  assert.deepEqual(out.metadata.managedFields, [
    {
      manager: 'kubectl-create',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2026-11-29T10:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:data': { '.': {}, 'f:k': {} }, 'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } } },
    },
  ]);
});

test('an update moves changed fields to its manager; [{}] clears managedFields', () => {
  const created = recordUpdate(cmScope, undefined, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: 'v', j: 'w' } }, 'a');
  const next = structuredClone(created);
  next.data.k = 'changed';
  const updated = recordUpdate({ ...cmScope, now: clock('2026-11-29T11:00:00Z') }, created, next, 'b');
  const byManager = Object.fromEntries(updated.metadata.managedFields.map((e: any) => [e.manager, e.fieldsV1]));
  assert.deepEqual(byManager.a, { 'f:data': { '.': {}, 'f:j': {} } });
  assert.deepEqual(byManager.b, { 'f:data': { 'f:k': {} } });
  const reset = recordUpdate(cmScope, updated, { ...structuredClone(updated), metadata: { ...updated.metadata, managedFields: [{}] } }, 'c');
  assert.equal(reset.metadata.managedFields, undefined);
});

test('status written through the main resource is not owned there', () => {
  const p = { ...pod(), status: { phase: 'Running' } };
  const out = recordUpdate(podScope(), undefined, p, 'm');
  assert.equal(JSON.stringify(out.metadata.managedFields).includes('f:status'), false);
  const st = recordUpdate({ ...podScope(), subresource: 'status' }, out, { ...structuredClone(out), status: { phase: 'Succeeded' } }, 'kubelet');
  const kubelet = st.metadata.managedFields.find((e: any) => e.manager === 'kubelet');
  assert.equal(kubelet.subresource, 'status');
  assert.deepEqual(kubelet.fieldsV1, { 'f:status': { 'f:phase': {} } });
});

test('apply creates, re-apply is stable, and a dropped field is pruned', () => {
  const first = applyConfiguration(podScope(), undefined, pod('nginx', { args: ['a'] }), 'kubectl', false);
  assert.deepEqual(first.spec.containers[0], { name: 'nginx', image: 'nginx', args: ['a'] });
  assert.equal(first.metadata.managedFields[0].operation, 'Apply');
  assert.equal(first.metadata.managedFields[0].time, '2026-11-29T10:00:00Z');
  const again = applyConfiguration(podScope('2026-11-29T12:00:00Z'), first, pod('nginx', { args: ['a'] }), 'kubectl', false);
  assert.equal(again.metadata.managedFields[0].time, '2026-11-29T10:00:00Z', 'an unchanged apply keeps its time');
  const dropped = applyConfiguration(podScope(), first, pod('nginx'), 'kubectl', false);
  assert.equal(dropped.spec.containers[0].args, undefined);
});

test('a field another manager set is kept when the applier never applied it', () => {
  const first = applyConfiguration(podScope(), undefined, pod(), 'kubectl', false);
  const edited = structuredClone(first);
  edited.spec.containers[0].args = ['by-hand'];
  const updated = recordUpdate(podScope(), first, edited, 'kubectl-edit');
  const re = applyConfiguration(podScope(), updated, pod(), 'kubectl', false);
  assert.deepEqual(re.spec.containers[0].args, ['by-hand']);
});

test('changing a field another manager owns is a 409 naming both, unless forced', () => {
  const created = recordUpdate(podScope(), undefined, pod('nginx'), 'kubectl-client-side-apply');
  assert.throws(
    () => applyConfiguration(podScope(), created, pod('nginx:2'), 'kubectl', false),
    (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 409);
      assert.equal(e.reason, 'Conflict');
      assert.equal(e.message, 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.containers[name="nginx"].image');
      assert.deepEqual(e.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using v1', field: '.spec.containers[name="nginx"].image' }]);
      return true;
    },
  );
  // the same value is no conflict: both then own it
  const same = applyConfiguration(podScope(), created, pod('nginx'), 'kubectl', false);
  assert.equal(same.metadata.managedFields.length, 2);
  const forced = applyConfiguration(podScope(), created, pod('nginx:2'), 'kubectl', true);
  assert.equal(forced.spec.containers[0].image, 'nginx:2');
  const csa = forced.metadata.managedFields.find((e: any) => e.manager === 'kubectl-client-side-apply');
  assert.equal(JSON.stringify(csa.fieldsV1).includes('f:image'), false, 'the forced field left the other manager');
});

test('an object nobody tracked gets a before-first-apply manager on its first apply', () => {
  const live = pod('nginx');
  assert.throws(() => applyConfiguration(podScope(), live, pod('other'), 'kubectl', false), /conflict with "before-first-apply" using v1/);
});

test('apply refuses managedFields in the configuration and duplicate keys', () => {
  const bad: any = pod();
  bad.metadata.managedFields = [];
  assert.throws(() => applyConfiguration(podScope(), undefined, bad, 'kubectl', false), /metadata.managedFields must be nil/);
  const dup: any = pod();
  dup.spec.containers.push({ name: 'nginx', image: 'x' });
  assert.throws(() => applyConfiguration(podScope(), undefined, dup, 'kubectl', false), /duplicate entries for key \{"name":"nginx"\}/);
});

test('kubectl taking over from client-side apply: fields still as last applied are no conflict', () => {
  const csa = pod('nginx');
  (csa.metadata as any).annotations = { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(pod('nginx')) };
  const live = recordUpdate(podScope(), undefined, csa, 'kubectl-client-side-apply');
  const taken = applyConfiguration(podScope(), live, pod('nginx:2'), 'kubectl', false);
  assert.equal(taken.spec.containers[0].image, 'nginx:2');
  // another manager name gets the conflict, and so does a field changed since the last apply
  assert.throws(() => applyConfiguration(podScope(), live, pod('nginx:2'), 'helm', false), /conflict with "kubectl-client-side-apply"/);
  const edited = structuredClone(live);
  edited.spec.containers[0].image = 'by-hand';
  const after = recordUpdate(podScope(), live, edited, 'kubectl-client-side-apply');
  assert.throws(() => applyConfiguration(podScope(), after, pod('nginx:2'), 'kubectl', false), /\.spec\.containers\[name="nginx"\]\.image/);
});

test('custom resources: x-kubernetes-map-type atomic objects and maps, and atomic lists, are owned whole by one applier', async () => {
  const { typeSchemasFor, customTypeName } = await import('../crd/custom-kind.js');
  const crd = {
    spec: {
      group: 'ssa.example.com',
      names: { kind: 'Gadget', plural: 'gadgets' },
      versions: [
        {
          name: 'v1',
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  properties: {
                    endpoint: { type: 'object', 'x-kubernetes-map-type': 'atomic', properties: { host: { type: 'string' }, port: { type: 'integer' } } },
                    selector: { type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } },
                    labels: { type: 'object', additionalProperties: { type: 'string' } },
                    tags: { type: 'array', 'x-kubernetes-list-type': 'atomic', items: { type: 'string' } },
                    limits: { type: 'object', properties: { cpu: { type: 'string' }, memory: { type: 'string' } } },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
  Object.assign(schemas, typeSchemasFor(crd, 'v1'));
  const typeName = customTypeName('ssa.example.com', 'v1', 'Gadget');
  const scope: FieldManagerScope = { typeName, apiVersion: 'ssa.example.com/v1', hasStatusSubresource: false, now: clock('2026-11-29T10:00:00Z') };
  const g = (spec: Record<string, unknown>) => ({ apiVersion: 'ssa.example.com/v1', kind: 'Gadget', metadata: { name: 'g', namespace: 'default' }, spec });
  const first = applyConfiguration(scope, undefined, g({ endpoint: { host: 'a', port: 80 }, selector: { app: 'x' }, labels: { a: '1' }, tags: ['t1'], limits: { cpu: '1' } }), 'alice', false);
  const fields = (first.metadata as any).managedFields[0].fieldsV1['f:spec'];
  assert.deepEqual(fields['f:endpoint'], {}, 'an atomic object is one field');
  assert.deepEqual(fields['f:selector'], {}, 'an atomic map is one field');
  assert.deepEqual(fields['f:labels'], { 'f:a': {} }, 'a granular map is owned entry by entry');
  assert.deepEqual(fields['f:tags'], {});
  // a second applier touching a part of an atomic object conflicts with the owner of the whole
  const conflicts = (spec: Record<string, unknown>) => {
    try {
      applyConfiguration(scope, first, g(spec), 'bob', false);
    } catch (e) {
      assert.ok(e instanceof ApiError && e.code === 409);
      return (e.details?.causes ?? []).map((c) => c.field);
    }
    return [];
  };
  assert.deepEqual(conflicts({ endpoint: { port: 81 } }), ['.spec.endpoint']);
  assert.deepEqual(conflicts({ selector: { tier: 'db' } }), ['.spec.selector']);
  assert.deepEqual(conflicts({ tags: ['t2'] }), ['.spec.tags']);
  // granular parts are shared: another entry, another field, no conflict
  const shared = applyConfiguration(scope, first, g({ labels: { b: '2' }, limits: { memory: '1Gi' } }), 'bob', false) as any;
  assert.deepEqual(shared.spec.labels, { a: '1', b: '2' });
  assert.deepEqual(shared.spec.limits, { cpu: '1', memory: '1Gi' });
  // forced, the atomic object is replaced whole: the fields bob did not send are gone, and bob owns it
  const forced = applyConfiguration(scope, first, g({ endpoint: { port: 81 } }), 'bob', true) as any;
  assert.deepEqual(forced.spec.endpoint, { port: 81 });
  const owners = forced.metadata.managedFields.filter((m: any) => m.fieldsV1?.['f:spec']?.['f:endpoint']).map((m: any) => m.manager);
  assert.deepEqual(owners, ['bob']);
  // the owner re-applying without it drops it whole
  const dropped = applyConfiguration(scope, first, g({ selector: { app: 'x' }, labels: { a: '1' }, tags: ['t1'], limits: { cpu: '1' } }), 'alice', false) as any;
  assert.equal(dropped.spec.endpoint, undefined);
});
