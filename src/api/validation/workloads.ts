/**
 * Validation of the workload kinds, after kube-apiserver's pkg/apis/apps/validation,
 * pkg/apis/batch/validation and the ReplicationController part of pkg/apis/core/validation:
 * Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision, Job, CronJob and
 * ReplicationController. Objects are defaulted first (../defaults/workloads.ts).
 *
 * The pod template is validated by the pod validation (validatePodSpec) under its own path
 * (spec.template.spec..., spec.jobTemplate.spec.template.spec...), as upstream's
 * ValidatePodTemplateSpec does.
 */
import { type Obj, type ValidationError, arr, forbidden, invalid, isObj, nonNegative, notSupported, obj, required, semanticEqual, str } from './field.js';
import { FIELD_IMMUTABLE, validateAnnotations, validateLabels, validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { validatePodSpec } from './pod.js';
import { goLabelSelector, goStringMap, immutableSelector, selectorEmpty, selectorMatches, selectorMatchesTemplate, validateLabelSelector } from './label-selector.js';

type Errs = ValidationError[];

// ---------------------------------------------------------------- shared pieces

/** ValidatePodTemplateSpec: the template's labels and annotations, and its pod spec. */
export function validatePodTemplateSpec(template: unknown, fldPath: string): Errs {
  const t = obj(template);
  const m = obj(t.metadata);
  return [
    ...validateLabels(m.labels, `${fldPath}.metadata.labels`),
    ...validateAnnotations(m.annotations, `${fldPath}.metadata.annotations`),
    ...validatePodSpec(obj(t.spec), `${fldPath}.spec`),
  ];
}

/**
 * ValidatePodTemplateSpecForReplicaSet (also StatefulSet, DaemonSet, ReplicationController):
 * selected by the selector, restartPolicy Always, no activeDeadlineSeconds.
 */
function validateTemplateForController(template: unknown, selectorErrs: Errs, fldPath: string, kind: string): Errs {
  if (!isObj(template)) return [required(fldPath)];
  const errs = [...selectorErrs, ...validatePodTemplateSpec(template, fldPath)];
  const spec = obj(template.spec);
  const rp = str(spec.restartPolicy);
  if (rp && rp !== 'Always') errs.push(notSupported(`${fldPath}.spec.restartPolicy`, rp, ['Always']));
  if (spec.activeDeadlineSeconds != null) errs.push(forbidden(`${fldPath}.spec.activeDeadlineSeconds`, `activeDeadlineSeconds in ${kind} is not Supported`));
  return errs;
}

/**
 * A LabelSelector that must be there, non-empty (`empty selector is invalid for deployment`),
 * valid, and select the template's labels.
 */
function validateSelectorAndTemplate(spec: Obj, fldPath: string, what: string, kind: string): Errs {
  const errs: Errs = [];
  const sel = spec.selector;
  let matchErrs: Errs = [];
  if (!isObj(sel)) {
    errs.push(required(`${fldPath}.selector`));
  } else {
    errs.push(...validateLabelSelector(sel, `${fldPath}.selector`));
    if (selectorEmpty(sel)) {
      errs.push({ type: 'FieldValueInvalid', field: `${fldPath}.selector`, value: sel, rawValue: goLabelSelector(sel), detail: `empty selector is invalid for ${what}` });
    }
    if (selectorMatches(sel, {}) === undefined) {
      errs.push({ type: 'FieldValueInvalid', field: `${fldPath}.selector`, value: sel, rawValue: goLabelSelector(sel), detail: 'invalid label selector' });
    } else if (isObj(spec.template)) {
      matchErrs = selectorMatchesTemplate(sel, spec.template, `${fldPath}.template`);
    }
  }
  errs.push(...validateTemplateForController(spec.template, matchErrs, `${fldPath}.template`, kind));
  return errs;
}

/** ValidatePositiveIntOrPercent */
function intOrPercent(v: unknown, fldPath: string): Errs {
  if (typeof v === 'string') {
    if (!/^[0-9]+%$/.test(v)) {
      return [
        {
          type: 'FieldValueInvalid',
          field: fldPath,
          value: v,
          rawValue: `intstr.IntOrString{Type:1, IntVal:0, StrVal:${JSON.stringify(v)}}`,
          detail: "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        },
      ];
    }
    return [];
  }
  return nonNegative(v, fldPath);
}

function intOrPercentValue(v: unknown): number {
  if (typeof v === 'number') return v;
  const m = /^([0-9]+)%$/.exec(str(v));
  return m ? Number(m[1]) : 0;
}

/** IsNotMoreThan100Percent */
function notMoreThan100(v: unknown, fldPath: string): Errs {
  if (typeof v !== 'string' || !/^[0-9]+%$/.test(v) || intOrPercentValue(v) <= 100) return [];
  return [{ type: 'FieldValueInvalid', field: fldPath, value: v, rawValue: `intstr.IntOrString{Type:1, IntVal:0, StrVal:${JSON.stringify(v)}}`, detail: 'must not be greater than 100%' }];
}

function rawIntOrString(v: unknown): string {
  return typeof v === 'string' ? `intstr.IntOrString{Type:1, IntVal:0, StrVal:${JSON.stringify(v)}}` : `intstr.IntOrString{Type:0, IntVal:${Number(v ?? 0)}, StrVal:""}`;
}

/** maxUnavailable / maxSurge of a Deployment's or DaemonSet's rolling update */
function validateRollingUpdate(ru: Obj, fldPath: string): Errs {
  const errs = [...intOrPercent(ru.maxUnavailable, `${fldPath}.maxUnavailable`), ...intOrPercent(ru.maxSurge, `${fldPath}.maxSurge`)];
  if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
    errs.push({ type: 'FieldValueInvalid', field: `${fldPath}.maxUnavailable`, value: ru.maxUnavailable ?? 0, rawValue: rawIntOrString(ru.maxUnavailable), detail: 'may not be 0 when `maxSurge` is 0' });
  }
  errs.push(...notMoreThan100(ru.maxUnavailable, `${fldPath}.maxUnavailable`));
  return errs;
}

function meta(o: Obj): Errs {
  return validateObjectMeta(o.metadata, true, 'dns1123-subdomain');
}

function metaUpdate(n: Obj, o: Obj): Errs {
  return validateObjectMetaUpdate(n.metadata, o.metadata);
}

// ---------------------------------------------------------------- Deployment

function validateDeploymentStrategy(strategy: Obj, fldPath: string): Errs {
  const errs: Errs = [];
  const type = str(strategy.type);
  if (type === 'Recreate') {
    if (strategy.rollingUpdate != null) errs.push(forbidden(`${fldPath}.rollingUpdate`, "may not be specified when strategy `type` is 'Recreate'"));
  } else if (type === 'RollingUpdate') {
    if (isObj(strategy.rollingUpdate)) errs.push(...validateRollingUpdate(strategy.rollingUpdate, `${fldPath}.rollingUpdate`));
  } else {
    errs.push(notSupported(`${fldPath}.type`, type, ['Recreate', 'RollingUpdate']));
  }
  return errs;
}

export function validateDeploymentSpec(spec: Obj, fldPath = 'spec'): Errs {
  const errs: Errs = [...nonNegative(spec.replicas, `${fldPath}.replicas`)];
  errs.push(...validateSelectorAndTemplate(spec, fldPath, 'deployment', 'ReplicaSet'));
  errs.push(...validateDeploymentStrategy(obj(spec.strategy), `${fldPath}.strategy`));
  errs.push(...nonNegative(spec.minReadySeconds, `${fldPath}.minReadySeconds`));
  errs.push(...nonNegative(spec.revisionHistoryLimit, `${fldPath}.revisionHistoryLimit`));
  const pds = spec.progressDeadlineSeconds;
  if (typeof pds === 'number') {
    errs.push(...nonNegative(pds, `${fldPath}.progressDeadlineSeconds`));
    if (pds <= (typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0)) {
      errs.push(invalid(`${fldPath}.progressDeadlineSeconds`, pds, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

export function validateDeployment(d: Obj): Errs {
  return [...meta(d), ...validateDeploymentSpec(obj(d.spec))];
}

export function validateDeploymentUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateDeploymentSpec(obj(n.spec)), ...immutableSelector(obj(n.spec).selector, obj(o.spec).selector, 'spec.selector')];
}

/** status of a Deployment, ReplicaSet, StatefulSet or DaemonSet: counts are never negative */
function validateCounts(status: unknown, fields: string[]): Errs {
  const s = obj(status);
  return fields.flatMap((f) => nonNegative(s[f], `status.${f}`));
}

export function validateDeploymentStatusUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateCounts(n.status, ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas', 'observedGeneration', 'collisionCount'])];
}

// ---------------------------------------------------------------- ReplicaSet

function validateReplicaSetSpec(spec: Obj): Errs {
  return [
    ...nonNegative(spec.replicas, 'spec.replicas'),
    ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
    ...validateSelectorAndTemplate(spec, 'spec', 'deployment', 'ReplicaSet'),
  ];
}

export function validateReplicaSet(rs: Obj): Errs {
  return [...meta(rs), ...validateReplicaSetSpec(obj(rs.spec))];
}

export function validateReplicaSetUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateReplicaSetSpec(obj(n.spec)), ...immutableSelector(obj(n.spec).selector, obj(o.spec).selector, 'spec.selector')];
}

export function validateReplicaSetStatusUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateCounts(n.status, ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration'])];
}

// ---------------------------------------------------------------- StatefulSet

export function validateStatefulSetSpec(spec: Obj, fldPath = 'spec'): Errs {
  const errs: Errs = [];
  const pmp = str(spec.podManagementPolicy);
  if (!pmp) errs.push(required(`${fldPath}.podManagementPolicy`, ''));
  else if (pmp !== 'OrderedReady' && pmp !== 'Parallel') {
    errs.push(invalid(`${fldPath}.podManagementPolicy`, pmp, `must be 'OrderedReady' or 'Parallel'`));
  }
  const us = obj(spec.updateStrategy);
  const ut = str(us.type);
  if (ut === 'OnDelete') {
    if (us.rollingUpdate != null) errs.push(invalid(`${fldPath}.updateStrategy.rollingUpdate`, us.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"));
  } else if (ut === 'RollingUpdate') {
    errs.push(...nonNegative(obj(us.rollingUpdate).partition, `${fldPath}.updateStrategy.rollingUpdate.partition`));
  } else if (!ut) {
    errs.push(required(`${fldPath}.updateStrategy`, ''));
  } else {
    errs.push(invalid(`${fldPath}.updateStrategy`, us, "must be 'RollingUpdate' or 'OnDelete'"));
  }
  errs.push(...nonNegative(spec.replicas, `${fldPath}.replicas`));
  errs.push(...nonNegative(spec.minReadySeconds, `${fldPath}.minReadySeconds`));
  errs.push(...nonNegative(spec.revisionHistoryLimit, `${fldPath}.revisionHistoryLimit`));
  if (isObj(spec.ordinals)) errs.push(...nonNegative(spec.ordinals.start, `${fldPath}.ordinals.start`));
  const retention = obj(spec.persistentVolumeClaimRetentionPolicy);
  for (const f of ['whenDeleted', 'whenScaled']) {
    const v = retention[f];
    if (v !== undefined && v !== 'Retain' && v !== 'Delete') errs.push(notSupported(`${fldPath}.persistentVolumeClaimRetentionPolicy.${f}`, v, ['Retain', 'Delete']));
  }
  // the pods get a persistentVolumeClaim volume per claim template (named after it), so the
  // template's volumeMounts may name the templates (upstream does not validate the PodSpec of a
  // set at all for that reason; podbay validates it with those volumes added)
  const claims = arr(spec.volumeClaimTemplates).map((t) => str(obj(obj(t).metadata).name)).filter(Boolean);
  const template = isObj(spec.template) && claims.length ? withClaimVolumes(spec.template, claims) : spec.template;
  errs.push(...validateSelectorAndTemplate({ ...spec, template }, fldPath, 'statefulset', 'StatefulSet'));
  return errs;
}

function withClaimVolumes(template: Obj, claims: string[]): Obj {
  const ts = obj(template.spec);
  const have = new Set(arr(ts.volumes).map((v) => str(obj(v).name)));
  const extra = claims.filter((c) => !have.has(c)).map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } }));
  return { ...template, spec: { ...ts, volumes: [...arr(ts.volumes), ...extra] } };
}

