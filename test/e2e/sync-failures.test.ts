/**
 * Pods the kubelet cannot run, created with real kubectl against a real podbay server (runc,
 * conmon, CNI): each failure is caused the way a user can cause it, and must show as the kubelet
 * shows it, be retried with back-off (not in a loop), and leave a pod that a plain
 * `kubectl delete pod` (no --force) removes within seconds, with nothing left on the host:
 *
 *   - a hostPath DirectoryOrCreate under a regular file   -> FailedMount, ContainerCreating
 *   - a sysctl the kernel refuses                          -> FailedCreatePodSandBox, ContainerCreating
 *   - a pod memory limit below what runc needs            -> FailedCreatePodSandBox
 *   - a CNI bridge name taken by a veth                   -> FailedCreatePodSandBox; runs once freed
 *   - a capability runc does not know                     -> CreateContainerError
 *   - an image with more layers than one overlay mount takes -> CreateContainerError
 *   - a container memory limit below its usage at start  -> RunContainerError, then CrashLoopBackOff
 *   - a sandbox whose conmon was killed and netns removed -> deleted promptly all the same
 *   - a sandbox dir that cannot be removed (chattr +i)    -> FailedKillPod, Terminating; removed
 *                                                            by the retry once it can be
 *   - podbay killed (-9) while a sandbox is being made, the pod deleted before the kubelet
 *     synced it again                                     -> nothing of that sandbox left
 *   - podbay sent SIGTERM while it starts (a pod running) -> it finishes starting, stops in
 *                                                            order, exits 0; the pod survives
 *
 * podbay must answer /readyz within 1 s throughout.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, kubectlHelpers, until, waitFor, watchReadyz } from './harness.js';
import { writeDockerArchive } from '../../src/image/archive-build.js';

const BRIDGE = 'pbsync0';
const CIDR = '10.227.0.0/16';

const [kc] = kubectlBinaries().slice(-1);

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
}

describe('pods the kubelet cannot run', () => {
  let s: PodbayServer;
  const suite = new PodSuite(BRIDGE, CIDR, /^181[89]\d$/);
  const { k, ok, apply, pod, events } = kubectlHelpers(() => s, kc.path);
  let readyz: ReturnType<typeof watchReadyz>;
  /** what each /readyz watch saw (one per server process) */
  const readyzSeen: { worstMs: number; failures: string[]; failedAt: string[] }[] = [];

  const container = (name: string, c = 'c') => (pod(name).status?.containerStatuses ?? []).find((x: any) => x.name === c);
  /** the STATUS column of `kubectl get pod` */
  const statusColumn = (name: string) => ok('get', 'pod', name, '--no-headers').trim().split(/\s+/)[2];
  const waitStatus = async (name: string, want: string) => {
    try {
      return await waitFor(`${name} shows ${want}`, () => statusColumn(name) === want || undefined, 60_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${ok('get', 'pod', name)}\nevents:\n${events(name)}`);
    }
  };
  /** total count of the pod's events with this reason (the kubelet aggregates repeats) */
  const eventCount = (name: string, reason: string) =>
    (JSON.parse(ok('get', 'events', '--field-selector', `involvedObject.name=${name},reason=${reason}`, '-o', 'json')).items as any[]).reduce((n, e) => n + (e.count ?? 1), 0);
  const waitEvent = (name: string, reason: string, re: RegExp) =>
    waitFor(`${name}: ${reason} event`, () => events(name).split('\n').find((l) => l.startsWith(`Warning ${reason} `) && re.test(l)), 60_000);
  /** `kubectl delete pod` without --force: must return, the pod gone, within `maxMs` */
  const deletePromptly = (name: string, maxMs = 8000) => {
    const t0 = Date.now();
    const r = k('delete', 'pod', name, '--timeout=60s');
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, `kubectl delete pod ${name}: ${r.stderr}`);
    assert.equal(k('get', 'pod', name).code, 1, `${name} is gone`);
    assert.ok(ms < maxMs, `kubectl delete pod ${name} returned in ${ms} ms (at most ${maxMs})`);
  };
  const sandboxDirs = () => (existsSync(join(suite.runDir, 'sandboxes')) ? readdirSync(join(suite.runDir, 'sandboxes')).filter((d) => /^[0-9a-f]{64}$/.test(d)) : []);

  /** a pod `name` running `sleep 3600`, and its sandbox's directory and record */
  const runningSandbox = async (name: string, graceSeconds?: number) => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
${graceSeconds === undefined ? '' : `  terminationGracePeriodSeconds: ${graceSeconds}\n`}  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
`);
    await waitStatus(name, 'Running');
    const uid = pod(name).metadata.uid;
    const dir = sandboxDirs()
      .map((d) => join(suite.runDir, 'sandboxes', d))
      .find((d) => JSON.parse(readFileSync(join(d, 'sandbox.json'), 'utf8')).config.podUid === uid)!;
    return { dir, rec: JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) };
  };

  before(async () => {
    s = await suite.start('podbay-e2e-syncfail-');
    const bb = await suite.loadBusybox();
    // 70 layers: their lowerdir list is longer than the one page mount(2) takes for options
    const layers: string[] = [bb];
    for (let i = 0; i < 70; i++) {
      const d = join(suite.work, `layer-${i}`);
      mkdirSync(d);
      writeFileSync(join(d, `f${i}`), String(i));
      layers.push(d);
    }
    await writeDockerArchive(join(suite.work, 'tall.tar'), { repoTags: ['tall:1'], layers, config: { cmd: ['sleep', '3600'] } });
    suite.loadImage(join(suite.work, 'tall.tar'));
    readyz = watchReadyz(s);
  });

  after(async () => {
    readyzSeen.push(await readyz.stop());
    if (s.proc && (s.proc.exitCode !== null || s.proc.signalCode !== null)) await s.spawn(suite.serverArgs()); // a failed case left it stopped: the world is cleaned through it
    if (existsSync(`/sys/class/net/${BRIDGE}/peer_ifindex`) || existsSync(`/sys/class/net/${BRIDGE}p`)) spawnSync('ip', ['link', 'del', BRIDGE]); // a failed test's veth
    await suite.finish(kc.path);
    for (const [i, r] of readyzSeen.entries()) {
      // the server's log around an unanswered /readyz says what it was doing
      const around = r.failedAt.flatMap((t) => s.log.split('\n').filter((l) => Math.abs(Date.parse(l.slice(0, 24)) - Date.parse(t)) < 2000));
      assert.deepEqual(r.failures, [], `podbay (server process ${i + 1} of ${readyzSeen.length}) answered /readyz throughout; sent at ${r.failedAt.join(', ')}; its log then:\n${around.join('\n')}`);
      assert.ok(r.worstMs < 1000, `/readyz of server process ${i + 1} answered within 1 s (worst ${Math.round(r.worstMs)} ms)`);
    }
  });

  it('a CNI bridge name taken by another link: FailedCreatePodSandBox naming it, retried with back-off, the pod runs once the name is free', async () => {
    // before any pod made the bridge: a veth by its name (the bridge plugin will not take it over)
    ip('link', 'add', BRIDGE, 'type', 'veth', 'peer', 'name', `${BRIDGE}p`);
    try {
      apply(`apiVersion: v1
kind: Pod
metadata: {name: cni-conflict}
spec:
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
`);
      await waitEvent('cni-conflict', 'FailedCreatePodSandBox', new RegExp(`Failed to create pod sandbox: CNI plugin bridge ADD failed: .*"${BRIDGE}" already exists but is not a bridge`));
      assert.equal(statusColumn('cni-conflict'), 'ContainerCreating');
      assert.equal(container('cni-conflict')?.state?.waiting?.reason, 'ContainerCreating');
      assert.equal(pod('cni-conflict').status.phase, 'Pending');
      assert.match(ok('describe', 'pod', 'cni-conflict'), /Warning\s+FailedCreatePodSandBox\s+.*Failed to create pod sandbox: CNI plugin bridge ADD failed/);
      // back-off: attempts at about 0, 2, 6, 14, 30 s (x2 each); without it, one every 5 s (and
      // every resync, status write and watch event could add more)
      await new Promise((r) => setTimeout(r, 29_000));
      const n = eventCount('cni-conflict', 'FailedCreatePodSandBox');
      assert.ok(n >= 3 && n <= 5, `sandbox creation tried ${n} times in ~29 s (want 3-5: a back-off, not a loop)`);
    } finally {
      ip('link', 'del', BRIDGE);
    }
    // the next attempt (within the back-off's ~16 s) succeeds
    await waitStatus('cni-conflict', 'Running');
    deletePromptly('cni-conflict', 40_000); // sleep ignores SIGTERM: up to the 30 s grace period
  });

  it('a hostPath DirectoryOrCreate under a regular file: FailedMount with the mkdir error, ContainerCreating, deletable', async () => {
    const file = join(suite.work, 'a-file');
    writeFileSync(file, 'not a directory\n');
    apply(`apiVersion: v1
kind: Pod
metadata: {name: hp-under-file}
spec:
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"], volumeMounts: [{name: v, mountPath: /v}]}]
  volumes: [{name: v, hostPath: {path: ${file}/sub, type: DirectoryOrCreate}}]
`);
    await waitEvent('hp-under-file', 'FailedMount', new RegExp(`MountVolume\\.SetUp failed for volume "v" : mkdir ${file}/sub: not a directory`));
    await waitStatus('hp-under-file', 'ContainerCreating');
    assert.equal(eventCount('hp-under-file', 'FailedSync'), 0, 'a volume failure is FailedMount, not a failed sync');
    assert.equal(readFileSync(file, 'utf8'), 'not a directory\n');
    // the kubelet makes no sandbox before the volumes are set up: the one podbay starts beside
    // them on a first sync is taken away again, and no pod IP is shown
    const uid = pod('hp-under-file').metadata.uid;
    const ofPod = sandboxDirs().filter((d) => {
      const rec = join(suite.runDir, 'sandboxes', d, 'sandbox.json');
      return !existsSync(rec) || JSON.parse(readFileSync(rec, 'utf8')).config.podUid === uid;
    });
    assert.deepEqual(ofPod, [], 'no sandbox of a pod whose volume failed');
    assert.equal(pod('hp-under-file').status?.podIP, undefined, 'no pod IP while the volumes fail');
    deletePromptly('hp-under-file');
  });

  it('a sysctl the kernel refuses and a pod memory limit below what runc needs: FailedCreatePodSandBox, ContainerCreating, deletable', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: sysctl-refused}
