/**
 * podbay's admission-time validation of core/v1 objects, after kube-apiserver's
 * pkg/apis/core/validation. Objects are plain v1 JSON, defaulted first (../defaults).
 *
 *   const errs = validateCreate('Pod', pod);
 *   if (errs.length) throw invalidObject('Pod', pod.metadata.name, errs);
 */
import { type Obj, type ValidationError, obj } from './field.js';
import { validateObjectMetaUpdate } from './meta.js';
import * as R from './rbac.js';
import {
  validateConfigMap,
  validateConfigMapUpdate,
  validateEvent,
  validateEventUpdate,
  validateNamespace,
  validateNamespaceStatusUpdate,
  validateNamespaceUpdate,
  validateNode,
  validateNodeUpdate,
  validateSecret,
  validateSecretUpdate,
} from './core.js';
import { validateBinding, validatePodCreate, validatePodStatusUpdate, validatePodUpdate } from './pod.js';
import * as W from './workloads.js';
import * as S from './storage-policy.js';
import { validateService, validateServiceUpdate } from './service.js';
import { validateNetworkPolicy, validateNetworkPolicyUpdate } from './network-policy.js';
import * as I from './ingress.js';
import * as H from './webhooks.js';
import * as C from './certificates.js';
import { validateEndpointSlice, validateEndpointSliceUpdate, validateEndpoints, validateEndpointsUpdate } from './endpoints.js';

export * from './field.js';
export * from './names.js';
export * from './quantity.js';
export {
  FIELD_IMMUTABLE,
  TOTAL_ANNOTATION_SIZE_LIMIT,
  resourceVersionRequiredForUpdate,
  validateAnnotations,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
  validateOwnerReferences,
} from './meta.js';
export { validateResourceRequirements } from './resources.js';
export {
  UPDATABLE_POD_SPEC_FIELDS,
  VOLUME_SOURCES,
  validateBinding,
  validatePodCreate,
  validatePodSpec,
  validatePodStatusUpdate,
  validatePodUpdate,
  validateTolerations,
} from './pod.js';
export { MAX_SECRET_SIZE, decodeBase64 } from './core.js';
export { validatePodEphemeralContainersUpdate } from './pod-ephemeral.js';

type CreateFn = (o: Obj) => ValidationError[];
type UpdateFn = (n: Obj, o: Obj) => ValidationError[];

const CREATE: Record<string, CreateFn> = {
  Pod: validatePodCreate,
  Namespace: validateNamespace,
  ConfigMap: validateConfigMap,
  Secret: validateSecret,
  Event: validateEvent,
  Node: validateNode,
  Binding: validateBinding,
  Deployment: W.validateDeployment,
  ReplicaSet: W.validateReplicaSet,
  StatefulSet: W.validateStatefulSet,
  DaemonSet: W.validateDaemonSet,
  ControllerRevision: W.validateControllerRevision,
  ReplicationController: W.validateReplicationController,
  Job: W.validateJob,
  CronJob: W.validateCronJob,
  PersistentVolume: S.validatePersistentVolume,
  PersistentVolumeClaim: S.validatePersistentVolumeClaim,
  StorageClass: S.validateStorageClass,
  PodDisruptionBudget: S.validatePodDisruptionBudget,
  Lease: S.validateLease,
  ServiceAccount: S.validateServiceAccount,
  Role: R.validateRole,
  ClusterRole: R.validateClusterRole,
  RoleBinding: R.validateRoleBinding,
  ClusterRoleBinding: R.validateClusterRoleBinding,
  Service: validateService,
  Endpoints: validateEndpoints,
  EndpointSlice: validateEndpointSlice,
  NetworkPolicy: validateNetworkPolicy,
  Ingress: I.validateIngress,
  IngressClass: I.validateIngressClass,
  MutatingWebhookConfiguration: H.validateMutatingWebhookConfiguration,
  ValidatingWebhookConfiguration: H.validateValidatingWebhookConfiguration,
  CertificateSigningRequest: C.validateCertificateSigningRequest,
};

