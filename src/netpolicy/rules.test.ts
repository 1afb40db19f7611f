import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPolicyRules, leftoverChains, cidrExcept, type NamespaceInfo, podChain, policyChain, policyJumps, targetPods, topChains, type PodInfo, type PolicyInfo, type PolicyRulesInput } from './rules.js';

const pod = (name: string, ip: string | undefined, labels: Record<string, string>, namespace = 'default', ports: PodInfo['ports'] = []): PodInfo => ({ namespace, name, ip, labels, ports });
const web = pod('web', '10.85.0.10', { app: 'web' }, 'default', [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
const client = pod('client', '10.85.0.11', { role: 'client' });
const other = pod('other', '10.85.0.12', { role: 'other' });
const remote = pod('remote', '10.85.0.20', { role: 'client' }, 'team-b');
const pending = pod('pending', undefined, { app: 'web' });
const namespaces: NamespaceInfo[] = [
  { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } },
  { name: 'team-b', labels: { 'kubernetes.io/metadata.name': 'team-b', team: 'b' } },
];
const policy = (over: Partial<PolicyInfo>): PolicyInfo => ({ namespace: 'default', name: 'p', podSelector: { matchLabels: { app: 'web' } }, ...over });
const input = (policies: PolicyInfo[], tag = ''): PolicyRulesInput => ({ policies, pods: [web, client, other, remote, pending], namespaces, tag });

/** the rules of one chain, without "-A CHAIN" and comments */
function chain(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`-A ${name} `))
    .map((l) => l.slice(`-A ${name} `.length).replace(/-m comment --comment "[^"]*" /g, ''));
}

test('default deny ingress: the selected pod gets a firewall chain jumped for traffic to it; nothing else does', () => {
  const p = policy({ ingress: [] });
  const { text, chains } = buildPolicyRules(input([p]));
  const fw = podChain(web, '');
  const top = topChains('');
  assert.deepEqual(chain(text, top.forward), [`-d 10.85.0.10/32 -j ${fw}`, '-m mark --mark 0x20000/0x20000 -j ACCEPT']);
  assert.deepEqual(chain(text, top.output), [`-d 10.85.0.10/32 -j ${fw}`, '-m mark --mark 0x20000/0x20000 -j ACCEPT']);
  assert.deepEqual(chain(text, top.input), ['-m mark --mark 0x20000/0x20000 -j ACCEPT'], 'no egress policy: the pod may talk to the node');
  const pc = policyChain(p, 'ingress', '');
  assert.deepEqual(chain(text, fw), [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-m conntrack --ctstate INVALID -j DROP',
    '-d 10.85.0.10/32 -m addrtype --src-type LOCAL -j ACCEPT',
    `-d 10.85.0.10/32 -j ${pc}`,
    '-m mark ! --mark 0x10000/0x10000 -j REJECT --reject-with icmp-port-unreachable',
    '-j MARK --set-xmark 0x0/0x10000',
    '-j MARK --set-xmark 0x20000/0x20000',
  ]);
  assert.deepEqual(chain(text, pc), [], 'no rule allows anything');
  assert.ok(chains.includes(pc) && chains.includes(fw));
  assert.ok(!text.includes(podChain(client, '')), 'an unselected pod has no firewall');
  assert.ok(text.startsWith('*filter\n') && text.endsWith('COMMIT\n'));
});

test('ingress from a podSelector, a namespaceSelector, both, and on a named port resolved on the target', () => {
  const p = policy({
    ingress: [
      { peers: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: 'http' }] },
      { peers: [{ namespaceSelector: { matchLabels: { team: 'b' } } }], ports: [] },
      { peers: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'other' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 8000, endPort: 8100 }] },
    ],
  });
  const { text } = buildPolicyRules(input([p]));
  assert.deepEqual(chain(text, policyChain(p, 'ingress', '')), [
    // only the client of the policy's own namespace; http is 8080 on the web pod
    '-s 10.85.0.11/32 -d 10.85.0.10/32 -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x10000/0x10000',
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-s 10.85.0.20/32 -j MARK --set-xmark 0x10000/0x10000',
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-s 10.85.0.12/32 -p udp -m udp --dport 53 -j MARK --set-xmark 0x10000/0x10000',
    '-s 10.85.0.12/32 -p tcp -m tcp --dport 8000:8100 -j MARK --set-xmark 0x10000/0x10000',
    '-m mark --mark 0x10000/0x10000 -j RETURN',
  ]);
});

