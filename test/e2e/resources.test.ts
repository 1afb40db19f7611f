/**
 * Resources and limits, enforced: every pod runs in a cgroup of the kubelet's shape under
 * podbay's cgroup root (pause and app containers as its children), memory limits OOM-kill
 * (reason OOMKilled, exit 137, restarted per restartPolicy), cpu limits become CFS quota, a
 * fork bomb stops at the pod's pids limit while podbay keeps answering, pods that do not fit
 * the node's allocatable stay Pending (Insufficient memory) until room is made, and every pod
 * cgroup is gone once its pod is. Real kubectl, runc, conmon and CNI against a real server.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, cgroupMounts, kubectlBinaries, waitFor, watchReadyz, kubectlHelpers } from './harness.js';

const BRIDGE = 'pbcgsec0';
const CIDR = '10.213.0.0/24';
const PIDS_LIMIT = 64;

const [kc] = kubectlBinaries().slice(-1);

/** this host's v1 hierarchy (or the v2 mount) holding `controller` */
function controllerMount(controller: string): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const post = line.slice(line.indexOf(' - ') + 3).split(' ');
    if (post[0] === 'cgroup' && post[2]!.split(',').includes(controller)) return f[4]!;
  }
  const v2 = cgroupMounts().find((m) => existsSync(join(m, 'cgroup.controllers')) && readFileSync(join(m, 'cgroup.controllers'), 'utf8').includes(controller));
  if (!v2) throw new Error(`no cgroup hierarchy with the ${controller} controller on this host`);
  return v2;
}
const isV2 = () => !readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => / - cgroup cgroup .*\bmemory\b/.test(l));
const read = (p: string) => readFileSync(p, 'utf8').trim();

