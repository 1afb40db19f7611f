/**
 * The work a server does only while it leads (kube-controller-manager's controllers, the
 * scheduler): built fresh from `make` each time leadership is gained, started in the
 * background (one that cannot sync must not hold the others up; it logs why), and stopped
 * (informers, work queues, timers) when leadership is lost. A fresh set per term means no
 * state of a previous term (a work queue shut down, an expectation half met) leaks into the next.
 *
 *   lead()   make() -> start each        (a second lead() while running does nothing)
 *   resign() stop each, and stop again any whose start was still under way when it settles
 *
 * Calls are serialized: a resign() right after a lead() stops what that lead() made.
 */

export interface Component {
  /** what the log calls it: "the job controller" */
  what: string;
  start(): Promise<void>;
  stop(): unknown;
}

export class LeaderWork {
  private running?: { components: Component[]; starting: (Promise<void> | undefined)[] };
  private chain: Promise<void> = Promise.resolve();
  private terms = 0;

  constructor(
    private readonly make: () => Component[],
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** how many times the work was started (a new term each time) */
  get started(): number {
    return this.terms;
  }

  get active(): boolean {
    return this.running !== undefined;
  }

  lead(): Promise<void> {
    return this.serial(async () => {
      if (this.running) return;
      const components = this.make();
      this.terms++;
      // each entry is cleared once its start settles: what is left at resign() was still starting
      const starting: (Promise<void> | undefined)[] = [];
      components.forEach((c, i) => {
        starting[i] = c
          .start()
          .catch((e) => this.log(`podbay: ${c.what} did not start: ${e instanceof Error ? e.message : String(e)}`))
          .finally(() => (starting[i] = undefined));
      });
      this.running = { components, starting };
    });
  }

  resign(): Promise<void> {
    return this.serial(async () => {
      const r = this.running;
      if (!r) return;
      this.running = undefined;
      await Promise.all(r.components.map((c) => this.stopOne(c)));
      // a start still listing when it was stopped may open its watches after: stop it again then
      r.components.forEach((c, i) => void r.starting[i]?.then(() => this.stopOne(c)));
    });
  }

  private async stopOne(c: Component): Promise<void> {
    try {
      await c.stop();
    } catch (e) {
      this.log(`podbay: stopping ${c.what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => {});
    return next;
  }
}
