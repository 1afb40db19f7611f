import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultObject as defaultTyped } from './index.js';

type Obj = Record<string, any>;
const defaultObject = (kind: string, o: Obj, op: 'create' | 'update' = 'create'): Obj => defaultTyped(kind, o, op);

const template = (labels: Record<string, string> = { app: 'web' }, spec: Record<string, unknown> = {}) => ({
  metadata: { labels },
  spec: { containers: [{ name: 'c', image: 'nginx:1.25' }], ...spec },
});

test('Deployment: replicas 1, RollingUpdate 25%/25%, history 10, deadline 600, the template gets PodSpec defaults only', () => {
  const d = defaultObject('Deployment', { metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, template: template() } });
  assert.deepEqual(
    { replicas: d.spec.replicas, strategy: d.spec.strategy, rhl: d.spec.revisionHistoryLimit, pds: d.spec.progressDeadlineSeconds, status: d.status },
    { replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }, rhl: 10, pds: 600, status: {} },
  );
  const pod = d.spec.template.spec;
  assert.equal(pod.restartPolicy, 'Always');
  assert.equal(pod.dnsPolicy, 'ClusterFirst');
  assert.equal(pod.terminationGracePeriodSeconds, 30);
  assert.equal(pod.containers[0].imagePullPolicy, 'IfNotPresent');
  // SetDefaults_Pod and admission belong to pods, not templates
  assert.equal(pod.enableServiceLinks, undefined);
  assert.equal(pod.priority, undefined);
  assert.equal(pod.tolerations, undefined);
});

test('Deployment: a Recreate strategy gets no rollingUpdate; given values are kept; an update keeps status', () => {
  const d = defaultObject('Deployment', { spec: { replicas: 0, strategy: { type: 'Recreate' }, revisionHistoryLimit: 2, template: template() } });
  assert.deepEqual(d.spec.strategy, { type: 'Recreate' });
  assert.equal(d.spec.replicas, 0);
  assert.equal(d.spec.revisionHistoryLimit, 2);
  const u = defaultObject('Deployment', { spec: { template: template() }, status: { replicas: 3 } }, 'update');
  assert.deepEqual(u.status, { replicas: 3 });
});

