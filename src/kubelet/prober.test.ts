import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { ProbeState, Prober, httpProbe, tcpProbe, probePort, type ProbeOutcome } from './prober.js';
import type { ContainerStatus } from '../runtime/types.js';

test('initial verdicts: Readiness Failure, Liveness Success, Startup Unknown; a new run starts over', () => {
  assert.equal(new ProbeState('Readiness').result, 'Failure');
  assert.equal(new ProbeState('Liveness').result, 'Success');
  assert.equal(new ProbeState('Startup').result, 'Unknown');
  const s = new ProbeState('Readiness', 1, 3);
  s.track('c1');
  assert.equal(s.observe('Success'), true);
  assert.equal(s.result, 'Success');
  assert.equal(s.track('c1'), false, 'the same run keeps its verdict');
  assert.equal(s.result, 'Success');
  assert.equal(s.track('c2'), true);
  assert.equal(s.result, 'Failure');
});

test('the verdict moves only after failureThreshold failures / successThreshold successes in a row', () => {
  const s = new ProbeState('Readiness', 2, 3);
  s.track('c1');
  assert.equal(s.observe('Success'), false);
  assert.equal(s.result, 'Failure');
  assert.equal(s.observe('Success'), true);
  assert.equal(s.result, 'Success');
  // two failures, a success in between resets the streak
  s.observe('Failure');
  s.observe('Failure');
  s.observe('Success');
  s.observe('Failure');
  s.observe('Failure');
  assert.equal(s.result, 'Success');
  assert.equal(s.observe('Failure'), true);
  assert.equal(s.result, 'Failure');
  assert.equal(s.onHold, false, 'readiness keeps probing after a failure');
  // a run that stops running is a failure at once
  const t = new ProbeState('Readiness', 1, 3);
  t.track('c1');
  t.observe('Success');
  assert.equal(t.notRunning(), true);
  assert.equal(t.result, 'Failure');
});

test('a liveness failure holds the worker until a new run', () => {
  const s = new ProbeState('Liveness', 1, 2);
  s.track('c1');
  assert.equal(s.observe('Failure'), false);
  assert.equal(s.result, 'Success');
  assert.equal(s.observe('Failure'), true);
  assert.equal(s.result, 'Failure');
  assert.equal(s.onHold, true);
  s.track('c2');
  assert.equal(s.onHold, false);
  assert.equal(s.result, 'Success');
});

test('named and numbered ports', () => {
  const c = { name: 'web', ports: [{ name: 'http', containerPort: 8080 }] };
  assert.equal(probePort(80, c), 80);
  assert.equal(probePort('http', c), 8080);
  assert.equal(probePort('9090', c), 9090);
  assert.equal(probePort('nope', c), undefined);
});

