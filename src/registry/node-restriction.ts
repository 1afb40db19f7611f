/**
 * kube-apiserver's NodeRestriction admission (plugin/pkg/admission/noderestriction), for writes
 * by a node (user system:node:NAME in system:nodes): the Node authorizer lets every node write
 * nodes, pods and leases; this confines each one to its own.
 *
 *   pods          create: mirror pods only (annotation kubernetes.io/config.mirror), bound to
 *                 itself, naming no Secret, ConfigMap, claim or service account;
 *                 delete: pods bound to itself; any other write of the pod: refused
 *   pods/status   pods bound to itself
 *   nodes         its own Node only; not its taints, nor labels under node-restriction.kubernetes.io/
 *   leases        kube-node-lease/NAME only
 *
 * Pure: the write's attributes in, the Forbidden (worded as upstream's admission.NewForbidden)
 * or undefined out. Run by the registry with the validating webhooks, for every caller.
 */
import { ApiError } from '../api/errors.js';
import type { Obj } from '../api/types.js';
import { nodeIdentity, podReferences } from '../api/node-graph.js';
import type { AdmissionAttributes } from './webhooks/types.js';

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** labels a node may never set on itself (upstream's node-restriction.kubernetes.io/ prefix) */
const RESTRICTED_LABEL_PREFIX = 'node-restriction.kubernetes.io/';

/** admission.NewForbidden: `RESOURCE "NAME" is forbidden: WHY` (the certificate plugins' too) */
export function admissionForbidden(a: AdmissionAttributes, why: string): ApiError {
  const name = a.name || a.object?.metadata?.name || '';
  const resource = a.r.group ? `${a.r.resource}.${a.r.group}` : a.r.resource;
  const message = name ? `${resource} ${JSON.stringify(name)} is forbidden: ${why}` : `${resource} is forbidden: ${why}`;
  return new ApiError(403, 'Forbidden', message, { name: name || undefined, group: a.r.group || undefined, kind: a.r.resource });
}

const forbidden = admissionForbidden;

const stableJson = (v: unknown) => JSON.stringify(v ?? []);

export function nodeRestriction(a: AdmissionAttributes): ApiError | undefined {
  const node = nodeIdentity(a.user);
  if (node === undefined) return undefined;
  if (node === '') return forbidden(a, `could not determine node from user ${JSON.stringify(a.user.username)}`);
  const gr = `${a.r.group}/${a.r.resource}`;
  if (gr === '/pods') return a.subResource === 'status' ? podStatus(node, a) : a.subResource === '' ? pod(node, a) : undefined;
  if (gr === '/nodes') return nodeWrite(node, a);
  if (gr === 'coordination.k8s.io/leases') return lease(node, a);
  return undefined;
}

function pod(node: string, a: AdmissionAttributes): ApiError | undefined {
  if (a.operation === 'CREATE') {
    const p = a.object ?? {};
    if (!(MIRROR_POD_ANNOTATION in (p.metadata?.annotations ?? {}))) {
      return forbidden(a, `pod does not have ${JSON.stringify(MIRROR_POD_ANNOTATION)} annotation, node ${JSON.stringify(node)} can only create mirror pods`);
    }
    if (p.spec?.nodeName !== node) return forbidden(a, `node ${JSON.stringify(node)} can only create pods with spec.nodeName set to itself`);
    const owners: Obj[] = p.metadata?.ownerReferences ?? [];
    if (owners.length > 1) return forbidden(a, `node ${JSON.stringify(node)} can only create pods with a single owner reference set to itself`);
    if (owners.length === 1 && !(owners[0].kind === 'Node' && owners[0].name === node && owners[0].apiVersion === 'v1')) {
      return forbidden(a, `node ${JSON.stringify(node)} can only create pods with an owner reference set to itself`);
    }
    const refs = podReferences(p);
    if (p.spec?.serviceAccountName) return forbidden(a, `node ${JSON.stringify(node)} can not create pods that reference a service account`);
    if (refs.secrets.size) return forbidden(a, `node ${JSON.stringify(node)} can not create pods that reference secrets`);
    if (refs.configmaps.size) return forbidden(a, `node ${JSON.stringify(node)} can not create pods that reference configmaps`);
    if (refs.claims.size) return forbidden(a, `node ${JSON.stringify(node)} can not create pods that reference persistentvolumeclaims`);
    return undefined;
  }
  if (a.operation === 'DELETE') {
    if (a.oldObject?.spec?.nodeName !== node) return forbidden(a, `node ${JSON.stringify(node)} can only delete pods with spec.nodeName set to itself`);
    return undefined;
  }
  return forbidden(a, `unexpected operation ${JSON.stringify(a.operation)}, node ${JSON.stringify(node)} can only create and delete mirror pods`);
}

function podStatus(node: string, a: AdmissionAttributes): ApiError | undefined {
  if (a.operation !== 'UPDATE') return forbidden(a, `unexpected operation ${JSON.stringify(a.operation)}`);
  if (a.oldObject?.spec?.nodeName !== node) return forbidden(a, `node ${JSON.stringify(node)} can only update pod status for pods with spec.nodeName set to itself`);
  return undefined;
}

function nodeWrite(node: string, a: AdmissionAttributes): ApiError | undefined {
  const requested = a.name || a.object?.metadata?.name || '';
  if (requested !== node) return forbidden(a, `node ${JSON.stringify(node)} is not allowed to modify node ${JSON.stringify(requested)}`);
  const labels = (o: Obj | null) => (o?.metadata?.labels ?? {}) as Record<string, string>;
  const changed = (now: Record<string, string>, before: Record<string, string>) =>
    [...new Set([...Object.keys(now), ...Object.keys(before)])].filter((k) => now[k] !== before[k]);
  if (a.operation === 'CREATE') {
    const bad = Object.keys(labels(a.object)).filter((k) => k.startsWith(RESTRICTED_LABEL_PREFIX)).sort();
    if (bad.length) return forbidden(a, `node ${JSON.stringify(node)} is not allowed to set the following labels: ${bad.join(', ')}`);
  }
  if (a.operation === 'UPDATE' && a.subResource === '') {
    // its taints are the control plane's (and the admin's): a node that could drop them could draw any pod
    if (stableJson(a.object?.spec?.taints) !== stableJson(a.oldObject?.spec?.taints)) return forbidden(a, `node ${JSON.stringify(node)} is not allowed to modify taints`);
    const bad = changed(labels(a.object), labels(a.oldObject)).filter((k) => k.startsWith(RESTRICTED_LABEL_PREFIX)).sort();
    if (bad.length) return forbidden(a, `is not allowed to modify labels: ${bad.join(', ')}`);
  }
  return undefined;
}

function lease(node: string, a: AdmissionAttributes): ApiError | undefined {
  if (a.namespace !== NODE_LEASE_NAMESPACE) return forbidden(a, `can only access leases in the ${JSON.stringify(NODE_LEASE_NAMESPACE)} system namespace`);
  const name = a.operation === 'CREATE' ? a.object?.metadata?.name : a.name;
  if (name !== node) return forbidden(a, 'can only access node lease with the same name as the requesting node');
  return undefined;
}

/**
 * A node's TokenRequest (serviceaccounts/NAME/token) must be bound to a pod of its own, named
 * with its uid (admitServiceAccount): a node mints no free-standing token for an account, and
 * none that outlives the pod. `pod`: the pod the request names, undefined when none.
 */
export function tokenRequestRestriction(node: string, account: string, request: Obj, pod: Obj | undefined): ApiError | undefined {
  const a = { r: { resource: 'serviceaccounts', group: '' }, name: account } as AdmissionAttributes;
  const ref = request.spec?.boundObjectRef;
  if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || !ref.name) return forbidden(a, 'node requested token not bound to a pod');
  if (!ref.uid) return forbidden(a, 'node requested token with a pod binding without a uid');
  if (!pod) return undefined; // the caller answers the pod's NotFound, as upstream
  if (ref.uid !== pod.metadata?.uid) return forbidden(a, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
  if (pod.spec?.nodeName !== node) return forbidden(a, 'node requested token bound to a pod scheduled on a different node');
  return undefined;
}
