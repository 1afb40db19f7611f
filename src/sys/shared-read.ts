/**
 * A read that callers share, never older than their call: a caller that asks while a read is
 * under way gets the next one, which starts once that one ends, together with every other caller
 * that asked meanwhile. So N callers at once cost two reads, not N, and none gets an answer
 * read before it asked (a host process may have started listening, a mount may have gone).
 * Used for /proc/self/mountinfo (./mountinfo.ts) and the host's listening sockets (`ss`, or
 * /proc/net/* where ss is missing: ../network/host-ports.ts).
 */
export function sharedNextRead<T>(read: () => Promise<T>): () => Promise<T> {
  let next: Promise<T> | undefined;
  let last: Promise<unknown> = Promise.resolve();
  return () => {
    if (next) return next;
    const p = last.then(() => {
      next = undefined; // from here on, a caller needs a read that starts after this one
      return read();
    });
    next = p;
    last = p.catch(() => undefined);
    return p;
  };
}
