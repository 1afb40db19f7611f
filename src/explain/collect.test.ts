import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interfacesFromIp, needsRoot, nsInodes, parseNsLink, parseProcStat, parseProcStatus, routesFromIp } from './collect.js';

test('/proc parsers: ns links, stat with a hostile comm, NSpid', () => {
  assert.equal(parseNsLink('net:[4026531833]'), 4026531833);
  assert.equal(parseNsLink('pid_for_children:[4026532252]'), 4026532252);
  assert.equal(parseNsLink('garbage'), undefined);
  assert.deepEqual(parseProcStat('4242 (a) b (c)) S 4200 4242 4242 0 -1'), { pid: 4242, comm: 'a) b (c)', ppid: 4200 });
  assert.deepEqual(parseProcStatus('Name:\tsleep\nPPid:\t31493\nNSpid:\t31508\t6\n'), { ppid: 31493, nspid: [31508, 6] });
});

test('ip -j output: veth peer from link_index, addresses, routes', () => {
  const ifs = interfacesFromIp([
    { ifindex: 1, ifname: 'lo', addr_info: [{ local: '127.0.0.1', prefixlen: 8 }] },
    { ifindex: 2, link_index: 969, ifname: 'eth0', linkinfo: { info_kind: 'veth' }, addr_info: [{ local: '10.221.0.2', prefixlen: 24 }] },
  ]);
  assert.deepEqual(ifs.map((i) => [i.name, i.peerIfindex, i.kind, i.addresses]), [
    ['lo', undefined, undefined, ['127.0.0.1/8']],
    ['eth0', 969, 'veth', ['10.221.0.2/24']],
  ]);
  assert.deepEqual(routesFromIp([{ dst: 'default', gateway: '10.221.0.1', dev: 'eth0' }]), [{ dst: 'default', via: '10.221.0.1', dev: 'eth0', src: undefined }]);
});

test('not root: a 403 that says root is needed on the node; a process gone: no inodes, no error', async () => {
  const e = needsRoot('podbay server runs as uid 1000');
  assert.equal(e.code, 403);
  assert.equal(e.toStatus().reason, 'Forbidden');
  assert.match(e.message, /root is needed on the node \(podbay server runs as uid 1000\)$/);
  const problems: string[] = [];
  assert.deepEqual(await nsInodes(2 ** 22 + 7, problems), {});
  assert.deepEqual(problems, []);
});
