/**
 * The ServiceAccount admission kube-apiserver runs on every pod create
 * (plugin/pkg/admission/serviceaccount): the pod runs as an account of its namespace
 * (`default` when it names none), the account must exist, and unless the pod or the account
 * says automountServiceAccountToken: false, every container (init ones too) gets the projected
 * `kube-api-access-XXXXX` volume at /var/run/secrets/kubernetes.io/serviceaccount: a bound
 * token, the cluster's CA (the kube-root-ca.crt ConfigMap the root CA publisher keeps in every
 * namespace) and the namespace name. A container that already mounts something at that path
 * keeps its own. Mirror pods are left as they are.
 */
import { ApiError } from '../api/errors.js';
import type { Obj } from '../api/types.js';
import { generateSuffix } from './generate-name.js';
import { ADMISSION_TOKEN_EXPIRATION_SECONDS, API_TOKEN_MOUNT_PATH, DEFAULT_SERVICE_ACCOUNT, ROOT_CA_CONFIGMAP } from '../api/service-account.js';
const VOLUME_PREFIX = 'kube-api-access-';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** TokenVolumeSource: the projected source the admission adds, with its defaults written out (#104464) */
export function tokenVolumeSource(): Obj {
  return {
    defaultMode: 0o644,
    sources: [
      { serviceAccountToken: { path: 'token', expirationSeconds: ADMISSION_TOKEN_EXPIRATION_SECONDS } },
      { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
    ],
  };
}

/** shouldAutomount: the pod's word wins, then the account's, then yes */
export function shouldAutomount(sa: Obj, pod: Obj): boolean {
  if (typeof pod.spec?.automountServiceAccountToken === 'boolean') return pod.spec.automountServiceAccountToken;
  if (typeof sa.automountServiceAccountToken === 'boolean') return sa.automountServiceAccountToken;
  return true;
}

/** mountServiceAccountToken: the volume (reused when the pod already has one) and a read-only mount in each container without one at the path */
export function mountServiceAccountToken(pod: Obj, suffix = generateSuffix()): void {
  const spec = pod.spec;
  const volumes: Obj[] = (spec.volumes ??= []);
  const existing = volumes.find((v) => typeof v?.name === 'string' && v.name.startsWith(VOLUME_PREFIX));
  const name: string = existing?.name ?? VOLUME_PREFIX + suffix;
  let needed = false;
  for (const list of [spec.initContainers, spec.containers] as (Obj[] | undefined)[]) {
    for (const c of list ?? []) {
      if ((c.volumeMounts ?? []).some((m: Obj) => m?.mountPath === API_TOKEN_MOUNT_PATH)) continue;
      (c.volumeMounts ??= []).push({ name, readOnly: true, mountPath: API_TOKEN_MOUNT_PATH });
      needed = true;
    }
  }
  if (!existing && needed) volumes.push({ name, projected: tokenVolumeSource() });
  if (!volumes.length) delete spec.volumes;
}

/** how the admission reads an account (undefined: there is none) */
export type AccountLookup = (ns: string, name: string) => Promise<Obj | undefined>;

export interface AdmissionOptions {
  /**
   * How long to wait for `default` in a namespace made a moment ago: the service account
   * controller makes it, and a client creating a namespace and then a pod at once would
   * otherwise race it (kube-apiserver answers 403 then; podbay waits this long first).
   */
  defaultAccountWaitMs?: number;
}

/**
 * The admission's first step, which needs no look-up: a pod that names no account runs as
 * `default` (the deprecated serviceAccount alias follows). The registry runs it before it
 * validates a create, so that a projected serviceAccountToken source in a pod that named no
 * account is valid, as it is behind kube-apiserver's admission. Returns false for a pod the
 * admission leaves alone (a mirror pod, no spec).
 */
export function defaultPodServiceAccount(pod: Obj): boolean {
  if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return false;
  const spec = pod.spec;
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return false;
  if (!spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount || DEFAULT_SERVICE_ACCOUNT;
  // the deprecated alias follows the name, as the defaulting does
  spec.serviceAccount = spec.serviceAccountName;
  return true;
}

/** Admit: default the account, refuse a pod whose account does not exist, mount its token. */
export async function admitPodServiceAccount(pod: Obj, ns: string, lookup: AccountLookup, opts: AdmissionOptions = {}): Promise<void> {
  if (!defaultPodServiceAccount(pod)) return;
  const spec = pod.spec;
  const name: string = spec.serviceAccountName;
  let sa = await lookup(ns, name);
  const waitUntil = Date.now() + (name === DEFAULT_SERVICE_ACCOUNT ? opts.defaultAccountWaitMs ?? 0 : 0);
  while (!sa && Date.now() < waitUntil) {
    await new Promise((r) => setTimeout(r, 50));
    sa = await lookup(ns, name);
  }
  if (!sa) {
    const podName = pod.metadata?.name ?? '';
    throw new ApiError(403, 'Forbidden', `pods "${podName}" is forbidden: error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`, {
      name: podName,
      kind: 'pods',
    });
  }
  if (shouldAutomount(sa, pod)) mountServiceAccountToken(pod);
  if (!(spec.imagePullSecrets ?? []).length && (sa.imagePullSecrets ?? []).length) {
    spec.imagePullSecrets = sa.imagePullSecrets.map((s: Obj) => ({ name: s.name }));
  }
}