spec:
  securityContext: {sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "99999"}]}
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: mem-1ki}
spec:
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"], resources: {limits: {memory: 1Ki}}}]
`);
    await waitEvent('sysctl-refused', 'FailedCreatePodSandBox', /Failed to create pod sandbox: .*write \/proc\/sys\/net\/ipv4\/ip_unprivileged_port_start: invalid argument/);
    await waitEvent('mem-1ki', 'FailedCreatePodSandBox', /Failed to create pod sandbox: .*runc create failed/);
    for (const name of ['sysctl-refused', 'mem-1ki']) {
      assert.equal(statusColumn(name), 'ContainerCreating');
      assert.equal(container(name)?.state?.waiting?.reason, 'ContainerCreating');
    }
    assert.deepEqual(sandboxDirs(), [], 'a failed sandbox is rolled back');
    deletePromptly('sysctl-refused');
    deletePromptly('mem-1ki');
  });

  it('a capability runc does not know and an image with too many layers: CreateContainerError with the reason, deletable', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: cap-unknown}
spec:
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"], securityContext: {capabilities: {add: [NO_SUCH_CAP]}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: tall-image}
spec:
  containers: [{name: c, image: "tall:1", imagePullPolicy: Never}]
`);
    await waitStatus('cap-unknown', 'CreateContainerError');
    assert.match(container('cap-unknown').state.waiting.message, /unknown capability to add: "CAP_NO_SUCH_CAP"/);
    await waitStatus('tall-image', 'CreateContainerError');
    assert.match(container('tall-image').state.waiting.message, /image \S*tall:1 has 71 layers: .* longer than the 4096-byte page mount\(2\) takes/);
    deletePromptly('cap-unknown');
    deletePromptly('tall-image');
  });

  it('a container memory limit below its usage at start: RunContainerError, then CrashLoopBackOff; deletable with its sibling running', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: mem-low}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - {name: big, image: busybox:1.36, command: [sleep, "3600"], resources: {limits: {memory: 16Mi}}}
  - {name: c, image: busybox:1.36, command: [sleep, "3600"], resources: {limits: {memory: 100Ki}}}
