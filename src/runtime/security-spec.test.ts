/** The securityContext parts of the OCI spec builders: capabilities from the host, seccomp, groups, devices, sysctls. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_CAPABILITIES, capabilitiesFromMask, containerSpec, effectiveCapabilities, pauseSpec, supplementaryGroups, type ContainerSpecOptions } from './oci-spec.js';
import { DEFAULT_ALLOWED_SYSCALLS, parseSeccompProfile, runtimeDefaultSeccomp } from './seccomp.js';
import { deviceOf, splitDev, type OciDevice } from './devices.js';
import type { ContainerConfig } from './types.js';

// this machine's CapBnd: everything up to CAP_CHECKPOINT_RESTORE but CAP_SYS_RESOURCE
const HOST = capabilitiesFromMask('000001fffeffffff');

function opts(c: Partial<ContainerConfig> = {}, over: Partial<ContainerSpecOptions> = {}): ContainerSpecOptions {
  return {
    rootfs: '/b/rootfs',
    imageMounts: [{ type: 'overlay', source: 'overlay', options: ['lowerdir=/l', 'upperdir=/u', 'workdir=/w'] }],
    cfg: { name: 'c', image: 'busybox', argv: ['/bin/sh'], env: [], mounts: [], logPath: '/l', restartCount: 0, labels: {}, annotations: {}, ...c },
    sandbox: { pausePid: 42, hostname: 'web', hostNetwork: false, hostIPC: false, hostPID: false, shareProcessNamespace: false },
    files: { hosts: '/s/hosts', hostname: '/s/hostname', resolvConf: '/s/resolv.conf', shm: '/s/shm' },
    user: { uid: 0, gid: 0, additionalGids: [] },
    hostCapabilities: HOST,
    ...over,
  };
}

test('capabilitiesFromMask: bit n is capability n', () => {
  assert.equal(HOST.length, ALL_CAPABILITIES.length - 1);
  assert.ok(!HOST.includes('CAP_SYS_RESOURCE'));
  assert.ok(HOST.includes('CAP_CHECKPOINT_RESTORE'));
  assert.deepEqual(capabilitiesFromMask('0000000000000401'), ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']);
  assert.deepEqual(capabilitiesFromMask('0'), []);
});

test('privileged and "add ALL" get the host bounding set; a capability the host lacks or an unknown name is refused', () => {
  assert.deepEqual(effectiveCapabilities([], [], true, HOST), HOST);
  assert.deepEqual(effectiveCapabilities(['ALL'], [], false, HOST), HOST);
  assert.throws(() => effectiveCapabilities(['SYS_RESOURCE'], [], false, HOST), /CAP_SYS_RESOURCE cannot be added: this node's bounding set lacks it/);
  assert.throws(() => effectiveCapabilities(['BOGUS'], [], false, HOST), /unknown capability to add: "CAP_BOGUS"/);
  assert.throws(() => effectiveCapabilities([], ['BOGUS'], false, HOST), /unknown capability to drop: "CAP_BOGUS"/);
  assert.deepEqual(effectiveCapabilities([], ['ALL'], false, HOST), []);
});

test('privileged container: host caps, host devices listed, all devices allowed, no seccomp even if asked', () => {
  const dev: OciDevice = { path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 };
  const s = containerSpec(opts({ privileged: true, security: { seccomp: { type: 'RuntimeDefault' } } }, { hostDevices: [dev] }));
  assert.deepEqual(s.process.capabilities.bounding, HOST);
  assert.deepEqual(s.process.capabilities.effective, HOST);
  assert.deepEqual(s.linux.devices, [dev]);
  assert.deepEqual(s.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
  assert.equal(s.linux.seccomp, undefined);
  assert.equal(s.linux.maskedPaths, undefined);
  const hostNet = containerSpec(opts({ privileged: true }, { sandbox: { pausePid: 42, hostname: 'h', hostNetwork: true, hostIPC: false, hostPID: false, shareProcessNamespace: false } }));
  assert.ok(hostNet.mounts.find((m) => m.destination === '/sys')!.options!.includes('rw'));
});

test('an unprivileged container gets no host devices and its own noNewPrivileges', () => {
  const s = containerSpec(opts({ security: { noNewPrivileges: true } }, { hostDevices: [{ path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 }] }));
  assert.equal(s.linux.devices, undefined);
  assert.equal(s.process.noNewPrivileges, true);
  assert.equal(containerSpec(opts()).process.noNewPrivileges, false);
});

test('seccomp: none by default (Unconfined), RuntimeDefault follows the bounding set, Localhost as given', () => {
  assert.equal(containerSpec(opts()).linux.seccomp, undefined);
  assert.equal(containerSpec(opts({ security: { seccomp: { type: 'Unconfined' } } })).linux.seccomp, undefined);
  const rd = containerSpec(opts({ security: { seccomp: { type: 'RuntimeDefault' } } })).linux.seccomp!;
  assert.equal(rd.defaultAction, 'SCMP_ACT_ERRNO');
  const allowed = (p: typeof rd) => new Set(p.syscalls!.filter((x) => x.action === 'SCMP_ACT_ALLOW' && !x.args).flatMap((x) => x.names));
  assert.ok(!allowed(rd).has('unshare') && !allowed(rd).has('mount'));
  const admin = containerSpec(opts({ capAdd: ['SYS_ADMIN'], security: { seccomp: { type: 'RuntimeDefault' } } })).linux.seccomp!;
  assert.ok(allowed(admin).has('unshare') && allowed(admin).has('mount'));
  const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
  assert.deepEqual(containerSpec(opts({ security: { seccomp: { type: 'Localhost', path: '/p', profile } } })).linux.seccomp, profile);
});

test("runtimeDefaultSeccomp: containerd's data for x86_64 and aarch64", () => {
  const x = runtimeDefaultSeccomp(['CAP_CHOWN'], 'x64');
  assert.deepEqual(x.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.ok(x.syscalls!.some((s) => s.names.includes('arch_prctl')));
  // no CAP_SYS_ADMIN: clone without namespace flags, clone3 -> ENOSYS
  const clone = x.syscalls!.find((s) => s.names[0] === 'clone')!;
  assert.deepEqual(clone.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
  assert.deepEqual(x.syscalls!.find((s) => s.names[0] === 'clone3'), { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  const a = runtimeDefaultSeccomp(['CAP_SYS_PTRACE', 'CAP_SYS_ADMIN'], 'arm64');
  assert.deepEqual(a.architectures, ['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64']);
  assert.ok(a.syscalls!.some((s) => s.names.includes('set_tls')));
  assert.ok(a.syscalls!.some((s) => s.names.includes('process_vm_readv')));
  assert.ok(!a.syscalls!.some((s) => s.names[0] === 'clone3' && s.action === 'SCMP_ACT_ERRNO'));
  assert.equal(new Set(DEFAULT_ALLOWED_SYSCALLS).size, DEFAULT_ALLOWED_SYSCALLS.length, 'no duplicates');
  for (const n of ['read', 'write', 'execve', 'openat', 'clock_gettime', 'rseq', 'close_range']) assert.ok(DEFAULT_ALLOWED_SYSCALLS.includes(n), n);
  for (const n of ['keyctl', 'add_key', 'kexec_load', 'mount', 'unshare', 'bpf', 'reboot']) assert.ok(!DEFAULT_ALLOWED_SYSCALLS.includes(n), n);
});

test('parseSeccompProfile: OCI and Docker shapes, errors named', () => {
  assert.deepEqual(parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"}]}'), {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
  });
  const docker = parseSeccompProfile(
    JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }], syscalls: [] }),
    'arm64',
  );
  assert.deepEqual(docker.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.throws(() => parseSeccompProfile('nope'), /not valid JSON/);
  assert.throws(() => parseSeccompProfile('{"defaultAction":"ALLOW"}'), /defaultAction "ALLOW" is not one of/);
  assert.throws(() => parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}'), /syscalls\[0\] names no syscall/);
});

test('supplementary groups: the image groups (unless Strict), then supplementalGroups and fsGroup, no duplicates', () => {
  const user = { uid: 1000, gid: 1000, additionalGids: [50, 60] };
  assert.deepEqual(supplementaryGroups(user, {}), [50, 60]);
  assert.deepEqual(supplementaryGroups(user, { supplementalGroups: [4000, 50, 2000] }), [50, 60, 4000, 2000]);
  assert.deepEqual(supplementaryGroups(user, { supplementalGroups: [4000], supplementalGroupsPolicy: 'Strict' }), [4000]);
  const s = containerSpec(opts({ security: { supplementalGroups: [4000, 2000] } }, { user: { uid: 1, gid: 3, additionalGids: [] } }));
  assert.deepEqual(s.process.user, { uid: 1, gid: 3, additionalGids: [4000, 2000] });
});

test('devices: dev_t split as glibc does, only char and block devices', () => {
  assert.deepEqual(splitDev(0x0103n), { major: 1, minor: 3 });
  assert.deepEqual(splitDev((259n << 8n) | 5n), { major: 259, minor: 5 });
  assert.deepEqual(splitDev(0x00f0_0000_0123_45n & 0xffffffffffffn), splitDev(0x00f0_0000_0123_45n));
  const chr = deviceOf('/dev/null', { mode: 0o020666n, rdev: 0x0103n, uid: 0n, gid: 0n });
  assert.deepEqual(chr, { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 });
  assert.equal(deviceOf('/dev/x', { mode: 0o120777n, rdev: 0n, uid: 0n, gid: 0n }), undefined, 'a symlink is not a device');
  assert.equal(deviceOf('/dev/sda', { mode: 0o060660n, rdev: 0x800n, uid: 0n, gid: 6n })!.type, 'b');
});

test('pause: pod sysctls go to linux.sysctl', () => {
  const base = { rootfs: '/p', args: ['/catatonit', '-P'], hostname: 'w', netnsPath: '/n', hostNetwork: false, hostIPC: false, hostPID: false };
  assert.equal(pauseSpec(base).linux.sysctl, undefined);
  assert.deepEqual(pauseSpec({ ...base, sysctls: { 'kernel.shm_rmid_forced': '1' } }).linux.sysctl, { 'kernel.shm_rmid_forced': '1' });
});
