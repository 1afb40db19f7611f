/**
 * Footprint: the engine's RSS idle and with N running pods (one busybox `sleep` container
 * each), the engine RSS per pod, and the per-pod helper processes podbay leaves running
 * (conmon, one per container, pause included) with their RSS. Runs in its own world (bridge
 * pbperf0, pod CIDR 10.250.0.0/24) and leaves the host as it found it (PodSuite.finish).
 * Usage (root): node dist/bench/footprint.js [--n 20] [--settle 30]   (prints JSON)
 *
 * "Idle" is a fresh server (first start: it issued its certificates, which loads @peculiar/x509)
 * 3 s after `podbay image load` returned: V8's young generation is still the size the start
 * grew it to. `engine_rss_mb_idle_settled` is the same server --settle seconds later (default
 * 30, 0 to skip), once V8's memory reducer has usually given that back (it runs 8 s or more
 * after the last full collection, when the process allocates little). The per-pod figure is
 * taken against the 3 s one (the figure with pods is read 3 s after they are Ready).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { PodSuite, kubectlBinaries } from '../test/e2e/harness.js';
import { benchApi, loadBenchImage } from './bench-server.js';
import { pssMb, rssMb, spawnersOf } from './proc.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('n', '20'));
const SETTLE_S = Number(arg('settle', '30'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** the processes whose command line is `name ...` and mentions `needle` */
function processes(name: string, needle: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0].endsWith(name) && argv.some((a) => a.includes(needle))) out.push(Number(pid));
    } catch {
      /* exited */
    }
  }
  return out;
}

async function main() {
  const suite = new PodSuite('pbperf0', '10.250.0.0/24', /^184[89]\d$/);
  const s = await suite.start('podbay-footprint-');
  const api = benchApi(s);
  const kubectl = kubectlBinaries().at(-1)!.path;
  try {
    const image = await loadBenchImage(suite.work, s);
    await sleep(3000);
    const pid = s.proc!.pid!;
    const idle = rssMb(pid);
    let idleSettled: number | undefined;
    if (SETTLE_S > 0) {
      await sleep(SETTLE_S * 1000);
      idleSettled = rssMb(pid);
    }
    for (let i = 0; i < N; i++) {
      const r = await api('POST', '/api/v1/namespaces/default/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `fp-${i}` },
        spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image, imagePullPolicy: 'Never', command: ['/bin/sleep', '3600'] }] },
      });
      if (r.status !== 201) throw new Error(JSON.stringify(r.json));
    }
    const t0 = Date.now();
    for (;;) {
      const list = await api('GET', '/api/v1/namespaces/default/pods');
      const ready = list.json.items.filter((p: any) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')).length;
      if (ready === N) break;
      if (Date.now() - t0 > 180_000) throw new Error(`${ready} of ${N} pods Ready after 180 s`);
      await sleep(500);
    }
    await sleep(3000);
    const busy = rssMb(pid);
    const spawners = spawnersOf(Number(pid));
    const spawnerRss = spawners.reduce((a, p) => a + rssMb(p), 0);
    const spawnerPss = spawners.reduce((a, p) => a + pssMb(p), 0);
    const conmons = processes('conmon', suite.runDir);
    const conmonRss = conmons.reduce((a, p) => a + rssMb(p), 0);
    console.log(
      JSON.stringify(
        {
          bench: 'footprint',
          pods: N,
          engine_rss_mb_idle: +idle.toFixed(1),
          engine_rss_mb_idle_settled: idleSettled === undefined ? null : +idleSettled.toFixed(1),
          engine_rss_mb_with_pods: +busy.toFixed(1),
          engine_rss_mb_per_pod: +((busy - idle) / N).toFixed(2),
          conmon_processes: conmons.length,
          conmon_per_pod: +(conmons.length / N).toFixed(2),
          conmon_rss_mb_per_pod: +(conmonRss / N).toFixed(2),
          engine_pss_mb_with_pods: +pssMb(pid).toFixed(1),
          // the one helper that starts podbay's commands (src/sys/spawner.ts): a node process
          // whose code pages are mostly the engine's too (PSS counts them half)
          spawner_processes: spawners.length,
          spawner_rss_mb: +spawnerRss.toFixed(1),
          spawner_pss_mb: +spawnerPss.toFixed(1),
        },
        null,
        2,
      ),
    );
  } finally {
    api.close();
    await suite.finish(kubectl);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
