/**
 * What the small controllers share (persistentvolume, volume protection, ephemeral volumes,
 * disruption, node lifecycle): their informers, one rate-limited work queue, workers that run
 * `sync` per key, and start/stop in that order (informers synced before the first key; the
 * queue shut down and the workers finished on stop).
 */
import { Informer, type InformerOptions } from '../client/informer.js';
import type { Client, Obj } from '../client/types.js';
import type { ResourceInfo } from '../api/registry.js';
import { runWorkers, WorkQueue, type RateLimit } from './workqueue.js';

export abstract class QueueController {
  protected readonly queue: WorkQueue;
  protected readonly log: (line: string) => void;
  private readonly informers: Informer<Obj>[] = [];
  private running?: Promise<void>;

  constructor(
    protected readonly client: Client,
    private readonly name: string,
    opts: { log?: (line: string) => void; workers?: number; rate?: RateLimit } = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.queue = new WorkQueue(opts.rate ?? { baseMs: 100, maxMs: 30_000 });
    this.workers = opts.workers ?? 1;
  }

  private readonly workers: number;

  /** an informer this controller starts and stops */
  protected informer(r: ResourceInfo, opts: Omit<InformerOptions<Obj>, 'log'> = {}): Informer<Obj> {
    const inf = new Informer<Obj>(this.client, r, { ...opts, log: this.log });
    this.informers.push(inf);
    return inf;
  }

  protected abstract sync(key: string): Promise<void>;

  /** before the informers start (a default object made, say) */
  protected async beforeStart(): Promise<void> {}

  async start(): Promise<void> {
    await this.beforeStart();
    await Promise.all(this.informers.map((i) => i.start()));
    this.running = runWorkers(this.queue, this.workers, (key) => this.sync(key), (l) => this.log(`${this.name}: ${l}`));
  }

  async stop(): Promise<void> {
    for (const i of this.informers) i.stop();
    this.queue.shutDown();
    await this.running;
  }
}
