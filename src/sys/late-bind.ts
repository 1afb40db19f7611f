/**
 * Listeners on an address that may not exist yet. podbay serves pods on the bridge gateway
 * (the cluster DNS, the API's advertise address), and the CNI bridge plugin gives the bridge
 * that address only at the first pod's ADD. So each listener is tried at start and again after
 * every pod network setUp, until it binds; an address not (yet) on this host (EADDRNOTAVAIL)
 * keeps it pending, quietly; any other failure (the port taken, say) is logged once and also
 * kept pending. A socket once bound stays bound when the bridge goes and comes back: Linux
 * keeps a socket bound to an address number, not to an interface.
 */
export interface LateListener {
  /** for the log, e.g. "cluster DNS on 10.85.0.1:53" */
  what: string;
  bind(): Promise<void>;
}

export class LateBinder {
  private readonly pending: LateListener[] = [];
  private readonly reported = new Set<string>();
  private running?: Promise<void>;

  constructor(private readonly log: (line: string) => void) {}

  add(l: LateListener): void {
    this.pending.push(l);
  }

  /** try every pending listener once (concurrent calls share one pass) */
  ensure(): Promise<void> {
    if (!this.pending.length) return Promise.resolve();
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  /** listeners still waiting for their address */
  get waiting(): string[] {
    return this.pending.map((l) => l.what);
  }

  private async pass(): Promise<void> {
    for (const l of [...this.pending]) {
      try {
        await l.bind();
        this.pending.splice(this.pending.indexOf(l), 1);
        this.log(`podbay: listening: ${l.what}`);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'EADDRNOTAVAIL' || this.reported.has(l.what)) continue;
        this.reported.add(l.what);
        this.log(`podbay: cannot listen (${l.what}): ${err.message}; will try again when a pod's network is set up`);
      }
    }
  }
}
