/**
 * LoadBalancer Services on one machine (k3s's ServiceLB, without its pods) and UDP Services
 * whose endpoints change, for real: the controller writes the LB address into
 * status.loadBalancer.ingress, the proxy's iptables rules answer there, curl from the host
 * reaches the backends; a second Service wanting the same port stays <pending> with an event;
 * another loadBalancerClass is left alone; externalTrafficPolicy Local gets a health check node
 * port answered as kube-proxy answers it; a UDP client pinned by conntrack to an endpoint that
 * goes away is moved to a live one (the proxy deletes the flow, as kube-proxy does).
 *
 * The LB address is 127.0.0.51 (--service-lb-address): a loopback address this test controls, so
 * no packet leaves the machine. The host's connection to it is DNAT'ed in OUTPUT to a pod and
 * leaves through the pod bridge with a 127.x source, which the kernel allows only with
 * route_localnet on that bridge: the pod network sets it there once the bridge exists (src/network/localnet-guard.ts, guarded),
 * the same condition the NodePort on 127.0.0.1 already relies on; kube-proxy instead sets
 * conf/all/route_localnet when node ports answer on loopback. Then KUBE-MARK-MASQ rewrites the
 * source to the bridge's address.
 *
 * This suite owns bridge pblb0, pod subnet 10.251.0.0/24, the service range 10.252.0.0/24 and
 * ports 18700-18719 (node ports 18700-18709, LoadBalancer ports 18710-18719).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, kubectlHelpers, podOf } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);
const SERVICE_RANGE = '10.252.0.0/24';
const LB = '127.0.0.51';

function curl(url: string): { code: number; body: string; stderr: string } {
  const r = spawnSync('curl', ['-s', '--max-time', '3', url], { encoding: 'utf8' });
  return { code: r.status ?? -1, body: r.stdout, stderr: r.stderr };
}
const save = (table: string) => spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout;

/** a static UDP server answering every datagram with its hostname (busybox-static's nc has no -u) */
const UDP_ECHO_C = `#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
int main(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(9000);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
  char host[256] = {0}, buf[512];
  gethostname(host, sizeof host - 1);
  for (;;) {
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    if (recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len) < 0) continue;
    sendto(s, host, strlen(host), 0, (struct sockaddr *)&peer, len);
  }
}
`;

