import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLabelSelector, toTable } from './tables.js';

type Obj = Record<string, any>;
const NOW = Date.parse('2026-01-01T00:10:00Z');
const meta = { name: 'x', creationTimestamp: '2026-01-01T00:00:00Z' };
const template = { spec: { containers: [{ name: 'web', image: 'nginx:1.25' }, { name: 'log', image: 'busybox' }] } };

function table(kind: string, o: Obj): { headers: string[]; wide: string[]; row: unknown[] } {
  const t = toTable(kind, [{ metadata: meta, ...o }], {}, { now: NOW });
  return {
    headers: t.columnDefinitions.filter((c: Obj) => c.priority === 0).map((c: Obj) => c.name),
    wide: t.columnDefinitions.filter((c: Obj) => c.priority === 1).map((c: Obj) => c.name),
    row: t.rows[0].cells,
  };
}

test('Deployment: NAME READY UP-TO-DATE AVAILABLE AGE, wide CONTAINERS IMAGES SELECTOR', () => {
  const t = table('Deployment', { spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template }, status: { readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1 } });
  assert.deepEqual(t.headers, ['Name', 'Ready', 'Up-to-date', 'Available', 'Age']);
  assert.deepEqual(t.wide, ['Containers', 'Images', 'Selector']);
  assert.deepEqual(t.row, ['x', '1/3', 2, 1, '10m', 'web,log', 'nginx:1.25,busybox', 'app=web']);
});

test('ReplicaSet, ReplicationController, StatefulSet, DaemonSet', () => {
  const rs = table('ReplicaSet', { spec: { replicas: 2, selector: { matchLabels: { app: 'a' } }, template }, status: { replicas: 1, readyReplicas: 0 } });
  assert.deepEqual(rs.headers, ['Name', 'Desired', 'Current', 'Ready', 'Age']);
  assert.deepEqual(rs.row, ['x', 2, 1, 0, '10m', 'web,log', 'nginx:1.25,busybox', 'app=a']);
  assert.equal(table('ReplicationController', { spec: { selector: { b: '2', a: '1' }, template } }).row[7], 'a=1,b=2');
  const sts = table('StatefulSet', { spec: { replicas: 3, template }, status: { readyReplicas: 3 } });
  assert.deepEqual(sts.headers, ['Name', 'Ready', 'Age']);
  assert.deepEqual(sts.row, ['x', '3/3', '10m', 'web,log', 'nginx:1.25,busybox']);
  const ds = table('DaemonSet', { spec: { template: { spec: { ...template.spec, nodeSelector: { 'kubernetes.io/os': 'linux' } } } }, status: { desiredNumberScheduled: 1, currentNumberScheduled: 1, numberReady: 1, updatedNumberScheduled: 1, numberAvailable: 1 } });
  assert.deepEqual(ds.headers, ['Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age']);
  assert.deepEqual(ds.row.slice(0, 8), ['x', 1, 1, 1, 1, 1, 'kubernetes.io/os=linux', '10m']);
});

test('Job: STATUS COMPLETIONS DURATION', () => {
  const t = table('Job', { spec: { completions: 5, parallelism: 2, template }, status: { succeeded: 2, startTime: '2026-01-01T00:01:00Z' } });
  assert.deepEqual(t.headers, ['Name', 'Status', 'Completions', 'Duration', 'Age']);
  assert.deepEqual(t.row.slice(0, 5), ['x', 'Running', '2/5', '9m', '10m']);
  const done = table('Job', { spec: { parallelism: 3 }, status: { succeeded: 1, startTime: '2026-01-01T00:01:00Z', completionTime: '2026-01-01T00:01:42Z', conditions: [{ type: 'Complete', status: 'True' }] } });
  assert.deepEqual(done.row.slice(1, 4), ['Complete', '1/1 of 3', '42s']);
  assert.deepEqual(table('Job', { spec: {} }).row.slice(1, 4), ['Running', '0/1', '']);
});

test('CronJob: SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE', () => {
  const t = table('CronJob', { spec: { schedule: '*/5 * * * *', suspend: false, jobTemplate: { spec: { template } } }, status: {} });
  assert.deepEqual(t.headers, ['Name', 'Schedule', 'Timezone', 'Suspend', 'Active', 'Last Schedule', 'Age']);
  assert.deepEqual(t.row.slice(0, 7), ['x', '*/5 * * * *', '<none>', 'False', 0, '<none>', '10m']);
  const busy = table('CronJob', { spec: { schedule: '@hourly', timeZone: 'Europe/Berlin', suspend: true }, status: { active: [{}], lastScheduleTime: '2026-01-01T00:09:00Z' } });
  assert.deepEqual(busy.row.slice(2, 6), ['Europe/Berlin', 'True', 1, '60s']);
});

test('the small kinds: ControllerRevision, Lease, PDB, StorageClass, PV, PVC, ServiceAccount', () => {
  assert.deepEqual(table('ControllerRevision', { metadata: { ...meta, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', controller: true }] }, revision: 3 }).row, ['x', 'statefulset.apps/db', 3, '10m']);
  assert.deepEqual(table('Lease', { spec: { holderIdentity: 'node-1' } }).row, ['x', 'node-1', '10m']);
  assert.deepEqual(table('PodDisruptionBudget', { spec: { minAvailable: '50%' }, status: { disruptionsAllowed: 1 } }).row, ['x', '50%', 'N/A', 1, '10m']);
  assert.deepEqual(table('StorageClass', { metadata: { ...meta, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'p', volumeBindingMode: 'WaitForFirstConsumer' }).row, ['x (default)', 'p', 'Delete', 'WaitForFirstConsumer', 'false', '10m']);
  assert.deepEqual(table('PersistentVolume', { spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce', 'ReadOnlyMany'], persistentVolumeReclaimPolicy: 'Retain', claimRef: { namespace: 'd', name: 'c' }, storageClassName: 'local' }, status: { phase: 'Bound' } }).row.slice(0, 7), ['x', '1Gi', 'RWO,ROX', 'Retain', 'Bound', 'd/c', 'local']);
  assert.deepEqual(table('PersistentVolumeClaim', { spec: { volumeName: 'pv' }, status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOncePod'] } }).row.slice(0, 5), ['x', 'Bound', 'pv', '1Gi', 'RWOP']);
  assert.deepEqual(table('ServiceAccount', { secrets: [{ name: 's' }] }).row, ['x', 1, '10m']);
});

test('formatLabelSelector as metav1.FormatLabelSelector', () => {
  assert.equal(formatLabelSelector(undefined), '<none>');
  assert.equal(formatLabelSelector({}), '<none>');
  assert.equal(
    formatLabelSelector({ matchLabels: { b: '1', a: '2' }, matchExpressions: [{ key: 't', operator: 'In', values: ['y', 'x'] }, { key: 'e', operator: 'Exists' }, { key: 'n', operator: 'DoesNotExist' }] }),
    'a=2,b=1,t in (x,y),e,!n',
  );
});
