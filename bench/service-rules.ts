/**
 * The service proxy's rules for 1,000 Services with 1-3 endpoints each (a tenth of them
 * NodePorts): how many iptables rules and chains, how long and how much CPU one full sync takes
 * (building the rules in JS + one `iptables-restore --noflush` into the kernel), and one
 * incremental change (one endpoint added to one Service) done as kube-proxy's partial sync
 * (only the changed chains) and, for comparison, as a full rewrite. Printed as JSON.
 *
 * The kernel side runs in a scratch network namespace of its own (`ip netns add`), so the
 * host's tables are never touched; the namespace is deleted at the end.
 *
 *   node dist/bench/service-rules.js [--services 1000] [--runs 5]
 */
import { spawnSync } from 'node:child_process';
import { buildRules, restoreText, type EndpointInfo, type RulesInput, type ServiceInfo } from '../src/proxy/rules.js';
import { stats } from './stats.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SERVICES = arg('services', 1000);
const RUNS = arg('runs', 5);
const NETNS = `pbbench-rules-${process.pid}`;

function input(extra = false): RulesInput {
  const services: ServiceInfo[] = [];
  const endpoints = new Map<string, EndpointInfo[]>();
  for (let i = 0; i < SERVICES; i++) {
    const nodePort = i % 10 === 0;
    services.push({
      namespace: 'bench',
      name: `svc-${i}`,
      clusterIP: `10.43.${i >> 8}.${(i & 255) + 0}`,
      type: nodePort ? 'NodePort' : 'ClusterIP',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', ...(nodePort ? { nodePort: 30000 + (i % 2768) } : {}) }],
      sessionAffinity: 'None',
      affinityTimeoutSeconds: 10800,
      externalIPs: [],
      loadBalancerIPs: [],
    });
    const n = (i % 3) + 1 + (extra && i === 500 ? 1 : 0);
    endpoints.set(`bench/svc-${i}:http`, Array.from({ length: n }, (_, j) => ({ ip: `10.42.${(i * 3 + j) >> 8}.${(i * 3 + j) & 255}`, port: 8080 })));
  }
  return { services, endpoints, clusterCIDR: '10.42.0.0/16', serviceCIDR: '10.43.0.0/16', tag: '' };
}

/** one iptables-restore in the scratch namespace: wall ms and CPU ms (user + system) */
function restore(text: string): { ms: number; cpuMs: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '--', 'ip', 'netns', 'exec', NETNS, 'iptables-restore', '-w', '--noflush'], { input: text, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`iptables-restore: ${r.stderr}`);
  const [u, s] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { ms, cpuMs: (u! + s!) * 1000 };
}

function jsTime<T>(fn: () => T): { value: T; ms: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

function flushAll(): void {
  spawnSync('ip', ['netns', 'exec', NETNS, 'iptables', '-t', 'nat', '-F']);
  spawnSync('ip', ['netns', 'exec', NETNS, 'iptables', '-t', 'nat', '-X']);
  spawnSync('ip', ['netns', 'exec', NETNS, 'iptables', '-t', 'filter', '-F']);
  spawnSync('ip', ['netns', 'exec', NETNS, 'iptables', '-t', 'filter', '-X']);
}

function main(): void {
  if (spawnSync('ip', ['netns', 'add', NETNS]).status !== 0) throw new Error(`ip netns add ${NETNS} failed (run as root)`);
  try {
    const base = input();
    const more = input(true);
    const full = { buildMs: [] as number[], buildCpuMs: [] as number[], restoreMs: [] as number[], restoreCpuMs: [] as number[] };
    const partial = { buildMs: [] as number[], buildCpuMs: [] as number[], restoreMs: [] as number[], restoreCpuMs: [] as number[] };
    const rewrite = { restoreMs: [] as number[], restoreCpuMs: [] as number[] };
    let sizes = { full: 0, partial: 0, rules: { nat: 0, filter: 0 }, chains: { nat: 0, filter: 0 } };
    for (let run = 0; run < RUNS; run++) {
      flushAll();
      const b = jsTime(() => buildRules(base));
      const r = restore(b.value.text);
      full.buildMs.push(b.ms);
      full.buildCpuMs.push(b.cpuMs);
      full.restoreMs.push(r.ms);
      full.restoreCpuMs.push(r.cpuMs);
      // one endpoint added to one Service: build again, write only what changed
      const p = jsTime(() => {
        const next = buildRules(more);
        return { next, text: restoreText(next.tables, b.value.tables, false) };
      });
      const pr = restore(p.value.text);
      partial.buildMs.push(p.ms);
      partial.buildCpuMs.push(p.cpuMs);
      partial.restoreMs.push(pr.ms);
      partial.restoreCpuMs.push(pr.cpuMs);
      // the same change as a full rewrite (what every sync did before partial syncs)
      const fr = restore(buildRules(more).text);
      rewrite.restoreMs.push(fr.ms);
      rewrite.restoreCpuMs.push(fr.cpuMs);
      const count = (t: Map<string, string[]>) => [...t.values()].reduce((n, l) => n + l.length, 0);
      sizes = {
        full: Buffer.byteLength(b.value.text),
        partial: Buffer.byteLength(p.value.text),
        rules: { nat: count(b.value.tables.nat), filter: count(b.value.tables.filter) },
        chains: { nat: b.value.tables.nat.size, filter: b.value.tables.filter.size },
      };
    }
    const kernelRules = spawnSync('ip', ['netns', 'exec', NETNS, 'iptables-save'], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout.split('\n').filter((l) => l.startsWith('-A ')).length;
    console.log(
      JSON.stringify(
        {
          services: SERVICES,
          endpoints: [...base.endpoints.values()].reduce((n, l) => n + l.length, 0),
          runs: RUNS,
          rules: sizes.rules,
          chains: sizes.chains,
          rulesInKernelAfterRuns: kernelRules,
          fullSync: { restoreInputBytes: sizes.full, buildMs: stats(full.buildMs), buildCpuMs: stats(full.buildCpuMs), restoreMs: stats(full.restoreMs), restoreCpuMs: stats(full.restoreCpuMs) },
          oneEndpointAdded: {
            partial: { restoreInputBytes: sizes.partial, buildMs: stats(partial.buildMs), buildCpuMs: stats(partial.buildCpuMs), restoreMs: stats(partial.restoreMs), restoreCpuMs: stats(partial.restoreCpuMs) },
            asFullRewrite: { restoreInputBytes: sizes.full, restoreMs: stats(rewrite.restoreMs), restoreCpuMs: stats(rewrite.restoreCpuMs) },
          },
        },
        null,
        2,
      ),
    );
  } finally {
    spawnSync('ip', ['netns', 'del', NETNS]);
  }
}

main();
