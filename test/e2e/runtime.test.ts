/**
 * The runtime room against the real host (root): runc under conmon, catatonit as pause, the
 * real CNI network (CniPodNetwork) and image store (LocalImageService). This suite owns its
 * world: a temp dir for run and data dirs, bridge pbrttest0, subnet 10.202.0.0/24, network
 * pbrttest, hostPorts 19200-19299. Traffic goes only to 127.0.0.1 and to its own pods.
 * At the end it checks that nothing is left: runc containers under its runc root, conmon or
 * pause processes, mounts under its dirs, netns pins, DNAT rules for its ports.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { httpGet, until } from './harness.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/sys/exec.js';
import { CniPodNetwork } from '../../src/network/pod-network.js';
import { LocalImageService } from '../../src/image/store.js';
import { buildBusyboxRootfs, writeRootfsTar } from '../../src/image/archive-build.js';
import { RuncRuntime, checkHostTools, sandboxIdFor } from '../../src/runtime/runtime.js';
import type { ContainerConfig, SandboxConfig } from '../../src/runtime/types.js';
import { parseMountinfo } from '../../src/sys/mountinfo.js';

const T = mkdtempSync(join(tmpdir(), 'podbay-rttest-'));
const RUN = join(T, 'run');
const DATA = join(T, 'data');
const LOGS = join(T, 'logs');
const IMAGE = 'podbay.test/rt-busybox:1';
const PORT = 19200;
const isRoot = process.getuid?.() === 0;
// A missing host tool fails the suite, saying what to install; it never skips.
if (!isRoot) throw new Error('the runtime end-to-end tests need root (sudo npm test)');
const missingTools = checkHostTools();
if (missingTools.length) {
  throw new Error(`missing host tools: ${missingTools.map((m) => `${m.tool} (Debian package ${m.package})`).join(', ')}: run 'bash scripts/setup-host.sh'`);
}

const images = new LocalImageService(join(DATA, 'images'));
const network = new CniPodNetwork({
  runDir: join(RUN, 'net'),
  confDir: join(T, 'cni-conf'),
  binDirs: ['/usr/lib/cni', '/opt/cni/bin'],
  networkName: 'pbrttest',
  bridge: 'pbrttest0',
  podCidr: '10.202.0.0/24',
});
const newRuntime = () => new RuncRuntime({ runDir: join(RUN, 'rt'), dataDir: DATA, images, network });
let rt: RuncRuntime;
const pausePids = new Set<number>();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const httpGetBody = async (host: string, port: number) => (await httpGet(`http://${host}:${port}/index.html`)).body;

function sandboxCfg(name: string, over: Partial<SandboxConfig> = {}): SandboxConfig {
  return {
    podName: name,
    podNamespace: 'rttest',
    podUid: `uid-${name}`,
    attempt: 0,
    hostname: name,
    hostNetwork: false,
    hostIPC: false,
    hostPID: false,
    shareProcessNamespace: false,
    portMappings: [],
    labels: {},
    annotations: {},
    ...over,
  };
}

function ctr(pod: string, name: string, argv: string[], over: Partial<ContainerConfig> = {}): ContainerConfig {
  return { name, image: IMAGE, argv, env: ['FOO=bar'], mounts: [], logPath: join(LOGS, pod, name, '0.log'), restartCount: 0, labels: {}, annotations: {}, ...over };
}

const ns = (pid: number, kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);

before(async () => {
  const rootfs = join(T, 'rootfs');
  await buildBusyboxRootfs(rootfs);
  mkdirSync(join(rootfs, 'www'));
  writeFileSync(join(rootfs, 'www', 'index.html'), 'hello from podbay runtime\n');
  await writeRootfsTar(join(T, 'rootfs.tar'), rootfs);
  await images.importRootfs(join(T, 'rootfs.tar'), IMAGE);
  rt = newRuntime();
});

after(async () => {
  await rt?.close();
  await network.destroy().catch(() => undefined);
  rmSync(T, { recursive: true, force: true });
});

let podA: string;
let web: string;
let side: string;
let failing: string;
const exited: string[] = [];

test('a pod with two containers: httpd answers on the pod IP and the hostPort; namespaces are shared', async () => {
  rt.onContainerExit((id) => exited.push(id));
  const cfg = sandboxCfg('web-pod', { portMappings: [{ hostPort: PORT, containerPort: 8080, protocol: 'tcp' }] });
  const sb = await rt.runPodSandbox(cfg);
  podA = sb.id;
  pausePids.add(sb.pid);
  assert.equal(sb.id, sandboxIdFor('uid-web-pod', 0));
  assert.equal(sb.state, 'ready');
  assert.match(sb.ips[0] ?? '', /^10\.202\.0\.\d+$/);
  const again = await rt.runPodSandbox(cfg);
  assert.equal(again.id, sb.id, 'runPodSandbox is idempotent');
  assert.equal(again.pid, sb.pid);

  web = await rt.createContainer(sb.id, ctr('web-pod', 'web', ['/bin/httpd', '-f', '-p', '8080', '-h', '/www']));
  // a shell that honours SIGTERM (an init process without a handler ignores it)
  side = await rt.createContainer(sb.id, ctr('web-pod', 'side', ['/bin/sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']));
  assert.equal((await rt.containerStatus(web))!.state, 'created');
  await rt.startContainer(web);
  await rt.startContainer(side);
  await rt.startContainer(side); // idempotent
  const ws = (await rt.containerStatus(web))!;
  const ss = (await rt.containerStatus(side))!;
  assert.equal(ws.state, 'running');
  assert.equal(ss.state, 'running');
  assert.match(ws.imageId, /^(\S+@)?sha256:[0-9a-f]{64}$/);

  assert.equal(await until('GET pod IP', () => httpGetBody(sb.ips[0]!, 8080)), 'hello from podbay runtime\n');
  assert.equal(await until('GET hostPort', () => httpGetBody('127.0.0.1', PORT)), 'hello from podbay runtime\n');

  for (const c of [ws, ss]) {
    for (const k of ['net', 'ipc', 'uts']) assert.equal(ns(c.pid, k), ns(sb.pid, k), `${c.config.name} shares ${k}`);
    assert.notEqual(ns(c.pid, 'mnt'), ns(sb.pid, 'mnt'), `${c.config.name} has its own mount ns`);
    assert.notEqual(ns(c.pid, 'pid'), ns(sb.pid, 'pid'), `${c.config.name} has its own pid ns`);
  }
  assert.notEqual(ns(ws.pid, 'mnt'), ns(ss.pid, 'mnt'));
  // the pod's /dev/shm is one tmpfs for all its containers
  writeFileSync(`/proc/${ws.pid}/root/dev/shm/marker`, 'x');
  assert.ok(existsSync(`/proc/${ss.pid}/root/dev/shm/marker`));
  const hosts = readFileSync(`/proc/${ws.pid}/root/etc/hosts`, 'utf8');
  assert.match(hosts, new RegExp(`^${sb.ips[0]!.replace(/\./g, '\\.')}\\tweb-pod$`, 'm'));
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  assert.equal(readFileSync(`/proc/${ss.pid}/environ`, 'utf8').split('\0').includes('FOO=bar'), true);
});

/** the mount on "/" a container's processes see (the newest of those stacked there) */
const rootMount = (pid: number) => parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).filter((m) => m.mountPoint === '/').at(-1)!;

