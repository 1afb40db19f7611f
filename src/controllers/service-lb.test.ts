import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignLoadBalancers, SERVICE_LB_CLASS } from './service-lb.js';
import { serviceLbAddress } from '../cli/server.js';

const svc = (name: string, created: string, ports: number[], over: Record<string, unknown> = {}, status?: unknown) => ({
  metadata: { namespace: 'default', name, creationTimestamp: created },
  spec: { type: 'LoadBalancer', ports: ports.map((port) => ({ port, protocol: 'TCP' })), ...over },
  ...(status ? { status } : {}),
});

test('LoadBalancer Services without a class or with ours get the address; a port clash leaves the newer one pending', () => {
  const plan = assignLoadBalancers(
    [
      svc('b', '2026-01-02T00:00:00Z', [80]),
      svc('a', '2026-01-01T00:00:00Z', [80, 443]),
      svc('c', '2026-01-03T00:00:00Z', [8080], { loadBalancerClass: SERVICE_LB_CLASS }),
      svc('other', '2026-01-01T00:00:00Z', [9090], { loadBalancerClass: 'example.com/lb' }),
      svc('plain', '2026-01-01T00:00:00Z', [81], { type: 'ClusterIP' }),
    ],
    '127.0.0.51',
  );
  assert.deepEqual(plan.get('default/a'), { ingress: [{ ip: '127.0.0.51' }] });
  assert.deepEqual(plan.get('default/b'), { error: 'port 80/TCP on 127.0.0.51 is already used by LoadBalancer Service default/a' });
  assert.deepEqual(plan.get('default/c'), { ingress: [{ ip: '127.0.0.51' }] });
  assert.equal(plan.has('default/other'), false, 'another class is left alone');
  assert.equal(plan.has('default/plain'), false);
});

test('a Service already holding the address keeps it against an older one; one that stops being ours is cleared', () => {
  const held = { loadBalancer: { ingress: [{ ip: '127.0.0.51' }] } };
  const plan = assignLoadBalancers([svc('old', '2026-01-01T00:00:00Z', [80]), svc('new', '2026-01-02T00:00:00Z', [80], {}, held), svc('was', '2026-01-01T00:00:00Z', [90], { type: 'NodePort' }, held)], '127.0.0.51');
  assert.ok(plan.get('default/new')?.ingress);
  assert.match(plan.get('default/old')?.error ?? '', /already used by LoadBalancer Service default\/new/);
  assert.deepEqual(plan.get('default/was'), {});
  // UDP and TCP on the same port number do not clash
  const mixed = assignLoadBalancers([svc('t', '1', [53]), { ...svc('u', '2', []), spec: { type: 'LoadBalancer', ports: [{ port: 53, protocol: 'UDP' }] } }], '127.0.0.51');
  assert.ok(mixed.get('default/u')?.ingress);
});

test('--service-lb-address: an IP, none, or the node address by default', () => {
  assert.equal(serviceLbAddress('127.0.0.51', true), '127.0.0.51');
  assert.equal(serviceLbAddress('none', true), undefined);
  assert.equal(serviceLbAddress(undefined, true, () => ['192.0.2.7']), '192.0.2.7');
  assert.equal(serviceLbAddress(undefined, false, () => ['192.0.2.7']), undefined);
  assert.throws(() => serviceLbAddress('0.0.0.0', true), /want an IP address of this host, or none/);
  assert.throws(() => serviceLbAddress('lb.example', true), /--service-lb-address/);
});
