/**
 * The client contract: how the kubelet, the scheduler and every controller talk to the API, as
 * client-go's dynamic client does. Two implementations: `LocalClient` (in-process, straight to
 * the registry, no serialization) and `HttpsClient` (any Kubernetes API server over HTTPS with a
 * bearer token). Errors are `ApiError`s either way (404 NotFound, 409 Conflict, 410 Expired ...),
 * as the server words them, so a caller handles one set of reasons.
 *
 * Objects are `Obj` on the wire; a caller that knows its kind asks for `resource<Pod>(PODS)` and
 * gets kubernetes-types' shape back (the server has already decoded it against the schema).
 *
 *   resource(r).get / list / watch / create / update / patch / delete
 *   resource(r).update(obj, { sub: 'status' })      the status subresource
 *   resource(NAMESPACES).update(ns, { sub: 'finalize' })   namespaces/NAME/finalize
 *   bind(namespace, pod, node)                      pods/binding
 *   createToken(namespace, account, TokenRequest)   serviceaccounts/NAME/token
 */
import type { ResourceInfo } from '../api/registry.js';
import type { DeleteOptions, ListQuery, Obj, ObjList, WatchEventOut, WatchQuery, WriteOptions } from '../api/types.js';

export type { DeleteOptions, KubeObject, ListQuery, Obj, ObjList, Typed, WatchEventOut, WatchQuery, WriteOptions } from '../api/types.js';

export interface ClientUpdateOptions extends WriteOptions {
  /** write the status subresource instead of the object ('finalize': a namespace's spec.finalizers; 'approval': a CSR's Approved/Denied conditions) */
  sub?: 'status' | 'finalize' | 'approval';
}

/** The patch types kube-apiserver takes (server-side apply is not served by podbay). */
export type PatchType = 'application/merge-patch+json' | 'application/strategic-merge-patch+json' | 'application/json-patch+json';

export interface WatchHandlers {
  /** each event in order; ERROR carries a metav1.Status (410 Expired: relist) */
  event(ev: WatchEventOut): void;
  /** the stream ended (timeout, server closing, connection lost: `err` says which when known) */
  end?(err?: Error): void;
  /**
   * The handler never modifies the objects it gets: the in-process client may then hand it one
   * deep-frozen object per change, shared with the other such watchers, instead of decoding a
   * copy for each (a write to it throws). Over HTTPS each watcher decodes its own anyway.
   */
  readOnly?: boolean;
}

export interface Watch {
  /** stop the stream; `end` is not called for a cancelled watch */
  cancel(): void;
}

/** One kind's verbs. `ns` is ignored for cluster-scoped kinds; undefined lists all namespaces. */
export interface ResourceClient<T = Obj> {
  get(ns: string | undefined, name: string): Promise<T>;
  /** get, with undefined for 404 */
  tryGet(ns: string | undefined, name: string): Promise<T | undefined>;
  list(ns: string | undefined, q?: ListQuery): Promise<ObjList<T>>;
  watch(ns: string | undefined, q: WatchQuery, handlers: WatchHandlers): Promise<Watch>;
  create(ns: string | undefined, obj: T | Obj, opts?: WriteOptions): Promise<T>;
  /** PUT of `obj` (its metadata.name, namespace and resourceVersion say which and when) */
  update(obj: T | Obj, opts?: ClientUpdateOptions): Promise<T>;
  patch(ns: string | undefined, name: string, type: PatchType, patch: unknown, opts?: ClientUpdateOptions): Promise<T>;
  /** the object as it is after the delete (marked for deletion, or as it was when removed) */
  delete(ns: string | undefined, name: string, opts?: DeleteOptions): Promise<Obj>;
}

export interface Client {
  resource<T = Obj>(r: ResourceInfo): ResourceClient<T>;
  /** POST pods/NAME/binding: assign a pending pod to a node */
  bind(ns: string, pod: string, node: string): Promise<void>;
  /** POST serviceaccounts/NAME/token: an authentication.k8s.io/v1 TokenRequest, answered with status.token */
  createToken?(ns: string, serviceAccount: string, request: Obj): Promise<Obj>;
}
