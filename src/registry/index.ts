/**
 * The registry as the API server and the in-process client use it: the generic registry, the
 * subresources that are more than a part of an object (pods/binding), and the built-in
 * namespaces. (Emptying a terminating namespace is the namespace controller's job, an API
 * client: src/controllers/namespace.ts.)
 */
import type { Obj, WriteOptions } from '../api/types.js';
import { GenericRegistry } from './generic.js';
import { NAMESPACES, PROTECTED_NAMESPACES } from './strategy/namespace.js';
import { PODS, bindingUpdate } from './strategy/pod.js';
import { ApiError } from '../api/errors.js';
import { evictPod } from './eviction.js';

export { GenericRegistry, MAX_OBJECT_BYTES, type UpdateOptions, type PatchOptions, type WatchHandle } from './generic.js';
export { PROTECTED_NAMESPACES } from './strategy/namespace.js';

export class Registry extends GenericRegistry {
  /** POST pods/NAME/binding */
  async bind(ns: string, name: string, binding: Obj, opts: WriteOptions = {}): Promise<void> {
    const update = bindingUpdate(name, binding);
    await this.guaranteedUpdate(PODS, ns, name, opts, update);
  }

  /** POST pods/NAME/eviction: deleted if its disruption budget allows (eviction.ts) */
  async evict(ns: string, name: string, eviction: Obj): Promise<void> {
    await evictPod(this, ns, name, eviction);
  }

  /** Make sure the built-in namespaces exist. */
  async bootstrap(): Promise<void> {
    for (const name of PROTECTED_NAMESPACES) {
      if (await this.tryGet(NAMESPACES, undefined, name)) continue;
      try {
        await this.create(NAMESPACES, undefined, { metadata: { name } });
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
      }
    }
  }
}