`);
    await waitEvent('mem-low', 'Failed', /Error: failed to start container "c": runc create failed: .*memory limit/);
    const c = await waitFor('c back-off', () => {
      const x = container('mem-low');
      return ['RunContainerError', 'CrashLoopBackOff'].includes(x?.state?.waiting?.reason) ? x : undefined;
    }, 60_000);
    assert.equal(c.lastState.terminated?.reason, 'StartError', JSON.stringify(c));
    assert.ok(container('mem-low', 'big').state.running, 'the other container runs');
    deletePromptly('mem-low');
  });

  it('a sandbox whose conmon was killed and whose netns pin was removed: a plain delete completes promptly, nothing left', async () => {
    const { rec } = await runningSandbox('half-gone', 2);
    process.kill(rec.conmonPid, 'SIGKILL');
    spawnSync('umount', [rec.netnsPath]);
    spawnSync('rm', ['-f', rec.netnsPath]);
    // before: the pause's exit was awaited 10 s, twice (its conmon, which writes it, was dead)
    deletePromptly('half-gone', 6000);
    assert.deepEqual(sandboxDirs(), []);
  });

  it('a teardown step that fails (a file of the sandbox dir made immutable): FailedKillPod naming it, the pod stays Terminating, the retry removes everything once it can', async () => {
    const { dir, rec } = await runningSandbox('stuck-teardown');
    const runcIds = () => spawnSync('runc', ['--root', join(suite.runDir, 'runc'), 'list', '-q'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    const sandboxId = dir.split('/').pop()!;
    assert.ok(runcIds().includes(sandboxId));
    const pinned = join(dir, 'hostname');
    assert.equal(spawnSync('chattr', ['+i', pinned]).status, 0, 'chattr +i (the run dir must be on a file system that has it)');
    try {
      const r = k('delete', 'pod', 'stuck-teardown', '--grace-period=0', '--wait=false');
      assert.equal(r.code, 0, r.stderr);
      await waitEvent('stuck-teardown', 'FailedKillPod', /error killing pod: unlink \S*\/hostname: operation not permitted/).catch((e: Error) => {
        throw new Error(`${e.message}\n${k('get', 'pod', 'stuck-teardown').stdout}\nevents:\n${events('stuck-teardown')}\nserver log:\n${s.log.split('\n').filter((l) => /stuck-teardown|kubelet: sync of pod/.test(l)).join('\n')}`);
      });
      assert.equal(statusColumn('stuck-teardown'), 'Terminating');
      // the steps beside the failed one ran: the pause's runc container and the pod's netns are gone
      assert.ok(!runcIds().includes(sandboxId), 'the pause is deleted from runc');
      assert.equal(existsSync(rec.netnsPath), false, 'the netns pin is gone');
      assert.ok(existsSync(join(dir, 'sandbox.json')), 'the record stays for the retry');
    } finally {
      spawnSync('chattr', ['-i', pinned]);
    }
    await waitFor('stuck-teardown gone', () => k('get', 'pod', 'stuck-teardown').code === 1 || undefined, 60_000);
    assert.equal(existsSync(dir), false, 'the sandbox dir is removed by the retry');
  });

  it('podbay killed while a sandbox is being made, the pod deleted before the kubelet synced it again: nothing of it is left', async () => {
    const sandboxes = join(suite.runDir, 'sandboxes');
    apply(`apiVersion: v1
