/**
 * The Deployment controller with the ReplicaSet controller on the memory store: a stand-in
 * kubelet marks pods Ready. Rollouts (rolling, recreate), revisions, undo by template, pause,
 * scaling, history cleanup, the progress deadline, and a restart finding its own ReplicaSet.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import type { Registry } from '../registry/index.js';
import { DeploymentController } from './deployment.js';
import { computeHash, equalIgnoreHash, fnv32a, newRSNewReplicas, resolveFenceposts, safeEncodeString, scaledValue } from './deployment-util.js';
import { SharedInformers } from './informers.js';
import { ReplicaSetController } from './replicaset.js';

const PODS = resourceInfo('pods')!;
const RS = resourceInfo('replicasets', 'apps')!;
const DEPLOY = resourceInfo('deployments', 'apps')!;

function deployment(name: string, replicas: number, image = 'busybox:1', extra: Obj = {}): Obj {
  return {
    metadata: { name },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image }] } }, ...extra },
  };
}

interface World {
  reg: Registry;
  client: LocalClient;
  /** pods whose image matches stay unready (a crash loop) */
  broken: Set<string>;
}

/** a stand-in kubelet: every live pod becomes Running and Ready, except broken images */
function fakeKubelet(w: World): () => void {
  let stop = false;
  const loop = async () => {
    while (!stop) {
      for (const p of (await w.reg.list(PODS, 'default')).items) {
        if (p.metadata.deletionTimestamp || p.status?.phase === 'Running') continue;
        if (w.broken.has(p.spec.containers[0].image)) continue;
        try {
          await w.reg.update(PODS, 'default', p.metadata.name, { ...p, status: { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] } }, { sub: 'status' });
        } catch {
          /* gone or raced: next round */
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  void loop();
  return () => (stop = true);
}

async function withWorld(fn: (w: World, restart: () => Promise<void>) => Promise<void>, reg?: Registry): Promise<void> {
  reg ??= await memoryRegistry();
  const client = new LocalClient(reg);
  const w: World = { reg, client, broken: new Set() };
  const logs: string[] = [];
  let informers = new SharedInformers(client);
  let ctls = [new ReplicaSetController(client, informers, undefined, { log: (l) => logs.push(l) }), new DeploymentController(client, informers, { log: (l) => logs.push(l) })];
  for (const c of ctls) await c.start();
  const stopKubelet = fakeKubelet(w);
  const stopAll = async () => {
    informers.stop();
    for (const c of ctls) await c.stop();
  };
  try {
    await fn(w, async () => {
      await stopAll();
      informers = new SharedInformers(client);
      ctls = [new ReplicaSetController(client, informers), new DeploymentController(client, informers)];
      for (const c of ctls) await c.start();
    });
  } finally {
    stopKubelet();
    await stopAll();
  }
}

const livePods = async (reg: Registry) => (await reg.list(PODS, 'default')).items.filter((p) => !p.metadata.deletionTimestamp);
const sets = async (reg: Registry) => (await reg.list(RS, 'default')).items.sort((a, b) => Number(a.metadata.annotations?.['deployment.kubernetes.io/revision']) - Number(b.metadata.annotations?.['deployment.kubernetes.io/revision']));
const cond = (d: Obj, type: string) => d.status?.conditions?.find((c: Obj) => c.type === type);

async function rolledOut(reg: Registry, name: string, ms = 8000): Promise<Obj> {
  await until(`${name} rolled out`, async () => {
    const d = await reg.get(DEPLOY, 'default', name);
    const s = d.status ?? {};
    const n = d.spec.replicas;
    return s.observedGeneration >= d.metadata.generation && s.updatedReplicas === n && s.replicas === n && s.availableReplicas === n && cond(d, 'Progressing')?.reason === 'NewReplicaSetAvailable';
  }, ms);
  return reg.get(DEPLOY, 'default', name);
}

describe('deployment controller', () => {
  it('creates <name>-<hash> with the pods, then rolls a new image over with revisions, and undoes', async () => {
    await withWorld(async ({ reg, client }) => {
      await client.resource(DEPLOY).create('default', deployment('web', 3));
      let d = await rolledOut(reg, 'web');
      let rss = await sets(reg);
      assert.equal(rss.length, 1);
      const hash = computeHash(d.spec.template);
      assert.equal(rss[0].metadata.name, `web-${hash}`);
      assert.equal(rss[0].spec.template.metadata.labels['pod-template-hash'], hash);
      assert.equal(rss[0].spec.selector.matchLabels['pod-template-hash'], hash);
      assert.equal(rss[0].metadata.ownerReferences[0].kind, 'Deployment');
      assert.equal(rss[0].metadata.annotations['deployment.kubernetes.io/revision'], '1');
      assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '1');
      assert.equal(cond(d, 'Available').reason, 'MinimumReplicasAvailable');
      assert.equal((await livePods(reg)).length, 3);

      await client.resource(DEPLOY).patch('default', 'web', 'application/merge-patch+json', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } });
      d = await rolledOut(reg, 'web');
      rss = await sets(reg);
      assert.equal(rss.length, 2);
      assert.equal(rss[0].spec.replicas, 0, 'the old set is scaled to 0');
      assert.equal(rss[1].spec.replicas, 3);
      assert.equal(rss[1].metadata.annotations['deployment.kubernetes.io/revision'], '2');
      assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '2');
      await until('the old pods gone', async () => (await livePods(reg)).every((p) => p.spec.containers[0].image === 'busybox:2') && (await livePods(reg)).length === 3);

      // kubectl rollout undo: the deployment takes revision 1's template back
      const t = structuredClone(rss[0].spec.template);
      delete t.metadata.labels['pod-template-hash'];
      await client.resource(DEPLOY).patch('default', 'web', 'application/json-patch+json', [{ op: 'replace', path: '/spec/template', value: t }]);
      d = await rolledOut(reg, 'web');
      rss = await sets(reg);
      assert.equal(rss.length, 2, 'the old set is reused, not duplicated');
      const back = rss.find((x) => x.metadata.name === `web-${hash}`)!;
      assert.equal(back.metadata.annotations['deployment.kubernetes.io/revision'], '3');
      assert.equal(back.metadata.annotations['deployment.kubernetes.io/revision-history'], '1');
      assert.equal(back.spec.replicas, 3);
    });
  });

  it('never goes below replicas - maxUnavailable or above replicas + maxSurge during a rollout', async () => {
    await withWorld(async ({ reg, client }) => {
      await client.resource(DEPLOY).create('default', deployment('web', 4, 'busybox:1', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }));
      await rolledOut(reg, 'web');
      let worst = { max: 0, minReady: 99 };
      let watching = true;
      const watch = (async () => {
        while (watching) {
          const rss = await sets(reg);
          const total = rss.reduce((n, r) => n + r.spec.replicas, 0);
          const avail = rss.reduce((n, r) => n + (r.status?.availableReplicas ?? 0), 0);
          worst = { max: Math.max(worst.max, total), minReady: Math.min(worst.minReady, avail) };
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await client.resource(DEPLOY).patch('default', 'web', 'application/merge-patch+json', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } });
      await rolledOut(reg, 'web');
      watching = false;
      await watch;
      assert.ok(worst.max <= 5, `at most 5 replicas wanted, saw ${worst.max}`);
      assert.ok(worst.minReady >= 4, `never fewer than 4 available, saw ${worst.minReady}`);
    });
  });

  it('Recreate: the old pods go before the new set is scaled up', async () => {
    await withWorld(async ({ reg, client }) => {
      await client.resource(DEPLOY).create('default', deployment('db', 2, 'busybox:1', { strategy: { type: 'Recreate' } }));
      await rolledOut(reg, 'db');
      let mixed = false;
      let watching = true;
      const watch = (async () => {
        while (watching) {
          const images = new Set((await livePods(reg)).map((p) => p.spec.containers[0].image));
          if (images.size > 1) mixed = true;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await client.resource(DEPLOY).patch('default', 'db', 'application/merge-patch+json', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } });
      await rolledOut(reg, 'db');
      watching = false;
      await watch;
      assert.equal(mixed, false, 'old and new pods never run together');
    });
  });

  it('scales, pauses (no rollout while paused) and cleans history beyond revisionHistoryLimit', async () => {
    await withWorld(async ({ reg, client }) => {
      await client.resource(DEPLOY).create('default', deployment('web', 2, 'busybox:1', { revisionHistoryLimit: 1 }));
      await rolledOut(reg, 'web');
      await client.resource(DEPLOY).patch('default', 'web', 'application/merge-patch+json', { spec: { replicas: 5 } });
      await rolledOut(reg, 'web');
      assert.equal((await livePods(reg)).length, 5);
      await client.resource(DEPLOY).patch('default', 'web', 'application/merge-patch+json', { spec: { paused: true } });
      await until('paused condition', async () => cond(await reg.get(DEPLOY, 'default', 'web'), 'Progressing')?.reason === 'DeploymentPaused');
      await client.resource(DEPLOY).patch('default', 'web', 'application/merge-patch+json', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await sets(reg)).length, 1, 'no new set while paused');
      await client.resource(DEPLOY).patch('default', 'web', 'application/merge-patch+json', { spec: { paused: false } });
      await rolledOut(reg, 'web');
      for (const img of ['busybox:3', 'busybox:4']) {
        await client.resource(DEPLOY).patch('default', 'web', 'application/merge-patch+json', { spec: { template: { spec: { containers: [{ name: 'c', image: img }] } } } });
        await rolledOut(reg, 'web');
      }
      await until('history cut to 1 old set', async () => (await sets(reg)).length === 2);
      const revs = (await sets(reg)).map((r) => r.metadata.annotations['deployment.kubernetes.io/revision']);
      assert.deepEqual(revs, ['3', '4']);
    });
  });

  it('a template that never becomes ready: ProgressDeadlineExceeded after progressDeadlineSeconds', async () => {
    await withWorld(async (w) => {
      w.broken.add('crash:1');
      await w.client.resource(DEPLOY).create('default', deployment('crash', 1, 'crash:1', { progressDeadlineSeconds: 1 }));
      await until('deadline exceeded', async () => cond(await w.reg.get(DEPLOY, 'default', 'crash'), 'Progressing')?.reason === 'ProgressDeadlineExceeded', 6000);
      const d = await w.reg.get(DEPLOY, 'default', 'crash');
      assert.equal(cond(d, 'Progressing').status, 'False');
      assert.match(cond(d, 'Progressing').message, /^ReplicaSet "crash-[a-z0-9]+" has timed out progressing\.$/);
      assert.equal(cond(d, 'Available').status, 'False');
      assert.equal(cond(d, 'Available').reason, 'MinimumReplicasUnavailable');
    });
  });

  it('after a restart the controller finds the set it made: no duplicate ReplicaSet', async () => {
    await withWorld(async ({ reg, client }, restart) => {
      await client.resource(DEPLOY).create('default', deployment('web', 2));
      await rolledOut(reg, 'web');
      await client.resource(DEPLOY).patch('default', 'web', 'application/merge-patch+json', { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } } });
      await until('the new set exists', async () => (await sets(reg)).length === 2);
      await restart();
      await rolledOut(reg, 'web');
      assert.equal((await sets(reg)).length, 2);
      assert.equal((await livePods(reg)).length, 2);
    });
  });
});

