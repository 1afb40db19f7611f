import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localnetChain, localnetDropRule, localnetHookRule, localnetSaveLines } from './localnet-guard.js';

test("the DROP rule is kube-proxy's CVE-2020-8558 rule, in its own chain per bridge", () => {
  assert.deepEqual(localnetDropRule(), [
    '!', '-s', '127.0.0.0/8', '-d', '127.0.0.0/8',
    '-m', 'comment', '--comment', 'block incoming localnet connections',
    '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT',
    '-j', 'DROP',
  ]);
  assert.equal(localnetChain('podbay0'), 'PODBAY-LNET-podbay0');
  assert.deepEqual(localnetHookRule('podbay0'), ['-i', 'podbay0', '-m', 'comment', '--comment', 'podbay: localnet guard for podbay0', '-j', 'PODBAY-LNET-podbay0']);
});

test('chain names fit iptables (28 characters) and stay distinct for 15-character bridges', () => {
  const a = localnetChain('abcdefghijklmn1');
  const b = localnetChain('abcdefghijklmn2');
  assert.ok(a.length <= 28, a);
  assert.notEqual(a, b);
});

test('what iptables-save shows for a guard (kube-proxy prints its rule the same way)', () => {
  assert.deepEqual(localnetSaveLines('pbnetsec0'), [
    ':PODBAY-LNET-pbnetsec0 - [0:0]',
    '-A INPUT -i pbnetsec0 -m comment --comment "podbay: localnet guard for pbnetsec0" -j PODBAY-LNET-pbnetsec0',
    '-A PODBAY-LNET-pbnetsec0 ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
  ]);
});