export function validateStatefulSet(s: Obj): Errs {
  const errs = [...meta(s), ...validateStatefulSetSpec(obj(s.spec))];
  return errs;
}

const STATEFULSET_UPDATABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

export function validateStatefulSetUpdate(n: Obj, o: Obj): Errs {
  const errs = [...metaUpdate(n, o), ...validateStatefulSetSpec(obj(n.spec))];
  const strip = (spec: unknown) => Object.fromEntries(Object.entries(obj(spec)).filter(([k]) => !STATEFULSET_UPDATABLE.includes(k)));
  if (!semanticEqual(strip(n.spec), strip(o.spec))) {
    errs.push(
      forbidden(
        'spec',
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      ),
    );
  }
  return errs;
}

export function validateStatefulSetStatusUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateCounts(n.status, ['replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas', 'observedGeneration', 'collisionCount'])];
}

// ---------------------------------------------------------------- DaemonSet

export function validateDaemonSetSpec(spec: Obj, fldPath = 'spec'): Errs {
  const errs = validateSelectorAndTemplate(spec, fldPath, 'daemonset', 'DaemonSet');
  errs.push(...nonNegative(spec.minReadySeconds, `${fldPath}.minReadySeconds`));
  errs.push(...nonNegative(spec.templateGeneration, `${fldPath}.templateGeneration`));
  errs.push(...nonNegative(spec.revisionHistoryLimit, `${fldPath}.revisionHistoryLimit`));
  const us = obj(spec.updateStrategy);
  const ut = str(us.type);
  if (ut === 'RollingUpdate') {
    if (isObj(us.rollingUpdate)) errs.push(...validateRollingUpdate(us.rollingUpdate, `${fldPath}.updateStrategy.rollingUpdate`));
  } else if (ut !== 'OnDelete') {
    errs.push(notSupported(`${fldPath}.updateStrategy.type`, ut, ['OnDelete', 'RollingUpdate']));
  }
  return errs;
}

