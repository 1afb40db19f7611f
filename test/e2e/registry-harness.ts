/**
 * A real registry for the e2e tests: Debian's docker-registry (distribution 2.8), started on a
 * free 127.0.0.1 port with its own config file and temp storage, plain HTTP, optionally with
 * htpasswd (bcrypt, from apache2-utils' htpasswd) auth.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { httpGet, onFreePort } from './harness.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface DockerRegistry {
  host: string;
  url: string;
  dir: string;
  proc: ChildProcess;
  log: () => string;
  /** requests served so far, from the access log: "GET /v2/library/busybox/manifests/latest 200" */
  requests: () => string[];
  /** resolves once the access log has stopped growing (it is written after each answer) */
  quiet(ms?: number, maxMs?: number): Promise<void>;
  /** SIGKILL (storage kept) */
  kill(): Promise<void>;
  /** kill, then start again on the same port and storage */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function requireRegistryTools(htpasswd: boolean): void {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} not found: install the Debian package 'docker-registry' (apt-get install docker-registry, or scripts/setup-host.sh)`);
  if (htpasswd && spawnSync('htpasswd', ['-h']).error) throw new Error("htpasswd not found: install the Debian package 'apache2-utils' (apt-get install apache2-utils, or scripts/setup-host.sh)");
}

/** A docker-registry on a loopback port the kernel picks (a new one if it was taken: onFreePort) */
export async function startDockerRegistry(opts: { auth?: { username: string; password: string } } = {}): Promise<DockerRegistry> {
  requireRegistryTools(Boolean(opts.auth));
  const dir = mkdtempSync(join(tmpdir(), 'podbay-registry-'));
  try {
    return await onFreePort((port) => startOn(port, dir, opts));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function startOn(port: number, dir: string, opts: { auth?: { username: string; password: string } }): Promise<DockerRegistry> {
  const host = `127.0.0.1:${port}`;
  let auth = '';
  if (opts.auth) {
    const r = spawnSync('htpasswd', ['-Bbn', opts.auth.username, opts.auth.password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
    writeFileSync(join(dir, 'htpasswd'), r.stdout);
    auth = `auth:\n  htpasswd:\n    realm: podbay-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${join(dir, 'storage')}
  delete:
    enabled: true
http:
  addr: ${host}
${auth}`,
  );
  let log = '';
  const launch = async () => {
    const proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (log += d));
    proc.stderr!.on('data', (d) => (log += d));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited with ${proc.exitCode}:\n${log}`);
      const r = await httpGet(`http://${host}/v2/`, 500).catch(() => undefined);
      if (r && (r.status === 200 || r.status === 401)) break;
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${host} in 15s:\n${log}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    return proc;
  };
  const reg: DockerRegistry = {
    host,
    url: `http://${host}`,
    dir,
    proc: await launch(),
    async kill() {
      const p = reg.proc;
      if (p.exitCode === null && p.signalCode === null) {
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await exited;
      }
    },
    async restart() {
      await reg.kill();
      reg.proc = await launch();
    },
    log: () => log,
    async quiet(ms = 300, maxMs = 5000) {
      // the registry logs a request after answering it: wait until its access log stops growing
      const end = Date.now() + maxMs;
      let n = reg.requests().length;
      for (;;) {
        await new Promise((r) => setTimeout(r, ms));
        const m = reg.requests().length;
        if (m === n || Date.now() > end) return;
        n = m;
      }
    },
    requests: () => [...log.matchAll(/"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP\/[\d.]+" (\d+)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`),
    async stop() {
      const proc = reg.proc;
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return reg;
}
