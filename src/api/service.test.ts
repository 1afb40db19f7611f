import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultObject } from './defaults/index.js';
import { validateCreate, validateUpdate, validationErrorText } from './validation/index.js';
import { toTable } from './tables.js';

type Obj = Record<string, any>;
const svc = (spec: Obj, name = 'web'): Obj => defaultObject('Service', { metadata: { name, namespace: 'd' }, spec });
const errs = (o: Obj) => validateCreate('Service', o).map(validationErrorText);

test('Service defaults: ClusterIP, session affinity None, TCP, targetPort = port, traffic policies; no cluster IP allocated', () => {
  assert.deepEqual(svc({ ports: [{ port: 80 }], selector: { app: 'web' } }), {
    metadata: { name: 'web', namespace: 'd' },
    spec: { ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }], selector: { app: 'web' }, sessionAffinity: 'None', type: 'ClusterIP', internalTrafficPolicy: 'Cluster' },
    status: { loadBalancer: {} },
  });
  const lb = svc({ type: 'LoadBalancer', sessionAffinity: 'ClientIP', ports: [{ port: 443, targetPort: 'https' }] });
  assert.equal(lb.spec.externalTrafficPolicy, 'Cluster');
  assert.equal(lb.spec.allocateLoadBalancerNodePorts, true);
  assert.deepEqual(lb.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
  assert.equal(lb.spec.ports[0].targetPort, 'https');
  assert.equal(svc({ type: 'ExternalName', externalName: 'example.com' }).spec.internalTrafficPolicy, undefined);
});

