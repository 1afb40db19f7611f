import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaderElectionFlags } from './leader-election-flags.js';

describe('--leader-elect-* flags', () => {
  it('default to kube-controller-manager\'s with etcd, are refused without it, and are checked', () => {
    assert.deepEqual(leaderElectionFlags(new Map(), true), { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 });
    assert.equal(leaderElectionFlags(new Map(), false), undefined);
    assert.throws(() => leaderElectionFlags(new Map([['leader-elect-lease-duration', '3s']]), false), /--leader-elect-lease-duration: leader election runs only with --store etcd/);
    assert.deepEqual(leaderElectionFlags(new Map([['leader-elect-lease-duration', '3s'], ['leader-elect-renew-deadline', '2s'], ['leader-elect-retry-period', '500ms']]), true), { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 });
    assert.throws(() => leaderElectionFlags(new Map([['leader-elect-lease-duration', 'soon']]), true), /--leader-elect-lease-duration "soon": want a positive duration/);
    assert.throws(() => leaderElectionFlags(new Map([['leader-elect-lease-duration', '5s']]), true), /leaseDuration must be greater than renewDeadline/);
  });
});
