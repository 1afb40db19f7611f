/**
 * Group commit: one fsync of the SQLite WAL makes every write committed before it durable, and
 * it runs on libuv's thread pool, not on the event loop.
 *
 * Why: better-sqlite3 is synchronous. With PRAGMA synchronous=FULL each commit fsyncs the WAL
 * inside the commit call, so the event loop is blocked for one fsync per write, back to back:
 * 20 clients writing at once held /readyz (and every other request) behind ~20 fsyncs, ~100 ms
 * at the median and ~300 ms at p99 on the development VM, and the store wrote ~270 writes/s.
 *
 * How: the connection runs synchronous=NORMAL (a commit appends its frames to the WAL with
 * write(2), no fsync; SQLite still syncs around checkpoints), and this class fdatasyncs the WAL
 * file asynchronously. While one fsync runs, further commits accumulate; when it completes,
 * every write committed before it started is durable, and the next fsync (if anything new was
 * committed) starts at once:
 *
 *   commit r1 ── fsync A (r1) ───────────────┐ r1 durable: ack r1, publish r1
 *   commit r2, r3, r4 (during A) ──────────── fsync B (r2..r4) ──┐ ack, publish r2..r4
 *
 * Nothing is told about a write before it is durable: its caller (the HTTP response) and the
 * watchers (`onDurable`) hear of it after the fsync that covers it. Reads wait for the fsync
 * covering what they saw (`whenDurable`), so no client can learn a revision that a power cut
 * could take back and hand out again. The request path is never paused (an earlier attempt
 * paused request parsing and got HPE_PAUSED connection resets): only promises wait.
 *
 * A failed fsync leaves the page cache in an unknown state (the kernel may have dropped the
 * dirty pages): every waiter and every later write fails with that error, as PostgreSQL
 * refuses to go on after a failed fsync; the operator restarts podbay, which recovers from the
 * WAL on disk.
 */
export interface GroupCommitOptions {
  /** the highest revision already durable (the store's revision when it was opened) */
  durable: number;
  /** make everything written so far durable (fdatasync of the WAL) */
  sync: () => Promise<void>;
  /** revisions up to `upTo` are durable now (called in order, once per completed fsync) */
  onDurable: (upTo: number) => void;
}

interface Waiter {
  revision: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class GroupCommit {
  private durable: number;
  private committed: number;
  private inFlight?: Promise<void>;
  private waiters: Waiter[] = [];
  private failure?: Error;
  /** fsyncs completed (for tests and the bench) */
  syncs = 0;

  constructor(private readonly opts: GroupCommitOptions) {
    this.durable = opts.durable;
    this.committed = opts.durable;
  }

  /** the error that stopped durable writes, if one did */
  get failed(): Error | undefined {
    return this.failure;
  }

  get durableRevision(): number {
    return this.durable;
  }

  /** a write committed `revision` (in the WAL, maybe only in the page cache so far) */
  committedUpTo(revision: number): void {
    if (revision > this.committed) this.committed = revision;
    this.kick();
  }

  /** resolves once `revision` is durable; rejects if an fsync failed */
  whenDurable(revision: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (revision <= this.durable) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ revision, resolve, reject });
      this.kick();
    });
  }

  /** everything committed so far made durable (before closing the store) */
  async flush(): Promise<void> {
    await this.whenDurable(this.committed);
    await this.inFlight;
  }

  private kick(): void {
    if (this.inFlight || this.failure || this.committed <= this.durable) return;
    const target = this.committed;
    this.inFlight = this.opts.sync().then(
      () => {
        this.syncs++;
        this.durable = target;
        this.inFlight = undefined;
        // watchers first: a client that gets its answer and then watches must not see the
        // event arrive late through a watch registered in between
        this.opts.onDurable(target);
        const ready = this.waiters.filter((w) => w.revision <= target);
        this.waiters = this.waiters.filter((w) => w.revision > target);
        for (const w of ready) w.resolve();
        this.kick();
      },
      (e: unknown) => {
        this.inFlight = undefined;
        this.failure = new Error(`the store's write-ahead log could not be synced to disk, so no further write is acknowledged (restart podbay): ${(e as Error)?.message ?? e}`);
        const all = this.waiters;
        this.waiters = [];
        for (const w of all) w.reject(this.failure);
      },
    );
  }
}
