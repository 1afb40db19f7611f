/**
 * The control plane, driven by real kubectl (oldest and newest installed): apply/get/watch/
 * delete, ConfigMaps from files, explain, strict field validation on the seed's mis-indented
 * ghost.yaml, namespaces, graceful deletion and bad input rendered as Kubernetes Status.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import os from 'node:os';
import YAML from 'yaml';
import { PodbayServer, kubectlBinaries, modeOf } from './harness.js';
import { FIXTURES, ghostFixedYaml, seedGhostYaml, seedNginxConf } from '../fixtures/seed.js';

const POD_YAML = readFileSync(join(FIXTURES, 'two-containers.yaml'), 'utf8');
const NGINX_CONF = seedNginxConf();
const GHOST_VERBATIM = seedGhostYaml();

/** The seed's ghost.yaml with its indentation mended (what the tutorial meant). */
const GHOST_FIXED = ghostFixedYaml();

for (const kc of kubectlBinaries()) {
  describe(`control plane with ${kc.name}`, () => {
    let s: PodbayServer;
    let work: string;
    const k = (...args: string[]) => s.kubectl(kc.path, args);
    const ok = (...args: string[]) => {
      const r = k(...args);
      assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
      return r.stdout;
    };

    before(async () => {
      s = await PodbayServer.start(['--no-kubelet']);
      work = mkdtempSync(join(tmpdir(), 'podbay-e2e-files-'));
      writeFileSync(join(work, 'pod.yaml'), POD_YAML);
      writeFileSync(join(work, 'nginx.conf'), NGINX_CONF);
      writeFileSync(join(work, 'ghost.yaml'), GHOST_VERBATIM);
      writeFileSync(join(work, 'ghost-fixed.yaml'), GHOST_FIXED);
    });
    after(async () => {
      rmSync(work, { recursive: true, force: true });
      await s.teardown();
    });

    it('writes a 0600 kubeconfig and 0600 secrets, and refuses requests without the token (system:anonymous: 403) or with a wrong one (401)', async () => {
      assert.equal(modeOf(s.kubeconfig), 0o600);
      assert.equal(modeOf(join(s.dataDir, 'pki/admin.token')), 0o600);
      assert.equal(modeOf(join(s.dataDir, 'pki/ca.key')), 0o600);
      assert.equal(modeOf(join(s.dataDir, 'pki/server.key')), 0o600);
      const curl = spawnSync('curl', ['-sk', '-o', '-', '-w', '\n%{http_code}', `https://127.0.0.1:${s.port}/api/v1/pods`], { encoding: 'utf8' });
      assert.equal(curl.status, 0, curl.stderr);
      const lines = curl.stdout.trim().split('\n');
      assert.equal(lines.at(-1), '403');
      const status = JSON.parse(lines.slice(0, -1).join('\n'));
      assert.equal(status.kind, 'Status');
      assert.equal(status.reason, 'Forbidden');
      assert.equal(status.code, 403);
      assert.equal(status.message, 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" at the cluster scope');
      const wrong = await s.request('GET', '/api/v1/pods', { token: 'not-the-token' });
      assert.equal(wrong.status, 401);
      // TLS only: a plain-HTTP request gets no HTTP answer.
      const plain = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${s.port}/healthz`], { encoding: 'utf8' });
      assert.notEqual(plain.stdout, '200');
    });

    it('serves discovery, version and this machine as a Ready node', () => {
      const v = JSON.parse(ok('version', '-o', 'json'));
      assert.equal(v.serverVersion.major, '1');
      const res = ok('api-resources', '--no-headers');
      for (const r of ['pods', 'configmaps', 'secrets', 'namespaces', 'events', 'nodes']) assert.match(res, new RegExp(`^${r}\\s`, 'm'));
      const nodes = ok('get', 'nodes', '-o', 'wide');
      assert.match(nodes, new RegExp(`^${os.hostname().toLowerCase()}\\s+Ready\\s`, 'm'));
      const node = JSON.parse(ok('get', 'node', os.hostname().toLowerCase(), '-o', 'json'));
      assert.equal(node.status.capacity.cpu, String(os.cpus().length));
      assert.ok(node.status.addresses.some((a: any) => a.type === 'Hostname'));
      const ns = ok('get', 'ns', '--no-headers');
      for (const n of ['default', 'kube-system', 'kube-public']) assert.match(ns, new RegExp(`^${n}\\s+Active`, 'm'));
    });

    it('apply says created, then unchanged, then configured for a new image', () => {
      assert.match(ok('apply', '-f', join(work, 'pod.yaml')), /^pod\/web created$/m);
      assert.match(ok('apply', '-f', join(work, 'pod.yaml')), /^pod\/web unchanged$/m);
      writeFileSync(join(work, 'pod2.yaml'), POD_YAML.replace('name: httpd\n    image: busybox:1.36', 'name: httpd\n    image: busybox:1.37'));
      assert.match(ok('apply', '-f', join(work, 'pod2.yaml')), /^pod\/web configured$/m);
      const pod = JSON.parse(ok('get', 'pod', 'web', '-o', 'json'));
      assert.deepEqual(pod.spec.containers.map((c: any) => [c.name, c.image]), [['httpd', 'busybox:1.37'], ['sidecar', 'busybox:1.36']]);
      assert.equal(pod.metadata.generation, 2);
      // defaults a user expects to see
      assert.equal(pod.spec.restartPolicy, 'Always');
      assert.equal(pod.spec.dnsPolicy, 'ClusterFirst');
      assert.equal(pod.spec.terminationGracePeriodSeconds, 30);
      assert.equal(pod.spec.schedulerName, 'default-scheduler');
      assert.equal(pod.spec.containers[0].imagePullPolicy, 'IfNotPresent');
      assert.equal(pod.spec.containers[0].ports[0].protocol, 'TCP');
      assert.equal(pod.status.phase, 'Pending');
      assert.match(pod.metadata.uid, /^[0-9a-f-]{36}$/);
      assert.match(pod.metadata.resourceVersion, /^\d+$/);
    });

    it('get pods prints the table, -o wide adds IP and NODE, -o yaml the object', () => {
      const table = ok('get', 'pods');
      assert.match(table, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s*$/m);
      assert.match(table, /^web\s+0\/2\s+Pending\s+0\s+\d+s\s*$/m);
      const wide = ok('get', 'pods', '-o', 'wide');
      assert.match(wide, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\s*$/m);
      assert.match(wide, /^web\s+0\/2\s+Pending\s+0\s+\d+s\s+<none>\s+<none>\s+<none>\s+<none>\s*$/m);
      const y = YAML.parse(ok('get', 'pod', 'web', '-o', 'yaml'));
      assert.equal(y.kind, 'Pod');
      assert.equal(y.metadata.name, 'web');
      assert.equal(y.spec.containers.length, 2);
      const sel = ok('get', 'pods', '-l', 'app=web', '--field-selector', 'status.phase=Pending', '-o', 'name');
      assert.equal(sel.trim(), 'pod/web');
      assert.equal(ok('get', 'pods', '-l', 'app=other', '-o', 'name').trim(), '');
    });

    it('get -w streams changes as they happen', async () => {
      const child = spawn(kc.path, ['--kubeconfig', s.kubeconfig, 'get', 'pods', '-w', '--no-headers'], { env: { ...process.env, HOME: s.dataDir } });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const waitFor = async (re: RegExp) => {
        const deadline = Date.now() + 15_000;
        while (!re.test(out)) {
          if (Date.now() > deadline) throw new Error(`watch output never matched ${re}:\n${out}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      try {
        await waitFor(/^web\s+0\/2\s+Pending/m);
        ok('label', 'pod', 'web', 'watched=yes');
        ok('run', 'watched-new', '--image=busybox:1.36', '--restart=Never');
        await waitFor(/^watched-new\s+0\/1\s+Pending/m);
      } finally {
        child.kill();
      }
      ok('delete', 'pod', 'watched-new', '--grace-period=0', '--force');
    });

    it('creates a ConfigMap from the seed nginx.conf and returns the file verbatim', () => {
      const r = s.kubectl(kc.path, ['create', 'configmap', 'nginx-config', `--from-file=${join(work, 'nginx.conf')}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /configmap\/nginx-config created/);
      const data = ok('get', 'configmap', 'nginx-config', '-o', 'jsonpath={.data.nginx\\.conf}');
      assert.equal(data, NGINX_CONF);
      assert.match(ok('get', 'cm'), /^nginx-config\s+1\s+\d+s/m);
    });

    it('explain prints the field docs of pod.spec.containers', () => {
      const out = ok('explain', 'pod.spec.containers');
      assert.match(out, /KIND:\s+Pod/);
      assert.match(out, /FIELD:\s+containers/);
      assert.match(out, /List of containers belonging to the pod/);
      assert.match(out, /^\s+image\s+<string>/m);
      assert.match(out, /Container image name/);
      assert.match(ok('explain', 'pod.spec.containers.ports.containerPort'), /Number of port to expose on the pod's IP address/);
    });

    it("refuses the seed's mis-indented ghost.yaml naming every misplaced field, and stores nothing", () => {
      const r = k('apply', '-f', join(work, 'ghost.yaml'));
      assert.notEqual(r.code, 0);
      for (const field of [
        'spec.containers[0].ports[0].volumeMounts',
        'spec.containers[0].ports[1].mountPath',
        'spec.containers[0].ports[1].readOnly',
        'spec.containers[1].volumes',
        'spec.containers[2].configMap',
      ]) {
        assert.ok(r.stderr.includes(`unknown field "${field}"`), `error should name ${field}:\n${r.stderr}`);
      }
      const get = k('get', 'pod', 'ghost');
      assert.notEqual(get.code, 0);
      assert.match(get.stderr, /pods "ghost" not found/);
      assert.doesNotMatch(ok('get', 'pods', '-o', 'name'), /ghost/);
      // the mended file applies cleanly
      assert.match(ok('apply', '-f', join(work, 'ghost-fixed.yaml')), /^pod\/ghost created$/m);
      const ghost = JSON.parse(ok('get', 'pod', 'ghost', '-o', 'json'));
      assert.equal(ghost.spec.volumes[0].configMap.name, 'nginx-config');
      assert.equal(ghost.spec.containers[0].imagePullPolicy, 'IfNotPresent');
      assert.equal(ghost.spec.containers[1].imagePullPolicy, 'Always');
    });

    it('delete --grace-period=0 --force removes a pod at once', () => {
      assert.match(ok('delete', 'pod', 'web', '--grace-period=0', '--force'), /pod "web" force deleted/);
      const r = k('get', 'pod', 'web');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /NotFound|not found/);
      ok('delete', 'pod', 'ghost', '--grace-period=0', '--force');
    });

    it('deleting a namespace deletes what is in it; the built-in ones cannot be deleted', () => {
      ok('create', 'namespace', 'scratch');
      ok('-n', 'scratch', 'create', 'configmap', 'c1', '--from-literal=a=b');
      ok('-n', 'scratch', 'create', 'secret', 'generic', 's1', '--from-literal=password=hunter2');
      ok('-n', 'scratch', 'run', 'p1', '--image=busybox:1.36');
      assert.match(ok('delete', 'namespace', 'scratch', '--timeout=30s'), /namespace "scratch" deleted/);
      assert.notEqual(k('get', 'ns', 'scratch').code, 0);
      assert.notEqual(k('-n', 'scratch', 'get', 'configmap', 'c1').code, 0);
      const d = k('delete', 'namespace', 'default');
      assert.notEqual(d.code, 0);
      assert.match(d.stderr, /forbidden: this namespace may not be deleted/);
      assert.notEqual(k('-n', 'nowhere', 'create', 'configmap', 'x').code, 0);
    });
  });
}

describe('control plane API semantics (raw requests)', () => {
  let s: PodbayServer;
  before(async () => {
    s = await PodbayServer.start(['--no-kubelet', '--compaction-interval', '1']);
  });
  after(async () => {
    await s.teardown();
  });

  const podBody = (name: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, ...extra }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });

  it('answers bad input with Kubernetes Status objects and keeps serving', async () => {
    const base = '/api/v1/namespaces/default/pods';
    const malformed = await s.request('POST', base, { body: '{"apiVersion": "v1", "kind": ' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.kind, 'Status');
    assert.equal(malformed.json.reason, 'BadRequest');

    const wrongVersion = await s.request('POST', base, { body: podBody('x').replace('"v1"', '"apps/v1"') });
    assert.equal(wrongVersion.status, 400);
    assert.match(wrongVersion.json.message, /apps\/v1/);

    const wrongKind = await s.request('POST', base, { body: podBody('x').replace('"Pod"', '"ConfigMap"') });
    assert.equal(wrongKind.status, 400);
    assert.match(wrongKind.json.message, /ConfigMap/);

    const badName = await s.request('POST', base, { body: podBody('Not_A_Name') });
    assert.equal(badName.status, 422);
    assert.equal(badName.json.reason, 'Invalid');
    assert.ok(badName.json.details.causes.some((c: any) => c.field === 'metadata.name'), JSON.stringify(badName.json));
    assert.match(badName.json.message, /Not_A_Name/);

    const noImage = await s.request('POST', base, {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'noimg' }, spec: { containers: [{ name: 'c' }, { name: 'c', image: 'x' }] } }),
    });
    assert.equal(noImage.status, 422);
    const fields = noImage.json.details.causes.map((c: any) => c.field);
    assert.ok(fields.includes('spec.containers[0].image'), JSON.stringify(fields));
    assert.ok(fields.includes('spec.containers[1].name'), JSON.stringify(fields));

    const huge = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'huge' }, data: { big: 'x'.repeat(3 * 1024 * 1024 + 10) } }),
    });
    assert.equal(huge.status, 413);
    assert.equal(huge.json.reason, 'RequestEntityTooLarge');

    const strict = await s.request('POST', `${base}?fieldValidation=Strict`, {
      body: '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dup","name":"dup2"},"spec":{"containers":[{"name":"c","image":"x","bogus":1}]}}',
    });
    assert.equal(strict.status, 400);
    assert.match(strict.json.message, /duplicate field "metadata.name"/);
    assert.match(strict.json.message, /unknown field "spec.containers\[0\].bogus"/);

    // nothing above was stored
    const list = await s.request('GET', base);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.items, []);
    const cms = await s.request('GET', '/api/v1/namespaces/default/configmaps');
    // (every namespace holds the root CA publisher's kube-root-ca.crt, as on a cluster)
    assert.deepEqual(cms.json.items.map((i: any) => i.metadata.name).filter((n: string) => n !== 'kube-root-ca.crt'), []);

    const created = await s.request('POST', base, { body: podBody('p') });
    assert.equal(created.status, 201);
    const unknownPatch = await s.request('PATCH', `${base}/p`, { body: '{}', contentType: 'application/x-made-up' });
    assert.equal(unknownPatch.status, 415);
    assert.equal(unknownPatch.json.reason, 'UnsupportedMediaType');
    const badPatch = await s.request('PATCH', `${base}/p`, {
      body: JSON.stringify([{ op: 'test', path: '/metadata/name', value: 'other' }]),
      contentType: 'application/json-patch+json',
    });
    assert.ok(badPatch.status === 422 || badPatch.status === 400, String(badPatch.status));
    assert.equal(badPatch.json.kind, 'Status');

    const health = await s.request('GET', '/healthz', { token: null });
    assert.equal(health.status, 200);
  });

  it('optimistic concurrency: a stale resourceVersion gets 409 Conflict', async () => {
    const cm = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'occ' }, data: { a: '1' } }),
    });
    assert.equal(cm.status, 201);
    const first = { ...cm.json, data: { a: '2' } };
    const upd = await s.request('PUT', '/api/v1/namespaces/default/configmaps/occ', { body: JSON.stringify(first) });
    assert.equal(upd.status, 200);
    assert.ok(Number(upd.json.metadata.resourceVersion) > Number(cm.json.metadata.resourceVersion));
    const stale = await s.request('PUT', '/api/v1/namespaces/default/configmaps/occ', { body: JSON.stringify({ ...cm.json, data: { a: '3' } }) });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.reason, 'Conflict');
    assert.match(stale.json.message, /the object has been modified/);
  });

  it('generateName, strategic merge patch by merge key, and pods bound to a node delete gracefully', async () => {
    const base = '/api/v1/namespaces/default/pods';
    const gen = await s.request('POST', base, {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'gen-' }, spec: { containers: [{ name: 'a', image: 'busybox:1.36' }, { name: 'b', image: 'busybox:1.36' }] } }),
    });
    assert.equal(gen.status, 201);
    const name = gen.json.metadata.name;
    assert.match(name, /^gen-[a-z0-9]{5}$/);

    const smp = await s.request('PATCH', `${base}/${name}`, {
      body: JSON.stringify({ spec: { containers: [{ name: 'b', image: 'busybox:1.37' }] } }),
      contentType: 'application/strategic-merge-patch+json',
    });
    assert.equal(smp.status, 200, smp.body);
    assert.deepEqual(smp.json.spec.containers.map((c: any) => [c.name, c.image]), [['a', 'busybox:1.36'], ['b', 'busybox:1.37']]);

    const forbidden = await s.request('PATCH', `${base}/${name}`, {
      body: JSON.stringify({ spec: { restartPolicy: 'Never' } }),
      contentType: 'application/merge-patch+json',
    });
    assert.equal(forbidden.status, 422);
    assert.match(forbidden.json.message, /pod updates may not change fields other than/);

    const node = os.hostname().toLowerCase();
    const bind = await s.request('POST', `${base}/${name}/binding`, {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { kind: 'Node', name: node } }),
    });
    assert.equal(bind.status, 201, bind.body);
    const bound = await s.request('GET', `${base}/${name}`);
    assert.equal(bound.json.spec.nodeName, node);
    const again = await s.request('POST', `${base}/${name}/binding`, {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { kind: 'Node', name: node } }),
    });
    assert.equal(again.status, 409);

    const del = await s.request('DELETE', `${base}/${name}`);
    assert.equal(del.status, 200);
    assert.ok(del.json.metadata.deletionTimestamp, 'a bound pod is marked, not removed');
    assert.equal(del.json.metadata.deletionGracePeriodSeconds, 30);
    const still = await s.request('GET', `${base}/${name}`);
    assert.equal(still.status, 200);
    // the node confirms with grace 0: now it goes
    const confirm = await s.request('DELETE', `${base}/${name}`, { body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 }) });
    assert.equal(confirm.status, 200, confirm.body);
    assert.equal((await s.request('GET', `${base}/${name}`)).status, 404);
  });

  it('lists in pages with limit/continue', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
        body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `page-${i}` } }),
      });
      assert.equal(r.status, 201);
    }
    const seen: string[] = [];
    let cont = '';
    for (let i = 0; i < 10; i++) {
      const r = await s.request('GET', `/api/v1/namespaces/default/configmaps?labelSelector=&limit=2${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      assert.equal(r.status, 200);
      seen.push(...r.json.items.map((x: any) => x.metadata.name));
      cont = r.json.metadata.continue ?? '';
      if (!cont) break;
      assert.ok(r.json.items.length === 2);
    }
    assert.deepEqual(seen.filter((n) => n.startsWith('page-')), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
  });

  it('a watch from a compacted revision gets 410 Expired; bookmarks and sendInitialEvents work', async () => {
    const first = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'old' } }),
    });
    const oldRv = first.json.metadata.resourceVersion;
    // writes after it, then wait for two compaction rounds (interval 1s)
    for (let i = 0; i < 3; i++) {
      await s.request('PUT', '/api/v1/namespaces/default/configmaps/old', {
        body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'old' }, data: { i: String(i) } }),
      });
    }
    await new Promise((r) => setTimeout(r, 2500));
    const w = await s.request('GET', `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${oldRv}&timeoutSeconds=2`);
    assert.equal(w.status, 200);
    const ev = JSON.parse(w.body.trim().split('\n')[0]);
    assert.equal(ev.type, 'ERROR');
    assert.equal(ev.object.code, 410);
    assert.equal(ev.object.reason, 'Expired');
    assert.match(ev.object.message, /too old resource version/);

    const init = await s.request(
      'GET',
      '/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1',
    );
    const events = init.body.trim().split('\n').map((l) => JSON.parse(l));
    const added = events.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata.name);
    assert.ok(added.includes('old'));
    const bookmark = events.find((e) => e.type === 'BOOKMARK');
    assert.ok(bookmark, 'initial-events-end bookmark');
    assert.equal(bookmark.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    assert.ok(events.indexOf(bookmark) > events.findIndex((e) => e.type === 'ADDED'));

    const list = await s.request('GET', '/api/v1/namespaces/default/configmaps?limit=1');
    const old = await s.request('GET', `/api/v1/namespaces/default/configmaps?limit=1&continue=${encodeURIComponent(list.json.metadata.continue)}`);
    assert.equal(old.status, 200, 'a fresh continue token works');
  });
});