describe('resources and limits (cgroups)', () => {
  let s: PodbayServer;
  const suite = new PodSuite(BRIDGE, CIDR, /^197[45]\d$/);
  const { ok, apply, pod } = kubectlHelpers(() => s, kc.path);
  const running = (name: string) => waitFor(`${name} Running`, () => (pod(name).status.phase === 'Running' ? pod(name) : undefined), 60_000);
  const podDir = (p: any, controller: string) => {
    const qos = p.status.qosClass as string;
    const rel = qos === 'Guaranteed' ? 'kubepods' : `kubepods/${qos.toLowerCase()}`;
    return join(controllerMount(controller), suite.cgroupRoot, rel, `pod${p.metadata.uid}`);
  };
  const containerId = (p: any, i = 0) => String(p.status.containerStatuses[i].containerID).replace('podbay://', '');
  const podCgroupsGone = (uid: string) => cgroupMounts().flatMap((m) => (existsSync(join(m, suite.cgroupRoot)) ? (readdirSync(join(m, suite.cgroupRoot), { recursive: true }) as string[]).filter((f) => f.includes(uid)).map((f) => join(m, suite.cgroupRoot, f)) : []));
  const deleteAndCheck = async (name: string) => {
    const uid = pod(name).metadata.uid;
    ok('delete', 'pod', name, '--wait=true');
    // a Failed pod's object goes at once (grace 0) while the kubelet may still be tearing it down
    const left = await waitFor('pod cgroups removed', () => {
      const l = podCgroupsGone(uid).filter((f) => f.endsWith(uid));
      return l.length ? undefined : l;
    }, 15_000).catch(() => podCgroupsGone(uid).filter((f) => f.endsWith(uid)));
    assert.deepEqual(left, [], `pod ${name}'s cgroups are removed with it; server log:\n${s.log.split('\n').slice(-30).join('\n')}`);
  };

  before(async () => {
    s = await suite.start('podbay-e2e-cg-', ['--pod-pids-limit', String(PIDS_LIMIT)]);
    // no pod here maps a hostPort: portmap's shared chains (older podbays), if they appear meanwhile, belong to
    // a suite running beside this one (this suite's own rules are still checked by subnet/bridge)
    suite.hadHostportChains = true;
    await suite.loadBusybox();
  });

  after(() => suite.finish(kc.path));

  it('reports the machine as the node: capacity from its CPUs and memory, allocatable less the 100Mi eviction reserve', () => {
    const node = JSON.parse(ok('get', 'nodes', '-o', 'json')).items[0];
    const memKi = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
    const cpus = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => /^processor\s*:/.test(l)).length;
    assert.equal(node.status.capacity.cpu, String(cpus));
    assert.equal(node.status.capacity.memory, `${memKi}Ki`);
    assert.equal(node.status.allocatable.memory, `${memKi - 100 * 1024}Ki`);
    assert.equal(node.status.allocatable.cpu, String(cpus));
  });

  const kubepods = (controller: string) => join(controllerMount(controller), suite.cgroupRoot, 'kubepods');

  it('gives every pod a cgroup by QoS class, pause and app containers inside, limits as the kubelet sets them', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: burst}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    resources: {requests: {cpu: 50m}, limits: {cpu: 100m}}
---
apiVersion: v1
kind: Pod
metadata: {name: guar}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    resources: {limits: {cpu: 250m, memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: best}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
`);
    const [burst, guar, best] = [await running('burst'), await running('guar'), await running('best')];
    assert.deepEqual([burst.status.qosClass, guar.status.qosClass, best.status.qosClass], ['Burstable', 'Guaranteed', 'BestEffort']);
    assert.match(ok('describe', 'pod', 'guar'), /QoS Class:\s+Guaranteed/);

    // the kubelet's shape under podbay's root: kubepods/burstable/pod<uid>, kubepods/pod<uid>, kubepods/besteffort/pod<uid>
    for (const p of [burst, guar, best]) {
      for (const ctl of ['memory', 'cpu', 'pids']) assert.ok(existsSync(podDir(p, ctl)), `${podDir(p, ctl)} exists`);
      // two children: the pause container (catatonit) and the app container
      const mem = podDir(p, 'memory');
      const kids = readdirSync(mem, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
      assert.equal(kids.length, 2, `pause + app container cgroups in ${mem}: ${kids.join(' ')}`);
      assert.ok(kids.includes(containerId(p)), `the app container's cgroup is ${containerId(p)}`);
      const pauseDir = kids.find((x) => x !== containerId(p))!;
      const comms = read(join(mem, pauseDir, 'cgroup.procs')).split('\n').map((pid) => read(`/proc/${pid}/comm`));
      assert.deepEqual(comms, ['catatonit'], 'the pause container lives in the pod cgroup');
      assert.equal(read(join(podDir(p, 'pids'), 'pids.max')), String(PIDS_LIMIT), 'pids.max of the pod = --pod-pids-limit');
    }
    if (isV2()) return; // the file names below are cgroup v1's; v2's builders are unit-tested

    // all pods together are capped at what the node reports allocatable (kubepods), as the kubelet does
    const allocBytes = Number(/^(\d+)Ki$/.exec(JSON.parse(ok('get', 'nodes', '-o', 'json')).items[0].status.allocatable.memory)![1]) * 1024;
    const kubepodsLimit = Number(read(join(kubepods('memory'), 'memory.limit_in_bytes')));
    assert.ok(kubepodsLimit <= allocBytes && kubepodsLimit > allocBytes - 4096, `kubepods memory limit ${kubepodsLimit} = allocatable ${allocBytes}`);

    // the container status says what its cgroup carries, as the kubelet's does in 1.33
    const bst = pod('burst').status.containerStatuses[0];
    assert.deepEqual(bst.resources, { limits: { cpu: '100m' }, requests: { cpu: '50m' } });
    assert.deepEqual(bst.allocatedResources, { cpu: '50m' });

    // limits.cpu 100m -> CFS quota 10000 per 100000 on the container's cgroup (and the pod's:
    // every container declares a cpu limit); requests.cpu 50m -> shares 51
    const bcpu = join(podDir(burst, 'cpu'), containerId(burst));
    assert.equal(read(join(bcpu, 'cpu.cfs_quota_us')), '10000');
    assert.equal(read(join(bcpu, 'cpu.cfs_period_us')), '100000');
    assert.equal(read(join(bcpu, 'cpu.shares')), '51');
    assert.equal(read(join(podDir(burst, 'cpu'), 'cpu.cfs_quota_us')), '10000');
    // visible from inside the container too (its own cgroup is its /sys/fs/cgroup/cpu)
    assert.equal(ok('exec', 'burst', '--', 'cat', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us').trim(), '10000');
    assert.match(ok('exec', 'burst', '--', 'cat', '/proc/self/cgroup'), new RegExp(`cpu[^:]*:${suite.cgroupRoot}/kubepods/burstable/pod${burst.metadata.uid}/${containerId(burst)}$`, 'm'));
    // no memory limit declared: unlimited at pod and container level
    assert.ok(Number(read(join(podDir(burst, 'memory'), 'memory.limit_in_bytes'))) > 2 ** 60);

    // Guaranteed: memory (and memory+swap where accounted) = 64Mi at both levels, quota 25000
    const gmem = podDir(guar, 'memory');
    for (const d of [gmem, join(gmem, containerId(guar))]) {
      assert.equal(read(join(d, 'memory.limit_in_bytes')), String(64 * 1024 * 1024));
      if (existsSync(join(d, 'memory.memsw.limit_in_bytes'))) assert.equal(read(join(d, 'memory.memsw.limit_in_bytes')), String(64 * 1024 * 1024), 'no swap beyond the limit');
    }
    assert.equal(read(join(podDir(guar, 'cpu'), containerId(guar), 'cpu.cfs_quota_us')), '25000');
    assert.equal(read(join(podDir(guar, 'cpu'), 'cpu.shares')), '256');

    // BestEffort: shares 2 for the QoS level, the pod and the container, as the kubelet gives
    assert.equal(read(join(podDir(best, 'cpu'), '..', 'cpu.shares')), '2');
    assert.equal(read(join(podDir(best, 'cpu'), 'cpu.shares')), '2');
    assert.equal(read(join(podDir(best, 'cpu'), containerId(best), 'cpu.shares')), '2');
    assert.equal(read(join(podDir(best, 'cpu'), containerId(best), 'cpu.cfs_quota_us')), '-1');

    for (const n of ['burst', 'guar', 'best']) await deleteAndCheck(n);
  });

  const oomPod = (name: string, policy: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: ${policy}
  terminationGracePeriodSeconds: 1
  containers:
  - name: hog
    image: busybox:1.36
    command: [sh, -c, "echo allocating; head -c 200m /dev/zero | tail"]
    resources: {limits: {memory: 32Mi}}
`;

  it('OOM-kills a container past its memory limit: OOMKilled, exit 137, restarted under restartPolicy Always', async () => {
    apply(oomPod('oom-always', 'Always'));
    const p = await waitFor(
      'oom-always restarted after an OOM kill',
      () => {
        const x = pod('oom-always');
        const st = x.status.containerStatuses?.[0];
        return st?.restartCount >= 1 && st.lastState?.terminated ? x : undefined;
      },
      90_000,
    );
    const st = p.status.containerStatuses[0];
    assert.equal(st.lastState.terminated.reason, 'OOMKilled');
    assert.equal(st.lastState.terminated.exitCode, 137);
    assert.match(ok('describe', 'pod', 'oom-always'), /Last State:\s+Terminated\n\s+Reason:\s+OOMKilled\n\s+Exit Code:\s+137/);
    await deleteAndCheck('oom-always');
  });

  it('OOM-kills under restartPolicy Never: the pod Failed, OOMKilled, exit 137, no restart', async () => {
    apply(oomPod('oom-never', 'Never'));
    const p = await waitFor('oom-never Failed', () => (pod('oom-never').status.phase === 'Failed' ? pod('oom-never') : undefined), 60_000);
    const st = p.status.containerStatuses[0];
    assert.equal(st.state.terminated.reason, 'OOMKilled');
    assert.equal(st.state.terminated.exitCode, 137);
    assert.equal(st.restartCount, 0);
    assert.match(ok('get', 'pod', 'oom-never', '--no-headers'), /^oom-never\s+0\/1\s+OOMKilled\s+0\s/);
    await deleteAndCheck('oom-never');
  });

  it('stops a fork bomb at the pod pids limit while podbay keeps answering and other pods still start', async () => {
    const watch = watchReadyz(s);
    apply(`apiVersion: v1
kind: Pod
metadata: {name: bomb}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: bomb
    image: busybox:1.36
    command: [sh, -c, "b() { b | b & }; b; sleep 3600"]
`);
    const p = await running('bomb');
    const pids = podDir(p, 'pids');
    // the bomb hits pids.max: the kernel refuses forks (pids.events counts them in the cgroup
    // of the task that tried to fork, on v1: the container's)
    const events = (d: string): number =>
      Number(/^max (\d+)/m.exec(read(join(d, 'pids.events')))?.[1] ?? 0) +
      readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).reduce((n, e) => n + events(join(d, e.name)), 0);
    const refusals = await waitFor('forks refused at pids.max', () => events(pids) || undefined, 60_000);
    assert.ok(Number(read(join(pids, 'pids.current'))) <= PIDS_LIMIT, `pids.current <= ${PIDS_LIMIT}`);
    // let the bomb churn at the limit for a while with nothing else running in this process
    // (kubectl runs synchronously here, so /readyz is sampled in the gaps between its calls)
    await new Promise((r) => setTimeout(r, 5000));
    assert.ok(Number(read(join(pids, 'pids.current'))) <= PIDS_LIMIT, `pids.current <= ${PIDS_LIMIT}`);
    // the node stays usable: another pod starts and runs a command
    apply(`apiVersion: v1
kind: Pod
metadata: {name: bystander}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
`);
    await running('bystander');
    assert.equal(ok('exec', 'bystander', '--', 'echo', 'alive').trim(), 'alive');
    const r = await watch.stop();
    console.log(`fork bomb: ${refusals} forks refused at pids.max ${PIDS_LIMIT}; /readyz worst ${r.worstMs.toFixed(0)} ms over ${r.samples} samples`);
    assert.deepEqual(r.failures, []);
    assert.ok(r.samples >= 30, `/readyz sampled throughout (${r.samples} samples)`);
    assert.ok(r.worstMs < 1000, `/readyz answered within 1 s throughout (worst ${r.worstMs} ms)`);
    await deleteAndCheck('bomb');
    await deleteAndCheck('bystander');
  });

  it('evicts a pod whose emptyDir outgrows its sizeLimit (Evicted, the kubelet\'s message), measuring without following symlinks', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: fills}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: cache, emptyDir: {sizeLimit: 1Mi}}]
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, "dd if=/dev/urandom of=/cache/blob bs=1024 count=4096; sleep 3600"]
    volumeMounts: [{name: cache, mountPath: /cache}]
---
apiVersion: v1
kind: Pod
metadata: {name: links}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: cache, emptyDir: {sizeLimit: 1Mi}}]
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, "ln -s / /cache/host; ln -s /bin /cache/bin; mkfifo /cache/fifo; sleep 3600"]
    volumeMounts: [{name: cache, mountPath: /cache}]
`);
    await running('links');
    const p = await waitFor('fills evicted', () => (pod('fills').status.phase === 'Failed' ? pod('fills') : undefined), 60_000);
    assert.equal(p.status.reason, 'Evicted');
    assert.equal(p.status.message, 'Usage of EmptyDir volume "cache" exceeds the limit "1Mi". ');
    assert.equal((p.status.conditions ?? []).find((c: any) => c.type === 'DisruptionTarget')?.reason, 'TerminationByKubelet');
    const ev = ok('get', 'events', '--field-selector', 'involvedObject.name=fills', '-o', 'jsonpath={range .items[*]}{.type} {.reason} {.message}{"\\n"}{end}');
    assert.match(ev, /^Warning Evicted Usage of EmptyDir volume "cache" exceeds the limit "1Mi"\. $/m);
    assert.match(ok('describe', 'pod', 'fills'), /Reason:\s+Evicted/);
    // the pod with links to the host's / and /bin (and a FIFO) in its emptyDir was measured too,
    // by what it holds, not by where its links point: still running two passes later
    await new Promise((r) => setTimeout(r, 11_000));
    assert.equal(pod('links').status.phase, 'Running');
    await deleteAndCheck('fills');
    await deleteAndCheck('links');
  });

  it('evicts a pod whose container writes past its ephemeral-storage limit', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: scribbles}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "dd if=/dev/urandom of=/tmp/blob bs=1024 count=8192; sleep 3600"]
    resources: {limits: {ephemeral-storage: 2Mi}}
