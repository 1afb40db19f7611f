/**
 * A work queue as client-go's (k8s.io/client-go/util/workqueue) behaves, for controllers:
 *
 *   - a key is queued once however often it is added while it waits (dirty set);
 *   - a key being processed is never handed to a second worker; added meanwhile, it is queued
 *     again when `done` is called (so no change is lost and no key runs twice at once);
 *   - `addRateLimited` requeues a failing key after a per-key exponential delay (base doubling
 *     to a cap: ItemExponentialFailureRateLimiter), `forget` resets it on success;
 *   - `addAfter` queues a key after a delay (a controller waiting on something it cannot watch).
 *
 *          add ──> queue ──get──> processing ──done──> (queued again if added meanwhile)
 *                    ^                 │ failure
 *                    └── after 2^n·base ┘ (addRateLimited)
 */

export interface RateLimit {
  /** first delay (client-go: 5 ms) */
  baseMs: number;
  /** cap (client-go: 1000 s; the namespace controller: 60 s) */
  maxMs: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(private readonly rate: RateLimit = { baseMs: 5, maxMs: 1_000_000 }) {}

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
      return;
    }
    this.queue.push(key);
  }

  /** queue `key` after `ms`; a sooner addAfter of the same key wins */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    const prev = this.timers.get(key);
    if (prev) clearTimeout(prev);
    this.timers.set(key, t);
  }

  /** the delay the next addRateLimited of `key` waits */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    return Math.min(this.rate.maxMs, this.rate.baseMs * 2 ** n);
  }

  addRateLimited(key: string): void {
    const delay = this.when(key);
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    this.addAfter(key, delay);
  }

  /** the key succeeded: its next failure starts from the base delay */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** the next key to process, waiting for one; undefined once shut down */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((res) => this.waiters.push(res));
  }

  /** processing of `key` is over; if it was added meanwhile it is queued again */
  done(key: string): void {
    this.processing.delete(key);
    if (!this.dirty.has(key)) return;
    this.dirty.delete(key);
    this.add(key);
  }

  len(): number {
    return this.queue.length;
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

/**
 * Run `workers` loops taking keys off the queue: success forgets the key's failures, a throw
 * requeues it rate-limited (and is logged). Resolves when the queue is shut down and the
 * workers have finished their current key.
 */
export async function runWorkers(queue: WorkQueue, workers: number, sync: (key: string) => Promise<void>, log: (line: string) => void): Promise<void> {
  const loop = async () => {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      try {
        await sync(key);
        queue.forget(key);
      } catch (e) {
        log(`${key}: ${(e as Error)?.message ?? e}; retrying in ${queue.when(key)} ms`);
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
