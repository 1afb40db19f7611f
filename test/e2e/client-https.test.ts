/**
 * The HTTPS client and an informer over it, against a live `podbay server --no-kubelet` (no pods
 * run: a free port on 127.0.0.1, no bridge, so this suite needs no lock). What the kubelet, the
 * scheduler and the controllers will see when they talk to a remote API server.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PodbayServer } from './harness.js';
import { HttpsClient } from '../../src/client/https.js';
import { Informer } from '../../src/client/informer.js';
import { apiError, until } from '../../src/registry/registry.test-util.js';
import { resourceInfo } from '../../src/api/registry.js';
import type { Obj, WatchEventOut } from '../../src/api/types.js';
import { ROOT_CA_CONFIGMAP } from '../../src/api/service-account.js';

const PODS = resourceInfo('pods')!;
const CONFIGMAPS = resourceInfo('configmaps')!;
const NODES = resourceInfo('nodes')!;


describe('the HTTPS client against a live podbay', () => {
  let s: PodbayServer;
  let client: HttpsClient;

  before(async () => {
    s = await PodbayServer.start(['--no-kubelet', '--compaction-interval', '1']);
    client = new HttpsClient({ server: `https://127.0.0.1:${s.port}`, token: s.token, caPem: s.caPem });
  });

  after(async () => {
    client?.close();
    await s?.teardown();
  });

  it('create, get, list, update, the status subresource, patch and delete answer as the API does', async () => {
    const cms = client.resource(CONFIGMAPS);
    const made = await cms.create('default', { metadata: { name: 'one', labels: { app: 'x' } }, data: { a: '1' } });
    assert.equal(made.kind, 'ConfigMap');
    assert.ok(made.metadata.uid);
    assert.deepEqual((await cms.get('default', 'one')).data, { a: '1' });
    assert.equal(await cms.tryGet('default', 'none'), undefined);
    const missing = await apiError(cms.get('default', 'none'));
    assert.equal(missing.code, 404);
    assert.equal(missing.message, 'configmaps "none" not found');
    const dup = await apiError(cms.create('default', { metadata: { name: 'one' } }));
    assert.equal(dup.reason, 'AlreadyExists');

    const list = await cms.list('default', { labelSelector: 'app=x' });
    assert.equal(list.kind, 'ConfigMapList');
    assert.deepEqual(list.items.map((o) => o.metadata.name), ['one']);
    const updated = await cms.update({ ...made, data: { a: '2' } });
    assert.deepEqual(updated.data, { a: '2' });
    const stale = await apiError(cms.update({ ...made, data: { a: '3' } }));
    assert.equal(stale.code, 409);
    const patched = await cms.patch('default', 'one', 'application/merge-patch+json', { data: { b: '1' } });
    assert.deepEqual(patched.data, { a: '2', b: '1' });
    const dry = await cms.create('default', { metadata: { name: 'dry' } }, { dryRun: true });
    assert.equal(dry.metadata.name, 'dry');
    assert.equal(await cms.tryGet('default', 'dry'), undefined, 'a dry run stores nothing');

    const pods = client.resource(PODS);
    await pods.create('default', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const node = (await client.resource(NODES).list(undefined)).items[0];
    await client.bind('default', 'p', node.metadata.name);
    const bound = await pods.get('default', 'p');
    assert.equal(bound.spec.nodeName, node.metadata.name);
    const withStatus = await pods.update({ ...bound, status: { ...bound.status, phase: 'Running' } }, { sub: 'status' });
    assert.equal(withStatus.status.phase, 'Running');
    const marked = await pods.delete('default', 'p');
    assert.ok(marked.metadata.deletionTimestamp, 'a bound pod is deleted gracefully');
    const pre = await apiError(pods.delete('default', 'p', { gracePeriodSeconds: 0, preconditions: { uid: 'not-it' } }));
    assert.equal(pre.code, 409);
    await pods.delete('default', 'p', { gracePeriodSeconds: 0, preconditions: { uid: bound.metadata.uid } });
    assert.equal(await pods.tryGet('default', 'p'), undefined);
    await cms.delete('default', 'one');
  });

  it('a watch is a stream of events; from a compacted revision it is one 410 ERROR and the end', async () => {
    const cms = client.resource(CONFIGMAPS);
    const start = await cms.list('default');
    const events: WatchEventOut[] = [];
    let ended = false;
    const w = await cms.watch('default', { resourceVersion: start.metadata.resourceVersion }, { event: (ev) => events.push(ev), end: () => (ended = true) });
    const made = await cms.create('default', { metadata: { name: 'watched' } });
    await cms.update({ ...made, data: { x: '1' } });
    await cms.delete('default', 'watched');
    await until('three events', () => events.length >= 3);
    w.cancel();
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED watched', 'MODIFIED watched', 'DELETED watched']);
    assert.equal(ended, false, 'a cancelled watch does not report an end');

    // history older than a compaction interval is gone (--compaction-interval 1)
    await new Promise((r) => setTimeout(r, 2500));
    const old: WatchEventOut[] = [];
    let oldEnded = false;
    await cms.watch('default', { resourceVersion: start.metadata.resourceVersion }, { event: (ev) => old.push(ev), end: () => (oldEnded = true) });
    await until('the end of the expired watch', () => oldEnded);
    assert.equal(old.length, 1);
    assert.equal(old[0].type, 'ERROR');
    assert.equal(old[0].object.code, 410);
    assert.equal(old[0].object.reason, 'Expired');
  });

  it("namespaces/finalize takes a PUT (the namespace controller's last step); a deleted namespace is emptied and goes", async () => {
    const nss = client.resource(resourceInfo('namespaces')!);
    const ns = await nss.create(undefined, { metadata: { name: 'fin' } });
    assert.deepEqual(ns.spec.finalizers, ['kubernetes']);
    const kept = await nss.update({ ...ns, spec: { finalizers: [] } });
    assert.deepEqual(kept.spec.finalizers, ['kubernetes'], 'the main resource does not write spec.finalizers');
    const fin = await nss.update({ ...kept, spec: { finalizers: [] } }, { sub: 'finalize' });
    assert.deepEqual(fin.spec.finalizers ?? [], []);
    const post = await s.request('POST', '/api/v1/namespaces/fin/finalize', { body: '{}' });
    assert.equal(post.status, 405);

    const other = await nss.create(undefined, { metadata: { name: 'emptied' } });
    await client.resource(CONFIGMAPS).create('emptied', { metadata: { name: 'inside' } });
    await nss.delete(undefined, other.metadata.name);
    // the namespace controller empties and finalizes it
    await until('the namespace gone', async () => (await nss.tryGet(undefined, 'emptied')) === undefined, 10_000);
    await nss.delete(undefined, 'fin');
  });

  it('an informer over HTTPS syncs, follows changes, and survives compaction', async () => {
    const cms = client.resource(CONFIGMAPS);
    await cms.create('kube-public', { metadata: { name: 'before' } });
    const inf = new Informer<Obj>(client, CONFIGMAPS, { namespace: 'kube-public', backoffMs: { initial: 50, max: 500 } });
    const seen: string[] = [];
    // the root CA publisher's kube-root-ca.crt lives in every namespace: not one of the test's
    const mine = (o: Obj) => o.metadata.name !== ROOT_CA_CONFIGMAP;
    inf.addEventHandler({ add: (o) => mine(o) && seen.push(`add ${o.metadata.name}`), delete: (o) => mine(o) && seen.push(`delete ${o.metadata.name}`) });
    // stopped whatever the outcome: a running informer would keep the test process alive
    try {
      await inf.start();
      assert.deepEqual(seen, ['add before']);
      await new Promise((r) => setTimeout(r, 2500));
      await cms.create('kube-public', { metadata: { name: 'after' } });
      await cms.delete('kube-public', 'before');
      await until('two more events', () => seen.length === 3);
      assert.deepEqual(seen, ['add before', 'add after', 'delete before']);
      assert.deepEqual(inf.cache.keys().filter((k) => k !== `kube-public/${ROOT_CA_CONFIGMAP}`), ['kube-public/after']);
    } finally {
      inf.stop();
    }
  });
});
