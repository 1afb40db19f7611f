/**
 * Admission webhooks with real kubectl against a podbay server with its kubelet, in this suite's
 * own world (bridge pbhook0, pods 10.246.0.0/24, services 10.247.0.0/24, ports 18440-18459).
 *
 * The webhook servers are small Node HTTPS servers run by the test, with a CA made by the test
 * (openssl): one on 127.0.0.1 referenced by `url`, one reached through a Service. A Service's
 * endpoints may not be loopback addresses (Endpoints validation refuses 127.0.0.0/8), so the
 * second server listens on this world's bridge address (10.246.0.1, the pods' gateway, a
 * host address that exists once the first pod runs) and a selector-less Service `hooks` with
 * hand-made Endpoints points at it: podbay resolves a service reference through its endpoints
 * and checks the serving certificate for hooks.default.svc.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodSuite, PodbayServer, kubectlBinaries, podOf, waitFor, watchReadyz, type RunResult } from './harness.js';

type Obj = Record<string, any>;
const kc = kubectlBinaries().at(-1)!;
const GATEWAY = '10.246.0.1';
const URL_PORT = 18450;
const SVC_PORT = 18451;

/** a CA and a serving certificate for 127.0.0.1, the gateway and hooks.default.svc, made with openssl */
function makeCerts(dir: string): { ca: string; key: string; cert: string } {
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, `openssl ${args.join(' ')} failed (install openssl): ${r.stderr}`);
  };
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=webhook test CA');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=hooks.default.svc');
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=IP:127.0.0.1,IP:${GATEWAY},DNS:hooks.default.svc\n`);
  ssl('x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.crt', '-days', '1', '-extfile', 'ext.cnf');
  return { ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), key: readFileSync(join(dir, 'tls.key'), 'utf8'), cert: readFileSync(join(dir, 'tls.crt'), 'utf8') };
}

interface Seen {
  path: string;
  request: Obj;
}

/** the webhook server as a host process (webhook-server.ts); resolves once it listens */
async function startWebhookServer(dir: string, host: string, port: number, log: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'webhook-server.js'), host, String(port), join(dir, 'tls.key'), join(dir, 'tls.crt'), log], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await waitFor(`webhook server on ${host}:${port}`, () => {
    if (proc.exitCode !== null) throw new Error(`webhook server exited ${proc.exitCode}: ${out}`);
    return out.includes('listening') || undefined;
  }, 10_000);
  return proc;
}

async function stopProcess(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

describe('admission webhooks', () => {
  const suite = new PodSuite('pbhook0', '10.246.0.0/24', /^184[45]\d$/);
  let s: PodbayServer;
  /** kubectl run asynchronously: the /readyz poller of this process keeps sampling while it runs */
  const kubectl = (args: string[], input?: string) =>
    new Promise<RunResult>((resolve) => {
      const p = spawn(kc.path, ['--kubeconfig', s.kubeconfig, ...args], { env: { ...process.env, KUBECONFIG: '', HOME: s.dataDir } });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.stdin.end(input ?? '');
      p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  const k = (...args: string[]) => kubectl(args);
  const ok = async (...args: string[]) => {
    const r = await kubectl(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const create = async (obj: object) => {
    const r = await kubectl(['create', '-f', '-'], JSON.stringify(obj));
    assert.equal(r.code, 0, `create failed:\n${r.stderr}`);
  };
  let work = '';
  let certs: { ca: string; key: string; cert: string };
  let log = '';
  /** every review the webhook servers got, in order */
  const seen = (): Seen[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Seen) : []);
  let local: ChildProcess | undefined;
  let viaService: ChildProcess | undefined;
  let readyz: ReturnType<typeof watchReadyz>;
  const caBundle = () => Buffer.from(certs.ca).toString('base64');
  const rule = (resources: string[], groups = [''], ops = ['CREATE']) => [{ operations: ops, apiGroups: groups, apiVersions: ['*'], resources }];
  const hook = (name: string, clientConfig: Obj, extra: Obj = {}) => ({ name, clientConfig: { caBundle: caBundle(), ...clientConfig }, sideEffects: 'None', admissionReviewVersions: ['v1'], ...extra });
  const at = (path: string) => ({ url: `https://127.0.0.1:${URL_PORT}${path}` });

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'podbay-e2e-hooks-certs-'));
    certs = makeCerts(work);
    s = await suite.start('podbay-e2e-hooks-', ['--service-cluster-ip-range', '10.247.0.0/24', '--service-node-port-range', '18440-18449']);
    await suite.loadBusybox();
    readyz = watchReadyz(s);
    log = join(work, 'reviews.jsonl');
    local = await startWebhookServer(work, '127.0.0.1', URL_PORT, log);
  });

  after(async () => {
    await k('delete', 'mutatingwebhookconfigurations,validatingwebhookconfigurations', '--all');
    await stopProcess(local);
    await stopProcess(viaService);
    const r = await readyz.stop();
    console.log(`/readyz: worst ${Math.round(r.worstMs)} ms over ${r.samples} samples`);
    await suite.finish(kc.path);
    rmSync(work, { recursive: true, force: true });
    assert.deepEqual(r.failures, []);
    assert.ok(r.worstMs < 1000, `/readyz answered within 1 s throughout (worst ${Math.round(r.worstMs)} ms)`);
  });

  it('configurations are validated as kube-apiserver validates them and listed with their webhook count', async () => {
    const bad = await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'bad' }, webhooks: [{ name: 'short', clientConfig: { url: 'http://127.0.0.1/' }, timeoutSeconds: 40, admissionReviewVersions: ['v1'] }] }));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /webhooks\[0\]\.name: Invalid value: "short": should be a domain with at least three segments separated by dots/);
    assert.match(bad.stderr, /webhooks\[0\]\.sideEffects: Required value/);
    assert.match(bad.stderr, /webhooks\[0\]\.timeoutSeconds: Invalid value: 40: the timeout value must be between 1 and 30 seconds/);
    assert.match(bad.stderr, /webhooks\[0\]\.clientConfig\.url: Invalid value: "http": 'https' is the only allowed URL scheme/);
  });

  it('a mutating webhook (url on 127.0.0.1) labels new pods: kubectl create, then get shows the label', async () => {
    await create({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'label-pods' }, webhooks: [hook('pods.hooks.example.com', at('/label-pods'), { rules: rule(['pods']) })] });
    assert.match(await ok('get', 'mutatingwebhookconfigurations'), /^NAME\s+WEBHOOKS\s+AGE\nlabel-pods\s+1\s+\d+s\n$/);
    await create(podOf('labelled', { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] }, { labels: { app: 'demo' } }));
    assert.equal(await ok('get', 'pod', 'labelled', '-o', 'jsonpath={.metadata.labels.admitted-by}'), 'webhook');
    const got = seen().find((x) => x.path === '/label-pods')!;
    assert.equal(got.request.operation, 'CREATE');
    assert.deepEqual(got.request.kind, { group: '', version: 'v1', kind: 'Pod' });
    assert.equal(got.request.userInfo.username, 'podbay-admin');
    assert.equal(got.request.namespace, 'default');
    const annotations = JSON.parse(await ok('get', 'pod', 'labelled', '-o', 'json')).metadata.annotations ?? {};
    assert.ok(!Object.keys(annotations).some((a) => a.includes('webhook')), 'the mutation is not written into the object');
    // the pod runs: its bridge (the gateway address the next server listens on) now exists
    await waitFor('labelled running', async () => JSON.parse(await ok('get', 'pod', 'labelled', '-o', 'json')).status.phase === 'Running' || undefined, 60_000);
  });

  it('a validating webhook behind a Service denies a ConfigMap with a bad key; kubectl prints the denial; warnings come back', async () => {
    viaService = await startWebhookServer(work, GATEWAY, SVC_PORT, log);
    await create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'hooks' }, spec: { ports: [{ port: 443, targetPort: SVC_PORT }] } });
    await create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'hooks' }, subsets: [{ addresses: [{ ip: GATEWAY }], ports: [{ port: SVC_PORT }] }] });
    await ok('create', 'namespace', 'quiet');
    await ok('label', 'namespace', 'quiet', 'hooks=off');
    await create({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'configmaps' },
      webhooks: [hook('configmaps.hooks.example.com', { service: { namespace: 'default', name: 'hooks', path: '/configmaps' } }, { rules: rule(['configmaps']), namespaceSelector: { matchExpressions: [{ key: 'hooks', operator: 'NotIn', values: ['off'] }] } })],
    });
    const denied = await k('create', 'configmap', 'bad', '--from-literal=bad-key=1');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /admission webhook "configmaps.hooks.example.com" denied the request: key "bad-key" is not allowed here/);
    assert.equal((await k('get', 'configmap', 'bad')).code, 1, 'nothing was stored');
    const good = await k('create', 'configmap', 'good', '--from-literal=fine=1');
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stderr, /Warning: configmaps are checked by hooks.example.com ✓/, 'a warning in UTF-8 reaches kubectl whole');
    // namespaceSelector: the labelled namespace is left alone
    await ok('create', 'configmap', 'bad', '-n', 'quiet', '--from-literal=bad-key=1');
    assert.ok(!seen().some((x) => x.path === '/configmaps' && x.request.namespace === 'quiet'), 'the webhook never saw the excluded namespace');
  });

  it('dry run reaches a sideEffects None webhook with dryRun true and stores nothing', async () => {
    const before = seen().length;
    const out = await ok('create', 'configmap', 'dry', '--from-literal=fine=1', '--dry-run=server');
    assert.match(out, /configmap\/dry created \(server dry run\)/);
    const call = seen().slice(before).find((x) => x.path === '/configmaps');
    assert.ok(call, 'the webhook was called');
    assert.equal(call.request.dryRun, true);
    assert.equal((await k('get', 'configmap', 'dry')).code, 1);
    const denied = await k('create', 'configmap', 'dry', '--from-literal=bad-x=1', '--dry-run=server');
    assert.match(denied.stderr, /denied the request: key "bad-x" is not allowed here/);
  });

  it('matchConditions (CEL) pick the requests a webhook sees; an erring one fails closed naming the expression; authorizer is refused', async () => {
    const conditions = (expression: string) => [{ name: 'not-free', expression }];
    await create({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'picky' },
      webhooks: [
        hook('picky.hooks.example.com', at('/configmaps'), { rules: rule(['configmaps']), namespaceSelector: { matchLabels: { hooks: 'off' } }, matchConditions: conditions('!object.metadata.name.startsWith("free-") && request.userInfo.username != "nobody"') }),
        hook('broken.hooks.example.com', at('/configmaps'), { rules: rule(['configmaps']), namespaceSelector: { matchLabels: { hooks: 'off' } }, objectSelector: { matchLabels: { broken: 'yes' } }, matchConditions: conditions('object.data.missing == "x"') }),
      ],
    });
    const free = await k('create', 'configmap', 'free-1', '-n', 'quiet', '--from-literal=bad-key=1');
    assert.equal(free.code, 0, `a false condition skips the webhook: ${free.stderr}`);
    const held = await k('create', 'configmap', 'held-1', '-n', 'quiet', '--from-literal=bad-key=1');
    assert.notEqual(held.code, 0);
    assert.match(held.stderr, /admission webhook "picky.hooks.example.com" denied the request: key "bad-key" is not allowed here/);
    const broken = await kubectl(['create', '-n', 'quiet', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'free-broken', labels: { broken: 'yes' } }, data: { fine: '1' } }));
    assert.notEqual(broken.code, 0);
    assert.match(broken.stderr, /configmaps "free-broken" is forbidden: expression 'object.data.missing == "x"' resulted in error: No such key: missing/);
    const authz = await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'authz' }, webhooks: [hook('authz.hooks.example.com', at('/configmaps'), { rules: rule(['configmaps']), matchConditions: conditions('authorizer.group("").resource("pods").check("get").allowed()') })] }));
    assert.notEqual(authz.code, 0);
    assert.match(authz.stderr, /webhooks\[0\]\.matchConditions\[0\]\.expression: Invalid value: .*podbay does not evaluate authorizer checks in match conditions/);
    await ok('delete', 'validatingwebhookconfiguration', 'picky');
  });

  it('a webhook that times out: failurePolicy Fail refuses naming the webhook, Ignore lets the write through, both within timeoutSeconds', async () => {
    await create({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'slow' },
      webhooks: [
        hook('slow-fail.hooks.example.com', at('/slow'), { rules: rule(['configmaps']), timeoutSeconds: 2, failurePolicy: 'Fail', objectSelector: { matchLabels: { slow: 'fail' } } }),
        hook('slow-ignore.hooks.example.com', at('/slow'), { rules: rule(['configmaps']), timeoutSeconds: 2, failurePolicy: 'Ignore', objectSelector: { matchLabels: { slow: 'ignore' } } }),
      ],
    });
    const cm = (name: string, slow: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { slow } }, data: { fine: '1' } });
    let t0 = Date.now();
    const failed = await kubectl(['create', '-f', '-'], cm('slow-fail', 'fail'));
    const failMs = Date.now() - t0;
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /Internal error occurred: failed calling webhook "slow-fail.hooks.example.com": failed to call webhook: Post "https:\/\/127.0.0.1:18450\/slow\?timeout=2s": context deadline exceeded/);
    assert.ok(failMs >= 2000 && failMs < 5000, `refused after the 2 s timeout (${failMs} ms)`);
    t0 = Date.now();
    const ignored = await kubectl(['create', '-f', '-'], cm('slow-ignore', 'ignore'));
    const ignoreMs = Date.now() - t0;
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.ok(ignoreMs >= 2000 && ignoreMs < 5000, `let through after the 2 s timeout (${ignoreMs} ms)`);
    await ok('get', 'configmap', 'slow-ignore');
    await ok('delete', 'validatingwebhookconfiguration', 'slow');
  });

  it('CONNECT: a validating webhook on pods/exec sees the PodExecOptions and its denial makes kubectl exec fail with its message', async () => {
    await create({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'exec' },
      webhooks: [hook('exec.hooks.example.com', at('/exec'), { rules: rule(['pods/exec'], [''], ['CONNECT']) })],
    });
    const before = seen().length;
    const denied = await k('exec', 'labelled', '--', 'echo', 'forbidden');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /admission webhook "exec.hooks.example.com" denied the request: exec of "echo forbidden" is not allowed here/);
    assert.doesNotMatch(denied.stdout, /forbidden/, 'the command never ran');
    const call = seen().slice(before).find((x) => x.path === '/exec')!;
    assert.ok(call, 'the webhook was called');
    assert.deepEqual([call.request.operation, call.request.subResource, call.request.name, call.request.namespace], ['CONNECT', 'exec', 'labelled', 'default']);
    assert.deepEqual(call.request.kind, { group: '', version: 'v1', kind: 'PodExecOptions' });
    assert.deepEqual(call.request.resource, { group: '', version: 'v1', resource: 'pods' });
    assert.deepEqual(call.request.object.command, ['echo', 'forbidden']);
    assert.equal(call.request.object.container, 'c');
    assert.equal(await ok('exec', 'labelled', '--', 'echo', 'allowed'), 'allowed\n', 'an allowed exec runs');
    await ok('delete', 'validatingwebhookconfiguration', 'exec');
  });

  it('scale: a webhook on deployments/scale sees an autoscaling/v1 Scale and can refuse kubectl scale', async () => {
    await create({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 0, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] } } } });
    await create({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'scale' },
      webhooks: [hook('scale.hooks.example.com', at('/scale'), { rules: rule(['deployments/scale'], ['apps'], ['UPDATE']) })],
    });
    const before = seen().length;
    const denied = await k('scale', 'deployment', 'web', '--replicas=5');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /admission webhook "scale.hooks.example.com" denied the request: at most 3 replicas, not 5/);
    assert.equal(await ok('get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}'), '0', 'the denied scale changed nothing');
    const call = seen().slice(before).find((x) => x.path === '/scale')!;
    assert.deepEqual([call.request.operation, call.request.subResource], ['UPDATE', 'scale']);
    assert.deepEqual(call.request.kind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
    assert.deepEqual(call.request.resource, { group: 'apps', version: 'v1', resource: 'deployments' });
    assert.deepEqual([call.request.object.apiVersion, call.request.object.spec.replicas, call.request.oldObject.spec.replicas], ['autoscaling/v1', 5, 0]);
    // a plain update of the deployment is not a scale: the webhook is not called
    const n = seen().length;
    await ok('label', 'deployment', 'web', 'tier=front');
    assert.ok(!seen().slice(n).some((x) => x.path === '/scale'), 'rules on deployments/scale do not match an update of deployments');
    await ok('delete', 'validatingwebhookconfiguration', 'scale');
    await ok('delete', 'deployment', 'web');
  });

  it('a custom resource passes through a mutating webhook', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.hooks.example.com' },
      spec: {
        group: 'hooks.example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' }, checked: { type: 'boolean' } } } } } } }],
      },
    }));
    await waitFor('widgets served', async () => (await k('get', 'widgets')).code === 0 || undefined, 20_000);
    await create({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'widgets' }, webhooks: [hook('widgets.hooks.example.com', at('/widgets'), { rules: rule(['widgets'], ['hooks.example.com']) })] });
    await create({ apiVersion: 'hooks.example.com/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 3 } });
    const w = JSON.parse(await ok('get', 'widget', 'w1', '-o', 'json'));
    assert.deepEqual(w.spec, { size: 3, checked: true });
    const call = seen().find((x) => x.path === '/widgets')!;
    assert.deepEqual(call.request.resource, { group: 'hooks.example.com', version: 'v1', resource: 'widgets' });
    await ok('delete', 'crd', 'widgets.hooks.example.com');
  });
});
