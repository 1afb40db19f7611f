import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultObject } from '../api/defaults/index.js';
import { podInfo, policyInfo } from './enforcer.js';

test('a pod as the rules see it: its IP while it runs on the pod network, its named ports (sidecars too)', () => {
  const pod = {
    metadata: { namespace: 'default', name: 'web', labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 53, protocol: 'UDP' }] }], initContainers: [{ name: 's', restartPolicy: 'Always', ports: [{ name: 'metrics', containerPort: 9090 }] }, { name: 'once', ports: [{ name: 'x', containerPort: 1 }] }] },
    status: { phase: 'Running', podIP: '10.85.0.5' },
  };
  assert.deepEqual(podInfo(pod), {
    namespace: 'default',
    name: 'web',
    labels: { app: 'web' },
    ip: '10.85.0.5',
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: undefined, containerPort: 53, protocol: 'UDP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
  });
  assert.equal(podInfo({ ...pod, status: { phase: 'Succeeded', podIP: '10.85.0.5' } }).ip, undefined, 'an ended pod has given its address back');
  assert.equal(podInfo({ ...pod, spec: { ...pod.spec, hostNetwork: true } }).ip, undefined, "a host-network pod's address is the node's");
});

test('a stored policy as the rules see it: policyTypes decide the directions; no rules of a type deny it', () => {
  const np = defaultObject('NetworkPolicy', { metadata: { namespace: 'default', name: 'p' }, spec: { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 80 }] }] } });
  assert.deepEqual(policyInfo(np), {
    namespace: 'default',
    name: 'p',
    podSelector: {},
    ingress: [],
    egress: [{ ports: [{ protocol: 'TCP', port: 80, endPort: undefined }], peers: [{ podSelector: undefined, namespaceSelector: undefined, ipBlock: { cidr: '10.0.0.0/8' } }] }],
  });
  const ingressOnly = policyInfo(defaultObject('NetworkPolicy', { metadata: { namespace: 'default', name: 'q' }, spec: { podSelector: {}, ingress: [{}] } }));
  assert.deepEqual(ingressOnly.ingress, [{ ports: [], peers: [] }], 'an empty rule allows everything');
  assert.equal(ingressOnly.egress, undefined);
});

test('a sync with nothing to do (no policy, nothing installed) finishes and leaves the next sync free to run', async () => {
  const { PolicyEnforcer } = await import('./enforcer.js');
  // the informers are never started here: their caches are empty, and no iptables runs
  const e = new PolicyEnforcer({} as never, { tag: 'TEST' });
  await e.sync();
  assert.equal((e as unknown as { syncing?: unknown }).syncing, undefined, 'an earlier bug left the finished sync in place, so every later one only waited on it');
  await e.sync();
  assert.equal((e as unknown as { syncing?: unknown }).syncing, undefined);
});
