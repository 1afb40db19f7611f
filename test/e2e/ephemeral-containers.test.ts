/**
 * Ephemeral containers as a user meets them: `kubectl debug -it POD --image --target` gets a
 * shell that sees the target's processes and shares the pod's network and hostname; a debug
 * container in the background has logs and takes exec; none is ever restarted; an image that
 * cannot be had shows its waiting reason; the API refuses what kube-apiserver refuses (changes,
 * removals, the fields an ephemeral container may not have) with the field's path; and
 * `kubectl debug node/NAME -it` gets the host's processes and its root at /host. Detach and
 * reattach (`kubectl attach`) reach the same debug shell, and a `kubectl run -i` pod's next one.
 *
 * World: bridge pbephem0, pod CIDR 10.242.0.0/24, ports 18400-18419 (none used yet).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PodSuite, kubectlBinaries, kubectlHelpers, podOf, waitFor, watchReadyz, type PodbayServer } from './harness.js';
import { kubectlEnv, underPty } from './kubectl-tools.js';

const SMP = 'application/strategic-merge-patch+json';

describe('ephemeral containers (kubectl debug)', () => {
  const suite = new PodSuite('pbephem0', '10.242.0.0/24', /^184[01]\d$/);
  let s: PodbayServer;
  const [newest] = kubectlBinaries().slice(-1);
  const kubectl = newest!.path;
  const { ok, k, pod, create } = kubectlHelpers(() => s, kubectl);
  /** kubectl with piped stdio (no terminal): what it printed, a line to type, and the client going away */
  const session = (args: string[]) => {
    const p = spawn(kubectl, ['--kubeconfig', s.kubeconfig, ...args], { env: kubectlEnv(s), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    return {
      out: () => out,
      say: (line: string) => p.stdin.write(line),
      kill: async () => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await gone;
      },
    };
  };
  const ephStatusesOf = (p: any): any[] => p.status.ephemeralContainerStatuses ?? [];
  const ephStatus = (p: any, name: string) => ephStatusesOf(p).find((c: any) => c.name === name);

  before(async () => {
    s = await suite.start('podbay-e2e-ephem-');
    await suite.loadBusybox();
    create(
      podOf('web', {
        restartPolicy: 'Always',
        containers: [{ name: 'app', image: 'busybox:1.36', command: ['sh', '-c', 'echo app-started; exec sleep 1000001'] }],
      }),
    );
    await waitFor('web running', () => (pod('web').status.phase === 'Running' ? true : undefined), 60_000);
  });

  after(() => suite.finish(kubectl));

  it('kubectl debug -it --target: a shell in the target\'s PID namespace, the pod\'s network and hostname; it exits for good', async () => {
    const readyz = watchReadyz(s);
    const out = await underPty(
      [kubectl, '--kubeconfig', s.kubeconfig, 'debug', '-it', 'web', '--image=busybox:1.36', '--image-pull-policy=Never', '--target=app', '--container=dbg', '--', 'sh'],
      kubectlEnv(s),
      30,
      100,
      [
        { expect: 'pressing enter', send: '\n' },
        { expect: '# ', send: 'echo "pid1=$(tr \'\\0\' \' \' < /proc/1/cmdline)" host=$(hostname) ip=$(ip -4 -o addr show eth0 | grep -o "10\\.242\\.[0-9.]*")\n' },
        { expect: 'pid1=sleep 1000001', send: 'exit\n' },
      ],
    );
    const { worstMs, failures } = await readyz.stop();
    assert.deepEqual(failures, []);
    assert.ok(worstMs < 1000, `readyz worst ${worstMs} ms`);
    const p = pod('web');
    const seen = /pid1=sleep 1000001\s+host=web ip=(10\.242\.0\.\d+)/.exec(out);
    assert.ok(seen, out);
    assert.equal(seen[1], p.status.podIP, 'the debug shell is in the pod\'s network namespace');
    const spec = p.spec.ephemeralContainers.find((c: any) => c.name === 'dbg');
    assert.equal(spec.targetContainerName, 'app');
    // the shell ended: the container terminated, and stays so (never restarted)
    const done = await waitFor('dbg terminated', () => ephStatus(pod('web'), 'dbg')?.state?.terminated, 30_000);
    assert.equal(done.exitCode, 0);
    await new Promise((r) => setTimeout(r, 3000));
    const later = ephStatus(pod('web'), 'dbg');
    assert.equal(later.restartCount, 0);
    assert.deepEqual(later.state.terminated.containerID, done.containerID);
    assert.equal(pod('web').status.phase, 'Running');
    assert.match(ok('describe', 'pod', 'web'), /Ephemeral Containers:\s+dbg:/);
  });

  it('a debug container in the background: its logs, exec into it, its own PID namespace without --target', async () => {
    ok('debug', 'web', '--image=busybox:1.36', '--image-pull-policy=Never', '--container=bg', '--', 'sh', '-c', 'echo eph-log; exec sleep 1000002');
    await waitFor('bg running', () => ephStatus(pod('web'), 'bg')?.state?.running, 30_000);
    await waitFor('bg log', () => (k('logs', 'web', '-c', 'bg').stdout.includes('eph-log') ? true : undefined), 10_000);
    assert.equal(ok('exec', 'web', '-c', 'bg', '--', 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline').trim(), 'sleep 1000002');
    // a pod with one app container: a log request without a container name still means it
    assert.match(ok('logs', 'web'), /^app-started$/m);
  });

  it('kubectl debug --profile: general adds CAP_SYS_PTRACE, sysadmin is privileged, restricted is refused for the image\'s root user as the kubelet refuses it', async () => {
    const capEff = async (profile: string) => {
      ok('debug', 'web', `--profile=${profile}`, '--image=busybox:1.36', '--image-pull-policy=Never', `--container=p-${profile}`, '--', 'sh', '-c', 'grep CapEff /proc/self/status; exec sleep 1000003');
      await waitFor(`p-${profile} running`, () => ephStatus(pod('web'), `p-${profile}`)?.state?.running, 30_000);
      const line = await waitFor(`p-${profile} log`, () => /CapEff:\s+([0-9a-f]+)/.exec(k('logs', 'web', '-c', `p-${profile}`).stdout)?.[1], 10_000);
      return BigInt(`0x${line}`);
    };
    const SYS_PTRACE = 1n << 19n;
    const SYS_ADMIN = 1n << 21n;
    const general = await capEff('general');
    assert.ok(general & SYS_PTRACE, `general: CapEff ${general.toString(16)}`);
    assert.ok(!(general & SYS_ADMIN));
    assert.ok((await capEff('sysadmin')) & SYS_ADMIN, 'sysadmin is privileged');
    ok('debug', 'web', '--profile=restricted', '--image=busybox:1.36', '--image-pull-policy=Never', '--container=p-restricted', '--', 'true');
    const w = await waitFor('p-restricted waiting', () => {
      const st = ephStatus(pod('web'), 'p-restricted')?.state?.waiting;
      return st?.reason === 'CreateContainerConfigError' ? st : undefined;
    }, 30_000);
    assert.match(w.message, /^container has runAsNonRoot and image will run as root/);
  });

  it('a --target that is not running: CreateContainerConfigError "unable to find target container", the pod unharmed', async () => {
    create(
      podOf('two', {
        containers: [
          { name: 'done', image: 'busybox:1.36', command: ['true'] },
          { name: 'app', image: 'busybox:1.36', command: ['sleep', '1000004'] },
        ],
      }),
    );
    await waitFor('done exited, app running', () => {
      const cs = pod('two').status.containerStatuses ?? [];
      return cs.find((c: any) => c.name === 'done')?.state?.terminated && cs.find((c: any) => c.name === 'app')?.state?.running ? true : undefined;
    }, 60_000);
    ok('debug', 'two', '--image=busybox:1.36', '--image-pull-policy=Never', '--target=done', '--container=late', '--', 'sh');
    const w = await waitFor('late waiting', () => {
      const st = ephStatus(pod('two'), 'late')?.state?.waiting;
      return st?.reason === 'CreateContainerConfigError' ? st : undefined;
    }, 30_000);
    assert.equal(w.message, 'unable to find target container done');
    assert.equal(pod('two').status.phase, 'Running');
    ok('delete', 'pod', 'two', '--grace-period=0', '--force');
  });

  it('an image that cannot be had: the ephemeral container waits with the kubelet\'s reason', async () => {
    ok('debug', 'web', '--image=nothing-here:1', '--image-pull-policy=Never', '--container=bad', '--', 'true');
    const w = await waitFor('bad waiting', () => ephStatus(pod('web'), 'bad')?.state?.waiting, 30_000);
    assert.equal(w.reason, 'ErrImageNeverPull');
    assert.match(w.message, /nothing-here:1/);
    assert.equal(pod('web').status.phase, 'Running');
  });

  it('the API refuses a change, a removal and the forbidden fields with their paths (422)', async () => {
    const path = '/api/v1/namespaces/default/pods/web/ephemeralcontainers';
    const got = await s.request('GET', path);
    assert.equal(got.status, 200);
    assert.equal(got.json.kind, 'Pod');
    const bad = await s.request('PATCH', path, {
      contentType: SMP,
      body: JSON.stringify({ spec: { ephemeralContainers: [{ name: 'p', image: 'busybox:1.36', ports: [{ containerPort: 80 }], livenessProbe: { exec: { command: ['true'] } } }] } }),
    });
    assert.equal(bad.status, 422, bad.body);
    const causes = bad.json.details.causes.map((c: any) => `${c.field}: ${c.message}`);
    assert.ok(causes.some((c: string) => /^spec\.ephemeralContainers\[\d\]\.ports: Forbidden: cannot be set for an Ephemeral Container$/.test(c)), causes.join('\n'));
    assert.ok(causes.some((c: string) => /^spec\.ephemeralContainers\[\d\]\.livenessProbe: Forbidden: cannot be set for an Ephemeral Container$/.test(c)), causes.join('\n'));
    const current = got.json;
    const changed = structuredClone(current);
    changed.spec.ephemeralContainers.find((c: any) => c.name === 'bg').image = 'busybox:9';
    const ch = await s.request('PUT', path, { contentType: 'application/json', body: JSON.stringify(changed) });
    assert.equal(ch.status, 422, ch.body);
    assert.match(ch.json.message, /spec\.ephemeralContainers\[bg\]: Forbidden: existing ephemeral containers "bg" may not be changed/);
    const removed = structuredClone(current);
    removed.spec.ephemeralContainers = removed.spec.ephemeralContainers.filter((c: any) => c.name !== 'bg');
    const rm = await s.request('PUT', path, { contentType: 'application/json', body: JSON.stringify(removed) });
    assert.equal(rm.status, 422, rm.body);
    assert.match(rm.json.message, /spec\.ephemeralContainers: Forbidden: existing ephemeral containers "bg" may not be removed/);
    const del = await s.request('DELETE', path);
    assert.equal(del.status, 405, del.body);
  });

  it('kubectl debug node/NAME -it: the host\'s processes, and its root at /host', async () => {
    const node = ok('get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}').trim();
    const marker = join(suite.work, 'marker.txt');
    writeFileSync(marker, 'from-the-host\n');
    const hostInit = readFileSync('/proc/1/comm', 'utf8').trim();
    const out = await underPty(
      [kubectl, '--kubeconfig', s.kubeconfig, 'debug', `node/${node}`, '-it', '--image=busybox:1.36', '--image-pull-policy=Never', '--', 'sh'],
      kubectlEnv(s),
      30,
      100,
      [
        { expect: 'pressing enter', send: '\n' },
        { expect: '# ', send: `echo "init=$(cat /proc/1/comm) marker=$(cat /host${marker})"\n` },
        { expect: 'marker=from', send: 'exit\n' },
      ],
    );
    assert.match(out, new RegExp(`init=${hostInit} marker=from-the-host`), out);
    const debugPod = JSON.parse(ok('get', 'pods', '-o', 'json')).items.find((p: any) => p.metadata.name.startsWith(`node-debugger-${node}`));
    assert.ok(debugPod, 'kubectl made a node-debugger pod');
    assert.equal(debugPod.spec.hostPID, true);
    ok('delete', 'pod', debugPod.metadata.name, '--grace-period=0', '--force');
  });

  it('detach and reattach: a debug container keeps its shell (stdin stays open); a `kubectl run -i` pod (stdinOnce) restarts its shell for the next attach', async () => {
    // detaching = the client going away (kubectl has no detach keys): here it is killed
    const first = session(['debug', 'web', '-i', '--image=busybox:1.36', '--image-pull-policy=Never', '--container=again', '--', 'sh']);
    await waitFor('again running', () => ephStatus(pod('web'), 'again')?.state?.running, 30_000);
    first.say('X=kept-$((40+2)); echo first-$X\n');
    await waitFor(`the first session's answer (${first.out()})`, () => first.out().includes('first-kept-42') || undefined, 20_000);
    await first.kill();
    const second = session(['attach', 'web', '-c', 'again', '-i']);
    second.say('echo second-$X\n');
    await waitFor(`the same shell answers the reattached session (${second.out()})`, () => second.out().includes('second-kept-42') || undefined, 20_000);
    second.say('exit\n');
    await waitFor('again terminated', () => ephStatus(pod('web'), 'again')?.state?.terminated, 30_000);
    assert.equal(ephStatus(pod('web'), 'again').restartCount, 0);

    const run = session(['run', 'shell', '-i', '--image=busybox:1.36', '--image-pull-policy=Never', '--', 'sh']);
    await waitFor('shell running', () => (pod('shell').status.phase === 'Running' ? true : undefined), 30_000);
    run.say('echo run-$((1+1))\n');
    await waitFor(`kubectl run -i answers (${run.out()})`, () => run.out().includes('run-2') || undefined, 20_000);
    await run.kill();
    // stdinOnce: the first session's end closed the shell's stdin; restartPolicy Always starts a new one
    await waitFor('shell restarted and running', () => {
      const c = pod('shell').status.containerStatuses[0];
      return c.restartCount >= 1 && c.state.running ? true : undefined;
    }, 30_000);
    const back = session(['attach', 'shell', '-i']);
    back.say('echo back-$((2+1))\n');
    await waitFor(`kubectl attach reaches the new shell (${back.out()})`, () => back.out().includes('back-3') || undefined, 20_000);
    await back.kill();
    ok('delete', 'pod', 'shell', '--grace-period=0', '--force');
  });

  it('ephemeral containers go with their pod', async () => {
    const runcIds = () => spawnSync('runc', ['--root', join(suite.runDir, 'runc'), 'list', '-q'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    const running = ephStatusesOf(pod('web')).filter((c: any) => c.state.running).map((c: any) => c.containerID.replace('podbay://', ''));
    assert.ok(running.length >= 3, `debug containers still running: ${running}`);
    assert.ok(running.every((id: string) => runcIds().includes(id)), 'runc runs them');
    ok('delete', 'pod', 'web', '--grace-period=0', '--force', '--wait=true');
    await waitFor('web gone', () => (JSON.parse(ok('get', 'pods', '-o', 'json')).items.length === 0 ? true : undefined), 30_000);
    await waitFor('no runc container left', () => (runcIds().length === 0 ? true : undefined), 30_000);
    // (suite.finish asserts no mount or process of this world is left either)
  });
});
