/**
 * Compaction as kube-apiserver does it: every interval, forget history older than the revision
 * seen one interval ago. A list or watch from before that gets 410 Gone; clients relist.
 */
import type { Store } from './types.js';

export class Compactor {
  private timer?: NodeJS.Timeout;
  private previous = 0;

  constructor(
    private readonly store: Store,
    private readonly everySeconds: number,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    this.previous = await this.store.currentRevision();
    this.timer = setInterval(() => {
      void this.tick().catch((e) => this.log(`compaction failed: ${(e as Error).message}`));
    }, this.everySeconds * 1000);
  }

  /** one round: compact to the revision of the previous round, remember the current one */
  async tick(): Promise<void> {
    const current = await this.store.currentRevision();
    if (this.previous > 0) await this.store.compact(this.previous);
    this.previous = current;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
