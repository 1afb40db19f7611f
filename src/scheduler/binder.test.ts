/**
 * The binder as an API client on the memory store (no root, no host): it binds what fits and
 * keeps the rest Pending with the condition and event kube-scheduler gives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import { LocalClient } from '../client/local.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { Binder } from './binder.js';

const PODS = resourceInfo('pods')!;
const NODES = resourceInfo('nodes')!;
const EVENTS = resourceInfo('events')!;

function pod(name: string, spec: Obj = {}, container: Obj = {}): Obj {
  return { metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox', ...container }], ...spec } };
}

const HOST_PORT = { ports: [{ containerPort: 80, hostPort: 18100 }] };

describe('binder', () => {
  it('binds a pod that fits; a nodeSelector miss or a taken hostPort stays Pending with PodScheduled=False and a FailedScheduling event', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const node = await client.resource(NODES).create(undefined, { metadata: { name: 'n1', labels: { disk: 'ssd' } } });
    await client.resource(NODES).update({ ...node, status: { allocatable: { cpu: '2', memory: '1Gi', pods: '110' } } }, { sub: 'status' });
    const pods = client.resource(PODS);
    await pods.create('default', pod('fits', { nodeSelector: { disk: 'ssd' } }, HOST_PORT));
    await pods.create('default', pod('elsewhere', { nodeSelector: { disk: 'hdd' } }));
    await pods.create('default', pod('other-scheduler', { schedulerName: 'custom' }));

    const binder = new Binder(client, 'n1', () => {});
    await binder.start();
    try {
      await until('the pod bound', async () => (await pods.get('default', 'fits')).spec.nodeName === 'n1');
      // a second pod wanting the same hostPort cannot be placed beside it
      await pods.create('default', pod('port-clash', {}, HOST_PORT));
      const cond = async (name: string) => (await pods.get('default', name)).status?.conditions?.find((c: Obj) => c.type === 'PodScheduled');
      await until('the selector miss reported', async () => (await cond('elsewhere'))?.reason === 'Unschedulable');
      await until('the port clash reported', async () => (await cond('port-clash'))?.reason === 'Unschedulable');
      assert.match((await cond('elsewhere')).message, /^0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector/);
      assert.match((await cond('port-clash')).message, /^0\/1 nodes are available: 1 node\(s\) didn't have free ports for the requested pod ports/);
      assert.equal((await pods.get('default', 'port-clash')).spec.nodeName, undefined);
      assert.equal((await pods.get('default', 'other-scheduler')).spec.nodeName, undefined, 'another scheduler\'s pod is left alone');
      await until('the events', async () => (await client.resource(EVENTS).list('default')).items.length >= 3);
      const events = (await client.resource(EVENTS).list('default')).items.map((e) => `${e.reason} ${e.involvedObject.name} ${e.source.component}`).sort();
      assert.deepEqual(events, ['FailedScheduling elsewhere default-scheduler', 'FailedScheduling port-clash default-scheduler', 'Scheduled fits default-scheduler']);
      // the port frees when its holder goes: the waiting pod is bound
      await pods.delete('default', 'fits', { gracePeriodSeconds: 0 });
      await until('the waiting pod bound', async () => (await pods.get('default', 'port-clash')).spec.nodeName === 'n1');
    } finally {
      binder.stop();
    }
  });

  it('spreads a ReplicaSet\'s pods over every node that can take them; tainted and cordoned nodes are left out; hostPorts are per node', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const nodes = client.resource(NODES);
    for (const name of ['n1', 'n2', 'n3', 'n4', 'n5']) {
      const n = await nodes.create(undefined, { metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
      const spec = name === 'n4' ? { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }] } : name === 'n5' ? { unschedulable: true } : {};
      const withSpec = await nodes.update({ ...n, spec });
      await nodes.update({ ...withSpec, status: { allocatable: { cpu: '2', memory: '1Gi', pods: '110' } } }, { sub: 'status' });
    }
    const pods = client.resource(PODS);
    const owner = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true }];
    for (let i = 0; i < 4; i++) await pods.create('default', { ...pod(`web-${i}`), metadata: { name: `web-${i}`, ownerReferences: owner } });
    const binder = new Binder(client, 'n1', () => {});
    await binder.start();
    try {
      await until('all four bound', async () => (await pods.list('default')).items.every((p) => p.spec.nodeName));
      const placed = (await pods.list('default')).items.map((p) => p.spec.nodeName);
      assert.deepEqual([...new Set(placed)].sort(), ['n1', 'n2', 'n3'], `spread over the three schedulable nodes: ${placed}`);
      // one hostPort per node: three pods wanting it fit, a fourth does not, and says why per node
      for (let i = 0; i < 4; i++) await pods.create('default', pod(`hp-${i}`, {}, HOST_PORT));
      const cond = async (name: string) => (await pods.get('default', name)).status?.conditions?.find((c: Obj) => c.type === 'PodScheduled');
      const waiting = async () => (await pods.list('default')).items.filter((p) => p.metadata.name.startsWith('hp-') && !p.spec.nodeName);
      await until('one hostPort pod left over', async () => {
        const w = await waiting();
        return w.length === 1 && (await cond(w[0].metadata.name))?.reason === 'Unschedulable';
      });
      const stuck = (await waiting())[0];
      const hpNodes = (await pods.list('default')).items.filter((p) => p.metadata.name.startsWith('hp-') && p.spec.nodeName).map((p) => p.spec.nodeName).sort();
      assert.deepEqual(hpNodes, ['n1', 'n2', 'n3']);
      assert.equal(
        (await cond(stuck.metadata.name)).message,
        "0/5 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable, 3 node(s) didn't have free ports for the requested pod ports. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.",
      );
      // the taint goes (the node came back): the waiting pod lands there
      const n4 = await nodes.get(undefined, 'n4');
      await nodes.update({ ...n4, spec: {} });
      await until('the waiting pod bound to n4', async () => (await pods.get('default', stuck.metadata.name)).spec.nodeName === 'n4');
    } finally {
      binder.stop();
    }
  });
});
