/**
 * The shapes every room passes around: an object as the API serves it, a list, the query of a
 * list or a watch, delete options, a watch event. They live here, at the bottom, so that the
 * registry, the API server, the clients and the kubelet can share them without importing each
 * other just for a type.
 *
 * Objects stay loosely typed at this level (`Obj`): the registry is generic over every kind and
 * reads only metadata. Code that knows its kind narrows with the `kubernetes-types` interfaces
 * (`Typed<Pod>`), which name the fields but still allow what a stored object may carry.
 */
import type { ListMeta, ObjectMeta } from 'kubernetes-types/meta/v1.js';

/** An object as decoded from JSON: any kind, fields unchecked. */
export type Obj = Record<string, any>;

/** Anything with object metadata: an `Obj`, or a kind from kubernetes-types (`Pod`, `Namespace` ...). */
export interface KubeObject {
  metadata?: ObjectMeta;
}

/**
 * A kind from kubernetes-types as the server returns it: metadata present, with the fields the
 * server always sets (name, uid, resourceVersion, creationTimestamp).
 */
export type Typed<T extends { metadata?: ObjectMeta }> = T & {
  metadata: ObjectMeta & { name: string; uid: string; resourceVersion: string; creationTimestamp: string };
};

/** A list as the API serves it (PodList, NamespaceList, ...). */
export interface ObjList<T = Obj> {
  kind: string;
  apiVersion: string;
  metadata: ListMeta & { resourceVersion: string };
  items: T[];
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface WatchQuery extends ListQuery {
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
}

/** what the HTTP edge tells the registry's admission about a write: who asks, where warnings go */
export interface AdmissionRequestContext {
  user?: import('./rbac.js').UserInfo;
  /** the webhooks' warnings, sent back as Warning headers */
  warnings?: string[];
  /**
   * may the request's user do this (the authorizer, for the built-in admission plugins that
   * ask it: CertificateApproval, CertificateSigning)? Absent for the server's own writes.
   */
  authorize?: (a: AdmissionAuthorization) => Promise<boolean>;
}

/** what an admission plugin asks the authorizer: a verb on a (virtual) resource's name */
export interface AdmissionAuthorization {
  verb: string;
  apiGroup: string;
  resource: string;
  name: string;
}

/**
 * How the webhooks see a subresource write whose object is not the stored kind (kube's
 * scale subresource: the review carries an autoscaling/v1 Scale, subResource "scale", and
 * rules on the main resource do not match it).
 */
export interface AdmissionView {
  subResource: string;
  kind: { group: string; version: string; kind: string };
  /** the stored object as the subresource shows it */
  show(obj: Obj): Obj;
  /** what a mutating webhook made of the shown object, written back into the stored one */
  apply(obj: Obj, shown: Obj): Obj;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** the subresource the webhooks see this write as (see AdmissionView) */
  view?: AdmissionView;
  /** the request's user and warning sink, for admission webhooks (in-process writers leave it out) */
  admission?: AdmissionRequestContext;
  /**
   * who writes, for metadata.managedFields: the request's fieldManager, else the User-Agent's
   * first word (kubectl, kubelet ...), as kube-apiserver names managers
   */
  fieldManager?: string;
}

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  /** deprecated form of propagationPolicy Orphan (true) / Background (false) */
  orphanDependents?: boolean;
}

/** One event of a watch stream; ERROR carries a metav1.Status (410 Expired when the revision is compacted). */
export type WatchEventOut =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: Obj }
  | { type: 'ERROR'; object: Obj };
