/**
 * podbay server's --leader-elect-* flags, named and valued as kube-controller-manager's and
 * kube-scheduler's (Go durations: 15s, 500ms). Leader election runs only with --store etcd:
 * SQLite and memory stores belong to one process, so that server is the only candidate and runs
 * its controllers and scheduler at once, with no Lease written (as before HA existed).
 */
import { parseDurationMs } from '../kubelet/log-rotation.js';
import { DEFAULT_LEASE_DURATION_MS, DEFAULT_RENEW_DEADLINE_MS, DEFAULT_RETRY_PERIOD_MS, validateTimings, type LeaderElectionTimings } from '../client/leader-election.js';

export const LEADER_ELECTION_FLAGS = ['leader-elect-lease-duration', 'leader-elect-renew-deadline', 'leader-elect-retry-period'];

/** the timings, checked as client-go checks them; undefined: no election (not an etcd store) */
export function leaderElectionFlags(flags: Map<string, string>, etcd: boolean): LeaderElectionTimings | undefined {
  const given = LEADER_ELECTION_FLAGS.filter((f) => flags.has(f));
  if (!etcd) {
    if (given.length) throw new Error(`--${given[0]}: leader election runs only with --store etcd (one server owns a SQLite or memory store)`);
    return undefined;
  }
  const ms = (flag: string, dflt: number): number => {
    const v = flags.get(flag);
    if (v === undefined) return dflt;
    const n = parseDurationMs(v);
    if (!n || n <= 0) throw new Error(`--${flag} ${JSON.stringify(v)}: want a positive duration, e.g. 15s or 500ms`);
    return n;
  };
  const t = {
    leaseDurationMs: ms('leader-elect-lease-duration', DEFAULT_LEASE_DURATION_MS),
    renewDeadlineMs: ms('leader-elect-renew-deadline', DEFAULT_RENEW_DEADLINE_MS),
    retryPeriodMs: ms('leader-elect-retry-period', DEFAULT_RETRY_PERIOD_MS),
  };
  try {
    validateTimings(t);
  } catch (e) {
    throw new Error(`--leader-elect-lease-duration/--leader-elect-renew-deadline/--leader-elect-retry-period: ${(e as Error).message}`);
  }
  return t;
}
