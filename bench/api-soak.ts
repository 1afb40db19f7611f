/**
 * The full API-level soak (issue 7): 20 concurrent clients x 500 writes (ConfigMap creates and
 * merge patches) while 10 watchers follow, against a real `podbay server` (sqlite store,
 * synchronous=FULL). Checks what test/e2e/api-soak.test.ts checks at 20 x 100: every
 * acknowledged write in the final list, every watcher saw every revision in order, no 5xx.
 * Prints one JSON object; exits 1 if anything was wrong.
 * Usage: node dist/bench/api-soak.js [--clients 20] [--writes 500] [--watchers 10] [--store-sync full|normal]
 */
import { PodbayServer } from '../test/e2e/harness.js';
import { apiSoak, rssBytes } from '../test/e2e/api-soak-driver.js';

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const clients = Number(flag('clients', '20'));
const writesPerClient = Number(flag('writes', '500'));
const watchers = Number(flag('watchers', '10'));
const sync = flag('store-sync', 'full');

const s = await PodbayServer.start(['--no-kubelet', '--store-sync', sync]);
let failed = true;
try {
  const rssBefore = rssBytes(s.proc!.pid!);
  const r = await apiSoak(s, { clients, writesPerClient, watchers, namespace: 'soak' });
  const rssAfter = rssBytes(s.proc!.pid!);
  failed = r.problems.length > 0;
  console.log(
    JSON.stringify(
      { clients, writesPerClient, watchers, storeSync: sync, ...r, problems: r.problems.slice(0, 20), problemCount: r.problems.length, rssMiB: { before: Math.round(rssBefore / 2 ** 20), after: Math.round(rssAfter / 2 ** 20) } },
      null,
      1,
    ),
  );
} finally {
  await s.teardown();
}
process.exitCode = failed ? 1 : 0;
