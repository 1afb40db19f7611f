/**
 * One sync at a time, changes coalesced: `schedule()` asks for a sync after `delayMs` (asks
 * made meanwhile are the same one); `sync()` runs it now, or, while one runs, marks that
 * another is due once it ends. The shape of kube-proxy's BoundedFrequencyRunner, which the
 * informer-driven rooms share (the ingress controller and the service proxy; the network
 * policy enforcer still keeps a copy of its own).
 */
export class CoalescedSync {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly delayMs: number,
    private readonly onError: (e: Error) => void,
  ) {}

  schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync().catch((e) => this.onError(e as Error));
    }, this.delayMs);
  }

  /** one sync; a change during it schedules another */
  async sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const p = (async () => {
      try {
        await this.fn();
      } finally {
        this.running = undefined;
      }
    })();
    this.running = p;
    await p;
    if (this.again && !this.stopped) {
      this.again = false;
      this.schedule();
    }
  }

  /** no more syncs; waits for the one running, if any */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }
}