export function validateDaemonSet(d: Obj): Errs {
  return [...meta(d), ...validateDaemonSetSpec(obj(d.spec))];
}

export function validateDaemonSetUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateDaemonSetSpec(obj(n.spec)), ...immutableSelector(obj(n.spec).selector, obj(o.spec).selector, 'spec.selector')];
}

export function validateDaemonSetStatusUpdate(n: Obj, o: Obj): Errs {
  return [
    ...metaUpdate(n, o),
    ...validateCounts(n.status, ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady', 'observedGeneration', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable', 'collisionCount']),
  ];
}

// ---------------------------------------------------------------- ControllerRevision

export function validateControllerRevision(r: Obj): Errs {
  const errs = meta(r);
  if (r.data == null) errs.push(required('data', 'data is mandatory'));
  errs.push(...nonNegative(r.revision, 'revision'));
  return errs;
}

export function validateControllerRevisionUpdate(n: Obj, o: Obj): Errs {
  const errs = [...metaUpdate(n, o), ...nonNegative(n.revision, 'revision')];
  if (!semanticEqual(n.data, o.data)) errs.push(invalid('data', 'data', FIELD_IMMUTABLE));
  return errs;
}

// ---------------------------------------------------------------- ReplicationController

export function validateReplicationControllerSpec(spec: Obj, fldPath = 'spec'): Errs {
  const errs: Errs = [...nonNegative(spec.replicas, `${fldPath}.replicas`), ...nonNegative(spec.minReadySeconds, `${fldPath}.minReadySeconds`)];
  const sel = spec.selector;
  if (!isObj(sel) || Object.keys(sel).length === 0) errs.push(required(`${fldPath}.selector`));
  else errs.push(...validateLabels(sel, `${fldPath}.selector`));
  let matchErrs: Errs = [];
  if (isObj(sel) && Object.keys(sel).length > 0 && isObj(spec.template)) {
    const labels = obj(spec.template.metadata).labels;
    const selected = Object.entries(sel).every(([k, v]) => obj(labels)[k] === v);
    if (!selected) {
      matchErrs = [{ type: 'FieldValueInvalid', field: `${fldPath}.template.metadata.labels`, value: labels ?? null, rawValue: goStringMap(labels), detail: '`selector` does not match template `labels`' }];
    }
  }
  errs.push(...validateTemplateForController(spec.template, matchErrs, `${fldPath}.template`, 'ReplicationController'));
  return errs;
}