test('Service validation: ports, names, protocols, type, externalName, DNS-1035 names; clusterIP may not change', () => {
  assert.deepEqual(errs(svc({ ports: [{ port: 80 }] })), []);
  assert.deepEqual(errs(svc({})), ['spec.ports: Required value']);
  assert.deepEqual(errs(svc({ ports: [{ port: 80 }, { port: 81 }] })), ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value']);
  assert.deepEqual(errs(svc({ ports: [{ port: 70000, protocol: 'ICMP' }] })), [
    'spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    'spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
  ]);
  assert.deepEqual(errs(svc({ type: 'Headless', ports: [{ port: 80 }] })), ['spec.type: Unsupported value: "Headless": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']);
  assert.deepEqual(errs(svc({ type: 'ExternalName' })), ['spec.externalName: Required value']);
  assert.deepEqual(errs(svc({ clusterIP: 'None', clusterIPs: ['None'] })), [], 'a headless service needs no ports');
  assert.match(errs(svc({ ports: [{ port: 80 }] }, '9lives')).join('\n'), /metadata.name: Invalid value: "9lives": a DNS-1035 label must consist/);
  // what the registry validates has clusterIPs filled from clusterIP (src/registry/strategy/service.ts)
  const old = svc({ clusterIP: '10.0.0.5', clusterIPs: ['10.0.0.5'], ports: [{ port: 80 }] });
  old.metadata.resourceVersion = '3';
  const moved = structuredClone(old);
  moved.spec.clusterIP = '10.0.0.6';
  moved.spec.clusterIPs = ['10.0.0.6'];
  assert.deepEqual(validateUpdate('Service', moved, old).map(validationErrorText), ['spec.clusterIPs[0]: Invalid value: []string{"10.0.0.6"}: may not change once set']);
  // only clusterIPs changed (a patch of that field): both upstream errors
  const plural = structuredClone(old);
  plural.spec.clusterIPs = ['10.0.0.9'];
  assert.deepEqual(validateUpdate('Service', plural, old).map(validationErrorText), [
    'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.9"}: may not change once set',
    'spec.clusterIPs: Invalid value: []string{"10.0.0.9"}: first value must match `clusterIP`',
  ]);
  const toExternal = structuredClone(old);
  Object.assign(toExternal.spec, { type: 'ExternalName', externalName: 'a.b' });
  delete toExternal.spec.clusterIP;
  delete toExternal.spec.clusterIPs;
  assert.deepEqual(validateUpdate('Service', toExternal, old).map(validationErrorText), [], 'a change to ExternalName may drop the cluster IP');
});

test('Service validation: what each type allows of clusterIP(s), ipFamilies and ipFamilyPolicy', () => {
  for (const type of ['NodePort', 'LoadBalancer']) {
    assert.deepEqual(errs(svc({ type, clusterIP: 'None', clusterIPs: ['None'], ports: [{ port: 80 }] })), [`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for ${type} services`]);
  }
  assert.deepEqual(errs(svc({ type: 'ExternalName', externalName: 'a.b', clusterIP: '10.43.77.77', clusterIPs: ['10.43.77.77'] })), ['spec.clusterIPs: Forbidden: may not be set for ExternalName services']);
  assert.deepEqual(errs(svc({ type: 'ExternalName', externalName: 'a.b', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' })), [
    'spec.ipFamilies: Forbidden: may not be set for ExternalName services',
    'spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services',
  ]);
  assert.deepEqual(errs(svc({ clusterIP: '10.0.0.5', clusterIPs: ['10.0.0.6'], ports: [{ port: 80 }] })), ['spec.clusterIPs: Invalid value: []string{"10.0.0.6"}: first value must match `clusterIP`']);
  assert.deepEqual(errs(svc({ clusterIP: '10.0.0.5', ports: [{ port: 80 }] })), ['spec.clusterIPs: Required value']);
  assert.deepEqual(errs(svc({ clusterIPs: ['10.0.0.6'], ports: [{ port: 80 }] })), ['spec.clusterIPs: Invalid value: []string{"10.0.0.6"}: must be empty when `clusterIP` is not specified']);
  assert.deepEqual(errs(svc({ clusterIP: 'x', clusterIPs: ['x'], ports: [{ port: 80 }] })), ['spec.clusterIPs[0]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
  assert.deepEqual(errs(svc({ clusterIP: '10.0.0.5', clusterIPs: ['10.0.0.5', '10.0.0.6'], ports: [{ port: 80 }] })), ['spec.clusterIPs: Invalid value: []string{"10.0.0.5", "10.0.0.6"}: may specify no more than one IP for each IP family']);
  assert.deepEqual(errs(svc({ clusterIP: '10.0.0.5', clusterIPs: ['10.0.0.5'], ipFamilies: ['IPv6', 'IPv7'], ipFamilyPolicy: 'Both', ports: [{ port: 80 }] })), [
    'spec.ipFamilies[1]: Unsupported value: "IPv7": supported values: "IPv4", "IPv6"',
    'spec.ipFamilyPolicy: Unsupported value: "Both": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
    'spec.clusterIPs[0]: Invalid value: "10.0.0.5": expected an IPv6 value as indicated by `ipFamilies[0]`',
  ]);
  // a Local LoadBalancer's health-check port is fixed once set
  const lb = svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30001, clusterIP: '10.0.0.5', clusterIPs: ['10.0.0.5'], ports: [{ port: 80 }] });
  lb.metadata.resourceVersion = '3';
  const hc = structuredClone(lb);
  hc.spec.healthCheckNodePort = 30002;
  assert.deepEqual(validateUpdate('Service', hc, lb).map(validationErrorText), ['spec.healthCheckNodePort: Forbidden: field is immutable']);
});

test('Service table: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE (wide: SELECTOR)', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  const row = (o: Obj) => toTable('Service', [{ metadata: { name: 's', creationTimestamp: '2026-01-01T00:00:00Z' }, ...o }], {}, { now }).rows[0].cells;
  assert.deepEqual(toTable('Service', [], {}).columnDefinitions.map((c: Obj) => c.name), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector']);
  assert.deepEqual(row({ spec: { type: 'NodePort', clusterIP: '10.0.0.1', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }], selector: { app: 'a' } } }), ['s', 'NodePort', '10.0.0.1', '<none>', '80:30080/TCP,53/UDP', '60s', 'app=a']);
  assert.deepEqual(row({ spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }).slice(1, 4), ['LoadBalancer', '<none>', '<pending>']);
  assert.deepEqual(row({ spec: { type: 'ExternalName', externalName: 'example.com' } }).slice(3, 5), ['example.com', '<none>']);
});