test('StatefulSet, DaemonSet, ReplicaSet, ReplicationController defaults', () => {
  const sts = defaultObject('StatefulSet', { spec: { template: template(), volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: {} }] } });
  assert.equal(sts.spec.podManagementPolicy, 'OrderedReady');
  assert.deepEqual(sts.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
  assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  assert.equal(sts.spec.replicas, 1);
  assert.deepEqual(sts.spec.volumeClaimTemplates[0], { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' }, spec: { volumeMode: 'Filesystem' }, status: { phase: 'Pending' } });
  assert.deepEqual(sts.status, { availableReplicas: 0, replicas: 0 });
  assert.deepEqual(defaultObject('StatefulSet', { spec: { updateStrategy: { type: 'OnDelete' } } }).spec.updateStrategy, { type: 'OnDelete' });

  const ds = defaultObject('DaemonSet', { spec: { template: template() } });
  assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  assert.equal(ds.spec.revisionHistoryLimit, 10);
  assert.deepEqual(ds.status, { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 });

  const rs = defaultObject('ReplicaSet', { spec: { template: template() } });
  assert.equal(rs.spec.replicas, 1);
  assert.deepEqual(rs.status, { replicas: 0 });

  const rc = defaultObject('ReplicationController', { metadata: { name: 'rc' }, spec: { template: template({ app: 'rc', tier: 'be' }) } });
  assert.deepEqual(rc.spec.selector, { app: 'rc', tier: 'be' });
  assert.deepEqual(rc.metadata.labels, { app: 'rc', tier: 'be' });
  assert.equal(rc.spec.replicas, 1);
  const own = defaultObject('ReplicationController', { metadata: { labels: { mine: 'x' } }, spec: { selector: { app: 'rc' }, template: template({ app: 'rc', tier: 'be' }) } });
  assert.deepEqual(own.spec.selector, { app: 'rc' });
  assert.deepEqual(own.metadata.labels, { mine: 'x' });
});

test('Job: counts, backoffLimit, mode, suspend, podReplacementPolicy, manualSelector; the generated selector and labels on create', () => {
  const uid = '0b5b6c4e-2f5b-4c55-8d6c-3c1a8e0f4a11';
  const job = defaultObject('Job', { metadata: { name: 'pi', uid }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } } } });
  assert.deepEqual(
    { c: job.spec.completions, p: job.spec.parallelism, b: job.spec.backoffLimit, m: job.spec.completionMode, s: job.spec.suspend, r: job.spec.podReplacementPolicy, ms: job.spec.manualSelector },
    { c: 1, p: 1, b: 6, m: 'NonIndexed', s: false, r: 'TerminatingOrFailed', ms: false },
  );
  const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': 'pi', 'controller-uid': uid, 'job-name': 'pi' };
  assert.deepEqual(job.spec.template.metadata.labels, labels);
  assert.deepEqual(job.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
  assert.deepEqual(job.metadata.labels, labels);
  assert.deepEqual(job.status, {});

  const parallel = defaultObject('Job', { metadata: { name: 'p' }, spec: { parallelism: 3, podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] }, template: { spec: {} } } });
  assert.equal(parallel.spec.completions, undefined, 'a work queue: completions stay unset when parallelism is given');
  assert.equal(parallel.spec.podReplacementPolicy, 'Failed');
  assert.equal(parallel.spec.podFailurePolicy.rules[0].onPodConditions[0].status, 'True');
  assert.equal(defaultObject('Job', { spec: { backoffLimitPerIndex: 1, template: {} } }).spec.backoffLimit, 2147483647);

  const manual = defaultObject('Job', { metadata: { name: 'm', uid }, spec: { manualSelector: true, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: {} } } });
  assert.deepEqual(manual.spec.selector, { matchLabels: { a: 'b' } });
  assert.deepEqual(manual.spec.template.metadata.labels, { a: 'b' });
});

test('CronJob: Allow, not suspended, history 3/1; the job template is not a Job (no Job defaults)', () => {
  const cj = defaultObject('CronJob', { spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'c', image: 'x' }] } } } } } });
  assert.deepEqual(
    { cp: cj.spec.concurrencyPolicy, s: cj.spec.suspend, ok: cj.spec.successfulJobsHistoryLimit, bad: cj.spec.failedJobsHistoryLimit },
    { cp: 'Allow', s: false, ok: 3, bad: 1 },
  );
  assert.equal(cj.spec.jobTemplate.spec.parallelism, undefined);
  assert.equal(cj.spec.jobTemplate.spec.template.spec.dnsPolicy, 'ClusterFirst');
});

test('PersistentVolume, PersistentVolumeClaim, StorageClass, PodDisruptionBudget', () => {
  const pv = defaultObject('PersistentVolume', { metadata: { name: 'pv', namespace: 'x' }, spec: {} });
  assert.deepEqual(pv.spec, { persistentVolumeReclaimPolicy: 'Retain', volumeMode: 'Filesystem' });
  assert.deepEqual(pv.status, { phase: 'Pending' });
  assert.equal(pv.metadata.namespace, undefined);
  const pvc = defaultObject('PersistentVolumeClaim', { spec: {} });
  assert.deepEqual([pvc.spec.volumeMode, pvc.status], ['Filesystem', { phase: 'Pending' }]);
  const sc = defaultObject('StorageClass', { provisioner: 'p' });
  assert.deepEqual([sc.reclaimPolicy, sc.volumeBindingMode], ['Delete', 'Immediate']);
  assert.deepEqual(defaultObject('PodDisruptionBudget', { spec: {} }).status, { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0 });
});
