/**
 * End-to-end harness: each suite starts its own `podbay server` (free port, temp data dir),
 * drives it with a real kubectl binary, and on teardown stops it and checks it left nothing
 * behind (the process is gone, the port is closed, the data dir is removed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, readdirSync, statSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import https from 'node:https';
import http from 'node:http';
import assert from 'node:assert/strict';

import { ROOT } from '../fixtures/seed.js';

export { ROOT, FIXTURES, SEED, seedBlockAfter, heredocBody } from '../fixtures/seed.js';
export const PODBAY = join(ROOT, 'bin/podbay');

/** The kubectl binaries to test with: the oldest and newest installed beside the real one. */
export function kubectlBinaries(): { name: string; path: string }[] {
  const which = spawnSync('bash', ['-c', 'command -v kubectl'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error('kubectl is not installed: install kubectl (1.27 to 1.33) to run the end-to-end tests');
  const real = realpathSync(which.stdout.trim());
  const dir = dirname(real);
  const out: { name: string; path: string }[] = [];
  for (const v of ['1.27', '1.33']) {
    const p = join(dir, `kubectl.${v}`);
    if (!existsSync(p)) throw new Error(`${p} is missing: the tests need kubectl ${v} beside ${real}`);
    out.push({ name: `kubectl ${v}`, path: p });
  }
  return out;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolvePort(port));
    });
    s.on('error', reject);
  });
}

/**
 * `start` on a loopback port the kernel picked. The port is free when picked, but another
 * process can bind it before the server does: when `start` fails with "address already in use"
 * for that port, it is tried again on a new one (three tries).
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (e) {
      const msg = String(e);
      if (attempt >= 3 || !msg.includes('address already in use') || !msg.includes(`127.0.0.1:${port}`)) throw e;
    }
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => {
      c.destroy();
      res(true);
    });
    c.on('error', () => res(false));
  });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class PodbayServer {
  proc?: ChildProcess;
  dataDir = '';
  port = 0;
  kubeconfig = '';
  token = '';
  caPem = '';
  log = '';

  /** Start a server on a fresh data dir and a port the kernel picked (a new port and data dir if it was taken: onFreePort) */
  static start(extraArgs: string[] = []): Promise<PodbayServer> {
    return onFreePort(async (port) => {
      const s = new PodbayServer();
      s.dataDir = mkdtempSync(join(tmpdir(), 'podbay-e2e-'));
      s.port = port;
      s.kubeconfig = join(s.dataDir, 'kubeconfig.yaml');
      try {
        await s.spawn(extraArgs);
        return s;
      } catch (e) {
        rmSync(s.dataDir, { recursive: true, force: true });
        throw e;
      }
    });
  }

  async spawn(extraArgs: string[] = []): Promise<void> {
    const proc = this.launch(extraArgs);
    const deadline = Date.now() + 20_000;
    while (!existsSync(this.kubeconfig)) {
      if (proc.exitCode !== null) throw new Error(`podbay server exited with ${proc.exitCode}:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`podbay server wrote no kubeconfig in 20s:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    this.token = readFileSync(join(this.dataDir, 'pki/admin.token'), 'utf8').trim();
    this.caPem = readFileSync(join(this.dataDir, 'pki/ca.crt'), 'utf8');
  }

  /** start `podbay server` and return at once, without waiting for it to serve */
  launch(extraArgs: string[] = []): ChildProcess {
    if (existsSync(this.kubeconfig)) rmSync(this.kubeconfig);
    // network safety: a test server never pulls from a real registry; unless the suite names its
    // own registries file, every host is "mirrored" to a closed loopback port with no fallback
    if (!extraArgs.includes('--registries')) {
      const offline = join(this.dataDir, 'registries-offline.yaml');
      writeFileSync(offline, 'mirrors:\n  "*":\n    endpoint: ["http://127.0.0.1:9"]\n');
      extraArgs = [...extraArgs, '--registries', offline, '--disable-default-registry-endpoint'];
    }
    // no suite binds the host's ports 80/443 unless it asks for the ingress controller
    if (!extraArgs.includes('--ingress-http-port')) extraArgs = [...extraArgs, '--ingress-http-port', '0'];
    const proc = spawn(PODBAY, ['server', '--data-dir', this.dataDir, '--listen', `127.0.0.1:${this.port}`, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PODBAY_LOOPBACK_REGISTRIES_ONLY: '1' },
    });
    this.proc = proc;
    proc.stdout!.on('data', (d) => (this.log += d));
    proc.stderr!.on('data', (d) => (this.log += d));
    return proc;
  }

  /** SIGTERM and wait for a clean exit (code 0). */
  async stop(): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  }

  /** Stop, then assert nothing is left: process gone, port closed; remove the data dir. */
  async teardown(): Promise<void> {
    const code = await this.stop();
    assert.equal(code, 0, `podbay server should exit 0 on SIGTERM; log:\n${this.log}`);
    assert.equal(await portOpen(this.port), false, `port ${this.port} still open after the server stopped`);
    rmSync(this.dataDir, { recursive: true, force: true });
    assert.equal(existsSync(this.dataDir), false);
  }

  kubectl(bin: string, args: string[], input?: string): RunResult {
    const r = spawnSync(bin, ['--kubeconfig', this.kubeconfig, ...args], {
      encoding: 'utf8',
      input,
      timeout: 60_000,
      env: { ...process.env, KUBECONFIG: '', KUBECTL_EXPLAIN_OPENAPIV3: undefined, HOME: this.dataDir },
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** A raw HTTPS request to the API (token optional), for what kubectl cannot show. */
  request(method: string, path: string, opts: { token?: string | null; body?: string | Buffer; contentType?: string; headers?: Record<string, string>; agent?: https.Agent } = {}): Promise<{ status: number; body: string; json: any; headers: Record<string, any> }> {
    return new Promise((resolveReq, reject) => {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const token = opts.token === undefined ? this.token : opts.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (opts.body !== undefined) {
        headers['content-type'] = opts.contentType ?? 'application/json';
        // Node sends DELETE bodies unframed unless told their length.
        headers['content-length'] = String(Buffer.byteLength(opts.body));
      }
      const req = https.request({ host: '127.0.0.1', port: this.port, path, method, ca: this.caPem, headers, agent: opts.agent }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(data);
          } catch {
            json = undefined;
          }
          resolveReq({ status: res.statusCode ?? 0, body: data, json, headers: res.headers });
        });
      });
      req.on('error', reject);
      if (opts.body !== undefined) req.write(opts.body);
      req.end();
    });
  }
}

