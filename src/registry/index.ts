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
import { createToken } from './token-request.js';
import { resourceInfo, type ResourceInfo } from '../api/registry.js';
import { BOOTSTRAP_CLUSTER_ROLES, BOOTSTRAP_CLUSTER_ROLE_BINDINGS, RETIRED_CLUSTER_ROLE_BINDINGS } from './bootstrap-policy.js';
import { evictPod } from './eviction.js';

export { GenericRegistry, MAX_OBJECT_BYTES, type UpdateOptions, type PatchOptions, type WatchHandle } from './generic.js';
export { PROTECTED_NAMESPACES } from './strategy/namespace.js';

export class Registry extends GenericRegistry {
  /** POST pods/NAME/binding */
  async bind(ns: string, name: string, binding: Obj, opts: WriteOptions = {}): Promise<void> {
    const update = bindingUpdate(name, binding);
    await this.guaranteedUpdate(PODS, ns, name, opts, update);
  }

  /** POST serviceaccounts/NAME/token: a TokenRequest answered with a signed token (token-request.ts) */
  createToken(ns: string, name: string, body: Obj): Promise<Obj> {
    return createToken(this.options.tokens, (r, n, x) => this.tryGet(r, n, x), ns, name, body);
  }

  /** The default RBAC policy (bootstrap-policy.ts): each ClusterRole and ClusterRoleBinding made when missing. */
  async bootstrapPolicy(): Promise<void> {
    const group = 'rbac.authorization.k8s.io';
    const sets: [ResourceInfo, Obj[]][] = [
      [resourceInfo('clusterroles', group)!, BOOTSTRAP_CLUSTER_ROLES],
      [resourceInfo('clusterrolebindings', group)!, BOOTSTRAP_CLUSTER_ROLE_BINDINGS],
    ];
    for (const [r, objs] of sets) {
      for (const o of objs) {
        if (await this.tryGet(r, undefined, o.metadata.name)) continue;
        try {
          await this.create(r, undefined, structuredClone(o));
        } catch (e) {
          if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
        }
      }
    }
    const bindings = resourceInfo('clusterrolebindings', group)!;
    for (const name of RETIRED_CLUSTER_ROLE_BINDINGS) {
      const old = await this.tryGet(bindings, undefined, name);
      if (old?.metadata?.labels?.['kubernetes.io/bootstrapping'] !== 'rbac-defaults') continue;
      await this.delete(bindings, undefined, name).catch((e) => {
        if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
      });
    }
  }

  /** POST pods/NAME/eviction: deleted if its disruption budget allows (eviction.ts) */
  async evict(ns: string, name: string, eviction: Obj): Promise<void> {
    await evictPod(this, ns, name, eviction);
  }

  /** Make sure the built-in namespaces exist. */
  async bootstrap(): Promise<void> {
    // kube-node-lease holds the nodes' heartbeat Leases; deletable, unlike the protected ones (as upstream)
    for (const name of [...PROTECTED_NAMESPACES, 'kube-node-lease']) {
      if (await this.tryGet(NAMESPACES, undefined, name)) continue;
      try {
        await this.create(NAMESPACES, undefined, { metadata: { name } });
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
      }
    }
  }
}
