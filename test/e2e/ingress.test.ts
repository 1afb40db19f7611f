/**
 * Ingress for real: kubectl stores Ingresses, podbay's built-in controller renders them into
 * Debian's nginx (run as podbay's child on 127.0.0.1:18420/18421) and curl on the host reaches
 * two busybox httpd Deployments behind Services through it: host and path routing (Prefix is
 * element-wise, Exact beats Prefix), TLS from a Secret with a self-signed certificate, a missing
 * Service (an event; that host answers 503, the others keep serving), a backend scaled up and
 * nginx following its endpoints, reloads under a running request loop dropping nothing, a
 * configuration nginx refuses (a key that does not match its certificate) keeping the old one
 * serving with a RELOAD event, and podbay's stop leaving no nginx process and no file. The
 * nginx.ingress.kubernetes.io annotations: the 308 to HTTPS of a TLS host (ssl-redirect),
 * rewrite-target with use-regex capture groups, an allowlist, and events for an annotation
 * podbay does not implement and for a value that does not parse.
 *
 * This suite owns bridge pbing0, pod subnet 10.244.0.0/24, the service range 10.245.0.0/24
 * and ports 18420-18439 (ingress HTTP 18420, HTTPS 18421; node ports 18430-18439, none used).
 * Traffic goes only to 127.0.0.1 and this suite's pod IPs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { PodbayServer, PodSuite, hostLeftovers, kubectlBinaries, kubectlHelpers, waitFor, watchReadyz } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);
const HTTP = 18420;
const HTTPS = 18421;

/** GET through the ingress with a Host header: status, body and where a redirect points */
function get(host: string, path: string): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: HTTP, path, headers: { Host: host }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** the nginx processes whose command line names this suite's run dir */
function ourNginx(runDir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes('nginx') && cmd.includes(runDir)) out.push(`${pid}: ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * the worker processes of the nginx master in the run dir's nginx.pid. After `nginx -s reload`
 * the old worker keeps accepting connections with the old configuration until it has taken the
 * master's QUIT, so for a moment a request may meet either one.
 */
function nginxWorkers(runDir: string): string[] {
  let master = '';
  try {
    master = readFileSync(join(runDir, 'ingress', 'nginx.pid'), 'utf8').trim();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === master) out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      /* gone */
    }
  }
  return out;
}

/** a backend Deployment: busybox httpd serving `files` (path -> content; $(hostname) expands) */
function backend(name: string, files: Record<string, string>): string {
  const script = ['mkdir -p /www', ...Object.entries(files).map(([p, c]) => `mkdir -p /www${p.slice(0, p.lastIndexOf('/')) || '/'} && echo "${c}" > /www${p}`), 'exec httpd -f -p 8080 -h /www'].join(' && ');
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:1.36
        command: [sh, -c, ${JSON.stringify(script)}]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 80, targetPort: http}]
`;
}

const BLOG = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: blog}
spec:
  rules:
  - host: blog.local
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
      - {path: /exact, pathType: Exact, backend: {service: {name: api, port: {number: 80}}}}