export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/** GET over plain HTTP (pod IPs, hostPorts): status and body; rejects on connection errors. */
export function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Retry `fn` until it stops throwing; its value is returned. */
export async function until<T>(what: string, fn: () => Promise<T>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

/** Poll `fn` until it returns something other than undefined/false (errors count as "not yet"). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  return until(
    what,
    async () => {
      const v = await fn();
      if (v === undefined || v === false) throw new Error('not yet');
      return v as T;
    },
    timeoutMs,
    100,
  );
}

/** Processes whose command line mentions `needle` (conmon, catatonit, containers of a test). */
export function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${d}: ${cmd.trim()}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Whether portmap's shared chains exist now (record before a test that uses hostPorts). */
export function hostportChainsExist(): boolean {
  return /^:CNI-HOSTPORT-DNAT /m.test(spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout);
}

export interface PodWorld {
  /** the test's temp dir: every path the server made for pods is below it */
  work: string;
  runDir: string;
  bridge: string;
  /** e.g. "10.203.0." */
  subnetPrefix: string;
  /** a hostPort rule for any of these ports is a leftover */
  hostPorts: RegExp;
  hadHostportChains: boolean;
  /** the server's --cgroup-root: nothing may be left under it in any cgroup hierarchy */
  cgroupRoot: string;
}

/** Every cgroup (v1 hierarchy or cgroup2) mount point on this host. */
export function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]!);
}

/**
 * What a pod test may have left on the host after its pods were deleted and its server
 * stopped: processes, runc containers, mounts, iptables rules, the bridge, IPAM leases.
 */
/** a simulated machine: netns `netns` with eth0 at `nodeIP`/24, a veth to bridge `linkBridge` on the host at `hostIP`/24 */
export interface SimulatedHost {
  netns: string;
  linkBridge: string;
  hostVeth: string;
  hostIP: string;
  nodeIP: string;
}

export function makeSimulatedHost(h: SimulatedHost): void {
  const sh = (args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
  };
  sh(['link', 'add', h.linkBridge, 'type', 'bridge']);
  sh(['addr', 'add', `${h.hostIP}/24`, 'dev', h.linkBridge]);
  sh(['link', 'set', h.linkBridge, 'up']);
  sh(['netns', 'add', h.netns]);
  sh(['link', 'add', h.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns]);
  sh(['link', 'set', h.hostVeth, 'master', h.linkBridge, 'up']);
  sh(['-n', h.netns, 'addr', 'add', `${h.nodeIP}/24`, 'dev', 'eth0']);
  sh(['-n', h.netns, 'link', 'set', 'eth0', 'up']);
  sh(['-n', h.netns, 'link', 'set', 'lo', 'up']);
}

