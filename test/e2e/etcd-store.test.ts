/**
 * podbay's API on a real etcd (Debian's etcd-server): a 3-member cluster on loopback ports this
 * suite starts, an API-only server (--no-kubelet) on it, driven by real kubectl; etcdctl shows the
 * keys where kube-apiserver keeps them; the API keeps serving when a member dies and keeps its
 * state across a podbay restart.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { PodbayServer, PODBAY, kubectlBinaries } from './harness.js';
import { startEtcd, type EtcdCluster } from '../../src/store/etcd-harness.test-util.js';

function etcdctl(endpoints: string[], args: string[]): string {
  const r = spawnSync('etcdctl', ['--endpoints', endpoints.join(','), ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 });
  if (r.error) throw new Error('etcdctl is not installed: apt-get install etcd-client (etcd-server brings it)');
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('the API on etcd', () => {
  let etcd: EtcdCluster;
  let server: PodbayServer;
  const kubectl = kubectlBinaries()[0]!.path;

  before(async () => {
    etcd = await startEtcd(3);
    server = await PodbayServer.start(['--no-kubelet', '--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(',')]);
  });

  after(async () => {
    try {
      await server?.teardown();
    } finally {
      await etcd?.stop();
    }
  });

  it('stores objects under /registry as kube-apiserver does, resourceVersion being etcd revision', () => {
    const r = server.kubectl(kubectl, ['create', 'configmap', 'blog', '--from-literal=title=hello']);
    assert.equal(r.code, 0, r.stderr);
    const rv = server.kubectl(kubectl, ['get', 'configmap', 'blog', '-o', 'jsonpath={.metadata.resourceVersion}']).stdout;
    const keys = etcdctl(etcd.endpoints, ['get', '--prefix', '/registry/', '--keys-only']).split('\n').filter(Boolean);
    assert.ok(keys.includes('/registry/configmaps/default/blog'), keys.join('\n'));
    assert.ok(keys.includes('/registry/namespaces/default'), keys.join('\n'));
    const kv = JSON.parse(etcdctl(etcd.endpoints, ['get', '/registry/configmaps/default/blog', '-w', 'json']));
    assert.equal(String(kv.kvs[0].mod_revision), rv);
    const stored = JSON.parse(Buffer.from(kv.kvs[0].value, 'base64').toString());
    assert.equal(stored.data.title, 'hello');
  });

  it('a watch sees writes in order, and the API keeps serving when an etcd member dies', async () => {
    const start = (await server.request('GET', '/api/v1/namespaces/default/configmaps')).json.metadata.resourceVersion;
    assert.match(start, /^\d+$/);
    await etcd.kill(0);
    for (const n of ['one', 'two']) {
      const r = server.kubectl(kubectl, ['create', 'configmap', n, '--from-literal=k=v']);
      assert.equal(r.code, 0, `create ${n} with a member down: ${r.stderr}`);
    }
    const names = server.kubectl(kubectl, ['get', 'configmaps', '-o', 'name']).stdout.split('\n').filter(Boolean);
    for (const n of ['configmap/blog', 'configmap/one', 'configmap/two']) assert.ok(names.includes(n), names.join(' '));
    // the history since `start` replays from the survivors, in order
    const res = await server.request('GET', `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${start}&timeoutSeconds=1`);
    assert.equal(res.status, 200, res.body);
    const events = res.body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [
      ['ADDED', 'one'],
      ['ADDED', 'two'],
    ]);
    await etcd.restart(0);
  });

  it('state survives a podbay restart; bad etcd flags stop the start with a clear message', async () => {
    const before = server.kubectl(kubectl, ['get', 'configmap', 'two', '-o', 'jsonpath={.metadata.uid}']).stdout;
    assert.equal(await server.stop(), 0);
    await server.spawn(['--no-kubelet', '--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(',')]);
    assert.equal(server.kubectl(kubectl, ['get', 'configmap', 'two', '-o', 'jsonpath={.metadata.uid}']).stdout, before);

    const noEndpoints = spawnSync(PODBAY, ['server', '--no-kubelet', '--data-dir', `${server.dataDir}-x`, '--store', 'etcd'], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(noEndpoints.status, 0);
    assert.match(noEndpoints.stderr, /--store etcd needs --etcd-endpoints/);
    const unreachable = spawnSync(PODBAY, ['server', '--no-kubelet', '--data-dir', `${server.dataDir}-y`, '--listen', '127.0.0.1:0', '--store', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:9'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.notEqual(unreachable.status, 0);
    assert.match(unreachable.stderr, /cannot reach etcd at http:\/\/127\.0\.0\.1:9/);
    spawnSync('rm', ['-rf', `${server.dataDir}-x`, `${server.dataDir}-y`]);
  });
});
