/**
 * Leader election against the registry on the memory store (the in-process client): the real
 * Lease validation and resourceVersion checks, with a wrapper that can make the API fail or hold
 * reads back, as a partitioned or slow server would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { LocalClient } from './local.js';
import type { Client, ResourceClient } from './types.js';
import { LeaderElector, microTime, validateTimings, type LeaderElectionTimings } from './leader-election.js';

const LEASES = resourceInfo('leases', 'coordination.k8s.io')!;
const FAST: LeaderElectionTimings = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };

/** a client whose Lease calls can be made to fail (`down`) or to wait at a gate before reading */
class FlakyClient implements Client {
  down = false;
  getGate?: Promise<void>;
  constructor(private readonly inner: Client) {}
  resource<T = Obj>(r: Parameters<Client['resource']>[0]): ResourceClient<T> {
    const real = this.inner.resource<T>(r);
    const self = this;
    const guard =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>, gated = false) =>
      async (...a: A): Promise<R> => {
        if (gated && self.getGate) await self.getGate;
        if (self.down) throw new Error('connect ECONNREFUSED (test)');
        return fn(...a);
      };
    return {
      get: guard(real.get.bind(real), true),
      tryGet: guard(real.tryGet.bind(real), true),
      list: guard(real.list.bind(real)),
      watch: real.watch.bind(real),
      create: guard(real.create.bind(real)),
      update: guard(real.update.bind(real)),
      patch: guard(real.patch.bind(real)),
      delete: guard(real.delete.bind(real)),
    };
  }
  bind(ns: string, pod: string, node: string): Promise<void> {
    return this.inner.bind(ns, pod, node);
  }
}

function candidate(client: Client, identity: string, timings = FAST) {
  const state = { leading: false, started: 0, stopped: 0, leaders: [] as string[] };
  const elector = new LeaderElector({
    client,
    namespace: 'kube-system',
    name: 'kube-controller-manager',
    identity,
    ...timings,
    callbacks: {
      onStartedLeading: () => {
        state.leading = true;
        state.started++;
      },
      onStoppedLeading: () => {
        state.leading = false;
        state.stopped++;
      },
      onNewLeader: (id) => state.leaders.push(id),
    },
  });
  return { elector, state };
}

async function leaseOf(client: Client): Promise<Obj> {
  return client.resource(LEASES).get('kube-system', 'kube-controller-manager');
}

