import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromServices, serviceEnv } from './service-env.js';

const svc = (ns: string, name: string, spec: Record<string, any>) => ({ metadata: { namespace: ns, name }, spec });
const kubernetes = svc('default', 'kubernetes', { clusterIP: '10.43.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] });
const web = svc('shop', 'my-web', { clusterIP: '10.43.0.20', ports: [{ port: 80 }, { name: 'metrics-port', port: 9090, protocol: 'UDP' }] });
const headless = svc('shop', 'db', { clusterIP: 'None', ports: [{ port: 5432 }] });
const ext = svc('shop', 'ext', { type: 'ExternalName', externalName: 'example.com' });
const other = svc('elsewhere', 'api', { clusterIP: '10.43.0.30', ports: [{ port: 80 }] });

describe('service environment variables (kubelet envvars)', () => {
  it('FromServices: host, first port, named ports and the Docker link variables', () => {
    assert.deepEqual(Object.fromEntries(fromServices([web])), {
      MY_WEB_SERVICE_HOST: '10.43.0.20',
      MY_WEB_SERVICE_PORT: '80',
      MY_WEB_SERVICE_PORT_METRICS_PORT: '9090',
      MY_WEB_PORT: 'tcp://10.43.0.20:80',
      MY_WEB_PORT_80_TCP: 'tcp://10.43.0.20:80',
      MY_WEB_PORT_80_TCP_PROTO: 'tcp',
      MY_WEB_PORT_80_TCP_PORT: '80',
      MY_WEB_PORT_80_TCP_ADDR: '10.43.0.20',
      MY_WEB_PORT_9090_UDP: 'udp://10.43.0.20:9090',
      MY_WEB_PORT_9090_UDP_PROTO: 'udp',
      MY_WEB_PORT_9090_UDP_PORT: '9090',
      MY_WEB_PORT_9090_UDP_ADDR: '10.43.0.20',
    });
  });

  it('the kubernetes Service always; the namespace\'s Services with enableServiceLinks; no headless, ExternalName or other namespaces', () => {
    const all = [other, ext, headless, web, kubernetes];
    const on = serviceEnv(all, 'shop', true);
    assert.equal(on.get('KUBERNETES_SERVICE_HOST'), '10.43.0.1');
    assert.equal(on.get('KUBERNETES_SERVICE_PORT_HTTPS'), '443');
    assert.equal(on.get('MY_WEB_SERVICE_HOST'), '10.43.0.20');
    assert.ok(![...on.keys()].some((k) => /^(DB|EXT|API)_/.test(k)), [...on.keys()].join(' '));
    const off = serviceEnv(all, 'shop', false);
    assert.equal(off.get('KUBERNETES_SERVICE_HOST'), '10.43.0.1');
    assert.equal(off.has('MY_WEB_SERVICE_HOST'), false);
  });

  it('a Service named kubernetes in the pod\'s own namespace wins over default\'s (the kubelet\'s map keeps the last), whatever the list order', () => {
    const mine = svc('shop', 'kubernetes', { clusterIP: '10.43.0.99', ports: [{ port: 1 }] });
    assert.equal(serviceEnv([mine, kubernetes], 'shop', true).get('KUBERNETES_SERVICE_HOST'), '10.43.0.99');
    assert.equal(serviceEnv([kubernetes, mine], 'shop', true).get('KUBERNETES_SERVICE_HOST'), '10.43.0.99');
    assert.equal(serviceEnv([mine, kubernetes], 'shop', false).get('KUBERNETES_SERVICE_HOST'), '10.43.0.1');
  });
});