describe('ServiceLB: LoadBalancer Services on the node address; UDP flows follow endpoint changes', () => {
  const suite = new PodSuite('pblb0', '10.251.0.0/24', /^187[01]\d$/);
  let s: PodbayServer;
  const { k, ok, pod, create, events } = kubectlHelpers(() => s, kc.path);
  const backend = (name: string, labels: Record<string, string>) =>
    podOf(name, { containers: [{ name: 'web', image: 'busybox:1.36', command: ['sh', '-c', `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www`], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] }, { labels });
  const ready = (name: string) => waitFor(`${name} ready`, () => ((pod(name).status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? true : undefined), 60_000);
  const svc = (name: string) => JSON.parse(ok('get', 'svc', name, '-o', 'json'));
  const ingressOf = (name: string) => (svc(name).status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip);
  const lbService = (name: string, port: number, spec: Record<string, unknown> = {}, selector = { app: 'web' }) =>
    create({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'LoadBalancer', selector, ports: [{ name: 'http', port, targetPort: 8080 }], ...spec } });

  before(async () => {
    const gcc = spawnSync('gcc', ['--version']);
    assert.equal(gcc.status, 0, 'gcc is needed to build the UDP test server (apt-get install gcc libc6-dev; scripts/setup-host.sh installs g++)');
    assert.equal(spawnSync('conntrack', ['--version']).status, 0, 'conntrack is needed (apt-get install conntrack; scripts/setup-host.sh installs it)');
    s = await suite.start('podbay-e2e-service-lb-', ['--service-cluster-ip-range', SERVICE_RANGE, '--service-node-port-range', '18700-18709', '--service-lb-address', LB]);
    const rootfs = await suite.loadBusybox();
    // udp-echo:1: busybox plus the static UDP server
    const { writeDockerArchive } = await import('../../src/image/archive-build.js');
    const work = join(rootfs, '..', 'udp-echo');
    mkdirSync(join(work, 'layer', 'bin'), { recursive: true });
    writeFileSync(join(work, 'udp-echo.c'), UDP_ECHO_C);
    const cc = spawnSync('gcc', ['-static', '-Os', '-o', join(work, 'layer', 'bin', 'udp-echo'), join(work, 'udp-echo.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `gcc -static (needs libc6-dev): ${cc.stderr}`);
    chmodSync(join(work, 'layer', 'bin', 'udp-echo'), 0o755);
    await writeDockerArchive(join(work, 'udp-echo.tar'), { repoTags: ['udp-echo:1'], layers: [rootfs, join(work, 'layer')], config: { cmd: ['/bin/udp-echo'] } });
    suite.loadImage(join(work, 'udp-echo.tar'));
    create(backend('web-a', { app: 'web' }));
    create(backend('web-b', { app: 'web' }));
    await ready('web-a');
    await ready('web-b');
    // no pod here has a hostPort: the pod network turns route_localnet on for its bridge as soon
    // as the bridge exists, which the LB address and node ports on loopback need (whatever
    // net.ipv4.conf.all.route_localnet is on this host)
    assert.equal(readFileSync('/proc/sys/net/ipv4/conf/pblb0/route_localnet', 'utf8').trim(), '1', 'route_localnet on the pod bridge without any hostPort');
  });

  after(async () => {
    await suite.finish(kc.path);
    const all = save('nat') + save('filter');
    assert.doesNotMatch(all, /10\.252\.0\.|127\.0\.0\.51/, 'no rule for the service range or the LB address is left');
  });

  it('a LoadBalancer Service gets the LB address and answers there; a second one on the same port stays <pending> with a reason until the port is free', async () => {
    ok('create', 'service', 'loadbalancer', 'web', '--tcp=18710:8080');
    await waitFor('the LB address in status', () => (ingressOf('web').includes(LB) ? true : undefined), 15_000);
    assert.match(ok('get', 'svc', 'web'), new RegExp(`web\\s+LoadBalancer\\s+10\\.252\\.0\\.\\d+\\s+127\\.0\\.0\\.51\\s+18710:187\\d\\d/TCP`));
    const seen = new Set<string>();
    await waitFor('both backends through the LB address', () => {
      const r = curl(`http://${LB}:18710/`);
      if (r.code === 0) seen.add(r.body.trim());
      return seen.has('web-a') && seen.has('web-b') ? true : undefined;
    }, 30_000);
    assert.match(events('web'), /Normal EnsuredLoadBalancer Ensured load balancer/);

    lbService('clash', 18710);
    await waitFor('the clash refused', () => (/SyncLoadBalancerFailed/.test(events('clash')) ? true : undefined), 15_000);
    assert.match(events('clash'), /Warning SyncLoadBalancerFailed Error syncing load balancer: failed to ensure load balancer: port 18710\/TCP on 127\.0\.0\.51 is already used by LoadBalancer Service default\/web/);
    assert.match(ok('get', 'svc', 'clash'), /clash\s+LoadBalancer\s+\S+\s+<pending>/);
    assert.deepEqual(ingressOf('clash'), []);
    // the first goes: the port is free, the waiting Service gets it
    ok('delete', 'svc', 'web');
    await waitFor('clash gets the address', () => (ingressOf('clash').includes(LB) ? true : undefined), 15_000);
    await waitFor('clash answers', () => (/^web-[ab]$/.test(curl(`http://${LB}:18710/`).body.trim()) ? true : undefined), 15_000);
    ok('delete', 'svc', 'clash');
    await waitFor('no rule for the LB address', () => (!save('nat').includes(`${LB}/32`) ? true : undefined), 15_000);
    const gone = curl(`http://${LB}:18710/`);
    assert.notEqual(gone.code, 0, 'nothing answers on the LB address once the Service is gone');
  });

  it('another loadBalancerClass is left pending; allocateLoadBalancerNodePorts false has no node port and still answers on the LB address', async () => {
    lbService('foreign', 18711, { loadBalancerClass: 'example.com/other-lb' });
    lbService('nonp', 18712, { allocateLoadBalancerNodePorts: false });
    await waitFor('nonp gets the address', () => (ingressOf('nonp').includes(LB) ? true : undefined), 15_000);
    assert.equal(svc('nonp').spec.ports[0].nodePort, undefined);
    await waitFor('nonp answers', () => (/^web-[ab]$/.test(curl(`http://${LB}:18712/`).body.trim()) ? true : undefined), 15_000);
    assert.deepEqual(ingressOf('foreign'), [], 'a Service of another class is not ours to serve');
    assert.doesNotMatch(events('foreign'), /LoadBalancer/);
    assert.notEqual(curl(`http://${LB}:18711/`).code, 0);
    ok('delete', 'svc', 'foreign', 'nonp');
  });

  it('externalTrafficPolicy Local: a health check node port answered as kube-proxy does, only local endpoints for outside traffic', async () => {
    lbService('local', 18713, { externalTrafficPolicy: 'Local' });
    lbService('nolocal', 18714, { externalTrafficPolicy: 'Local' }, { app: 'nothing' });
    const hc = svc('local').spec.healthCheckNodePort;
    assert.ok(hc >= 18700 && hc <= 18709, `healthCheckNodePort ${hc} from the node port range`);
    await waitFor('local gets the address', () => (ingressOf('local').includes(LB) ? true : undefined), 15_000);
    const health = await waitFor('the health check reports 2 local endpoints', () => {
      const r = curl(`http://127.0.0.1:${hc}/`);
      return r.code === 0 && r.body.includes('"localEndpoints": 2') ? r : undefined;
    }, 15_000);
    assert.deepEqual(JSON.parse(health.body), { service: { namespace: 'default', name: 'local' }, localEndpoints: 2, serviceProxyHealthy: true });
    const noLocal = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', `http://127.0.0.1:${svc('nolocal').spec.healthCheckNodePort}/`], { encoding: 'utf8' });
    assert.equal(noLocal.stdout, '503', 'no local endpoint: the load balancer is told to look elsewhere');
    // the host's own connection still reaches the backends (masqueraded, as kube-proxy does)
    await waitFor('local answers', () => (/^web-[ab]$/.test(curl(`http://${LB}:18713/`).body.trim()) ? true : undefined), 15_000);
    // outside traffic: the node-local endpoints only, without masquerade (the client's address kept)
    const nat = save('nat');
    assert.match(nat, /-A KUBE-EXT-\S+ -m comment --comment "route LOCAL traffic for default\/local:http external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-/);
    assert.match(nat, /-A KUBE-EXT-(\S+) -j KUBE-SVL-/);
    assert.doesNotMatch(nat, /masquerade traffic for default\/local:http external destinations/);
    // (no endpoint at all is refused as for any Service; a remote-only endpoint, which one node never has, is dropped: unit test)
    assert.match(save('filter'), /default\/nolocal:http has no endpoints" -m tcp --dport 18714 -j REJECT/);
    ok('delete', 'svc', 'local', 'nolocal');
    await waitFor('the health check server closed', () => (curl(`http://127.0.0.1:${hc}/`).code === 7 ? true : undefined), 15_000);
  });

  it('kubectl expose deployment --type=LoadBalancer: the Deployment answers on the LB address', async () => {
    ok('create', 'deployment', 'shop', '--image=busybox:1.36', '--replicas=2', '--', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www');
    try {
      ok('expose', 'deployment', 'shop', '--type=LoadBalancer', '--port=18716', '--target-port=8080');
      await waitFor('shop gets the address', () => (ingressOf('shop').includes(LB) ? true : undefined), 15_000);
      assert.match(ok('get', 'svc', 'shop'), /shop\s+LoadBalancer\s+10\.252\.0\.\d+\s+127\.0\.0\.51\s+18716:187\d\d\/TCP/);
      const seen = new Set<string>();
      await waitFor('both replicas through the LB address', () => {
        const r = curl(`http://${LB}:18716/`);
        if (r.code === 0) seen.add(r.body.trim());
        return seen.size === 2 ? true : undefined;
      }, 60_000);
      for (const name of seen) assert.match(name, /^shop-[a-z0-9]+-[a-z0-9]+$/);
    } finally {
      ok('delete', 'deployment', 'shop');
      k('delete', 'svc', 'shop');
      // its ReplicaSet and pods go by garbage collection: gone before the next test (and the suite's end)
      await waitFor('the Deployment\'s ReplicaSet and pods gone', () => (ok('get', 'rs,pods', '-l', 'app=shop', '-o', 'name').trim() === '' ? true : undefined), 60_000);
    }
  });

  it('UDP: a client whose flow is pinned to an endpoint that goes away reaches a live one (conntrack entries deleted)', async () => {
    for (const name of ['udp-a', 'udp-b']) create(podOf(name, { containers: [{ name: 'echo', image: 'udp-echo:1' }] }, { labels: { app: 'udp' } }));
    create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'udp' }, spec: { selector: { app: 'udp' }, ports: [{ name: 'echo', protocol: 'UDP', port: 18715, targetPort: 9000 }] } });
    const ip = svc('udp').spec.clusterIP;
    await waitFor('both UDP endpoints', () => {
      const e = JSON.parse(ok('get', 'endpoints', 'udp', '-o', 'json'));
      return (e.subsets?.[0]?.addresses ?? []).length === 2 ? true : undefined;
    }, 60_000);
    const sock = createSocket('udp4');
    const replies: string[] = [];
    sock.on('message', (m) => replies.push(m.toString()));
    await new Promise<void>((r) => sock.bind(0, r));
    try {
      // one source port throughout: every datagram matches the same conntrack entry
      // the proxy has both endpoints (a flow made before would have been cleared when the first came)
      await waitFor('rules for both UDP endpoints', () => (save('nat').match(/-j DNAT --to-destination 10\.251\.0\.\d+:9000/g)?.length === 2 ? true : undefined), 15_000);
      // after the sync that gave the port its first endpoints the proxy clears the port's UDP
      // flows, once: a datagram sent before that clear is done would lose its flow to it
      await waitFor('the new port\'s flows cleared', () => (s.log.includes(`service proxy: conntrack -D -p udp --orig-dst ${ip} --orig-port-dst 18715 (`) ? true : undefined), 15_000);
      const ask = async (what: string, ms: number) =>
        waitFor(what, async () => {
          const before = replies.length;
          sock.send('who', 18715, ip);
          await new Promise((r) => setTimeout(r, 200));
          return replies.length > before ? replies.at(-1) : undefined;
        }, ms);
      const first = await ask('a UDP answer through the cluster IP', 30_000);
      assert.match(first!, /^udp-[ab]$/);
      const flows = () => `${spawnSync('conntrack', ['-L', '-p', 'udp', '--orig-dst', ip], { encoding: 'utf8' }).stdout}\n${s.log.split('\n').filter((l) => /conntrack|proxy/.test(l)).slice(-10).join('\n')}`;
      for (let i = 0; i < 3; i++) assert.equal(await ask('the same endpoint again', 5000), first, `conntrack keeps the flow on one endpoint:\n${flows()}`);
      const other = first === 'udp-a' ? 'udp-b' : 'udp-a';
      const deadIP = pod(first!).status.podIP;
      ok('delete', 'pod', first!, '--grace-period=0', '--force');
      // keep the flow busy while the endpoint goes: without the flush it would stay on the dead IP
      // (the deleted pod's container may answer for a moment while it is being killed)
      await waitFor(`an answer from ${other} on the same flow`, async () => {
        const before = replies.length;
        sock.send('who', 18715, ip);
        await new Promise((r) => setTimeout(r, 200));
        return replies.length > before && replies.at(-1) === other ? true : undefined;
      }, 20_000);
      const ct = spawnSync('conntrack', ['-L', '-p', 'udp', '--orig-dst', ip], { encoding: 'utf8' });
      assert.equal(ct.status, 0, ct.stderr);
      assert.doesNotMatch(ct.stdout, new RegExp(`src=${deadIP.replace(/\./g, '\\.')} `), 'no flow to the dead endpoint is left');
    } finally {
      sock.close();
    }
    ok('delete', 'svc', 'udp');
  });
});
