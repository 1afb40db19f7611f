/**
 * Services for real: a cluster IP and node port allocated by the API, Endpoints and
 * EndpointSlices from the pods the selector picks, and the service proxy's iptables rules
 * (kube-proxy's) carrying traffic from a pod, from the host and through a node port on 127.0.0.1
 * to busybox httpd backends; a Service with no ready endpoint rejects at once; the rules go
 * when the Service and the server go.
 *
 * This suite owns bridge pbsvc0, pod subnet 10.231.0.0/24, the service range 10.232.0.0/24,
 * node ports 18270-18279 and hostPorts 18260-18269 (it uses none). Traffic goes only to pod
 * IPs, the Services' cluster IPs (answered on this machine) and 127.0.0.1.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, kubectlHelpers, podOf } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);
const SERVICE_RANGE = '10.232.0.0/24';

function curl(url: string): { code: number; body: string; stderr: string } {
  const r = spawnSync('curl', ['-s', '--max-time', '3', url], { encoding: 'utf8' });
  return { code: r.status ?? -1, body: r.stdout, stderr: r.stderr };
}

function natRules(): string {
  return spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
}

describe('Services: allocation, endpoints and the service proxy (real iptables)', () => {
  const suite = new PodSuite('pbsvc0', '10.231.0.0/24', /^182[67]\d$/);
  let s: PodbayServer;
  const { k, ok, pod, create } = kubectlHelpers(() => s, kc.path);
  /** a busybox httpd answering with its pod name on 8080 */
  const backend = (name: string, labels: Record<string, string>) =>
    podOf(name, { containers: [{ name: 'web', image: 'busybox:1.36', command: ['sh', '-c', `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`], ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] }, { labels });
  const ready = (name: string) => waitFor(`${name} ready`, () => ((pod(name).status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? true : undefined), 60_000);

  before(async () => {
    s = await suite.start('podbay-e2e-services-', ['--service-cluster-ip-range', SERVICE_RANGE, '--service-node-port-range', '18270-18279']);
    await suite.loadBusybox();
  });

  after(async () => {
    await suite.finish(kc.path);
    // the proxy's chains went with the server
    assert.doesNotMatch(natRules(), /10\.232\.0\./, 'no rule for the service range is left');
  });

  it('a Service gets an IP from the range and its endpoints from ready pods; a pod, the host and a node port reach the backends', async () => {
    create(backend('web-a', { app: 'web' }));
    create(backend('web-b', { app: 'web' }));
    create(backend('other', { app: 'db' }));
    await ready('web-a');
    await ready('web-b');
    ok('create', 'service', 'nodeport', 'web', '--tcp=80:http', '--node-port=18275');
    // kubectl create service sets the selector app=web
    const svc = JSON.parse(ok('get', 'svc', 'web', '-o', 'json'));
    assert.match(svc.spec.clusterIP, /^10\.232\.0\.\d+$/);
    assert.equal(svc.spec.ports[0].nodePort, 18275);
    const ip = svc.spec.clusterIP;

    const ips = [pod('web-a').status.podIP, pod('web-b').status.podIP].sort();
    const ep = await waitFor('endpoints of both backends', () => {
      const e = JSON.parse(ok('get', 'endpoints', 'web', '-o', 'json'));
      const got = (e.subsets?.[0]?.addresses ?? []).map((a: any) => a.ip).sort();
      return JSON.stringify(got) === JSON.stringify(ips) ? e : undefined;
    }, 30_000);
    assert.deepEqual(ep.subsets[0].ports, [{ name: '80-http', port: 8080, protocol: 'TCP' }], 'the named target port resolved to the container port');
    const slices = JSON.parse(ok('get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'json')).items;
    assert.equal(slices.length, 1);
    assert.deepEqual(slices[0].endpoints.map((e: any) => e.addresses[0]).sort(), ips);
    assert.match(ok('get', 'endpoints', 'web'), new RegExp(`${ips[0]!.replace(/\./g, '\\.')}:8080`));

    // no packet for the service range may leave the machine: first the rules, then traffic
    await waitFor('the proxy rules of the service', () => (natRules().includes(`-d ${ip}/32`) ? true : undefined), 15_000);
    assert.match(spawnSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout, /-d 10\.232\.0\.0\/24 .*no service port answers at this address.* -j REJECT/);
    // from the host to the cluster IP: both backends answer over a few tries
    const seen = new Set<string>();
    await waitFor('both backends through the cluster IP', () => {
      const r = curl(`http://${ip}/`);
      if (r.code === 0) seen.add(r.body.trim());
      return seen.has('web-a') && seen.has('web-b') ? true : undefined;
    }, 30_000);
    // from a pod, by the cluster IP
    // (busybox-static's wget crashes in a bare rootfs; nc speaks HTTP well enough)
    const get = (from: string) => k('exec', from, '--', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} 80`);
    const fromPod = get('other');
    assert.equal(fromPod.code, 0, fromPod.stderr);
    assert.match(fromPod.stdout, /\r\n\r\nweb-[ab]\n$/);
    // a backend reaching its own Service (hairpin)
    const hairpin = get('web-a');
    assert.equal(hairpin.code, 0, hairpin.stderr);
    assert.match(hairpin.stdout, /web-[ab]\n$/);
    // the node port on this machine's loopback
    const np = curl('http://127.0.0.1:18275/');
    assert.equal(np.code, 0, np.stderr);
    assert.match(np.body.trim(), /^web-[ab]$/);
    // kube-proxy's rules, as an operator would read them
    const nat = natRules();
    assert.match(nat, new RegExp(`-d ${ip.replace(/\./g, '\\.')}/32 .*--comment "default/web:80-http cluster IP"`));
    assert.match(nat, /-m statistic --mode random --probability 0\.5000000000/);
  });

  it('a pod that stops being ready leaves the endpoints; a Service with no ready endpoint rejects at once', async () => {
    ok('label', 'pod', 'web-b', 'app=gone', '--overwrite');
    const ip = ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}');
    await waitFor('only web-a left', () => {
      const e = JSON.parse(ok('get', 'endpoints', 'web', '-o', 'json'));
      return (e.subsets?.[0]?.addresses ?? []).length === 1 ? true : undefined;
    }, 30_000);
    for (let i = 0; i < 4; i++) assert.equal(curl(`http://${ip}/`).body.trim(), 'web-a');

    ok('create', 'service', 'clusterip', 'empty', '--tcp=80:8080');
    const emptyIP = ok('get', 'svc', 'empty', '-o', 'jsonpath={.spec.clusterIP}');
    await waitFor('the REJECT rule', () => (spawnSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout.includes('default/empty:80-8080 has no endpoints') ? true : undefined), 15_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${s.log.split('\n').filter((l) => /proxy|iptables/.test(l)).slice(-10).join('\n')}`);
    });
    const t0 = Date.now();
    const r = curl(`http://${emptyIP}/`);
    assert.notEqual(r.code, 0);
    assert.equal(r.code, 7, `connection refused (curl exit 7), not a timeout: ${r.stderr}`);
    assert.ok(Date.now() - t0 < 2000, 'refused at once');
  });

  it('deleting a Service removes its endpoints and rules and gives its IP and node port back', async () => {
    const ip = ok('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}');
    ok('delete', 'service', 'web');
    await waitFor('endpoints gone', () => (k('get', 'endpoints', 'web').code !== 0 ? true : undefined), 15_000);
    await waitFor('rules gone', () => (!natRules().includes(`${ip}/32`) ? true : undefined), 15_000);
    ok('create', 'service', 'nodeport', 'again', '--tcp=80:8080', '--node-port=18275');
    const taken = k('create', 'service', 'nodeport', 'clash', '--tcp=80:8080', '--node-port=18275');
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, /spec.ports\[0\].nodePort: Invalid value: 18275: provided port is already allocated/);
    const outside = k('create', 'service', 'nodeport', 'far', '--tcp=80:8080', '--node-port=30080');
    assert.match(outside.stderr, /provided port is not in the valid range\. The range of valid ports is 18270-18279/);
    ok('delete', 'service', 'again', 'empty');
  });
});
