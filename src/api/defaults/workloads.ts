/**
 * Defaulting of the workload kinds and the small kinds served beside them, as kube-apiserver
 * applies it: the scheme defaults (pkg/apis/apps/v1/defaults.go, pkg/apis/batch/v1/defaults.go,
 * pkg/apis/core/v1/defaults.go, pkg/apis/storage/v1/defaults.go), the pod template's PodSpec
 * defaults, and the registry strategies' PrepareForCreate (status starts empty; a Job's
 * generated selector). Every function mutates and returns its object.
 */
import { type Obj, arr, isObj, obj } from '../validation/field.js';
import { CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL } from '../validation/workloads.js';
import { defaultPodSpec, type Operation } from './pod.js';

function spec(o: Obj): Obj {
  return isObj(o.spec) ? o.spec : (o.spec = {});
}

/** a pod template's PodSpec defaults (the template itself may be missing: validation says so) */
function defaultTemplate(template: unknown): void {
  if (!isObj(template)) return;
  if (!isObj(template.spec)) template.spec = {};
  defaultPodSpec(template.spec);
}

/** what PrepareForCreate leaves as status: the Go struct's zero value, non-omitempty fields shown */
function freshStatus(o: Obj, op: Operation, zeroFields: string[] = []): void {
  if (op !== 'create') return;
  o.status = Object.fromEntries(zeroFields.map((f) => [f, 0]));
}

/** SetDefaults_Deployment */
export function defaultDeployment(d: Obj, op: Operation = 'create'): Obj {
  const s = spec(d);
  if (s.replicas == null) s.replicas = 1;
  const strategy = isObj(s.strategy) ? s.strategy : (s.strategy = {});
  if (!strategy.type) strategy.type = 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const ru = isObj(strategy.rollingUpdate) ? strategy.rollingUpdate : (strategy.rollingUpdate = {});
    if (ru.maxUnavailable == null) ru.maxUnavailable = '25%';
    if (ru.maxSurge == null) ru.maxSurge = '25%';
  }
  if (s.revisionHistoryLimit == null) s.revisionHistoryLimit = 10;
  if (s.progressDeadlineSeconds == null) s.progressDeadlineSeconds = 600;
  defaultTemplate(s.template);
  freshStatus(d, op);
  return d;
}

/** SetDefaults_ReplicaSet */
export function defaultReplicaSet(rs: Obj, op: Operation = 'create'): Obj {
  const s = spec(rs);
  if (s.replicas == null) s.replicas = 1;
  defaultTemplate(s.template);
  freshStatus(rs, op, ['replicas']);
  return rs;
}

/** SetDefaults_StatefulSet (with StatefulSetAutoDeletePVC, on by default since 1.27) */
export function defaultStatefulSet(sts: Obj, op: Operation = 'create'): Obj {
  const s = spec(sts);
  if (!s.podManagementPolicy) s.podManagementPolicy = 'OrderedReady';
  const us = isObj(s.updateStrategy) ? s.updateStrategy : (s.updateStrategy = {});
  if (!us.type) {
    us.type = 'RollingUpdate';
    if (us.rollingUpdate == null) us.rollingUpdate = {};
  }
  if (us.type === 'RollingUpdate' && isObj(us.rollingUpdate) && us.rollingUpdate.partition == null) us.rollingUpdate.partition = 0;
  const retention = isObj(s.persistentVolumeClaimRetentionPolicy) ? s.persistentVolumeClaimRetentionPolicy : (s.persistentVolumeClaimRetentionPolicy = {});
  if (!retention.whenDeleted) retention.whenDeleted = 'Retain';
  if (!retention.whenScaled) retention.whenScaled = 'Retain';
  if (s.replicas == null) s.replicas = 1;
  if (s.revisionHistoryLimit == null) s.revisionHistoryLimit = 10;
  defaultTemplate(s.template);
  for (const pvc of arr(s.volumeClaimTemplates)) {
    if (!isObj(pvc)) continue;
    // the templates are whole PersistentVolumeClaims: kube-apiserver answers them with their TypeMeta
    pvc.apiVersion = 'v1';
    pvc.kind = 'PersistentVolumeClaim';
    defaultPersistentVolumeClaim(pvc, 'template');
  }
  freshStatus(sts, op, ['availableReplicas', 'replicas']);
  return sts;
}

/** SetDefaults_DaemonSet */
export function defaultDaemonSet(ds: Obj, op: Operation = 'create'): Obj {
  const s = spec(ds);
  const us = isObj(s.updateStrategy) ? s.updateStrategy : (s.updateStrategy = {});
  if (!us.type) us.type = 'RollingUpdate';
  if (us.type === 'RollingUpdate') {
    const ru = isObj(us.rollingUpdate) ? us.rollingUpdate : (us.rollingUpdate = {});
    if (ru.maxUnavailable == null) ru.maxUnavailable = 1;
    if (ru.maxSurge == null) ru.maxSurge = 0;
  }
  if (s.revisionHistoryLimit == null) s.revisionHistoryLimit = 10;
  defaultTemplate(s.template);
  freshStatus(ds, op, ['currentNumberScheduled', 'desiredNumberScheduled', 'numberMisscheduled', 'numberReady']);
  return ds;
}

