/**
 * The controller manager (kube-controller-manager, for one node): the workload controllers on
 * one set of shared informers, started and stopped together by the composition root.
 * A new controller is constructed here and added to `controllers`; nothing else changes.
 */
import type { Client } from '../client/types.js';
import { DeploymentController } from './deployment.js';
import { GarbageCollector } from './garbage-collector.js';
import { SharedInformers } from './informers.js';
import { REPLICASET_KIND, REPLICATIONCONTROLLER_KIND, ReplicaSetController } from './replicaset.js';

interface Controller {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class ControllerManager {
  private readonly informers: SharedInformers;
  private readonly controllers: Controller[];

  constructor(client: Client, opts: { log?: (line: string) => void } = {}) {
    const log = opts.log ?? (() => {});
    this.informers = new SharedInformers(client, { log });
    this.controllers = [
      new ReplicaSetController(client, this.informers, REPLICASET_KIND, { log }),
      new ReplicaSetController(client, this.informers, REPLICATIONCONTROLLER_KIND, { log }),
      new DeploymentController(client, this.informers, { log }),
      new GarbageCollector(client, this.informers, { log }),
    ];
  }

  async start(): Promise<void> {
    await Promise.all(this.controllers.map((c) => c.start()));
  }

  async stop(): Promise<void> {
    this.informers.stop();
    await Promise.all(this.controllers.map((c) => c.stop()));
  }
}
