/**
 * Defaulting of core/v1 objects as kube-apiserver applies it on create and update: scheme
 * defaults, the default admission plugins that mutate (Priority, DefaultTolerationSeconds) and
 * the registry strategies' PrepareForCreate. Mutates and returns `obj`.
 */
import { type Obj, isObj, obj, str } from '../validation/index.js';
import { type Operation, defaultPod } from './pod.js';
import * as W from './workloads.js';
import { defaultService } from './service.js';
import { defaultNetworkPolicy } from './network-policy.js';
import { defaultWebhookConfiguration } from './webhooks.js';

export { computeQOSClass, defaultContainer, defaultPod, defaultPodSpec, defaultPullPolicy, defaultVolume, type Operation } from './pod.js';

/** Secret: type Opaque; stringData is merged into data (base64) and never stored. */
export function defaultSecret(secret: Obj): Obj {
  if (!secret.type) secret.type = 'Opaque';
  if (isObj(secret.stringData)) {
    const data: Obj = isObj(secret.data) ? secret.data : {};
    for (const [k, v] of Object.entries(secret.stringData)) data[k] = Buffer.from(str(v), 'utf8').toString('base64');
    secret.data = data;
  }
  delete secret.stringData;
  return secret;
}

/** Namespace: the kubernetes.io/metadata.name label; on create the `kubernetes` finalizer and phase Active. */
export function defaultNamespace(ns: Obj, op: Operation = 'create'): Obj {
  const meta = isObj(ns.metadata) ? ns.metadata : (ns.metadata = {});
  delete meta.namespace; // cluster-scoped: kube-apiserver clears it
  if (str(meta.name)) {
    if (!isObj(meta.labels)) meta.labels = {};
    meta.labels['kubernetes.io/metadata.name'] = meta.name;
  }
  if (op === 'create') {
    const spec = isObj(ns.spec) ? ns.spec : (ns.spec = {});
    const finalizers: string[] = Array.isArray(spec.finalizers) ? spec.finalizers : [];
    if (!finalizers.includes('kubernetes')) finalizers.push('kubernetes');
    spec.finalizers = finalizers;
    ns.status = { phase: 'Active' };
  } else if (isObj(ns.status) && !ns.status.phase) {
    ns.status.phase = 'Active';
  }
  return ns;
}

/** Node: cluster-scoped; status.allocatable defaults to status.capacity. */
export function defaultNode(node: Obj): Obj {
  if (isObj(node.metadata)) delete node.metadata.namespace;
  const status = obj(node.status);
  if (status.allocatable == null && isObj(status.capacity)) status.allocatable = { ...status.capacity };
  return node;
}

/**
 * Applies kube-apiserver's defaults for `kind` to `object` in place and returns it. Kinds without
 * defaults (ConfigMap, Event, unknown kinds) are returned untouched.
 */
export function defaultObject<T>(kind: string, object: T, op: Operation = 'create'): T {
  if (!isObj(object)) return object;
  switch (kind) {
    case 'Pod':
      defaultPod(object, op);
      break;
    case 'Secret':
      defaultSecret(object);
      break;
    case 'Namespace':
      defaultNamespace(object, op);
      break;
    case 'Node':
      defaultNode(object);
      break;
    case 'Deployment':
      W.defaultDeployment(object, op);
      break;
    case 'ReplicaSet':
      W.defaultReplicaSet(object, op);
      break;
    case 'StatefulSet':
      W.defaultStatefulSet(object, op);
      break;
    case 'DaemonSet':
      W.defaultDaemonSet(object, op);
      break;
    case 'ReplicationController':
      W.defaultReplicationController(object, op);
      break;
    case 'Job':
      W.defaultJob(object, op);
      break;
    case 'CronJob':
      W.defaultCronJob(object, op);
      break;
    case 'PersistentVolume':
      W.defaultPersistentVolume(object, op);
      break;
    case 'PersistentVolumeClaim':
      W.defaultPersistentVolumeClaim(object, op);
      break;
    case 'StorageClass':
      W.defaultStorageClass(object);
      break;
    case 'PodDisruptionBudget':
      W.defaultPodDisruptionBudget(object, op);
      break;
    case 'Service':
      defaultService(object, op);
      break;
    case 'NetworkPolicy':
      defaultNetworkPolicy(object);
      break;
    case 'MutatingWebhookConfiguration':
    case 'ValidatingWebhookConfiguration':
      defaultWebhookConfiguration(object as Obj, kind === 'MutatingWebhookConfiguration');
      break;
    case 'ConfigMap': // SetDefaults_ConfigMap only makes an empty map, which is never serialized
    case 'Event':
    default:
      break;
  }
  return object;
}
