/**
 * The watch hub shared by both backends.
 *
 * All writes happen in this process, so there is nothing to poll: a backend calls `publish()`
 * right after each committed write, and `register()` when a watch starts. Both run
 * synchronously, so a backend that reads its replay history and registers the watcher in the
 * same synchronous step cannot miss or double-deliver a write that lands in between: there is
 * no "in between".
 *
 * Delivery goes through ONE FIFO queue of (watcher, event) pairs, drained by whoever enqueued
 * first. A callback may itself write to the store (or start a watch); such re-entrant work is
 * appended to the queue instead of being delivered from inside the callback, which keeps every
 * watcher's events in revision order even when callbacks write. A throwing callback is reported
 * (once per watcher) and otherwise ignored: it must not break the write that triggered it, nor
 * starve other watchers.
 */

import { hasPrefix } from './log.js';
import type { WatchEvent, Watcher } from './types.js';

interface HubWatcher {
  prefix: string;
  onEvent: (ev: WatchEvent) => void;
  /** highest revision enqueued for this watcher: a guard against duplicates */
  lastRevision: number;
  cancelled: boolean;
  /** a callback error was already reported (report once per watcher, not per event) */
  reported: boolean;
}

export class WatchHub {
  private readonly watchers = new Set<HubWatcher>();
  private queue: Array<[HubWatcher, WatchEvent] | undefined> = [];
  private head = 0;
  private draining = false;

  constructor(private readonly onCallbackError: (err: unknown) => void = defaultReport) {}

  /** number of active watchers (for tests and metrics) */
  get size(): number {
    return this.watchers.size;
  }

  /**
   * Start a watcher. `replay` are the logged events with revision > fromRevision, in revision
   * order, read by the caller in the same synchronous step; later events arrive via publish().
   */
  register(
    prefix: string,
    fromRevision: number,
    onEvent: (ev: WatchEvent) => void,
    replay: Iterable<WatchEvent>,
  ): Watcher {
    const w: HubWatcher = { prefix, onEvent, lastRevision: fromRevision, cancelled: false, reported: false };
    this.watchers.add(w);
    for (const ev of replay) this.enqueue(w, ev);
    this.drain();
    return {
      cancel: () => {
        w.cancelled = true;
        this.watchers.delete(w);
      },
    };
  }

  /** Fan out one committed event to every matching watcher, in order. */
  publish(ev: WatchEvent): void {
    if (this.watchers.size === 0) return;
    for (const w of this.watchers) {
      if (hasPrefix(ev.kv.key, w.prefix)) this.enqueue(w, ev);
    }
    this.drain();
  }

  /** Cancel every watcher (store closing). Queued events are dropped. */
  closeAll(): void {
    for (const w of this.watchers) w.cancelled = true;
    this.watchers.clear();
  }

  private enqueue(w: HubWatcher, ev: WatchEvent): void {
    if (ev.revision <= w.lastRevision) return; // already delivered (or before the start point)
    w.lastRevision = ev.revision;
    this.queue.push([w, ev]);
  }

  private drain(): void {
    if (this.draining) return; // an outer drain() further up the stack will deliver it
    this.draining = true;
    try {
      while (this.head < this.queue.length) {
        const item = this.queue[this.head];
        this.queue[this.head++] = undefined; // let delivered events be collected
        if (!item) continue;
        const [w, ev] = item;
        if (w.cancelled) continue;
        try {
          w.onEvent(ev);
        } catch (err) {
          if (!w.reported) {
            w.reported = true;
            this.onCallbackError(err);
          }
        }
      }
    } finally {
      this.queue = [];
      this.head = 0;
      this.draining = false;
    }
  }
}

function defaultReport(err: unknown): void {
  const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.emitWarning(`store watch callback threw: ${msg}`, 'StoreWatchWarning');
}
