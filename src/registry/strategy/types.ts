/**
 * What a kind may change in the generic registry's flow, as kube-apiserver's rest strategies
 * (RESTCreateStrategy, RESTUpdateStrategy, RESTGracefulDeleteStrategy, BeforeDelete). Defaults
 * (src/api/defaults) and validation (src/api/validation) are already per kind and are called by
 * the generic code; a strategy holds only what is neither: server-owned fields, how a delete
 * proceeds, and what a delete may not touch. A kind without a strategy gets the plain flow.
 */
import type { ApiError } from '../../api/errors.js';
import type { DeleteOptions, Obj } from '../../api/types.js';

/** The part of an object a write replaces: all but status, status only, or (namespaces) spec.finalizers only. */
export type WritePart = 'main' | 'status' | 'finalize';

export interface Strategy {
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
}
