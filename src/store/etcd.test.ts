/**
 * The store conformance suite against a real etcd: a fresh single member per test (so revisions
 * start at etcd's 1), a restarted member for the persistence test, and a 3-member cluster that
 * keeps serving, and keeps a watch going, when the member the client talks to is killed.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { storeConformance } from './conformance.js';
import { EtcdStore } from './etcd.js';
import { startEtcd, type EtcdCluster } from './etcd-harness.test-util.js';
import type { WatchEvent } from './types.js';

const clusters: EtcdCluster[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

/** a store over its own new etcd; the etcd goes when the store closes */
async function freshStore(): Promise<EtcdStore> {
  const c = await startEtcd(1);
  clusters.push(c);
  const s = new EtcdStore({ endpoints: c.endpoints });
  const close = s.close.bind(s);
  s.close = async () => {
    await close();
    await c.stop();
  };
  return s;
}

storeConformance('etcd', freshStore, {
  initialRevision: 1,
  compactionDropsTombstoneAtRevision: true,
  persistent: () => {
    let cluster: EtcdCluster | undefined;
    return async () => {
      if (!cluster) {
        cluster = await startEtcd(1);
        clusters.push(cluster);
      } else {
        await cluster.kill(0);
        await cluster.restart(0);
      }
      return new EtcdStore({ endpoints: cluster.endpoints });
    };
  },
});

describe('etcd store: a 3-member cluster', () => {
  it('keys are laid out as kube-apiserver lays them, and writes and a watch survive losing a member', async () => {
    const c = await startEtcd(3);
    clusters.push(c);
    const s = new EtcdStore({ endpoints: c.endpoints });
    try {
      const seen: WatchEvent[] = [];
      const w = await s.watch('/registry/pods/', 0, (ev) => seen.push(ev));
      const a = await s.create('/registry/pods/default/a', '{"kind":"Pod"}');
      // what an operator sees with etcdctl on any member
      const direct = new EtcdStore({ endpoints: [c.endpoints[2]] });
      assert.deepEqual(await direct.get('/registry/pods/default/a'), a);
      await direct.close();

      await c.kill(0);
      const b = await s.create('/registry/pods/default/b', '{"kind":"Pod"}');
      assert.ok(b.modRevision > a.modRevision);
      const deadline = Date.now() + 10_000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen.map((e) => [e.type, e.kv.key]), [
        ['ADDED', '/registry/pods/default/a'],
        ['ADDED', '/registry/pods/default/b'],
      ]);
      w.cancel();
    } finally {
      await s.close();
    }
  });
});
