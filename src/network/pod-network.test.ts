import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressesFromResult, bridgeMasqChain, buildConfList, CniPodNetwork, portMappingsCapability } from './pod-network.js';
import type { NetworkSettings } from './types.js';

const settings: NetworkSettings = {
  runDir: '/run/podbay-x',
  confDir: '/etc/podbay-x/cni',
  binDirs: ['/usr/lib/cni'],
  networkName: 'podbay',
  bridge: 'podbay0',
  podCidr: '10.88.0.0/16',
};

test('the config list: bridge (gateway, masq, hairpin, host-local in runDir), no portmap (hostPorts are podbay\'s own rules)', () => {
  assert.deepEqual(buildConfList(settings), {
    cniVersion: '1.0.0',
    name: 'podbay',
    plugins: [
      {
        type: 'bridge',
        bridge: 'podbay0',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/run/podbay-x/ipam' },
      },
    ],
  });
  const extra = buildConfList({ ...settings, extraPlugins: [{ type: 'tuning', sysctl: { 'net.core.somaxconn': '512' } }] });
  assert.deepEqual(extra.plugins.map((p) => p.type), ['bridge', 'tuning']);
  const v6 = buildConfList({ ...settings, podCidr: 'fd00:88::/64' }).plugins[0]!.ipam as { routes: unknown };
  assert.deepEqual(v6.routes, [{ dst: '::/0' }]);
});

test('port mappings become portMappings capability entries', () => {
  assert.deepEqual(
    portMappingsCapability([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '127.0.0.1' },
    ]),
    [
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '127.0.0.1' },
    ],
  );
});

test('pod IPs come from the sandbox interface, IPv4 first, with the gateway', () => {
  const result = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'podbay0', mac: 'a' }, { name: 'veth1', mac: 'b' }, { name: 'eth0', mac: 'c', sandbox: '/run/p/netns/x' }],
    ips: [
      { address: 'fd00::5/64', gateway: 'fd00::1', interface: 2 },
      { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 2 },
      { address: '10.99.0.1/16', interface: 0 },
    ],
  };
  assert.deepEqual(addressesFromResult(result), { ips: ['10.88.0.5', 'fd00::5'], gateway: '10.88.0.1' });
  assert.deepEqual(addressesFromResult({ cniVersion: '1.0.0', ips: [{ address: '10.1.0.2/24' }] }), { ips: ['10.1.0.2'], gateway: undefined });
  assert.deepEqual(addressesFromResult(undefined), { ips: [], gateway: undefined });
});

test("the bridge plugin's masquerade chain name and comment (as seen in iptables-save)", () => {
  assert.deepEqual(bridgeMasqChain('pbnettest', 'smoke1'), { chain: 'CNI-8d319fb6f73e87b27b1b33ae', comment: 'name: "pbnettest" id: "smoke1"' });
});

test('settings are checked when the network is made', () => {
  assert.throws(() => new CniPodNetwork({ ...settings, bridge: 'a-very-long-bridge-name' }), /invalid bridge name/);
  assert.throws(() => new CniPodNetwork({ ...settings, runDir: '' }), /runDir is required/);
  assert.throws(() => new CniPodNetwork({ ...settings, networkName: 'a/b' }), /invalid networkName/);
  const n = new CniPodNetwork({ ...settings, binDirs: [] });
  assert.deepEqual(n.settings.binDirs, ['/usr/lib/cni', '/opt/cni/bin']);
  assert.equal(n.confPath, '/etc/podbay-x/cni/podbay.conflist');
});

test('pods leave masqueraded through one chain per bridge, pod-to-pod and multicast untouched', async () => {
  const { masqueradeRules, masqueradeChain } = await import('./pod-masquerade.js');
  const r = masqueradeRules('pbnettest0', '10.250.0.0/24');
  assert.equal(r.chain, 'PODBAY-MASQ-pbnettest0');
  assert.ok(masqueradeChain('abcdefghijklmno').length <= 28, 'chain name within iptables limit');
  assert.deepEqual(r.hook.match.slice(0, 2), ['-s', '10.250.0.0/24']);
  assert.deepEqual(r.rules.map((x) => x.at(-1)), ['RETURN', 'RETURN', 'MASQUERADE']);
  assert.deepEqual(r.rules[0]!.slice(0, 2), ['-d', '10.250.0.0/24']);
  assert.equal(masqueradeRules('pb6', 'fd00:1::/64').v6, true);
  // a node of a larger cluster: pods of other nodes are reached with the pod's own address
  const multi = masqueradeRules('pbmn1', '10.200.1.0/24', '10.200.0.0/16');
  assert.deepEqual(multi.rules.map((x) => `${x[0]} ${x[1]} ${x.at(-1)}`), ['-d 10.200.1.0/24 RETURN', '-d 10.200.0.0/16 RETURN', '-d 224.0.0.0/4 RETURN', '-m comment MASQUERADE']);
});
