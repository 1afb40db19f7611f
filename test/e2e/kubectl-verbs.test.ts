/**
 * The kubectl verbs beyond CRUD, driven by real kubectl (1.27 and the newest) and by Debian's
 * python3-kubernetes against a podbay server with its kubelet: `auth can-i` / `auth whoami`,
 * apply of a file mixing known and unknown kinds, `debug -i` (an ephemeral container),
 * `top pod|node` from the pods' cgroups, pods/proxy and nodes/proxy (through
 * `kubectl get --raw` and `kubectl proxy`), boolean query parameters as clients spell them
 * (watch=True) and error bodies byte for byte.
 *
 * This suite owns bridge pbverbs0, subnet 10.226.0.0/16 and hostPorts 18160-18179 (kubectl
 * proxy listens on 127.0.0.1:18160). Traffic goes only to loopback and to the pods it made.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, kubectlHelpers, podOf, watchReadyz } from './harness.js';

const kubectls = kubectlBinaries();
const newest = kubectls.at(-1)!;
const KUBECTL_PROXY_PORT = 18160;

/** GET through `kubectl proxy` on loopback */
function proxyGet(path: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: KUBECTL_PROXY_PORT, path, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}

/** kubectl without blocking this process (spawnSync would stall the readyz poller, not podbay) */
function kubectlAsync(s: PodbayServer, bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(bin, ['--kubeconfig', s.kubeconfig, ...args], { env: { ...process.env, KUBECONFIG: '', HOME: s.dataDir } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** "NAME CPU MEMORY" rows of `kubectl top pod` as {name: millicores} */
function topMillicores(out: string): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const line of out.trim().split('\n').slice(1)) {
    const [name, cpu] = line.trim().split(/\s+/);
    const m = /^(\d+)m$/.exec(cpu ?? '');
    assert.ok(m, `a CPU figure in millicores: ${line}`);
    rows[name!] = Number(m![1]);
  }
  return rows;
}

describe('kubectl verbs: auth, top, proxy, debug, mixed manifests (real kubectl and python3-kubernetes)', () => {
  const suite = new PodSuite('pbverbs0', '10.226.0.0/16', /^181[67]\d$/);
  let s: PodbayServer;
  const { ok, pod, create } = kubectlHelpers(() => s, newest.path);
  const running = (name: string) => waitFor(`${name} running`, () => (pod(name).status.phase === 'Running' ? pod(name) : undefined), 60_000);

  before(async () => {
    s = await suite.start('podbay-e2e-verbs-');
    await suite.loadBusybox();
    // a web server with a CGI script that shows the request the pod received
    create(
      podOf('web', {
        containers: [
          {
            name: 'web',
            image: 'busybox:1.36',
            command: [
              'sh',
              '-c',
              'mkdir -p /www/sub /www/cgi-bin && echo hello from web > /www/index.html && echo sub page > /www/sub/index.html && ' +
                'echo "<a href=\\"/sub/\\">s</a><img src=\\"http://$(hostname -i):80/i.png\\"><a href=\\"rel.html\\">r</a>" > /www/links.html && ' +
                'printf "#!/bin/sh\\necho Content-Type: text/plain\\necho\\nenv\\n" > /www/cgi-bin/env && chmod +x /www/cgi-bin/env && exec httpd -f -p 80 -h /www',
            ],
            ports: [{ containerPort: 80, name: 'http' }],
          },
        ],
      }),
    );
    create(podOf('idle', { containers: [{ name: 'idle', image: 'busybox:1.36', command: ['sleep', '3600'] }] }));
    await running('web');
    await running('idle');
  });

  after(() => suite.finish(newest.path));

  for (const kc of kubectls) {
    it(`${kc.name}: auth whoami names the admin user; auth can-i says yes, and lists the "*" rules; --as answers for the user named`, () => {
      const who = s.kubectl(kc.path, ['auth', 'whoami']);
      assert.equal(who.code, 0, who.stderr);
      assert.match(who.stdout, /^Username\s+podbay-admin$/m);
      assert.match(who.stdout, /^Groups\s+\[system:masters system:authenticated\]$/m);
      const can = s.kubectl(kc.path, ['auth', 'can-i', 'create', 'pods']);
      assert.equal(can.code, 0, can.stderr);
      assert.equal(can.stdout.trim(), 'yes');
      const list = s.kubectl(kc.path, ['auth', 'can-i', '--list']);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m);
      // --as is answered for bob (bound to nothing), not as the admin
      const as = s.kubectl(kc.path, ['auth', 'can-i', 'create', 'pods', '--as=bob']);
      assert.equal(as.stdout.trim(), 'no');
    });

    it(`${kc.name}: a file mixing known and unknown kinds applies the known ones and names each unknown one`, () => {
      const file = join(suite.work, 'mixed.yaml');
      const tag = kc.name.replace(/\W/g, '');
      writeFileSync(
        file,
        [
          `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mixed-cm-${tag}, labels: {app: mixed}}\ndata: {a: b}`,
          `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}`,
          `apiVersion: v1\nkind: Secret\nmetadata: {name: mixed-secret-${tag}}\nstringData: {a: b}`,
        ].join('\n---\n'),
      );
      const r = s.kubectl(kc.path, ['apply', '-f', file]);
      assert.equal(r.code, 1, 'an object could not be applied: exit 1');
      assert.match(r.stdout, new RegExp(`configmap/mixed-cm-${tag} created`));
      assert.match(r.stdout, new RegExp(`secret/mixed-secret-${tag} created`));
      assert.match(r.stderr, /no matches for kind "Widget" in version "example.com\/v1"/);
      assert.doesNotMatch(r.stderr, /customresourcedefinitions|the server could not find/);
    });

    it(`${kc.name}: apply --prune -l without an allowlist prunes what the file no longer names; cluster-info works`, () => {
      const tag = kc.name.replace(/\W/g, '');
      const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, labels: {app: prune-${tag}}}\ndata: {a: b}`;
      const first = s.kubectl(kc.path, ['apply', '-f', '-'], [cm(`keep-${tag}`), cm(`drop-${tag}`)].join('\n---\n'));
      assert.equal(first.code, 0, first.stderr);
      const pruned = s.kubectl(kc.path, ['apply', '--prune', '-l', `app=prune-${tag}`, '-f', '-'], cm(`keep-${tag}`));
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.match(pruned.stdout, new RegExp(`configmap/drop-${tag} pruned`));
      assert.match(s.kubectl(kc.path, ['get', 'configmap', `drop-${tag}`]).stderr, /not found/);
      assert.equal(s.kubectl(kc.path, ['get', 'configmap', `keep-${tag}`]).code, 0);
      const info = s.kubectl(kc.path, ['cluster-info']);
      assert.equal(info.code, 0, info.stderr);
      // kubectl 1.27 colours the line even when it is not a terminal
      assert.match(info.stdout.replace(/\x1B\[[0-9;]*m/g, ''), /Kubernetes control plane is running at https:\/\/127\.0\.0\.1:\d+/);
    });

    it(`${kc.name}: debug -i adds an ephemeral container and relays its stdin and output (test/e2e/ephemeral-containers.test.ts has the rest)`, () => {
      const name = `dbg-${kc.name.replace(/\W/g, '')}`;
      const r = s.kubectl(kc.path, ['debug', 'idle', '-i', '--image=busybox:1.36', '--image-pull-policy=Never', `--container=${name}`, '--', 'sh', '-c', 'read x; echo "debugged $x"'], 'through-stdin\n');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /debugged through-stdin/);
      assert.doesNotMatch(r.stderr, /panic|goroutine/);
    });
  }

  it('debug --copy-to and debug node/NAME: the Pods kubectl 1.30+ sends as protobuf are read', async () => {
    for (const kc of kubectls) {
      const copy = `idle-copy-${kc.name.replace(/\W/g, '')}`;
      const r = s.kubectl(kc.path, ['debug', 'idle', `--copy-to=${copy}`, '--image=busybox:1.36', '--container=dbg', '--', 'sleep', '3600']);
      assert.equal(r.code, 0, r.stderr);
      const p = pod(copy);
      assert.deepEqual(p.spec.containers.map((c: any) => c.name), ['idle', 'dbg']);
      assert.equal(p.spec.terminationGracePeriodSeconds, 0, 'a pointer sent as 0 stays 0');
      await running(copy);
      ok('delete', 'pod', copy, '--grace-period=0', '--force');
    }
    const node = JSON.parse(ok('get', 'nodes', '-o', 'json')).items[0].metadata.name;
    const r = s.kubectl(newest.path, ['debug', `node/${node}`, '--image=busybox:1.36', '--', 'true']);
    assert.equal(r.code, 0, r.stderr);
    const made = /pod (\S+)/.exec(r.stdout + r.stderr)?.[1];
    assert.ok(made, `kubectl names the node debugging pod: ${r.stdout}${r.stderr}`);
    const p = pod(made!);
    assert.equal(p.spec.nodeName, node);
    assert.equal(p.spec.hostPID, true);
    assert.equal(p.spec.volumes[0].hostPath.path, '/');
    ok('delete', 'pod', made!, '--grace-period=0', '--force');
  });

  it('no CRDs yet: listed empty, a name is not found (crds.test.ts covers serving them); Ingresses are served (ingress.test.ts covers them)', () => {
    assert.match(ok('get', 'crd'), /^$/);
    const get = s.kubectl(newest.path, ['get', 'crd', 'widgets.example.com']);
    assert.match(get.stderr, /customresourcedefinitions.apiextensions.k8s.io "widgets.example.com" not found/);
    assert.match(s.kubectl(newest.path, ['get', 'ingresses', '-A']).stderr, /No resources found/);
  });

  it('error bodies are kube-apiserver\'s bytes: field order, details of a 404, trailing newline', async () => {
    const r = await s.request('GET', '/api/v1/namespaces/default/pods/ghost');
    assert.equal(r.status, 404);
    assert.equal(r.body, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"ghost\\" not found","reason":"NotFound","details":{"name":"ghost","kind":"pods"},"code":404}\n');
  });

  it('boolean parameters as clients spell them: watch=True streams events, timestamps=True stamps log lines', async () => {
    for (const v of ['True', 't', '1', 'TRUE']) {
      const r = await s.request('GET', `/api/v1/namespaces/default/pods?watch=${v}&timeoutSeconds=1&fieldSelector=metadata.name%3Didle`);
      assert.equal(r.status, 200);
      const first = JSON.parse(r.body.split('\n')[0]!);
      assert.equal(first.type, 'ADDED', `watch=${v} is a watch`);
      assert.equal(first.object.metadata.name, 'idle');
    }
    const list = await s.request('GET', '/api/v1/namespaces/default/pods?watch=False');
    assert.equal(list.json.kind, 'PodList', 'watch=False is a list');
    const logs = await s.request('GET', '/api/v1/namespaces/default/pods/web/log?timestamps=True');
    assert.equal(logs.status, 200);
    const plain = await s.request('GET', '/api/v1/namespaces/default/pods/web/log?timestamps=0');
    assert.equal(plain.status, 200);
    // httpd -f writes nothing; the log may be empty: then timestamps have nothing to stamp
    for (const line of logs.body.split('\n').filter(Boolean)) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z /);
  });

  it('top pod / top pod --containers / top node: a busy-looping pod shows more CPU than an idle one', async () => {
    create(podOf('busy', { containers: [{ name: 'spin', image: 'busybox:1.36', command: ['sh', '-c', 'while :; do :; done'], resources: { limits: { cpu: '500m' } } }] }));
    await running('busy');
    const ready = watchReadyz(s);
    try {
      for (const kc of kubectls) {
        // the first sample of a container needs a second one a window later: give the loop a moment too
        const rows = await waitFor(`${kc.name} top pod shows busy above 50m`, async () => {
          const r = await kubectlAsync(s, kc.path, ['top', 'pod']);
          assert.equal(r.code, 0, r.stderr);
          const rows = topMillicores(r.stdout);
          return rows.busy !== undefined && rows.busy > 50 ? rows : undefined;
        }, 30_000);
        assert.ok(rows.busy! > rows.idle!, `busy ${rows.busy}m > idle ${rows.idle}m`);
        assert.ok(rows.busy! <= 600, `the 500m limit holds (${rows.busy}m)`);
        assert.ok(rows.idle! < 50, `idle uses next to nothing (${rows.idle}m)`);
        const containers = await kubectlAsync(s, kc.path, ['top', 'pod', '--containers']);
        assert.equal(containers.code, 0, containers.stderr);
        assert.match(containers.stdout, /^busy\s+spin\s+\d+m\s+\d+Mi/m);
        const node = await kubectlAsync(s, kc.path, ['top', 'node']);
        assert.equal(node.code, 0, node.stderr);
        assert.match(node.stdout, /^\S+\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%/m);
      }
      const raw = JSON.parse((await kubectlAsync(s, newest.path, ['get', '--raw', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy'])).stdout);
      assert.equal(raw.kind, 'PodMetrics');
      assert.match(raw.window, /^\d+(\.\d+)?s$/);
      assert.match(raw.containers[0].usage.cpu, /^\d+n$/);
      assert.match(raw.containers[0].usage.memory, /^\d+Ki$/);
    } finally {
      const { worstMs, failures } = await ready.stop();
      assert.deepEqual(failures, []);
      assert.ok(worstMs < 1000, `readyz answered within 1 s while top sampled (worst ${Math.round(worstMs)} ms)`);
      ok('delete', 'pod', 'busy', '--grace-period=0', '--force');
    }
  });

  it('pods/proxy through kubectl get --raw: the page, a named port, a closed port (503), a pod with no port declared (its port 80)', () => {
    for (const kc of kubectls) {
      const page = s.kubectl(kc.path, ['get', '--raw', '/api/v1/namespaces/default/pods/web:80/proxy/']);
      assert.equal(page.code, 0, page.stderr);
      assert.equal(page.stdout, 'hello from web\n');
    }
    assert.equal(ok('get', '--raw', '/api/v1/namespaces/default/pods/web:http/proxy/sub/'), 'sub page\n');
    assert.equal(ok('get', '--raw', '/api/v1/namespaces/default/pods/web/proxy/index.html'), 'hello from web\n');
    const closed = s.kubectl(newest.path, ['get', '--raw', '/api/v1/namespaces/default/pods/web:81/proxy/']);
    assert.equal(closed.code, 1);
    assert.match(closed.stderr, /error trying to reach service: dial tcp 10\.226\.\d+\.\d+:81: connect: connection refused/);
    const none = s.kubectl(newest.path, ['get', '--raw', '/api/v1/namespaces/default/pods/idle/proxy/']);
    assert.match(none.stderr, /dial tcp 10\.226\.\d+\.\d+:80: connect: connection refused/);
  });

  it('pods/proxy and nodes/proxy through kubectl proxy and curl: page links rewritten, the pod never sees the token; healthz and stats/summary', async () => {
    const proxy = spawn(newest.path, ['--kubeconfig', s.kubeconfig, 'proxy', `--port=${KUBECTL_PROXY_PORT}`, '--address=127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const page = await waitFor('kubectl proxy serves', () => proxyGet('/api/v1/namespaces/default/pods/web:80/proxy/').catch(() => undefined), 15_000);
      assert.equal(page.status, 200);
      assert.equal(page.body, 'hello from web\n');
      const curl = spawnSync('curl', ['-s', '-i', `http://127.0.0.1:${KUBECTL_PROXY_PORT}/api/v1/namespaces/default/pods/web:80/proxy`], { encoding: 'utf8' });
      assert.equal(curl.status, 0, 'curl is installed (Debian package curl)');
      assert.match(curl.stdout, /^HTTP\/1\.1 301/);
      assert.match(curl.stdout, /^Location: \/api\/v1\/namespaces\/default\/pods\/web:80\/proxy\/\r$/m);
      const links = await proxyGet('/api/v1/namespaces/default/pods/web:80/proxy/links.html');
      const p = '/api/v1/namespaces/default/pods/web:80/proxy';
      assert.equal(links.body, `<a href="${p}/sub/">s</a><img src="${p}/i.png"><a href="rel.html">r</a>\n`, 'links into the pod go through the proxy');
      const env = await proxyGet('/api/v1/namespaces/default/pods/web:80/proxy/cgi-bin/env?x=1');
      assert.equal(env.status, 200, env.body);
      assert.match(env.body, /^QUERY_STRING=x=1$/m);
      assert.match(env.body, /^HTTP_X_FORWARDED_URI=\/api\/v1\/namespaces\/default\/pods\/web:80\/proxy\/cgi-bin\/env$/m);
      assert.doesNotMatch(env.body, /AUTHORIZATION|Bearer/i, 'the bearer token stays with the API server');
      const node = JSON.parse(ok('get', 'nodes', '-o', 'json')).items[0].metadata.name;
      assert.equal((await proxyGet(`/api/v1/nodes/${node}/proxy/healthz`)).body, 'ok');
      const summary = JSON.parse((await proxyGet(`/api/v1/nodes/${node}/proxy/stats/summary`)).body);
      assert.equal(summary.node.nodeName, node);
      const web = summary.pods.find((p: any) => p.podRef.name === 'web');
      assert.ok(web, 'the web pod is in the summary');
      assert.ok(web.memory.workingSetBytes > 0);
      assert.equal((await proxyGet(`/api/v1/nodes/${node}/proxy/logs/`)).status, 403);
      const podList = JSON.parse((await proxyGet(`/api/v1/nodes/${node}/proxy/pods`)).body);
      assert.equal(podList.kind, 'PodList');
      assert.ok(['web', 'idle'].every((n) => podList.items.some((p: any) => p.metadata.name === n)), 'the node\'s pods');
    } finally {
      proxy.kill();
    }
  });

  it('python3-kubernetes (Debian): kubernetes.stream.portforward reaches the pod\'s port 80, and a closed port answers on its error channel', async () => {
    const script = `
import sys
from kubernetes import client, config
from kubernetes.stream import portforward
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
pf = portforward(v1.connect_get_namespaced_pod_portforward, 'web', 'default', ports='80,81')
web = pf.socket(80)
web.setblocking(True)
web.sendall(b'GET / HTTP/1.0\\r\\nHost: web\\r\\n\\r\\n')
data = b''
while True:
    chunk = web.recv(65536)
    if not chunk:
        break
    data += chunk
print('status', data.split(b'\\r\\n')[0].decode())
print('body', data.split(b'\\r\\n\\r\\n', 1)[1].decode().strip())
# the port nothing listens on: its error came on its error channel, and its socket is closed
closed = pf.socket(81)
closed.settimeout(20)
rest = closed.recv(100)
print('closed-port-data', repr(rest))
print('closed-port-error', pf.error(81))
pf.close()
`;
    const r = spawnSync('/usr/bin/python3', ['-c', script, s.kubeconfig], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `python3-kubernetes is installed (Debian package python3-kubernetes) and ran:\n${r.stderr}\n${r.stdout}`);
    assert.match(r.stdout, /^status HTTP\/1\.[01] 200 OK$/m, r.stdout);
    assert.match(r.stdout, /^body hello from web$/m, r.stdout);
    assert.match(r.stdout, /^closed-port-data b''$/m, r.stdout);
    assert.match(r.stdout, /^closed-port-error .*81.*(refused|connect)/im, r.stdout);
  });

  it('python3-kubernetes (Debian): list, create, watch (watch=True), logs with timestamps=True', () => {
    const script = `
import sys
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
names = [p.metadata.name for p in v1.list_namespaced_pod('default').items]
print('list', ' '.join(sorted(names)))
v1.create_namespaced_config_map('default', client.V1ConfigMap(metadata=client.V1ObjectMeta(name='from-python'), data={'k': 'v'}))
w = watch.Watch()
seen = []
for ev in w.stream(v1.list_namespaced_config_map, 'default', field_selector='metadata.name=from-python', timeout_seconds=5):
    seen.append(ev['type'] + ' ' + ev['object'].metadata.name)
    w.stop()
print('watch', ' '.join(seen))
log = v1.read_namespaced_pod_log('stamped', 'default', timestamps=True)
print('log', log.strip())
`;
    create(podOf('stamped', { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', 'echo stamped line; sleep 3600'] }] }));
    return (async () => {
      await running('stamped');
      await waitFor('the log line is written', () => ok('logs', 'stamped').includes('stamped line') || undefined, 30_000);
      // Debian's interpreter: the package installs into its dist-packages (a pyenv python3 may shadow it on PATH)
      const r = spawnSync('/usr/bin/python3', ['-c', script, s.kubeconfig], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `python3-kubernetes is installed (Debian package python3-kubernetes) and ran:\n${r.stderr}`);
      assert.match(r.stdout, /^list .*\bidle\b.*\bweb\b/m);
      assert.match(r.stdout, /^watch ADDED from-python$/m, 'watch=True streams events');
      assert.match(r.stdout, /^log \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z stamped line$/m, 'timestamps=True stamps the line');
      assert.match(ok('get', 'configmap', 'from-python', '-o', 'jsonpath={.data.k}'), /^v$/);
    })();
  });
});
