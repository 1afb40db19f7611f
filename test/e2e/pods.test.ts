/**
 * Pods for real: a podbay server with its kubelet (runc, conmon, catatonit, CNI bridge and
 * podbay's hostPort rules) driven by real kubectl. The seed tutorial's pod (nginx proxying to a backend on
 * 127.0.0.1:2368 in the same pod, nginx.conf from a ConfigMap), namespaces shared with the
 * pause process, restart policies, logs, adoption after SIGKILL, and bad input. Every pod is
 * deleted and the host is checked for leftovers at the end.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PODBAY, PodbayServer, PodSuite, kubectlBinaries, httpGet, waitFor, kubectlHelpers } from './harness.js';
import { startDockerRegistry, type DockerRegistry } from './registry-harness.js';
import { ghostFixedYaml, seedNginxConf } from '../fixtures/seed.js';
import { writeDockerArchive } from '../../src/image/archive-build.js';

const BRIDGE = 'pbe2epod0';
const CIDR = '10.203.0.0/24';
const SUBNET_PREFIX = '10.203.0.';
const SEED_PORT = 19380;
const CONFLICT_PORT = 19381;

const NGINX_CONF = seedNginxConf();
const GHOST_FIXED = ghostFixedYaml().replace('hostPort: 8888', `hostPort: ${SEED_PORT}`);

function nsInode(pid: number, ns: string): string {
  return readlinkSync(`/proc/${pid}/ns/${ns}`);
}


const [kc] = kubectlBinaries().slice(-1);

describe('pods run for real (runc, conmon, CNI)', () => {
  let s: PodbayServer;
  let work: string;
  let runDir: string;
  const { k, ok, pod } = kubectlHelpers(() => s, kc.path);
  const serverArgs = () => suite.serverArgs();

  // the seed's images (`nginx`, `ghost`, as the tutorial names them) are pulled as on any node:
  // from a docker.io mirror, here Debian's docker-registry on loopback filled with the built images
  let reg: DockerRegistry;
  let regConf: string;
  const suite = new (class extends PodSuite {
    override serverArgs(): string[] {
      return [...super.serverArgs(), '--registries', join(regConf, 'registries.yaml'), '--disable-default-registry-endpoint'];
    }
  })(BRIDGE, CIDR, new RegExp(`^${SEED_PORT}$`));

  before(async () => {
    reg = await startDockerRegistry();
    regConf = mkdtempSync(join(tmpdir(), 'podbay-e2e-pods-reg-'));
    writeFileSync(join(regConf, 'registries.yaml'), `mirrors:\n  docker.io:\n    endpoint: ["${reg.url}"]\n`);
    s = await suite.start('podbay-e2e-pods-');
    work = suite.work;
    runDir = suite.runDir;
    // images: busybox (httpd, sleep, sh), the backend "ghost" (busybox httpd on 127.0.0.1:2368), nginx
    const bb = await suite.loadBusybox();
    const www = join(work, 'ghost-layer');
    mkdirSync(join(www, 'www'), { recursive: true });
    writeFileSync(join(www, 'www', 'index.html'), '<html><body>ghost backend behind nginx</body></html>\n');
    await writeDockerArchive(join(work, 'ghost.tar'), {
      repoTags: ['ghost:latest'],
      layers: [bb, www],
      config: { cmd: ['httpd', '-f', '-p', '127.0.0.1:2368', '-h', '/www'] },
    });
    await suite.loadNginx('nginx:latest');
    suite.loadImage(join(work, 'ghost.tar'));
    for (const name of ['ghost', 'nginx']) {
      const r = spawnSync(PODBAY, ['image', 'push', `${name}:latest`, '--to', `${reg.host}/library/${name}:latest`, '--data-dir', s.dataDir], { encoding: 'utf8', env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' } });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
    // the node forgets both: the seed's pod pulls them through the mirror, as a user's node would
    const rm = spawnSync(PODBAY, ['image', 'rm', 'ghost:latest', 'nginx:latest', '--data-dir', s.dataDir], { encoding: 'utf8' });
    assert.equal(rm.status, 0, rm.stderr);
  });

  after(async () => {
    try {
      await suite.finish(kc.path);
    } finally {
      await reg?.stop();
      rmSync(regConf, { recursive: true, force: true });
    }
  });

  it("runs the seed tutorial's pod: nginx (ConfigMap nginx.conf, verbatim) proxies the hostPort to the backend on 127.0.0.1:2368", async () => {
    writeFileSync(join(work, 'nginx.conf'), NGINX_CONF);
    ok('create', 'configmap', 'nginx-config', `--from-file=${join(work, 'nginx.conf')}`);
    const r = s.kubectl(kc.path, ['apply', '-f', '-'], GHOST_FIXED);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('ghost Running 2/2', () => {
      const p = pod('ghost');
      return p.status.phase === 'Running' && p.status.containerStatuses?.every((c: any) => c.ready) ? p : undefined;
    }, 60_000);
    const wide = ok('get', 'pod', 'ghost', '-o', 'wide');
    assert.match(wide, new RegExp(`^ghost\\s+2/2\\s+Running\\s+0\\s+\\S+\\s+${SUBNET_PREFIX.replace(/\./g, '\\.')}\\d+\\s+\\S+`, 'm'));
    const page = await waitFor('the page through nginx', async () => {
      const res = await httpGet(`http://127.0.0.1:${SEED_PORT}/`);
      return res.status === 200 ? res : undefined;
    });
    assert.match(page.body, /ghost backend behind nginx/);
    // the pod IP answers from the host too
    const ip = pod('ghost').status.podIP;
    assert.match((await httpGet(`http://${ip}:80/`)).body, /ghost backend behind nginx/);
    // the story of the pod, as events
    const events = ok('get', 'events', '--field-selector', 'involvedObject.name=ghost', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}');
    for (const reason of ['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']) assert.match(events, new RegExp(`^${reason}$`, 'm'), events);
    // both images as the tutorial names them, pulled through the docker.io mirror
    const messages = ok('get', 'events', '--field-selector', 'involvedObject.name=ghost', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}');
    for (const img of ['nginx', 'ghost']) assert.match(messages, new RegExp(`^Successfully pulled image "${img}" in \\S+ \\(\\S+ including waiting\\)\\. Image size: \\d+ bytes\\.$`, 'm'), messages);
  });

  it('propagates a ConfigMap update into the running container (atomic ..data swap)', async () => {
    const p = pod('ghost');
    const nginx = p.status.containerStatuses.find((c: any) => c.name === 'nginx');
    const pid = runcPid(runDir, nginx.containerID.replace('podbay://', ''));
    const inContainer = () => readFileSync(`/proc/${pid}/root/etc/nginx/nginx.conf`, 'utf8');
    assert.equal(inContainer(), NGINX_CONF);
    const updated = NGINX_CONF + '# updated\n';
    writeFileSync(join(work, 'nginx.conf'), updated);
    const cm = s.kubectl(kc.path, ['create', 'configmap', 'nginx-config', `--from-file=${join(work, 'nginx.conf')}`, '--dry-run=client', '-o', 'yaml']);
    assert.equal(s.kubectl(kc.path, ['apply', '-f', '-'], cm.stdout).code, 0);
    await waitFor('the new nginx.conf inside the container', () => (inContainer() === updated ? true : undefined), 30_000);
  });

  it("joins every app container to the pause process's net, ipc and uts namespaces, not its mount namespace", async () => {
    const p = pod('ghost');
    const pids = p.status.containerStatuses.map((c: any) => runcPid(runDir, c.containerID.replace('podbay://', '')));
    const pause = pausePid(runDir, p.status.containerStatuses.map((c: any) => c.containerID.replace('podbay://', '')));
    for (const pid of pids) {
      for (const ns of ['net', 'ipc', 'uts']) assert.equal(nsInode(pid, ns), nsInode(pause, ns), `${ns} namespace of ${pid}`);
      assert.notEqual(nsInode(pid, 'mnt'), nsInode(pause, 'mnt'));
      assert.notEqual(nsInode(pid, 'pid'), nsInode(pause, 'pid'), 'pid is not shared without shareProcessNamespace');
    }
    const hostname = readFileSync(`/proc/${pids[0]}/root/etc/hostname`, 'utf8').trim();
    assert.equal(hostname, 'ghost');
  });

  it('shares the pid namespace only with shareProcessNamespace, and then PID 1 is the pause process', async () => {
    const r = s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  shareProcessNamespace: true
  containers:
  - {name: a, image: busybox:1.36, command: [sleep, "3600"]}
  - {name: b, image: busybox:1.36, command: [sleep, "3600"]}
`);
    assert.equal(r.code, 0, r.stderr);
    const p = await waitFor('shared Running', () => {
      const x = pod('shared');
      return x.status.phase === 'Running' && x.status.containerStatuses.every((c: any) => c.ready) ? x : undefined;
    });
    const ids = p.status.containerStatuses.map((c: any) => c.containerID.replace('podbay://', ''));
    const pause = pausePid(runDir, ids);
    for (const id of ids) assert.equal(nsInode(runcPid(runDir, id), 'pid'), nsInode(pause, 'pid'));
    const ps = readFileSync(`/proc/${runcPid(runDir, ids[0])}/root/proc/1/cmdline`, 'utf8');
    assert.match(ps, /catatonit/);
    ok('delete', 'pod', 'shared', '--grace-period=0', '--force');
  });

  it('gives the phases and restart counts Kubernetes gives for each restartPolicy', async () => {
    const mk = (name: string, policy: string, script: string) =>
      assert.equal(
        s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: ${policy}
  containers:
  - {name: c, image: busybox:1.36, command: [sh, -c, "${script}"]}
`).code,
        0,
      );
    mk('never-fails', 'Never', 'exit 3');
    mk('onfailure-ok', 'OnFailure', 'exit 0');
    mk('onfailure-fails', 'OnFailure', 'exit 1');
    mk('always-exits', 'Always', 'exit 0');
    const never = await waitFor('never-fails Failed', () => (pod('never-fails').status.phase === 'Failed' ? pod('never-fails') : undefined));
    assert.equal(never.status.containerStatuses[0].restartCount, 0);
    assert.equal(never.status.containerStatuses[0].state.terminated.exitCode, 3);
    assert.equal(never.status.containerStatuses[0].state.terminated.reason, 'Error');
    const okPod = await waitFor('onfailure-ok Succeeded', () => (pod('onfailure-ok').status.phase === 'Succeeded' ? pod('onfailure-ok') : undefined));
    assert.equal(okPod.status.containerStatuses[0].restartCount, 0);
    assert.equal(okPod.status.containerStatuses[0].state.terminated.reason, 'Completed');
    for (const name of ['onfailure-fails', 'always-exits']) {
      const p = await waitFor(`${name} restarted`, () => {
        const x = pod(name);
        return x.status.containerStatuses?.[0]?.restartCount >= 1 && x.status.containerStatuses[0].state.waiting?.reason === 'CrashLoopBackOff' ? x : undefined;
      });
      assert.equal(p.status.phase, 'Running');
      assert.ok(p.status.containerStatuses[0].lastState.terminated);
    }
    assert.match(ok('get', 'pod', 'always-exits'), /CrashLoopBackOff/);
    ok('delete', 'pod', 'never-fails', 'onfailure-ok', 'onfailure-fails', 'always-exits', '--grace-period=0', '--force');
  });

  it('kubectl logs shows the current run, --previous the one before, with -f, --tail and --timestamps', async () => {
    assert.equal(
      s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: counter}
spec:
  restartPolicy: OnFailure
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: c
    image: busybox:1.36
    volumeMounts: [{name: data, mountPath: /data}]
    command: [sh, -c, "n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/n; echo first line of run $n; echo run $n; exit 1"]
`).code,
      0,
    );
    await waitFor('counter restarted once', () => (pod('counter').status.containerStatuses?.[0]?.restartCount === 1 && !pod('counter').status.containerStatuses[0].state.running ? true : undefined));
    assert.equal(ok('logs', 'counter'), 'first line of run 2\nrun 2\n');
    assert.equal(ok('logs', 'counter', '--previous'), 'first line of run 1\nrun 1\n');
    assert.equal(ok('logs', 'counter', '--tail', '1'), 'run 2\n');
    assert.match(ok('logs', 'counter', '--timestamps'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z first line of run 2$/m);
    ok('delete', 'pod', 'counter', '--grace-period=0', '--force');

    assert.equal(
      s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: ticker}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:1.36, command: [sh, -c, "for i in 1 2 3; do echo tick $i; sleep 1; done"]}
`).code,
      0,
    );
    await waitFor('ticker running', () => (pod('ticker').status.containerStatuses?.[0]?.state.running ? true : undefined));
    assert.equal(ok('logs', '-f', 'ticker'), 'tick 1\ntick 2\ntick 3\n');
    ok('delete', 'pod', 'ticker', '--grace-period=0', '--force');
  });

  it('reports missing images, commands and ConfigMaps the way Kubernetes does, and a taken hostPort keeps a pod Pending', async () => {
    assert.equal(
      s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers:
  - {name: noimage, image: "example.invalid/none:1", imagePullPolicy: Never}
  - {name: nocmd, image: "busybox:1.36", command: [/no/such/binary]}
  - name: nocm
    image: busybox:1.36
    command: [sleep, "3600"]
    env: [{name: X, valueFrom: {configMapKeyRef: {name: missing-cm, key: k}}}]
`).code,
      0,
    );
    const p = await waitFor('bad reports', () => {
      const x = pod('bad');
      const by = Object.fromEntries((x.status.containerStatuses ?? []).map((c: any) => [c.name, c]));
      const reason = (n: string) => by[n]?.state.waiting?.reason ?? by[n]?.lastState?.terminated?.reason;
      return reason('noimage') && reason('nocmd') && reason('nocm') ? by : undefined;
    });
    assert.equal(p.noimage.state.waiting.reason, 'ErrImageNeverPull');
    assert.match(p.noimage.state.waiting.message, /example\.invalid\/none:1/);
    assert.match(JSON.stringify(p.nocmd), /RunContainerError|CreateContainerError|StartError/);
    assert.match(JSON.stringify(p.nocmd), /no\/such\/binary/);
    assert.equal(p.nocm.state.waiting.reason, 'CreateContainerConfigError');
    assert.match(p.nocm.state.waiting.message, /missing-cm/);
    assert.equal(pod('bad').status.phase, 'Pending');

    // two pods asking for the same hostPort: the second waits, as the scheduler says
    for (const name of ['port-a', 'port-b']) {
      assert.equal(
        s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"], ports: [{containerPort: 80, hostPort: ${CONFLICT_PORT}}]}
`).code,
        0,
      );
      await new Promise((r) => setTimeout(r, 300));
    }
    const blocked = await waitFor('port-b unschedulable', () => {
      const x = pod('port-b');
      const c = (x.status.conditions ?? []).find((c: any) => c.type === 'PodScheduled');
      return c?.status === 'False' ? c : undefined;
    });
    assert.equal(blocked.reason, 'Unschedulable');
    assert.match(blocked.message, /didn't have free ports for the requested pod ports/);
    ok('delete', 'pod', 'bad', 'port-a', 'port-b', '--grace-period=0', '--force');
  });

  it('kubectl exec runs commands in a container over WebSocket (and SPDY for kubectl 1.27): output, exit code, stdin, TTY', async () => {
    assert.equal(ok('exec', 'ghost', '-c', 'ghost', '--', 'hostname'), 'ghost\n');
    const fail = k('exec', 'ghost', '-c', 'ghost', '--', 'sh', '-c', 'echo oops >&2; exit 3');
    assert.equal(fail.code, 3);
    assert.match(fail.stderr, /oops/);
    const piped = s.kubectl(kc.path, ['exec', '-i', 'ghost', '-c', 'ghost', '--', 'cat'], 'through stdin\n');
    assert.equal(piped.stdout, 'through stdin\n');
    // python's pty gives kubectl a terminal (and, unlike script, types no EOF into it)
    const tty = spawnSync('python3', ['-c', 'import pty, sys; pty.spawn(sys.argv[1:])', kc.path, '--kubeconfig', s.kubeconfig, 'exec', '-it', 'ghost', '-c', 'ghost', '--', 'sh', '-c', 'tty; echo in a tty'], {
      encoding: 'utf8',
      input: '',
      env: { ...process.env, HOME: s.dataDir },
      timeout: 30_000,
    });
    assert.equal(tty.status, 0, tty.stderr);
    // the container's terminal turns \n into \r\n; kubectl's own terminal may add one more \r when
    // output lands before kubectl has made it raw (seen under load), which is not podbay's to decide
    assert.match(tty.stdout, /^\/dev\/pts\/\d+\r+\nin a tty\r+\n/);
    const wrong = k('exec', 'ghost', '-c', 'nope', '--', 'true');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /container nope is not valid for pod ghost/);
    // kubectl before 1.30 speaks only SPDY/3.1, which podbay serves as well
    const old = s.kubectl(kubectlBinaries()[0].path, ['exec', 'ghost', '-c', 'ghost', '--', 'hostname']);
    assert.equal(old.code, 0, old.stderr);
    assert.equal(old.stdout, 'ghost\n');
  });

  it('an emptyDir with medium: Memory is a tmpfs of its sizeLimit, unmounted when the pod goes', async () => {
    assert.equal(
      s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: mem}
spec:
  volumes: [{name: cache, emptyDir: {medium: Memory, sizeLimit: 10Mi}}]
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"], volumeMounts: [{name: cache, mountPath: /cache}]}
`).code,
      0,
    );
    await waitFor('mem running', () => (pod('mem').status.containerStatuses?.[0]?.state.running ? true : undefined));
    // sized as the kubelet sizes it (SizeMemoryBackedVolumes): here the sizeLimit
    assert.match(ok('exec', 'mem', '--', 'sh', '-c', 'grep " /cache " /proc/self/mountinfo'), / - tmpfs .*\bsize=10240k\b/);
    const uid = pod('mem').metadata.uid;
    const onHost = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(uid) && l.includes('empty-dir'));
    assert.equal(onHost().length, 1, 'the tmpfs is mounted on the host side of the volume');
    ok('delete', 'pod', 'mem', '--grace-period=0', '--force');
    await waitFor('the tmpfs is unmounted', () => (onHost().length === 0 ? true : undefined));
  });

  it('keeps pods running across a SIGKILL of podbay, with the same container IDs and a current status', async () => {
    const before = pod('ghost').status.containerStatuses.map((c: any) => c.containerID).sort();
    assert.equal(
      s.kubectl(kc.path, ['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: short}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:1.36, command: [sh, -c, "sleep 3; exit 7"]}
`).code,
      0,
    );
    await waitFor('short running', () => (pod('short').status.containerStatuses?.[0]?.state.running ? true : undefined));
    // the run dir (under /tmp, on this host's disk) is a tmpfs of podbay's own (src/sys/run-dir.ts)
    const runDirMounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === runDir);
    assert.equal(runDirMounts().length, 1, 'one mount on the run dir');
    assert.match(runDirMounts()[0]!, / - tmpfs podbay-run rw/, 'a tmpfs named podbay-run');
    s.proc!.kill('SIGKILL');
    await new Promise((r) => s.proc!.once('exit', r));
    await new Promise((r) => setTimeout(r, 4000)); // `short` exits while podbay is down
    assert.match((await httpGet(`http://127.0.0.1:${SEED_PORT}/`)).body, /ghost backend/, 'the pod serves while podbay is down');
    await s.spawn(serverArgs());
    const after = await waitFor('ghost adopted', () => {
      const x = pod('ghost');
      return x.status.phase === 'Running' ? x.status.containerStatuses.map((c: any) => c.containerID).sort() : undefined;
    });
    assert.deepEqual(after, before);
    assert.equal(runDirMounts().length, 1, 'the restarted podbay uses the tmpfs that holds its pods\' state (none mounted over it)');
    const short = await waitFor('short Failed with exit 7', () => (pod('short').status.phase === 'Failed' ? pod('short') : undefined));
    assert.equal(short.status.containerStatuses[0].state.terminated.exitCode, 7);
    assert.match((await httpGet(`http://127.0.0.1:${SEED_PORT}/`)).body, /ghost backend/);
    ok('delete', 'pod', 'short', '--grace-period=0', '--force');
  });

  it('kubectl delete pod stops the containers gracefully and removes the pod', async () => {
    const out = ok('delete', 'pod', 'ghost', '--grace-period=2');
    assert.match(out, /pod "ghost" deleted/);
    assert.notEqual(k('get', 'pod', 'ghost').code, 0);
    await assert.rejects(httpGet(`http://127.0.0.1:${SEED_PORT}/`, 500));
  });
});

/** pid of a container from runc's state under podbay's runc root */
function runcPid(runDir: string, id: string): number {
  const r = spawnSync('runc', ['--root', join(runDir, 'runc'), 'state', id], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).pid;
}

/** pid of the pause (catatonit) process: the runc container that is not one of the app containers */
function pausePid(runDir: string, appIds: string[]): number {
  const r = spawnSync('runc', ['--root', join(runDir, 'runc'), 'list', '--format', 'json'], { encoding: 'utf8' });
  const all = JSON.parse(r.stdout || '[]') as { id: string; pid: number; status: string }[];
  const candidates = all.filter((c) => !appIds.includes(c.id) && c.status === 'running');
  for (const c of candidates) {
    const cmd = readFileSync(`/proc/${c.pid}/cmdline`, 'utf8');
    if (!cmd.includes('catatonit')) continue;
    const inode = nsInode(c.pid, 'net');
    if (inode === nsInode(runcPid(runDir, appIds[0]), 'net')) return c.pid;
  }
  throw new Error(`no pause process found for ${appIds.join(',')}`);
}

