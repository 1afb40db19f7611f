/**
 * Controller throughput: a Deployment scaled 0 -> N (100 by default) until every replica is
 * Ready, on a real node (runc, conmon, CNI), reported beside the start time of a single pod
 * (created through the API until Ready, as bench/pod-startup.ts measures it, without its
 * hostPort check) in the same run. Then scaled back to 0 until the pods are gone.
 * /readyz is polled throughout: its worst answer time is part of the report.
 *
 *   node dist/bench/deployment-scale.js [--replicas 100]      (root; prints one JSON object)
 *
 * Its world: bridge pbctla0, 10.229.0.0/24 (shared with test/e2e/deployments.test.ts: do not
 * run both at once).
 */
import { PodSuite, kubectlBinaries, processesMentioning, watchReadyz } from '../test/e2e/harness.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const REPLICAS = Number(arg('replicas', '100'));
/**
 * stops at once on SIGTERM; the default grace period is kept so a pod leaves the API only once
 * the kubelet has stopped it (with grace 0 it would go at once and the node clean up after)
 */
const QUICK = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];

async function main(): Promise<void> {
  const kubectl = kubectlBinaries().at(-1)!;
  const suite = new PodSuite('pbctla0', '10.229.0.0/24', /^182[23]\d$/);
  const s = await suite.start('podbay-bench-ctla-');
  const api = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const r = await s.request(method, path, body === undefined ? {} : { body: JSON.stringify(body), contentType });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
    return r.json;
  };
  const poll = async (what: string, cond: () => Promise<boolean>, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    await suite.loadBusybox();
    const ns = '/api/v1/namespaces/default';
    // one pod, as a reference
    let t = Date.now();
    await api('POST', `${ns}/pods`, { metadata: { name: 'single' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: QUICK }] } });
    await poll('single pod Ready', async () => ((await api('GET', `${ns}/pods/single`)).status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'), 60_000);
    const singlePodReadyMs = Date.now() - t;
    await api('DELETE', `${ns}/pods/single`);
    await poll('single pod gone', async () => (await s.request('GET', `${ns}/pods/single`)).status === 404, 60_000);

    const dep = '/apis/apps/v1/namespaces/default/deployments';
    await api('POST', dep, {
      metadata: { name: 'scale' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'scale' } },
        template: { metadata: { labels: { app: 'scale' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: QUICK }] } },
      },
    });
    const ready = watchReadyz(s);
    t = Date.now();
    await api('PATCH', `${dep}/scale/scale`, { spec: { replicas: REPLICAS } }, 'application/merge-patch+json');
    const milestones: Record<string, number> = {};
    let created = 0;
    await poll(
      `${REPLICAS} replicas Ready`,
      async () => {
        const d = await api('GET', `${dep}/scale`);
        const n = d.status?.readyReplicas ?? 0;
        created = Math.max(created, d.status?.replicas ?? 0);
        if (created >= REPLICAS && milestones.allCreatedMs === undefined) milestones.allCreatedMs = Date.now() - t;
        for (const q of [1, 25, 50, 75, 100]) {
          const k = `ready${q}pctMs`;
          if (milestones[k] === undefined && n >= Math.ceil((REPLICAS * q) / 100)) milestones[k] = Date.now() - t;
        }
        return n >= REPLICAS;
      },
      20 * 60_000,
    );
    const scaleUpMs = Date.now() - t;
    t = Date.now();
    await api('PATCH', `${dep}/scale/scale`, { spec: { replicas: 0 } }, 'application/merge-patch+json');
    await poll('every pod gone', async () => (await api('GET', `${ns}/pods`)).items.length === 0, 10 * 60_000);
    const scaleDownMs = Date.now() - t;
    // the node has stopped every container (the server itself names the work dir in its flags)
    await poll('no container process left', async () => processesMentioning(suite.work).filter((p) => !p.includes(' server ')).length === 0, 5 * 60_000);
    const health = await ready.stop();
    await api('DELETE', `${dep}/scale`);
    const out = {
      bench: 'deployment-scale',
      replicas: REPLICAS,
      singlePodReadyMs,
      scaleUp: { allReadyMs: scaleUpMs, ...milestones, podsPerSecond: Number(((REPLICAS * 1000) / scaleUpMs).toFixed(2)), perPodMs: Math.round(scaleUpMs / REPLICAS) },
      scaleDownToZeroMs: scaleDownMs,
      readyz: { worstMs: health.worstMs, failures: health.failures.length, samples: health.samples },
      cpus: (await import('node:os')).cpus().length,
    };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    await suite.finish(kubectl.path);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
