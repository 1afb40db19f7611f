/**
 * The API side of a burst, without a node: the engine's CPU per pod for what the API server,
 * the store, the scheduler and the controllers do for a pod, apart from what the kubelet and
 * the runtime do. A real `podbay server --no-kubelet` (sqlite store, every controller, the
 * scheduler) and a Node object nothing runs; this process plays the kubelet over HTTPS
 * (keep-alive, as client-go): for each pod bound to that node the API calls the in-process
 * kubelet makes in a burst (counted with the counters of branch wp-engcpu-counts: a token, two
 * GETs of kube-root-ca.crt, three Events, one status update), and the scheduler's (a binding
 * and its Scheduled event: podbay's binder runs only beside a kubelet, so its own informer work
 * is not in this figure). N pods are POSTed at once, watched until Ready, then DELETEd with
 * grace 0, as `burst.js --via api` does.
 *
 * Prints one JSON document: the engine's own CPU and its main thread's, per pod, and per
 * request of the same agent (GET /version x N*11 afterwards) to tell HTTP from the rest.
 * Usage: node dist/bench/api-side.js [--n 100] [--runs 3]; API_SIDE_ARGS="--store-sync normal" adds
 * server flags.
 */
import { PodbayServer } from '../test/e2e/harness.js';
import { benchApi, watchPods } from './bench-server.js';
import { podbayCpuMs, threadCpuMs } from './proc.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('n', '100'));
const RUNS = Number(arg('runs', '3'));
const NODE = 'api-side-node';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function podDoc(i: number) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: `burst-${i}`, labels: { app: 'burst' } }, spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: 'busybox:bench', imagePullPolicy: 'Never', command: ['/bin/sleep', '3600'] }] } };
}

function nodeDoc() {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const capacity = { cpu: '64', memory: '256Gi', pods: '1000', 'ephemeral-storage': '1Ti' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE, 'kubernetes.io/os': 'linux' } },
    spec: {},
    status: { capacity, allocatable: capacity, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready', lastHeartbeatTime: now, lastTransitionTime: now }], addresses: [{ type: 'InternalIP', address: '127.0.0.2' }] },
  };
}

function event(pod: any, reason: string, message: string) {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    metadata: { name: `${pod.metadata.name}.${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`, namespace: 'default' },
    involvedObject: { kind: 'Pod', namespace: 'default', name: pod.metadata.name, uid: pod.metadata.uid, apiVersion: 'v1', resourceVersion: pod.metadata.resourceVersion, fieldPath: 'spec.containers{app}' },
    reason,
    message,
    source: { component: 'kubelet', host: NODE },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type: 'Normal',
    eventTime: null,
    reportingComponent: 'kubelet',
    reportingInstance: NODE,
  };
}

function runningStatus(pod: any, i: number) {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const cond = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now });
  return {
    ...pod.status,
    phase: 'Running',
    conditions: [cond('PodReadyToStartContainers'), cond('Initialized'), cond('Ready'), cond('ContainersReady'), cond('PodScheduled')],
    hostIP: '127.0.0.2',
    hostIPs: [{ ip: '127.0.0.2' }],
    podIP: `10.244.${i >> 8}.${i & 255}`,
    podIPs: [{ ip: `10.244.${i >> 8}.${i & 255}` }],
    startTime: now,
    containerStatuses: [{ name: 'app', state: { running: { startedAt: now } }, lastState: {}, ready: true, restartCount: 0, image: 'busybox:bench', imageID: 'sha256:0000', containerID: `runc://${String(i).padStart(64, '0')}`, started: true }],
  };
}