describe('deployment arithmetic', () => {
  it('FNV-32a and SafeEncodeString as kube renders the hash', () => {
    assert.equal(fnv32a(''), 0x811c9dc5);
    assert.equal(fnv32a('a'), 0xe40c292c);
    // rand.SafeEncodeString maps each byte into "bcdfghjklmnpqrstvwxz2456789"
    assert.equal(safeEncodeString('0123456789'), '456789bcdf'); // '0' is 48, 48 % 27 = 21 -> '4'
    assert.match(computeHash({ metadata: { labels: { a: 'b' } } }), /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.equal(computeHash({ b: 1, a: 2 }), computeHash({ a: 2, b: 1 }), 'key order does not matter');
    assert.notEqual(computeHash({ a: 1 }), computeHash({ a: 1 }, 1), 'collisionCount changes the hash');
    // kubectl rollout undo sends metadata.creationTimestamp: null: the same template as without it
    assert.ok(equalIgnoreHash({ metadata: { creationTimestamp: null, labels: { a: 'b' } } }, { metadata: { labels: { a: 'b', 'pod-template-hash': 'x' } }, spec: { volumes: [] } }));
    assert.ok(!equalIgnoreHash({ metadata: { labels: { a: 'b' } } }, { metadata: { labels: { a: 'c' } } }));
  });

  it('maxSurge rounds up, maxUnavailable down; both 0 means 1 unavailable', () => {
    assert.equal(scaledValue('25%', 10, true), 3);
    assert.equal(scaledValue('25%', 10, false), 2);
    const d = (s: unknown, u: unknown, n = 10) => ({ spec: { replicas: n, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: s, maxUnavailable: u } } } });
    assert.deepEqual(resolveFenceposts(d('25%', '25%')), { surge: 3, unavailable: 2 });
    assert.deepEqual(resolveFenceposts(d(0, '5%')), { surge: 0, unavailable: 1 });
    assert.deepEqual(resolveFenceposts(d('1%', '1%', 3)), { surge: 1, unavailable: 0 });
    // new set grows up to replicas + surge in total
    const newRS = { spec: { replicas: 0 } };
    assert.equal(newRSNewReplicas(d(2, 0, 4), [{ spec: { replicas: 4 } }, newRS], newRS), 2);
  });
});
