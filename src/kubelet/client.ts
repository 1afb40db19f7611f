/**
 * What the kubelet needs from the API, as an interface: the in-process implementation below
 * talks to the resource service directly (no HTTP, no serialization), and another one could
 * talk to any Kubernetes API server.
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Obj, WatchEventOut } from '../api/types.js';
import type { Registry } from '../registry/index.js';

export interface KubeletClient {
  getPod(namespace: string, name: string): Promise<Obj | undefined>;
  listPods(fieldSelector: string): Promise<{ items: Obj[]; resourceVersion: string }>;
  watchPods(fieldSelector: string, resourceVersion: string, onEvent: (ev: WatchEventOut) => void): Promise<{ cancel(): void }>;
  /** PUT pods/status with the pod's resourceVersion; throws ApiError Conflict when stale */
  updatePodStatus(pod: Obj): Promise<Obj>;
  /** the node's confirmation that a terminating pod is gone: delete with grace 0 and the UID as precondition */
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
  bindPod(namespace: string, name: string, nodeName: string): Promise<void>;
  getConfigMap(namespace: string, name: string): Promise<Obj | undefined>;
  getSecret(namespace: string, name: string): Promise<Obj | undefined>;
  getNode(name: string): Promise<Obj | undefined>;
  createEvent(namespace: string, event: Obj): Promise<Obj>;
  updateEvent(namespace: string, event: Obj): Promise<Obj>;
}

const PODS = resourceInfo('pods')!;
const CONFIGMAPS = resourceInfo('configmaps')!;
const SECRETS = resourceInfo('secrets')!;
const EVENTS = resourceInfo('events')!;
const NODES = resourceInfo('nodes')!;

export class LocalClient implements KubeletClient {
  constructor(private readonly svc: Registry) {}

  getPod(namespace: string, name: string): Promise<Obj | undefined> {
    return this.svc.tryGet(PODS, namespace, name);
  }

  async listPods(fieldSelector: string): Promise<{ items: Obj[]; resourceVersion: string }> {
    const list = await this.svc.list(PODS, undefined, { fieldSelector });
    return { items: list.items, resourceVersion: list.metadata.resourceVersion };
  }

  async watchPods(fieldSelector: string, resourceVersion: string, onEvent: (ev: WatchEventOut) => void) {
    return this.svc.watch(PODS, undefined, { fieldSelector, resourceVersion }, onEvent, () => {});
  }

  updatePodStatus(pod: Obj): Promise<Obj> {
    return this.svc.update(PODS, pod.metadata.namespace, pod.metadata.name, pod, { sub: 'status' });
  }

  async deletePod(namespace: string, name: string, uid: string): Promise<void> {
    try {
      await this.svc.delete(PODS, namespace, name, { gracePeriodSeconds: 0, preconditions: { uid } });
    } catch (e) {
      if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict'))) throw e;
    }
  }

  bindPod(namespace: string, name: string, nodeName: string): Promise<void> {
    return this.svc.bind(namespace, name, { metadata: { name }, target: { kind: 'Node', name: nodeName } });
  }

  getConfigMap(namespace: string, name: string) {
    return this.svc.tryGet(CONFIGMAPS, namespace, name);
  }

  getSecret(namespace: string, name: string) {
    return this.svc.tryGet(SECRETS, namespace, name);
  }

  getNode(name: string) {
    return this.svc.tryGet(NODES, undefined, name);
  }

  createEvent(namespace: string, event: Obj) {
    return this.svc.create(EVENTS, namespace, event);
  }

  updateEvent(namespace: string, event: Obj) {
    return this.svc.update(EVENTS, namespace, event.metadata.name, event);
  }
}