/** SetDefaults_ReplicationController: selector and labels from the template's labels */
export function defaultReplicationController(rc: Obj, op: Operation = 'create'): Obj {
  const s = spec(rc);
  const labels = isObj(s.template) ? obj(s.template.metadata).labels : undefined;
  if (isObj(labels)) {
    if (!isObj(s.selector) || Object.keys(s.selector).length === 0) s.selector = { ...labels };
    const meta = isObj(rc.metadata) ? rc.metadata : (rc.metadata = {});
    if (!isObj(meta.labels) || Object.keys(meta.labels).length === 0) meta.labels = { ...labels };
  }
  if (s.replicas == null) s.replicas = 1;
  defaultTemplate(s.template);
  freshStatus(rc, op, ['replicas']);
  return rc;
}

/**
 * SetDefaults_Job, and on create jobStrategy.PrepareForCreate's generated selector: unless
 * manualSelector, the template gets the job-name and controller-uid labels (both spellings)
 * and the selector matches the uid. The Job's own labels come from the template's when it has
 * none (the defaulting of the object as read back from storage, after the labels were added).
 */
export function defaultJob(job: Obj, op: Operation = 'create'): Obj {
  const s = spec(job);
  if (s.completions == null && s.parallelism == null) {
    s.completions = 1;
    s.parallelism = 1;
  }
  if (s.parallelism == null) s.parallelism = 1;
  if (s.backoffLimit == null) s.backoffLimit = s.backoffLimitPerIndex != null ? 2147483647 : 6;
  if (s.completionMode == null) s.completionMode = 'NonIndexed';
  if (s.suspend == null) s.suspend = false;
  if (s.podReplacementPolicy == null) s.podReplacementPolicy = s.podFailurePolicy != null ? 'Failed' : 'TerminatingOrFailed';
  if (s.manualSelector == null) s.manualSelector = false;
  for (const rule of arr(obj(s.podFailurePolicy).rules)) {
    for (const p of arr(obj(rule).onPodConditions)) if (isObj(p) && !p.status) p.status = 'True';
  }
  defaultTemplate(s.template);
  const meta = isObj(job.metadata) ? job.metadata : (job.metadata = {});
  if (op === 'create') {
    job.status = {};
    if (s.manualSelector !== true && isObj(s.template)) generateJobSelector(job, s);
  }
  const templateLabels = isObj(s.template) ? obj(s.template.metadata).labels : undefined;
  if (isObj(templateLabels) && (!isObj(meta.labels) || Object.keys(meta.labels).length === 0)) meta.labels = { ...templateLabels };
  return job;
}

function generateJobSelector(job: Obj, s: Obj): void {
  const t = s.template as Obj;
  const tm = isObj(t.metadata) ? t.metadata : (t.metadata = {});
  const labels = isObj(tm.labels) ? tm.labels : (tm.labels = {});
  const name = String(job.metadata.name ?? '');
  const uid = String(job.metadata.uid ?? '');
  // labels the user set are left alone: validation reports a conflict
  for (const l of [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL]) if (!(l in labels)) labels[l] = name;
  for (const l of [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL]) if (!(l in labels)) labels[l] = uid;
  const sel = isObj(s.selector) ? s.selector : (s.selector = {});
  const ml = isObj(sel.matchLabels) ? sel.matchLabels : (sel.matchLabels = {});
  if (!(CONTROLLER_UID_LABEL in ml)) ml[CONTROLLER_UID_LABEL] = uid;
}

/** SetDefaults_CronJob; the job template's pod spec gets the PodSpec defaults */
export function defaultCronJob(cj: Obj, op: Operation = 'create'): Obj {
  const s = spec(cj);
  if (!s.concurrencyPolicy) s.concurrencyPolicy = 'Allow';
  if (s.suspend == null) s.suspend = false;
  if (s.successfulJobsHistoryLimit == null) s.successfulJobsHistoryLimit = 3;
  if (s.failedJobsHistoryLimit == null) s.failedJobsHistoryLimit = 1;
  defaultTemplate(obj(obj(s.jobTemplate).spec).template);
  freshStatus(cj, op);
  return cj;
}

/** SetDefaults_PersistentVolumeClaim(Spec); `template` for a StatefulSet's volumeClaimTemplates */
export function defaultPersistentVolumeClaim(pvc: Obj, op: Operation | 'template' = 'create'): Obj {
  const s = spec(pvc);
  if (!s.volumeMode) s.volumeMode = 'Filesystem';
  if (op === 'create') pvc.status = { phase: 'Pending' };
  else if (op === 'template' || (isObj(pvc.status) && !pvc.status.phase)) pvc.status = { ...obj(pvc.status), phase: 'Pending' };
  return pvc;
}

/** SetDefaults_PersistentVolume */
export function defaultPersistentVolume(pv: Obj, op: Operation = 'create'): Obj {
  if (isObj(pv.metadata)) delete pv.metadata.namespace;
  const s = spec(pv);
  if (!s.persistentVolumeReclaimPolicy) s.persistentVolumeReclaimPolicy = 'Retain';
  if (!s.volumeMode) s.volumeMode = 'Filesystem';
  if (op === 'create') pv.status = { phase: 'Pending' };
  return pv;
}

/** SetDefaults_StorageClass */
export function defaultStorageClass(sc: Obj): Obj {
  if (isObj(sc.metadata)) delete sc.metadata.namespace;
  if (!sc.reclaimPolicy) sc.reclaimPolicy = 'Delete';
  if (!sc.volumeBindingMode) sc.volumeBindingMode = 'Immediate';
  return sc;
}

/** podDisruptionBudgetStrategy.PrepareForCreate: status starts at its zero value */
export function defaultPodDisruptionBudget(pdb: Obj, op: Operation = 'create'): Obj {
  freshStatus(pdb, op, ['currentHealthy', 'desiredHealthy', 'disruptionsAllowed', 'expectedPods']);
  return pdb;
}
