import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHostportRules, hostportHooks, hostportRestoreText, mappingChain, readHostportState, validatePortMappings, type HostPortEntry } from './hostport-manager.js';

const web: HostPortEntry = { sandboxId: 'sb1', pod: 'default/web', ips: ['10.88.0.5'], portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] };
const dns: HostPortEntry = { sandboxId: 'sb2', pod: 'kube-system/dns', ips: ['10.88.0.6', 'fd00::6'], portMappings: [{ hostPort: 53, containerPort: 5353, protocol: 'udp', hostIP: '127.0.0.1' }, { hostPort: 5300, containerPort: 53, protocol: 'sctp' }] };

test('one mapping: the jump by port, hairpin and 127.0.0.1 marked, then the DNAT; marked traffic masqueraded', () => {
  const c = mappingChain('podbay0', 'sb1', web.portMappings[0]!, '10.88.0.5');
  assert.match(c, /^PODBAY-HPD-[A-Z2-7]{16}$/);
  assert.ok(c.length <= 28);
  const r = buildHostportRules('podbay0', '10.88.0.0/16', [web], 4);
  assert.deepEqual(r.chains, ['PODBAY-HP-podbay0', 'PODBAY-HPM-podbay0', c]);
  assert.deepEqual(r.rules, [
    `-A PODBAY-HP-podbay0 -p tcp -m tcp --dport 8080 -m comment --comment "default/web hostport 8080" -j ${c}`,
    `-A ${c} -s 10.88.0.0/16 -m comment --comment "default/web hostport 8080" -j MARK --set-xmark 0x2000/0x2000`,
    `-A ${c} -s 127.0.0.0/8 -m comment --comment "default/web hostport 8080" -j MARK --set-xmark 0x2000/0x2000`,
    `-A ${c} -p tcp -m tcp -m comment --comment "default/web hostport 8080" -j DNAT --to-destination 10.88.0.5:80`,
    '-A PODBAY-HPM-podbay0 -m mark --mark 0x2000/0x2000 -m comment --comment "podbay: hostport traffic of pods and 127.0.0.1" -j MASQUERADE',
  ]);
  assert.deepEqual(r.udpPorts, []);
});

test('hostIP is matched, and only in its family; UDP ports are reported; IPv6 DNAT brackets the address', () => {
  const v4 = buildHostportRules('br1', '10.88.0.0/16', [dns], 4);
  assert.equal(v4.mappingChains.length, 2);
  assert.ok(v4.rules.some((l) => /^-A PODBAY-HP-br1 -d 127\.0\.0\.1\/32 -p udp -m udp --dport 53 /.test(l)));
  assert.ok(v4.rules.some((l) => /^-A PODBAY-HP-br1 -p sctp -m sctp --dport 5300 /.test(l)));
  assert.deepEqual(v4.udpPorts, [53]);
  const v6 = buildHostportRules('br1', '10.88.0.0/16', [dns], 6);
  assert.equal(v6.mappingChains.length, 1, 'the 127.0.0.1 mapping has no IPv6 rule');
  assert.ok(v6.rules.some((l) => l.endsWith('-j DNAT --to-destination [fd00::6]:53')));
  assert.ok(v6.rules.some((l) => l.includes('-s fd00::6/128 ')), 'the pod network is IPv4: hairpin is the pod itself');
  assert.ok(!v6.rules.some((l) => l.includes('127.0.0.0/8')));
});

test('the restore text declares every chain, deletes stale ones and inserts missing jumps', () => {
  const r = buildHostportRules('podbay0', '10.88.0.0/16', [web], 4);
  const hooks = hostportHooks('podbay0');
  const text = hostportRestoreText('podbay0', r, ['PODBAY-HPD-AAAAAAAAAAAAAAAA', r.mappingChains[0]!], hooks.slice(2));
  const lines = text.split('\n');
  assert.equal(lines[0], '*nat');
  assert.deepEqual(lines.filter((l) => l.startsWith(':')), [...r.chains, 'PODBAY-HPD-AAAAAAAAAAAAAAAA'].map((c) => `:${c} - [0:0]`));
  assert.deepEqual(lines.filter((l) => l.startsWith('-X')), ['-X PODBAY-HPD-AAAAAAAAAAAAAAAA']);
  assert.deepEqual(lines.filter((l) => l.startsWith('-I')), ['-I POSTROUTING 1 -o podbay0 -m comment --comment "podbay: hostport masquerade for podbay0" -j PODBAY-HPM-podbay0']);
  assert.deepEqual(lines.slice(-2), ['COMMIT', '']);
  assert.deepEqual(hooks.map((h) => h.chain), ['PREROUTING', 'OUTPUT', 'POSTROUTING']);
  assert.ok(hooks[0]!.rule.endsWith('-m addrtype --dst-type LOCAL -j PODBAY-HP-podbay0'));
});

test('iptables-save is read for the jumps present and the per-mapping chains of this bridge only', () => {
  const save = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':PODBAY-HP-podbay0 - [0:0]',
    ':PODBAY-HPM-podbay0 - [0:0]',
    ':PODBAY-HPD-AAAAAAAAAAAAAAAA - [0:0]',
    ':PODBAY-HPD-BBBBBBBBBBBBBBBB - [0:0]',
    '-A PREROUTING -m comment --comment "podbay: hostports of podbay0" -m addrtype --dst-type LOCAL -j PODBAY-HP-podbay0',
    '-A POSTROUTING -o podbay0 -m comment --comment "podbay: hostport masquerade for podbay0" -j PODBAY-HPM-podbay0',
    '-A PODBAY-HP-podbay0 -p tcp -m tcp --dport 1 -j PODBAY-HPD-AAAAAAAAAAAAAAAA',
    '-A PODBAY-HP-other -p tcp -m tcp --dport 2 -j PODBAY-HPD-BBBBBBBBBBBBBBBB',
    'COMMIT',
  ].join('\n');
  const s = readHostportState(save, 'podbay0');
  assert.deepEqual([...s.hooks].sort(), ['POSTROUTING>PODBAY-HPM-podbay0', 'PREROUTING>PODBAY-HP-podbay0']);
  assert.deepEqual(s.mappingChains, ['PODBAY-HPD-AAAAAAAAAAAAAAAA']);
  assert.equal(s.hasChains, true);
  assert.equal(s.hookLines.length, 2);
  assert.equal(readHostportState(save, 'br9').hasChains, false);
});

test('comments keep only plain characters; bad mappings are refused before anything is made', () => {
  const odd = buildHostportRules('b', '10.0.0.0/24', [{ ...web, pod: 'a"b\\c/d$(x)' }], 4);
  assert.ok(odd.rules[0]!.includes('--comment "a?b?c/d??x? hostport 8080"'));
  assert.throws(() => validatePortMappings([{ hostPort: 1, containerPort: 1, protocol: 'bogus' as 'tcp' }]), /unknown protocol "bogus"/);
  assert.throws(() => validatePortMappings([{ hostPort: 0, containerPort: 1, protocol: 'tcp' }]), /hostPort must be 1-65535/);
  assert.throws(() => validatePortMappings([{ hostPort: 1, containerPort: 70000, protocol: 'tcp' }]), /containerPort must be 1-65535/);
  assert.throws(() => validatePortMappings([{ hostPort: 1, containerPort: 1, protocol: 'tcp', hostIP: '1.2.3.4 -j ACCEPT' }]), /hostIP is not an IP address/);
  validatePortMappings([{ hostPort: 1, containerPort: 1, protocol: 'tcp', hostIP: '::1' }]);
});
