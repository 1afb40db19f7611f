/**
 * A hand-written slice of the core/v1 schema (patch metadata as in k8s.io/api/core/v1), used by
 * the patch unit tests until the generated schema set lands.
 */
import type { FieldSchema, SchemaSet } from '../schema-types.js';

const s: FieldSchema = { kind: 'string' };
const i: FieldSchema = { kind: 'integer' };
const b: FieldSchema = { kind: 'boolean' };
const ref = (name: string): FieldSchema => ({ kind: 'object', ref: `io.k8s.api.core.v1.${name}` });
const metaRef: FieldSchema = { kind: 'object', ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' };
const list = (items: FieldSchema, extra: Partial<FieldSchema> = {}): FieldSchema => ({ kind: 'array', items, ...extra });
const strMap: FieldSchema = { kind: 'map', items: s };

function t(name: string, fields: Record<string, FieldSchema>): [string, SchemaSet[string]] {
  return [name, { name, description: '', fields, required: [] }];
}

export const TEST_SCHEMAS: SchemaSet = Object.fromEntries([
  t('io.k8s.api.core.v1.Pod', {
    apiVersion: s,
    kind: s,
    metadata: metaRef,
    spec: ref('PodSpec'),
    status: ref('PodStatus'),
  }),
  t('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', {
    name: s,
    namespace: s,
    labels: strMap,
    annotations: strMap,
    finalizers: list(s, { patchStrategy: 'merge', listType: 'set' }),
    ownerReferences: list({ kind: 'object', ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference' }, { patchMergeKey: 'uid', patchStrategy: 'merge' }),
    resourceVersion: s,
  }),
  t('io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference', { apiVersion: s, kind: s, name: s, uid: s }),
  t('io.k8s.api.core.v1.PodSpec', {
    containers: list(ref('Container'), { patchMergeKey: 'name', patchStrategy: 'merge' }),
    initContainers: list(ref('Container'), { patchMergeKey: 'name', patchStrategy: 'merge' }),
    volumes: list(ref('Volume'), { patchMergeKey: 'name', patchStrategy: 'merge,retainKeys' }),
    nodeSelector: strMap,
    restartPolicy: s,
    nodeName: s,
    hostNetwork: b,
    tolerations: list(ref('Toleration')),
    imagePullSecrets: list(ref('LocalObjectReference'), { patchMergeKey: 'name', patchStrategy: 'merge' }),
  }),
  t('io.k8s.api.core.v1.Toleration', { key: s, operator: s, value: s, effect: s }),
  t('io.k8s.api.core.v1.LocalObjectReference', { name: s }),
  t('io.k8s.api.core.v1.Container', {
    name: s,
    image: s,
    command: list(s),
    args: list(s),
    ports: list(ref('ContainerPort'), { patchMergeKey: 'containerPort', patchStrategy: 'merge', listType: 'map' }),
    env: list(ref('EnvVar'), { patchMergeKey: 'name', patchStrategy: 'merge' }),
    volumeMounts: list(ref('VolumeMount'), { patchMergeKey: 'mountPath', patchStrategy: 'merge' }),
    resources: ref('ResourceRequirements'),
  }),
  t('io.k8s.api.core.v1.ResourceRequirements', {
    limits: { kind: 'map', items: { kind: 'quantity' } },
    requests: { kind: 'map', items: { kind: 'quantity' } },
  }),
  t('io.k8s.api.core.v1.ContainerPort', { name: s, containerPort: i, protocol: s, hostPort: i }),
  t('io.k8s.api.core.v1.EnvVar', { name: s, value: s, valueFrom: { kind: 'any' } }),
  t('io.k8s.api.core.v1.VolumeMount', { name: s, mountPath: s, readOnly: b }),
  t('io.k8s.api.core.v1.Volume', {
    name: s,
    emptyDir: ref('EmptyDirVolumeSource'),
    hostPath: ref('HostPathVolumeSource'),
    configMap: ref('ConfigMapVolumeSource'),
  }),
  t('io.k8s.api.core.v1.EmptyDirVolumeSource', { medium: s, sizeLimit: { kind: 'quantity' } }),
  t('io.k8s.api.core.v1.HostPathVolumeSource', { path: s, type: s }),
  t('io.k8s.api.core.v1.ConfigMapVolumeSource', { name: s, defaultMode: i }),
  t('io.k8s.api.core.v1.PodStatus', {
    phase: s,
    podIP: s,
    conditions: list(ref('PodCondition'), { patchMergeKey: 'type', patchStrategy: 'merge' }),
  }),
  t('io.k8s.api.core.v1.PodCondition', { type: s, status: s }),
]);

export const POD = 'io.k8s.api.core.v1.Pod';