test('an empty from allows every source; a pod without an address is neither target nor peer', () => {
  const p = policy({ ingress: [{ peers: [], ports: [{ protocol: 'TCP', port: 8080 }] }] });
  const { text } = buildPolicyRules(input([p]));
  assert.deepEqual(chain(text, policyChain(p, 'ingress', '')).slice(0, 1), ['-p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x10000/0x10000']);
  assert.deepEqual(targetPods(p, [web, pending]).map((x) => x.name), ['web']);
});

test('egress: jumps for traffic from the pod in FORWARD and INPUT, ipBlock with except as plain CIDRs, named ports on the destination', () => {
  const p = policy({
    podSelector: { matchLabels: { role: 'client' } },
    egress: [
      { peers: [{ ipBlock: { cidr: '10.85.0.0/24', except: ['10.85.0.10/32'] } }], ports: [] },
      { peers: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'TCP', port: 'http' }] },
    ],
  });
  const { text } = buildPolicyRules(input([p]));
  const fw = podChain(client, '');
  const top = topChains('');
  assert.deepEqual(chain(text, top.forward)[0], `-s 10.85.0.11/32 -j ${fw}`);
  assert.deepEqual(chain(text, top.input)[0], `-s 10.85.0.11/32 -j ${fw}`);
  assert.ok(!chain(text, top.output).some((r) => r.includes(fw)));
  const pc = policyChain(p, 'egress', '');
  assert.ok(chain(text, fw).includes(`-s 10.85.0.11/32 -j ${pc}`));
  const rules = chain(text, pc);
  assert.deepEqual(rules.filter((r) => r.includes('-d 10.85.0.')).slice(0, 3), [
    '-d 10.85.0.0/29 -j MARK --set-xmark 0x10000/0x10000',
    '-d 10.85.0.8/31 -j MARK --set-xmark 0x10000/0x10000',
    '-d 10.85.0.11/32 -j MARK --set-xmark 0x10000/0x10000',
  ]);
  assert.ok(!rules.some((r) => r.startsWith('-d 10.85.0.10/32 -j')), 'the excepted address is not allowed');
  assert.ok(rules.includes('-d 10.85.0.10/32 -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x10000/0x10000'));
});

test('a policy of both types has a chain per direction, so ingress rules never judge the pod\'s own egress', () => {
  const p = policy({ ingress: [{ peers: [], ports: [] }], egress: [] });
  const { text } = buildPolicyRules(input([p]));
  const fw = podChain(web, '');
  assert.deepEqual(chain(text, fw).filter((r) => r.includes('KUBE-NWPLCY')), [`-d 10.85.0.10/32 -j ${policyChain(p, 'ingress', '')}`, `-s 10.85.0.10/32 -j ${policyChain(p, 'egress', '')}`]);
  assert.deepEqual(chain(text, policyChain(p, 'egress', '')), [], 'egress: deny all');
});

test('cidrExcept: the block minus its excepts, fewest CIDRs; excepting all leaves nothing; IPv6 is not this table', () => {
  assert.deepEqual(cidrExcept('10.0.0.0/8'), ['10.0.0.0/8']);
  assert.deepEqual(cidrExcept('10.0.0.0/24', ['10.0.0.128/25']), ['10.0.0.0/25']);
  assert.deepEqual(cidrExcept('10.0.0.0/30', ['10.0.0.1/32']), ['10.0.0.0/32', '10.0.0.2/31']);
  assert.deepEqual(cidrExcept('10.0.0.0/24', ['10.0.0.0/24']), []);
  assert.deepEqual(cidrExcept('10.1.2.3/16', ['192.168.0.0/16']), ['10.1.0.0/16'], 'host bits cleared; an except outside changes nothing');
  assert.equal(cidrExcept('2001:db8::/64'), undefined);
  const parts = cidrExcept('0.0.0.0/0', ['10.0.0.0/8', '10.1.0.0/16'])!;
  assert.equal(parts.length, 8);
  assert.ok(!parts.some((c) => c.startsWith('10.')));
});