export function validateReplicationController(rc: Obj): Errs {
  return [...meta(rc), ...validateReplicationControllerSpec(obj(rc.spec))];
}

export function validateReplicationControllerUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateReplicationControllerSpec(obj(n.spec))];
}

export function validateReplicationControllerStatusUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateCounts(n.status, ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration'])];
}

// ---------------------------------------------------------------- Job

export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const LEGACY_JOB_NAME_LABEL = 'job-name';
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';

/**
 * validateJobSpec: the counts, completion mode, the template (restartPolicy OnFailure or
 * Never); `requireSelector` for a Job (a CronJob's job template has none until a Job is made).
 */
export function validateJobSpec(spec: Obj, fldPath: string, requireSelector: boolean): Errs {
  const errs: Errs = [];
  for (const f of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished']) {
    errs.push(...nonNegative(spec[f], `${fldPath}.${f}`));
  }
  const mode = spec.completionMode;
  if (mode !== undefined && mode !== null && mode !== 'NonIndexed' && mode !== 'Indexed') {
    errs.push(notSupported(`${fldPath}.completionMode`, mode, ['NonIndexed', 'Indexed']));
  }
  if (mode === 'Indexed' && spec.completions == null) errs.push(required(`${fldPath}.completions`, `when completion mode is Indexed`));
  const prp = spec.podReplacementPolicy;
  if (prp != null && prp !== 'TerminatingOrFailed' && prp !== 'Failed') {
    errs.push(notSupported(`${fldPath}.podReplacementPolicy`, prp, ['Failed', 'TerminatingOrFailed']));
  }
  let matchErrs: Errs = [];
  const sel = spec.selector;
  if (!isObj(sel)) {
    if (requireSelector) errs.push(required(`${fldPath}.selector`));
  } else {
    errs.push(...validateLabelSelector(sel, `${fldPath}.selector`));
    if (isObj(spec.template)) matchErrs = selectorMatchesTemplate(sel, spec.template, `${fldPath}.template`);
  }
  const template = spec.template;
  if (!isObj(template)) {
    errs.push(required(`${fldPath}.template`));
    return errs;
  }
  errs.push(...matchErrs, ...validatePodTemplateSpec(template, `${fldPath}.template`));
  const rp = str(obj(template.spec).restartPolicy);
  if (rp !== 'OnFailure' && rp !== 'Never') errs.push(notSupported(`${fldPath}.template.spec.restartPolicy`, rp, ['OnFailure', 'Never']));
  return errs;
}

