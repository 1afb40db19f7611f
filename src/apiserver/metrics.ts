/**
 * The Metrics API, metrics.k8s.io/v1beta1, as metrics-server serves it: PodMetrics (per
 * container CPU in nanocores and memory working set in Ki) and NodeMetrics, read from the
 * node's cgroups and /proc on request (src/kubelet/stats.ts). `kubectl top pod|node` finds the
 * group in /apis, lists these, and formats the numbers itself.
 *
 *   /apis/metrics.k8s.io/v1beta1/pods                             every namespace
 *   /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods[/NAME]
 *   /apis/metrics.k8s.io/v1beta1/nodes[/NAME]
 *
 * As in metrics-server, a pod with no running container has no metrics: it is left out of a
 * list and a get of it is 404. Only get and list are served.
 */
import { methodNotAllowed, notFound, pathNotFound } from '../api/errors.js';
import type { ApiGroupHandler, GroupRequest } from './api-groups.js';
import type { NodeUsage, PodUsage } from '../api/usage.js';
import { queryBool } from './query.js';
import { rfc3339 } from '../api/time.js';

type Obj = Record<string, any>;

const GROUP = 'metrics.k8s.io';
const VERSION = 'v1beta1';
const API_VERSION = `${GROUP}/${VERSION}`;

export interface UsageSource {
  podUsage(podUid: string): Promise<PodUsage | undefined>;
  nodeUsage(): Promise<NodeUsage | undefined>;
}

export interface MetricsDeps {
  listPods(ns: string | undefined, q: { labelSelector?: string; fieldSelector?: string }): Promise<Obj[]>;
  getPod(ns: string, name: string): Promise<Obj>;
  listNodes(q: { labelSelector?: string; fieldSelector?: string }): Promise<Obj[]>;
  getNode(name: string): Promise<Obj>;
  /** undefined when the server runs no kubelet: no usage to report */
  usage(): UsageSource | undefined;
}

/** Go's time.Duration.String() for a whole number of ms: "1.02s", "1m5s", "250ms". */
export function goDuration(ms: number): string {
  ms = Math.round(ms);
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sec = `${Number(s.toFixed(3))}s`;
  if (h) return `${h}h${m}m${sec}`;
  if (m) return `${m}m${sec}`;
  return sec;
}


/** metrics-server's quantities: CPU in nanocores ("1234n"), memory in Ki ("2048Ki") */
export function cpuQuantity(nanoCores: number): string {
  return `${Math.max(0, Math.round(nanoCores))}n`;
}
export function memoryQuantity(bytes: number): string {
  return `${Math.max(0, Math.round(bytes / 1024))}Ki`;
}

export function podMetrics(pod: Obj, u: PodUsage, now = Date.now()): Obj {
  const labels = pod.metadata?.labels;
  return {
    kind: 'PodMetrics',
    apiVersion: API_VERSION,
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, creationTimestamp: rfc3339(now), ...(labels ? { labels } : {}) },
    timestamp: rfc3339(u.at),
    window: goDuration(u.windowMs),
    containers: u.containers.map((c) => ({ name: c.name, usage: { cpu: cpuQuantity(c.cpuNanoCores), memory: memoryQuantity(c.memoryWorkingSetBytes) } })),
  };
}

export function nodeMetrics(node: Obj, u: NodeUsage, now = Date.now()): Obj {
  const labels = node.metadata?.labels;
  return {
    kind: 'NodeMetrics',
    apiVersion: API_VERSION,
    metadata: { name: node.metadata.name, creationTimestamp: rfc3339(now), ...(labels ? { labels } : {}) },
    timestamp: rfc3339(u.at),
    window: goDuration(u.windowMs),
    usage: { cpu: cpuQuantity(u.cpuNanoCores), memory: memoryQuantity(u.memoryWorkingSetBytes) },
  };
}

function selectors(q: URLSearchParams): { labelSelector?: string; fieldSelector?: string } {
  return { labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined };
}

export function metricsGroup(deps: MetricsDeps): ApiGroupHandler {
  const list = (kind: string, items: Obj[]) => ({ kind: `${kind}List`, apiVersion: API_VERSION, metadata: {}, items });

  async function pods(r: GroupRequest, ns: string | undefined, name: string | undefined): Promise<void> {
    const src = deps.usage();
    if (name !== undefined) {
      const pod = await deps.getPod(ns!, name);
      const u = pod.metadata?.uid && (await src?.podUsage(pod.metadata.uid));
      if (!u) throw notFound('pods', `${ns}/${name}`, GROUP);
      return r.send(200, podMetrics(pod, u));
    }
    const all = src ? await deps.listPods(ns, selectors(r.q)) : [];
    const usages = await Promise.all(all.map((p) => (p.metadata?.uid ? src!.podUsage(p.metadata.uid) : undefined)));
    r.send(200, list('PodMetrics', all.flatMap((p, i) => (usages[i] ? [podMetrics(p, usages[i]!)] : []))));
  }

  async function nodes(r: GroupRequest, name: string | undefined): Promise<void> {
    const src = deps.usage();
    // one node: this one. Its usage is the same whichever node object is asked for.
    if (name !== undefined) {
      const node = await deps.getNode(name);
      const u = await src?.nodeUsage();
      if (!u) throw notFound('nodes', name, GROUP);
      return r.send(200, nodeMetrics(node, u));
    }
    const all = src ? await deps.listNodes(selectors(r.q)) : [];
    const u = all.length ? await src!.nodeUsage() : undefined;
    r.send(200, list('NodeMetrics', u ? all.map((n) => nodeMetrics(n, u)) : []));
  }

  return {
    name: GROUP,
    versions: [VERSION],
    resources: () => [
      { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ],
    async serve(r) {
      const s = r.seg;
      const nf = () => pathNotFound(`the server could not find the requested resource (${r.method} /apis/${API_VERSION}/${s.join('/')})`);
      let ns: string | undefined;
      let rest = s;
      if (s[0] === 'namespaces' && s.length >= 3) {
        ns = s[1];
        rest = s.slice(2);
      }
      const [resource, name, extra] = rest;
      if (extra !== undefined || name === '' || (resource !== 'pods' && resource !== 'nodes') || (resource === 'nodes' && ns !== undefined)) throw nf();
      if (resource === 'pods' && ns === undefined && name !== undefined) throw nf();
      if (r.method !== 'GET') throw methodNotAllowed(`the server does not allow this method on the requested resource: ${r.method} ${resource}.${GROUP}`);
      if (queryBool(r.q, 'watch')) throw methodNotAllowed(`watch is not supported on ${resource}.${GROUP}`);
      return resource === 'pods' ? pods(r, ns, name) : nodes(r, name);
    },
  };
}
