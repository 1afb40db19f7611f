import assert from 'node:assert/strict';
import { test } from 'node:test';
import { affinityMisfit } from './affinity.js';

const node = { metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1', disk: 'ssd' } } };
const pod = (name: string, labels: Record<string, string>, affinity?: object, ns = 'default') => ({ metadata: { name, uid: name, namespace: ns, labels }, spec: { affinity } });
const term = (labels: Record<string, string>, extra: object = {}) => ({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels }, ...extra });

test('required node affinity, pod affinity and anti-affinity on the one node, with upstream messages', () => {
  const nodeAff = (op: string, values: string[]) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: op, values }] }] } } });
  assert.equal(affinityMisfit(pod('a', {}, nodeAff('In', ['ssd'])), node, []), undefined);
  assert.equal(affinityMisfit(pod('a', {}, nodeAff('In', ['hdd'])), node, []), "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.");

  const db = pod('db', { app: 'db' });
  const withDb = { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'db' })] } };
  assert.equal(affinityMisfit(pod('web', { app: 'web' }, withDb), node, [db]), undefined);
  assert.match(affinityMisfit(pod('web', { app: 'web' }, withDb), node, [])!, /1 node\(s\) didn't match pod affinity rules/);
  assert.match(affinityMisfit(pod('web', { app: 'web' }, withDb), node, [pod('db', { app: 'db' }, undefined, 'other')])!, /didn't match pod affinity rules/, 'another namespace is not in scope');
  assert.equal(affinityMisfit(pod('web', { app: 'web' }, { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'db' }, { namespaceSelector: {} })] } }), node, [pod('db', { app: 'db' }, undefined, 'other')]), undefined, 'an empty namespaceSelector is every namespace');
  // the first pod of a group matches its own term
  assert.equal(affinityMisfit(pod('g1', { group: 'g' }, { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ group: 'g' })] } }), node, []), undefined);

  const apart = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'web' })] } };
  assert.equal(affinityMisfit(pod('web-1', { app: 'web' }, apart), node, []), undefined);
  assert.match(affinityMisfit(pod('web-2', { app: 'web' }, apart), node, [pod('web-1', { app: 'web' })])!, /1 node\(s\) didn't match pod anti-affinity rules/);
  assert.match(affinityMisfit(pod('web-2', { app: 'web' }), node, [pod('web-1', { app: 'web' }, apart)])!, /1 node\(s\) didn't satisfy existing pods anti-affinity rules/);
  // a topologyKey the node does not have: anti-affinity cannot be violated
  assert.equal(affinityMisfit(pod('web-2', { app: 'web' }, { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ ...term({ app: 'web' }), topologyKey: 'zone' }] } }), node, [pod('web-1', { app: 'web' })]), undefined);
});
