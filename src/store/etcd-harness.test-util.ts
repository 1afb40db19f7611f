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

/**
 * `n` distinct loopback ports the kernel picks: every listener stays open until all are chosen,
 * so one cluster never gets the same port twice.
 */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc?: ChildProcess;
  /** the tail of its stderr (kept to 4 KB) */
  stderr?: string;
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

/** The last few KB of a member's stderr, for the error when it does not come up. */
function stderrTail(m: EtcdMember): string {
  return (m.stderr ?? '').trim().split('\n').slice(-5).join('\n');
}

/** Wait until the member answers /health true; fail at once if its process exits first. */
async function waitHealthy(m: EtcdMember, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    if (m.proc && (m.proc.exitCode !== null || m.proc.signalCode !== null)) {
      throw new Error(`etcd at ${m.clientUrl} exited (${m.proc.signalCode ?? `code ${m.proc.exitCode}`}) before it was healthy: ${stderrTail(m) || 'no stderr'}`);
    }
    try {
      const r = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
      const body = (await r.json()) as { health?: string };
      if (body.health === 'true') return;
      last = JSON.stringify(body);
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`etcd at ${m.clientUrl} not healthy after ${ms} ms: ${last}; its stderr: ${stderrTail(m) || 'none'}`);
}

/**
 * Start an etcd cluster of `size` members (1 or 3) on loopback: on free ports the kernel picks
 * (its ephemeral range), or, with `basePort`, member i on client port basePort+2i and peer port
 * basePort+2i+1 (a suite that owns a port range keeps etcd inside it).
 *
 * A port the kernel picked is free when picked, but another process's outgoing connection can
 * take it before etcd binds it; a cluster that does not come up on picked ports is started again
 * on new ones (three tries), and the error names what etcd printed.
 */
export async function startEtcd(size = 1, opts: { basePort?: number } = {}): Promise<EtcdCluster> {
  requireEtcd();
  const root = mkdtempSync(join(tmpdir(), 'podbay-etcd-'));
  const tries = opts.basePort ? 1 : 3;
  let members: EtcdMember[] = [];
  let state: 'new' | 'existing' = 'new';
  let initialCluster = '';
  const launch = (m: EtcdMember, token: string) => {
    m.stderr = '';
    const p = spawn(
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
        '--initial-cluster-token', token,
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        '--log-level', 'error',
        '--logger', 'zap',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    m.proc = p;
    p.stderr?.setEncoding('utf8');
    p.stderr?.on('data', (d: string) => {
      m.stderr = ((m.stderr ?? '') + d).slice(-4096);
    });
  };
  const stopOne = (m: EtcdMember) =>
    new Promise<void>((resolve) => {
      const p = m.proc;
      m.proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  let token = '';
  for (let attempt = 1; ; attempt++) {
    const ports = opts.basePort
      ? Array.from({ length: 2 * size }, (_, k) => opts.basePort! + k)
      : await freePorts(2 * size);
    members = Array.from({ length: size }, (_, i) => ({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
      peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
      dataDir: join(root, `try${attempt}`, `m${i}`),
    }));
    initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    token = `podbay-test-${process.pid}-${attempt}`;
    members.forEach((m) => launch(m, token));
    try {
      await Promise.all(members.map((m) => waitHealthy(m)));
      break;
    } catch (e) {
      await Promise.all(members.map(stopOne));
      if (attempt >= tries) {
        rmSync(root, { recursive: true, force: true });
        throw e;
      }
    }
  }
  state = 'existing';
  return {
    members,
    endpoints: members.map((m) => m.clientUrl),
    kill: (i) => stopOne(members[i]),
    restart: async (i) => {
      launch(members[i], token);
      await waitHealthy(members[i]);
    },
    stop: async () => {
      await Promise.all(members.map(stopOne));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
