import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routePlan } from './node-routes.js';

const node = (name: string, podCIDR?: string, ip?: string) => ({ metadata: { name }, spec: podCIDR ? { podCIDR } : {}, status: { addresses: ip ? [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] : [] } });

test('host-gw: every other node\'s podCIDR via its InternalIP when on a shared subnet; the rest refused with why', () => {
  const nodes = [node('server', '10.200.0.0/24', '172.31.200.1'), node('b', '10.200.2.0/24', '172.31.200.12'), node('a', '10.200.1.0/24', '172.31.200.11'), node('far', '10.200.3.0/24', '192.0.2.7'), node('new', '10.200.4.0/24'), node('nocidr', undefined, '172.31.200.13')];
  const plan = routePlan({ name: 'a', podCidr: '10.200.1.0/24', clusterCidr: '10.200.0.0/16' }, [...nodes, node('lan', '172.31.200.0/24', '172.31.200.14'), node('everything', '0.0.0.0/0', '172.31.200.15')], ['172.31.200.11/24']);
  assert.deepEqual(plan.routes, [
    { cidr: '10.200.2.0/24', via: '172.31.200.12', node: 'b' },
    { cidr: '10.200.0.0/24', via: '172.31.200.1', node: 'server' },
  ]);
  assert.deepEqual(plan.refused.map((r) => `${r.node}: ${r.why}`), [
    'everything: its podCIDR is not inside the cluster CIDR 10.200.0.0/16',
    'far: its InternalIP 192.0.2.7 is not on a link this node shares (host-gw routes only between nodes on one subnet; VXLAN is not built yet)',
    'lan: its podCIDR is not inside the cluster CIDR 10.200.0.0/16',
    'new: it has no InternalIP address yet',
  ]);
  // a node claiming this node's range gets no route (it would take this node's own pods' traffic)
  assert.deepEqual(routePlan({ name: 'x', podCidr: '10.200.2.0/24', clusterCidr: '10.200.0.0/16' }, [node('b', '10.200.2.0/24', '172.31.200.12')], ['172.31.200.1/24']).routes, []);
});