/** ValidateGeneratedSelector: the labels the server generated must be intact. */
function validateGeneratedSelector(job: Obj): Errs {
  const spec = obj(job.spec);
  if (spec.manualSelector === true) return [];
  const m = obj(job.metadata);
  const labels = obj(obj(obj(spec.template).metadata).labels);
  const errs: Errs = [];
  const uid = str(m.uid);
  if (!uid) return errs;
  for (const [label, want] of [
    [CONTROLLER_UID_LABEL, uid],
    [LEGACY_CONTROLLER_UID_LABEL, uid],
    [JOB_NAME_LABEL, str(m.name)],
    [LEGACY_JOB_NAME_LABEL, str(m.name)],
  ] as const) {
    const have = labels[label];
    if (have === undefined) continue;
    if (have !== want) errs.push(invalid(`spec.template.metadata.labels[${label}]`, have, `must be '${want}'`));
  }
  const selUid = obj(obj(spec.selector).matchLabels)[CONTROLLER_UID_LABEL];
  if (selUid !== undefined && selUid !== uid) errs.push(invalid(`spec.selector.matchLabels[${CONTROLLER_UID_LABEL}]`, selUid, `must be '${uid}'`));
  return errs;
}

export function validateJob(job: Obj): Errs {
  return [...meta(job), ...validateGeneratedSelector(job), ...validateJobSpec(obj(job.spec), 'spec', true)];
}

