/**
 * The pod soak (issue 7), shared by the CI variant (test/e2e/pod-soak.test.ts) and the full run
 * (bench/pod-soak.ts): create -> Ready -> delete cycles of a two-container pod with a hostPort,
 * and kill -9 of podbay during a burst of pods. Everything is checked from outside podbay, as an
 * operator would: the API, runc's state, /proc, iptables, the run dir and the cgroup tree.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { podUidOfCgroup } from '../../src/runtime/cgroups.js';
import { httpGet, processesMentioning, cgroupMounts, type PodSuite } from './harness.js';

export const SOAK_IMAGE = 'busybox:1.36';

/** busybox httpd answering with the pod's name on `hostPort` (127.0.0.1 via podbay's hostPort DNAT) + a sleep container */
export function soakPod(name: string, hostPort: number): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { soak: 'yes' } },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'web',
          image: SOAK_IMAGE,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', `mkdir -p /tmp/www && echo ${name} > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www`],
          ports: [{ containerPort: 80, hostPort }],
        },
        { name: 'sleep', image: SOAK_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] },
      ],
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The engine's footprint: resident memory (VmRSS) and open file descriptors. */
export function engineFigures(pid: number): { rssKiB: number; fds: number } {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for PID ${pid}`);
  return { rssKiB: Number(m[1]), fds: readdirSync(`/proc/${pid}/fd`).length };
}

function ready(pod: any): boolean {
  return pod?.status?.phase === 'Running' && pod.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
}

async function podJson(s: PodSuite, name: string): Promise<any> {
  const r = await s.server.request('GET', `/api/v1/namespaces/default/pods/${name}`);
  return r.status === 200 ? r.json : undefined;
}

/** until the pod is Ready and its hostPort answers with its name; ms taken */
async function untilServing(s: PodSuite, name: string, port: number, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    const p = await podJson(s, name);
    if (ready(p)) {
      try {
        const r = await httpGet(`http://127.0.0.1:${port}/`, 1000);
        if (r.status === 200 && r.body.trim() === name) return;
        last = `hostPort ${port} answered ${r.status} ${r.body.trim()}`;
      } catch (e) {
        last = `hostPort ${port}: ${(e as Error).message}`;
      }
    } else last = `phase ${p?.status?.phase}, ${JSON.stringify(p?.status?.containerStatuses?.map((c: any) => c.state))}`;
    if (Date.now() - t0 > timeoutMs) throw new Error(`pod ${name} not serving on ${port} after ${timeoutMs} ms: ${last}`);
    await sleep(100);
  }
}

async function deleteAndWait(s: PodSuite, name: string, timeoutMs: number): Promise<void> {
  const r = await s.server.request('DELETE', `/api/v1/namespaces/default/pods/${name}`, { body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 }) });
  if (r.status !== 200 && r.status !== 202) throw new Error(`delete ${name}: ${r.status} ${r.body}`);
  const t0 = Date.now();
  while ((await s.server.request('GET', `/api/v1/namespaces/default/pods/${name}`)).status !== 404) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`pod ${name} still there ${timeoutMs} ms after its delete`);
    await sleep(100);
  }
}

