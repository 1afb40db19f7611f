/**
 * Images from registries, for real: Debian's docker-registry on free 127.0.0.1 ports (one open,
 * one with htpasswd auth), filled with `podbay image push` from the locally built busybox; a
 * registries.yaml mirror maps docker.io to the open one, so `image: busybox` pulls as a user's
 * would from Docker Hub. The server runs with --disable-default-registry-endpoint: docker.io
 * itself is never contacted. This suite owns bridge pbimgpull0, subnet 10.216.0.0/24 and
 * hostPorts 19800-19819 (it uses none).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { PODBAY, PodbayServer, PodSuite, kubectlBinaries, kubectlHelpers, waitFor, watchReadyz } from './harness.js';
import { startDockerRegistry, type DockerRegistry } from './registry-harness.js';
import { buildBusyboxRootfs, writeDockerArchive } from '../../src/image/archive-build.js';

const [kc] = kubectlBinaries().slice(-1);
const AUTH = { username: 'puller', password: 'pa55-word' };

describe('images from registries (docker-registry, real kubectl)', () => {
  let reg: DockerRegistry;
  let authReg: DockerRegistry;
  let conf: string;
  let pushedDigest = '';
  let s: PodbayServer;
  const suite = new (class extends PodSuite {
    override serverArgs(): string[] {
      return [...super.serverArgs(), '--registries', join(conf, 'registries.yaml'), '--disable-default-registry-endpoint', '--images-import-dir', join(conf, 'airgap')];
    }
  })('pbimgpull0', '10.216.0.0/24', /^198[01]\d$/);
  const { ok, pod, events } = kubectlHelpers(() => s, kc.path);

  /** `podbay image ...` as a user runs it, with a docker config holding the auth registry's credentials */
  const image = (...args: string[]) => {
    const r = spawnSync(PODBAY, ['image', ...args], { encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: join(conf, 'docker'), PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' }, timeout: 60_000 });
    return { code: r.status ?? -1, out: r.stdout + r.stderr };
  };
  const create = (obj: object) => {
    const r = s.kubectl(kc.path, ['create', '-f', '-'], JSON.stringify(obj));
    assert.equal(r.code, 0, `create failed:\n${r.stderr}`);
  };
  const podOf = (name: string, img: string, extra: Record<string, any> = {}, spec: Record<string, any> = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: img, command: ['sleep', '3600'], ...extra }], ...spec },
  });
  const running = (name: string) => waitFor(`${name} running`, () => (pod(name).status.containerStatuses?.[0]?.state?.running ? pod(name) : undefined), 60_000);
  const blobGets = () => reg.requests().filter((r) => /^GET \/v2\/library\/busybox\/blobs\//.test(r));

  before(async () => {
    reg = await startDockerRegistry();
    authReg = await startDockerRegistry({ auth: AUTH });
    conf = mkdtempSync(join(tmpdir(), 'podbay-imgpull-conf-'));
    writeFileSync(join(conf, 'registries.yaml'), `mirrors:\n  docker.io:\n    endpoint:\n      - "${reg.url}"\n`);
    mkdirSync(join(conf, 'docker'));
    writeFileSync(join(conf, 'docker', 'config.json'), JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64') } } }));
    // the offline path: an archive in the import dir, loaded by the server at start
    mkdirSync(join(conf, 'airgap'));
    await buildBusyboxRootfs(join(conf, 'airgap-rootfs'));
    await writeDockerArchive(join(conf, 'airgap', 'offline.tar'), { repoTags: ['offline/tools:1'], layers: [join(conf, 'airgap-rootfs')], config: { cmd: ['sh'] } });
    s = await suite.start('podbay-e2e-imgpull-');
    // fill the registries from the node's own store, then forget the image locally: pods must pull it
    await suite.loadBusybox();
    for (const to of [`${reg.host}/library/busybox:1.36`, `${reg.host}/library/busybox:latest`, `${authReg.host}/private/busybox:1.36`]) {
      const r = image('push', 'busybox:1.36', '--to', to, '--data-dir', s.dataDir);
      assert.equal(r.code, 0, r.out);
      pushedDigest = /digest: (sha256:[0-9a-f]{64})/.exec(r.out)![1];
    }
    assert.equal(image('rm', 'busybox:1.36', '--data-dir', s.dataDir).code, 0);
    assert.doesNotMatch(image('ls', '--data-dir', s.dataDir).out, /busybox/);
  });

  after(async () => {
    try {
      await suite.finish(kc.path);
    } finally {
      await reg?.stop();
      await authReg?.stop();
      rmSync(conf, { recursive: true, force: true });
    }
  });

  it('pulls `busybox:1.36` through the docker.io mirror: Pulling/Pulled events, imageID with the repo digest; a second IfNotPresent pod does not pull', async () => {
    const ready = watchReadyz(s);
    create(podOf('first', 'busybox:1.36'));
    const p = await running('first');
    assert.equal(p.spec.containers[0].imagePullPolicy, 'IfNotPresent');
    assert.equal(p.status.containerStatuses[0].imageID, `docker.io/library/busybox@${pushedDigest}`);
    const ev = events('first');
    assert.match(ev, /^Normal Pulling Pulling image "busybox:1\.36"$/m);
    const size = /^Normal Pulled Successfully pulled image "busybox:1\.36" in (\S+) \(\S+ including waiting\)\. Image size: (\d+) bytes\.$/m.exec(ev);
    assert.ok(size, ev);
    assert.ok(Number(size[2]) > 100_000, `image size ${size[2]}`);
    await reg.quiet();
    // the config at least; the layer may already be here, shared with the offline image loaded at
    // start (the test builder makes the same busybox layer byte for byte)
    assert.ok(blobGets().length >= 1, reg.requests().join('\n'));
    const { failures, worstMs } = await ready.stop();
    assert.deepEqual(failures, []);
    assert.ok(worstMs < 1000, `readyz took ${worstMs} ms during the pull`);

    const before = reg.requests().length;
    create(podOf('second', 'busybox:1.36'));
    await running('second');
    await reg.quiet();
    assert.match(events('second'), /^Normal Pulled Container image "busybox:1\.36" already present on machine$/m);
    assert.doesNotMatch(events('second'), /Pulling/);
    assert.deepEqual(reg.requests().slice(before), [], 'IfNotPresent with the image present asks the registry nothing');
  });

  it('an image archive in the import dir (the offline path) was loaded at start: its pod runs without any pull', async () => {
    const before = reg.requests().length;
    create(podOf('offline', 'offline/tools:1'));
    await running('offline');
    await reg.quiet();
    assert.match(events('offline'), /^Normal Pulled Container image "offline\/tools:1" already present on machine$/m);
    assert.deepEqual(reg.requests().slice(before), []);
    assert.match(s.log, /images: imported docker\.io\/offline\/tools:1 from /);
  });

  it('`image: busybox` (latest, so Always) pulls each time, fetching only the manifest when nothing changed', async () => {
    const blobsBefore = blobGets().length;
    const before = reg.requests().length;
    create(podOf('latest-1', 'busybox'));
    const p = await running('latest-1');
    await reg.quiet();
    assert.equal(p.spec.containers[0].imagePullPolicy, 'Always');
    assert.match(events('latest-1'), /^Normal Pulling Pulling image "busybox"$/m);
    assert.match(events('latest-1'), /^Normal Pulled Successfully pulled image "busybox" in \S+ \(\S+ including waiting\)\. Image size: \d+ bytes\.$/m);
    const asked = reg.requests().slice(before);
    assert.ok(asked.some((r) => r.startsWith('GET /v2/library/busybox/manifests/latest 200')), asked.join('\n'));
    assert.equal(blobGets().length, blobsBefore, `same content as busybox:1.36: no blob fetched again:\n${asked.join('\n')}`);
    assert.equal(p.status.containerStatuses[0].imageID, `docker.io/library/busybox@${pushedDigest}`);
  });

  it('a missing tag shows ErrImagePull, then ImagePullBackOff, in `kubectl get pods`; the event names the reference', async () => {
    create(podOf('missing', 'busybox:no-such-tag'));
    const seen = new Set<string>();
    await waitFor(
      'ErrImagePull then ImagePullBackOff',
      () => {
        const line = ok('get', 'pod', 'missing', '--no-headers');
        const status = line.trim().split(/\s+/)[2];
        seen.add(status);
        return seen.has('ErrImagePull') && status === 'ImagePullBackOff' ? true : undefined;
      },
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; STATUS seen: ${[...seen].join(', ')}; pod status: ${JSON.stringify(pod('missing').status)}\n${events('missing')}`);
    });
    const ev = events('missing');
    assert.match(ev, /^Warning Failed Failed to pull image "busybox:no-such-tag": failed to pull and unpack image "docker\.io\/library\/busybox:no-such-tag": 127\.0\.0\.1:\d+: manifest library\/busybox:no-such-tag not found/m);
    assert.match(ev, /^Warning Failed Error: ErrImagePull$/m);
    assert.match(ev, /^Normal BackOff Back-off pulling image "busybox:no-such-tag"$/m);
    const w = pod('missing').status.containerStatuses[0].state.waiting;
    assert.equal(w.reason, 'ImagePullBackOff');
    assert.match(w.message, /^Back-off pulling image "busybox:no-such-tag": ErrImagePull: /);
    ok('delete', 'pod', 'missing', '--grace-period=0', '--force');
  });

  it('htpasswd auth: without an imagePullSecret the pull fails naming the registry; with one the pod runs', async () => {
    const img = `${authReg.host}/private/busybox:1.36`;
    create(podOf('noauth', img));
    const w = await waitFor('noauth fails', () => pod('noauth').status.containerStatuses?.[0]?.state?.waiting?.message?.includes('authentication required') ? pod('noauth').status.containerStatuses[0].state.waiting : undefined, 60_000);
    assert.match(w.reason, /^(ErrImagePull|ImagePullBackOff)$/);
    assert.ok(w.message.includes(`${authReg.host}: authentication required`), w.message);
    ok('delete', 'pod', 'noauth', '--grace-period=0', '--force');

    ok('create', 'secret', 'docker-registry', 'regcred', `--docker-server=${authReg.host}`, `--docker-username=${AUTH.username}`, `--docker-password=${AUTH.password}`);
    create(podOf('withauth', img, {}, { imagePullSecrets: [{ name: 'regcred' }] }));
    const p = await running('withauth');
    assert.equal(p.status.containerStatuses[0].imageID, `${authReg.host}/private/busybox@${pushedDigest}`);
    assert.match(events('withauth'), /^Normal Pulled Successfully pulled image/m);
  });

  it('`podbay image pull` by hand: plain progress lines off a terminal, credentials from the docker config, nothing from docker.io', () => {
    const dir = mkdtempSync(join(tmpdir(), 'podbay-imgpull-cli-'));
    try {
      const args = ['--data-dir', dir, '--registries', join(conf, 'registries.yaml'), '--disable-default-registry-endpoint'];
      const r = image('pull', 'busybox', ...args);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /^[0-9a-f]{12}: Downloading \(\d/m);
      assert.match(r.out, /^[0-9a-f]{12}: Pull complete$/m);
      assert.match(r.out, new RegExp(`^Digest: ${pushedDigest}$`, 'm'));
      assert.match(r.out, /^docker\.io\/library\/busybox:latest$/m);
      assert.match(image('pull', 'busybox', ...args).out, /Status: Image is up to date for docker\.io\/library\/busybox:latest/);
      const priv = image('pull', `${authReg.host}/private/busybox:1.36`, ...args);
      assert.equal(priv.code, 0, priv.out);
      const inspect = JSON.parse(image('inspect', `${authReg.host}/private/busybox:1.36`, '--data-dir', dir).out);
      assert.deepEqual(inspect[0].repoDigests.sort(), [`${authReg.host}/private/busybox@${pushedDigest}`, `docker.io/library/busybox@${pushedDigest}`].sort());
      // on a terminal (util-linux `script` gives the pull a pty): per-layer lines redrawn with a bar
      const ttyDir = join(dir, 'tty');
      const cmd = [PODBAY, 'image', 'pull', 'busybox:1.36', '--data-dir', ttyDir, '--registries', join(conf, 'registries.yaml'), '--disable-default-registry-endpoint'].join(' ');
      const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' } });
      assert.equal(tty.status, 0, tty.stdout + tty.stderr);
      assert.match(tty.stdout, /\x1b\[2K[0-9a-f]{12}: Downloading \[=*>? *\] [\d.]+[kM]?B\/[\d.]+MB/);
      assert.match(tty.stdout, /\x1b\[\d+A/);
      assert.match(tty.stdout, /\x1b\[2K[0-9a-f]{12}: Pull complete\r?\n/);
      // no partial blobs or temp files anywhere
      assert.deepEqual(readdirSync(join(dir, 'images', 'tmp')), []);
      // a mirror that is down fails; docker.io itself is not tried
      writeFileSync(join(dir, 'down.yaml'), 'mirrors:\n  docker.io:\n    endpoint: ["http://127.0.0.1:9"]\n');
      const down = image('pull', 'busybox:1.35', '--data-dir', dir, '--registries', join(dir, 'down.yaml'), '--disable-default-registry-endpoint');
      assert.equal(down.code, 1);
      assert.match(down.out, /127\.0\.0\.1:9: ECONNREFUSED/);
      assert.doesNotMatch(down.out, /registry-1\.docker\.io/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a registry killed mid-layer: the pull fails cleanly with no partial blob, and a retry once it is back succeeds', async () => {
    // a 48 MB incompressible layer, so the download is caught while it streams
    const dir = mkdtempSync(join(tmpdir(), 'podbay-imgpull-kill-'));
    try {
      mkdirSync(join(dir, 'layer'));
      writeFileSync(join(dir, 'layer', 'random.bin'), randomBytes(48 << 20));
      await writeDockerArchive(join(dir, 'big.tar'), { repoTags: ['big:1'], layers: [join(dir, 'layer')] });
      assert.equal(image('load', '-i', join(dir, 'big.tar'), '--data-dir', join(dir, 'src')).code, 0);
      const pushed = image('push', 'big:1', '--to', `${reg.host}/library/big:1`, '--data-dir', join(dir, 'src'));
      assert.equal(pushed.code, 0, pushed.out);
      rmSync(join(dir, 'src'), { recursive: true, force: true });

      const args = ['--data-dir', join(dir, 'dst'), '--registries', join(conf, 'registries.yaml'), '--disable-default-registry-endpoint'];
      const pull = spawn(PODBAY, ['image', 'pull', 'big:1', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' } });
      let out = '';
      pull.stdout.on('data', (d) => (out += d));
      pull.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => pull.once('exit', r));
      const tmp = join(dir, 'dst', 'images', 'tmp');
      const partial = () => (existsSync(tmp) ? readdirSync(tmp).filter((f) => f.startsWith('pull-')).map((f) => statSync(join(tmp, f), { throwIfNoEntry: false })?.size ?? 0) : []);
      // poll fast: kill while a download is part-way
      const deadline = Date.now() + 30_000;
      while (!partial().some((n) => n > 1 << 20 && n < 48 << 20)) {
        if (Date.now() > deadline || pull.exitCode !== null) assert.fail(`never saw a download in progress:\n${out}`);
        await new Promise((r) => setTimeout(r, 1));
      }
      await reg.kill();
      const code = await exited;
      assert.equal(code, 1, out);
      assert.match(out, /failed to pull and unpack image "docker\.io\/library\/big:1": 127\.0\.0\.1:\d+: blob sha256:[0-9a-f]{64} of library\/big: .*gave up after 3 attempts/);
      const blobs = join(dir, 'dst', 'images', 'blobs', 'sha256');
      assert.deepEqual(existsSync(blobs) ? readdirSync(blobs) : [], [], 'a failed pull stores no blob');
      assert.deepEqual(readdirSync(tmp), [], 'no partial download is left');
      await reg.restart();
      const again = image('pull', 'big:1', ...args);
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /^docker\.io\/library\/big:1$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
