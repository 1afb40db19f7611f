/**
 * The full pod soak (issue 7); test/e2e/pod-soak.test.ts runs the short CI variant (100 cycles,
 * one kill round). Against a real `podbay server` (runc, conmon, CNI, iptables), as root:
 *   - N create -> Ready -> delete cycles of a two-container pod with a hostPort (busybox httpd
 *     answering on 127.0.0.1:hostPort + a sleep container), `--parallel` pods at a time; then
 *     no netns, veth, DNAT rule, mount, IPAM lease, conmon, pod cgroup or sandbox/container
 *     file may be left, and the engine's RSS and open fds are compared with their values after
 *     the warm-up cycles;
 *   - `--kill-rounds` times: kill -9 of podbay during a burst of `--burst` pods, restart on the
 *     same dirs; every pod must come up Ready and serving, with no orphan runc container, one
 *     sandbox per pod and one IPAM lease per pod, and nothing left once they are deleted.
 * Prints one JSON object; exits 1 if anything was wrong.
 * Usage: node dist/bench/pod-soak.js [--n 1000] [--parallel 5] [--kill-rounds 5] [--burst 50]
 * Owns the pod-soak suite's world: bridge pbsoak0, 10.222.0.0/24, hostPorts 19920-19979.
 */
import { PodSuite, kubectlBinaries } from '../test/e2e/harness.js';
import { killDuringBurst, podCycles, podLeftovers, settle, type KillRound } from '../test/e2e/pod-soak-driver.js';

function flag(name: string, dflt: string): number {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt);
}

const n = flag('n', '1000');
const parallel = flag('parallel', '5');
const killRounds = flag('kill-rounds', '5');
const burst = flag('burst', '50');
if (parallel > 10 || burst > 50) throw new Error('at most --parallel 10 and --burst 50: the hostPorts 19920-19979 are this world');
const log = (m: string) => console.error(`${new Date().toISOString()} ${m}`);

const suite = new PodSuite('pbsoak0', '10.222.0.0/24', /^199[2-7]\d$/);
const kubectl = kubectlBinaries().at(-1)!.path;
await suite.start('podbay-bench-soak-');
let failed = true;
try {
  await suite.loadBusybox();
  const cycles = await podCycles(suite, { cycles: n, parallel, ports: Array.from({ length: parallel }, (_, i) => 19920 + i), warmupRounds: 10, log });
  const kills: KillRound[] = [];
  for (let round = 1; round <= killRounds; round++) {
    kills.push(await killDuringBurst(suite, { pods: burst, ports: Array.from({ length: burst }, (_, i) => 19930 + i), killAtContainers: burst, round, log }));
    log(`kill round ${round}: ${JSON.stringify(kills.at(-1))}`);
  }
  const problems = [
    ...cycles.leftovers.map((l) => `after the cycles: ${l}`),
    ...(Math.abs(cycles.engine.rssChangePct) > 10 ? [`RSS changed by ${cycles.engine.rssChangePct} % after warm-up`] : []),
    ...(Math.abs(cycles.engine.fdsChangePct) > 10 ? [`open fds changed by ${cycles.engine.fdsChangePct} % after warm-up`] : []),
    ...kills.flatMap((k, i) => k.problems.map((p) => `kill round ${i + 1}: ${p}`)),
    ...podLeftovers(suite).map((l) => `at the end: ${l}`),
  ];
  failed = problems.length > 0;
  console.log(JSON.stringify({ bench: 'pod-soak', cycles, killRounds: kills, problems }, null, 1));
} finally {
  await settle(suite, 120_000);
  await suite.finish(kubectl);
}
process.exitCode = failed ? 1 : 0;
