/**
 * e2e: local persistent volumes with real pods, runc and kubectl. A StatefulSet's claim template
 * gets a local-path volume (the default class, WaitForFirstConsumer: provisioned once the
 * scheduler picked the node); a file written there survives deleting the pod; `kubectl get
 * pvc,pv` shows them Bound; a claim in use is kept (Terminating) until its pod is gone; deleting
 * the claim after the set is gone removes the volume and its directory, and a link a container
 * left in it is not followed. A claim of an Immediate class without a volume keeps its pod
 * Pending with the scheduler's message until a static volume appears; readOnly is honoured. A
 * generic ephemeral volume's claim is made for its pod and goes with it. The seed's blog as a
 * Deployment on a claim keeps its content when its pod is deleted.
 * World: bridge pbpvc0, 10.239.0.0/24, no hostPorts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, kubectlHelpers, waitFor } from './harness.js';

const binaries = kubectlBinaries();
const newest = binaries[binaries.length - 1]!;

describe('persistent volumes: local-path claims, StatefulSet claim templates, static volumes', () => {
  let s: PodbayServer;
  const suite = new PodSuite('pbpvc0', '10.239.0.0/24', /^18(3[6-7]\d)$/);
  const k = kubectlHelpers(() => s, newest.path);
  const running = (name: string, notUid?: string) =>
    waitFor(`${name} Running`, () => {
      const r = k.k('get', 'pod', name, '-o', 'json');
      if (r.code !== 0) return undefined;
      const p = JSON.parse(r.stdout);
      return p.status.phase === 'Running' && p.metadata.uid !== notUid ? p : undefined;
    }, 90_000);

  before(async () => {
    s = await suite.start('podbay-e2e-pvc-');
    await suite.loadBusybox();
  });

  after(async () => {
    // foreground, then not forced: each pod object stays until the kubelet has stopped it, and no
    // controller is left to make another, so no container outlives the server
    k.k('delete', 'statefulsets,deployments', '--all', '--cascade=foreground', '--wait=true', '--timeout=60s');
    k.k('delete', 'pods', '--all', '--wait=true', '--timeout=60s');
    k.k('delete', 'pvc', '--all', '--wait=true', '--timeout=60s');
    await suite.finish(newest.path);
  });

  it(`a StatefulSet's claim: provisioned on the node, data kept across pod deletes, removed with the claim (${newest.name})`, async () => {
    assert.match(k.ok('get', 'storageclass'), /local-path \(default\)\s+rancher\.io\/local-path\s+Delete\s+WaitForFirstConsumer/);
    k.apply(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox:1.36
        command: [sh, -c, 'if [ -f /data/hello ]; then echo "found $(cat /data/hello) $(cat /sub/note)"; else echo first > /data/hello; echo in-sub > /sub/note; ln -s / /data/escape; echo wrote; fi; sleep 3600']
        volumeMounts:
        - {name: data, mountPath: /data}
        - {name: data, mountPath: /sub, subPath: nested}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 64Mi}}
`);
    const first = await running('db-0');
    await waitFor('wrote', () => /wrote/.test(k.k('logs', 'db-0').stdout) || undefined, 30_000);
    const pvc = JSON.parse(k.ok('get', 'pvc', 'data-db-0', '-o', 'json'));
    assert.equal(pvc.spec.storageClassName, 'local-path', 'the default class was given');
    assert.equal(pvc.metadata.annotations['volume.kubernetes.io/selected-node'], first.spec.nodeName);
    const pvName = `pvc-${pvc.metadata.uid}`;
    const rows = k.ok('get', 'pvc,pv', '--no-headers');
    assert.match(rows, new RegExp(`persistentvolumeclaim/data-db-0\\s+Bound\\s+${pvName}\\s+64Mi\\s+RWO\\s+local-path`));
    assert.match(rows, new RegExp(`persistentvolume/${pvName}\\s+64Mi\\s+RWO\\s+Delete\\s+Bound\\s+default/data-db-0\\s+local-path`));
    assert.match(k.events('data-db-0'), new RegExp(`Normal ProvisioningSucceeded Successfully provisioned volume ${pvName}`));
    const dir = join(s.dataDir, 'storage', `${pvName}_default_data-db-0`);
    assert.equal(readFileSync(join(dir, 'hello'), 'utf8'), 'first\n', 'the container wrote into the local-path directory');
    assert.equal(readFileSync(join(dir, 'nested', 'note'), 'utf8'), 'in-sub\n', 'the subPath is a directory of the volume');

    // the pod goes; the set makes it again on the same claim
    k.ok('delete', 'pod', 'db-0', '--wait=true');
    await running('db-0', first.metadata.uid);
    await waitFor('the new pod read the old data', () => /found first in-sub/.test(k.k('logs', 'db-0').stdout) || undefined, 30_000);

    // a claim in use is kept until its pod is gone
    k.ok('delete', 'statefulset', 'db', '--cascade=orphan');
    k.ok('delete', 'pvc', 'data-db-0', '--wait=false');
    await new Promise((r) => setTimeout(r, 1000));
    assert.match(k.ok('get', 'pvc', 'data-db-0', '--no-headers'), /data-db-0\s+Terminating/);
    assert.ok(existsSync(dir));
    k.ok('delete', 'pod', 'db-0', '--wait=true');
    await waitFor('the claim gone', () => k.k('get', 'pvc', 'data-db-0').code !== 0 || undefined, 60_000);
    await waitFor('the volume gone', () => k.k('get', 'pv', pvName).code !== 0 || undefined, 60_000);
    assert.equal(existsSync(dir), false, 'Delete reclaim removed the directory');
    assert.deepEqual(readdirSync(join(s.dataDir, 'storage')), []);
    assert.ok(existsSync('/etc/hostname') || existsSync('/etc/passwd'), 'the link to / in the volume was not followed');
  });

  it(`the seed's blog as a Deployment with a claim: content written survives deleting the pod (${newest.name})`, async () => {
    k.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: blog-content}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 32Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: blog}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: blog}}
  template:
    metadata: {labels: {app: blog}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: ghost
        image: busybox:1.36
        command: [sh, -c, 'if [ -f /var/lib/ghost/content/post ]; then echo "kept: $(cat /var/lib/ghost/content/post)"; else echo "hello from the first pod" > /var/lib/ghost/content/post; echo "new post"; fi; sleep 3600']
        volumeMounts:
        - {name: content, mountPath: /var/lib/ghost/content}
      volumes:
      - name: content
        persistentVolumeClaim: {claimName: blog-content}
`);
    const podOf = (notUid?: string) =>
      waitFor('the blog pod Running', () => {
        const items = JSON.parse(k.ok('get', 'pods', '-l', 'app=blog', '-o', 'json')).items as any[];
        return items.find((p) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp && p.metadata.uid !== notUid);
      }, 90_000);
    const first = await podOf();
    await waitFor('the first pod wrote its post', () => /new post/.test(k.k('logs', first.metadata.name).stdout) || undefined, 30_000);
    assert.match(k.ok('get', 'pvc', 'blog-content', '--no-headers'), /blog-content\s+Bound\s+pvc-/);
    k.ok('delete', 'pod', first.metadata.name, '--wait=true');
    const second = await podOf(first.metadata.uid);
    await waitFor('the new pod read the post', () => /kept: hello from the first pod/.test(k.k('logs', second.metadata.name).stdout) || undefined, 30_000);
    k.ok('delete', 'deployment', 'blog', '--cascade=foreground', '--wait=true', '--timeout=60s');
    k.ok('delete', 'pvc', 'blog-content', '--wait=true', '--timeout=60s');
  });

  it(`an Immediate claim without a volume: Pending with the scheduler's message; a static volume binds it; readOnly (${newest.name})`, async () => {
    k.apply(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: manual}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: static}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    command: [sh, -c, 'cat /v/seed; touch /v/new 2>&1 || true; sleep 3600']
    volumeMounts: [{name: v, mountPath: /v}]
  volumes:
  - name: v
    persistentVolumeClaim: {claimName: static, readOnly: true}
`);
    await waitFor('Unschedulable', () => {
      const c = (k.pod('reader').status.conditions ?? []).find((x: any) => x.type === 'PodScheduled');
      return c?.reason === 'Unschedulable' ? c : undefined;
    }, 30_000).then((c) => assert.equal(c.message, '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.'));
    assert.match(k.events('static'), /Normal FailedBinding no persistent volumes available for this claim and no storage class is set/);

    const host = join(suite.work, 'static-volume');
    mkdirSync(host);
    writeFileSync(join(host, 'seed'), 'from the admin\n');
    k.apply(`apiVersion: v1
kind: PersistentVolume
metadata: {name: static-pv}
spec:
  storageClassName: manual
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: ${host}, type: Directory}
`);
    await running('reader');
    await waitFor('reader log', () => /from the admin/.test(k.k('logs', 'reader').stdout) || undefined, 30_000);
    assert.match(k.ok('logs', 'reader'), /Read-only file system/);
    assert.equal(existsSync(join(host, 'new')), false);
    assert.match(k.ok('get', 'pvc', 'static', '--no-headers'), /static\s+Bound\s+static-pv\s+2Gi\s+RWO\s+manual/);

    k.ok('delete', 'pod', 'reader', '--wait=true', '--grace-period=0', '--force');
    k.ok('delete', 'pvc', 'static', '--wait=true');
    await waitFor('Released', () => /static-pv\s+2Gi\s+RWO\s+Retain\s+Released/.test(k.ok('get', 'pv', 'static-pv', '--no-headers')) || undefined, 30_000);
    assert.equal(readFileSync(join(host, 'seed'), 'utf8'), 'from the admin\n', 'Retain keeps the data');
    k.ok('delete', 'pv', 'static-pv', '--wait=true');
  });
  it(`a generic ephemeral volume: its claim made and provisioned for the pod, gone with it (${newest.name})`, async () => {
    k.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'scratchy' },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', 'echo kept > /scratch/f; cat /scratch/f; sleep 3600'], volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] }],
        volumes: [{ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } } } } }],
      },
    });
    const pod = await running('scratchy');
    await waitFor('written', () => /kept/.test(k.k('logs', 'scratchy').stdout) || undefined, 30_000);
    const claim = JSON.parse(k.ok('get', 'pvc', 'scratchy-scratch', '-o', 'json'));
    assert.equal(claim.metadata.ownerReferences[0].uid, pod.metadata.uid);
    assert.equal(claim.status.phase, 'Bound');
    const dir = join(s.dataDir, 'storage', `pvc-${claim.metadata.uid}_default_scratchy-scratch`);
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'kept\n');
    k.ok('delete', 'pod', 'scratchy', '--wait=true');
    await waitFor('the claim gone with its pod', () => k.k('get', 'pvc', 'scratchy-scratch').code !== 0 || undefined, 60_000);
    await waitFor('its directory removed', () => !existsSync(dir) || undefined, 60_000);
  });
});
