import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinObjects, kubeDnsService, kubernetesService } from './kubernetes-service.js';

describe('the builtin Services', () => {
  it('default/kubernetes: 443 https -> the advertise address at the API port, with its Endpoints and EndpointSlice', () => {
    const o = builtinObjects(kubernetesService('10.43.0.1', '10.85.0.1', 6443));
    assert.equal(o.service.metadata.namespace, 'default');
    assert.deepEqual(o.service.metadata.labels, { component: 'apiserver', provider: 'kubernetes' });
    assert.equal(o.service.spec.clusterIP, '10.43.0.1');
    assert.equal(o.service.spec.selector, undefined, 'no selector: the endpoints controller leaves it alone');
    assert.deepEqual(o.service.spec.ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }]);
    assert.deepEqual(o.endpoints.subsets, [{ addresses: [{ ip: '10.85.0.1' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
    assert.equal(o.slice.metadata.labels['kubernetes.io/service-name'], 'kubernetes');
    assert.equal(o.slice.metadata.labels['endpointslice.kubernetes.io/managed-by'], undefined, 'not the endpoints controller\'s');
    assert.equal(o.endpoints.metadata.labels['endpointslice.kubernetes.io/skip-mirror'], 'true', 'not mirrored: the server writes its slice');
    assert.deepEqual(o.slice.endpoints, [{ addresses: ['10.85.0.1'], conditions: { ready: true } }]);
  });

  it('kube-system/kube-dns: 53 UDP and TCP, labeled for kubectl cluster-info', () => {
    const o = builtinObjects(kubeDnsService('10.43.0.10', '10.85.0.1', 53));
    assert.equal(o.service.metadata.namespace, 'kube-system');
    assert.equal(o.service.metadata.labels['kubernetes.io/cluster-service'], 'true');
    assert.deepEqual(o.service.spec.ports.map((p: any) => [p.name, p.port, p.protocol]), [['dns', 53, 'UDP'], ['dns-tcp', 53, 'TCP']]);
    assert.deepEqual(o.slice.ports, [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }]);
  });
});
