import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeQOSClass, defaultObject, defaultPullPolicy } from './index.js';

test('image pull policy follows the tag', () => {
  assert.equal(defaultPullPolicy('nginx'), 'Always');
  assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
  assert.equal(defaultPullPolicy('localhost:5000/nginx'), 'Always');
  assert.equal(defaultPullPolicy('nginx:1.25'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('nginx@sha256:' + 'a'.repeat(64)), 'IfNotPresent');
  assert.equal(defaultPullPolicy('registry:5000/nginx:1.0@sha256:' + 'a'.repeat(64)), 'IfNotPresent');
});

test('pod defaults on create', () => {
  const pod: any = defaultObject('Pod', {
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      containers: [
        {
          name: 'c',
          image: 'nginx',
          ports: [{ containerPort: 80 }],
          env: [{ name: 'N', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          livenessProbe: { httpGet: { port: 80 } },
          readinessProbe: { grpc: { port: 9000 } },
        },
      ],
      initContainers: [{ name: 'init', image: 'busybox:1.36' }],
      volumes: [
        { name: 'a' },
        { name: 'b', configMap: { name: 'cm' } },
        { name: 'c', secret: { secretName: 's' } },
        { name: 'd', hostPath: { path: '/tmp' } },
        { name: 'e', downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' } }] } },
      ],
    },
  });
  const s = pod.spec;
  assert.equal(s.restartPolicy, 'Always');
  assert.equal(s.dnsPolicy, 'ClusterFirst');
  assert.equal(s.terminationGracePeriodSeconds, 30);
  assert.equal(s.schedulerName, 'default-scheduler');
  assert.deepEqual(s.securityContext, {});
  assert.equal(s.enableServiceLinks, true);
  assert.equal(s.priority, 0);
  assert.equal(s.preemptionPolicy, 'PreemptLowerPriority');
  assert.deepEqual(s.tolerations, [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ]);
  const c = s.containers[0];
  assert.equal(c.imagePullPolicy, 'Always');
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.equal(c.terminationMessagePolicy, 'File');
  assert.deepEqual(c.resources, {});
  assert.equal(c.ports[0].protocol, 'TCP');
  assert.equal(c.env[0].valueFrom.fieldRef.apiVersion, 'v1');
  assert.deepEqual(c.livenessProbe, {
    httpGet: { port: 80, path: '/', scheme: 'HTTP' },
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.deepEqual(c.readinessProbe.grpc, { port: 9000, service: '' });
  assert.equal(s.initContainers[0].imagePullPolicy, 'IfNotPresent');
  assert.equal(s.initContainers[0].terminationMessagePolicy, 'File');
  assert.deepEqual(s.volumes[0], { name: 'a', emptyDir: {} });
  assert.equal(s.volumes[1].configMap.defaultMode, 420);
  assert.equal(s.volumes[2].secret.defaultMode, 420);
  assert.equal(s.volumes[3].hostPath.type, '');
  assert.equal(s.volumes[4].downwardAPI.defaultMode, 420);
  assert.equal(s.volumes[4].downwardAPI.items[0].fieldRef.apiVersion, 'v1');
  assert.deepEqual(pod.status, { phase: 'Pending', qosClass: 'BestEffort' });
});

test('existing tolerations of the node taints are kept, not duplicated', () => {
  const pod: any = defaultObject('Pod', {
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'c', image: 'i' }], tolerations: [{ operator: 'Exists' }] },
  });
  assert.deepEqual(pod.spec.tolerations, [{ operator: 'Exists' }]);
});

test('update defaulting does not reset status or run admission', () => {
  const pod: any = defaultObject('Pod', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }] }, status: { phase: 'Running' } }, 'update');
  assert.deepEqual(pod.status, { phase: 'Running' });
  assert.equal(pod.spec.tolerations, undefined);
  assert.equal(pod.spec.restartPolicy, 'Always');
});

test('QoS classes; requests default to limits; quantities canonical', () => {
  const mk = (resources: any[]) => ({ spec: { containers: resources.map((r, i) => ({ name: `c${i}`, image: 'i', resources: r })) } });
  const guaranteed: any = defaultObject('Pod', mk([{ limits: { cpu: '1000m', memory: '1024Mi' } }]));
  assert.deepEqual(guaranteed.spec.containers[0].resources, { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } });
  assert.equal(guaranteed.status.qosClass, 'Guaranteed');
  assert.equal(computeQOSClass(mk([{ requests: { cpu: '100m' } }])), 'Burstable');
  assert.equal(computeQOSClass(mk([{ limits: { cpu: '1', memory: '1Gi' } }, {}])), 'Burstable');
  assert.equal(computeQOSClass(mk([{}, { requests: { 'example.com/gpu': '1' } }])), 'BestEffort');
  assert.equal(computeQOSClass(mk([{ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: '1Gi' } }])), 'Burstable');
});

test('hostNetwork copies containerPort into hostPort', () => {
  const pod: any = defaultObject('Pod', { spec: { hostNetwork: true, containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 8080 }] }] } });
  assert.equal(pod.spec.containers[0].ports[0].hostPort, 8080);
});

test('Secret, Namespace, Node, ConfigMap, Event', () => {
  const secret: any = defaultObject('Secret', { metadata: { name: 's' }, data: { a: 'eA==' }, stringData: { b: 'hi' } });
  assert.deepEqual(secret, { metadata: { name: 's' }, data: { a: 'eA==', b: 'aGk=' }, type: 'Opaque' });
  const ns: any = defaultObject('Namespace', { metadata: { name: 'team', namespace: 'junk' } });
  assert.deepEqual(ns, {
    metadata: { name: 'team', labels: { 'kubernetes.io/metadata.name': 'team' } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  });
  const node: any = defaultObject('Node', { metadata: { name: 'n' }, status: { capacity: { pods: '110' } } });
  assert.deepEqual(node.status.allocatable, { pods: '110' });
  const cm = { metadata: { name: 'c' } };
  assert.deepEqual(defaultObject('ConfigMap', structuredClone(cm)), cm);
  const ev = { metadata: { name: 'e' }, reason: 'x' };
  assert.deepEqual(defaultObject('Event', structuredClone(ev)), ev);
});
