/**
 * SIGINT/SIGTERM for the long-running verbs (`server`, `agent`), caught from the moment the
 * verb is chosen, before its modules load: a signal during start-up (a unit stopped while it
 * starts, a Ctrl-C while the store opens) must not kill the process with half of the node made
 * (cgroups, bridges, conmons, iptables chains); it lets start-up finish and then shuts down in
 * order. A second signal exits at once, as kube-apiserver's signal handler does, for a
 * shutdown that hangs.
 */
let requested: string | undefined;
let installed = false;
const waiters: ((sig: string) => void)[] = [];

export function catchStopSignals(who = 'podbay', log: (m: string) => void = (m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`)): void {
  if (installed) return;
  installed = true;
  const on = (sig: NodeJS.Signals) => {
    if (requested) {
      log(`${who}: ${sig} again while shutting down: exiting now, without cleaning up`);
      process.exit(1);
    }
    requested = sig;
    log(`${who}: ${sig}: shutting down`);
    for (const w of waiters.splice(0)) w(sig);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
}

/** the signal already received, if any: start-up may skip what it need not start */
export function stopRequested(): string | undefined {
  return requested;
}

/** resolves with the first signal (at once if one came during start-up) */
export function whenStopRequested(): Promise<string> {
  catchStopSignals();
  return requested ? Promise.resolve(requested) : new Promise((resolve) => waiters.push(resolve));
}
