import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitErrorMessage, misfit, preFilterMessage } from './diagnosis.js';
import { nonZeroRequests, pickNode, spreadGroup } from './score.js';

const node = (name: string, extra: object = {}) => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name } }, status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } }, ...extra });
const pod = (name: string, owner?: string, labels: Record<string, string> = {}, requests?: object) => ({
  metadata: { name, namespace: 'default', uid: name, labels, ownerReferences: owner ? [{ uid: owner, controller: true, kind: 'ReplicaSet', name: owner }] : [] },
  spec: { containers: [{ name: 'c', ...(requests ? { resources: { requests } } : {}) }] },
});

test('FailedScheduling counts each reason over the nodes, sorted, with the preemption sentence', () => {
  assert.equal(
    fitErrorMessage(3, [misfit('node(s) had untolerated taint {a: b}', true), misfit('node(s) had untolerated taint {a: b}', true), { reasons: ['Insufficient cpu', 'Insufficient memory'], unresolvable: false }]),
    '0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 2 node(s) had untolerated taint {a: b}. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.',
  );
  assert.equal(preFilterMessage(2, 'persistentvolumeclaim "data" not found'), '0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.');
});

test('scoring spreads a controller\'s pods over the nodes, prefers the least allocated, and breaks ties by name', () => {
  assert.deepEqual(nonZeroRequests(pod('a')), { milliCpu: 100, memory: 200 * 1024 * 1024 });
  assert.deepEqual(nonZeroRequests(pod('a', undefined, {}, { cpu: '1' })), { milliCpu: 1000, memory: 200 * 1024 * 1024 });
  const nodes = ['c', 'a', 'b'].map((n) => node(n));
  // equal nodes, nothing bound: the first by name
  assert.equal(pickNode(pod('p0', 'rs'), nodes.map((n) => ({ node: n, pods: [] })), [])?.node.metadata.name, 'a');
  // a pod of the same ReplicaSet on a: b next (spreading), then c
  const onA = [pod('p1', 'rs')];
  assert.equal(pickNode(pod('p2', 'rs'), nodes.map((n) => ({ node: n, pods: n.metadata.name === 'a' ? onA : [] })), [])?.node.metadata.name, 'b');
  const placed = (n: string) => (n === 'c' ? [] : [pod(`x-${n}`, 'rs')]);
  assert.equal(pickNode(pod('p3', 'rs'), nodes.map((n) => ({ node: n, pods: placed(n.metadata.name) })), [])?.node.metadata.name, 'c');
  // another controller's pods do not count for spreading, but they do for allocation: a busy
  // node (a 3-cpu pod) loses to an idle one
  const busy = [pod('big', 'other', {}, { cpu: '3' })];
  assert.equal(pickNode(pod('p4', 'rs'), nodes.map((n) => ({ node: n, pods: n.metadata.name === 'a' ? busy : [] })), [])?.node.metadata.name, 'b');
  // a Service selecting the pod narrows the group to the pods it selects too
  const svc = { metadata: { namespace: 'default', name: 'web' }, spec: { selector: { app: 'web' } } };
  const group = spreadGroup(pod('w', 'rs', { app: 'web' }), [svc])!;
  assert.equal(group(pod('w2', 'rs', { app: 'web' })), true);
  assert.equal(group(pod('w3', 'rs', { app: 'db' })), false);
  assert.equal(group(pod('w4', 'other', { app: 'web' })), false);
  assert.equal(spreadGroup(pod('lone'), []), undefined, 'a bare pod is not spread');
  // PreferNoSchedule taints rank a node down
  const soft = node('a', { spec: { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] } });
  assert.equal(pickNode(pod('p5'), [{ node: soft, pods: [] }, { node: node('b'), pods: [] }], [])?.node.metadata.name, 'b');
});

test('a WaitForFirstConsumer class\'s allowedTopologies decide where its claims can be provisioned', async () => {
  const { classAllowsNode } = await import('../api/node-selector.js');
  const { localPathStorageClass } = await import('../controllers/local-path.js');
  const sc = localPathStorageClass('server');
  assert.equal(classAllowsNode(sc, node('server')), true);
  assert.equal(classAllowsNode(sc, node('agent')), false);
  assert.equal(classAllowsNode(localPathStorageClass(), node('agent')), true, 'no allowedTopologies: any node');
});