export function validateJobUpdate(n: Obj, o: Obj): Errs {
  const errs = [...metaUpdate(n, o), ...validateJobSpec(obj(n.spec), 'spec', true)];
  const ns = obj(n.spec);
  const os = obj(o.spec);
  errs.push(...immutableSelector(ns.selector, os.selector, 'spec.selector'));
  for (const f of ['completions', 'completionMode', 'podFailurePolicy', 'backoffLimitPerIndex', 'manualSelector']) {
    if (!semanticEqual(ns[f], os[f])) errs.push(invalid(`spec.${f}`, ns[f] ?? null, FIELD_IMMUTABLE));
  }
  // the template may change only while the Job is suspended (and never started); podbay has
  // no Job controller yet, so "suspended" is what the spec says
  if (!semanticEqual(ns.template, os.template) && os.suspend !== true) {
    errs.push(invalid('spec.template', ns.template ?? null, FIELD_IMMUTABLE));
  }
  return errs;
}

export function validateJobStatusUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateCounts(n.status, ['active', 'succeeded', 'failed', 'ready', 'terminating'])];
}

// ---------------------------------------------------------------- CronJob

/** the names and ranges of a standard 5-field cron schedule (robfig/cron's standard parser) */
const CRON_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];
const CRON_DESCRIPTORS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** robfig/cron's parse error for a schedule, or undefined when it parses */
export function cronScheduleError(schedule: string): string | undefined {
  let s = schedule.trim();
  if (s.startsWith('TZ=') || s.startsWith('CRON_TZ=')) {
    const i = s.indexOf(' ');
    s = i < 0 ? '' : s.slice(i + 1).trim();
  }
  if (s.startsWith('@')) {
    if (CRON_DESCRIPTORS.includes(s)) return undefined;
    if (s.startsWith('@every ')) return /^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))*$/.test(s.slice(7).trim()) ? undefined : `failed to parse duration ${s}`;
    return `unrecognized descriptor: ${s}`;
  }
  const fields = s.split(/\s+/).filter(Boolean);
  if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`;
  for (let i = 0; i < 5; i++) {
    const f = CRON_FIELDS[i]!;
    for (const part of fields[i]!.split(',')) {
      const [rangePart, step, extra] = part.split('/');
      if (extra !== undefined) return `too many slashes: ${part}`;
      if (step !== undefined && !/^\d+$/.test(step)) return `failed to parse int from ${step}: strconv.Atoi: parsing ${JSON.stringify(step)}: invalid syntax`;
      if (rangePart === '*' || rangePart === '?') continue;
      const bounds = rangePart!.split('-');
      if (bounds.length > 2) return `too many hyphens: ${rangePart}`;
      const nums: number[] = [];
      for (const b of bounds) {
        const named = f.names?.indexOf(b.toLowerCase()) ?? -1;
        if (named >= 0) nums.push(named + (f.min === 1 ? 1 : 0));
        else if (/^\d+$/.test(b)) nums.push(Number(b));
        else return `failed to parse int from ${b}: strconv.Atoi: parsing ${JSON.stringify(b)}: invalid syntax`;
      }
      const [lo, hi = lo] = nums as [number, number?];
      if (lo! < f.min) return `beginning of range (${lo}) below minimum (${f.min}): ${rangePart}`;
      if (hi! > f.max) return `end of range (${hi}) above maximum (${f.max}): ${rangePart}`;
      if (lo! > hi!) return `beginning of range (${lo}) beyond end of range (${hi}): ${rangePart}`;
    }
  }
  return undefined;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** a CronJob's name becomes its Jobs' prefix (name-<11 digits>), so it is limited to 52 characters */
const CRONJOB_NAME_MAX = 52;

export function validateCronJobSpec(spec: Obj, fldPath = 'spec'): Errs {
  const errs: Errs = [];
  const schedule = str(spec.schedule);
  if (!schedule) errs.push(required(`${fldPath}.schedule`));
  else {
    const e = cronScheduleError(schedule);
    if (e) errs.push(invalid(`${fldPath}.schedule`, schedule, e));
    else if (/^(CRON_)?TZ=/.test(schedule.trim())) {
      errs.push(invalid(`${fldPath}.schedule`, schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
    }
  }
  const cp = str(spec.concurrencyPolicy);
  if (!['Allow', 'Forbid', 'Replace'].includes(cp)) errs.push(notSupported(`${fldPath}.concurrencyPolicy`, cp, ['Allow', 'Forbid', 'Replace']));
  errs.push(...nonNegative(spec.startingDeadlineSeconds, `${fldPath}.startingDeadlineSeconds`));
  errs.push(...nonNegative(spec.successfulJobsHistoryLimit, `${fldPath}.successfulJobsHistoryLimit`));
  errs.push(...nonNegative(spec.failedJobsHistoryLimit, `${fldPath}.failedJobsHistoryLimit`));
  if (typeof spec.timeZone === 'string') {
    const tz = spec.timeZone;
    if (tz === '' || tz.toLowerCase() === 'local' || !validTimeZone(tz)) errs.push(invalid(`${fldPath}.timeZone`, tz, `unknown time zone ${tz}`));
  }
  const jt = obj(spec.jobTemplate);
  errs.push(...validateLabels(obj(jt.metadata).labels, `${fldPath}.jobTemplate.metadata.labels`));
  errs.push(...validateAnnotations(obj(jt.metadata).annotations, `${fldPath}.jobTemplate.metadata.annotations`));
  errs.push(...validateJobSpec(obj(jt.spec), `${fldPath}.jobTemplate.spec`, false));
  return errs;
}

export function validateCronJob(cj: Obj): Errs {
  const errs = [...meta(cj), ...validateCronJobSpec(obj(cj.spec))];
  const name = str(obj(cj.metadata).name);
  if (name.length > CRONJOB_NAME_MAX) errs.push(invalid('metadata.name', name, `must be no more than ${CRONJOB_NAME_MAX} characters`));
  return errs;
}

export function validateCronJobUpdate(n: Obj, o: Obj): Errs {
  return [...metaUpdate(n, o), ...validateCronJobSpec(obj(n.spec))];
}
