import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../errors.js';
import { applyStrategicMergePatch } from './strategic.js';
import { POD, TEST_SCHEMAS } from './test-schemas.js';

const smp = (orig: object, patch: object, type = POD): any => applyStrategicMergePatch(orig, patch, type, TEST_SCHEMAS);

function twoContainerPod(): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', labels: { app: 'x' }, annotations: { keep: 'me' } },
    spec: {
      containers: [
        { name: 'a', image: 'busybox:1.36', command: ['sleep', '3600'], ports: [{ containerPort: 80, protocol: 'TCP' }] },
        { name: 'b', image: 'nginx:1.25', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
      ],
      restartPolicy: 'Always',
    },
  };
}

function expectError(fn: () => unknown, code: number, message: string | RegExp): ApiError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (typeof message === 'string') assert.equal(err.message, message);
  else assert.match(err.message, message);
  return err;
}

test('kubectl apply/edit payload: change one container image, keep order and siblings', () => {
  const orig = twoContainerPod();
  const patch = {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"x":1}\n' } },
    spec: {
      $setElementOrder: undefined,
      '$setElementOrder/containers': [{ name: 'a' }, { name: 'b' }],
      containers: [{ image: 'busybox:1.37', name: 'a' }],
    },
  } as any;
  delete patch.spec.$setElementOrder;
  const out = smp(orig, patch);
  assert.deepEqual(
    out.spec.containers.map((c: any) => [c.name, c.image]),
    [
      ['a', 'busybox:1.37'],
      ['b', 'nginx:1.25'],
    ],
  );
  assert.deepEqual(out.spec.containers[0].command, ['sleep', '3600']);
  assert.deepEqual(out.spec.containers[0].ports, [{ containerPort: 80, protocol: 'TCP' }]);
  assert.deepEqual(out.metadata.annotations, { keep: 'me', 'kubectl.kubernetes.io/last-applied-configuration': '{"x":1}\n' });
  assert.equal(out.spec.restartPolicy, 'Always');
  assert.ok(!('$setElementOrder/containers' in out.spec));
  // input untouched
  assert.equal(orig.spec.containers[0].image, 'busybox:1.36');
});

test('$setElementOrder reorders and adds items; patch items placed by the order list', () => {
  const orig = twoContainerPod();
  const out = smp(orig, {
    spec: {
      '$setElementOrder/containers': [{ name: 'c' }, { name: 'b' }, { name: 'a' }],
      containers: [{ name: 'c', image: 'redis' }],
    },
  });
  assert.deepEqual(
    out.spec.containers.map((c: any) => c.name),
    ['c', 'b', 'a'],
  );
});

test('$setElementOrder with a deleted item (kubectl apply removing a container)', () => {
  const orig = twoContainerPod();
  const out = smp(orig, {
    spec: {
      '$setElementOrder/containers': [{ name: 'b' }],
      containers: [{ $patch: 'delete', name: 'a' }],
    },
  });
  assert.deepEqual(
    out.spec.containers.map((c: any) => c.name),
    ['b'],
  );
});

test('kubectl apply adding and deleting a container at once keeps upstream ordering', () => {
  const orig = { spec: { containers: [{ name: '1' }, { name: '2', other: 'b' }, { name: '4', other: 'c' }] } };
  const out = smp(orig, {
    spec: {
      '$setElementOrder/containers': [{ name: '2' }, { name: '3' }],
      containers: [{ name: '3' }, { name: '1', $patch: 'delete' }],
    },
  });
  assert.deepEqual(out.spec.containers, [{ name: '2', other: 'b' }, { name: '4', other: 'c' }, { name: '3' }]);
});

test('merge by key: existing items merged, new ones added; patch order wins, server-only items interleaved', () => {
  const out = smp(twoContainerPod(), { spec: { containers: [{ name: 'c', image: 'redis' }, { name: 'b', image: 'nginx:1.27' }] } });
  // upstream mergeSortedSlice: c (unknown to the server) first, then a before b (server order)
  assert.deepEqual(
    out.spec.containers.map((c: any) => [c.name, c.image]),
    [
      ['c', 'redis'],
      ['a', 'busybox:1.36'],
      ['b', 'nginx:1.27'],
    ],
  );
  const appended = smp(twoContainerPod(), { spec: { containers: [{ name: 'b', image: 'nginx:1.27' }, { name: 'c', image: 'redis' }] } });
  assert.deepEqual(
    appended.spec.containers.map((c: any) => c.name),
    ['a', 'b', 'c'],
  );
});