test('httpGet: 200-399 succeed, others fail with the status code; headers are sent; refused connections fail', async () => {
  let seen: http.IncomingHttpHeaders = {};
  const server = http.createServer((req, res) => {
    seen = req.headers;
    const code = Number(req.url!.slice(1)) || 200;
    res.writeHead(code).end('body');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    assert.deepEqual(await httpProbe('127.0.0.1', port, '/200', [{ name: 'X-Probe', value: 'yes' }], 1000), { result: 'Success', output: 'body' });
    assert.equal(seen['x-probe'], 'yes');
    assert.match(String(seen['user-agent']), /^kube-probe\//);
    assert.equal((await httpProbe('127.0.0.1', port, '/302', [], 1000)).result, 'Success');
    assert.deepEqual(await httpProbe('127.0.0.1', port, '/500', [], 1000), { result: 'Failure', output: 'HTTP probe failed with statuscode: 500' });
    assert.equal((await httpProbe('127.0.0.1', port, '/404', [], 1000)).output, 'HTTP probe failed with statuscode: 404');
    assert.equal((await tcpProbe('127.0.0.1', port, 1000)).result, 'Success');
  } finally {
    await new Promise((r) => server.close(r));
  }
  const refused = await httpProbe('127.0.0.1', port, '/', [], 1000);
  assert.deepEqual(refused, { result: 'Failure', output: `Get "http://127.0.0.1:${port}/": dial tcp 127.0.0.1:${port}: connect: connection refused` });
  assert.deepEqual(await tcpProbe('127.0.0.1', port, 1000), { result: 'Failure', output: `dial tcp 127.0.0.1:${port}: connect: connection refused` });
});

function run(id: string, state: ContainerStatus['state'] = 'running'): ContainerStatus {
  return {
    id,
    sandboxId: 's',
    config: { name: 'app', image: 'busybox', argv: [], env: [], mounts: [], logPath: '', restartCount: 0, labels: {}, annotations: {} },
    state,
    pid: 1,
    createdAt: 't0',
    startedAt: new Date(Date.now() - 60_000).toISOString(),
    imageId: 'sha256:abc',
  };
}

test('the prober: the startup probe gates readiness and liveness; verdicts call onChange; events say what failed', async () => {
  const outcomes: Record<string, ProbeOutcome> = { Startup: { result: 'Failure', output: 'not yet' }, Readiness: { result: 'Success', output: '' }, Liveness: { result: 'Success', output: '' } };
  const probed: string[] = [];
  const events: string[] = [];
  const changes: string[] = [];
  const pod = {
    metadata: { uid: 'u1', name: 'p' },
    spec: {
      containers: [
        {
          name: 'app',
          startupProbe: { exec: { command: ['s'] }, periodSeconds: 1, failureThreshold: 5, successThreshold: 1 },
          readinessProbe: { exec: { command: ['r'] }, periodSeconds: 1, failureThreshold: 1, successThreshold: 1 },
          livenessProbe: { exec: { command: ['l'] }, periodSeconds: 1, failureThreshold: 1, successThreshold: 1 },
        },
      ],
    },
  };
  const kindOf = (cmd: string) => ({ s: 'Startup', r: 'Readiness', l: 'Liveness' })[cmd]!;
  const prober = new Prober({
    runtime: { execSync: async () => ({ exitCode: 0, stdout: '', stderr: '', timedOut: false }) },
    record: (_p, type, reason, message) => events.push(`${type} ${reason} ${message}`),
    onChange: (uid) => changes.push(uid),
    run: async (ctx) => {
      const kind = kindOf(ctx.probe.exec.command[0]);
      probed.push(kind);
      return outcomes[kind]!;
    },
  });
  const tick = () => new Promise((r) => setTimeout(r, 1100));
  try {
    let latest = run('c1');
    prober.update({ pod, ip: '10.0.0.2', latest: () => latest });
    assert.equal(prober.started('u1', 'app', 'c1'), false);
    assert.equal(prober.ready('u1', 'app', 'c1'), false);
    await tick();
    assert.deepEqual([...new Set(probed)], ['Startup'], 'only the startup probe runs before the container started');
    assert.ok(events.includes('Warning Unhealthy Startup probe failed: not yet'), events.join('\n'));
    outcomes.Startup = { result: 'Success', output: '' };
    await tick();
    await tick();
    assert.equal(prober.started('u1', 'app', 'c1'), true);
    assert.equal(prober.ready('u1', 'app', 'c1'), true);
    assert.ok(changes.length >= 2);
    // liveness fails: the run must be killed
    outcomes.Liveness = { result: 'Failure', output: 'dead' };
    await tick();
    assert.equal(prober.failed('u1', 'app', 'c1'), 'Liveness');
    assert.ok(events.includes('Warning Unhealthy Liveness probe failed: dead'));
    // a new run starts over: not started, not ready, not failed
    latest = run('c2');
    prober.update({ pod, ip: '10.0.0.2', latest: () => latest });
    assert.equal(prober.failed('u1', 'app', 'c2'), undefined);
    assert.equal(prober.started('u1', 'app', 'c2'), false);
    assert.equal(prober.ready('u1', 'app', 'c2'), false);
    // a pod without the probe: undefined verdicts (the kubelet then uses "running")
    assert.equal(prober.ready('u2', 'app', 'c9'), undefined);
  } finally {
    prober.removePod('u1');
  }
  const n = probed.length;
  await tick();
  assert.equal(probed.length, n, 'no probing after removePod');
});
