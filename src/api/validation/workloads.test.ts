import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultObject as defaultTyped } from '../defaults/index.js';
import { validateCreate, validateStatusUpdate, validateUpdate, validationErrorText } from './index.js';
import { cronScheduleError } from './workloads.js';
import { goLabelSelector, goStringMap } from './label-selector.js';

type Obj = Record<string, any>;
const defaultObject = (kind: string, o: Obj): Obj => defaultTyped(kind, o);
const texts = (kind: string, o: Obj) => validateCreate(kind, defaultObject(kind, o)).map(validationErrorText);

const deployment = (spec: Obj = {}, meta: Obj = {}): Obj => ({
  metadata: { name: 'web', namespace: 'default', ...meta },
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } }, ...spec },
});

test('a valid Deployment, ReplicaSet, StatefulSet, DaemonSet pass', () => {
  for (const kind of ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet']) assert.deepEqual(texts(kind, deployment()), [], kind);
});

test('Go renders maps and selectors as kube-apiserver prints them', () => {
  assert.equal(goStringMap({ b: '2', a: '1' }), 'map[string]string{"a":"1", "b":"2"}');
  assert.equal(goStringMap(undefined), 'map[string]string(nil)');
  assert.equal(goLabelSelector({ matchLabels: { app: 'x' } }), 'v1.LabelSelector{MatchLabels:map[string]string{"app":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}');
  assert.equal(
    goLabelSelector({ matchExpressions: [{ key: 'k', operator: 'In', values: ['a'] }] }),
    'v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"k", Operator:"In", Values:[]string{"a"}}}}',
  );
});

test('selector: required, not empty, must select the template', () => {
  assert.deepEqual(texts('Deployment', deployment({ selector: undefined })), ['spec.selector: Required value']);
  assert.deepEqual(texts('Deployment', deployment({ selector: {} })), [
    'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
  ]);
  assert.deepEqual(texts('Deployment', deployment({ selector: { matchLabels: { app: 'api' } } })), [
    'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
  ]);
  assert.deepEqual(texts('DaemonSet', deployment({ selector: { matchExpressions: [{ key: 'app', operator: 'Like', values: ['x'] }] } })), [
    'spec.selector.matchExpressions[0].operator: Invalid value: "Like": not a valid selector operator',
    'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"Like", Values:[]string{"x"}}}}: invalid label selector',
  ]);
  assert.deepEqual(texts('StatefulSet', deployment({ selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] } })), []);
});

test('counts, strategy and the pod template (validated as a pod spec under its path)', () => {
  assert.deepEqual(texts('Deployment', deployment({ replicas: -1 })), ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']);
  assert.deepEqual(texts('Deployment', deployment({ strategy: { type: 'Recreate', rollingUpdate: {} } })), [
    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
  ]);
  assert.deepEqual(texts('Deployment', deployment({ strategy: { type: 'Rolling' } })), ['spec.strategy.type: Unsupported value: "Rolling": supported values: "Recreate", "RollingUpdate"']);
  assert.deepEqual(texts('Deployment', deployment({ strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } } })), [
    'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0',
  ]);
  assert.deepEqual(texts('Deployment', deployment({ strategy: { rollingUpdate: { maxUnavailable: '120%' } } })), [
    'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater than 100%',
  ]);
  assert.deepEqual(texts('Deployment', deployment({ minReadySeconds: 700 })), ['spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds']);
  const t = deployment();
  t.spec.template.spec = { restartPolicy: 'OnFailure', activeDeadlineSeconds: 5, containers: [{ image: 'x' }] } as Obj;
  const errs = texts('ReplicaSet', t);
  assert.ok(errs.includes('spec.template.spec.containers[0].name: Required value'), errs.join('\n'));
  assert.ok(errs.includes('spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"'), errs.join('\n'));
  assert.ok(errs.includes('spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported'), errs.join('\n'));
  assert.deepEqual(texts('Deployment', deployment({ template: undefined, selector: { matchLabels: { a: 'b' } } })), ['spec.template: Required value']);
});