test('the rootfs overlay is mounted by runc in the container\'s mount namespace: none on the host; writes land in the snapshot\'s upper dir; a read-only root', async () => {
  const host = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  // the suite's containers are running: the host's table has no overlay (nor anything) of theirs
  assert.deepEqual(host().filter((l) => l.includes(' - overlay ') && l.includes(T)), [], 'no overlay line of this suite in the host\'s mountinfo');
  assert.deepEqual(host().filter((l) => l.includes(join(RUN, 'rt', 'containers'))), [], 'nothing mounted under the containers\' dirs');
  for (const id of [web, side]) {
    const st = (await rt.containerStatus(id))!;
    const upper = await images.snapshotUpperDir(id);
    assert.ok(upper?.startsWith(join(DATA, 'images') + '/'), String(upper));
    const root = rootMount(st.pid);
    assert.equal(root.fsType, 'overlay', `${st.config.name}: / is the snapshot's overlay`);
    assert.ok(root.superOptions.includes(`upperdir=${upper}`), root.superOptions.join(','));
    assert.ok(root.options.includes('rw'));
    assert.equal(await rt.containerWritableLayer(id), upper, 'ephemeral-storage accounting measures the upper dir');
  }
  const w = await rt.execSync(side, ['/bin/sh', '-c', 'echo written-inside > /marker.txt && cat /www/index.html'], 10);
  assert.equal(w.exitCode, 0, w.stderr);
  assert.equal(w.stdout, 'hello from podbay runtime\n');
  assert.equal(readFileSync(join((await images.snapshotUpperDir(side))!, 'marker.txt'), 'utf8'), 'written-inside\n');
  assert.equal(existsSync(join((await images.snapshotUpperDir(web))!, 'marker.txt')), false, 'each container has its own upper dir');

  const ro = await rt.createContainer(podA, ctr('web-pod', 'ro', ['/bin/sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'], { readOnlyRootfs: true }));
  await rt.startContainer(ro);
  const rst = (await rt.containerStatus(ro))!;
  const root = rootMount(rst.pid);
  assert.equal(root.fsType, 'overlay');
  assert.ok(root.options.includes('ro'), `readOnlyRootfs: / is mounted ro (${root.options.join(',')})`);
  const denied = await rt.execSync(ro, ['/bin/sh', '-c', 'echo x > /marker.txt'], 10);
  assert.notEqual(denied.exitCode, 0);
  assert.match(denied.stderr, /Read-only file system/);
  assert.deepEqual(host().filter((l) => l.includes(' - overlay ') && l.includes(T)), []);
  const snap = (await images.snapshotUpperDir(ro))!;
  await rt.removeContainer(ro);
  assert.equal(existsSync(snap), false, 'the snapshot goes with the container');
  assert.equal(await images.snapshotUpperDir(ro), undefined);
});