test('nested merge lists: env by name, ports by containerPort', () => {
  const out = smp(twoContainerPod(), {
    spec: {
      containers: [
        { name: 'b', env: [{ name: 'B', value: 'two' }, { name: 'C', value: '3' }] },
        { name: 'a', ports: [{ containerPort: 443 }, { containerPort: 80, name: 'http' }] },
      ],
    },
  });
  const b = out.spec.containers.find((c: any) => c.name === 'b');
  assert.deepEqual(b.env, [
    { name: 'A', value: '1' },
    { name: 'B', value: 'two' },
    { name: 'C', value: '3' },
  ]);
  const a = out.spec.containers.find((c: any) => c.name === 'a');
  assert.deepEqual(a.ports, [{ containerPort: 443 }, { containerPort: 80, protocol: 'TCP', name: 'http' }]);
});

test('lists without merge strategy are replaced (command, args, tolerations)', () => {
  const out = smp(twoContainerPod(), { spec: { containers: [{ name: 'a', command: ['true'] }] } });
  assert.deepEqual(out.spec.containers[0].command, ['true']);
  const t = smp(
    { spec: { tolerations: [{ key: 'a', operator: 'Exists' }] } },
    { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } },
  );
  assert.deepEqual(t.spec.tolerations, [{ key: 'b', operator: 'Exists' }]);
});

test('null deletes fields, in maps and inside merged list elements', () => {
  const out = smp(twoContainerPod(), {
    metadata: { labels: { app: null, tier: 'web' }, annotations: null },
    spec: { restartPolicy: null, containers: [{ name: 'a', command: null }] },
  });
  assert.deepEqual(out.metadata.labels, { tier: 'web' });
  assert.ok(!('annotations' in out.metadata));
  assert.ok(!('restartPolicy' in out.spec));
  assert.ok(!('command' in out.spec.containers[0]));
});

test('nulls in newly added subtrees are discarded', () => {
  const out = smp({ metadata: { name: 'p' } }, { metadata: { labels: { a: 'b', c: null } }, spec: { nodeSelector: { x: null } } });
  assert.deepEqual(out.metadata.labels, { a: 'b' });
  assert.deepEqual(out.spec.nodeSelector, {});
});

test('$patch: delete in a list element removes by merge key', () => {
  const out = smp(twoContainerPod(), {
    spec: { containers: [{ name: 'b', env: [{ $patch: 'delete', name: 'A' }] }] },
  });
  assert.deepEqual(out.spec.containers[1].env, [{ name: 'B', value: '2' }]);
});

test('$patch: replace in a list replaces the whole list', () => {
  const out = smp(twoContainerPod(), {
    spec: { containers: [{ name: 'z', image: 'alpine' }, { $patch: 'replace' }] },
  });
  assert.deepEqual(out.spec.containers, [{ name: 'z', image: 'alpine' }]);
});

test('$patch: replace in a map replaces the map; $patch: delete empties it', () => {
  const out = smp(twoContainerPod(), { metadata: { labels: { $patch: 'replace', only: 'this' } } });
  assert.deepEqual(out.metadata.labels, { only: 'this' });
  const out2 = smp(twoContainerPod(), { metadata: { labels: { $patch: 'delete' } } });
  assert.deepEqual(out2.metadata.labels, {});
  const withResources = twoContainerPod();
  withResources.spec.containers[0].resources = { requests: { cpu: '2' }, limits: { memory: '1Gi' } };
  const out3 = smp(withResources, { spec: { containers: [{ name: 'a', resources: { $patch: 'replace', limits: { cpu: '1' } } }] } });
  assert.deepEqual(out3.spec.containers[0].resources, { limits: { cpu: '1' } });
  // upstream drops a directive-carrying map copied into a field the original lacks
  const out4 = smp(twoContainerPod(), { spec: { containers: [{ name: 'b', resources: { $patch: 'replace', limits: { cpu: '1' } } }] } });
  assert.ok(!('resources' in out4.spec.containers[1]));
});

