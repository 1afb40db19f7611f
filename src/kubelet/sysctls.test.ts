import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namespacedBy, normalizeSysctl, podSysctls, SysctlAllowlist, SAFE_SYSCTLS } from './sysctls.js';

const pod = (sysctls: { name: string; value: string }[], over: Record<string, any> = {}) => ({ spec: { securityContext: { sysctls }, ...over } });

test('namespacedBy and normalizeSysctl as the kubelet', () => {
  assert.equal(namespacedBy('kernel.sem'), 'ipc');
  assert.equal(namespacedBy('kernel.shmmax'), 'ipc');
  assert.equal(namespacedBy('kernel.msgmax'), 'ipc');
  assert.equal(namespacedBy('fs.mqueue.msg_max'), 'ipc');
  assert.equal(namespacedBy('net.core.somaxconn'), 'net');
  assert.equal(namespacedBy('kernel.pid_max'), undefined);
  assert.equal(normalizeSysctl('net/ipv4/conf/eth0.100/rp_filter'), 'net.ipv4.conf.eth0/100.rp_filter');
  assert.equal(normalizeSysctl('net.ipv4.ip_forward'), 'net.ipv4.ip_forward');
  for (const s of SAFE_SYSCTLS) assert.ok(namespacedBy(s), s);
});

test('the safe set is allowed; others only by pattern; host namespaces forbid theirs', () => {
  const safe = new SysctlAllowlist();
  assert.equal(safe.check('net.ipv4.ip_local_port_range', false, false), undefined);
  assert.equal(safe.check('kernel.shm_rmid_forced', false, false), undefined);
  assert.equal(safe.check('net.core.somaxconn', false, false), '"net.core.somaxconn" not allowlisted');
  assert.equal(safe.check('net.ipv4.tcp_syncookies', true, false), '"net.ipv4.tcp_syncookies" not allowed with host net enabled');
  assert.equal(safe.check('kernel.shm_rmid_forced', false, true), '"kernel.shm_rmid_forced" not allowed with host ipc enabled');
  const wide = new SysctlAllowlist(['kernel.msg*', 'net.core.somaxconn', 'net.ipv6.*']);
  assert.equal(wide.check('kernel.msgmax', false, false), undefined);
  assert.equal(wide.check('net.core.somaxconn', false, false), undefined);
  assert.equal(wide.check('net.ipv6.conf.all.forwarding', false, false), undefined);
  assert.equal(wide.check('kernel.msgmax', false, true), '"kernel.msgmax" not allowed with host ipc enabled');
});

test('a node-wide or malformed pattern is refused as the kubelet refuses to start', () => {
  assert.throws(() => new SysctlAllowlist(['kernel.pid_max']), /the sysctl "kernel.pid_max" are not known to be namespaced/);
  assert.throws(() => new SysctlAllowlist(['vm.*']), /the sysctls "vm.\*" are not known to be namespaced/);
  assert.throws(() => new SysctlAllowlist(['Net.Core']), /must have at most 253 characters and match regex/);
});

test('podSysctls: dotted names for the runtime, or the admission message', () => {
  const allow = new SysctlAllowlist();
  assert.deepEqual(podSysctls(pod([{ name: 'net/ipv4/tcp_syncookies', value: '1' }]), allow), { sysctls: { 'net.ipv4.tcp_syncookies': '1' } });
  assert.deepEqual(podSysctls({ spec: {} }, allow), { sysctls: {} });
  assert.deepEqual(podSysctls(pod([{ name: 'kernel.msgmax', value: '1' }]), allow), { message: 'forbidden sysctl: "kernel.msgmax" not allowlisted' });
  assert.deepEqual(podSysctls(pod([{ name: 'net.ipv4.tcp_syncookies', value: '1' }], { hostNetwork: true }), allow), {
    message: 'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled',
  });
});
