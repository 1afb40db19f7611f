/**
 * Cluster DNS and the `kubernetes` Service for real: podbay's own DNS server behind the kube-dns
 * cluster IP (the service proxy's DNAT to the bridge gateway), busybox's nslookup and nc in
 * pods resolving and reaching Services by name, headless Services and pod names, NXDOMAIN at
 * once for a missing name, forwarding to an upstream this suite runs on 127.0.0.1 (so no query
 * leaves the machine), service environment variables, the API answering TLS from a pod at
 * kubernetes.default.svc, `kubectl cluster-info`, and the seed's blog split in two Deployments
 * (Debian's nginx in front, reaching ghost:2368 by name).
 *
 * This suite owns bridge pbdns0, pod subnet 10.234.0.0/24, the service range 10.235.0.0/24,
 * node ports 18300-18319 (the blog's front uses 18305). Traffic goes only to pod IPs, the cluster IPs
 * (answered on this machine), the bridge gateway (this machine) and 127.0.0.1.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import dnsPacket from 'dns-packet';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, kubectlHelpers, podOf, watchReadyz } from './harness.js';
import { seedNginxConf } from '../fixtures/seed.js';

const [kc] = kubectlBinaries().slice(-1);
const SERVICE_RANGE = '10.235.0.0/24';
const DNS_IP = '10.235.0.10';

/**
 * A fake upstream resolver on 127.0.0.1 (upstream.example -> 192.0.2.7, anything else
 * NXDOMAIN), in a child process: kubectl runs synchronously here, which would stall a socket
 * in this process. Each query's name is printed on a line.
 */
const UPSTREAM = `
const dgram = require('node:dgram');
const dnsPacket = require(process.argv[1]);
const sock = dgram.createSocket('udp4');
sock.on('message', (m, r) => {
  const q = dnsPacket.decode(m);
  const name = q.questions[0].name;
  process.stdout.write('query ' + name + '\\n');
  const known = name === 'upstream.example' && q.questions[0].type === 'A';
  sock.send(dnsPacket.encode({ id: q.id, type: 'response', flags: (known ? 0 : 3) | dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers: known ? [{ name, type: 'A', class: 'IN', ttl: 60, data: '192.0.2.7' }] : [] }), r.port, r.address);
});
sock.bind(0, '127.0.0.1', () => process.stdout.write('port ' + sock.address().port + '\\n'));
`;

async function fakeUpstream(): Promise<{ port: number; queries: () => string[]; close(): void }> {
  const proc = spawn(process.execPath, ['-e', UPSTREAM, createRequire(import.meta.url).resolve('dns-packet')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  const port = await waitFor('the fake upstream listens', () => Number(/^port (\d+)$/m.exec(out)?.[1]) || undefined, 10_000);
  return { port, queries: () => [...out.matchAll(/^query (.*)$/gm)].map((m) => m[1]!), close: () => proc.kill() };
}

/** the first bytes a TLS client sends to kubernetes.default.svc (made locally, sent from a pod) */
async function clientHello(): Promise<Buffer> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => srv.once('connection', (c) => c.once('data', (d) => { resolve(d); c.destroy(); })));
  const t = tls.connect({ host: '127.0.0.1', port, servername: 'kubernetes.default.svc', rejectUnauthorized: false });
  t.on('error', () => {});
  const hello = await got;
  t.destroy();
  srv.close();
  return hello;
}

function curl(url: string): { code: number; body: string; stderr: string } {
  const r = spawnSync('curl', ['-s', '--max-time', '3', url], { encoding: 'utf8' });
  return { code: r.status ?? -1, body: r.stdout, stderr: r.stderr };
}

/** one DNS query over TCP from the host to the kube-dns cluster IP */
function tcpQuery(name: string, type: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = net.connect(53, DNS_IP);
    let buf = Buffer.alloc(0);
    c.setTimeout(3000, () => {
      c.destroy();
      reject(new Error('timeout'));
    });
    c.on('error', reject);
    c.on('connect', () => {
      const msg = dnsPacket.encode({ id: 7, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      c.write(Buffer.concat([len, msg]));
    });
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        c.destroy();
        resolve(dnsPacket.decode(buf.subarray(2)));
      }
    });
  });
}

