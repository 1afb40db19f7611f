/**
 * What the kubelet's parts need from the API, as a narrow interface (unit tests fake it), and its
 * one implementation over the client contract (src/client/types.ts): in-process or over HTTPS
 * alike, the kubelet never sees the registry or the API server. (The pods bound here come from
 * an informer on the same client, see kubelet.ts.)
 */
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import type { Client } from '../client/types.js';
import { TokenManager } from './token-manager.js';

export interface KubeletClient {
  getPod(namespace: string, name: string): Promise<Obj | undefined>;
  /** PUT pods/status with the pod's resourceVersion; throws ApiError Conflict when stale */
  updatePodStatus(pod: Obj): Promise<Obj>;
  /** the node's confirmation that a terminating pod is gone: delete with grace 0 and the UID as precondition */
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
  getConfigMap(namespace: string, name: string): Promise<Obj | undefined>;
  getSecret(namespace: string, name: string): Promise<Obj | undefined>;
  /** a projected serviceAccountToken's token for the pod (token-manager.ts caches and refreshes) */
  serviceAccountToken(pod: Obj, projection: Obj): Promise<string>;
  /** the pod is gone: drop its cached tokens */
  forgetTokens(podUid: string): void;
  getPersistentVolumeClaim(namespace: string, name: string): Promise<Obj | undefined>;
  getPersistentVolume(name: string): Promise<Obj | undefined>;
}

const PODS = resourceInfo('pods')!;
const CONFIGMAPS = resourceInfo('configmaps')!;
const SECRETS = resourceInfo('secrets')!;
const CLAIMS = resourceInfo('persistentvolumeclaims')!;
const VOLUMES = resourceInfo('persistentvolumes')!;

export function kubeletClient(client: Client): KubeletClient {
  const pods = client.resource(PODS);
  const tokens = new TokenManager(async (ns, sa, req) => {
    if (!client.createToken) throw new Error('the API client cannot request service account tokens');
    return client.createToken(ns, sa, req);
  });
  return {
    getPod: (namespace, name) => pods.tryGet(namespace, name),
    updatePodStatus: (pod) => pods.update(pod, { sub: 'status' }),
    async deletePod(namespace, name, uid) {
      try {
        await pods.delete(namespace, name, { gracePeriodSeconds: 0, preconditions: { uid } });
      } catch (e) {
        if (!(e instanceof ApiError && (e.reason === 'NotFound' || e.reason === 'Conflict'))) throw e;
      }
    },
    getConfigMap: (namespace, name) => client.resource(CONFIGMAPS).tryGet(namespace, name),
    getSecret: (namespace, name) => client.resource(SECRETS).tryGet(namespace, name),
    serviceAccountToken: (pod, projection) => tokens.token(pod, projection),
    forgetTokens: (uid) => tokens.forgetPod(uid),
    getPersistentVolumeClaim: (namespace, name) => client.resource(CLAIMS).tryGet(namespace, name),
    getPersistentVolume: (name) => client.resource(VOLUMES).tryGet(undefined, name),
  };
}