kind: Pod
metadata: {name: cut-short}
spec:
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
`);
    // kill -9 as soon as the sandbox dir has its pause config but no record (creation under way)
    readyzSeen.push(await readyz.stop());
    const end = Date.now() + 30_000;
    const halfMade = () => sandboxDirs().some((d) => existsSync(join(sandboxes, d, 'config.json')) && !existsSync(join(sandboxes, d, 'sandbox.json')));
    while (!halfMade()) {
      assert.ok(Date.now() < end, 'no sandbox seen half made in 30 s');
      await new Promise((r) => setTimeout(r, 2));
    }
    s.proc!.kill('SIGKILL');
    await new Promise((r) => s.proc!.once('exit', r));
    assert.ok(sandboxDirs().some((d) => !existsSync(join(sandboxes, d, 'sandbox.json'))), 'a sandbox without its record was left by the kill');
    // delete the pod with no kubelet running (the API alone), then start the node again
    await s.spawn([...suite.serverArgs(), '--no-kubelet']);
    ok('delete', 'pod', 'cut-short', '--grace-period=0', '--force');
    assert.equal(await s.stop(), 0);
    await s.spawn(suite.serverArgs());
    readyz = watchReadyz(s);
    await waitFor('the interrupted sandbox removed', () => sandboxDirs().length === 0 || undefined, 30_000);
    assert.match(s.log, /runtime: removed sandbox [0-9a-f]{12}, whose creation was interrupted/);
    // its volumes were made before the kill (the service-account token's tmpfs): unmounted too
    const podsDir = join(s.dataDir, 'pods');
    await waitFor('no volume of the deleted pod mounted', () => !readFileSync('/proc/self/mountinfo', 'utf8').includes(podsDir) || undefined, 30_000);
    assert.match(s.log, /kubelet: removing the volumes of pod [0-9a-f-]{36}: no such pod/);
  });

  it('a SIGTERM while podbay starts, with a pod running: it finishes starting, shuts down in order and exits 0; the pod runs on and is adopted', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: survivor}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
`);
    await waitStatus('survivor', 'Running');
    const before = container('survivor')!.containerID;
    readyzSeen.push(await readyz.stop());
    assert.equal(await s.stop(), 0);
    // from its first line a SIGTERM must be held: at once (while the server's modules load),
    // once it listens (the kubelet adopting the pod), and once it serves. (Before node has run
    // podbay's first line, node's own handler ends the process, as for any program.)
    const moments: [string, () => boolean][] = [
      ['as soon as it says it starts', () => /podbay \S+: starting the server/.test(s.log)],
      ['once it listens', () => /podbay: listening/.test(s.log)],
      ['once it serves', () => /podbay: serving the Kubernetes API/.test(s.log)],
    ];
    for (const [when, ready] of moments) {
      s.log = '';
      const proc = s.launch(suite.serverArgs());
      const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
      await until(`podbay started (${when})`, async () => {
        if (proc.exitCode === null && !ready()) throw new Error('not yet');
      }, 30_000, 1);
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(t);
      assert.equal(code, 0, `SIGTERM ${when}: podbay should exit 0 after an orderly shutdown; log:\n${s.log}`);
      assert.match(s.log, /podbay: SIGTERM: shutting down/);
    }
    await s.spawn(suite.serverArgs());
    readyz = watchReadyz(s);
    await waitStatus('survivor', 'Running');
    assert.equal(container('survivor')!.containerID, before, 'the same container, adopted, not re-made');
    assert.equal(container('survivor')!.restartCount, 0);
    deletePromptly('survivor');
  });

  it('a SIGTERM while pods are being killed with a long grace period: podbay stops promptly, and the next start finishes their deletion', async () => {
    // the containers ignore SIGTERM (PID 1 without a handler): each kill waits out its 20 s grace
    apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: slow-stop}
spec:
  replicas: 3
  selector: {matchLabels: {app: slow-stop}}
  template:
    metadata: {labels: {app: slow-stop}}
    spec:
      terminationGracePeriodSeconds: 20
      containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
`);
    const podNames = () => ok('get', 'pods', '-l', 'app=slow-stop', '-o', 'name').trim().split('\n').filter(Boolean);
    await waitFor('3 slow-stop pods Running', () => podNames().length === 3 && podNames().every((n) => statusColumn(n.replace('pod/', '')) === 'Running') || undefined, 60_000);
    ok('delete', 'deployment', 'slow-stop', '--wait=false');
    await waitFor('the pods terminating', () => ok('get', 'pods', '-l', 'app=slow-stop', '--no-headers').split('\n').filter((l) => /Terminating/.test(l)).length === 3 || undefined, 30_000);
    await new Promise((r) => setTimeout(r, 1000)); // the kubelet is inside the grace period now
    readyzSeen.push(await readyz.stop());
    const t0 = Date.now();
    const code = await s.stop(); // SIGKILL after 10 s
    const ms = Date.now() - t0;
    assert.equal(code, 0, `podbay should exit 0; log:\n${s.log.slice(-3000)}`);
    assert.ok(ms < 8000, `podbay stopped in ${ms} ms with pod kills in their grace period (at most 8 s)`);
    assert.match(s.log, /kubelet: sync of pod \S+ cut short: podbay is stopping: container c \(\w+\) is left in its grace period/, 'the kill was cut short, not waited out');
    await s.spawn(suite.serverArgs());
    readyz = watchReadyz(s);
    await waitFor('the slow-stop pods gone', () => podNames().length === 0 || undefined, 90_000);
  });
});
