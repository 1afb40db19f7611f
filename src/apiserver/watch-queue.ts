/**
 * Backpressure for one watch stream. Events are produced synchronously by the store (a write
 * fans out to every watcher at once), but a client drains its socket at its own pace; a
 * client that stops reading must not make the server buffer without bound (590 MB was seen
 * with five of them).
 *
 * So: write straight through while the socket accepts (`write()` returns true); once it
 * refuses, hold further events here until 'drain', counting their bytes; past `maxQueuedBytes`
 * give up on the watcher. kube-apiserver's cacher does the same with an event count ("Forcing
 * watcher close due to unresponsiveness") and simply ends the watch: the client re-watches,
 * and re-lists if its resourceVersion is gone (410), as informers do.
 *
 * Memory per watcher is then bounded by the socket's own buffer (about one highWaterMark plus
 * the last event written) plus `maxQueuedBytes`.
 */

/** Where the lines go: ServerResponse.write, or a fake in tests. */
export interface WatchSink {
  /** false: the sink's buffer is full; wait for drained() before writing more */
  write(chunk: string): boolean;
}

/** kube-apiserver closes watchers that fall behind; this is how far behind, in bytes. */
export const DEFAULT_WATCH_QUEUE_MAX_BYTES = 16 * 1024 * 1024;

export class WatchQueue {
  private queue: string[] = [];
  private head = 0;
  private queuedBytes = 0;
  private blocked = false;
  private overflowed = false;

  constructor(
    private readonly sink: WatchSink,
    private readonly maxQueuedBytes: number,
    /** called once when the limit is passed; the caller closes the stream */
    private readonly onOverflow: (queuedBytes: number) => void,
  ) {}

  /** bytes waiting for the sink to drain */
  get queued(): number {
    return this.queuedBytes;
  }

  /** the watcher fell too far behind and was given up */
  get closed(): boolean {
    return this.overflowed;
  }

  push(line: string): void {
    if (this.overflowed) return;
    if (!this.blocked) {
      if (!this.sink.write(line)) this.blocked = true;
      return;
    }
    this.queue.push(line);
    // UTF-16 length is within 3x of the UTF-8 bytes and costs nothing to read; watch lines are
    // JSON, almost all ASCII, so it is the byte count in practice.
    this.queuedBytes += line.length;
    if (this.queuedBytes > this.maxQueuedBytes) {
      this.overflowed = true;
      const n = this.queuedBytes;
      this.drop();
      this.onOverflow(n);
    }
  }

  /** The sink emptied its buffer ('drain'): send what waited, until it refuses again. */
  drained(): void {
    this.blocked = false;
    while (!this.blocked && this.head < this.queue.length) {
      const line = this.queue[this.head]!;
      this.queue[this.head++] = '';
      this.queuedBytes -= line.length;
      if (!this.sink.write(line)) this.blocked = true;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
  }

  /**
   * Hand everything queued to the sink regardless of its buffer (the stream is ending
   * normally, e.g. its timeout: what was queued is still owed to the client; it is at most
   * maxQueuedBytes).
   */
  flushAll(): void {
    if (this.head < this.queue.length) this.sink.write(this.queue.slice(this.head).join(''));
    this.drop();
  }

  /** Forget everything queued (the stream is closing). */
  drop(): void {
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }
}