test('a container whose rootfs dir is a host mount point (as an older podbay left it) is unmounted at its removal', async () => {
  const id = await rt.createContainer(podA, ctr('web-pod', 'older', ['/bin/sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']));
  await rt.startContainer(id);
  const upper = (await images.snapshotUpperDir(id))!;
  const dir = join(RUN, 'rt', 'containers', id);
  // an older podbay mounted the snapshot on the host at rootfs/ (here its upper dir, read-only)
  await run('mount', ['--bind', '-o', 'ro', upper, join(dir, 'rootfs')]);
  const hostLines = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
  assert.equal(hostLines().length, 1);
  assert.equal(await rt.containerWritableLayer(id), upper);
  await rt.removeContainer(id);
  assert.deepEqual(hostLines(), []);
  assert.equal(existsSync(dir), false);
  assert.equal(existsSync(upper), false, 'the snapshot goes too');
});

test('a container that exits 3: exit code, reason, CRI log, hostname = pod name, exit event', async () => {
  const id = await rt.createContainer(podA, ctr('web-pod', 'job', ['/bin/sh', '-c', 'hostname; echo out-line; echo err-line >&2; cat /etc/hostname; exit 3']));
  await rt.startContainer(id);
  const st = await until('exit', async () => {
    const s = (await rt.containerStatus(id))!;
    if (s.state !== 'exited') throw new Error(`still ${s.state}`);
    return s;
  });
  assert.equal(st.exitCode, 3);
  assert.equal(st.reason, 'Error');
  assert.ok(st.finishedAt);
  await until('exit event', async () => assert.ok(exited.includes(id)));
  const log = readFileSync(join(LOGS, 'web-pod', 'job', '0.log'), 'utf8').trim().split('\n');
  const re = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) F (.*)$/;
  for (const l of log) assert.match(l, re);
  const lines = log.map((l) => re.exec(l)!).map((m) => `${m[2]} ${m[3]}`);
  assert.deepEqual(lines.filter((l) => l.startsWith('stdout')), ['stdout web-pod', 'stdout out-line', 'stdout web-pod']);
  assert.deepEqual(lines.filter((l) => l.startsWith('stderr')), ['stderr err-line']);
  await rt.removeContainer(id);
  assert.equal(await rt.containerStatus(id), undefined);
});