test('updates: the selector is immutable (Deployment, ReplicaSet, DaemonSet, Job); StatefulSet spec mostly so', () => {
  const old = defaultObject('Deployment', deployment({}, { resourceVersion: '5', uid: 'u' }));
  const moved = structuredClone(old);
  moved.spec.selector = { matchLabels: { app: 'z' } };
  moved.spec.template.metadata.labels = { app: 'z' };
  assert.deepEqual(validateUpdate('Deployment', moved, old).map(validationErrorText), [
    'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"z"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
  ]);
  const scaled = structuredClone(old);
  scaled.spec.replicas = 9;
  assert.deepEqual(validateUpdate('Deployment', scaled, old), []);
  const sts = defaultObject('StatefulSet', deployment({ serviceName: 'a' }, { resourceVersion: '5', uid: 'u' }));
  const renamed = structuredClone(sts);
  renamed.spec.serviceName = 'b';
  assert.match(validateUpdate('StatefulSet', renamed, sts).map(validationErrorText).join('\n'), /spec: Forbidden: updates to statefulset spec for fields other than 'replicas'/);
  const status = structuredClone(old);
  status.status = { replicas: -2 };
  assert.deepEqual(validateStatusUpdate('Deployment', status, old).map(validationErrorText), ['status.replicas: Invalid value: -2: must be greater than or equal to 0']);
});

test('ReplicationController: a map selector that must select the template', () => {
  const rc = (selector: Obj | undefined, labels: Obj) => ({ metadata: { name: 'rc', namespace: 'd' }, spec: { selector, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'x' }] } } } });
  assert.deepEqual(texts('ReplicationController', rc(undefined, { app: 'a' })), []);
  assert.deepEqual(texts('ReplicationController', rc({ app: 'b' }, { app: 'a' })), ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"a"}: `selector` does not match template `labels`']);
});

const job = (spec: Obj = {}): Obj => ({ metadata: { name: 'pi', namespace: 'd', uid: 'uid-1' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } }, ...spec } });

test('Job: counts, restartPolicy, completionMode, a tampered generated label', () => {
  assert.deepEqual(texts('Job', job()), []);
  assert.deepEqual(texts('Job', job({ parallelism: -1 })), ['spec.parallelism: Invalid value: -1: must be greater than or equal to 0']);
  assert.deepEqual(texts('Job', job({ backoffLimit: -1 })), ['spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0']);
  const always = job();
  delete always.spec.template.spec.restartPolicy;
  assert.deepEqual(texts('Job', always), ['spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"']);
  assert.deepEqual(texts('Job', job({ completionMode: 'Indexed', parallelism: 2 })), ['spec.completions: Required value: when completion mode is Indexed']);
  const tampered = job();
  tampered.spec.template.metadata = { labels: { 'batch.kubernetes.io/controller-uid': 'other' } };
  assert.deepEqual(texts('Job', tampered), [
    "spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value: \"other\": must be 'uid-1'",
    'spec.template.metadata.labels: Invalid value: map[string]string{"batch.kubernetes.io/controller-uid":"other", "batch.kubernetes.io/job-name":"pi", "controller-uid":"uid-1", "job-name":"pi"}: `selector` does not match template `labels`',
  ]);
  const manual = job({ manualSelector: true });
  assert.deepEqual(texts('Job', manual), ['spec.selector: Required value']);
});

test('Job update: the template is immutable unless suspended; completions and selector too', () => {
  const old = defaultObject('Job', { ...job(), metadata: { ...job().metadata, resourceVersion: '3' } });
  const changed = structuredClone(old);
  changed.spec.template.spec.containers[0].image = 'y';
  assert.match(validateUpdate('Job', changed, old).map(validationErrorText).join('\n'), /^spec.template: Invalid value: .*field is immutable$/);
  const suspended = structuredClone(old);
  suspended.spec.suspend = true;
  const resumed = structuredClone(suspended);
  resumed.spec.template.spec.containers[0].image = 'y';
  assert.deepEqual(validateUpdate('Job', resumed, suspended), []);
});

