/**
 * A real etcd (Debian's etcd-server) for tests: each member on its own loopback ports and data
 * dir under a temporary directory, stopped and removed by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function requireEtcd(): string {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error('etcd is not installed: apt-get install etcd-server (scripts/setup-host.sh installs it)');
  return 'etcd';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc?: ChildProcess;
}

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints: string[];
  /** stop one member (SIGKILL: an unclean stop, as a crash) */
  kill(i: number): Promise<void>;
  /** start a stopped member again on the same data dir */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

async function waitHealthy(url: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${url}/health`);
      const body = (await r.json()) as { health?: string };
      if (body.health === 'true') return;
      last = JSON.stringify(body);
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`etcd at ${url} not healthy after ${ms} ms: ${last}`);
}

/**
 * Start an etcd cluster of `size` members (1 or 3) on loopback: on free ports the kernel picks
 * (its ephemeral range), or, with `basePort`, member i on client port basePort+2i and peer port
 * basePort+2i+1 (a suite that owns a port range keeps etcd inside it).
 */
export async function startEtcd(size = 1, opts: { basePort?: number } = {}): Promise<EtcdCluster> {
  requireEtcd();
  const root = mkdtempSync(join(tmpdir(), 'podbay-etcd-'));
  const members: EtcdMember[] = [];
  const port = async (i: number, peer: number) => (opts.basePort ? opts.basePort + 2 * i + peer : freePort());
  for (let i = 0; i < size; i++) {
    members.push({ name: `m${i}`, clientUrl: `http://127.0.0.1:${await port(i, 0)}`, peerUrl: `http://127.0.0.1:${await port(i, 1)}`, dataDir: join(root, `m${i}`) });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  let state: 'new' | 'existing' = 'new';
  const launch = (m: EtcdMember) => {
    m.proc = spawn(
      'etcd',
      [
        '--name', m.name,
        '--data-dir', m.dataDir,
        '--listen-client-urls', m.clientUrl,
        '--advertise-client-urls', m.clientUrl,
        '--listen-peer-urls', m.peerUrl,
        '--initial-advertise-peer-urls', m.peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', state,
        '--initial-cluster-token', `podbay-test-${process.pid}`,
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--log-level', 'error',
        '--logger', 'zap',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    m.proc.stderr?.resume();
  };
  members.forEach(launch);
  await Promise.all(members.map((m) => waitHealthy(m.clientUrl)));
  state = 'existing';
  const stopOne = (m: EtcdMember) =>
    new Promise<void>((resolve) => {
      const p = m.proc;
      m.proc = undefined;
      if (!p || p.exitCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  return {
    members,
    endpoints: members.map((m) => m.clientUrl),
    kill: (i) => stopOne(members[i]),
    restart: async (i) => {
      launch(members[i]);
      await waitHealthy(members[i].clientUrl);
    },
    stop: async () => {
      await Promise.all(members.map(stopOne));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
