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

test('affinity across nodes: a term counts the pods in the node\'s domain of its topologyKey', async () => {
  const { affinityReason } = await import('./affinity.js');
  const labels: Record<string, Record<string, string>> = { n1: { 'kubernetes.io/hostname': 'n1', zone: 'z1' }, n2: { 'kubernetes.io/hostname': 'n2', zone: 'z1' }, n3: { 'kubernetes.io/hostname': 'n3', zone: 'z2' } };
  const on = (nodeName: string, p: ReturnType<typeof pod>) => ({ ...p, spec: { ...p.spec, nodeName } });
  const placement = { pods: [on('n1', pod('web-1', { app: 'web' }))], nodeLabels: (n: string) => labels[n] };
  const nodeObj = (n: string) => ({ metadata: { name: n, labels: labels[n] } });
  const apart = (key: string) => ({ podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ ...term({ app: 'web' }), topologyKey: key }] } });
  assert.equal(affinityReason(pod('web-2', { app: 'web' }, apart('kubernetes.io/hostname')), nodeObj('n2'), placement), undefined, 'another host');
  assert.match(affinityReason(pod('web-2', { app: 'web' }, apart('zone')), nodeObj('n2'), placement)!.reasons[0]!, /didn't match pod anti-affinity rules/, 'the same zone');
  assert.equal(affinityReason(pod('web-2', { app: 'web' }, apart('zone')), nodeObj('n3'), placement), undefined, 'another zone');
  const near = { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ ...term({ app: 'web' }), topologyKey: 'zone' }] } };
  assert.equal(affinityReason(pod('cache', { app: 'cache' }, near), nodeObj('n2'), placement), undefined, 'in web-1\'s zone');
  assert.match(affinityReason(pod('cache', { app: 'cache' }, near), nodeObj('n3'), placement)!.reasons[0]!, /didn't match pod affinity rules/);
});