`);
    const p = await waitFor('scribbles evicted', () => (pod('scribbles').status.phase === 'Failed' ? pod('scribbles') : undefined), 60_000);
    assert.equal(p.status.reason, 'Evicted');
    // one container: the pod total (its limit, 2Mi) is exceeded first, as the kubelet checks it first
    assert.equal(p.status.message, 'Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. ');
    await deleteAndCheck('scribbles');
  });

  it('keeps a running pod\'s cgroup across a podbay restart and removes pod cgroups that have no sandbox', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: stays}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    resources: {limits: {memory: 48Mi}}
`);
    const p = await running('stays');
    // podbay stops; the pod runs on (conmon is its parent); a pod cgroup nobody owns appears
    // (podbay killed between making a pod's cgroup and recording its sandbox)
    s.proc!.kill('SIGKILL');
    await new Promise((r) => s.proc!.once('exit', r));
    const ghost = 'pod00000000-0000-0000-0000-00000000dead';
    const ghostDirs = ['memory', 'cpu', 'pids'].map((c) => join(controllerMount(c), suite.cgroupRoot, 'kubepods', 'besteffort', ghost));
    for (const d of ghostDirs) mkdirSync(d, { recursive: true });
    await s.spawn([...suite.serverArgs(), '--pod-pids-limit', String(PIDS_LIMIT)]);
    assert.deepEqual(ghostDirs.filter((d) => existsSync(d)), [], 'the sandbox-less pod cgroup is removed at start');
    const again = await running('stays');
    assert.equal(containerId(again), containerId(p), 'the container was adopted, not restarted');
    assert.ok(existsSync(join(podDir(p, 'memory'), containerId(p))), 'the running pod keeps its cgroup');
    if (!isV2()) assert.equal(read(join(podDir(p, 'memory'), 'memory.limit_in_bytes')), String(48 * 1024 * 1024));
    await deleteAndCheck('stays');
  });

  it('keeps a pod whose requests do not fit Pending (Insufficient memory), and schedules it once room is made', async () => {
    const node = JSON.parse(ok('get', 'nodes', '-o', 'json')).items[0];
    const allocKi = Number(/^(\d+)Ki$/.exec(node.status.allocatable.memory)![1]);
    const big = `${Math.floor(allocKi * 0.6)}Ki`;
    apply(`apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    resources: {requests: {memory: ${allocKi * 4}Ki}}
---
apiVersion: v1
kind: Pod
metadata: {name: first}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    resources: {requests: {memory: ${big}}}
`);
    const want = '0/1 nodes are available: 1 Insufficient memory.';
    const unsched = await waitFor('huge Unschedulable', () => {
      const c = (pod('huge').status.conditions ?? []).find((x: any) => x.type === 'PodScheduled');
      return c?.reason === 'Unschedulable' ? c : undefined;
    });
    assert.equal(unsched.status, 'False');
    assert.ok(unsched.message.startsWith(want), unsched.message);
    assert.equal(pod('huge').status.phase, 'Pending');
    assert.equal(pod('huge').spec.nodeName, undefined);
    const ev = ok('get', 'events', '--field-selector', 'involvedObject.name=huge', '-o', 'jsonpath={range .items[*]}{.type} {.reason} {.message}{"\\n"}{end}');
    assert.match(ev, /^Warning FailedScheduling 0\/1 nodes are available: 1 Insufficient memory\./m);

    // two pods each requesting 60% of allocatable: the second waits for the first to go
    await running('first');
    apply(`apiVersion: v1
kind: Pod
metadata: {name: second}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    resources: {requests: {memory: ${big}}}
`);
    await waitFor('second Unschedulable', () => ((pod('second').status.conditions ?? []).find((x: any) => x.type === 'PodScheduled')?.message ?? '').startsWith(want) || undefined);
    await deleteAndCheck('first');
    await running('second');
    await deleteAndCheck('second');
    ok('delete', 'pod', 'huge', '--wait=true');
  });
});
