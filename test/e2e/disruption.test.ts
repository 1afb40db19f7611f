/**
 * e2e: PodDisruptionBudgets, pods/eviction and `kubectl drain` / `uncordon` with real pods and
 * real kubectl. A Deployment's pods under a budget: the disruption controller's status
 * (`kubectl get pdb`), a 429 eviction worded as kube-apiserver's, a drain that evicts what the
 * budget allows and then waits (one node: the replacements cannot start elsewhere), a drain that
 * completes without the budget (DaemonSet pods ignored, emptyDir data deleted, a bare pod
 * refused without --force), the replacements Unschedulable while the node is cordoned, Running
 * again after `kubectl uncordon`; a NoSchedule taint and required pod anti-affinity keep pods
 * Pending with the scheduler's messages; a NoExecute taint evicts. World: bridge pbpvc0, 10.239.0.0/24 (shared with
 * volumes-pvc.test.ts; the two files run one after the other), no hostPorts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PodbayServer, PodSuite, kubectlBinaries, kubectlHelpers, waitFor } from './harness.js';

const binaries = kubectlBinaries();
const oldest = binaries[0]!;
const newest = binaries[binaries.length - 1]!;

describe('disruption budgets, eviction and kubectl drain', () => {
  let s: PodbayServer;
  let node = '';
  const suite = new PodSuite('pbpvc0', '10.239.0.0/24', /^18(3[6-7]\d)$/);
  const k = kubectlHelpers(() => s, newest.path);
  const kOld = kubectlHelpers(() => s, oldest.path);
  const webPods = () => JSON.parse(k.ok('get', 'pods', '-l', 'app=web', '-o', 'json')).items as any[];
  const readyWeb = (n: number) =>
    waitFor(`${n} web pods Ready`, () => {
      const pods = webPods().filter((p) => !p.metadata.deletionTimestamp && (p.status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'));
      return pods.length === n ? pods : undefined;
    }, 90_000);

  before(async () => {
    s = await suite.start('podbay-e2e-pdb-');
    await suite.loadBusybox();
    node = k.ok('get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}').trim();
  });

  after(async () => {
    k.k('uncordon', node);
    // foreground, then not forced: each pod object stays until the kubelet has stopped it, and no
    // controller is left to make another, so no container outlives the server
    k.k('delete', 'deployments,daemonsets', '--all', '--cascade=foreground', '--wait=true', '--timeout=60s');
    k.k('delete', 'pdb,pods', '--all', '--wait=true', '--timeout=60s');
    await suite.finish(newest.path);
  });

  it(`a budget's status, a 429 eviction, a drain that waits on the budget (${newest.name})`, async () => {
    k.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {name: c, image: busybox:1.36, command: [sleep, '3600'], volumeMounts: [{name: scratch, mountPath: /scratch}]}
      volumes: [{name: scratch, emptyDir: {}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: c, image: busybox:1.36, command: [sleep, '3600']}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
`);
    const pods = await readyWeb(2);
    const pdb = await waitFor('budget status', () => {
      const b = JSON.parse(k.ok('get', 'pdb', 'web', '-o', 'json'));
      return b.status.currentHealthy === 2 ? b : undefined;
    }, 30_000);
    assert.deepEqual([pdb.status.currentHealthy, pdb.status.desiredHealthy, pdb.status.expectedPods, pdb.status.disruptionsAllowed], [2, 2, 2, 0]);
    assert.equal(pdb.status.observedGeneration, pdb.metadata.generation);
    assert.deepEqual(pdb.status.conditions.map((c: any) => [c.type, c.status, c.reason]), [['DisruptionAllowed', 'False', 'InsufficientPods']]);
    assert.match(k.ok('get', 'pdb', 'web', '--no-headers'), /^web\s+2\s+N\/A\s+0\s+/);

    // the eviction subresource itself: 429 and kube-apiserver's words
    const victim = pods[0].metadata.name;
    const r = await s.request('POST', `/api/v1/namespaces/default/pods/${victim}/eviction`, { body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: victim, namespace: 'default' } }) });
    assert.equal(r.status, 429, r.body);
    assert.equal(r.json.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(r.json.details.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods and has 2 currently' }]);

    // one disruption allowed: the drain evicts one pod, then waits on the budget (the replacement cannot start on a cordoned node)
    k.ok('patch', 'pdb', 'web', '--type=merge', '-p', '{"spec":{"minAvailable":1}}');
    await waitFor('one disruption allowed', () => JSON.parse(k.ok('get', 'pdb', 'web', '-o', 'json')).status.disruptionsAllowed === 1 || undefined, 30_000);
    const drain = k.k('drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=8s');
    assert.notEqual(drain.code, 0, drain.stdout);
    const said = drain.stdout + drain.stderr;
    assert.match(said, new RegExp(`node/${node} cordoned`));
    assert.match(said, /Warning: ignoring DaemonSet-managed Pods: default\/agent-/);
    assert.match(said, /evicting pod default\/web-/);
    assert.match(said, /error when evicting pods\/"web-[a-z0-9-]+" -n "default" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./);
    assert.match(k.ok('get', 'node', node, '--no-headers'), /Ready,SchedulingDisabled/);
    await waitFor('the unschedulable taint', () => /Taints:\s+node\.kubernetes\.io\/unschedulable:NoSchedule/.test(k.ok('describe', 'node', node)) || undefined, 30_000);
    assert.equal(JSON.parse(k.ok('get', 'node', node, '-o', 'json')).spec.unschedulable, true);
    await waitFor('one web pod left running', () => webPods().filter((p) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp).length === 1 || undefined, 30_000);
    const pending = await waitFor('the replacement Unschedulable', () => {
      const p = webPods().find((x) => x.status.phase === 'Pending');
      const c = p && (p.status.conditions ?? []).find((x: any) => x.type === 'PodScheduled');
      return c?.reason === 'Unschedulable' ? c : undefined;
    }, 30_000);
    assert.equal(pending.message, '0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.');
  });

  it(`without the budget the drain completes; a bare pod needs --force; uncordon brings the pods back (${oldest.name})`, async () => {
    k.ok('delete', 'pdb', 'web');
    k.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare' }, spec: { terminationGracePeriodSeconds: 0, tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }], containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] } });
    await waitFor('bare Running', () => k.pod('bare').status.phase === 'Running' || undefined, 60_000);
    const refused = kOld.k('drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=30s');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /cannot delete Pods (that )?declare no controller \(use --force to override\): default\/bare/);
    const drained = kOld.k('drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=60s');
    assert.equal(drained.code, 0, drained.stderr + drained.stdout);
    assert.match(drained.stdout, new RegExp(`node/${node} drained`));
    assert.match(drained.stdout, /pod\/bare evicted/);
    assert.ok(webPods().every((p) => p.status.phase === 'Pending'), 'the replacements wait for the node');
    assert.equal(JSON.parse(k.ok('get', 'pods', '-l', 'app=agent', '-o', 'json')).items.filter((p: any) => p.status.phase === 'Running').length, 1, 'the DaemonSet pod stays');

    assert.match(kOld.ok('uncordon', node), new RegExp(`node/${node} uncordoned`));
    await readyWeb(2);
    assert.doesNotMatch(k.ok('get', 'node', node, '--no-headers'), /SchedulingDisabled/);
    await waitFor('the unschedulable taint gone', () => /Taints:\s+<none>/.test(k.ok('describe', 'node', node)) || undefined, 30_000);
  });
  it(`taints and tolerations, required pod anti-affinity: the scheduler's messages (${newest.name})`, async () => {
    k.ok('taint', 'nodes', node, 'dedicated=db:NoSchedule');
    try {
      k.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] } });
      k.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'tolerant' }, spec: { terminationGracePeriodSeconds: 0, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }], containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] } });
      await waitFor('tolerant Running', () => k.pod('tolerant').status.phase === 'Running' || undefined, 60_000);
      const c = await waitFor('plain Unschedulable', () => (k.pod('plain').status.conditions ?? []).find((x: any) => x.type === 'PodScheduled' && x.reason === 'Unschedulable'), 30_000);
      assert.equal(c.message, '0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.');
    } finally {
      k.ok('taint', 'nodes', node, 'dedicated-');
    }
    await waitFor('plain Running once the taint is gone', () => k.pod('plain').status.phase === 'Running' || undefined, 60_000);
    k.ok('delete', 'pod', 'plain', 'tolerant', '--wait=true');

    k.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: apart}
spec:
  replicas: 2
  selector: {matchLabels: {app: apart}}
  template:
    metadata: {labels: {app: apart}}
    spec:
      terminationGracePeriodSeconds: 0
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: apart}}}
      containers: [{name: c, image: busybox:1.36, command: [sleep, '3600']}]
`);
    const msg = await waitFor('one apart pod Running, the other Unschedulable', () => {
      const pods = JSON.parse(k.ok('get', 'pods', '-l', 'app=apart', '-o', 'json')).items as any[];
      const pending = pods.map((p) => (p.status.conditions ?? []).find((x: any) => x.type === 'PodScheduled' && x.reason === 'Unschedulable')).filter(Boolean);
      return pods.filter((p) => p.status.phase === 'Running').length === 1 && pending.length === 1 ? pending[0].message : undefined;
    }, 60_000);
    assert.equal(msg, "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.");

    // a NoExecute taint evicts what does not tolerate it
    const runningApart = (JSON.parse(k.ok('get', 'pods', '-l', 'app=apart', '-o', 'json')).items as any[]).find((p) => p.status.phase === 'Running');
    k.ok('taint', 'nodes', node, 'evict=now:NoExecute');
    try {
      await waitFor('TaintManagerEviction', () => new RegExp(`Normal TaintManagerEviction Marking for deletion Pod default/${runningApart.metadata.name}`).test(k.events(runningApart.metadata.name)) || undefined, 30_000);
      await waitFor('the evicted pod gone', () => k.k('get', 'pod', runningApart.metadata.name).code !== 0 || undefined, 30_000);
    } finally {
      k.ok('taint', 'nodes', node, 'evict-');
    }
    // the evicted pods' replacements start again; the suite ends with nothing starting (a pod
    // deleted while its sandbox is being made has been seen to outlive the server's teardown)
    await readyWeb(2);
    await waitFor('the DaemonSet pod back', () => JSON.parse(k.ok('get', 'pods', '-l', 'app=agent', '-o', 'json')).items.some((p: any) => p.status.phase === 'Running') || undefined, 60_000);
  });
});
