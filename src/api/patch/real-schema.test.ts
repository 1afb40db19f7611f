/** Strategic merge patch against podbay's generated core/v1 schema (npm run build generates it). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SchemaSet } from '../schema-types.js';
import { applyPatch } from './index.js';

const schemas: SchemaSet = (await import('../schema.js')).schemas;

const POD = 'io.k8s.api.core.v1.Pod';

test('kubectl apply payload against the generated schema', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', finalizers: ['a'] },
    spec: {
      containers: [
        { name: 'a', image: 'busybox:1.36', env: [{ name: 'X', value: '1' }], resources: { limits: { cpu: '1' } } },
        { name: 'b', image: 'nginx' },
      ],
      volumes: [{ name: 'v', emptyDir: {} }],
    },
  };
  const body = {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    spec: {
      '$setElementOrder/containers': [{ name: 'a' }, { name: 'b' }],
      containers: [{ image: 'busybox:1.37', name: 'a', env: [{ name: 'Y', value: '2' }], resources: { limits: { memory: '1Gi' } } }],
      '$setElementOrder/volumes': [{ name: 'v' }],
      volumes: [{ name: 'v', $retainKeys: ['hostPath', 'name'], hostPath: { path: '/x' } }],
    },
  };
  const out: any = applyPatch('application/strategic-merge-patch+json', pod, JSON.stringify(body), POD, schemas!);
  assert.deepEqual(out.spec.containers[0], {
    name: 'a',
    image: 'busybox:1.37',
    env: [
      { name: 'Y', value: '2' },
      { name: 'X', value: '1' },
    ],
    resources: { limits: { cpu: '1', memory: '1Gi' } },
  });
  assert.deepEqual(out.spec.containers[1], { name: 'b', image: 'nginx' });
  assert.deepEqual(out.spec.volumes, [{ name: 'v', hostPath: { path: '/x' } }]);
  assert.deepEqual(out.metadata.finalizers, ['a']);
});