const UPDATE: Record<string, UpdateFn> = {
  Pod: validatePodUpdate,
  Namespace: validateNamespaceUpdate,
  ConfigMap: validateConfigMapUpdate,
  Secret: validateSecretUpdate,
  Event: validateEventUpdate,
  Node: validateNodeUpdate,
  Deployment: W.validateDeploymentUpdate,
  ReplicaSet: W.validateReplicaSetUpdate,
  StatefulSet: W.validateStatefulSetUpdate,
  DaemonSet: W.validateDaemonSetUpdate,
  ControllerRevision: W.validateControllerRevisionUpdate,
  ReplicationController: W.validateReplicationControllerUpdate,
  Job: W.validateJobUpdate,
  CronJob: W.validateCronJobUpdate,
  PersistentVolume: S.validatePersistentVolumeUpdate,
  PersistentVolumeClaim: S.validatePersistentVolumeClaimUpdate,
  StorageClass: S.validateStorageClassUpdate,
  PodDisruptionBudget: S.validatePodDisruptionBudgetUpdate,
  Lease: S.validateLeaseUpdate,
  ServiceAccount: S.validateServiceAccountUpdate,
  Role: R.validateRoleUpdate,
  ClusterRole: R.validateClusterRoleUpdate,
  RoleBinding: R.validateRoleBindingUpdate,
  ClusterRoleBinding: R.validateClusterRoleBindingUpdate,
  Service: validateServiceUpdate,
  Endpoints: validateEndpointsUpdate,
  EndpointSlice: validateEndpointSliceUpdate,
  NetworkPolicy: validateNetworkPolicyUpdate,
  Ingress: I.validateIngressUpdate,
  IngressClass: I.validateIngressClassUpdate,
  MutatingWebhookConfiguration: H.validateMutatingWebhookConfigurationUpdate,
  ValidatingWebhookConfiguration: H.validateValidatingWebhookConfigurationUpdate,
  CertificateSigningRequest: C.validateCertificateSigningRequestUpdate,
};

/** a status update may change only status: what the spec rules would say is not re-checked */
const metaOnly: UpdateFn = (n, o) => validateObjectMetaUpdate(n.metadata, o.metadata);

const STATUS_UPDATE: Record<string, UpdateFn> = {
  Pod: validatePodStatusUpdate,
  Namespace: validateNamespaceStatusUpdate,
  // Node status updates go through the same checks as spec updates upstream.
  Node: validateNodeUpdate,
  Deployment: W.validateDeploymentStatusUpdate,
  ReplicaSet: W.validateReplicaSetStatusUpdate,
  StatefulSet: W.validateStatefulSetStatusUpdate,
  DaemonSet: W.validateDaemonSetStatusUpdate,
  ReplicationController: W.validateReplicationControllerStatusUpdate,
  Job: W.validateJobStatusUpdate,
  CronJob: metaOnly,
  PersistentVolume: metaOnly,
  PersistentVolumeClaim: metaOnly,
  PodDisruptionBudget: metaOnly,
  Service: metaOnly,
  Ingress: I.validateIngressStatusUpdate,
  CertificateSigningRequest: C.validateCertificateSigningRequestStatusUpdate,
};

/** the approval subresource's own rules (certificatesigningrequests/approval) */
const APPROVAL_UPDATE: Record<string, UpdateFn> = {
  CertificateSigningRequest: C.validateCertificateSigningRequestApprovalUpdate,
};

/** Kinds validateCreate knows; any other kind validates to no errors. */
export const VALIDATED_KINDS = Object.keys(CREATE);

/** Errors for an object about to be created (after defaulting). Unknown kinds yield []. */
export function validateCreate(kind: string, object: unknown): ValidationError[] {
  const fn = CREATE[kind];
  return fn ? fn(obj(object)) : [];
}

/** Errors for replacing `oldObject` with `newObject` (main resource, not /status). */
export function validateUpdate(kind: string, newObject: unknown, oldObject: unknown): ValidationError[] {
  const fn = UPDATE[kind];
  return fn ? fn(obj(newObject), obj(oldObject)) : [];
}

/** Errors for a certificatesigningrequests/approval update. */
export function validateApprovalUpdate(kind: string, newObject: unknown, oldObject: unknown): ValidationError[] {
  const fn = APPROVAL_UPDATE[kind];
  return fn ? fn(obj(newObject), obj(oldObject)) : [];
}

/** Errors for a /status update. Kinds without a status-specific rule get validateUpdate's. */
export function validateStatusUpdate(kind: string, newObject: unknown, oldObject: unknown): ValidationError[] {
  const fn = STATUS_UPDATE[kind] ?? UPDATE[kind];
  return fn ? fn(obj(newObject), obj(oldObject)) : [];
}