test('a missing binary: runc\'s message, start fails, status exited with a reason', async () => {
  failing = await rt.createContainer(podA, ctr('web-pod', 'bad', ['nosuch']));
  await assert.rejects(rt.startContainer(failing), (e: Error) => {
    assert.match(e.message, /exec: "nosuch": executable file not found in \$PATH/);
    return true;
  });
  const st = (await rt.containerStatus(failing))!;
  assert.equal(st.state, 'exited');
  assert.equal(st.reason, 'StartError');
  assert.equal(st.exitCode, 128);
  assert.match(st.message ?? '', /executable file not found/);
});

test('shareProcessNamespace: pid ns shared, PID 1 is catatonit', async () => {
  const sb = await rt.runPodSandbox(sandboxCfg('shared-pod', { shareProcessNamespace: true }));
  pausePids.add(sb.pid);
  const a = await rt.createContainer(sb.id, ctr('shared-pod', 'a', ['/bin/sleep', '3600']));
  await rt.startContainer(a);
  const b = await rt.createContainer(sb.id, ctr('shared-pod', 'b', ['/bin/sh', '-c', 'cat /proc/1/comm; hostname']));
  await rt.startContainer(b);
  const as = (await rt.containerStatus(a))!;
  assert.equal(ns(as.pid, 'pid'), ns(sb.pid, 'pid'));
  assert.notEqual(ns(as.pid, 'mnt'), ns(sb.pid, 'mnt'));
  await until('b exits', async () => assert.equal((await rt.containerStatus(b))!.state, 'exited'));
  assert.equal((await rt.containerStatus(b))!.exitCode, 0);
  assert.equal((await rt.containerStatus(b))!.reason, 'Completed');
  const out = readFileSync(join(LOGS, 'shared-pod', 'b', '0.log'), 'utf8');
  assert.match(out, / stdout F catatonit$/m);
  assert.match(out, / stdout F shared-pod$/m);
});

test('hostNetwork + hostIPC: no netns, the host\'s net/uts/ipc namespaces, no CNI', async () => {
  const sb = await rt.runPodSandbox(sandboxCfg('host-pod', { hostNetwork: true, hostIPC: true }));
  pausePids.add(sb.pid);
  assert.equal(sb.netnsPath, undefined);
  assert.deepEqual(sb.ips, []);
  const c = await rt.createContainer(sb.id, ctr('host-pod', 'h', ['/bin/sh', '-c', 'hostname; sleep 3600']));
  await rt.startContainer(c);
  const cs = (await rt.containerStatus(c))!;
  for (const k of ['net', 'uts', 'ipc']) assert.equal(ns(cs.pid, k), ns(process.pid, k), `host ${k}`);
  assert.notEqual(ns(cs.pid, 'pid'), ns(process.pid, 'pid'));
  const host = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
  await until('hostname logged', async () => assert.match(readFileSync(join(LOGS, 'host-pod', 'h', '0.log'), 'utf8'), new RegExp(` stdout F ${host}$`, 'm')));
  assert.deepEqual(await network.list().then((l) => l.filter((x) => x === sb.id)), []);
  await rt.removePodSandbox(sb.id);
  assert.equal(await rt.podSandboxStatus(sb.id), undefined);
  assert.equal(await rt.containerStatus(c), undefined);
});

