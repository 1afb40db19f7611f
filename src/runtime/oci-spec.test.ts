import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  containerSpec,
  effectiveCapabilities,
  hostsFile,
  pauseSpec,
  podResolvConf,
  propagationProblem,
  resolveUser,
  rootfsPropagation,
  volumeMounts,
  type ContainerSpecOptions,
} from './oci-spec.js';
import { mountOf, mountsUnder, parseMountinfo } from '../sys/mountinfo.js';
import { parseSyncMessage, conmonArgs, RuntimeCreateError } from './conmon.js';
import { runcMessage } from './runc.js';
import { sandboxIdFor } from './runtime.js';
import type { ContainerConfig } from './types.js';

const nsTypes = (s: { linux: { namespaces: { type: string; path?: string }[] } }) =>
  Object.fromEntries(s.linux.namespaces.map((n) => [n.type, n.path ?? 'new']));

const pause = (over: Partial<Parameters<typeof pauseSpec>[0]> = {}) =>
  pauseSpec({ rootfs: '/p', args: ['/catatonit', '-P'], hostname: 'web', netnsPath: '/run/x/netns/abc', hostNetwork: false, hostIPC: false, hostPID: false, shm: '/run/x/shm', ...over });

test('pause: new pid/ipc/uts/mount, joins the given netns, hostname, read-only root', () => {
  const s = pause();
  assert.deepEqual(nsTypes(s), { mount: 'new', pid: 'new', ipc: 'new', uts: 'new', network: '/run/x/netns/abc' });
  assert.equal(s.hostname, 'web');
  assert.deepEqual(s.process.args, ['/catatonit', '-P']);
  assert.equal(s.root.readonly, true);
  assert.equal(s.mounts.find((m) => m.destination === '/dev/shm')!.source, '/run/x/shm');
});

test('pause: hostNetwork/hostIPC/hostPID omit those namespaces (and uts with the network); /sys is bound', () => {
  const s = pause({ hostNetwork: true, netnsPath: undefined, hostIPC: true, hostPID: true });
  assert.deepEqual(nsTypes(s), { mount: 'new' });
  assert.equal(s.hostname, undefined);
  assert.equal(s.mounts.find((m) => m.destination === '/sys')!.type, 'bind');
  assert.equal(s.mounts.find((m) => m.destination === '/dev/shm')!.type, 'tmpfs');
});

function cfg(over: Partial<ContainerConfig> = {}): ContainerConfig {
  return { name: 'c', image: 'busybox', argv: ['/bin/sh'], env: ['A=1'], mounts: [], logPath: '/l/c.log', restartCount: 0, labels: {}, annotations: {}, ...over };
}
const OVERLAY = { type: 'overlay', source: 'overlay', options: ['lowerdir=/d/layers/b:/d/layers/a', 'upperdir=/d/snapshots/k/upper', 'workdir=/d/snapshots/k/work'] };

function opts(over: Partial<ContainerSpecOptions> = {}, c: Partial<ContainerConfig> = {}): ContainerSpecOptions {
  return {
    rootfs: '/b/rootfs',
    imageMounts: [OVERLAY],
    cfg: cfg(c),
    sandbox: { pausePid: 42, hostname: 'web', hostNetwork: false, hostIPC: false, hostPID: false, shareProcessNamespace: false },
    files: { hosts: '/s/hosts', hostname: '/s/hostname', resolvConf: '/s/resolv.conf', shm: '/s/shm' },
    user: { uid: 0, gid: 0, additionalGids: [] },
    ...over,
  };
}

test('container: joins pause net/ipc/uts by /proc paths, own mount and pid ns', () => {
  const s = containerSpec(opts());
  assert.deepEqual(nsTypes(s), { mount: 'new', network: '/proc/42/ns/net', uts: '/proc/42/ns/uts', ipc: '/proc/42/ns/ipc', pid: 'new' });
  assert.equal(s.hostname, undefined, 'the UTS namespace is joined, not configured');
});

test('container: shareProcessNamespace joins the pid ns; host namespaces are omitted', () => {
  assert.equal(nsTypes(containerSpec(opts({ sandbox: { ...opts().sandbox, shareProcessNamespace: true } }))).pid, '/proc/42/ns/pid');
  const h = containerSpec(opts({ sandbox: { ...opts().sandbox, hostNetwork: true, hostIPC: true, hostPID: true } }));
  assert.deepEqual(nsTypes(h), { mount: 'new' });
  assert.equal(h.mounts.find((m) => m.destination === '/dev/shm')!.source, '/dev/shm');
});

