import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import dgram from 'node:dgram';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addressesOverlap,
  describeConflict,
  findSocketHolders,
  HostPortConflictError,
  HostPortGuard,
  matchConflicts,
  parseProcNet,
  parseSs,
  type HostListener,
  type ReservedPort,
} from './host-ports.js';

// Samples as a little-endian (x86, arm64) kernel prints them.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4D09 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:4D09 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
   3: 0500000A:1F90 0100007F:4D09 06 00000000:00000000 03:00000AD3 00000000     0        0 0 3 0000000000000000
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:4D0A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6666 1 0000000000000000 100 0 0 10 0
   3: B80D0120000000000000000005000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7777 1 0000000000000000 100 0 0 10 0
   4: 000080FE000000000000000001000000:0016 000080FE000000000000000002000000:C350 01 00000000:00000000 00:00000000 00000000     0        0 8888 1 0000000000000000 20 4 30 10 -1
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9999 2 0000000000000000 0
  101: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1010 2 0000000000000000 0
  102: 0500000A:D431 0808080A:0035 01 00000000:00000000 00:00000000 00000000     0        0 1212 2 0000000000000000 0
`;

test('/proc/net/tcp: only LISTEN sockets, addresses and ports decoded', () => {
  assert.deepEqual(parseProcNet(TCP, 'tcp', 4, true), [
    { protocol: 'tcp', address: '127.0.0.1', port: 19721, inode: 1111 },
    { protocol: 'tcp', address: '0.0.0.0', port: 22, inode: 2222 },
  ]);
});

test('/proc/net/tcp6: ::1, ::, v4-mapped (as IPv4), global addresses, compressed', () => {
  assert.deepEqual(parseProcNet(TCP6, 'tcp', 6, true), [
    { protocol: 'tcp', address: '::1', port: 8080, inode: 4444 },
    { protocol: 'tcp', address: '::', port: 80, inode: 5555 },
    { protocol: 'tcp', address: '127.0.0.1', port: 19722, inode: 6666 },
    { protocol: 'tcp', address: '2001:db8::5', port: 443, inode: 7777 },
  ]);
});

test('/proc/net/udp: every socket bound to a port (unconnected or connected), not port 0', () => {
  assert.deepEqual(parseProcNet(UDP, 'udp', 4, true), [
    { protocol: 'udp', address: '127.0.0.1', port: 53, inode: 9999 },
    { protocol: 'udp', address: '10.0.0.5', port: 54321, inode: 1212 },
  ]);
});

test('a big-endian kernel prints addresses in network order', () => {
  const be = TCP.replace('0100007F:4D09 00000000:0000 0A', '7F000001:4D09 00000000:0000 0A');
  assert.equal(parseProcNet(be, 'tcp', 4, false)[0]!.address, '127.0.0.1');
  const be6 = TCP6.replace('B80D0120000000000000000005000000', '20010DB8000000000000000000000005');
  assert.equal(parseProcNet(be6, 'tcp', 6, false)[3]!.address, '2001:db8::5');
});

test('address overlap: wildcards on either side, else the same address', () => {
  assert.equal(addressesOverlap(undefined, '127.0.0.1'), true, 'no hostIP: every local address');
  assert.equal(addressesOverlap('0.0.0.0', '10.1.2.3'), true);
  assert.equal(addressesOverlap('10.1.2.3', '0.0.0.0'), true);
  assert.equal(addressesOverlap('10.1.2.3', '::'), true);
  assert.equal(addressesOverlap('127.0.0.1', '127.0.0.1'), true);
  assert.equal(addressesOverlap('10.1.2.3', '127.0.0.1'), false);
  assert.equal(addressesOverlap('0:0:0:0:0:0:0:1', '::1'), true);
  assert.equal(addressesOverlap('::ffff:127.0.0.1', '127.0.0.1'), true);
  assert.equal(addressesOverlap('127.0.0.1', '::1'), false);
});

const LISTENERS: HostListener[] = [
  ...parseProcNet(TCP, 'tcp', 4, true),
  ...parseProcNet(TCP6, 'tcp', 6, true),
  ...parseProcNet(UDP, 'udp', 4, true),
];
const API: ReservedPort = { protocol: 'tcp', address: '127.0.0.1', port: 6443, what: "the podbay API server's port" };

test('conflicts: protocol, port and address must all collide; the API port is named first', () => {
  const found = matchConflicts(
    [
      { hostPort: 19721, protocol: 'tcp' }, // 127.0.0.1 listener, no hostIP -> conflict
      { hostPort: 19721, protocol: 'tcp', hostIP: '10.0.0.9' }, // other address -> free
      { hostPort: 19721, protocol: 'udp' }, // other protocol -> free
      { hostPort: 22, protocol: 'tcp', hostIP: '10.0.0.9' }, // 0.0.0.0 listener -> conflict
      { hostPort: 80, protocol: 'tcp', hostIP: '192.168.1.1' }, // :: listener -> conflict
      { hostPort: 8080, protocol: 'tcp', hostIP: '127.0.0.1' }, // ::1 only -> free
      { hostPort: 53, protocol: 'udp', hostIP: '127.0.0.1' }, // bound UDP -> conflict
      { hostPort: 6443, protocol: 'tcp' }, // the API
      { hostPort: 6443, protocol: 'tcp', hostIP: '10.0.0.9' }, // the API listens on 127.0.0.1 only
      { hostPort: 30000, protocol: 'tcp' }, // nobody
    ],
    [API],
    LISTENERS,
  );
  assert.deepEqual(
    found.map((c) => [c.wanted.hostPort, c.wanted.protocol, c.wanted.hostIP, c.reserved ? 'reserved' : c.listener!.inode]),
    [
      [19721, 'tcp', undefined, 1111],
      [22, 'tcp', '10.0.0.9', 2222],
      [80, 'tcp', '192.168.1.1', 5555],
      [53, 'udp', '127.0.0.1', 9999],
      [6443, 'tcp', undefined, 'reserved'],
    ],
  );
});

test('messages name the holder where known', () => {
  const l = LISTENERS.find((x) => x.inode === 1111)!;
  assert.equal(describeConflict({ wanted: { hostPort: 6443, protocol: 'tcp' }, reserved: API }), "hostPort 6443/TCP is the podbay API server's port");
  assert.equal(
    describeConflict({ wanted: { hostPort: 19721, protocol: 'tcp' }, listener: l, holder: { pid: 123, comm: 'sshd' } }),
    'hostPort 19721/TCP is held by a host process: sshd (pid 123) listening on 127.0.0.1:19721',
  );
  assert.equal(describeConflict({ wanted: { hostPort: 19721, protocol: 'tcp', hostIP: '127.0.0.1' }, listener: l }), 'hostPort 19721/TCP (hostIP 127.0.0.1) is held by a host socket listening on 127.0.0.1:19721');
  const v6 = LISTENERS.find((x) => x.inode === 5555)!;
  assert.equal(describeConflict({ wanted: { hostPort: 80, protocol: 'tcp' }, listener: v6, holder: { pid: 7, comm: 'evil\n\x1b[31mname' } }), 'hostPort 80/TCP is held by a host process: evil??[31mname (pid 7) listening on [::]:80');
  const u = LISTENERS.find((x) => x.inode === 9999)!;
  assert.equal(describeConflict({ wanted: { hostPort: 53, protocol: 'udp' }, listener: u, holder: { pid: 9, comm: 'dnsmasq' } }), 'hostPort 53/UDP is held by a host process: dnsmasq (pid 9) bound to 127.0.0.1:53');
  const err = new HostPortConflictError([{ wanted: { hostPort: 6443, protocol: 'tcp' }, reserved: API }, { wanted: { hostPort: 19721, protocol: 'tcp' }, listener: l }]);
  assert.equal(err.message, "hostPort 6443/TCP is the podbay API server's port; hostPort 19721/TCP is held by a host socket listening on 127.0.0.1:19721");
});

test('holders: socket inode -> /proc/PID/fd link -> pid and comm (a fake /proc)', async () => {
  const proc = mkdtempSync(join(tmpdir(), 'podbay-proc-'));
  try {
    for (const [pid, comm, links] of [
      ['1', 'init', ['/dev/null', 'socket:[42]']],
      ['123', 'sshd', ['pipe:[7]', 'socket:[1111]']],
      ['456', 'dnsmasq', ['socket:[9999]']],
    ] as const) {
      mkdirSync(join(proc, pid, 'fd'), { recursive: true });
      writeFileSync(join(proc, pid, 'comm'), `${comm}\n`);
      links.forEach((l, i) => symlinkSync(l, join(proc, pid, 'fd', String(i))));
    }
    mkdirSync(join(proc, 'self')); // not a pid: skipped
    const found = await findSocketHolders(new Set([1111, 9999, 5]), proc);
    assert.deepEqual(Object.fromEntries(found), { 1111: { pid: 123, comm: 'sshd' }, 9999: { pid: 456, comm: 'dnsmasq' } });

    // the guard end to end over fake /proc/net files
    writeFileSync(join(proc, 'tcp'), TCP);
    writeFileSync(join(proc, 'udp'), UDP);
    const guard = new HostPortGuard({ procNet: proc, proc });
    guard.reserve(API);
    await assert.rejects(
      guard.assertFree([{ hostPort: 19721, protocol: 'tcp' }, { hostPort: 6443, protocol: 'tcp' }, { hostPort: 40000, protocol: 'sctp' }]),
      (e: unknown) =>
        e instanceof HostPortConflictError &&
        e.message === "hostPort 19721/TCP is held by a host process: sshd (pid 123) listening on 127.0.0.1:19721; hostPort 6443/TCP is the podbay API server's port",
    );
    await guard.assertFree([{ hostPort: 40000, protocol: 'tcp' }, { hostPort: 19721, protocol: 'udp' }]);
    await guard.assertFree([]);

    // the holder is remembered while its socket lives (no second /proc scan), forgotten after
    rmSync(join(proc, '123'), { recursive: true });
    assert.equal((await guard.conflicts([{ hostPort: 19721, protocol: 'tcp' }]))[0]!.holder?.comm, 'sshd');
    writeFileSync(join(proc, 'tcp'), TCP.replace(' 1111 1 ', ' 1112 1 '));
    assert.equal((await guard.conflicts([{ hostPort: 19721, protocol: 'tcp' }]))[0]!.holder, undefined);
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

test("this host's real /proc: a socket this test opens is found, named node with this pid", async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const uport = udp.address().port;
    const found = await new HostPortGuard().conflicts([
      { hostPort: port, protocol: 'tcp' },
      { hostPort: uport, protocol: 'udp', hostIP: '127.0.0.1' },
      { hostPort: port, protocol: 'tcp', hostIP: '127.0.0.2' },
    ]);
    assert.equal(found.length, 2, JSON.stringify(found));
    for (const c of found) assert.equal(c.holder?.pid, process.pid);
    assert.match(describeConflict(found[0]!), new RegExp(`^hostPort ${port}/TCP is held by a host process: \\S+ \\(pid ${process.pid}\\) listening on 127\\.0\\.0\\.1:${port}$`));
  } finally {
    server.close();
    udp.close();
  }
});

test('ss output: TCP listeners and UDP sockets with their inodes, every address form ss prints', () => {
  const tcp = `LISTEN 0      5          127.0.0.1:18999      0.0.0.0:* ino:3902493 sk:1 cgroup:/ <->
