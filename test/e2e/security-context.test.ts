/**
 * securityContext for real: a podbay server with its kubelet (runc, conmon, CNI) driven by real
 * kubectl, each field checked from inside the container as a user would (/proc/self/status,
 * `id`, `stat`, sysctls) or by the reason the pod fails with. This suite owns bridge pbscsec0,
 * subnet 10.214.0.0/24 and hostPorts 19760-19779 (it uses none); the server runs with
 * --allowed-unsafe-sysctls 'kernel.msg*'. Every pod is deleted and the host checked at the end.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, watchReadyz, kubectlHelpers, podOf } from './harness.js';
import { hostDevices } from '../../src/runtime/devices.js';
import { writeDockerArchive } from '../../src/image/archive-build.js';

const [kc] = kubectlBinaries().slice(-1);

class SecSuite extends PodSuite {
  override serverArgs(): string[] {
    return [...super.serverArgs(), '--allowed-unsafe-sysctls', 'kernel.msg*'];
  }
}

const statusField = (status: string, field: string) => new RegExp(`^${field}:\\s*(\\S+)`, 'm').exec(status)?.[1];

describe('securityContext (runc, conmon, CNI, real kubectl)', () => {
  const suite = new SecSuite('pbscsec0', '10.214.0.0/24', /^197[67]\d$/);
  let s: PodbayServer;
  const { k, ok, pod, create: apply, runToCompletion } = kubectlHelpers(() => s, kc.path);
  const ctr = (script: string, sc?: Record<string, any>, extra: Record<string, any> = {}) => ({
    name: 'c',
    image: 'busybox:1.36',
    command: ['sh', '-c', script],
    ...(sc ? { securityContext: sc } : {}),
    ...extra,
  });
  /** runs a one-shot pod to completion and returns its log */
  const output = async (name: string, spec: Record<string, any>, meta: Record<string, any> = {}) => (await runToCompletion(podOf(name, spec, meta))).log;
  const waiting = (name: string, reason: string) =>
    waitFor(`${name} waiting with ${reason}`, () => {
      const w = pod(name).status.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === reason ? w : undefined;
    }, 60_000);
  const rejected = (name: string) =>
    waitFor(`${name} Failed`, () => {
      const p = pod(name);
      return p.status.phase === 'Failed' ? p : undefined;
    }, 60_000);

  before(async () => {
    s = await suite.start('podbay-e2e-sec-');
    const bb = await suite.loadBusybox();
    // users:1 runs as the named user "app" (uid 1000), whom the image's /etc/group puts in "extra" (5000)
    const layer = join(suite.work, 'users-layer');
    mkdirSync(join(layer, 'etc'), { recursive: true });
    writeFileSync(join(layer, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n');
    writeFileSync(join(layer, 'etc', 'group'), 'root:x:0:\napp:x:1000:\nextra:x:5000:app\n');
    await writeDockerArchive(join(suite.work, 'users.tar'), { repoTags: ['users:1'], layers: [bb, layer], config: { cmd: ['sh'], user: 'app' } });
    suite.loadImage(join(suite.work, 'users.tar'));
  });

  after(() => suite.finish(kc.path));

  it('by default: root, no NoNewPrivs, no seccomp (the kubelet default is Unconfined), containerd\'s capabilities', async () => {
    const log = await output('defaults', { containers: [ctr('cat /proc/self/status; id; unshare -U true && echo userns-ok')] });
    assert.equal(statusField(log, 'NoNewPrivs'), '0');
    assert.equal(statusField(log, 'Seccomp'), '0');
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    assert.equal(statusField(log, 'CapEff'), '00000000a80425fb');
    assert.match(log, /uid=0\(root\) gid=0\(root\)/);
    assert.match(log, /userns-ok/, 'unconfined, a container may create a user namespace');
  });

  it('runAsNonRoot with an image that runs as root fails with the kubelet\'s message', async () => {
    apply(podOf('nonroot', { containers: [ctr('true', { runAsNonRoot: true })] }));
    const w = await waiting('nonroot', 'CreateContainerConfigError');
    const uid = pod('nonroot').metadata.uid;
    assert.equal(w.message, `container has runAsNonRoot and image will run as root (pod: "nonroot_default(${uid})", container: c)`);
    // and runAsUser 0 explicitly
    apply(podOf('nonroot-zero', { securityContext: { runAsNonRoot: true }, containers: [ctr('true', { runAsUser: 0 })] }));
    const w0 = await waiting('nonroot-zero', 'CreateContainerConfigError');
    assert.match(w0.message, /^container's runAsUser breaks non-root policy \(pod: "nonroot-zero_default\(.*\)", container: c\)$/);
    // a non-root uid passes
    const log = await output('nonroot-ok', { securityContext: { runAsNonRoot: true, runAsUser: 1234 }, containers: [ctr('id -u')] });
    assert.equal(log.trim(), '1234');
  });

  it('a pod meeting the restricted Pod Security Standard runs: non-root, no escalation, no capabilities, RuntimeDefault', async () => {
    const log = await output('restricted', {
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [ctr('grep -E "NoNewPrivs|Seccomp:|CapEff" /proc/self/status; id -u', { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } })],
    });
    assert.equal(statusField(log, 'NoNewPrivs'), '1');
    assert.equal(statusField(log, 'Seccomp'), '2');
    assert.equal(statusField(log, 'CapEff'), '0000000000000000');
    assert.match(log, /^1000$/m);
    // kubectl exec runs with the container's confinement too
    apply(podOf('restricted-exec', { securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [ctr('sleep 3600', { allowPrivilegeEscalation: false, runAsUser: 1000 })] }));
    await waitFor('restricted-exec running', () => (pod('restricted-exec').status.phase === 'Running' ? true : undefined), 60_000);
    const ex = ok('exec', 'restricted-exec', '--', 'sh', '-c', 'grep -E "NoNewPrivs|Seccomp:" /proc/self/status; id -u');
    assert.equal(statusField(ex, 'NoNewPrivs'), '1');
    assert.equal(statusField(ex, 'Seccomp'), '2');
    assert.match(ex, /^1000$/m);
  });

  it('allowPrivilegeEscalation: false sets NoNewPrivs', async () => {
    const log = await output('nnp', { containers: [ctr('grep NoNewPrivs /proc/self/status', { allowPrivilegeEscalation: false })] });
    assert.equal(statusField(log, 'NoNewPrivs'), '1');
  });

  it("seccompProfile RuntimeDefault is containerd's profile: filter mode, and no namespaces without CAP_SYS_ADMIN", async () => {
    const log = await output('seccomp-default', {
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [ctr('grep Seccomp: /proc/self/status; unshare -U true 2>&1 && echo userns-ok || echo userns-refused')],
    });
    assert.equal(statusField(log, 'Seccomp'), '2');
    assert.match(log, /userns-refused/);
    assert.match(log, /Operation not permitted/);
    // the container-level field wins over the pod's
    const un = await output('seccomp-override', {
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [ctr('grep Seccomp: /proc/self/status', { seccompProfile: { type: 'Unconfined' } })],
    });
    assert.equal(statusField(un, 'Seccomp'), '0');
    // the deprecated annotation still works for pods that only have it
    const ann = await output('seccomp-annotation', { containers: [ctr('grep Seccomp: /proc/self/status')] }, {
      annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'runtime/default' },
    });
    assert.equal(statusField(ann, 'Seccomp'), '2');
  });

  it('seccompProfile Localhost reads <data-dir>/seccomp/<profile>; a missing one fails naming the path', async () => {
    const dir = join(s.dataDir, 'seccomp', 'profiles');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'no-mkdir.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
    const log = await output('seccomp-local', {
      containers: [ctr('grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1 || echo mkdir-refused', { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/no-mkdir.json' } })],
    });
    assert.equal(statusField(log, 'Seccomp'), '2');
    assert.match(log, /mkdir-refused/);
    apply(podOf('seccomp-missing', { containers: [ctr('true', { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/nope.json' } })] }));
    const w = await waiting('seccomp-missing', 'CreateContainerConfigError');
    assert.ok(w.message.includes(join(s.dataDir, 'seccomp', 'profiles', 'nope.json')), w.message);
  });

  it("privileged: true runs with the host's bounding set (this host lacks CAP_SYS_RESOURCE) and the host's devices", async () => {
    const hostBnd = statusField(readFileSync('/proc/self/status', 'utf8'), 'CapBnd');
    const dev = (await hostDevices()).find((d) => !['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx'].includes(d.path));
    assert.ok(dev, 'the host has a device beyond the defaults');
    const log = await output('privileged', { containers: [ctr(`grep -E 'Cap(Bnd|Eff)|Seccomp:' /proc/self/status; test -${dev.type} ${dev.path} && echo has-device; grep -w sysfs /proc/mounts`, { privileged: true })] });
    assert.equal(statusField(log, 'CapBnd'), hostBnd);
    assert.equal(statusField(log, 'CapEff'), hostBnd);
    assert.equal(statusField(log, 'Seccomp'), '0');
    assert.match(log, /has-device/, `${dev.path} should be there`);
    assert.match(log, /sysfs \/sys sysfs rw/, 'sysfs is writable');
  });

  it('capabilities: drop ALL leaves none; drop ALL + add NET_BIND_SERVICE leaves exactly that; an unknown name fails', async () => {
    const none = await output('caps-none', { containers: [ctr('grep -E "Cap(Eff|Bnd)" /proc/self/status', { capabilities: { drop: ['ALL'] } })] });
    assert.equal(statusField(none, 'CapEff'), '0000000000000000');
    assert.equal(statusField(none, 'CapBnd'), '0000000000000000');
    const one = await output('caps-one', { containers: [ctr('grep CapEff /proc/self/status', { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } })] });
    assert.equal(statusField(one, 'CapEff'), '0000000000000400');
    apply(podOf('caps-bad', { containers: [ctr('true', { capabilities: { add: ['NOT_A_CAP'] } })] }));
    const w = await waiting('caps-bad', 'CreateContainerError');
    assert.match(w.message, /unknown capability to add: "CAP_NOT_A_CAP"/);
  });

  it('runAsUser/runAsGroup/supplementalGroups/fsGroup show in id and on an emptyDir (group-owned, setgid, group-writable)', async () => {
    const log = await output('ids', {
      securityContext: { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000], fsGroup: 2000 },
      volumes: [{ name: 'data', emptyDir: {} }],
      containers: [
        ctr('id; stat -c "dir %g %a" /data; touch /data/f && stat -c "file %u %g" /data/f; mkdir /data/d && stat -c "sub %g %a" /data/d', { runAsUser: 1001 }, {
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        }),
      ],
    });
    assert.match(log, /uid=1001 gid=3000 groups=/, 'the container-level runAsUser wins over the pod\'s');
    const groups = /groups=(\S+)/.exec(log)![1]!.split(',').map((g) => Number.parseInt(g, 10));
    assert.ok(groups.includes(2000) && groups.includes(4000), `fsGroup and supplementalGroups in ${groups}`);
    assert.match(log, /^dir 2000 2777$/m);
    assert.match(log, /^file 1001 2000$/m, 'a new file inherits the group (setgid)');
    assert.match(log, /^sub 2000 2\d\d\d$/m);
  });

  it("the image's groups: Merge adds the user's /etc/group groups, Strict only what the pod says; a named image user is not verifiably non-root", async () => {
    const groupsOf = (log: string) => /groups=(\S+)/.exec(log)![1]!.split(',').map((g) => Number.parseInt(g, 10));
    const merge = await output('groups-merge', { securityContext: { supplementalGroups: [4000] }, containers: [{ ...ctr('id'), image: 'users:1' }] });
    assert.match(merge, /uid=1000\(app\) gid=1000\(app\)/);
    assert.ok(groupsOf(merge).includes(5000) && groupsOf(merge).includes(4000), merge);
    const strict = await output('groups-strict', { securityContext: { supplementalGroups: [4000], supplementalGroupsPolicy: 'Strict' }, containers: [{ ...ctr('id'), image: 'users:1' }] });
    assert.ok(groupsOf(strict).includes(4000), strict);
    assert.ok(!groupsOf(strict).includes(5000), `Strict: no group from the image's /etc/group in ${strict}`);
    apply(podOf('nonroot-named', { securityContext: { runAsNonRoot: true }, containers: [{ ...ctr('true'), image: 'users:1' }] }));
    const w = await waiting('nonroot-named', 'CreateContainerConfigError');
    assert.match(w.message, /^container has runAsNonRoot and image has non-numeric user \(app\), cannot verify user is non-root \(pod: "nonroot-named_default\(.*\)", container: c\)$/);
  });

  it('a safe sysctl and an allow-listed unsafe one are set in the pod, the host keeps its own', async () => {
    const hostKeepalive = readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8').trim();
    const hostMsgmax = readFileSync('/proc/sys/kernel/msgmax', 'utf8').trim();
    const log = await output('sysctls', {
      securityContext: { sysctls: [{ name: 'net.ipv4.tcp_keepalive_time', value: '77' }, { name: 'kernel.msgmax', value: '12345' }] },
      containers: [ctr('cat /proc/sys/net/ipv4/tcp_keepalive_time /proc/sys/kernel/msgmax')],
    });
    assert.deepEqual(log.trim().split('\n'), ['77', '12345']);
    assert.equal(readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8').trim(), hostKeepalive);
    assert.equal(readFileSync('/proc/sys/kernel/msgmax', 'utf8').trim(), hostMsgmax);
  });

  it('an unsafe sysctl (or a net.* one with hostNetwork) fails the pod with SysctlForbidden', async () => {
    apply(podOf('sysctl-unsafe', { securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1024' }] }, containers: [ctr('true')] }));
    const p = await rejected('sysctl-unsafe');
    assert.equal(p.status.reason, 'SysctlForbidden');
    assert.equal(p.status.message, 'Pod was rejected: forbidden sysctl: "net.core.somaxconn" not allowlisted');
    apply(podOf('sysctl-hostnet', { hostNetwork: true, securityContext: { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }] }, containers: [ctr('true')] }));
    const h = await rejected('sysctl-hostnet');
    assert.equal(h.status.reason, 'SysctlForbidden');
    assert.equal(h.status.message, 'Pod was rejected: forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled');
    const ev = ok('get', 'events', '--field-selector', 'involvedObject.name=sysctl-unsafe', '-o', 'json');
    assert.ok(JSON.parse(ev).items.some((e: any) => e.reason === 'SysctlForbidden'), 'an event says why');
  });

  it('readOnlyRootFilesystem refuses writes to the root, volumes stay writable', async () => {
    const log = await output('rofs', {
      volumes: [{ name: 'scratch', emptyDir: {} }],
      containers: [ctr('touch /x 2>&1 || echo root-refused; touch /scratch/x && echo volume-ok', { readOnlyRootFilesystem: true }, { volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] })],
    });
    assert.match(log, /Read-only file system/);
    assert.match(log, /root-refused/);
    assert.match(log, /volume-ok/);
  });

  it('AppArmor on a host without it fails the pod at admission; SELinux options fail the container', async () => {
    const aa = existsSync('/sys/module/apparmor/parameters/enabled') && readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
    assert.equal(aa, false, 'this test expects a host without AppArmor (as this machine is)');
    apply(podOf('apparmor', { containers: [ctr('true', { appArmorProfile: { type: 'RuntimeDefault' } })] }));
    const p = await rejected('apparmor');
    assert.equal(p.status.reason, 'AppArmor');
    assert.equal(p.status.message, 'Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host');
    // Unconfined is fine
    const log = await output('apparmor-unconfined', { securityContext: { appArmorProfile: { type: 'Unconfined' } }, containers: [ctr('echo ran')] });
    assert.equal(log.trim(), 'ran');
    apply(podOf('selinux', { securityContext: { seLinuxOptions: { level: 's0:c1,c2' } }, containers: [ctr('true')] }));
    const w = await waiting('selinux', 'CreateContainerConfigError');
    assert.match(w.message, /seLinuxOptions .* SELinux is not enabled on this node/);
  });

  it('refuses at create what it does not implement: hostUsers false, procMount Unmasked, Windows HostProcess', () => {
    const bad = (spec: Record<string, any>) => s.kubectl(kc.path, ['create', '-f', '-'], JSON.stringify(podOf('bad', spec)));
    let r = bad({ hostUsers: false, containers: [ctr('true')] });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.hostUsers: Forbidden: podbay does not implement user namespaces/);
    r = bad({ containers: [ctr('true', { procMount: 'Unmasked' })] });
    assert.match(r.stderr, /spec\.containers\[0\]\.securityContext\.procMount: Forbidden: `hostUsers` must be false to use `Unmasked`/);
    r = bad({ securityContext: { windowsOptions: { hostProcess: true } }, hostNetwork: true, containers: [ctr('true')] });
    assert.match(r.stderr, /spec\.securityContext\.windowsOptions\.hostProcess: Forbidden/);
    r = bad({ os: { name: 'linux' }, containers: [ctr('true', { windowsOptions: { runAsUserName: 'x' } })] });
    assert.match(r.stderr, /spec\.containers\[0\]\.securityContext\.windowsOptions: Forbidden: windows options cannot be set for a linux pod/);
  });

  it('fsGroup ownership never follows what a container planted in its emptyDir, and podbay keeps answering', async () => {
    // a pod whose container fills its emptyDir with links to the host, a FIFO and directories
    // 300 deep (one fd per level would add up); podbay restarting re-applies fsGroup (Always)
    // over that content
    const victim = join(suite.work, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'file'), 'host\n', { mode: 0o600 });
    apply(podOf('planter', {
      restartPolicy: 'Always',
      securityContext: { fsGroup: 2345 },
      volumes: [{ name: 'data', emptyDir: {} }],
      containers: [ctr(`ln -s ${victim} /data/dirlink; ln -s ${victim}/file /data/filelink; mkfifo /data/fifo; mkdir -p /data/a/b; chgrp 7 /data/a/b /data/fifo; chmod 700 /data/a/b; d=/data/deep; i=0; while [ $i -lt 300 ]; do d=$d/d; i=$((i+1)); done; mkdir -p $d; echo planted; sleep 3600`, undefined, {
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      })],
    }));
    await waitFor('planter running', () => (pod('planter').status.phase === 'Running' ? true : undefined), 60_000);
    await waitFor('planted', () => (k('logs', 'planter').stdout.includes('planted') ? true : undefined), 30_000);
    const stat = () => ok('exec', 'planter', '--', 'sh', '-c', 'stat -c "%n %g %a" /data/a/b /data/fifo');
    assert.match(stat(), /\/data\/a\/b 7 2?700\n\/data\/fifo 7 /, 'the container changed the group of what it made');
    await s.stop();
    await s.spawn(suite.serverArgs());
    const watch = watchReadyz(s);
    // the restarted kubelet walks the emptyDir again; give it a few syncs
    await waitFor('planter running again', () => (pod('planter').status.phase === 'Running' ? true : undefined), 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    const st = stat();
    assert.match(st, /\/data\/a\/b 2345 2770/, 'the walk after the restart gave it fsGroup, group rwx and setgid');
    assert.match(st, /\/data\/fifo 2345 /);
    const hostFile = statSync(join(victim, 'file'));
    assert.equal(hostFile.gid, 0, 'the host file a link pointed at keeps its group');
    assert.equal(hostFile.mode & 0o777, 0o600, 'and its mode');
    const victimDir = statSync(victim);
    assert.equal(victimDir.gid, 0);
    await waitFor('the walk stopped at its depth limit and said so', () => (s.log.includes('not applied below 128 levels of directories') ? true : undefined), 30_000);
    const { failures, worstMs } = await watch.stop();
    assert.deepEqual(failures, []);
    assert.ok(worstMs < 1000, `/readyz answered within ${worstMs} ms`);
  });
});
