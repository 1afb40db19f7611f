/**
 * The official JavaScript client (@kubernetes/client-node 1.x) as an oracle: list, create, an
 * informer that sees add/update/delete, a merge patch, a log follow, and exec with stdin, against
 * a live server with its kubelet.
 *
 * This suite owns bridge pbjscl0, subnet 10.228.0.0/24 and hostPorts 18200-18219 (it uses none).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);

function collect(stream: PassThrough): () => string {
  let out = '';
  stream.on('data', (d) => (out += d.toString()));
  return () => out;
}

describe('@kubernetes/client-node against podbay', () => {
  const suite = new PodSuite('pbjscl0', '10.228.0.0/24', /^182[01]\d$/);
  let s: PodbayServer;
  let config: k8s.KubeConfig;
  let core: k8s.CoreV1Api;

  before(async () => {
    s = await suite.start('podbay-e2e-jsclient-');
    await suite.loadBusybox();
    config = new k8s.KubeConfig();
    config.loadFromFile(s.kubeconfig);
    core = config.makeApiClient(k8s.CoreV1Api);
  });

  after(() => suite.finish(kc.path));

  const podBody = (name: string, script: string): k8s.V1Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'js' } },
    spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', script] }] },
  });

  it('an informer lists then watches: add, update (a merge patch) and delete arrive in order', async () => {
    const seen: string[] = [];
    const informer = k8s.makeInformer(config, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
    // every namespace also holds the root CA publisher's kube-root-ca.crt, as on a cluster
    informer.on('add', (o: k8s.V1ConfigMap) => o.metadata?.name !== 'kube-root-ca.crt' && seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o: k8s.V1ConfigMap) => seen.push(`update ${o.metadata?.name} ${o.data?.k}`));
    informer.on('delete', (o: k8s.V1ConfigMap) => seen.push(`delete ${o.metadata?.name}`));
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'early' }, data: { k: '0' } } });
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'late' }, data: { k: '1' } } });
    await core.patchNamespacedConfigMap({ namespace: 'default', name: 'late', body: { data: { k: '2' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'late' });
    await waitFor('informer events', () => (seen.length >= 4 ? true : undefined), 15_000);
    await informer.stop();
    assert.deepEqual(seen, ['add early', 'add late', 'update late 2', 'delete late']);
    const list = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: '' });
    assert.deepEqual(list.items.map((c) => c.metadata?.name).filter((n) => n === 'early'), ['early']);
  });

  it('creates a pod, follows its log and execs into it with stdin', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: podBody('js', 'for i in 1 2 3; do echo line $i; sleep 0.3; done; sleep 60') });
    await waitFor('js running', async () => ((await core.readNamespacedPod({ namespace: 'default', name: 'js' })).status?.phase === 'Running' ? true : undefined), 60_000);

    const logStream = new PassThrough();
    const logText = collect(logStream);
    const req = await new k8s.Log(config).log('default', 'js', 'c', logStream, { follow: true });
    await waitFor('three log lines', () => (logText().includes('line 3') ? true : undefined), 15_000);
    req.abort();
    assert.equal(logText().trim().split('\n').slice(0, 3).join('|'), 'line 1|line 2|line 3');

    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out = collect(stdout);
    const status = await new Promise<k8s.V1Status>((resolve, reject) => {
      new k8s.Exec(config)
        .exec('default', 'js', 'c', ['sh', '-c', 'read x; echo got:$x; exit 3'], stdout, stderr, Readable.from(['hello\n']), false, (st) => resolve(st))
        .catch(reject);
    });
    assert.match(out(), /got:hello/);
    assert.equal(status.status, 'Failure');
    assert.equal(status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message, '3');
  });
});