export function removeSimulatedHost(h: SimulatedHost): void {
  spawnSync('ip', ['netns', 'del', h.netns]);
  spawnSync('ip', ['link', 'del', h.hostVeth]);
  spawnSync('ip', ['link', 'del', h.linkBridge]);
}

/**
 * Fallback cleanup of an agent's world (a failed run, or an agent killed, whose kubelet never
 * stopped its pods): containers, mounts, cgroups. Its IPAM leases are files in its run dir.
 */
export function agentJanitor(w: PodWorld | undefined): void {
  if (!w?.runDir) return;
  const root = join(w.runDir, 'runc');
  if (existsSync(root)) for (const id of spawnSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) spawnSync('runc', ['--root', root, 'delete', '--force', id]);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => !!m && m.startsWith(w.work + '/'));
  for (const m of mounts.sort().reverse()) spawnSync('umount', ['-l', m]);
  for (const m of cgroupMounts()) {
    const d = join(m, w.cgroupRoot);
    if (existsSync(d)) spawnSync('find', [d, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
  }
}

export function hostLeftovers(w: PodWorld): string[] {
  const leftovers: string[] = [...processesMentioning(w.work)];
  const runcRoot = join(w.runDir, 'runc');
  if (existsSync(runcRoot)) {
    const list = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
    if (list.stdout.trim()) leftovers.push(`runc containers: ${list.stdout.trim()}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes(w.work)) leftovers.push(`mount: ${line}`);
  const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
  for (const line of nat.split('\n')) {
    const port = /--dport (\d+)/.exec(line)?.[1];
    if (line.includes(w.subnetPrefix) || (port && w.hostPorts.test(port)) || line.includes(w.bridge)) leftovers.push(`iptables: ${line}`);
  }
  // portmap's shared chains are the world's leftover only when idle: a suite running beside this
  // one may hold DNAT entries in them (its own entries are caught above by port, subnet, bridge);
  // idle chains that did not exist before this world started are what podbay failed to remove.
  if (!w.hadHostportChains && /^:CNI-HOSTPORT-DNAT /m.test(nat) && !/^-A CNI-HOSTPORT-DNAT /m.test(nat)) {
    for (const line of nat.split('\n')) if (line.includes('CNI-HOSTPORT')) leftovers.push(`iptables (idle portmap chain made by this test): ${line}`);
  }
  // a per-hostPort chain no PODBAY-HP-<bridge> jumps to any more was leaked by a hostport write
  // (restores are atomic, so a suite running beside this one never shows one mid-write)
  for (const m of nat.matchAll(/^:(PODBAY-HPD-[A-Z2-7]{16}) /gm)) if (!nat.includes(`-j ${m[1]}`)) leftovers.push(`iptables (hostport chain no rule jumps to): ${m[1]}`);
  // the bridge's CVE-2020-8558 guard (src/network/localnet-guard.ts) goes with the bridge
  const filter = spawnSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout;
  for (const line of filter.split('\n')) if (line.includes(w.bridge)) leftovers.push(`iptables filter: ${line}`);
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
  if (links.includes(w.bridge)) leftovers.push(`bridge ${w.bridge} still exists`);
  for (const m of cgroupMounts()) {
    const d = join(m, w.cgroupRoot);
    if (existsSync(d)) leftovers.push(`cgroup ${d} still exists${readdirSync(d, { recursive: true }).some((f) => String(f).includes('pod')) ? ' (with pod cgroups)' : ''}`);
  }
  const ipam = join(w.runDir, 'net', 'ipam');
  if (existsSync(ipam)) {
    for (const f of readdirSync(ipam, { recursive: true }) as string[]) if (f.includes(w.subnetPrefix)) leftovers.push(`IPAM lease ${f}`);
  }
  return leftovers;
}

/**
 * A pod test's world: its own temp dir, run dir, bridge and subnet, and a podbay server
 * using them; `finish` deletes every pod, stops the server and asserts the host is as it was.
 */
export class PodSuite implements PodWorld {
  work = '';
  runDir = '';
  hadHostportChains = false;
  server!: PodbayServer;
  readonly subnetPrefix: string;

  constructor(
    readonly bridge: string,
    readonly cidr: string,
    readonly hostPorts: RegExp,
  ) {
    this.subnetPrefix = cidr.slice(0, cidr.lastIndexOf('.') + 1);
    this.cgroupRoot = `/podbay-e2e-${bridge}`;
  }

  /** each world its own cgroup root, so suites never see (or clean) each other's pod cgroups */
  readonly cgroupRoot: string;

  serverArgs(): string[] {
    return ['--run-dir', this.runDir, '--cni-bridge', this.bridge, '--pod-cidr', this.cidr, '--cgroup-root', this.cgroupRoot];
  }

  async start(prefix: string, extraArgs: string[] = []): Promise<PodbayServer> {
    this.hadHostportChains = hostportChainsExist();
    this.work = mkdtempSync(join(tmpdir(), prefix));
    this.runDir = join(this.work, 'run');
    this.server = await PodbayServer.start([...this.serverArgs(), ...extraArgs]);
    return this.server;
  }

  /** as start, on a fixed port of the suite's range (agents must be told where the API is before it starts) */
  async startOnPort(prefix: string, port: number, extraArgs: string[] = []): Promise<PodbayServer> {
    this.hadHostportChains = hostportChainsExist();
    this.work = mkdtempSync(join(tmpdir(), prefix));
    this.runDir = join(this.work, 'run');
    const s = new PodbayServer();
    s.dataDir = mkdtempSync(join(tmpdir(), 'podbay-e2e-'));
    s.port = port;
    s.kubeconfig = join(s.dataDir, 'kubeconfig.yaml');
    await s.spawn([...this.serverArgs(), ...extraArgs]);
    this.server = s;
    return s;
  }

  /** `podbay image load -i TAR` into this server's data dir */
  loadImage(tar: string): void {
    const r = spawnSync(PODBAY, ['image', 'load', '-i', tar, '--data-dir', this.server.dataDir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }

  /** busybox:1.36 from Debian's busybox-static, loaded; returns its rootfs dir (a base layer for more images) */
  async loadBusybox(): Promise<string> {
    const { buildBusyboxRootfs, writeDockerArchive } = await import('../../src/image/archive-build.js');
    const rootfs = join(this.work, 'busybox-rootfs');
    await buildBusyboxRootfs(rootfs);
    await writeDockerArchive(join(this.work, 'busybox.tar'), { repoTags: ['busybox:1.36'], layers: [rootfs], config: { cmd: ['sh'] } });
    this.loadImage(join(this.work, 'busybox.tar'));
    return rootfs;
  }

  /**
   * An nginx image (`repoTag`) from the host's Debian nginx package (test/images/build-nginx-rootfs.sh:
   * the binary, its libraries, users, nsswitch.conf), started as `nginx -g 'daemon off;'`;
   * loaded unless `load` is false. Returns its docker archive (for a push to a registry).
   */
  async loadNginx(repoTag = 'nginx:latest', load = true): Promise<string> {
    const { writeDockerArchive } = await import('../../src/image/archive-build.js');
    const rootfs = join(this.work, 'nginx-rootfs');
    const built = spawnSync('bash', [join(ROOT, 'test/images/build-nginx-rootfs.sh'), rootfs], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    const tar = join(this.work, 'nginx.tar');
    await writeDockerArchive(tar, { repoTags: [repoTag], layers: [rootfs], config: { cmd: ['/usr/sbin/nginx', '-g', 'daemon off;'] } });
    if (load) this.loadImage(tar);
    return tar;
  }

  async finish(kubectl: string): Promise<void> {
    const s = this.server;
    // the controllers first (their pods orphaned), or a ReplicaSet makes the force-deleted pods again
    s.kubectl(kubectl, ['delete', 'deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs,replicationcontrollers', '--all', '--all-namespaces', '--cascade=orphan', '--wait=false']);
    s.kubectl(kubectl, ['delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true']);
    await waitFor('all pods gone', () => JSON.parse(s.kubectl(kubectl, ['get', 'pods', '-o', 'json']).stdout).items.length === 0 || undefined, 60_000);
    await s.teardown();
    const leftovers = hostLeftovers(this);
    rmSync(this.work, { recursive: true, force: true });
    assert.deepEqual(leftovers, [], 'the host should be left as it was found');
  }
}

/**
 * Polls the server's /readyz every `everyMs` while an attack runs; `stop()` returns the slowest
 * answer and every failure, so a suite can assert podbay kept answering (within 1 s) throughout.
 * The poller runs in a worker thread: the suites call kubectl with spawnSync, which blocks this
 * thread, and a poller here would count a kubectl run of over a second as podbay's silence.
 */
export function watchReadyz(s: PodbayServer, everyMs = 100): { stop(): Promise<{ worstMs: number; failures: string[]; samples: number; failedAt: string[]; latencies: number[] }> } {
  const worker = new Worker(READYZ_POLLER, { eval: true, workerData: { port: s.port, ca: s.caPem, everyMs } });
  const result = new Promise<{ worstMs: number; failures: string[]; samples: number; failedAt: string[]; latencies: number[] }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the /readyz poller exited (${code}) without its result`)));
  });
  result.catch(() => {}); // read by stop()
  // a poller a failed test never stopped must not keep the test process (and CI) alive: unref'd
  // after its listeners are on (a 'message' listener refs the worker again)
  worker.unref();
  return {
    async stop() {
      worker.ref(); // awaited now: its answer must come even with nothing else keeping us alive
      worker.postMessage('stop');
      const r = await result;
      await worker.terminate();
      return r;
    },
  };
}