test('a list element carrying $patch is dropped when the list is new', () => {
  const out = smp({ spec: {} }, { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', $patch: 'delete' }] } });
  assert.deepEqual(out.spec.containers, [{ name: 'a', image: 'x' }]);
});

test('primitive merge lists (finalizers): union, $deleteFromPrimitiveList, $setElementOrder', () => {
  const orig = { metadata: { name: 'p', finalizers: ['a', 'b'] } };
  assert.deepEqual(smp(orig, { metadata: { finalizers: ['c', 'a'] } }).metadata.finalizers, ['c', 'a', 'b']);
  assert.deepEqual(smp(orig, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }).metadata.finalizers, ['b']);
  assert.deepEqual(
    smp(orig, { metadata: { '$setElementOrder/finalizers': ['b', 'c', 'a'], finalizers: ['c'] } }).metadata.finalizers,
    ['b', 'c', 'a'],
  );
  // deleting from a list that is absent is a no-op
  assert.deepEqual(smp({ metadata: {} }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }).metadata, {});
});

test('$retainKeys clears fields not listed (volume source switch)', () => {
  const orig = { spec: { volumes: [{ name: 'v', emptyDir: { medium: 'Memory' } }, { name: 'w', hostPath: { path: '/w' } }] } };
  const out = smp(orig, {
    spec: {
      '$setElementOrder/volumes': [{ name: 'v' }, { name: 'w' }],
      volumes: [{ $retainKeys: ['hostPath', 'name'], hostPath: { path: '/data' }, name: 'v' }],
    },
  });
  assert.deepEqual(out.spec.volumes, [
    { name: 'v', hostPath: { path: '/data' } },
    { name: 'w', hostPath: { path: '/w' } },
  ]);
});

test('$retainKeys errors: not a list, or a patched key not retained (400)', () => {
  const orig = { spec: { volumes: [{ name: 'v', emptyDir: {} }] } };
  expectError(() => smp(orig, { spec: { volumes: [{ name: 'v', $retainKeys: 'name' }] } }), 400, 'invalid patch format of retainKeys');
  expectError(
    () => smp(orig, { spec: { volumes: [{ name: 'v', $retainKeys: ['name'], hostPath: { path: '/' } }] } }),
    400,
    'invalid patch format of retainKeys',
  );
});

test('merge key missing from a patch list element -> upstream message (upstream 500 with no reason; podbay 400)', () => {
  const err = expectError(
    () => smp(twoContainerPod(), { spec: { containers: [{ image: 'busybox:1.37' }] } }),
    400,
    'map: map[image:busybox:1.37] does not contain declared merge key: name',
  );
  assert.equal(err.toStatus().reason, 'BadRequest');
});

test('merge key missing from a $patch: delete element', () => {
  expectError(
    () => smp(twoContainerPod(), { spec: { containers: [{ $patch: 'delete', image: 'x' }] } }),
    400,
    'map: map[$patch:delete image:x] does not contain declared merge key: name',
  );
});

test('invalid directives', () => {
  expectError(() => smp(twoContainerPod(), { metadata: { labels: { $patch: 'bogus' } } }), 400, 'unknown patch type: bogus in map: map[$patch:bogus]');
  expectError(
    () => smp(twoContainerPod(), { spec: { containers: [{ name: 'a', $patch: 'merge' }] } }),
    400,
    'merging lists cannot yet be specified in the patch',
  );
  expectError(
    () => smp(twoContainerPod(), { spec: { containers: [{ name: 'a', $patch: 'nope' }] } }),
    400,
    'unknown patch type: nope in map: map[$patch:nope name:a]',
  );
  expectError(() => smp(twoContainerPod(), { metadata: { $deleteFromPrimitiveList: ['a'] } }), 400, 'invalid patch format of primitive list');
  expectError(() => smp(twoContainerPod(), { spec: { $setElementOrder: [] } }), 400, 'invalid patch format of setElementOrder list');
  expectError(
    () => smp(twoContainerPod(), { spec: { '$setElementOrder/containers': 'a' } }),
    400,
    'expected a []interface {}, but received a string',
  );
});