LISTEN 0      4096         0.0.0.0:22         0.0.0.0:* ino:1585 sk:2 cgroup:/ <->
LISTEN 0      4096            [::]:80            [::]:* ino:1700 sk:3 cgroup:/ v6only:1 <->
LISTEN 0      511                *:8080             *:* ino:1701 sk:4 cgroup:/ v6only:0 <->
LISTEN 0      10    [::ffff:127.0.0.1]:19722       *:* ino:1702 sk:5 <->
LISTEN 0      32      127.0.0.53%lo:53        0.0.0.0:* ino:1703 sk:6 <->
LISTEN 0      5      [fe80::1]%eth0:631          [::]:* ino:1704 sk:7 <->
ESTAB  0      0          127.0.0.1:18999    127.0.0.1:40000 ino:1705 sk:8 <->
`;
  assert.deepEqual(parseSs(tcp, 'tcp'), [
    { protocol: 'tcp', address: '127.0.0.1', port: 18999, inode: 3902493 },
    { protocol: 'tcp', address: '0.0.0.0', port: 22, inode: 1585 },
    { protocol: 'tcp', address: '::', port: 80, inode: 1700 },
    { protocol: 'tcp', address: '::', port: 8080, inode: 1701 },
    { protocol: 'tcp', address: '127.0.0.1', port: 19722, inode: 1702 },
    { protocol: 'tcp', address: '127.0.0.53', port: 53, inode: 1703 },
    { protocol: 'tcp', address: 'fe80::1', port: 631, inode: 1704 },
  ]);
  const udp = `UNCONN 0      0          0.0.0.0:68         0.0.0.0:* ino:2001 sk:9 <->
ESTAB  0      0        10.0.0.5:41000     10.0.0.1:53 ino:2002 sk:a <->
UNCONN 0      0             [::]:5353          [::]:* ino:2003 sk:b v6only:1 <->
`;
  assert.deepEqual(parseSs(udp, 'udp'), [
    { protocol: 'udp', address: '0.0.0.0', port: 68, inode: 2001 },
    { protocol: 'udp', address: '10.0.0.5', port: 41000, inode: 2002 },
    { protocol: 'udp', address: '::', port: 5353, inode: 2003 },
  ]);
  assert.deepEqual(parseSs('', 'tcp'), []);
});