test('tagged names for another bridge; stale chains are flushed and deleted; jumps are the first rules', () => {
  const p = policy({ ingress: [] });
  assert.match(podChain(web, ''), /^KUBE-POD-FW-[0-9A-F]{16}$/);
  assert.notEqual(podChain(web, 'ABCD'), podChain(web, ''));
  assert.ok(policyChain(p, 'ingress', 'ABCD').length <= 28, 'iptables chain names have at most 28 characters');
  assert.equal(topChains('ABCD').forward, 'KUBE-ROUTER-FORWARD-ABCD');
  const first = buildPolicyRules(input([p], 'ABCD'));
  const after = buildPolicyRules(input([], 'ABCD'), first.chains);
  assert.ok(after.text.includes(`-X ${podChain(web, 'ABCD')}`));
  assert.ok(after.text.includes(`-X ${policyChain(p, 'ingress', 'ABCD')}`));
  assert.ok(!after.text.includes(`-X ${topChains('ABCD').forward}`));
  assert.deepEqual(policyJumps('ABCD').map((j) => j.chain), ['INPUT', 'FORWARD', 'OUTPUT']);
});

test('leftovers of an earlier run: the tagged top chains and every chain they reach, not another server\'s', () => {
  const p = policy({ ingress: [{ peers: [{ podSelector: {} }], ports: [] }], egress: [] });
  const mine = buildPolicyRules(input([p], 'ABCD'));
  const theirs = buildPolicyRules(input([p], 'WXYZ'));
  // as iptables-save prints a table: chain declarations, then the rules
  const save = (r: { text: string }) => r.text.split('\n').filter((l) => l.startsWith(':') || l.startsWith('-A '));
  const text = ['*filter', ':INPUT ACCEPT [0:0]', ...save(mine), ...save(theirs), 'COMMIT'].join('\n');
  assert.deepEqual(new Set(leftoverChains(text, 'ABCD')), new Set(mine.chains));
  assert.deepEqual(leftoverChains('*filter\nCOMMIT\n', 'ABCD'), []);
});

test('a policy applies to its own namespace only; ingress ipBlock; egress named port without peers resolves on every pod; UDP and SCTP', () => {
  const elsewhere = policy({ namespace: 'team-b', podSelector: {}, ingress: [] });
  assert.deepEqual(targetPods(elsewhere, [web, client, remote]).map((x) => x.name), ['remote']);
  const p = policy({
    podSelector: { matchLabels: { role: 'client' } },
    ingress: [{ peers: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.1.0/24'] } }], ports: [{ protocol: 'SCTP', port: 9000 }] }],
    egress: [{ peers: [], ports: [{ protocol: 'TCP', port: 'http' }, { protocol: 'UDP', port: 'http' }, { protocol: 'UDP' }] }],
  });
  const { text } = buildPolicyRules(input([p]));
  const ing = chain(text, policyChain(p, 'ingress', ''));
  assert.equal(ing.filter((r) => r.includes('-p sctp -m sctp --dport 9000')).length, 8, '192.168.0.0/16 without one /24 is eight CIDRs');
  assert.ok(!ing.some((r) => r.includes('192.168.1.0/')));
  assert.deepEqual(chain(text, policyChain(p, 'egress', '')), [
    '-d 10.85.0.10/32 -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x10000/0x10000',
    '-p udp -j MARK --set-xmark 0x10000/0x10000',
    '-m mark --mark 0x10000/0x10000 -j RETURN',
  ], 'http is TCP only on the web pod: its UDP name resolves nowhere');
  // both clients (default/client and team-b's remote are role=client, but only default's is a target)
  assert.ok(text.includes(`-A ${topChains('').forward} -s 10.85.0.11/32`));
  assert.ok(!text.includes('-s 10.85.0.20/32 -m comment'));
});