test('$setElementOrder that disagrees with the patch list', () => {
  expectError(
    () =>
      smp(twoContainerPod(), {
        spec: { '$setElementOrder/containers': [{ name: 'a' }], containers: [{ name: 'b', image: 'x' }] },
      }),
    400,
    /^The order in patch list:\n\[map\[image:x name:b\]\]\n doesn't match \$setElementOrder list:\n\[map\[name:a\]\]\n$/,
  );
});

test('lists of lists are rejected with 422', () => {
  expectError(
    () => smp({ metadata: { finalizers: [['a']] } }, { metadata: { finalizers: [['b']] } }),
    422,
    'the server rejected our request due to an error in our request',
  );
});

test('mixed element types in a merge list', () => {
  expectError(
    () => smp({ metadata: { finalizers: ['a'] } }, { metadata: { finalizers: [1] } }),
    400,
    'list element types are not identical: [[a] [1]]',
  );
});

test('type change replaces the value', () => {
  const out = smp({ spec: { nodeSelector: { a: 'b' } } }, { spec: { nodeSelector: 'x' } });
  assert.equal(out.spec.nodeSelector, 'x');
});

test('unknown type / unknown field: merge-patch semantics with directives honoured', () => {
  const orig = { a: { b: 1, c: [1, 2] }, items: [{ name: 'x', v: 1 }] };
  const out = smp(orig, { a: { c: [3], d: { e: null, f: 1 } }, items: [{ name: 'y' }] }, 'example.com/v1.Widget');
  assert.deepEqual(out, { a: { b: 1, c: [3], d: { f: 1 } }, items: [{ name: 'y' }] });
  const out2 = smp({ spec: { extra: { k: 'v', z: 'q' } } }, { spec: { extra: { k: null, $retainKeys: ['z', 'k'] } } });
  assert.deepEqual(out2.spec.extra, { z: 'q' });
});

test('free-form values (kind any) merge as maps, lists replaced', () => {
  const orig = { spec: { containers: [{ name: 'a', env: [{ name: 'E', valueFrom: { fieldRef: { fieldPath: 'x' }, other: [1] } }] }] } };
  const out = smp(orig, { spec: { containers: [{ name: 'a', env: [{ name: 'E', valueFrom: { fieldRef: { apiVersion: 'v1' }, other: [2] } }] }] } });
  assert.deepEqual(out.spec.containers[0].env[0].valueFrom, { fieldRef: { fieldPath: 'x', apiVersion: 'v1' }, other: [2] });
});

test('top-level $patch: replace and delete', () => {
  assert.deepEqual(smp(twoContainerPod(), { $patch: 'replace', kind: 'Pod' }), { kind: 'Pod' });
  assert.deepEqual(smp(twoContainerPod(), { $patch: 'delete' }), {});
});

test('leftover directive keys in replaced values do not leak into the result', () => {
  const out = smp(twoContainerPod(), { spec: { containers: [{ name: 'q', '$setElementOrder/env': [{ name: 'A' }], env: [{ name: 'A' }] }] } });
  const q = out.spec.containers.find((c: any) => c.name === 'q');
  assert.deepEqual(q, { name: 'q', env: [{ name: 'A' }] });
});

test('status conditions merge by type', () => {
  const out = smp(
    { status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }, { type: 'Initialized', status: 'True' }] } },
    { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } },
  );
  assert.deepEqual(out.status, {
    phase: 'Running',
    conditions: [
      { type: 'Ready', status: 'True' },
      { type: 'Initialized', status: 'True' },
    ],
  });
});

test('non-object patch is a 400', () => {
  expectError(() => smp({}, [] as unknown as object), 400, 'json: cannot unmarshal array into Go value of type map[string]interface {}');
  assert.deepEqual(smp({ a: 1 }, null as unknown as object), { a: 1 });
});

test('ownerReferences merge by uid; without $setElementOrder a new item goes first (upstream)', () => {
  const out = smp(
    { metadata: { ownerReferences: [{ uid: '1', name: 'a', kind: 'X', apiVersion: 'v1' }] } },
    { metadata: { ownerReferences: [{ uid: '2', name: 'b', kind: 'X', apiVersion: 'v1' }] } },
  );
  assert.deepEqual(
    out.metadata.ownerReferences.map((o: any) => o.uid),
    ['2', '1'],
  );
});