const READYZ_POLLER = `
const { parentPort, workerData } = require('node:worker_threads');
const https = require('node:https');
const { port, ca, everyMs } = workerData;
let stopped = false;
let wake;
let worstMs = 0, samples = 0;
const failures = [], failedAt = [], latencies = [];
parentPort.on('message', () => { stopped = true; if (wake) wake(); });
const get = () => new Promise((resolve, reject) => {
  const req = https.get({ host: '127.0.0.1', port, path: '/readyz', ca, agent: false }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => { clearTimeout(t); resolve({ status: res.statusCode, body }); });
  });
  const t = setTimeout(() => req.destroy(new Error('no answer in 1000 ms')), 1000);
  req.on('error', (e) => { clearTimeout(t); reject(e); });
});
(async () => {
  while (!stopped) {
    const t0 = performance.now();
    const sent = new Date().toISOString();
    try {
      const r = await get();
      if (r.status !== 200) failures.push('/readyz answered ' + r.status + ': ' + r.body);
    } catch (e) {
      failures.push('/readyz: ' + e.message);
      failedAt.push(sent);
    }
    const ms = performance.now() - t0;
    worstMs = Math.max(worstMs, ms);
    latencies.push(ms);
    samples++;
    if (!stopped) await new Promise((r) => { wake = r; setTimeout(r, everyMs); });
  }
  parentPort.postMessage({ worstMs, failures, samples, failedAt, latencies });
})();
`;