`;

/** BLOG with TLS, still served over plain HTTP too (ssl-redirect off: the later cases use HTTP) */
const BLOG_TLS = BLOG.replace('metadata: {name: blog}\n', 'metadata:\n  name: blog\n  annotations: {nginx.ingress.kubernetes.io/ssl-redirect: "false"}\n').replace('spec:\n', 'spec:\n  tls: [{hosts: [blog.local], secretName: blog-tls}]\n');

describe('Ingress served by the built-in controller (Debian nginx under podbay)', () => {
  const suite = new PodSuite('pbing0', '10.244.0.0/24', /^18(4[23])\d$/);
  let s: PodbayServer;
  const { k, ok, apply, events } = kubectlHelpers(() => s, kc.path);
  let readyz: ReturnType<typeof watchReadyz>;
  const readyReplicas = (name: string, n: number) =>
    waitFor(`${name} has ${n} ready`, () => {
      const d = JSON.parse(ok('get', 'deployment', name, '-o', 'json'));
      return d.status?.readyReplicas === n ? d : undefined;
    }, 90_000);
  /**
   * until `cond` holds through nginx, and then until its one worker is the one that answered:
   * a request that met the new configuration proves a new worker runs, and once the old one is
   * gone every later request meets the new configuration too
   */
  const until = (what: string, cond: () => Promise<boolean>, ms = 20_000) =>
    waitFor(what, async () => ((await cond().catch(() => false)) ? true : undefined), ms)
      .then(() =>
        waitFor(`${what}: the old nginx worker gone`, () => {
          const w = nginxWorkers(suite.runDir);
          return w.length === 1 && !/shutting down/.test(w[0]) ? true : undefined;
        }, ms),
      )
      .catch((e) => {
        throw new Error(`${(e as Error).message}\nnginx workers: ${nginxWorkers(suite.runDir).join(', ')}\nserver log:\n${s.log.split('\n').filter((l) => /ingress/.test(l)).slice(-15).join('\n')}`);
      });

  before(async () => {
    if (!existsSync('/usr/sbin/nginx')) assert.fail('nginx is missing: install the Debian package nginx-light (scripts/setup-host.sh)');
    s = await suite.start('podbay-e2e-ingress-', [
      '--service-cluster-ip-range', '10.245.0.0/24',
      '--service-node-port-range', '18430-18439',
      '--ingress-http-port', String(HTTP),
      '--ingress-https-port', String(HTTPS),
      '--ingress-bind-address', '127.0.0.1',
    ]);
    readyz = watchReadyz(s);
    await suite.loadBusybox();
    apply(backend('web', { '/index.html': 'web $(hostname)', '/apix': 'web-apix', '/exact/more': 'web-exact-more' }));
    apply(backend('api', { '/api/x': 'api', '/exact': 'api-exact' }));
    await readyReplicas('web', 1);
    await readyReplicas('api', 1);
  });

  after(async () => {
    k('delete', 'ingress', '--all');
    k('delete', 'deployment', '--all', '--wait=true');
    k('delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true');
    await waitFor('all pods gone', () => (JSON.parse(ok('get', 'pods', '-o', 'json')).items.length === 0 ? true : undefined), 60_000);
    const r = await readyz.stop();
    // podbay's stop takes nginx and its files with it
    const runDir = suite.runDir;
    assert.equal(await s.stop(), 0, s.log);
    assert.deepEqual(ourNginx(runDir), [], 'podbay stop leaves no nginx process');
    assert.equal(existsSync(join(runDir, 'ingress')), false, "nginx's files are removed");
    assert.equal(await get('blog.local', '/').then(() => true, () => false), false, 'the ingress port is closed');
    await s.teardown();
    const leftovers = hostLeftovers(suite);
    rmSync(suite.work, { recursive: true, force: true });
    assert.deepEqual(leftovers, [], 'the host should be left as it was found');
    assert.deepEqual(r.failures, []);
    assert.ok(r.worstMs < 1000, `readyz answered within 1 s throughout (worst ${r.worstMs} ms)`);
  });

  it('the default IngressClass podbay exists; nginx runs as podbay\'s child with its files under the run dir', () => {
    assert.match(ok('get', 'ingressclass'), /^NAME\s+CONTROLLER\s+PARAMETERS\s+AGE\npodbay\s+podbay\.io\/ingress-nginx\s+<none>\s+\d+s\n$/);
    const ic = JSON.parse(ok('get', 'ingressclass', 'podbay', '-o', 'json'));
    assert.equal(ic.metadata.annotations['ingressclass.kubernetes.io/is-default-class'], 'true');
    const procs = ourNginx(suite.runDir);
    assert.ok(procs.some((p) => /nginx: master process/.test(p) || /daemon off/.test(p)), procs.join('\n'));
    assert.ok(existsSync(join(suite.runDir, 'ingress', 'nginx.conf')));
    assert.ok(statSync(join(suite.runDir, 'ingress', 'nginx.pid')).isFile());
  });

  it("a pod's hostPort on the ingress port is refused: Pending, Unschedulable, the ingress controller named", async () => {
    apply(`apiVersion: v1\nkind: Pod\nmetadata: {name: steal-ingress}\nspec:\n  containers:\n  - {name: c, image: busybox:1.36, command: [sleep, '3600'], ports: [{containerPort: 80, hostPort: ${HTTP}}]}\n`);
    const cond = await waitFor('steal-ingress unschedulable', () => {
      const p = JSON.parse(ok('get', 'pod', 'steal-ingress', '-o', 'json'));
      return (p.status.conditions ?? []).find((c: any) => c.type === 'PodScheduled' && c.status === 'False');
    });
    assert.equal(cond.reason, 'Unschedulable');
    assert.ok(cond.message.includes(`hostPort ${HTTP}/TCP is podbay's ingress controller (nginx, HTTP)`), cond.message);
    ok('delete', 'pod', 'steal-ingress', '--grace-period=0', '--force');
  });

  it('a bad Ingress is refused with the field (422)', () => {
    const r = s.kubectl(kc.path, ['apply', '-f', '-'], BLOG.replace('pathType: Exact, ', '').replace('name: blog', 'name: bad'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.rules\[0\]\.http\.paths\[2\]\.pathType: Required value: pathType must be specified/);
  });

  it('host and path routing: / and /api reach their backends, Prefix is element-wise, Exact beats Prefix; status and columns', async () => {
    apply(BLOG);
    await until('blog.local served', async () => (await get('blog.local', '/')).body.startsWith('web '));
    assert.equal((await get('blog.local', '/api/x')).body, 'api\n');
    assert.equal((await get('blog.local', '/apix')).body, 'web-apix\n', '/apix is not under the Prefix /api');
    assert.equal((await get('blog.local', '/exact')).body, 'api-exact\n');
    assert.equal((await get('blog.local', '/exact/more')).body, 'web-exact-more\n', 'an Exact path matches that path alone');
    const unknown = await get('other.local', '/');
    assert.equal(unknown.status, 404, 'a host no rule names: 404 from the default server');
    const ing = await waitFor('status filled', () => {
      const i = JSON.parse(ok('get', 'ingress', 'blog', '-o', 'json'));
      return i.status?.loadBalancer?.ingress?.[0]?.ip ? i : undefined;
    });
    assert.deepEqual(ing.status.loadBalancer.ingress, [{ ip: '127.0.0.1' }]);
    assert.equal(ing.spec.ingressClassName, 'podbay', 'the default class was filled in at create');
    assert.match(ok('get', 'ingress'), /^NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE\nblog\s+podbay\s+blog\.local\s+127\.0\.0\.1\s+80\s+\d+s\n$/);
    // kubectl's own describer reads the rules and the backends' endpoints
    const described = ok('describe', 'ingress', 'blog');
    assert.match(described, /Ingress Class:\s+podbay/);
    assert.match(described, /blog\.local\s*\n\s+\/\s+web:80 \(10\.244\.0\.\d+:8080\)/);
    // upstreams are pod IPs at the target port, never the cluster IP
    const conf = readFileSync(join(suite.runDir, 'ingress', 'nginx.conf'), 'utf8');
    assert.match(conf, /server 10\.244\.0\.\d+:8080 max_fails=0;/);
    assert.doesNotMatch(conf, /10\.245\.0\./);
  });

  it('TLS from a kubernetes.io/tls Secret with a self-signed certificate (files 0600 under the run dir)', async () => {
    const key = join(suite.work, 'tls.key');
    const crt = join(suite.work, 'tls.crt');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=blog.local', '-addext', 'subjectAltName=DNS:blog.local'], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    ok('create', 'secret', 'tls', 'blog-tls', '--cert', crt, '--key', key);
    apply(BLOG.replace('spec:\n', 'spec:\n  tls: [{hosts: [blog.local], secretName: blog-tls}]\n'));
    const curl = () => spawnSync('curl', ['-s', '--max-time', '5', '--resolve', `blog.local:${HTTPS}:127.0.0.1`, '--cacert', crt, `https://blog.local:${HTTPS}/api/x`], { encoding: 'utf8' });
    await until('blog.local over HTTPS', async () => curl().stdout === 'api\n');
    const tlsDir = join(suite.runDir, 'ingress', 'tls');
    const files = readdirSync(tlsDir);
    assert.equal(files.length, 2, files.join(' '));
    for (const f of files) assert.equal(statSync(join(tlsDir, f)).mode & 0o777, 0o600, f);
    assert.match(ok('get', 'ingress', 'blog'), /blog\s+podbay\s+blog\.local\s+127\.0\.0\.1\s+80, 443\s+/);
    // a host with TLS answers plain HTTP with 308 to HTTPS, as ingress-nginx does
    const redirected = await get('blog.local', '/api/x?a=1');
    assert.equal(redirected.status, 308);
    assert.equal(redirected.location, `https://blog.local:${HTTPS}/api/x?a=1`);
    apply(BLOG_TLS);
    await until('ssl-redirect "false": plain HTTP served again', async () => (await get('blog.local', '/api/x')).body === 'api\n');
    assert.equal(curl().stdout, 'api\n', 'and HTTPS still');
  });

  it('an Ingress naming a missing Service: an event, that host answers 503, the others keep serving', async () => {
    apply('apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: broken}\nspec:\n  rules:\n  - host: broken.local\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: missing, port: {number: 80}}}}\n');
    await waitFor('the ServiceNotFound event', () => (/Warning ServiceNotFound Service "default\/missing" not found/.test(events('broken')) ? true : undefined), 20_000);
    await until('broken.local answers 503', async () => (await get('broken.local', '/')).status === 503);
    assert.equal((await get('blog.local', '/api/x')).body, 'api\n');
    assert.ok((await get('blog.local', '/')).body.startsWith('web '));
  });

  it('nginx.ingress.kubernetes.io annotations: rewrite-target with use-regex capture groups, an allowlist; unsupported ones and bad values are events', async () => {
    apply(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: rewrite
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/rewrite-target: /$2
    nginx.ingress.kubernetes.io/enable-cors: "true"
spec:
  rules:
  - host: rewrite.local
    http:
      paths:
      - {path: "/app(/|$)(.*)", pathType: ImplementationSpecific, backend: {service: {name: api, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: fenced
  annotations: {nginx.ingress.kubernetes.io/allowlist-source-range: 10.0.0.0/8}
spec:
  rules:
  - host: fenced.local
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: odd
  annotations: {nginx.ingress.kubernetes.io/proxy-body-size: lots}
spec:
  rules:
  - host: odd.local
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`);
    // /app/api/x is sent to the backend as /api/x (the second capture group)
    await until('rewrite.local rewrites /app/api/x to /api/x', async () => (await get('rewrite.local', '/app/api/x')).body === 'api\n');
    assert.equal((await get('rewrite.local', '/APP/exact')).body, 'api-exact\n', 'a case-insensitive regex, as ingress-nginx writes it');
    assert.equal((await get('rewrite.local', '/other')).status, 404, 'outside the regex: nothing');
    await until('fenced.local refuses 127.0.0.1', async () => (await get('fenced.local', '/')).status === 403);
    await waitFor('the UnsupportedAnnotation event', () => (/Warning UnsupportedAnnotation podbay's ingress controller ignores nginx\.ingress\.kubernetes\.io\/enable-cors: not implemented/.test(events('rewrite')) ? true : undefined), 20_000);
    await waitFor('the InvalidAnnotation event', () => (/Warning InvalidAnnotation nginx\.ingress\.kubernetes\.io\/proxy-body-size: "lots" is not a size .*: the Ingress is not served/.test(events('odd')) ? true : undefined), 20_000);
    assert.equal((await get('odd.local', '/')).status, 404, 'the Ingress with a bad value is not served (the catch-all answers)');
    assert.equal((await get('blog.local', '/api/x')).body, 'api\n', 'the others keep serving');
    ok('delete', 'ingress', 'rewrite', 'fenced', 'odd');
  });

  it('scaling a backend: nginx follows its endpoints', async () => {
    ok('scale', 'deployment', 'web', '--replicas=2');
    await readyReplicas('web', 2);
    const seen = new Set<string>();
    await until('both web pods answer through nginx', async () => {
      for (let i = 0; i < 6; i++) seen.add((await get('blog.local', '/')).body.trim());
      return seen.size >= 2;
    }, 30_000);
    assert.ok([...seen].every((b) => /^web web-/.test(b)), [...seen].join(', '));
    ok('scale', 'deployment', 'web', '--replicas=1');
    await readyReplicas('web', 1);
  });

  it('reloads under a running request loop drop nothing', async () => {
    let stop = false;
    const results = { ok: 0, failed: [] as string[] };
    const loop = (async () => {
      while (!stop) {
        try {
          const r = await get('blog.local', '/api/x');
          if (r.status === 200 && r.body === 'api\n') results.ok++;
          else results.failed.push(`${r.status} ${r.body.slice(0, 40)}`);
        } catch (e) {
          results.failed.push((e as Error).message);
        }
      }
    })();
    const confFile = join(suite.runDir, 'ingress', 'nginx.conf');
    const pidFile = join(suite.runDir, 'ingress', 'nginx.pid');
    const master = readFileSync(pidFile, 'utf8').trim();
    for (let i = 0; i < 5; i++) {
      const before = readFileSync(confFile, 'utf8');
      ok('annotate', 'ingress', 'blog', `podbay.test/round=${i}`, '--overwrite');
      // a new path each round changes the rendered file, so nginx reloads
      apply(BLOG_TLS + `      - {path: /round${i}, pathType: Exact, backend: {service: {name: web, port: {number: 80}}}}\n`);
      await until(`reload ${i}`, async () => readFileSync(confFile, 'utf8') !== before);
      await new Promise((r) => setTimeout(r, 300));
    }
    stop = true;
    await loop;
    assert.deepEqual(results.failed, [], `${results.ok} requests succeeded`);
    assert.ok(results.ok > 20, `the loop ran (${results.ok} requests)`);
    assert.equal(readFileSync(pidFile, 'utf8').trim(), master, 'reloaded by the same master (nginx -s reload), not restarted');
    assert.match(readFileSync(confFile, 'utf8'), /location = "\/round4"/);
  });

  it('nginx killed behind podbay\'s back is started again and serves', async () => {
    const pidFile = join(suite.runDir, 'ingress', 'nginx.pid');
    const master = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(master, 'SIGTERM');
    await until('a new nginx serving', async () => {
      const now = Number((readFileSync(pidFile, 'utf8') || '0').trim());
      return now !== master && (await get('blog.local', '/api/x')).body === 'api\n';
    });
    assert.match(s.log, /ingress: nginx exited \(.*\) unexpectedly/);
  });

  it('a configuration nginx refuses (a key that does not match its certificate) keeps the old one serving, with a RELOAD event', async () => {
    const other = join(suite.work, 'other.key');
    assert.equal(spawnSync('openssl', ['genrsa', '-out', other, '2048']).status, 0);
    const secret = JSON.parse(ok('get', 'secret', 'blog-tls', '-o', 'json'));
    secret.data['tls.key'] = readFileSync(other).toString('base64');
    writeFileSync(join(suite.work, 'mismatch.json'), JSON.stringify(secret));
    ok('replace', '-f', join(suite.work, 'mismatch.json'));
    await waitFor('the RELOAD event', () => (/Warning RELOAD nginx refused the new configuration/.test(events('blog')) ? true : undefined), 20_000);
    assert.equal((await get('blog.local', '/api/x')).body, 'api\n', 'the old configuration keeps serving');
  });
});
