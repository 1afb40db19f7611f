/**
 * The edges the Node authorizer and the NodeRestriction admission follow, pure: which node a
 * user is, and what a pod references (the objects a kubelet needs to run it).
 */
import type { UserInfo } from './rbac.js';
import type { Obj } from './types.js';
import { NODE_USER_PREFIX, NODES_GROUP } from './csr.js';

/**
 * NodeIdentity: the node a user is, '' for a member of system:nodes without a system:node:
 * name (an unidentifiable node), undefined for anyone else
 */
export function nodeIdentity(user: UserInfo): string | undefined {
  if (!user.groups.includes(NODES_GROUP)) return undefined;
  return user.username.startsWith(NODE_USER_PREFIX) ? user.username.slice(NODE_USER_PREFIX.length) : '';
}

/** what a pod references, by kind (upstream's graph_populator: the edges from a pod) */
export interface PodReferences {
  secrets: Set<string>;
  configmaps: Set<string>;
  claims: Set<string>;
  serviceAccounts: Set<string>;
}

/** every Secret, ConfigMap, claim and account a pod names (podutil.VisitPodSecretNames and its siblings) */
export function podReferences(pod: Obj): PodReferences {
  const out: PodReferences = { secrets: new Set(), configmaps: new Set(), claims: new Set(), serviceAccounts: new Set() };
  const spec = pod.spec ?? {};
  if (spec.serviceAccountName) out.serviceAccounts.add(spec.serviceAccountName);
  for (const s of spec.imagePullSecrets ?? []) if (s?.name) out.secrets.add(s.name);
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
  for (const c of containers) {
    for (const f of c.envFrom ?? []) {
      if (f.secretRef?.name) out.secrets.add(f.secretRef.name);
      if (f.configMapRef?.name) out.configmaps.add(f.configMapRef.name);
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) out.secrets.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef?.name) out.configmaps.add(e.valueFrom.configMapKeyRef.name);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret?.secretName) out.secrets.add(v.secret.secretName);
    if (v.configMap?.name) out.configmaps.add(v.configMap.name);
    for (const s of v.projected?.sources ?? []) {
      if (s.secret?.name) out.secrets.add(s.secret.name);
      if (s.configMap?.name) out.configmaps.add(s.configMap.name);
    }
    if (v.persistentVolumeClaim?.claimName) out.claims.add(v.persistentVolumeClaim.claimName);
    // a generic ephemeral volume's claim is named POD-VOLUME (the ephemeral controller's)
    if (v.ephemeral) out.claims.add(`${pod.metadata?.name}-${v.name}`);
    // volume plugins' credentials (CSI, iSCSI, RBD, ...): any secretRef in the volume
    for (const [k, src] of Object.entries(v)) {
      if (k === 'secret' || k === 'projected' || !src || typeof src !== 'object') continue;
      for (const ref of ['secretRef', 'nodePublishSecretRef']) {
        const name = (src as Obj)[ref]?.name;
        if (typeof name === 'string' && name) out.secrets.add(name);
      }
    }
  }
  return out;
}