test('the pause starts after runPodSandbox returned; one that fails to start fails its app containers\' start, the sandbox reads NotReady, and its removal leaves nothing', async () => {
  // the real runc, except that the `start` of the sandbox named in `mark` finds the pause's
  // process killed first (as the OOM killer or a stray kill would), a second after it was
  // asked: runc's own start then fails
  const dir = join(T, 'runc-kills-pause');
  mkdirSync(dir);
  const mark = join(dir, 'sandbox');
  const wrapper = join(dir, 'runc');
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      `if [ "$3" = start ] && [ "$4" = "$(cat ${mark})" ]; then`,
      '  sleep 1',
      '  pid=$(/usr/sbin/runc --root "$2" state "$4" | sed -n \'s/^ *"pid": *\\([0-9]*\\),$/\\1/p\')',
      '  kill -9 "$pid"',
      '  sleep 0.2',
      'fi',
      'exec /usr/sbin/runc "$@"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const runDir = join(RUN, 'rt-pause-fails');
  const frt = new RuncRuntime({ runDir, dataDir: DATA, images, network, runtimePath: wrapper });
  const cfg = sandboxCfg('pause-fails');
  writeFileSync(mark, sandboxIdFor(cfg.podUid, cfg.attempt));
  const sb = await frt.runPodSandbox(cfg);
  assert.equal(sb.state, 'ready', 'returned once the pause exists, while its start runs on');
  assert.equal(ns(sb.pid, 'net'), `net:[${statSync(sb.netnsPath!).ino}]`, "the pause (runc's init until its start) is in the pod's netns");
  const app = await frt.createContainer(sb.id, ctr('pause-fails', 'app', ['/bin/sleep', '3600']));
  await assert.rejects(frt.startContainer(app), (e: Error) => {
    assert.match(e.message, /^failed to start container "app": pause container for pod rttest\/pause-fails did not start: ./);
    return true;
  });
  const st = (await frt.containerStatus(app))!;
  assert.deepEqual([st.state, st.reason, st.exitCode], ['exited', 'StartError', 128]);
  assert.match(st.message ?? '', /^pause container for pod rttest\/pause-fails did not start/);
  assert.equal((await frt.podSandboxStatus(sb.id))!.state, 'notready');
  await frt.stopPodSandbox(sb.id);
  await frt.removePodSandbox(sb.id);
  assert.equal(await frt.podSandboxStatus(sb.id), undefined);
  assert.deepEqual(await frt.listContainers(), []);
  const left = (await run('/usr/sbin/runc', ['--root', join(runDir, 'runc'), 'list', '-q'])).stdout.trim();
  assert.equal(left, '', 'no runc container left');
  assert.deepEqual(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(runDir)), [], 'no mount left');
  assert.deepEqual((await network.list()).filter((x) => x === sb.id), [], 'no network left');
  await frt.close();
});

test('a new RuncRuntime over the same dirs adopts the running sandboxes and containers', async () => {
  const before = { sb: await rt.listPodSandboxes(), cs: await rt.listContainers() };
  const rt2 = newRuntime();
  const sbs = await rt2.listPodSandboxes();
  const cs = await rt2.listContainers();
  assert.deepEqual(sbs.map((s) => [s.id, s.state, s.pid]), before.sb.map((s) => [s.id, s.state, s.pid]));
  assert.deepEqual(cs.map((c) => [c.id, c.state, c.pid, c.exitCode]), before.cs.map((c) => [c.id, c.state, c.pid, c.exitCode]));
  assert.equal(sbs.length, 2);
  assert.ok(sbs.every((s) => s.state === 'ready'));
  assert.deepEqual((await rt2.listContainers(podA)).map((c) => [c.id, c.state]), [[web, 'running'], [side, 'running'], [failing, 'exited']]);
  // the adopted runtime drives them: SIGTERM ends the shell within its grace period
  let t0 = Date.now();
  await rt2.stopContainer(side, 10);
  assert.ok(Date.now() - t0 < 5000);
  const ss = (await rt2.containerStatus(side))!;
  assert.deepEqual([ss.state, ss.exitCode, ss.reason], ['exited', 0, 'Completed']);
  assert.equal((await rt.containerStatus(side))!.state, 'exited', 'the first instance sees it too');
  // httpd as its pid namespace's init ignores SIGTERM: the timeout ends in SIGKILL (137)
  t0 = Date.now();
  await rt2.stopContainer(web, 1);
  assert.ok(Date.now() - t0 >= 900);
  const ws = (await rt2.containerStatus(web))!;
  assert.deepEqual([ws.state, ws.exitCode, ws.reason], ['exited', 137, 'Error']);
  await rt2.close();
});

