import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { desiredEndpoints, EndpointsController, resolveTargetPort } from './endpoints.js';

const SERVICES = resourceInfo('services')!;
const PODS = resourceInfo('pods')!;
const ENDPOINTS = resourceInfo('endpoints')!;
const SLICES = resourceInfo('endpointslices', 'discovery.k8s.io', 'v1')!;

const pod = (name: string, ip: string, ready: boolean, labels = { app: 'web' }, extra: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, labels },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }], ...extra },
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
const service = { metadata: { name: 'web', namespace: 'default', uid: 'svc-uid' }, spec: { selector: { app: 'web' }, ports: [{ name: 'web', port: 80, targetPort: 'http', protocol: 'TCP' }] } };

test('named target ports resolve per pod; ready pods are addresses, others notReadyAddresses', () => {
  assert.equal(resolveTargetPort(pod('a', '10.0.0.1', true), 'http', 80, 'TCP'), 8080);
  assert.equal(resolveTargetPort(pod('a', '10.0.0.1', true), 'nope', 80, 'TCP'), undefined);
  assert.equal(resolveTargetPort(pod('a', '10.0.0.1', true), undefined, 80, 'TCP'), 80);
  const { endpoints, slices } = desiredEndpoints(service, [pod('b', '10.0.0.2', false), pod('a', '10.0.0.1', true), pod('other', '10.0.0.9', true, { app: 'db' })]);
  assert.deepEqual(endpoints.subsets, [
    {
      addresses: [{ ip: '10.0.0.1', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' } }],
      notReadyAddresses: [{ ip: '10.0.0.2', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'b', uid: 'uid-b' } }],
      ports: [{ name: 'web', port: 8080, protocol: 'TCP' }],
    },
  ]);
  assert.deepEqual(slices[0].ports, [{ name: 'web', port: 8080, protocol: 'TCP' }]);
  assert.deepEqual(slices[0].endpoints.map((e) => [e.addresses[0], e.conditions]), [
    ['10.0.0.1', { ready: true, serving: true, terminating: false }],
    ['10.0.0.2', { ready: false, serving: false, terminating: false }],
  ]);
});

/** a pod as the kubelet leaves it: created, then its status (IP, Ready) written through pods/status */
async function runningPod(reg: Awaited<ReturnType<typeof memoryRegistry>>, p: ReturnType<typeof pod>) {
  const created = await reg.create(PODS, 'default', { metadata: p.metadata, spec: p.spec });
  return reg.update(PODS, 'default', p.metadata.name, { ...created, status: { ...created.status, ...p.status } }, { sub: 'status' });
}

test('the controller keeps Endpoints and an owned EndpointSlice in step with the pods, and removes them with the Service', async () => {
  const reg = await memoryRegistry();
  const client = new LocalClient(reg);
  const ctl = new EndpointsController(client, { resyncPeriodMs: 0 });
  await ctl.start();
  try {
    const svc = await reg.create(SERVICES, 'default', structuredClone(service));
    await runningPod(reg, pod('a', '10.0.0.1', true));
    await until('endpoints with a', async () => JSON.stringify((await reg.tryGet(ENDPOINTS, 'default', 'web'))?.subsets ?? []).includes('10.0.0.1'));
    const slices = (await reg.list(SLICES, 'default', { labelSelector: 'kubernetes.io/service-name=web' })).items;
    assert.equal(slices.length, 1);
    assert.equal(slices[0].addressType, 'IPv4');
    assert.deepEqual(slices[0].metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(slices[0].metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');

    // a second pod, then the first stops matching
    await runningPod(reg, pod('b', '10.0.0.2', true));
    await until('slice with b', async () => JSON.stringify((await reg.list(SLICES, 'default', {})).items).includes('10.0.0.2'));
    const a = await reg.get(PODS, 'default', 'a');
    await reg.update(PODS, 'default', 'a', { ...a, metadata: { ...a.metadata, labels: { app: 'other' } } });
    await until('a gone from the endpoints', async () => !JSON.stringify((await reg.tryGet(ENDPOINTS, 'default', 'web'))?.subsets ?? []).includes('10.0.0.1'));

    await reg.delete(SERVICES, 'default', 'web');
    await until('endpoints and slices gone', async () => !(await reg.tryGet(ENDPOINTS, 'default', 'web')) && (await reg.list(SLICES, 'default', {})).items.length === 0);
  } finally {
    await ctl.stop();
  }
});

test('a headless Service\'s Endpoints and EndpointSlices carry service.kubernetes.io/headless; one with a cluster IP never does', async () => {
  const reg = await memoryRegistry();
  const client = new LocalClient(reg);
  const ctl = new EndpointsController(client, { resyncPeriodMs: 0 });
  await ctl.start();
  try {
    const headless = structuredClone(service) as any;
    headless.metadata = { name: 'hl', namespace: 'default', labels: { team: 'a' } };
    headless.spec.clusterIP = 'None';
    await reg.create(SERVICES, 'default', headless);
    // the Service's own labels are copied, but a headless label it carries is not trusted
    const withIp = structuredClone(service) as any;
    withIp.metadata = { name: 'ip', namespace: 'default', labels: { 'service.kubernetes.io/headless': '', 'kubernetes.io/service-name': 'spoof' } };
    await reg.create(SERVICES, 'default', withIp);
    await runningPod(reg, pod('a', '10.0.0.1', true));
    const sliceOf = async (svc: string) => (await reg.list(SLICES, 'default', { labelSelector: `kubernetes.io/service-name=${svc}` })).items[0];
    await until('both slices', async () => !!(await sliceOf('hl')) && !!(await sliceOf('ip')) && !!(await reg.tryGet(ENDPOINTS, 'default', 'ip')));
    assert.deepEqual((await sliceOf('hl')).metadata.labels, {
      team: 'a',
      'service.kubernetes.io/headless': '',
      'kubernetes.io/service-name': 'hl',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    });
    assert.deepEqual((await reg.get(ENDPOINTS, 'default', 'hl')).metadata.labels, { team: 'a', 'service.kubernetes.io/headless': '' });
    assert.deepEqual((await sliceOf('ip')).metadata.labels, { 'kubernetes.io/service-name': 'ip', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
    assert.deepEqual((await reg.get(ENDPOINTS, 'default', 'ip')).metadata.labels, { 'kubernetes.io/service-name': 'spoof' });
  } finally {
    await ctl.stop();
  }
});
