/**
 * What a kind may change in the generic registry's flow, as kube-apiserver's rest strategies
 * (RESTCreateStrategy, RESTUpdateStrategy, RESTGracefulDeleteStrategy, BeforeDelete). Defaults
 * (src/api/defaults) and validation (src/api/validation) are already per kind and are called by
 * the generic code; a strategy holds only what is neither: server-owned fields, how a delete
 * proceeds, and what a delete may not touch. A kind without a strategy gets the plain flow.
 */
import type { ApiError } from '../../api/errors.js';
import type { DeleteOptions, Obj } from '../../api/types.js';

/**
 * The part of an object a write replaces: all but status, status only, (namespaces)
 * spec.finalizers only, (pods) spec.ephemeralContainers only, or (certificatesigningrequests)
 * the approval conditions.
 */
export type WritePart = 'main' | 'status' | 'finalize' | 'ephemeralcontainers' | 'approval';

export interface Strategy extends AllocatingStrategy {
  /** PrepareForCreate: kind-owned fields, after the generic metadata and before defaulting */
  prepareForCreate?(obj: Obj): void;
  /** PrepareForUpdate: after defaulting, with the stored object and which part the write replaces */
  prepareForUpdate?(obj: Obj, old: Obj, part: WritePart): void;
  /**
   * CheckGracefulDelete: the seconds the object is given before it goes (0 = at once unless
   * finalizers hold it). Without it every delete is immediate.
   */
  gracePeriod?(obj: Obj, opts: DeleteOptions): number;
  /** deletion waits on the object itself too, not only on metadata.finalizers (a namespace's spec.finalizers) */
  holdsDeletion?(obj: Obj): boolean;
  /** the kind-specific state of an object marked for deletion (a namespace's phase Terminating) */
  markTerminating?(obj: Obj): void;
  /** BeforeDelete: why this object may not be deleted at all; deleteCollection skips such objects */
  refuseDelete?(name: string): ApiError | undefined;
  /** why a delete of this object, already marked for deletion, is refused (a terminating namespace: 409); deleteCollection skips it */
  refuseDeleteAgain?(obj: Obj): ApiError | undefined;
}

/** What an asynchronous allocation did, to undo it when the write fails or to finish it when it lands. */
export interface Allocation {
  /** give back what was taken (the write failed, or was a dry run) */
  undo(): void;
  /** the write landed: give back what the old object held and the new one does not */
  commit(): void;
}

/** What the generic registry lends a strategy's asynchronous hooks. */
export interface StrategyContext {
  /** the Service allocators (cluster IPs, node ports), loaded from the stored Services on first use */
  serviceAllocators(): Promise<import('../service-allocators.js').ServiceAllocators>;
  /** an object as stored, or undefined (what an admission looks up: a pod's ServiceAccount); may be the registry's shared, frozen in-memory copy: do not modify it */
  lookup(r: import('../../api/registry.js').ResourceInfo, ns: string | undefined, name: string): Promise<Obj | undefined>;
  /** the objects of a kind as stored (what an admission looks over: the default IngressClass) */
  list(r: import('../../api/registry.js').ResourceInfo, ns?: string): Promise<Obj[]>;
  /** the ServiceAccount admission's settings; absent, it does not run (unit tests of other kinds) */
  serviceAccountAdmission?: import('../service-account-admission.js').AdmissionOptions;
}

/** The asynchronous hooks, as kube's service REST storage allocates around the generic store. */
export interface AllocatingStrategy {
  /**
   * the fields a create's mutating admission fills in without looking anything up (a pod's
   * serviceAccountName): run before the first validation, which must see them as
   * kube-apiserver's validation, run after its admission chain, does
   */
  admitDefaults?(obj: Obj, ns: string | undefined, ctx: StrategyContext): void;
  /** mutating admission of a create (after defaulting, before validation), as kube-apiserver's admission chain */
  admit?(obj: Obj, ns: string | undefined, ctx: StrategyContext): Promise<void>;
  /** before a create is stored */
  allocate?(obj: Obj, ctx: StrategyContext): Promise<Allocation>;
  /** before an update is stored (after validation) */
  reallocate?(obj: Obj, old: Obj, ctx: StrategyContext): Promise<Allocation>;
  /** the object is gone from the store */
  release?(obj: Obj, ctx: StrategyContext): Promise<void>;
}