test('stop and remove everything; timings of a few pod cycles', async () => {
  for (const s of await rt.listPodSandboxes()) {
    await rt.stopPodSandbox(s.id);
    assert.equal((await rt.podSandboxStatus(s.id))!.state, 'notready');
    await rt.removePodSandbox(s.id);
    await rt.removePodSandbox(s.id); // idempotent
  }
  assert.deepEqual(await rt.listPodSandboxes(), []);
  assert.deepEqual(await rt.listContainers(), []);

  const t = { run: [] as number[], createStart: [] as number[], serve: [] as number[], stopRemove: [] as number[] };
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const sb = await rt.runPodSandbox(sandboxCfg(`cycle-${i}`, { portMappings: [{ hostPort: PORT + 1 + i, containerPort: 8080, protocol: 'tcp' }] }));
    pausePids.add(sb.pid);
    const t1 = performance.now();
    const a = await rt.createContainer(sb.id, ctr(`cycle-${i}`, 'web', ['/bin/httpd', '-f', '-p', '8080', '-h', '/www']));
    await rt.startContainer(a);
    const b = await rt.createContainer(sb.id, ctr(`cycle-${i}`, 'side', ['/bin/sleep', '3600']));
    await rt.startContainer(b);
    const t2 = performance.now();
    await until('serve', () => httpGetBody('127.0.0.1', PORT + 1 + i));
    const t3 = performance.now();
    await rt.stopPodSandbox(sb.id);
    await rt.removePodSandbox(sb.id);
    const t4 = performance.now();
    if (i === 0) continue; // warm-up
    t.run.push(t1 - t0);
    t.createStart.push(t2 - t1);
    t.serve.push(t3 - t0);
    t.stopRemove.push(t4 - t3);
  }
  const r = (xs: number[]) => Math.round(median(xs) * 10) / 10;
  console.log(JSON.stringify({ runtime_ms_median: { runPodSandbox: r(t.run), createStart2Containers: r(t.createStart), podStartToServing: r(t.serve), stopRemovePod: r(t.stopRemove) }, n: t.run.length }));
});

test('nothing is left behind', async () => {
  const runcList = await run('/usr/sbin/runc', ['--root', join(RUN, 'rt', 'runc'), 'list', '--format', 'json']);
  assert.deepEqual(JSON.parse(runcList.stdout || 'null') ?? [], []);
  const procs: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(T)) procs.push(`${p}: ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      /* gone */
    }
  }
  assert.deepEqual(procs, [], 'no conmon or container process mentions our dirs');
  for (const pid of pausePids) {
    let alive = true;
    try {
      alive = !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
    } catch {
      alive = false;
    }
    assert.equal(alive, false, `pause ${pid} is gone`);
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(T));
  assert.deepEqual(mounts, []);
  const pins = join(RUN, 'net', 'netns');
  assert.deepEqual(existsSync(pins) ? readdirSync(pins) : [], []);
  const nat = (await run('iptables-save', ['-t', 'nat'])).stdout.split('\n').filter((l) => /--dport 192\d\d\b/.test(l) && /192[0-9]{2}/.test(l) && /DNAT|pbrttest/.test(l));
  assert.deepEqual(nat.filter((l) => { const m = /--dport (\d+)/.exec(l); return m && +m[1]! >= 19200 && +m[1]! <= 19299; }), []);
  assert.deepEqual(readdirSync(join(RUN, 'rt', 'sandboxes')), []);
  assert.deepEqual(readdirSync(join(RUN, 'rt', 'containers')), []);
  assert.deepEqual(readdirSync(join(RUN, 'rt', 'exits')), []);
  assert.deepEqual(await images.listSnapshots(), []);
});