describe('cluster DNS, the kubernetes Service and service links (real iptables, busybox)', () => {
  const suite = new PodSuite('pbdns0', '10.234.0.0/24', /^183[01]\d$/);
  let s: PodbayServer;
  let upstream: Awaited<ReturnType<typeof fakeUpstream>>;
  const { k, ok, pod, create } = kubectlHelpers(() => s, kc.path);
  const backend = (name: string, labels: Record<string, string>, extra: Record<string, any> = {}) =>
    podOf(name, { ...extra, containers: [{ name: 'web', image: 'busybox:1.36', command: ['sh', '-c', `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`], ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] }, { labels });
  const sleeper = (name: string, extra: Record<string, any> = {}) => podOf(name, { ...extra, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] });
  const ready = (name: string) => waitFor(`${name} ready`, () => ((pod(name).status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? true : undefined), 60_000);
  const running = (name: string) => waitFor(`${name} running`, () => (pod(name).status.phase === 'Running' ? true : undefined), 60_000);
  const sh = (from: string, script: string) => k('exec', from, '--', 'sh', '-c', script);

  before(async () => {
    upstream = await fakeUpstream();
    s = await suite.start('podbay-e2e-dns-', ['--service-cluster-ip-range', SERVICE_RANGE, '--service-node-port-range', '18300-18319', '--cluster-dns-upstream', `127.0.0.1:${upstream.port}`]);
    await suite.loadBusybox();
  });

  after(async () => {
    upstream?.close();
    await suite.finish(kc.path);
    const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(nat, /10\.235\.0\./, 'no rule for the service range is left');
  });

  it('the cluster starts with default/kubernetes and kube-system/kube-dns; kubectl cluster-info lists them', async () => {
    const svc = JSON.parse(ok('get', 'svc', 'kubernetes', '-n', 'default', '-o', 'json'));
    assert.equal(svc.spec.clusterIP, '10.235.0.1');
    assert.deepEqual(svc.spec.ports.map((p: any) => [p.name, p.port, p.protocol]), [['https', 443, 'TCP']]);
    const ep = JSON.parse(ok('get', 'endpoints', 'kubernetes', '-o', 'json'));
    assert.deepEqual(ep.subsets[0].addresses.map((a: any) => a.ip), ['10.234.0.1'], 'the API is advertised on the bridge gateway');
    assert.equal(ep.subsets[0].ports[0].port, s.port);
    const dns = JSON.parse(ok('get', 'svc', 'kube-dns', '-n', 'kube-system', '-o', 'json'));
    assert.equal(dns.spec.clusterIP, DNS_IP);
    const info = ok('cluster-info');
    assert.match(info, new RegExp(`Kubernetes control plane.* is running at .*https://127\\.0\\.0\\.1:${s.port}`));
    assert.match(info, new RegExp(`KubeDNS.* is running at .*https://127\\.0\\.0\\.1:${s.port}/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy`));
  });

  it('a pod resolves a Service by its short and full names and connects to it by name', async () => {
    create(backend('web-a', { app: 'web' }));
    await ready('web-a');
    ok('create', 'service', 'clusterip', 'web', '--tcp=80:8080');
    const ip = ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}');
    create(sleeper('client'));
    create(sleeper('nolinks', { enableServiceLinks: false }));
    await running('client');
    await running('nolinks');

    const resolv = ok('exec', 'client', '--', 'cat', '/etc/resolv.conf');
    assert.match(resolv, new RegExp(`^nameserver ${DNS_IP.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(resolv, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local\b/m);
    assert.match(resolv, /^options ndots:5$/m);

    // the service environment (kubelet's envvars): kubernetes always, web only with links
    const env = ok('exec', 'client', '--', 'env');
    assert.match(env, /^KUBERNETES_SERVICE_HOST=10\.235\.0\.1$/m);
    assert.match(env, /^KUBERNETES_SERVICE_PORT=443$/m);
    assert.match(env, /^KUBERNETES_SERVICE_PORT_HTTPS=443$/m);
    assert.match(env, /^KUBERNETES_PORT=tcp:\/\/10\.235\.0\.1:443$/m);
    assert.match(env, /^KUBERNETES_PORT_443_TCP_ADDR=10\.235\.0\.1$/m);
    assert.match(env, new RegExp(`^WEB_SERVICE_HOST=${ip.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(env, /^WEB_PORT_80_TCP_PORT=80$/m);
    const bare = ok('exec', 'nolinks', '--', 'env');
    assert.match(bare, /^KUBERNETES_SERVICE_HOST=10\.235\.0\.1$/m);
    assert.doesNotMatch(bare, /WEB_SERVICE_HOST/, 'enableServiceLinks: false leaves the namespace\'s Services out');

    // (busybox's nslookup tries every search domain of a name without dots and exits 1 when
    // any of them is NXDOMAIN, as it does against CoreDNS: judged by the answer it prints;
    // a dotted name it asks as is, so web.default is left to the libc resolver below)
    for (const name of ['web', 'web.default.svc.cluster.local']) {
      const r = sh('client', `nslookup ${name}`);
      assert.match(r.stdout, new RegExp(`Name:\\s+web\\.default\\.svc\\.cluster\\.local\\nAddress:\\s+${ip.replace(/\./g, '\\.')}\\b`), `nslookup ${name}: ${r.stdout}${r.stderr}`);
    }
    assert.equal(sh('client', 'nslookup web.default.svc.cluster.local.').code, 0, 'an absolute name is one query, answered');
    // nc resolves through libc: the search path with ndots:5 turns web and web.default into
    // web.default.svc.cluster.local
    for (const name of ['web', 'web.default']) {
      const get = sh('client', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${name} 80`);
      assert.equal(get.code, 0, `nc ${name}: ${get.stderr}`);
      assert.match(get.stdout, /\r\n\r\nweb-a\n$/);
    }
    // SRV of a named port, answered over UDP
    const srv = sh('client', 'nslookup -type=srv _https._tcp.kubernetes.default.svc.cluster.local');
    assert.match(srv.stdout, /service = 0 100 443 kubernetes\.default\.svc\.cluster\.local/, srv.stdout + srv.stderr);
    // reverse lookup of the cluster IP
    const ptr = sh('client', `nslookup ${ip}`);
    assert.match(ptr.stdout, /name = web\.default\.svc\.cluster\.local/, ptr.stdout + ptr.stderr);
  });

  it('a headless Service resolves to its ready pods; a pod with hostname and subdomain has its own name; pod A records', async () => {
    create(backend('db-0', { app: 'db' }, { hostname: 'db-0', subdomain: 'db' }));
    create(backend('db-1', { app: 'db' }));
    await ready('db-0');
    await ready('db-1');
    create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'http', port: 8080 }] } });
    const ips = [pod('db-0').status.podIP, pod('db-1').status.podIP].sort();
    const r = await waitFor('both pods behind db', () => {
      const out = sh('client', 'nslookup db').stdout;
      return ips.every((i) => out.includes(i)) ? out : undefined;
    }, 30_000);
    assert.doesNotMatch(r, /Name:\s+db\.default\.svc\.cluster\.local\nAddress:\s+10\.235\./, 'a headless Service has no cluster IP');
    const own = sh('client', 'nslookup db-0.db.default.svc.cluster.local');
    assert.match(own.stdout, new RegExp(`Address:\\s+${pod('db-0').status.podIP.replace(/\./g, '\\.')}\\b`), own.stdout + own.stderr);
    const dashed = pod('db-1').status.podIP.replace(/\./g, '-');
    const byIp = sh('client', `nslookup ${dashed}.default.pod.cluster.local`);
    assert.match(byIp.stdout, new RegExp(`Address:\\s+${pod('db-1').status.podIP.replace(/\./g, '\\.')}\\b`), byIp.stdout + byIp.stderr);
  });

  it('a missing name is NXDOMAIN at once; other names go to the upstream; TCP works from the host, recursion only for pods', async () => {
    const t0 = Date.now();
    const miss = sh('client', 'nslookup nope.default.svc.cluster.local');
    const took = Date.now() - t0;
    assert.notEqual(miss.code, 0);
    assert.match(miss.stdout + miss.stderr, /NXDOMAIN/);
    assert.ok(took < 3000, `answered in ${took} ms, not a timeout`);
    const fwd = sh('client', 'nslookup upstream.example.');
    assert.match(fwd.stdout, /Address:\s+192\.0\.2\.7\b/, fwd.stdout + fwd.stderr);
    // (the child's output is read once this process's event loop runs again)
    await waitFor('the query at the upstream this suite runs', () => upstream.queries().includes('upstream.example') || undefined, 5000);
    // from the host, over TCP, through the kube-dns cluster IP
    const a = await tcpQuery('web.default.svc.cluster.local', 'A');
    assert.equal(a.rcode, 'NOERROR');
    assert.equal(a.answers[0].data, ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}'));
    const nx = await tcpQuery('nope.default.svc.cluster.local', 'A');
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.equal(nx.authorities[0].type, 'SOA');
    const refused = await tcpQuery('upstream.example', 'A');
    assert.equal(refused.rcode, 'REFUSED', 'the host is no pod: no forwarding for it');
  });

  it('the kubernetes Service answers TLS from a pod, with a certificate for kubernetes.default.svc', async () => {
    const hello = await clientHello();
    const put = spawnSync(kc.path, ['--kubeconfig', s.kubeconfig, 'exec', '-i', 'client', '--', 'sh', '-c', 'cat > /tmp/hello'], { input: hello });
    assert.equal(put.status, 0, String(put.stderr));
    const r = sh('client', 'nc -w 3 kubernetes.default.svc 443 < /tmp/hello | head -c 3 | od -An -tx1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^16 03 0[1-3]$/, 'a TLS handshake record (ServerHello) came back');
    // the serving certificate names the Service
    const cert = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const t = tls.connect({ host: '127.0.0.1', port: s.port, servername: 'kubernetes.default.svc', rejectUnauthorized: false }, () => {
        resolve(t.getPeerCertificate());
        t.destroy();
      });
      t.on('error', reject);
    });
    assert.match(cert.subjectaltname ?? '', /DNS:kubernetes\.default\.svc\b/);
    assert.match(cert.subjectaltname ?? '', /IP Address:10\.235\.0\.1\b/);
  });

  it("the seed blog split in two Deployments: the seed's nginx.conf names ghost:2368, nginx (Debian's) proxies the NodePort to it by name; 3 backends share the requests; kubectl expose, create service, get svc,ep,endpointslices", async (t) => {
    // The front is Debian's nginx (the host's package, packed into an image) running the seed's
    // nginx.conf from a ConfigMap, its proxy_pass turned from 127.0.0.1:2368 (one pod) to
    // ghost:2368 (two Deployments): nginx resolves that name with getaddrinfo when it loads the
    // config, through the pod's resolv.conf (cluster DNS, search default.svc.cluster.local) to
    // the ghost Service's cluster IP, and opens a new upstream connection per request, which
    // the service proxy sends to a random backend. The backend is busybox httpd answering with
    // its pod name.
    // A failure must not leave Deployments making pods the suite's finish would wait for, and
    // the backend's shell ends on SIGTERM (kubectl create deployment gives no grace period flag:
    // a PID 1 that ignores TERM would keep the kubelet busy for 30 s past the suite's end).
    t.after(() => void k('delete', 'deployment', 'ghost', 'nginx', '--ignore-not-found'));
    await suite.loadNginx('nginx:1.22');
    ok('create', 'deployment', 'ghost', '--image=busybox:1.36', '--port=2368', '--', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && httpd -f -p 2368 -h /www & trap "kill $!; exit 0" TERM; wait');
    const exposed = ok('expose', 'deployment', 'ghost', '--port=2368');
    assert.match(exposed, /service\/ghost exposed/);
    const conf = seedNginxConf();
    assert.match(conf, /proxy_pass http:\/\/127\.0\.0\.1:2368;/, "the seed's nginx.conf proxies to the backend in its own pod");
    create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nginx-config' }, data: { 'nginx.conf': conf.replace('http://127.0.0.1:2368', 'http://ghost:2368') } });
    create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nginx', labels: { app: 'nginx' } },
      spec: {
        selector: { matchLabels: { app: 'nginx' } },
        template: {
          metadata: { labels: { app: 'nginx' } },
          spec: {
            terminationGracePeriodSeconds: 0,
            containers: [{ name: 'nginx', image: 'nginx:1.22', ports: [{ containerPort: 80 }], volumeMounts: [{ name: 'nginx-config', mountPath: '/etc/nginx', readOnly: true }] }],
            volumes: [{ name: 'nginx-config', configMap: { name: 'nginx-config' } }],
          },
        },
      },
    });
    assert.match(ok('create', 'service', 'nodeport', 'nginx', '--tcp=80:80', '--node-port=18305'), /service\/nginx created/);
    const page = await waitFor('the blog through the node port', () => {
      const r = curl('http://127.0.0.1:18305/');
      return r.code === 0 && /^ghost-/.test(r.body) ? r.body.trim() : undefined;
    }, 90_000);
    assert.match(page, /^ghost-[a-z0-9]+-[a-z0-9]+$/, 'the backend pod answered, by name');
    const head = spawnSync('curl', ['-s', '-D', '-', '-o', '/dev/null', '--max-time', '3', 'http://127.0.0.1:18305/'], { encoding: 'utf8' }).stdout;
    assert.match(head, /^Server: nginx\/1\.\d+\.\d+/im, `nginx answered the node port:\n${head}`);
    const front = JSON.parse(ok('get', 'pods', '-l', 'app=nginx', '-o', 'json')).items[0].metadata.name;
    await waitFor("nginx's access log (the seed's, to stdout) shows the proxied request", () => (/"GET \/ HTTP\/1\.1" 200 /.test(ok('logs', front)) ? true : undefined), 10_000);

    ok('scale', 'deployment', 'ghost', '--replicas=3');
    await waitFor('three ghost endpoints', () => {
      const e = JSON.parse(ok('get', 'endpoints', 'ghost', '-o', 'json'));
      return (e.subsets?.[0]?.addresses ?? []).length === 3 ? true : undefined;
    }, 90_000);
    const seen = new Set<string>();
    await waitFor('requests spread over the three backends', () => {
      const r = curl('http://127.0.0.1:18305/');
      if (r.code === 0 && r.body.trim()) seen.add(r.body.trim());
      return seen.size === 3 ? true : undefined;
    }, 60_000);

    const table = ok('get', 'svc,ep,endpointslices');
    assert.match(table, /^service\/ghost\s+ClusterIP\s+10\.235\.0\.\d+\s+<none>\s+2368\/TCP\s/m, table);
    assert.match(table, /^service\/nginx\s+NodePort\s+10\.235\.0\.\d+\s+<none>\s+80:18305\/TCP\s/m, table);
    assert.match(table, /^service\/kubernetes\s+ClusterIP\s+10\.235\.0\.1\s+<none>\s+443\/TCP\s/m, table);
    assert.match(table, /^endpoints\/ghost\s+(10\.234\.0\.\d+:2368,?){3}\s/m, table);
    assert.match(table, /^endpointslice\.discovery\.k8s\.io\/ghost-\w+\s+IPv4\s+2368\s+(10\.234\.0\.\d+,?){3}\s/m, table);
    ok('delete', 'deployment', 'ghost', 'nginx');
    ok('delete', 'service', 'ghost', 'nginx');
    ok('delete', 'configmap', 'nginx-config');
  });

  it('a pod attacking the DNS (garbage datagrams, a query flood, more held TCP connections than allowed) leaves podbay answering; DNS answers after', async () => {
    const script = [
      // 80 TCP connections that send half a length prefix and hold (the server keeps 64, each 10 s idle at most)
      'for i in $(seq 80); do (printf "\\377"; sleep 12) | nc 10.235.0.10 53 >/dev/null 2>&1 & done',
      // 2 MB of random datagrams
      'head -c 2000000 /dev/urandom | nc -u -w 2 10.235.0.10 53 >/dev/null 2>&1',
      // 300 queries at once for names that do not exist
      'for i in $(seq 300); do nslookup n$i.default.svc.cluster.local. >/dev/null 2>&1 & done',
      'wait',
    ].join('; ');
    const watch = watchReadyz(s);
    const t0 = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(kc.path, ['--kubeconfig', s.kubeconfig, 'exec', 'client', '--', 'sh', '-c', script], { stdio: 'ignore' });
      const t = setTimeout(() => p.kill(), 90_000);
      p.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    const { worstMs, failures, samples } = await watch.stop();
    assert.equal(code, 0, 'the attack ran to its end');
    assert.deepEqual(failures, []);
    assert.ok(worstMs < 1000, `/readyz answered within 1 s throughout (worst ${worstMs} ms over ${samples} samples, ${Date.now() - t0} ms of attack)`);
    const after = sh('client', 'nslookup kubernetes.default.svc.cluster.local.');
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.match(after.stdout, /Address:\s+10\.235\.0\.1\b/);
    assert.equal((await tcpQuery('kubernetes.default.svc.cluster.local', 'A')).answers[0].data, '10.235.0.1', 'TCP is served again');
  });
});
