/**
 * Pod start-up benchmark: a two-container pod (busybox httpd with a hostPort + sleep), created
 * through the API, until a watch reports it Ready AND curl on the hostPort answers; then
 * deleted with grace 0 until every host resource is gone (no runc container, no netns pin, no
 * DNAT rule for the port). N cycles after one warm-up.
 *
 * Beside podbay, in the same run, it runs the bare-tools floor (../shared/bench/floor/floor.sh)
 * and, when installed, `podman kube play` (../shared/bench/peers/podman-bench.sh) and docker's
 * pause-container recipe with `docker rm -f` (../shared/bench/peers/docker-bench.sh, which starts
 * and stops its own dockerd and undoes what it added), and prints the ratios. Usage (root):
 *   node dist/bench/pod-startup.js [--n 10] [--no-peers] [--via kubectl|api]
 * With PODBAY_TRACE=1 it marks on stderr when each pod's create was sent, when the watch saw it
 * Ready and when the hostPort first answered, to read beside the server's trace
 * (PODBAY_TRACE=1 PODBAY_TRACE_EXEC=1 BENCH_SERVER_LOG=FILE).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { PodbayServer, ROOT, keepRunNetnsAsFound, kubectlBinaries } from '../test/e2e/harness.js';
import { benchApi, keepPeerLeftoversAsFound, loadBenchImage } from './bench-server.js';
import { stats } from './stats.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('n', '10'));
const VIA = arg('via', 'api');
const PEERS = !process.argv.includes('--no-peers');
const PORT = 19480;
/** PODBAY_TRACE=1: the bench's own marks (request sent, Ready seen, first answer), beside the server's trace */
const mark = (name: string, what: string) => {
  if (process.env.PODBAY_TRACE === '1') process.stderr.write(`${new Date().toISOString()} bench ${name}: ${what}\n`);
};
const BRIDGE = 'pbbench0';
const CIDR = '10.204.0.0/24';

function get(url: string): Promise<string | undefined> {
  return new Promise((res) => {
    const r = http.get(url, { timeout: 1000 }, (resp) => {
      let b = '';
      resp.on('data', (d) => (b += d));
      resp.on('end', () => res(resp.statusCode === 200 ? b : undefined));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => res(undefined));
  });
}

const POD = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: {
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: 0,
    containers: [
      { name: 'web', image: 'busybox:bench', imagePullPolicy: 'Never', command: ['/bin/httpd', '-f', '-p', '80', '-h', '/www'], ports: [{ containerPort: 80, hostPort: PORT }] },
      { name: 'sidecar', image: 'busybox:bench', imagePullPolicy: 'Never', command: ['/bin/sleep', '3600'] },
    ],
  },
});

