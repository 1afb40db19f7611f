/**
 * A stack of undo steps, unwound in reverse when a multi-step verb fails half-way (CRI-O's
 * resource cleaner). A step's failure is collected, not thrown, so every later step still
 * runs; a step may also return an array of Errors it collected itself (CNI DEL does).
 */
export class Cleanup {
  private steps: { what: string; fn: () => Promise<unknown> }[] = [];

  push(what: string, fn: () => Promise<unknown>): void {
    this.steps.push({ what, fn });
  }

  async unwind(): Promise<string[]> {
    const errors: string[] = [];
    for (const s of this.steps.reverse()) {
      try {
        const r = await s.fn();
        if (Array.isArray(r)) for (const e of r) if (e instanceof Error) errors.push(`${s.what}: ${e.message}`);
      } catch (e) {
        errors.push(`${s.what}: ${(e as Error).message}`);
      }
    }
    this.steps = [];
    return errors;
  }
}

/**
 * Independent steps run side by side: every one runs to its end even when another fails, then
 * one Error names each failure (`what: message`, in the order given). Nothing is undone: the
 * steps are meant to be idempotent, so a failed one is retried by calling the same verb again.
 */
export async function sideBySide(steps: [what: string, step: () => Promise<unknown>][]): Promise<void> {
  const results = await Promise.allSettled(steps.map(([, fn]) => fn()));
  const errors = results.flatMap((r, i) => (r.status === 'rejected' ? [`${steps[i]![0]}: ${(r.reason as Error)?.message ?? String(r.reason)}`] : []));
  if (errors.length === 1) throw results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
  if (errors.length) throw new Error(errors.join('; '));
}