describe('leader election (client-go semantics on a Lease)', () => {
  it('the first candidate creates the Lease and leads; it renews, and a second one waits', async () => {
    const client = new LocalClient(await memoryRegistry());
    const a = candidate(client, 'host-a_1');
    const b = candidate(client, 'host-b_2');
    a.elector.start();
    await until('a leads', () => a.state.leading);
    b.elector.start();
    const first = await leaseOf(client);
    assert.equal(first.spec.holderIdentity, 'host-a_1');
    assert.equal(first.spec.leaseDurationSeconds, 1);
    assert.equal(first.spec.leaseTransitions, 0);
    assert.match(first.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // three lease durations: a keeps renewing, b never takes over
    await new Promise((r) => setTimeout(r, 3000));
    const later = await leaseOf(client);
    assert.equal(later.spec.holderIdentity, 'host-a_1');
    assert.equal(later.spec.acquireTime, first.spec.acquireTime, 'a renewal keeps acquireTime');
    assert.ok(Date.parse(later.spec.renewTime) > Date.parse(first.spec.renewTime), 'renewTime moves on');
    assert.equal(b.state.started, 0);
    assert.equal(b.elector.getLeader(), 'host-a_1');
    assert.deepEqual(b.state.leaders, ['host-a_1']);
    await b.elector.stop();
    await a.elector.stop();
    assert.equal(a.state.stopped, 1);
  });

  it('a leader that cannot renew stops leading within renewDeadline; another takes over once the lease expired by its own clock, and leaseTransitions counts it', async () => {
    const reg = await memoryRegistry();
    const flaky = new FlakyClient(new LocalClient(reg));
    const client = new LocalClient(reg);
    const a = candidate(flaky, 'host-a_1');
    const b = candidate(client, 'host-b_2');
    a.elector.start();
    await until('a leads', () => a.state.leading);
    b.elector.start();
    await new Promise((r) => setTimeout(r, 300));
    flaky.down = true;
    const cut = Date.now();
    await until('a stops leading', () => !a.state.leading, 3000);
    const lostAfter = Date.now() - cut;
    assert.ok(lostAfter <= FAST.renewDeadlineMs + FAST.retryPeriodMs + 250, `a gave up after ${lostAfter} ms`);
    await until('b leads', () => b.state.leading, 5000);
    const tookOver = Date.now() - cut;
    // not before a's last renewal had gone unrenewed for a lease duration (as b observed it)
    assert.ok(tookOver >= FAST.leaseDurationMs - FAST.retryPeriodMs, `b took over after only ${tookOver} ms`);
    const lease = await leaseOf(client);
    assert.equal(lease.spec.holderIdentity, 'host-b_2');
    assert.equal(lease.spec.leaseTransitions, 1);
    // a comes back: it does not take the lease back while b renews, and does not lead
    flaky.down = false;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(a.state.leading, false);
    assert.equal(a.state.started, 1);
    assert.equal((await leaseOf(client)).spec.holderIdentity, 'host-b_2');
    await a.elector.stop();
    await b.elector.stop();
  });

  it('expiry is judged by when a record was observed, not by its renewTime against our clock', async () => {
    const client = new LocalClient(await memoryRegistry());
    // a holder whose clock is years behind ours, or a lease we just found: renewTime long past
    const old = microTime(Date.parse('2001-01-01T00:00:00Z'));
    await client.resource(LEASES).create('kube-system', {
      metadata: { name: 'kube-controller-manager', namespace: 'kube-system' },
      spec: { holderIdentity: 'elsewhere_0', leaseDurationSeconds: 1, acquireTime: old, renewTime: old, leaseTransitions: 4 },
    });
    const b = candidate(client, 'host-b_2');
    assert.equal(await b.elector.tryAcquireOrRenew(), false, 'first sight of a held record: wait a lease duration');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await b.elector.tryAcquireOrRenew(), false, 'half a lease duration later, still held');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await b.elector.tryAcquireOrRenew(), true, 'unchanged for a whole lease duration: expired');
    const lease = await leaseOf(client);
    assert.equal(lease.spec.holderIdentity, 'host-b_2');
    assert.equal(lease.spec.leaseTransitions, 5);
  });

  it('a record that changes (the holder renews) restarts the wait, however old its renewTime', async () => {
    const client = new LocalClient(await memoryRegistry());
    const leases = client.resource(LEASES);
    const old = (s: number) => microTime(Date.parse('2001-01-01T00:00:00Z') + s * 1000);
    let cur = await leases.create('kube-system', {
      metadata: { name: 'kube-controller-manager', namespace: 'kube-system' },
      spec: { holderIdentity: 'elsewhere_0', leaseDurationSeconds: 1, acquireTime: old(0), renewTime: old(0), leaseTransitions: 0 },
    });
    const b = candidate(client, 'host-b_2');
    for (let i = 1; i <= 4; i++) {
      assert.equal(await b.elector.tryAcquireOrRenew(), false, `renewal ${i}`);
      await new Promise((r) => setTimeout(r, 400));
      cur = await leases.update({ ...cur, spec: { ...cur.spec, renewTime: old(i) } });
    }
    assert.equal(await b.elector.tryAcquireOrRenew(), false);
    assert.equal((await leaseOf(client)).spec.holderIdentity, 'elsewhere_0');
  });

  it('two candidates that saw the same expired lease write at once: one wins, the other gets Conflict and does not lead', async () => {
    const reg = await memoryRegistry();
    const ca = new FlakyClient(new LocalClient(reg));
    const cb = new FlakyClient(new LocalClient(reg));
    const now = microTime(Date.now());
    await new LocalClient(reg).resource(LEASES).create('kube-system', {
      metadata: { name: 'kube-controller-manager', namespace: 'kube-system' },
      // released: holderIdentity "" is free at once
      spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: 2 },
    });
    const a = candidate(ca, 'host-a_1');
    const b = candidate(cb, 'host-b_2');
    // both read before either writes
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    ca.getGate = gate;
    cb.getGate = gate;
    const both = Promise.all([a.elector.tryAcquireOrRenew(), b.elector.tryAcquireOrRenew()]);
    await new Promise((r) => setTimeout(r, 20));
    open();
    const results = await both;
    assert.deepEqual(results.filter(Boolean).length, 1, `exactly one acquires: ${results}`);
    const lease = await leaseOf(new LocalClient(reg));
    const winner = results[0] ? 'host-a_1' : 'host-b_2';
    assert.equal(lease.spec.holderIdentity, winner);
    assert.equal(lease.spec.leaseTransitions, 3);
    assert.equal((results[0] ? b : a).elector.isLeader(), false);
  });

  it('a leader that stops releases the Lease, so the next one takes over at its next retry, not a lease duration later', async () => {
    const client = new LocalClient(await memoryRegistry());
    const slow: LeaderElectionTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 200 };
    const a = candidate(client, 'host-a_1', slow);
    const b = candidate(client, 'host-b_2', slow);
    a.elector.start();
    await until('a leads', () => a.state.leading);
    b.elector.start();
    await new Promise((r) => setTimeout(r, 300));
    const t = Date.now();
    await a.elector.stop();
    assert.equal(a.state.stopped, 1);
    await until('b leads', () => b.state.leading, 3000);
    assert.ok(Date.now() - t < 2000);
    const lease = await leaseOf(client);
    assert.equal(lease.spec.holderIdentity, 'host-b_2');
    assert.equal(lease.spec.leaseDurationSeconds, 15);
    await b.elector.stop();
    const released = await leaseOf(client);
    assert.equal(released.spec.holderIdentity, '');
    assert.equal(released.spec.leaseDurationSeconds, 1);
  });

  it('stop() returns at once even while a call to the API hangs', async () => {
    const flaky = new FlakyClient(new LocalClient(await memoryRegistry()));
    flaky.getGate = new Promise(() => {});
    const a = candidate(flaky, 'host-a_1', { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 });
    a.elector.start();
    await new Promise((r) => setTimeout(r, 50));
    const t = Date.now();
    await a.elector.stop();
    assert.ok(Date.now() - t < 500, `stop took ${Date.now() - t} ms`);
    assert.equal(a.state.started, 0);
  });

  it('the timings are checked as client-go checks them', () => {
    assert.throws(() => validateTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }), /leaseDuration must be greater than renewDeadline/);
    assert.throws(() => validateTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 2000, retryPeriodMs: 2000 }), /renewDeadline must be greater than retryPeriod\*JitterFactor/);
    assert.throws(() => validateTimings({ leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 100 }), /whole number of seconds/);
    validateTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 });
  });
});
