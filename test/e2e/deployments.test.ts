/**
 * Deployments, ReplicaSets and the garbage collector as a user meets them with real kubectl
 * (the oldest and the newest supported) on a real node (runc, conmon, CNI): `create deployment
 * --replicas=3 -- sleep 3600`, `rollout status`, `set image`, `rollout history`, `rollout undo`,
 * pause/resume/restart, `get rs` and `scale rs`; a crash-looping template reported by rollout
 * status and ProgressDeadlineExceeded; `delete deployment` with each cascade (background,
 * orphan, foreground); podbay killed with SIGKILL mid-rollout continues it after a restart with
 * no duplicate ReplicaSet. The suite's world: bridge pbctla0, 10.229.0.0/24, hostPorts 18220-18239.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, kubectlHelpers, waitFor } from './harness.js';

const BRIDGE = 'pbctla0';
const CIDR = '10.229.0.0/24';
const kubectls = kubectlBinaries();
const newest = kubectls[kubectls.length - 1]!;
/** a pod that stops at once on SIGTERM (sleep as PID 1 would wait out the grace period) */
const QUICK = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];
const SLOW_STOP = ['sh', '-c', 'trap "sleep 2; exit 0" TERM; sleep 3600 & wait'];

describe('deployments, replicasets and garbage collection with real kubectl', () => {
  let s: PodbayServer;
  const suite = new PodSuite(BRIDGE, CIDR, /^182[23]\d$/);
  const { k, ok } = kubectlHelpers(() => s, newest.path);
  const json = (...args: string[]) => JSON.parse(ok(...args, '-o', 'json'));
  const rsOf = (ns: string, app: string) => json('-n', ns, 'get', 'rs', '-l', `app=${app}`).items as any[];
  const podsOf = (ns: string, app: string) => (json('-n', ns, 'get', 'pods', '-l', `app=${app}`).items as any[]).filter((p) => !p.metadata.deletionTimestamp);

  before(async () => {
    s = await suite.start('podbay-e2e-ctla-');
    const rootfs = await suite.loadBusybox();
    // a second tag of the same image, for `set image`
    const { writeDockerArchive } = await import('../../src/image/archive-build.js');
    await writeDockerArchive(join(suite.work, 'busybox-next.tar'), { repoTags: ['busybox:next'], layers: [rootfs], config: { cmd: ['sh'] } });
    suite.loadImage(join(suite.work, 'busybox-next.tar'));
  });

  after(async () => {
    // the collector takes the pods with their sets; they stop at once on SIGTERM (QUICK)
    for (const ns of ['ctla-old', 'ctla-new', 'ctla']) k('delete', 'deployments,replicasets', '--all', '-n', ns, '--wait=false');
    await waitFor('every pod gone', () => !ok('get', 'pods', '-A', '--no-headers').trim() || undefined, 60_000);
    await suite.finish(newest.path);
  });

  for (const kc of [kubectls[0]!, newest].filter((x, i, a) => a.indexOf(x) === i)) {
    it(`kubectl ${kc.name}: create deployment, rollout status, set image, history, undo`, async () => {
      const ns = kc === newest ? 'ctla-new' : 'ctla-old';
      const h = kubectlHelpers(() => s, kc.path);
      h.ok('create', 'namespace', ns);
      const created = h.k('-n', ns, 'create', 'deployment', 'web', '--image=busybox:1.36', '--replicas=3', '--', ...QUICK);
      assert.equal(created.code, 0, created.stderr);
      assert.equal(created.stdout.trim(), 'deployment.apps/web created');
      assert.doesNotMatch(created.stderr, /Warning/, 'a controller runs deployments: no Warning');
      const st = h.k('-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s');
      assert.equal(st.code, 0, st.stderr + st.stdout);
      assert.match(st.stdout, /deployment "web" successfully rolled out/);
      const get = h.ok('-n', ns, 'get', 'deploy', 'web', '--no-headers').trim().split(/\s+/);
      assert.deepEqual(get.slice(0, 4), ['web', '3/3', '3', '3']);
      const rs1 = rsOf(ns, 'web');
      assert.equal(rs1.length, 1);
      const hash = rs1[0].metadata.labels['pod-template-hash'];
      assert.equal(rs1[0].metadata.name, `web-${hash}`);
      const rsRow = h.ok('-n', ns, 'get', 'rs').trim().split('\n');
      assert.deepEqual(rsRow[0]!.split(/\s+/), ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE']);
      assert.deepEqual(rsRow[1]!.split(/\s+/).slice(0, 4), [`web-${hash}`, '3', '3', '3']);
      const pods = podsOf(ns, 'web');
      assert.equal(pods.length, 3);
      for (const p of pods) {
        assert.match(p.metadata.name, new RegExp(`^web-${hash}-[a-z0-9]{5}$`));
        assert.equal(p.metadata.ownerReferences[0].kind, 'ReplicaSet');
        assert.equal(p.status.phase, 'Running');
      }

      assert.match(h.ok('-n', ns, 'set', 'image', 'deployment/web', 'busybox=busybox:next'), /deployment.apps\/web image updated/);
      const st2 = h.k('-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s');
      assert.equal(st2.code, 0, st2.stderr + st2.stdout);
      assert.match(st2.stdout, /successfully rolled out/);
      const images = podsOf(ns, 'web').map((p) => p.spec.containers[0].image);
      assert.deepEqual(images, ['busybox:next', 'busybox:next', 'busybox:next']);
      const hist = h.ok('-n', ns, 'rollout', 'history', 'deployment/web');
      assert.match(hist, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);

      const events = h.ok('-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=Deployment', '-o', 'jsonpath={range .items[*]}{.reason} {.message}{"\\n"}{end}');
      assert.match(events, new RegExp(`ScalingReplicaSet Scaled up replica set web-${hash} to 3\n`));
      assert.match(events, new RegExp(`ScalingReplicaSet Scaled down replica set web-${hash} to 2 from 3\n`));
      assert.match(h.ok('-n', ns, 'rollout', 'undo', 'deployment/web'), /deployment.apps\/web rolled back/);
      const st3 = h.k('-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s');
      assert.equal(st3.code, 0, st3.stderr + st3.stdout);
      const d = json('-n', ns, 'get', 'deploy', 'web');
      assert.equal(d.spec.template.spec.containers[0].image, 'busybox:1.36');
      assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '3');
      const sets = rsOf(ns, 'web');
      assert.equal(sets.length, 2, 'undo reuses revision 1\'s ReplicaSet');
      assert.equal(sets.find((x) => x.metadata.name === `web-${hash}`).spec.replicas, 3);
      assert.match(h.ok('-n', ns, 'rollout', 'history', 'deployment/web'), /\n2\s+<none>\n3\s+<none>/);
      await waitFor('old pods gone', () => podsOf(ns, 'web').every((p) => p.spec.containers[0].image === 'busybox:1.36') || undefined, 60_000);
    });
  }

  it('pause, set image (no rollout while paused), resume, restart; get rs and scale rs', async () => {
    ok('create', 'namespace', 'ctla');
    ok('-n', 'ctla', 'create', 'deployment', 'pz', '--image=busybox:1.36', '--replicas=2', '--', ...QUICK);
    assert.equal(k('-n', 'ctla', 'rollout', 'status', 'deploy/pz', '--timeout=90s').code, 0);
    assert.match(ok('-n', 'ctla', 'rollout', 'pause', 'deploy/pz'), /deployment.apps\/pz paused/);
    ok('-n', 'ctla', 'set', 'image', 'deploy/pz', 'busybox=busybox:next');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(rsOf('ctla', 'pz').length, 1, 'no new ReplicaSet while paused');
    const progressing = json('-n', 'ctla', 'get', 'deploy', 'pz').status.conditions.find((c: any) => c.type === 'Progressing');
    assert.equal(progressing.reason, 'DeploymentPaused');
    assert.match(ok('-n', 'ctla', 'rollout', 'resume', 'deploy/pz'), /deployment.apps\/pz resumed/);
    assert.equal(k('-n', 'ctla', 'rollout', 'status', 'deploy/pz', '--timeout=90s').code, 0);
    assert.equal(rsOf('ctla', 'pz').length, 2);
    assert.match(ok('-n', 'ctla', 'rollout', 'restart', 'deploy/pz'), /deployment.apps\/pz restarted/);
    const st = k('-n', 'ctla', 'rollout', 'status', 'deploy/pz', '--timeout=90s');
    assert.equal(st.code, 0, st.stderr);
    assert.equal(rsOf('ctla', 'pz').length, 3, 'a restart is a new template: a new ReplicaSet');
    assert.ok(json('-n', 'ctla', 'get', 'deploy', 'pz').spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);

    // a bare ReplicaSet, scaled with kubectl
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'bare' }, spec: { replicas: 2, selector: { matchLabels: { app: 'bare' } }, template: { metadata: { labels: { app: 'bare' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: QUICK }] } } } };
    const r = s.kubectl(newest.path, ['-n', 'ctla', 'create', '-f', '-'], JSON.stringify(rs));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Warning/);
    await waitFor('2 ready', () => (json('-n', 'ctla', 'get', 'rs', 'bare').status.readyReplicas === 2 ? true : undefined), 60_000);
    assert.match(ok('-n', 'ctla', 'scale', 'rs', 'bare', '--replicas=1'), /replicaset.apps\/bare scaled/);
    await waitFor('1 replica', () => (ok('-n', 'ctla', 'get', 'rs', 'bare', '--no-headers').trim().split(/\s+/).slice(1, 4).join(' ') === '1 1 1' ? true : undefined), 60_000);
    assert.equal(podsOf('ctla', 'bare').length, 1);
    ok('-n', 'ctla', 'delete', 'rs', 'bare');
    await waitFor('bare pods gone', () => (podsOf('ctla', 'bare').length === 0 ? true : undefined), 60_000);
  });

  it('a ReplicationController runs its pods; kubectl scale rc; delete takes its pods', async () => {
    const rc = { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'legacy' }, spec: { replicas: 2, selector: { app: 'legacy' }, template: { metadata: { labels: { app: 'legacy' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: QUICK }] } } } };
    const r = s.kubectl(newest.path, ['-n', 'ctla', 'create', '-f', '-'], JSON.stringify(rc));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Warning/);
    await waitFor('2 ready', () => (json('-n', 'ctla', 'get', 'rc', 'legacy').status.readyReplicas === 2 ? true : undefined), 60_000);
    for (const p of podsOf('ctla', 'legacy')) assert.deepEqual([p.metadata.ownerReferences[0].kind, p.metadata.ownerReferences[0].apiVersion], ['ReplicationController', 'v1']);
    assert.match(ok('-n', 'ctla', 'scale', 'rc', 'legacy', '--replicas=3'), /replicationcontroller\/legacy scaled/);
    await waitFor('3 ready', () => (json('-n', 'ctla', 'get', 'rc', 'legacy').status.readyReplicas === 3 ? true : undefined), 60_000);
    ok('-n', 'ctla', 'delete', 'rc', 'legacy');
    await waitFor('legacy pods gone', () => (podsOf('ctla', 'legacy').length === 0 ? true : undefined), 60_000);
  });

  it('a crash-looping template: rollout status fails on the progress deadline', async () => {
    // a command that cannot start: the pod is never Ready, however late the kubelet looks (a
    // shell that exits at once can be seen running, so Ready, for a moment on a loaded host)
    ok('-n', 'ctla', 'create', 'deployment', 'crash', '--image=busybox:1.36', '--', '/no/such/command');
    ok('-n', 'ctla', 'patch', 'deploy', 'crash', '-p', '{"spec":{"progressDeadlineSeconds":5}}');
    const st = k('-n', 'ctla', 'rollout', 'status', 'deploy/crash', '--timeout=60s');
    assert.notEqual(st.code, 0);
    assert.match(st.stderr, /error: deployment "crash" exceeded its progress deadline/);
    const c = json('-n', 'ctla', 'get', 'deploy', 'crash').status.conditions;
    const progressing = c.find((x: any) => x.type === 'Progressing');
    assert.deepEqual([progressing.status, progressing.reason], ['False', 'ProgressDeadlineExceeded']);
    assert.match(progressing.message, /^ReplicaSet "crash-[a-z0-9]+" has timed out progressing\.$/);
    assert.equal(c.find((x: any) => x.type === 'Available').reason, 'MinimumReplicasUnavailable');
    ok('-n', 'ctla', 'delete', 'deploy', 'crash');
  });

  it('delete deployment: background removes its sets and pods; orphan keeps them unowned; foreground waits for the pods', async () => {
    // fg's pod takes 2 s to stop, so the owner is still there, marked, when kubectl looks
    for (const name of ['bg', 'orph', 'fg']) ok('-n', 'ctla', 'create', 'deployment', name, '--image=busybox:1.36', '--', ...(name === 'fg' ? SLOW_STOP : QUICK));
    for (const name of ['bg', 'orph', 'fg']) assert.equal(k('-n', 'ctla', 'rollout', 'status', `deploy/${name}`, '--timeout=90s').code, 0);

    assert.match(ok('-n', 'ctla', 'delete', 'deployment', 'bg'), /deployment.apps "bg" deleted/);
    await waitFor('bg sets and pods gone', () => (rsOf('ctla', 'bg').length === 0 && podsOf('ctla', 'bg').length === 0 ? true : undefined), 60_000);

    ok('-n', 'ctla', 'delete', 'deployment', 'orph', '--cascade=orphan');
    await waitFor('orph deployment gone', () => (k('-n', 'ctla', 'get', 'deploy', 'orph').code !== 0 ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const kept = rsOf('ctla', 'orph');
    assert.equal(kept.length, 1, 'the ReplicaSet stays');
    assert.equal(kept[0].metadata.ownerReferences, undefined, 'its reference to the deployment is removed');
    assert.equal(podsOf('ctla', 'orph').length, 1, 'its pod keeps running');
    ok('-n', 'ctla', 'delete', 'rs', kept[0].metadata.name);
    await waitFor('orph pods gone', () => (podsOf('ctla', 'orph').length === 0 ? true : undefined), 60_000);

    ok('-n', 'ctla', 'delete', 'deployment', 'fg', '--cascade=foreground', '--wait=false');
    const marked = json('-n', 'ctla', 'get', 'deploy', 'fg');
    assert.ok(marked.metadata.deletionTimestamp, 'the owner is shown with a deletionTimestamp');
    assert.deepEqual(marked.metadata.finalizers, ['foregroundDeletion']);
    let podsWhenGone = -1;
    await waitFor('fg gone', () => {
      const r = k('-n', 'ctla', 'get', 'deploy', 'fg');
      if (r.code === 0) return undefined;
      podsWhenGone = json('-n', 'ctla', 'get', 'pods', '-l', 'app=fg').items.length;
      return true;
    }, 60_000);
    assert.equal(podsWhenGone, 0, 'the pods were gone before the deployment');
    assert.equal(rsOf('ctla', 'fg').length, 0);
  });

  it('podbay killed with SIGKILL mid-rollout continues it after a restart, with no duplicate ReplicaSet', async () => {
    ok('-n', 'ctla', 'create', 'deployment', 'kr', '--image=busybox:1.36', '--replicas=3', '--', ...QUICK);
    assert.equal(k('-n', 'ctla', 'rollout', 'status', 'deploy/kr', '--timeout=90s').code, 0);
    ok('-n', 'ctla', 'set', 'image', 'deploy/kr', 'busybox=busybox:next');
    await waitFor('the new set started', () => (rsOf('ctla', 'kr').some((x) => x.spec.template.spec.containers[0].image === 'busybox:next' && x.spec.replicas > 0) ? true : undefined), 30_000);
    s.proc!.kill('SIGKILL');
    await new Promise((r) => s.proc!.once('exit', r));
    await s.spawn(suite.serverArgs());
    const st = k('-n', 'ctla', 'rollout', 'status', 'deploy/kr', '--timeout=90s');
    assert.equal(st.code, 0, st.stderr + st.stdout);
    const sets = rsOf('ctla', 'kr');
    assert.equal(sets.length, 2, `no duplicate ReplicaSet: ${sets.map((x) => x.metadata.name).join(', ')}`);
    await waitFor('3 new pods', () => {
      const p = podsOf('ctla', 'kr');
      return p.length === 3 && p.every((x) => x.spec.containers[0].image === 'busybox:next' && x.status.phase === 'Running') ? true : undefined;
    }, 60_000);
  });
});