async function create(s: PodSuite, name: string, port: number): Promise<void> {
  const r = await s.server.request('POST', '/api/v1/namespaces/default/pods', { body: JSON.stringify(soakPod(name, port)) });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.body}`);
}

/** every path under `d` (relative), tolerating entries that go away while it walks (cgroups do) */
function ls(d: string, prefix = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(join(d, prefix));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const rel = prefix ? `${prefix}/${n}` : n;
    out.push(rel);
    try {
      if (lstatSync(join(d, rel)).isDirectory()) out.push(...ls(d, rel));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * What pods left behind on the host while the server still runs: an empty list when every pod
 * is gone. netns pins, veths on the bridge, DNAT rules, mounts, IPAM leases, conmon/runc
 * processes, pod cgroups under the suite's cgroup root, files under sandboxes/ and containers/.
 */
export function podLeftovers(s: PodSuite): string[] {
  const out: string[] = [];
  const runc = spawnSync('runc', ['--root', join(s.runDir, 'runc'), 'list', '-q'], { encoding: 'utf8' }).stdout.trim();
  if (runc) out.push(`runc containers: ${runc.split('\n').length}`);
  const pins = ls(join(s.runDir, 'net', 'netns'));
  if (pins.length) out.push(`netns pins: ${pins.join(' ')}`);
  const veths = spawnSync('ip', ['-o', 'link', 'show', 'master', s.bridge], { encoding: 'utf8' }).stdout.trim();
  if (veths) out.push(`veths on ${s.bridge}: ${veths.split('\n').length}`);
  const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout.split('\n');
  // per-pod rules name a pod's address or a hostPort; the server's own (the bridge's masquerade
  // for the pod CIDR, the kubernetes and kube-dns Services answered at the gateway .1) stay
  const gateway = new RegExp(`${s.subnetPrefix.replace(/\./g, '\\.')}1(?![0-9])`, 'g');
  const podAddress = (l: string) => l.split(`${s.subnetPrefix}0/`).join('').replace(gateway, '').includes(s.subnetPrefix);
  const dnat = nat.filter((l) => l.startsWith('-A') && (podAddress(l) || s.hostPorts.test(/--dport (\d+)/.exec(l)?.[1] ?? '')));
  if (dnat.length) out.push(`nat rules: ${dnat.length} (${dnat[0]})`);
  // the run dir's own tmpfs (src/sys/run-dir.ts) is the server's while it runs, not a pod's
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(s.work) && l.split(' ')[4] !== s.runDir);
  if (mounts.length) out.push(`mounts: ${mounts.length} (${mounts[0]})`);
  const leases = ls(join(s.runDir, 'net', 'ipam')).filter((f) => f.includes(s.subnetPrefix));
  if (leases.length) out.push(`IPAM leases: ${leases.join(' ')}`);
  // the server's own process mentions the work dir too: only conmon/runc/containers count
  const procs = processesMentioning(s.work).filter((p) => !/podbay|node /.test(p));
  if (procs.length) out.push(`processes: ${procs.length} (${procs[0]})`);
  for (const m of cgroupMounts()) {
    const pods = ls(join(m, s.cgroupRoot)).filter((f) => podUidOfCgroup(f.split('/').at(-1)!) !== undefined);
    if (pods.length) out.push(`pod cgroups under ${join(m, s.cgroupRoot)}: ${pods.length} (${pods[0]})`);
  }
  for (const d of ['sandboxes', 'containers']) {
    const files = ls(join(s.runDir, d));
    if (files.length) out.push(`${d}/: ${files.length} entries (${files[0]})`);
  }
  return out;
}

/** wait until podLeftovers is empty (teardown is asynchronous); the last list if it never is */
export async function settle(s: PodSuite, timeoutMs = 60_000): Promise<string[]> {
  const t0 = Date.now();
  for (;;) {
    const left = podLeftovers(s);
    if (!left.length || Date.now() - t0 > timeoutMs) return left;
    await sleep(250);
  }
}

export interface CycleFigures {
  cycles: number;
  parallel: number;
  warmupCycles: number;
  seconds: number;
  cycleMs: { median: number; p95: number; max: number };
  /** the engine's footprint every 10 rounds, with the cycles done by then */
  trace: { cycles: number; rssKiB: number; fds: number }[];
  engine: { afterWarmup: { rssKiB: number; fds: number }; end: { rssKiB: number; fds: number }; rssChangePct: number; fdsChangePct: number };
  leftovers: string[];
}

function pct(a: number, b: number): number {
  return Math.round(((b - a) / a) * 1000) / 10;
}

/**
 * `cycles` create -> Ready (and serving on its hostPort) -> delete cycles, `parallel` pods at a
 * time (each on its own hostPort from `ports`). The engine's RSS and fds are taken once the
 * first `warmup` rounds are done and the host has settled (first use loads code and fills
 * caches), and again at the end.
 */
export async function podCycles(s: PodSuite, o: { cycles: number; parallel: number; ports: number[]; warmupRounds?: number; log?: (m: string) => void }): Promise<CycleFigures> {
  const rounds = Math.ceil(o.cycles / o.parallel);
  const warmupRounds = o.warmupRounds ?? 2;
  const pid = s.server.proc!.pid!;
  const durations: number[] = [];
  let afterWarmup: { rssKiB: number; fds: number } | undefined;
  const trace: CycleFigures['trace'] = [];
  const t0 = Date.now();
  let n = 0;
  for (let r = 0; r < rounds; r++) {
    const batch = Array.from({ length: Math.min(o.parallel, o.cycles - n) }, (_, i) => ({ name: `soak-${n + i}`, port: o.ports[i]! }));
    n += batch.length;
    await Promise.all(
      batch.map(async ({ name, port }) => {
        const c0 = Date.now();
        await create(s, name, port);
        await untilServing(s, name, port, 60_000);
        await deleteAndWait(s, name, 60_000);
        durations.push(Date.now() - c0);
      }),
    );
    if (r + 1 === warmupRounds) {
      const left = await settle(s);
      if (left.length) throw new Error(`leftovers after warm-up: ${left.join('; ')}`);
      afterWarmup = engineFigures(pid);
      o.log?.(`after ${n} warm-up cycles: ${JSON.stringify(afterWarmup)}`);
    }
    if ((r + 1) % 10 === 0) {
      trace.push({ cycles: n, ...engineFigures(pid) });
      o.log?.(`${n} cycles, ${Math.round((Date.now() - t0) / 1000)} s, ${JSON.stringify(trace.at(-1))}`);
    }
  }
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  const leftovers = await settle(s);
  // let the engine finish what teardown queued (exit files, watch fan-out) before measuring
  await sleep(2000);
  const end = engineFigures(pid);
  afterWarmup ??= end;
  const sorted = [...durations].sort((a, b) => a - b);
  return {
    cycles: n,
    parallel: o.parallel,
    warmupCycles: Math.min(n, warmupRounds * o.parallel),
    seconds,
    trace,
    cycleMs: { median: sorted[Math.floor(sorted.length / 2)]!, p95: sorted[Math.floor(sorted.length * 0.95)]!, max: sorted.at(-1)! },
    engine: { afterWarmup, end, rssChangePct: pct(afterWarmup.rssKiB, end.rssKiB), fdsChangePct: pct(afterWarmup.fds, end.fds) },
    leftovers,
  };
}

export interface KillRound {
  pods: number;
  /** runc containers alive when podbay was killed */
  containersAtKill: number;
  readyAtKill: number;
  /** restart -> every pod Ready and serving */
  convergeSeconds: number;
  problems: string[];
}

/** the pod-owned state on the host after a restart: runc containers, sandboxes, leases */
function checkConverged(s: PodSuite, pods: any[]): string[] {
  const problems: string[] = [];
  const uids = new Map<string, string>(pods.map((p) => [p.metadata.uid, p.metadata.name]));
  const known = new Set<string>();
  for (const p of pods) for (const c of p.status?.containerStatuses ?? []) if (c.containerID) known.add(String(c.containerID).replace(/^.*:\/\//, ''));
  const sbDir = join(s.runDir, 'sandboxes');
  const perPod = new Map<string, string[]>();
  for (const id of existsSync(sbDir) ? readdirSync(sbDir) : []) {
    let rec: any;
    try {
      rec = JSON.parse(readFileSync(join(sbDir, id, 'sandbox.json'), 'utf8'));
    } catch {
      problems.push(`sandbox ${id.slice(0, 12)} has no readable sandbox.json`);
      continue;
    }
    const name = uids.get(rec.config.podUid);
    if (!name) {
      problems.push(`sandbox ${id.slice(0, 12)} (${rec.state}) belongs to no pod (uid ${rec.config.podUid})`);
      continue;
    }
    perPod.set(name, [...(perPod.get(name) ?? []), `${id.slice(0, 12)}:${rec.state}`]);
    if (rec.state === 'ready') known.add(id);
  }
  // a container with a record in a live pod's sandbox is the pod's (a previous, exited one is
  // kept, as the kubelet keeps it for `kubectl logs --previous`); anything else runc has is an orphan
  const ctDir = join(s.runDir, 'containers');
  const records = new Map<string, { sandboxId: string; state: string; name: string }>();
  for (const id of existsSync(ctDir) ? readdirSync(ctDir) : []) {
    try {
      const rec = JSON.parse(readFileSync(join(ctDir, id, 'container.json'), 'utf8'));
      records.set(id, { sandboxId: rec.sandboxId, state: rec.state, name: rec.config?.name });
    } catch {
      problems.push(`container dir ${id.slice(0, 12)} has no readable container.json`);
    }
  }
  for (const [id, r] of records) if (known.has(r.sandboxId)) known.add(id);
  for (const [name, sbs] of perPod) if (sbs.length > 1) problems.push(`pod ${name} has ${sbs.length} sandboxes: ${sbs.join(' ')}`);
  for (const p of pods) if (!perPod.has(p.metadata.name)) problems.push(`pod ${p.metadata.name} has no sandbox`);
  const runc = JSON.parse(spawnSync('runc', ['--root', join(s.runDir, 'runc'), 'list', '--format', 'json'], { encoding: 'utf8' }).stdout || '[]') as { id: string; status: string }[];
  for (const c of runc) {
    if (known.has(c.id)) continue;
    const r = records.get(c.id);
    problems.push(`orphan runc container ${c.id.slice(0, 12)} (${c.status}; ${r ? `record: ${r.name}, ${r.state}, sandbox ${r.sandboxId.slice(0, 12)}` : 'no record'})`);
  }
  const running = runc.filter((c) => c.status === 'running').length;
  if (running !== pods.length * 3) problems.push(`${running} running runc containers for ${pods.length} pods (want ${pods.length * 3}: pause + 2)`);
  const ipam = join(s.runDir, 'net', 'ipam');
  const leases = ls(ipam).filter((f) => f.split('/').at(-1)!.startsWith(s.subnetPrefix));
  if (leases.length !== pods.length) problems.push(`${leases.length} IPAM leases for ${pods.length} pods`);
  const ips = new Set(pods.map((p) => p.status?.podIP));
  if (ips.size !== pods.length) problems.push(`${ips.size} distinct pod IPs for ${pods.length} pods`);
  return problems;
}

/**
 * Create `pods` pods at once (hostPorts from `ports`), kill -9 podbay once `killAtContainers`
 * runc containers exist, start it again on the same data and run dirs, and wait until every
 * pod is Ready and serving; then check runc, sandboxes and leases against the pods, delete
 * them all and check the host is clean again.
 */
export async function killDuringBurst(s: PodSuite, o: { pods: number; ports: number[]; killAtContainers: number; round: number; log?: (m: string) => void }): Promise<KillRound> {
  const names = Array.from({ length: o.pods }, (_, i) => `burst-${o.round}-${i}`);
  const creates = Promise.all(names.map((n, i) => create(s, n, o.ports[i]!)));
  await creates;
  const runcCount = () => (spawnSync('runc', ['--root', join(s.runDir, 'runc'), 'list', '-q'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).length);
  const t0 = Date.now();
  while (runcCount() < o.killAtContainers && Date.now() - t0 < 60_000) await sleep(50);
  const readyAtKill = (await s.server.request('GET', '/api/v1/namespaces/default/pods')).json.items.filter(ready).length;
  const containersAtKill = runcCount();
  const proc = s.server.proc!;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
  o.log?.(`round ${o.round}: killed podbay with ${containersAtKill} runc containers and ${readyAtKill} pods Ready`);
  const r0 = Date.now();
  await s.server.spawn(s.serverArgs());
  await Promise.all(names.map((n, i) => untilServing(s, n, o.ports[i]!, 180_000)));
  const convergeSeconds = Math.round((Date.now() - r0) / 100) / 10;
  // a moment for a late duplicate (a sandbox made twice) to show up before counting
  await sleep(2000);
  const pods = (await s.server.request('GET', '/api/v1/namespaces/default/pods')).json.items;
  const problems = checkConverged(s, pods);
  if (pods.length !== o.pods) problems.push(`${pods.length} pods listed, want ${o.pods}`);
  await Promise.all(names.map((n) => deleteAndWait(s, n, 120_000)));
  const left = await settle(s, 120_000);
  problems.push(...left.map((l) => `after deleting the burst: ${l}`));
  return { pods: o.pods, containersAtKill, readyAtKill, convergeSeconds, problems };
}
