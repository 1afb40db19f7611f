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
