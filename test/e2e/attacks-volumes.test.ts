/**
 * Attacks on the node through volumes, performed by ordinary pods against a real podbay server
 * (runc, conmon, CNI) driven by real kubectl. Each attack asserts that the host is untouched (a
 * canary dir under the test's own temp dir keeps its exact content), that the attack fails the
 * way Kubernetes fails it (EROFS inside the container, CreateContainerConfigError for a subPath
 * escape), and that podbay kept answering /readyz within 1 s throughout.
 *
 *   - a container rewrites `..data` of its configMap volume to a host dir, then the ConfigMap
 *     is updated (CVE-2017-1002102)
 *   - a container plants `escape -> <host dir>` and `root -> /` in a shared emptyDir; another
 *     container, or the same one restarted, mounts it with subPath (CVE-2021-25741)
 *   - an image whose /etc/passwd is a FIFO, run as a named user
 *   - a secret volume: a tmpfs, read-only, modes as asked
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, kubectlHelpers, waitFor, watchReadyz } from './harness.js';
import { writeDockerArchive } from '../../src/image/archive-build.js';

const BRIDGE = 'pbvolsec0';
const CIDR = '10.211.0.0/24';

const [kc] = kubectlBinaries().slice(-1);

/** Every file under `dir` with its content and mode: what "untouched" means. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      const st = statSync(p);
      if (e.isDirectory()) {
        out.push(`${rel}${e.name}/ ${(st.mode & 0o7777).toString(8)}`);
        walk(p, `${rel}${e.name}/`);
      } else out.push(`${rel}${e.name} ${(st.mode & 0o7777).toString(8)} ${readFileSync(p, 'utf8')}`);
    }
  };
  walk(dir, '');
  return out.join('\n');
}

describe('attacks through volumes', () => {
  let s: PodbayServer;
  let canary: string;
  let canaryBefore: string;
  let dataDir: string;
  const suite = new PodSuite(BRIDGE, CIDR, /^197[01]\d$/);
  const { k, ok, apply, pod, events } = kubectlHelpers(() => s, kc.path);
  const status = (name: string, container: string) => {
    const p = pod(name);
    return [...(p.status.containerStatuses ?? []), ...(p.status.initContainerStatuses ?? [])].find((c: any) => c.name === container);
  };
  const running = (name: string) =>
    waitFor(`${name} Running`, () => {
      const p = pod(name);
      return p.status.phase === 'Running' && p.status.containerStatuses?.every((c: any) => c.state.running) ? p : undefined;
    }, 60_000);
  /** wait for a container's waiting reason; on timeout say what the pod showed instead */
  const waitingFor = async (name: string, container: string, reason: string) => {
    try {
      return await waitFor(`${name}/${container} waiting with ${reason}`, () => {
        const x = status(name, container);
        return x?.state?.waiting?.reason === reason ? x : undefined;
      }, 60_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nstatus: ${JSON.stringify(status(name, container))}\nevents:\n${events(name)}`);
    }
  };
  /** how many times the kubelet recorded an event whose message matches (events are aggregated) */
  const eventCount = (name: string, re: RegExp) =>
    (JSON.parse(ok('get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json')).items as any[]).filter((e) => re.test(e.message)).reduce((n, e) => n + (e.count ?? 1), 0);
  /** run a shell script in a container; stdout and stderr together */
  const sh = (name: string, container: string, script: string) => {
    const r = k('exec', name, '-c', container, '--', 'sh', '-c', `${script} 2>&1`);
    return { code: r.code, out: r.stdout + r.stderr };
  };
  const untouched = () => assert.equal(snapshot(canary), canaryBefore, 'the canary dir on the host is unchanged');
  /** run an attack while watching /readyz; podbay must answer within 1 s throughout */
  const attack = async (fn: () => Promise<void>) => {
    const w = watchReadyz(s);
    try {
      await fn();
    } finally {
      const r = await w.stop();
      assert.deepEqual(r.failures, [], 'podbay answered /readyz throughout');
      assert.ok(r.worstMs < 1000, `/readyz answered within 1 s (worst ${Math.round(r.worstMs)} ms)`);
      assert.ok(r.samples > 0);
    }
  };

  before(async () => {
    s = await suite.start('podbay-e2e-volsec-');
    dataDir = s.dataDir;
    const bb = await suite.loadBusybox();
    // an image whose /etc/passwd is a FIFO, with a named user: reading it would block forever
    const fifoLayer = join(suite.work, 'fifo-layer');
    mkdirSync(fifoLayer);
    await writeDockerArchive(join(suite.work, 'fifo.tar'), {
      repoTags: ['fifo-passwd:1'],
      layers: [bb, { dir: fifoLayer, devices: [{ path: 'etc/passwd', type: 'fifo', mode: 0o644 }] }],
      config: { cmd: ['sleep', '3600'], user: 'nobody' },
    });
    suite.loadImage(join(suite.work, 'fifo.tar'));
    canary = join(suite.work, 'canary');
    mkdirSync(join(canary, 'sub'), { recursive: true });
    writeFileSync(join(canary, 'precious'), 'the host file must survive\n');
    writeFileSync(join(canary, 'sub', 'also'), 'and this one\n');
    canaryBefore = snapshot(canary);
  });

  after(async () => {
    await suite.finish(kc.path);
    const left = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(dataDir));
    assert.deepEqual(left, [], 'no mount left under the data dir (secret tmpfs, subPath binds)');
  });

  it('configMap volume: rewriting ..data to a host dir fails with EROFS, the update still propagates, the host dir survives', async () => {
    await attack(async () => {
      ok('create', 'configmap', 'cfg', '--from-literal=key=v1');
      apply(`apiVersion: v1
kind: Pod
metadata: {name: cm-attack}
spec:
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts: [{name: cfg, mountPath: /cfg}]
  volumes:
  - {name: cfg, configMap: {name: cfg}}
`);
      await running('cm-attack');
      assert.equal(sh('cm-attack', 'c', 'cat /cfg/key').out, 'v1');
      // the attack: point ..data (and a version dir, and the user-visible name) at the host dir
      for (const step of [`busybox rm /cfg/..data`, `busybox ln -s ${canary} /cfg/..data_tmp`, `busybox mv /cfg/..data_tmp /cfg/..data`, `busybox ln -s ${canary} /cfg/..2001_01_01_00_00_00.000000000`, 'echo x > /cfg/key', 'echo x > /cfg/new']) {
        const r = sh('cm-attack', 'c', step);
        assert.notEqual(r.code, 0, `${step} must fail`);
        assert.match(r.out, /Read-only file system/, step);
      }
      const mounts = sh('cm-attack', 'c', 'cat /proc/mounts').out;
      assert.match(mounts, /^\S+ \/cfg \S+ ro[,\s]/m, `the configMap volume is mounted read-only:\n${mounts}`);
      apply(ok('create', 'configmap', 'cfg', '--from-literal=key=v2', '--from-literal=more=m', '--dry-run=client', '-o', 'yaml'));
      await waitFor('the update inside the container', () => (sh('cm-attack', 'c', 'cat /cfg/key /cfg/more').out === 'v2m' ? true : undefined), 40_000);
      untouched();
    });
  });

  it('subPath: links planted in a shared emptyDir (to a host dir and to /) fail the container with CreateContainerConfigError', async () => {
    await attack(async () => {
      apply(`apiVersion: v1
kind: Pod
metadata: {name: sp-escape}
spec:
  initContainers:
  - name: plant
    image: busybox:1.36
    command: [sh, -c, "busybox ln -s ${canary} /shared/escape && busybox ln -s / /shared/root && busybox mkdir -p /shared/d && busybox ln -s ../../../../../../../../.. /shared/d/up"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: victim
    image: busybox:1.36
    command: [sh, -c, "echo pwned > /mnt/pwned; sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /mnt, subPath: escape}]
  - name: victim-root
    image: busybox:1.36
    command: [sh, -c, "echo pwned > /mnt/tmp/pwned; sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /mnt, subPath: root}]
  - name: victim-up
    image: busybox:1.36
    command: [sh, -c, "sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /mnt, subPath: d/up}]
  volumes:
  - {name: shared, emptyDir: {}}
`);
      for (const c of ['victim', 'victim-root', 'victim-up']) {
        const st = await waitingFor('sp-escape', c, 'CreateContainerConfigError');
        // the kubelet's words, which name no host path
        assert.equal(st.state.waiting.message, `failed to prepare subPath for volumeMount "shared" of container "${c}"`);
      }
      const ev = events('sp-escape');
      assert.match(ev, /^Warning Failed Error: failed to prepare subPath for volumeMount "shared" of container "victim"$/m, ev);
      assert.equal(pod('sp-escape').status.phase, 'Pending');
      untouched();
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(canary), 'the host dir is mounted nowhere');
    });
  });

  it('subPath: a container that swaps its subPath dir for a link to the host is not restarted through it', async () => {
    await attack(async () => {
      apply(`apiVersion: v1
kind: Pod
metadata: {name: sp-restart}
spec:
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, "echo first > /mnt/run; busybox rm -rf /shared/sub && busybox ln -s ${canary} /shared/sub; exit 1"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    - {name: shared, mountPath: /mnt, subPath: sub}
  volumes:
  - {name: shared, emptyDir: {}}
`);
      // the restart is refused; between attempts the container shows CrashLoopBackOff (back-off
      // runs on), so what stays is the kubelet's event and a container that never ran again
      const refused = /^Warning Failed Error: failed to prepare subPath for volumeMount "shared" of container "c"$/m;
      await waitFor('the restart refused with the subPath error', () => refused.test(events('sp-restart')) || undefined, 60_000);
      const st = status('sp-restart', 'c');
      assert.equal(st.restartCount, 0, 'no second run started through the link');
      assert.equal(st.lastState?.terminated?.exitCode, 1, 'the first run ran (the missing subPath was created) and exited');
      assert.ok(['CreateContainerConfigError', 'CrashLoopBackOff'].includes(st.state.waiting?.reason), JSON.stringify(st.state));
      untouched();
    });
  });

  it('subPath that stays inside its volume works: inner links, created dirs, subPathExpr, configMap keys (read-only)', async () => {
    await attack(async () => {
      apply(`apiVersion: v1
kind: Pod
metadata: {name: sp-ok}
spec:
  initContainers:
  - name: prep
    image: busybox:1.36
    command: [sh, -c, "busybox mkdir -p /shared/real && busybox ln -s real /shared/inner"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    env: [{name: MY_DIR, value: expr-dir}]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    - {name: shared, mountPath: /in, subPath: inner}
    - {name: shared, mountPath: /made, subPath: made/here}
    - {name: shared, mountPath: /expr, subPathExpr: "logs/$(MY_DIR)"}
    - {name: cfg, mountPath: /etc/key.conf, subPath: key}
  volumes:
  - {name: shared, emptyDir: {}}
  - {name: cfg, configMap: {name: cfg}}
`);
      await running('sp-ok');
      assert.equal(sh('sp-ok', 'c', 'echo a > /in/f && echo b > /made/g && echo c > /expr/h && cat /shared/real/f /shared/made/here/g /shared/logs/expr-dir/h').out, 'a\nb\nc\n');
      assert.equal(sh('sp-ok', 'c', 'cat /etc/key.conf').out, 'v2');
      const w = sh('sp-ok', 'c', 'echo x > /etc/key.conf');
      assert.notEqual(w.code, 0);
      assert.match(w.out, /Read-only file system/, 'a configMap key mounted by subPath is read-only too');
    });
  });

  it('subPathExpr with an undefined variable fails the container as the kubelet does', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: {name: sp-expr-missing}
spec:
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts: [{name: shared, mountPath: /x, subPathExpr: "$(NOT_SET)"}]
  volumes:
  - {name: shared, emptyDir: {}}
`);
    const st = await waitingFor('sp-expr-missing', 'c', 'CreateContainerConfigError');
    assert.equal(st.state.waiting.message, 'missing value for NOT_SET');
  });

  it('an image whose /etc/passwd is a FIFO, run as a named user: the container fails at once and podbay keeps answering', async () => {
    await attack(async () => {
      apply(`apiVersion: v1
kind: Pod
metadata: {name: fifo-passwd}
spec:
  containers:
  - {name: c, image: "fifo-passwd:1", imagePullPolicy: Never}
`);
      const st = await waitingFor('fifo-passwd', 'c', 'CreateContainerError');
      assert.match(st.state.waiting.message, /unable to find user nobody: no matching entries in passwd file/);
      // it is retried (every 5 s): each attempt must return, and the node must still run pods
      await waitFor('a second attempt', () => eventCount('fifo-passwd', /unable to find user nobody/) >= 2 || undefined, 30_000);
      apply(`apiVersion: v1
kind: Pod
metadata: {name: after-fifo}
spec:
  containers:
  - {name: c, image: "busybox:1.36", command: [sleep, "3600"]}
`);
      await running('after-fifo');
    });
  });

  it('secret volume: a tmpfs (never on disk), read-only in the container, defaultMode and items[].mode honoured', async () => {
    await attack(async () => {
      ok('create', 'secret', 'generic', 'sec', '--from-literal=password=hunter2', '--from-literal=token=t0k');
      apply(`apiVersion: v1
kind: Pod
metadata: {name: secret-vol}
spec:
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts:
    - {name: sec, mountPath: /sec}
    - {name: sec-items, mountPath: /items}
  volumes:
  - {name: sec, secret: {secretName: sec, defaultMode: 0400}}
  - {name: sec-items, secret: {secretName: sec, items: [{key: token, path: t/token, mode: 0600}]}}
`);
      await running('secret-vol');
      const mounts = sh('secret-vol', 'c', 'cat /proc/mounts').out;
      assert.match(mounts, /^tmpfs \/sec tmpfs ro[,\s]/m, `the secret volume is a read-only tmpfs:\n${mounts}`);
      assert.match(mounts, /^tmpfs \/items tmpfs ro[,\s]/m, mounts);
      const host = readFileSync('/proc/self/mountinfo', 'utf8');
      assert.match(host, / \S+\/kubernetes\.io~secret\/sec \S+ - tmpfs /, 'on the host too, the volume dir is a tmpfs');
      const hostLine = host.split('\n').find((l) => / \S+\/kubernetes\.io~secret\/sec /.test(l))!;
      for (const o of ['nosuid', 'nodev', 'noexec']) assert.match(hostLine.split(' - ')[0], new RegExp(`[ ,]${o}[ ,]`), `${o}: ${hostLine}`);
      assert.equal(sh('secret-vol', 'c', 'cat /sec/password').out, 'hunter2');
      assert.equal(sh('secret-vol', 'c', 'busybox stat -L -c %a /sec/password /sec/token /items/t/token').out, '400\n400\n600\n');
      for (const step of ['echo x > /sec/password', 'busybox rm -f /sec/token', `busybox ln -s ${canary} /sec/..data_tmp`]) {
        const r = sh('secret-vol', 'c', step);
        assert.notEqual(r.code, 0, step);
        assert.match(r.out, /Read-only file system/, step);
      }
      untouched();
    });
  });
});
