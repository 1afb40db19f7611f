/**
 * One informer per kind shared by every controller (client-go's SharedInformerFactory): the
 * ReplicaSet, Deployment, Job ... controllers all watch pods, and one cache of pods serves them
 * all. Each informer is indexed by namespace and by the uid of its objects' controller
 * (pod-control.ts CONTROLLER_INDEX). A controller asks for the kinds it needs, adds its
 * handlers, and `start`s them (starting twice is waiting for the same sync).
 */
import type { ResourceInfo } from '../api/registry.js';
import { Informer } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import { CONTROLLER_INDEX, controllerIndexFunc } from './pod-control.js';

export class SharedInformers {
  private readonly informers = new Map<string, Informer<Obj>>();

  constructor(
    private readonly client: Client,
    private readonly opts: { resyncPeriodMs?: number; log?: (line: string) => void } = {},
  ) {}

  for(r: ResourceInfo): Informer<Obj> {
    const key = `${r.group}/${r.resource}`;
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer<Obj>(this.client, r, { resyncPeriodMs: this.opts.resyncPeriodMs ?? 0, log: this.opts.log, indexers: { [CONTROLLER_INDEX]: controllerIndexFunc } });
      this.informers.set(key, inf);
    }
    return inf;
  }

  stop(): void {
    for (const inf of this.informers.values()) inf.stop();
  }
}