/**
 * The kubectl shorthands a pod suite uses: `k` runs kubectl, `ok` asserts it succeeded and
 * returns stdout, `apply` applies YAML from stdin, `pod` gets a pod as JSON, `events` lists a
 * object's events as "TYPE REASON MESSAGE" lines.
 */
export function kubectlHelpers(server: () => PodbayServer, kubectl: string) {
  const k = (...args: string[]) => server().kubectl(kubectl, args);
  const ok = (...args: string[]) => {
    const r = k(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const apply = (yaml: string) => {
    const r = server().kubectl(kubectl, ['apply', '-f', '-'], yaml);
    assert.equal(r.code, 0, r.stderr);
  };
  const pod = (name: string) => JSON.parse(ok('get', 'pod', name, '-o', 'json'));
  /** `kubectl create -f -` of an object given as data */
  const create = (obj: object) => {
    const r = server().kubectl(kubectl, ['create', '-f', '-'], JSON.stringify(obj));
    assert.equal(r.code, 0, `create failed:\n${r.stderr}`);
  };
  /** creates a one-shot pod, waits for it to finish, asserts it Succeeded; its log and final object */
  const runToCompletion = async (obj: { metadata: { name: string } }) => {
    const name = obj.metadata.name;
    create(obj);
    const p = await waitFor(`${name} finished`, () => {
      const p = pod(name);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed' ? p : undefined;
    }, 60_000);
    const log = ok('logs', name);
    assert.equal(p.status.phase, 'Succeeded', `pod ${name} failed; log:\n${log}\nstatus: ${JSON.stringify(p.status)}`);
    return { log, pod: p };
  };
  const events = (name: string) =>
    ok('get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'jsonpath={range .items[*]}{.type} {.reason} {.message}{"\\n"}{end}');
  return { k, ok, apply, create, pod, events, runToCompletion };
}

/** A bare Pod object (restartPolicy Never, no grace period unless `spec` says otherwise). */
export function podOf(name: string, spec: Record<string, any>, meta: Record<string, any> = {}) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...meta }, spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 0, ...spec } };
}

/**
 * `ip netns add` bind-mounts /run/netns onto itself and never undoes it. Call before anything
 * runs it; the returned function removes that mount again if it was not there before and no
 * namespace is left in it, so the host is left as it was found.
 */
export function keepRunNetnsAsFound(): () => void {
  const mounted = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === '/run/netns');
  const before = mounted();
  return () => {
    if (!before && mounted() && readdirSync('/run/netns').length === 0) spawnSync('umount', ['/run/netns']);
  };
}