test('CronJob: schedule, concurrencyPolicy, timeZone, name length; the job template needs no selector', () => {
  const cj = (spec: Obj = {}, name = 'tick') => ({ metadata: { name, namespace: 'd' }, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'x' }] } } } }, ...spec } });
  assert.deepEqual(texts('CronJob', cj()), []);
  assert.deepEqual(texts('CronJob', cj({ schedule: '' })), ['spec.schedule: Required value']);
  assert.deepEqual(texts('CronJob', cj({ schedule: 'every minute' })), ['spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: [every minute]']);
  assert.deepEqual(texts('CronJob', cj({ concurrencyPolicy: 'Sometimes' })), ['spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"']);
  assert.deepEqual(texts('CronJob', cj({ timeZone: 'Mars/Olympus' })), ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']);
  assert.deepEqual(texts('CronJob', cj({ timeZone: 'Europe/Berlin' })), []);
  assert.deepEqual(texts('CronJob', cj({}, 'x'.repeat(53))), [`metadata.name: Invalid value: "${'x'.repeat(53)}": must be no more than 52 characters`]);
});

test('cron schedules as robfig/cron parses them', () => {
  for (const ok of ['* * * * *', '0 */2 * * 1-5', '@hourly', '@every 1h30m', '15,45 9-17 1 jan-jun mon', '0 0 ? * SUN']) assert.equal(cronScheduleError(ok), undefined, ok);
  assert.equal(cronScheduleError('61 * * * *'), 'end of range (61) above maximum (59): 61');
  assert.equal(cronScheduleError('* * 0 * *'), 'beginning of range (0) below minimum (1): 0');
  assert.equal(cronScheduleError('5-1 * * * *'), 'beginning of range (5) beyond end of range (1): 5-1');
  assert.equal(cronScheduleError('@fortnightly'), 'unrecognized descriptor: @fortnightly');
});

test('the small kinds: PV, PVC, StorageClass, PodDisruptionBudget, Lease, ControllerRevision', () => {
  assert.deepEqual(texts('PersistentVolume', { metadata: { name: 'pv' }, spec: {} }), [
    'spec.accessModes: Required value: at least 1 access mode is required',
    'spec.capacity: Required value',
    'spec: Required value: must specify a volume type',
  ]);
  assert.deepEqual(texts('PersistentVolume', { metadata: { name: 'pv' }, spec: { accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' }, hostPath: { path: '/srv' } } }), []);
  assert.deepEqual(texts('PersistentVolumeClaim', { metadata: { name: 'c', namespace: 'd' }, spec: { accessModes: ['ReadWriteSometimes'], resources: { requests: {} } } }), [
    'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
    'spec.resources[storage]: Required value',
  ]);
  assert.deepEqual(texts('StorageClass', { metadata: { name: 'sc' }, reclaimPolicy: 'Recycle' }), ['provisioner: Required value', 'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"']);
  assert.match(texts('PodDisruptionBudget', { metadata: { name: 'p', namespace: 'd' }, spec: { minAvailable: 1, maxUnavailable: 1 } }).join('\n'), /^spec: Invalid value: .*: minAvailable and maxUnavailable cannot be both set$/);
  assert.deepEqual(texts('PodDisruptionBudget', { metadata: { name: 'p', namespace: 'd' }, spec: { minAvailable: '150%' } }), ['spec.minAvailable: Invalid value: "150%": must not be greater than 100%']);
  assert.deepEqual(texts('Lease', { metadata: { name: 'l', namespace: 'd' }, spec: { leaseDurationSeconds: 0 } }), ['spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0']);
  assert.deepEqual(texts('ControllerRevision', { metadata: { name: 'r', namespace: 'd' }, revision: -1 }), ['data: Required value: data is mandatory', 'revision: Invalid value: -1: must be greater than or equal to 0']);
});