async function runOnce() {
  const s = await PodbayServer.start(['--no-kubelet', ...(process.env.API_SIDE_ARGS ?? '').split(' ').filter(Boolean)]);
  const api = benchApi(s);
  try {
    const made = await api('POST', '/api/v1/nodes', nodeDoc());
    if (made.status !== 201) throw new Error(JSON.stringify(made.json));
    // the default service account and kube-root-ca.crt come from controllers: wait for both
    for (let t = 0; ; t++) {
      const sa = await api('GET', '/api/v1/namespaces/default/serviceaccounts/default');
      const cm = await api('GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt');
      if (sa.status === 200 && cm.status === 200) break;
      if (t > 200) throw new Error('no default service account or kube-root-ca.crt after 10 s');
      await sleep(50);
    }
    await sleep(1000);

    const handled = new Set<string>();
    const bound = new Set<string>();
    const failures: string[] = [];
    // what the kubelet does for a pod bound to its node, once
    const kubelet = async (pod: any) => {
      const i = Number(pod.metadata.name.slice('burst-'.length));
      const ok = (r: { status: number; json: any }, what: string) => {
        if (r.status >= 300) failures.push(`${what}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
        return r.json;
      };
      ok(await api('POST', '/api/v1/namespaces/default/serviceaccounts/default/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid } } }), 'token');
      ok(await api('GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt'), 'configmap');
      ok(await api('GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt'), 'configmap');
      ok(await api('POST', '/api/v1/namespaces/default/events', event(pod, 'Pulled', 'Container image "busybox:bench" already present on machine')), 'event');
      ok(await api('POST', '/api/v1/namespaces/default/events', event(pod, 'Created', 'Created container app')), 'event');
      ok(await api('POST', '/api/v1/namespaces/default/events', event(pod, 'Started', 'Started container app')), 'event');
      ok(await api('PUT', `/api/v1/namespaces/default/pods/${pod.metadata.name}/status`, { ...pod, status: runningStatus(pod, i) }), 'status');
    };
    // what the scheduler writes for a pod (its binder runs only beside a kubelet)
    const scheduler = async (pod: any) => {
      const r = await api('POST', `/api/v1/namespaces/default/pods/${pod.metadata.name}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name }, target: { apiVersion: 'v1', kind: 'Node', name: NODE } });
      if (r.status >= 300) failures.push(`binding: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
      const e = { ...event(pod, 'Scheduled', `Successfully assigned default/${pod.metadata.name} to ${NODE}`), source: { component: 'default-scheduler' }, reportingComponent: 'default-scheduler', reportingInstance: '' };
      delete (e.involvedObject as any).fieldPath;
      const r2 = await api('POST', '/api/v1/namespaces/default/events', e);
      if (r2.status >= 300) failures.push(`event: ${r2.status} ${JSON.stringify(r2.json).slice(0, 200)}`);
    };
    const { seen, watch } = await watchPods(s, api, 'app=burst', (ev) => {
      if (ev.type === 'DELETED') return;
      const name = ev.object.metadata.name as string;
      if (!ev.object.spec?.nodeName && !bound.has(name)) {
        bound.add(name);
        void scheduler(ev.object).catch((e) => failures.push(String(e)));
      }
      if (ev.object.spec?.nodeName && !handled.has(name)) {
        handled.add(name);
        void kubelet(ev.object).catch((e) => failures.push(String(e)));
      }
    });
    await sleep(200);

    const pid = s.proc!.pid!;
    const self0 = podbayCpuMs(pid, 'self').engine;
    const main0 = threadCpuMs(pid);
    const t0 = performance.now();
    const docs = Array.from({ length: N }, (_, i) => podDoc(i));
    const rs = await Promise.all(docs.map((d) => api('POST', '/api/v1/namespaces/default/pods', d)));
    const bad = rs.find((r) => r.status !== 201);
    if (bad) throw new Error(JSON.stringify(bad.json));
    while (seen.ready.size < N) {
      if (failures.length) throw new Error(failures.join('\n'));
      if (performance.now() - t0 > 120_000) throw new Error(`${seen.ready.size} of ${N} pods Ready after 2 min`);
      await sleep(10);
    }
    const t1 = performance.now();
    await Promise.all(docs.map((d) => api('DELETE', `/api/v1/namespaces/default/pods/${d.metadata.name}`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 })));
    while (seen.present.size > 0) {
      if (performance.now() - t1 > 120_000) throw new Error('pods not gone after 2 min');
      await sleep(10);
    }
    const t2 = performance.now();
    await sleep(300); // the last writes' watchers and Events
    const self1 = podbayCpuMs(pid, 'self').engine;
    const main1 = threadCpuMs(pid);
    watch.destroy();
    // the same connections' cost of a request that does next to nothing
    const requests = N * 11;
    const h0 = podbayCpuMs(pid, 'self').engine;
    for (let i = 0; i < requests; i += 16) await Promise.all(Array.from({ length: 16 }, () => api('GET', '/version')));
    const h1 = podbayCpuMs(pid, 'self').engine;
    return {
      up_ms: Math.round(t1 - t0),
      down_ms: Math.round(t2 - t1),
      engine_self_cpu_ms_per_pod: Math.round(((self1 - self0) / N) * 10) / 10,
      engine_main_thread_cpu_ms_per_pod: Math.round(((main1 - main0) / N) * 10) / 10,
      http_requests_per_pod: 11,
      engine_cpu_ms_per_trivial_request: Math.round(((h1 - h0) / requests) * 100) / 100,
    };
  } finally {
    api.close();
    await s.teardown();
  }
}

const runs = [];
for (let i = 0; i < RUNS; i++) runs.push(await runOnce());
console.log(JSON.stringify({ bench: 'api-side', n: N, runs }, null, 2));