async function podbayRun() {
  const work = mkdtempSync(join(tmpdir(), 'podbay-bench-'));
  const runDir = join(work, 'run');
  const s = await PodbayServer.start(['--run-dir', runDir, '--cni-bridge', BRIDGE, '--pod-cidr', CIDR]);
  const api = benchApi(s);
  try {
    await loadBenchImage(work, s);
    const kubectl = kubectlBinaries().at(-1)!.path;

    const hostClean = () => {
      const runc = spawnSync('runc', ['--root', join(runDir, 'runc'), 'list', '-q'], { encoding: 'utf8' }).stdout.trim();
      const pins = existsSync(join(runDir, 'net/netns')) ? readdirSync(join(runDir, 'net/netns')) : [];
      const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
      return runc === '' && pins.length === 0 && !nat.includes(`--dport ${PORT}`);
    };

    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i <= N; i++) {
      const name = `bench-${i}`;
      // a watch from now on, to see Ready as a client would
      const list = await api('GET', '/api/v1/namespaces/default/pods');
      let readySeen = false;
      const w = https.request(
        { host: '127.0.0.1', port: s.port, path: `/api/v1/namespaces/default/pods?watch=1&resourceVersion=${list.json.metadata.resourceVersion}`, ca: s.caPem, headers: { authorization: `Bearer ${s.token}` } },
        (resp) => {
          let buf = '';
          resp.on('data', (d) => {
            buf += d;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const ev = JSON.parse(buf.slice(0, nl));
              buf = buf.slice(nl + 1);
              const ready = ev.object?.status?.conditions?.find((c: any) => c.type === 'Ready');
              if (ev.object?.metadata?.name === name && ready?.status === 'True' && !readySeen) {
                readySeen = true;
                mark(name, 'Ready seen on the watch');
              }
            }
          });
          resp.on('error', () => {});
        },
      );
      w.on('error', () => {});
      w.end();
      await new Promise((r) => setTimeout(r, 50));

      const t0 = performance.now();
      mark(name, `create sent (${VIA})`);
      if (VIA === 'kubectl') {
        const r = spawnSync(kubectl, ['--kubeconfig', s.kubeconfig, 'apply', '-f', '-'], { input: JSON.stringify(POD(name)), encoding: 'utf8' });
        if (r.status !== 0) throw new Error(r.stderr);
      } else {
        const r = await api('POST', '/api/v1/namespaces/default/pods', POD(name));
        if (r.status !== 201) throw new Error(JSON.stringify(r.json));
      }
      for (;;) {
        if (readySeen && (await get(`http://127.0.0.1:${PORT}/`))?.includes('hello')) break;
        if (performance.now() - t0 > 60_000) throw new Error(`pod ${name} not serving after 60 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const t1 = performance.now();
      mark(name, 'serving');
      w.destroy();
      await api('DELETE', `/api/v1/namespaces/default/pods/${name}`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 });
      while (!hostClean()) {
        if (performance.now() - t1 > 60_000) throw new Error('teardown did not finish in 60 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      const t2 = performance.now();
      if (i > 0) {
        up.push(t1 - t0);
        down.push(t2 - t1);
      }
    }
    return { start_to_serving_ms: stats(up), teardown_ms: stats(down), n: up.length, via: VIA };
  } finally {
    api.close();
    // PODBAY_TRACE=1 PODBAY_TRACE_EXEC=1 BENCH_SERVER_LOG=FILE: the server's trace of the run
    if (process.env.BENCH_SERVER_LOG) writeFileSync(process.env.BENCH_SERVER_LOG, s.log);
    await s.teardown(); // stops the server and removes its data dir
    rmSync(work, { recursive: true, force: true });
  }
}

function runScript(cmd: string, args: string[], env: Record<string, string>) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 15 * 60_000 });
  return r;
}

const shared = resolve(ROOT, '../shared/bench');
const result: Record<string, unknown> = { bench: 'pod-startup', n: N };
// `ip netns add` (the floor script, podman) bind-mounts /run/netns onto itself and never undoes
// it: note whether it was there, to leave the host as it was found.
const restoreRunNetns = keepRunNetnsAsFound();
const restorePeerLeftovers = keepPeerLeftoversAsFound();
result.podbay = await podbayRun();

if (PEERS && existsSync(join(shared, 'floor/floor.sh'))) {
  const r = runScript('bash', [join(shared, 'floor/floor.sh')], { N: String(N), PORT: String(PORT + 1) });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    result.floor = JSON.parse(line);
  } catch {
    result.floor = { error: (r.stderr || r.stdout).slice(-500) };
  }
}
/**
 * A peer's bench script (../shared/bench/peers) with a scratch dir of its own, between
 * cleanup.sh's snapshot and restore; its TSV's serve and teardown columns as stats, or the
 * script's error (also when it failed after writing its TSV, with `mustSucceed`).
 */
function peerRun(args: string[], env: Record<string, string>, tsvName: string, opts: { mustSucceed?: boolean; extra?: (r: SpawnSyncReturns<string>) => Record<string, unknown> } = {}) {
  const work = mkdtempSync(join(tmpdir(), 'podbay-peers-'));
  const clean = join(shared, 'peers/cleanup.sh');
  try {
    runScript('bash', [clean, 'snapshot'], { PEERS_WORK: work });
    const r = runScript('bash', args, { ...env, N: String(N), PEERS_WORK: work });
    runScript('bash', [clean, 'restore'], { PEERS_WORK: work });
    const tsv = join(work, tsvName);
    if (!existsSync(tsv) || (opts.mustSucceed && r.status !== 0)) return { error: (r.stderr || r.stdout).slice(-800) };
    const [head, ...lines] = readFileSync(tsv, 'utf8').trim().split('\n');
    const cols = head!.split('\t');
    const rows = lines.map((l) => l.split('\t').map(Number));
    const col = (name: string) => rows.map((row) => row[cols.indexOf(name)]!);
    return { start_to_serving_ms: stats(col('serve_ms')), teardown_ms: stats(col('down_ms')), n: rows.length, ...opts.extra?.(r) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (PEERS && spawnSync('bash', ['-c', 'command -v podman']).status === 0 && existsSync(join(shared, 'peers/podman-bench.sh'))) {
  result.podman_kube_play = peerRun([join(shared, 'peers/podman-bench.sh'), 'kube'], { PORT: String(PORT + 2), NETWORK_BACKEND: 'cni' }, 'podman-kube-cni.tsv');
}
if (PEERS && existsSync('/usr/sbin/dockerd') && existsSync('/usr/bin/docker') && existsSync(join(shared, 'peers/docker-bench.sh'))) {
  result.docker_pause_recipe = peerRun([join(shared, 'peers/docker-bench.sh')], { PORT: String(PORT + 3) }, 'docker-pause.tsv', {
    mustSucceed: true,
    extra: (r) => ({ version: r.stdout.match(/docker: server (\S+)/)?.[1] }),
  });
} else if (PEERS) result.docker_pause_recipe = { error: 'docker is not installed (apt-get install -y --no-install-recommends docker.io)' };

restoreRunNetns();
restorePeerLeftovers();

const pb = (result.podbay as any).start_to_serving_ms.median;
const ratios: Record<string, number> = {};
const floor = (result.floor as any)?.floor_start_to_serving_ms?.median;
if (floor) ratios.podbay_over_floor = Math.round((pb / floor) * 100) / 100;
const pod = (result.podman_kube_play as any)?.start_to_serving_ms?.median;
if (pod) ratios.podbay_over_podman = Math.round((pb / pod) * 100) / 100;
const dock = (result.docker_pause_recipe as any)?.start_to_serving_ms?.median;
if (dock) ratios.podbay_over_docker = Math.round((pb / dock) * 100) / 100;
const pbDown = (result.podbay as any).teardown_ms?.median;
const dockDown = (result.docker_pause_recipe as any)?.teardown_ms?.median;
if (pbDown && dockDown) ratios.teardown_over_docker_rm_f = Math.round((pbDown / dockDown) * 100) / 100;
result.ratios = ratios;
console.log(JSON.stringify(result, null, 2));
