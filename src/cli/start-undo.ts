/**
 * What a `podbay server` or `podbay agent` start did to the host, undone when the start fails
 * before it serves (its port taken, the store or the server unreachable, a bad token): the last
 * step first, as a stop would, so a failed start leaves the host as it found it.
 */
export class StartUndo {
  private steps: { what: string; fn: () => unknown }[] = [];

  /** undone before every step added earlier */
  push(what: string, fn: () => unknown): void {
    this.steps.push({ what, fn });
  }

  /** undone after every other step (the run dir's tmpfs: after the lock files on it are closed) */
  last(what: string, fn: () => unknown): void {
    this.steps.unshift({ what, fn });
  }

  /** the start serves: from here on its stop (or a crash) decides what stays */
  done(): void {
    this.steps.length = 0;
  }

  /** run `start`; if it throws, undo its steps (each failure reported, none stopping the rest) and rethrow */
  static async around<T>(start: (undo: StartUndo) => Promise<T>, report: (line: string) => void): Promise<T> {
    const undo = new StartUndo();
    try {
      return await start(undo);
    } catch (e) {
      for (const s of undo.steps.reverse()) {
        try {
          await s.fn();
        } catch (err) {
          report(`podbay: after the failed start, ${s.what}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      throw e;
    }
  }
}