test('container: process defaults (cwd /, PATH and HOSTNAME added, default caps, noNewPrivileges false)', () => {
  const s = containerSpec(opts());
  assert.equal(s.process.cwd, '/');
  assert.equal(s.process.env[0]!.startsWith('PATH='), true);
  assert.ok(s.process.env.includes('A=1'));
  assert.ok(s.process.env.includes('HOSTNAME=web'));
  assert.equal(s.process.noNewPrivileges, false);
  assert.deepEqual(s.process.capabilities.bounding, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(s.process.capabilities.effective, [...DEFAULT_CAPABILITIES]);
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.deepEqual(s.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.ok(s.linux.readonlyPaths!.includes('/proc/sys'));
  assert.deepEqual(s.linux.resources!.devices, [{ allow: false, access: 'rwm' }]);
  const env = containerSpec(opts({}, { env: ['PATH=/x', 'HOSTNAME=h'], workingDir: '/srv' }));
  assert.deepEqual(env.process.env, ['PATH=/x', 'HOSTNAME=h']);
  assert.equal(env.process.cwd, '/srv');
});

test('container: default mounts, pod files and volumes (volumes win over defaults)', () => {
  const s = containerSpec(opts({}, { mounts: [{ hostPath: '/v/data', containerPath: '/data', readOnly: true }, { hostPath: '/v/h', containerPath: '/etc/hosts', readOnly: false }] }));
  const by = Object.fromEntries(s.mounts.map((m) => [m.destination, m]));
  for (const d of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/etc/hostname', '/etc/resolv.conf', '/data']) assert.ok(by[d], d);
  assert.equal(by['/sys']!.type, 'sysfs');
  assert.ok(by['/sys']!.options!.includes('ro'));
  assert.ok(by['/sys/fs/cgroup']!.options!.includes('ro'));
  assert.equal(by['/dev/shm']!.source, '/s/shm');
  assert.deepEqual(by['/data']!.options, ['rbind', 'rprivate', 'ro']);
  assert.equal(by['/etc/hosts']!.source, '/v/h');
  assert.equal(s.mounts.filter((m) => m.destination === '/etc/hosts').length, 1);
  assert.equal(by['/etc/resolv.conf']!.source, '/s/resolv.conf');
});

test('container: privileged = all caps, no masked paths, devices allowed, rw sysfs', () => {
  const s = containerSpec(opts({}, { privileged: true }));
  assert.deepEqual(s.process.capabilities.bounding, [...ALL_CAPABILITIES]);
  assert.equal(s.linux.maskedPaths, undefined);
  assert.equal(s.linux.readonlyPaths, undefined);
  assert.deepEqual(s.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
  assert.ok(s.mounts.find((m) => m.destination === '/sys')!.options!.includes('rw'));
});

test('container: the snapshot overlay is the first mount, on "/", options exact; root.path the empty dir', () => {
  const vol = { mounts: [{ hostPath: '/v/data', containerPath: '/data', readOnly: false, propagation: 'Bidirectional' as const }] };
  for (const s of [containerSpec(opts()), containerSpec(opts({}, { readOnlyRootfs: true })), containerSpec(opts({}, { privileged: true, ...vol }))]) {
    assert.deepEqual(s.mounts[0], {
      destination: '/',
      type: 'overlay',
      source: 'overlay',
      options: ['lowerdir=/d/layers/b:/d/layers/a', 'upperdir=/d/snapshots/k/upper', 'workdir=/d/snapshots/k/work'],
    });
    assert.equal(s.mounts.filter((m) => m.type === 'overlay').length, 1);
    assert.equal(s.root.path, '/b/rootfs');
  }
  assert.equal(containerSpec(opts({}, { readOnlyRootfs: true })).root.readonly, true, 'runc remounts the overlay on / read-only');
  // every mount of the snapshot, in its order, before the defaults; a bind gets runc's bind flag
  const more = containerSpec(
    opts({
      imageMounts: [
        OVERLAY,
        { type: 'bind', source: '/d/extra', target: 'opt/x', options: ['ro'] },
        { type: 'bind', source: '/d/y', target: '/opt/y', options: ['rbind', 'rw'] },
      ],
    }),
  );
  assert.deepEqual(
    more.mounts.slice(0, 4).map((m) => [m.destination, m.type, m.source, m.options]),
    [
      ['/', 'overlay', 'overlay', OVERLAY.options],
      ['/opt/x', 'bind', '/d/extra', ['bind', 'ro']],
      ['/opt/y', 'bind', '/d/y', ['rbind', 'rw']],
      ['/proc', 'proc', 'proc', more.mounts[3]!.options],
    ],
  );
});

test('container: readOnlyRootfs, user ids', () => {
  const s = containerSpec(opts({ user: { uid: 1000, gid: 100, additionalGids: [5] } }, { readOnlyRootfs: true }));
  assert.equal(s.root.readonly, true);
  assert.deepEqual(s.process.user, { uid: 1000, gid: 100, additionalGids: [5] });
  assert.ok(s.mounts.find((m) => m.destination === '/etc/hosts')!.options!.includes('ro'));
});

test('capabilities: add and drop with or without CAP_, ALL', () => {
  assert.ok(effectiveCapabilities(['NET_ADMIN']).includes('CAP_NET_ADMIN'));
  assert.ok(!effectiveCapabilities([], ['net_raw']).includes('CAP_NET_RAW'));
  assert.deepEqual(effectiveCapabilities(['NET_BIND_SERVICE'], ['ALL']), ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(effectiveCapabilities(['ALL']), [...ALL_CAPABILITIES]);
});

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n';
const GROUP = 'root:x:0:\nwww:x:33:\nbob:x:1000:\nstaff:x:50:bob,www\n';

test('resolveUser: numeric, names, mixes, supplementary groups, errors', () => {
  assert.deepEqual(resolveUser(undefined), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(resolveUser('1000', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [50] });
  assert.deepEqual(resolveUser('4242'), { uid: 4242, gid: 0, additionalGids: [] });
  assert.deepEqual(resolveUser('4242:7'), { uid: 4242, gid: 7, additionalGids: [] });
  assert.deepEqual(resolveUser('www', PASSWD, GROUP), { uid: 33, gid: 33, additionalGids: [50] });
  assert.deepEqual(resolveUser('www:staff', PASSWD, GROUP), { uid: 33, gid: 50, additionalGids: [] });
  assert.deepEqual(resolveUser('33:0', PASSWD, GROUP), { uid: 33, gid: 0, additionalGids: [50] });
  assert.throws(() => resolveUser('nosuch', PASSWD, GROUP), /unable to find user nosuch/);
  assert.throws(() => resolveUser('www:nogroup', PASSWD, GROUP), /unable to find group nogroup/);
});

test('hosts and resolv.conf', () => {
  const h = hostsFile('web', ['10.0.0.5']);
  assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(h, /^::1\tlocalhost/m);
  assert.match(h, /^10\.0\.0\.5\tweb$/m);
  const host = 'search example.com\nnameserver 127.0.0.53\nnameserver 192.0.2.1\noptions edns0\n';
  assert.equal(podResolvConf(host, true), host);
  assert.equal(podResolvConf(host, false), 'search example.com\nnameserver 192.0.2.1\noptions edns0\n');
  assert.equal(podResolvConf('nameserver 127.0.0.1\n', false), '');
});

test('sync message, runc messages, conmon args', () => {
  assert.equal(parseSyncMessage('x', '{"data": 1234}\n'), 1234);
  const msg = JSON.stringify({ data: -1, message: 'time="2026-01-01T00:00:00Z" level=error msg="runc create failed: unable to start container process: exec: \\"nosuch\\": executable file not found in $PATH"\n' });
  assert.throws(() => parseSyncMessage('x', msg), (e: unknown) => e instanceof RuntimeCreateError && e.message === 'runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH');
  assert.throws(() => parseSyncMessage('x', ''), RuntimeCreateError);
  assert.equal(runcMessage('time="x" level=error msg="container does not exist"\n'), 'container does not exist');
  const a = conmonArgs({ conmonPath: 'c', runtimePath: '/usr/sbin/runc', runcRoot: '/r', id: 'ID', name: 'N', bundle: '/b', pidFile: '/b/p', exitDir: '/e', logPath: '/l', socketDir: '/s' });
  assert.deepEqual(a.slice(0, 6), ['--api-version', '1', '-c', 'ID', '-u', 'ID']);
  assert.ok(a.includes('k8s-file:/l'));
  assert.ok(a.includes('--root=/r'));
  assert.ok(!a.includes('-i') && !a.includes('-t'));
  const attachable = conmonArgs({ conmonPath: 'c', runtimePath: 'r', runcRoot: '/r', id: 'ID', name: 'N', bundle: '/b', pidFile: '/b/p', exitDir: '/e', logPath: '/l', socketDir: '/s', stdin: true, tty: true });
  assert.deepEqual(attachable.slice(-2), ['-i', '-t']);
  const reusable = conmonArgs({ conmonPath: 'c', runtimePath: 'r', runcRoot: '/r', id: 'ID', name: 'N', bundle: '/b', pidFile: '/b/p', exitDir: '/e', logPath: '/l', socketDir: '/s', stdin: true, leaveStdinOpen: true });
  assert.deepEqual(reusable.slice(-2), ['-i', '--leave-stdin-open']);
  const quiet = conmonArgs({ conmonPath: 'c', runtimePath: 'r', runcRoot: '/r', id: 'ID', name: 'N', bundle: '/b', pidFile: '/b/p', exitDir: '/e', socketDir: '/s' });
  assert.equal(quiet[quiet.indexOf('-l') + 1], 'none');
});

test('sandbox ids are deterministic 64-hex digests of (uid, attempt)', () => {
  const a = sandboxIdFor('uid-1', 0);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(a, sandboxIdFor('uid-1', 0));
  assert.notEqual(a, sandboxIdFor('uid-1', 1));
  assert.notEqual(a, sandboxIdFor('uid-2', 0));
});

test('mountsUnder: deepest first, exact prefix only', () => {
  const mi = [
    '1 0 8:1 / / rw - ext4 /dev/sda1 rw',
    '2 1 0:1 / /x/run rw - tmpfs t rw',
    '3 2 0:2 / /x/run/c/rootfs rw - overlay overlay rw',
    '4 1 0:3 / /x/runner rw - tmpfs t rw',
    '5 1 0:4 / /x/run/with\\040space rw - tmpfs t rw',
  ].join('\n');
  assert.deepEqual(mountsUnder('/x/run', parseMountinfo(mi)), ['/x/run/with space', '/x/run/c/rootfs', '/x/run']);
});

test('mountPropagation: None rprivate, HostToContainer rslave, Bidirectional rshared; the rootfs follows; the source must propagate', () => {
  const m = (propagation?: 'None' | 'HostToContainer' | 'Bidirectional') => ({ hostPath: '/srv/x', containerPath: '/x', readOnly: false, ...(propagation ? { propagation } : {}) });
  assert.deepEqual(volumeMounts([m(), m('None'), m('HostToContainer'), m('Bidirectional')]).map((o) => o.options?.[1]), ['rprivate', 'rprivate', 'rslave', 'rshared']);
  assert.equal(rootfsPropagation([m(), m('HostToContainer')]), 'rslave');
  assert.equal(rootfsPropagation([m('HostToContainer'), m('Bidirectional')]), 'rshared');
  assert.equal(rootfsPropagation([m('None')]), undefined);
  assert.equal(propagationProblem(m('HostToContainer'), '/', ['master:3']), undefined);
  assert.equal(propagationProblem(m('HostToContainer'), '/', []), 'path "/srv/x" is mounted on "/" but it is not a shared or slave mount');
  assert.equal(propagationProblem(m('Bidirectional'), '/srv', ['master:3']), 'path "/srv/x" is mounted on "/srv" but it is not a shared mount');
  assert.equal(propagationProblem(m('Bidirectional'), '/srv', ['shared:7']), undefined);
  const info = parseMountinfo('27 1 254:0 / / rw - ext4 /dev/vda rw\n30 27 0:50 / /srv rw shared:7 - tmpfs t rw\n');
  assert.equal(mountOf('/srv/x/y', info)?.mountPoint, '/srv');
  assert.deepEqual(mountOf('/srvx', info)?.optional, []);
});

test('container: a target container (an ephemeral container\'s --target) gives its pid ns, unless the pod shares one', () => {
  assert.equal(nsTypes(containerSpec(opts({ targetPid: 77 }))).pid, '/proc/77/ns/pid');
  assert.equal(nsTypes(containerSpec(opts({ targetPid: 77, sandbox: { ...opts().sandbox, shareProcessNamespace: true } }))).pid, '/proc/42/ns/pid');
  assert.ok(!('pid' in nsTypes(containerSpec(opts({ targetPid: 77, sandbox: { ...opts().sandbox, hostPID: true } })))));
});
