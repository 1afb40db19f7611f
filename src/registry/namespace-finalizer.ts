/**
 * The namespace controller's job, in-process: when a namespace is marked for deletion, delete
 * everything in it (pods gracefully, so a node can stop them), wait until it is empty, then
 * clear its spec.finalizers, which removes it. Started for each namespace the registry reports
 * terminating, and for those found terminating at start.
 */
import { ApiError } from '../api/errors.js';
import { RESOURCES, storageKey } from '../api/registry.js';
import type { GenericRegistry } from './generic.js';
import { NAMESPACES } from './strategy/namespace.js';

export class NamespaceFinalizer {
  /** namespaces being finalized now: one run each */
  private readonly running = new Set<string>();

  constructor(
    private readonly reg: GenericRegistry,
    private readonly log: (line: string) => void = (l) => console.error(l),
  ) {
    reg.onTerminating((r, obj) => {
      if (r === NAMESPACES) this.kick(obj.metadata.name);
    });
  }

  /** resume namespaces left terminating by a previous run */
  async resume(): Promise<void> {
    const all = await this.reg.list(NAMESPACES, undefined);
    for (const n of all.items) if (n.metadata.deletionTimestamp) this.kick(n.metadata.name);
  }

  kick(name: string): void {
    if (this.running.has(name)) return;
    this.running.add(name);
    void this.finalize(name)
      .catch((e) => this.log(`namespace ${name}: finalize failed: ${(e as Error).message}`))
      .finally(() => this.running.delete(name));
  }

  private async finalize(name: string): Promise<void> {
    for (let round = 0; ; round++) {
      let left = 0;
      for (const r of RESOURCES) {
        if (!r.namespaced) continue;
        const list = await this.reg.list(r, name);
        for (const item of list.items) {
          left++;
          // a pod is deleted again: its grace may need shortening; others just wait for their finalizers
          if (item.metadata.deletionTimestamp && r.kind !== 'Pod') continue;
          try {
            await this.reg.delete(r, name, item.metadata.name, {});
          } catch (e) {
            if (!(e instanceof ApiError && e.reason === 'NotFound')) throw e;
          }
        }
      }
      if (left === 0 || (await this.empty(name))) break;
      await new Promise((res) => setTimeout(res, Math.min(1000, 50 * (round + 1))));
      if (!(await this.reg.tryGet(NAMESPACES, undefined, name))) return;
    }
    const ns = await this.reg.tryGet(NAMESPACES, undefined, name);
    if (!ns) return;
    try {
      await this.reg.update(NAMESPACES, undefined, name, { ...ns, spec: { ...(ns.spec ?? {}), finalizers: [] } }, { sub: 'finalize' });
    } catch (e) {
      if (e instanceof ApiError && e.reason === 'NotFound') return;
      // the namespace changed meanwhile: finalize again from the top
      if (e instanceof ApiError && e.reason === 'Conflict') return this.finalize(name);
      throw e;
    }
  }

  private async empty(name: string): Promise<boolean> {
    for (const r of RESOURCES) {
      if (!r.namespaced) continue;
      if ((await this.reg.store.count(storageKey(r, name))) > 0) return false;
    }
    return true;
  }
}
