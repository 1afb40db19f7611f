/**
 * What a pod sees, for real: a podbay server with its kubelet (runc, conmon, CNI) driven by real
 * kubectl; each rule checked from inside the container (env, files, `hostname`) or by the event
 * or 422 a user gets. The Downward API (env and volumes), projected volumes, /etc/hosts,
 * /etc/hostname and resolv.conf per dnsPolicy, and the remaining volume rules (emptyDir
 * subPath, hostPath types, mountPropagation, generic ephemeral volumes).
 *
 * This suite owns bridge pbpoddown0, subnet 10.220.0.0/24 and hostPorts 19880-19899 (it uses
 * none). No test sends a DNS query: nameservers written by tests are loopback addresses nothing
 * answers on inside the pod's netns; only file contents are compared.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PodbayServer, PodSuite, kubectlBinaries, waitFor, kubectlHelpers, podOf } from './harness.js';

const [kc] = kubectlBinaries().slice(-1);

describe('what the pod sees (runc, conmon, CNI, real kubectl)', () => {
  const suite = new PodSuite('pbpoddown0', '10.220.0.0/24', /^19(88\d|89\d)$/);
  let s: PodbayServer;
  const { k, ok, pod, events, create, runToCompletion } = kubectlHelpers(() => s, kc.path);
  const ctr = (script: string, extra: Record<string, any> = {}) => ({ name: 'c', image: 'busybox:1.36', command: ['sh', '-c', script], ...extra });
  /** runs a one-shot pod to completion and returns its log */
  const output = (name: string, spec: Record<string, any>, meta: Record<string, any> = {}) => runToCompletion(podOf(name, spec, meta));
  const running = async (name: string, spec: Record<string, any>, meta: Record<string, any> = {}) => {
    create(podOf(name, spec, meta));
    return waitFor(`${name} running`, () => (pod(name).status.phase === 'Running' ? pod(name) : undefined), 60_000);
  };
  const event = (name: string, re: RegExp) => waitFor(`${name}: event ${re}`, () => events(name).split('\n').find((l) => re.test(l)), 60_000);
  const lines = (log: string) => Object.fromEntries(log.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

  before(async () => {
    // no cluster DNS here, so ClusterFirst's fallback (MissingClusterDNS) is what is checked;
    // ClusterFirst with podbay's cluster DNS is test/e2e/cluster-dns.test.ts's
    s = await suite.start('podbay-e2e-podview-', ['--cluster-dns', 'none']);
    await suite.loadBusybox();
  });

  after(() => suite.finish(kc.path));

  it('Downward API env: "status.podIP, status.hostIP, spec.serviceAccountName ... resourceFieldRef: limits and requests (divisor); if no limit is specified, the node allocatable"', async () => {
    const env = (name: string, valueFrom: object) => ({ name, valueFrom });
    const f = (fieldPath: string) => ({ fieldRef: { fieldPath } });
    const r = (resource: string, divisor?: string, containerName?: string) => ({ resourceFieldRef: { resource, ...(divisor ? { divisor } : {}), ...(containerName ? { containerName } : {}) } });
    // a pod runs as an account that exists (the ServiceAccount admission refuses it otherwise)
    ok('create', 'serviceaccount', 'robot');
    const { log, pod: p } = await output(
      'env-downward',
      {
        serviceAccountName: 'robot',
        containers: [
          ctr('env | grep ^D_ | sort', {
            resources: { limits: { cpu: '250m', memory: '64Mi' }, requests: { cpu: '100m', memory: '32Mi' } },
            env: [
              env('D_NAME', f('metadata.name')),
              env('D_NS', f('metadata.namespace')),
              env('D_UID', f('metadata.uid')),
              env('D_LABEL', f("metadata.labels['app']")),
              env('D_ANN', f("metadata.annotations['note']")),
              env('D_NODE', f('spec.nodeName')),
              env('D_SA', f('spec.serviceAccountName')),
              env('D_HOSTIP', f('status.hostIP')),
              env('D_HOSTIPS', f('status.hostIPs')),
              env('D_PODIP', f('status.podIP')),
              env('D_PODIPS', f('status.podIPs')),
              env('D_CPU_LIMIT_M', r('limits.cpu', '1m')),
              env('D_CPU_LIMIT', r('limits.cpu')),
              env('D_CPU_REQ_M', r('requests.cpu', '1m')),
              env('D_MEM_LIMIT_MI', r('limits.memory', '1Mi')),
              env('D_MEM_REQ', r('requests.memory')),
              env('D_OTHER_MEM_LIMIT', r('limits.memory', '1', 'bare')),
              env('D_OTHER_CPU_LIMIT_M', r('limits.cpu', '1m', 'bare')),
            ],
          }),
          { name: 'bare', image: 'busybox:1.36', command: ['true'] },
        ],
      },
      { labels: { app: 'web' }, annotations: { note: 'hello' } },
    );
    const v = lines(log);
    assert.equal(v.D_NAME, 'env-downward');
    assert.equal(v.D_NS, 'default');
    assert.equal(v.D_UID, p.metadata.uid);
    assert.equal(v.D_LABEL, 'web');
    assert.equal(v.D_ANN, 'hello');
    assert.equal(v.D_NODE, p.spec.nodeName);
    assert.equal(v.D_SA, 'robot');
    assert.match(v.D_PODIP!, /^10\.220\.0\.\d+$/, 'the pod IP, known before the first status write');
    assert.equal(v.D_PODIP, p.status.podIP);
    assert.equal(v.D_PODIPS, p.status.podIPs.map((x: { ip: string }) => x.ip).join(','));
    assert.equal(v.D_HOSTIP, p.status.hostIP);
    assert.ok(v.D_HOSTIP, 'hostIP is not empty');
    assert.equal(v.D_HOSTIPS, p.status.hostIPs.map((x: { ip: string }) => x.ip).join(','));
    assert.equal(v.D_CPU_LIMIT_M, '250');
    assert.equal(v.D_CPU_LIMIT, '1', '250m rounded up to whole cores');
    assert.equal(v.D_CPU_REQ_M, '100');
    assert.equal(v.D_MEM_LIMIT_MI, '64');
    assert.equal(v.D_MEM_REQ, String(32 * 1024 * 1024));
    const node = JSON.parse(ok('get', 'node', p.spec.nodeName, '-o', 'json'));
    const ki = /^(\d+)Ki$/.exec(node.status.allocatable.memory);
    assert.ok(ki, node.status.allocatable.memory);
    assert.equal(v.D_OTHER_MEM_LIMIT, String(Number(ki[1]) * 1024), 'no memory limit: node allocatable');
    assert.equal(v.D_OTHER_CPU_LIMIT_M, String(Number(node.status.allocatable.cpu) * 1000), 'no cpu limit: node allocatable');
  });

  it('downwardAPI volume: "if the labels or annotations are changed, the files are updated" (read-only, atomically swapped ..data)', async () => {
    await running(
      'dvol',
      {
        containers: [
          ctr('sleep 3600', {
            resources: { limits: { memory: '32Mi' } },
            volumeMounts: [{ name: 'info', mountPath: '/etc/podinfo' }],
          }),
        ],
        volumes: [
          {
            name: 'info',
            downwardAPI: {
              items: [
                { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
                { path: 'meta/name', fieldRef: { fieldPath: 'metadata.name' } },
                { path: 'mem', resourceFieldRef: { containerName: 'c', resource: 'limits.memory', divisor: '1Mi' }, mode: 0o400 },
              ],
            },
          },
        ],
      },
      { labels: { app: 'web', tier: 'front' }, annotations: { build: 'one' } },
    );
    const cat = (f: string) => ok('exec', 'dvol', '--', 'cat', `/etc/podinfo/${f}`);
    assert.equal(cat('labels'), 'app="web"\ntier="front"');
    assert.equal(cat('annotations'), 'build="one"');
    assert.equal(cat('meta/name'), 'dvol');
    assert.equal(cat('mem'), '32');
    assert.equal(ok('exec', 'dvol', '--', 'sh', '-c', 'stat -L -c %a /etc/podinfo/mem').trim(), '400', 'item mode');
    assert.equal(ok('exec', 'dvol', '--', 'sh', '-c', 'readlink /etc/podinfo/labels').trim(), '..data/labels');
    const w = k('exec', 'dvol', '--', 'sh', '-c', 'echo x > /etc/podinfo/new');
    assert.notEqual(w.code, 0, 'the volume is read-only');
    assert.match(w.stderr + w.stdout, /Read-only file system/);
    ok('label', 'pod', 'dvol', 'version=2');
    ok('annotate', 'pod', 'dvol', '--overwrite', 'build=two');
    await waitFor('labels file updated', () => (cat('labels') === 'app="web"\ntier="front"\nversion="2"' ? true : undefined), 30_000);
    await waitFor('annotations file updated', () => (cat('annotations').includes('build="two"') ? true : undefined), 30_000);
  });

  it('projected volume: "maps several existing volume sources into the same directory" (configMap, secret, downwardAPI); serviceAccountToken is the pod\'s bound token, with an audience of its own', async () => {
    ok('create', 'configmap', 'proj-cm', '--from-literal=app.conf=on');
    ok('create', 'secret', 'generic', 'proj-s', '--from-literal=token=s3cr3t');
    await running('proj', {
      containers: [ctr('sleep 3600', { volumeMounts: [{ name: 'all', mountPath: '/projected' }] })],
      volumes: [
        {
          name: 'all',
          projected: {
            defaultMode: 0o440,
            sources: [
              { configMap: { name: 'proj-cm' } },
              { secret: { name: 'proj-s', items: [{ key: 'token', path: 'creds/token', mode: 0o400 }] } },
              { downwardAPI: { items: [{ path: 'podname', fieldRef: { fieldPath: 'metadata.name' } }] } },
            ],
          },
        },
      ],
    });
    const out = ok('exec', 'proj', '--', 'sh', '-c', 'cat /projected/app.conf /projected/creds/token /projected/podname; echo; stat -L -c "%n %a" /projected/app.conf /projected/creds/token');
    assert.equal(out, 'ons3cr3tproj\n/projected/app.conf 440\n/projected/creds/token 400\n');
    await running('proj-sat', {
      serviceAccountName: 'default',
      containers: [ctr('sleep 3600', { volumeMounts: [{ name: 't', mountPath: '/t' }] })],
      volumes: [{ name: 't', projected: { sources: [{ serviceAccountToken: { path: 'token', audience: 'vault', expirationSeconds: 600 } }] } }],
    });
    const claims = JSON.parse(Buffer.from(ok('exec', 'proj-sat', '--', 'cat', '/t/token').split('.')[1]!, 'base64url').toString('utf8'));
    assert.deepEqual(claims.aud, ['vault']);
    assert.equal(claims.exp - claims.iat, 600);
    assert.equal(claims.sub, 'system:serviceaccount:default:default');
    assert.equal(claims['kubernetes.io'].pod.uid, pod('proj-sat').metadata.uid);
  });

  it('/etc/hosts and /etc/hostname: "hostname.subdomain.namespace.svc.cluster-domain", hostAliases "# Entries added by HostAliases." (also for hostNetwork pods), setHostnameAsFQDN, hostname cut to 63 characters', async () => {
    const { log, pod: p } = await output('named', {
      hostname: 'h1',
      subdomain: 'sub',
      hostAliases: [{ ip: '127.0.0.2', hostnames: ['foo.local', 'bar.local'] }],
      containers: [ctr('cat /etc/hosts; echo ---; cat /etc/hostname; hostname')],
    });
    const [hosts, names] = log.split('---\n');
    assert.ok(hosts!.startsWith('# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n'), hosts);
    assert.ok(hosts!.includes(`\n${p.status.podIP}\th1.sub.default.svc.cluster.local\th1\n`), hosts);
    assert.ok(hosts!.endsWith('\n# Entries added by HostAliases.\n127.0.0.2\tfoo.local\tbar.local\n'), hosts);
    assert.equal(names, 'h1\nh1\n');
    const fq = await output('fq', { hostname: 'h2', subdomain: 'sub', setHostnameAsFQDN: true, containers: [ctr('hostname; cat /etc/hostname')] });
    assert.equal(fq.log, 'h2.sub.default.svc.cluster.local\nh2.sub.default.svc.cluster.local\n');
    // a hostNetwork pod gets the node's hosts file, marked, with its hostAliases appended
    const hn = await output('hostnet-hosts', { hostNetwork: true, hostAliases: [{ ip: '127.0.0.3', hostnames: ['baz.local'] }], containers: [ctr('cat /etc/hosts')] });
    assert.equal(hn.log, `# Kubernetes-managed hosts file (host network).\n${readFileSync('/etc/hosts', 'utf8')}\n# Entries added by HostAliases.\n127.0.0.3\tbaz.local\n`);
    const long = 'x'.repeat(62) + '-tail';
    const l = await output(long, { containers: [ctr('hostname; grep -c "xxxx-" /etc/hosts || true')] });
    assert.equal(l.log, `${'x'.repeat(62)}\n0\n`, 'cut to 63 characters, the trailing - trimmed');
  });

  it('resolv.conf: "ClusterFirst ... falls back to Default" without cluster DNS (MissingClusterDNS); None uses dnsConfig alone, "at most 3 nameservers"', async () => {
    const host = readFileSync('/etc/resolv.conf', 'utf8');
    const def = await output('dns-default', { dnsPolicy: 'Default', containers: [ctr('cat /etc/resolv.conf')] });
    assert.doesNotMatch(def.log, /nameserver 127\./, 'no loopback nameserver in the pod netns');
    for (const m of host.matchAll(/^nameserver\s+(\S+)/gm)) if (!m[1]!.startsWith('127.') && m[1] !== '::1') assert.match(def.log, new RegExp(`^nameserver ${m[1]!.replace(/\./g, '\\.')}$`, 'm'));
    const cf = await output('dns-cf', { containers: [ctr('cat /etc/resolv.conf')] });
    assert.equal(cf.log, def.log, 'ClusterFirst without cluster DNS is Default');
    const ev = await event('dns-cf', /MissingClusterDNS/);
    assert.equal(ev, `Warning MissingClusterDNS pod: "dns-cf_default(${cf.pod.metadata.uid})". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`);
    const none = await output('dns-none', {
      dnsPolicy: 'None',
      dnsConfig: { nameservers: ['127.0.0.53', '127.0.0.54', '127.0.0.55'], searches: ['a.example', 'b.example'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] },
      containers: [ctr('cat /etc/resolv.conf')],
    });
    assert.equal(none.log, 'search a.example b.example\nnameserver 127.0.0.53\nnameserver 127.0.0.54\nnameserver 127.0.0.55\noptions ndots:2 edns0\n');
    const merged = await output('dns-merge', { dnsPolicy: 'Default', dnsConfig: { nameservers: ['127.0.0.53', '127.0.0.54', '127.0.0.55'], options: [{ name: 'ndots', value: '1' }] }, containers: [ctr('cat /etc/resolv.conf')] });
    assert.equal(merged.log.match(/^nameserver /gm)?.length, 3, 'cut to 3 nameservers');
    assert.match(merged.log, /^options .*ndots:1/m);
    const cut = await event('dns-merge', /DNSConfigForming/);
    assert.match(cut, /^Warning DNSConfigForming Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: \S+ 127\.0\.0\.53 127\.0\.0\.54$/);
    // validation: a None policy without nameservers is refused (upstream's rule)
    const bad = s.kubectl(kc.path, ['create', '-f', '-'], JSON.stringify(podOf('dns-bad', { dnsPolicy: 'None', containers: [ctr('true')] })));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None/);
  });

  it('volumes: "emptyDir subPath ... created if it does not exist"; hostPath "type" checks with the kubelet\'s messages ("FileOrCreate mode does not create the parent directory"); image volumes refused (422)', async () => {
    const sub = await output('subpath', {
      containers: [ctr('echo hi > /data/f; ls -ld /data | cut -c1', { volumeMounts: [{ name: 'scratch', mountPath: '/data', subPath: 'deep/er' }] })],
      volumes: [{ name: 'scratch', emptyDir: {} }],
    });
    assert.equal(sub.log, 'd\n');
    const hp = join(suite.work, 'hostpaths');
    mkdirSync(hp, { recursive: true });
    const hpPod = (name: string, path: string, type: string) =>
      podOf(name, { containers: [ctr('ls -la /h >/dev/null && echo ok', { volumeMounts: [{ name: 'h', mountPath: '/h' }] })], volumes: [{ name: 'h', hostPath: { path, type } }] });
    create(hpPod('hp-file', hp, 'File'));
    assert.match(await event('hp-file', /FailedMount/), new RegExp(`MountVolume\\.SetUp failed for volume "h" : hostPath type check failed: ${hp} is not a file`));
    create(hpPod('hp-sock', hp, 'Socket'));
    assert.match(await event('hp-sock', /FailedMount/), /hostPath type check failed: .* is not a socket file/);
    create(hpPod('hp-chr', hp, 'CharDevice'));
    assert.match(await event('hp-chr', /FailedMount/), /is not a character device/);
    create(hpPod('hp-blk', hp, 'BlockDevice'));
    assert.match(await event('hp-blk', /FailedMount/), /is not a block device/);
    await output('hp-mkdir', hpPod('x', join(hp, 'made/dir'), 'DirectoryOrCreate').spec);
    assert.equal(statSync(join(hp, 'made/dir')).mode & 0o7777, 0o755, 'DirectoryOrCreate: 0755');
    const fileSpec: Record<string, any> = hpPod('x', join(hp, 'made-file'), 'FileOrCreate').spec;
    fileSpec.containers[0].command = ['sh', '-c', 'echo written > /h; echo ok'];
    await output('hp-mkfile', fileSpec);
    assert.equal(statSync(join(hp, 'made-file')).mode & 0o777, 0o644, 'FileOrCreate: 0644');
    assert.equal(readFileSync(join(hp, 'made-file'), 'utf8'), 'written\n');
    // "FileOrCreate mode does not create the parent directory of the file"
    create(hpPod('hp-noparent', join(hp, 'no/such/file'), 'FileOrCreate'));
    assert.match(await event('hp-noparent', /FailedMount/), new RegExp(`volume "h" : open ${hp}/no/such/file: no such file or directory`));
    assert.equal(existsSync(join(hp, 'no')), false);
    // a real socket passes the Socket check
    const sockPath = join(hp, 'app.sock');
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(sockPath, r));
    try {
      const ok2 = await output('hp-sock-ok', hpPod('x', sockPath, 'Socket').spec);
      assert.equal(ok2.log, 'ok\n');
    } finally {
      await new Promise((r) => srv.close(r));
    }
    // a volume source podbay cannot provide is refused at create, naming it (ephemeral volumes work now: volumes-pvc.test.ts)
    const img = s.kubectl(kc.path, ['create', '-f', '-'], JSON.stringify(podOf('imgvol', {
      containers: [ctr('true', { volumeMounts: [{ name: 'data', mountPath: '/s' }] })],
      volumes: [{ name: 'data', image: { reference: 'busybox:1.36' } }],
    })));
    assert.notEqual(img.code, 0);
    assert.match(img.stderr, /spec\.volumes\[0\]\.image: Forbidden: podbay does not support image volumes: image volumes \(an OCI image mounted as a volume\) are not implemented by podbay yet/);
  });

  it('mountPropagation: "Bidirectional ... only allowed in privileged containers" (422); HostToContainer "receives all subsequent mounts" made on the host; a privileged Bidirectional mount reaches the host; no rootfs overlay on the host', async () => {
    const shared = join(suite.work, 'shared');
    mkdirSync(shared, { recursive: true });
    const hostOverlays = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(' - overlay ') && l.includes(s.dataDir));
    const vol = { name: 'h', hostPath: { path: shared, type: 'Directory' } };
    const bad = s.kubectl(kc.path, ['create', '-f', '-'], JSON.stringify(podOf('bidi', { containers: [ctr('true', { volumeMounts: [{ name: 'h', mountPath: '/h', mountPropagation: 'Bidirectional' }] })], volumes: [vol] })));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.containers\[0\]\.volumeMounts\.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers/);
    // the source must be on a propagating mount (containerd's check): here a private one
    create(podOf('h2c-private', { containers: [ctr('true', { volumeMounts: [{ name: 'h', mountPath: '/h', mountPropagation: 'HostToContainer' }] })], volumes: [vol] }));
    const w = await waitFor('h2c-private CreateContainerError', () => pod('h2c-private').status.containerStatuses?.[0]?.state?.waiting, 60_000);
    assert.equal(w.reason, 'CreateContainerError');
    assert.match(w.message, /is mounted on ".*" but it is not a shared or slave mount/);
    ok('delete', 'pod', 'h2c-private', '--grace-period=0', '--force');
    // a shared tmpfs: a mount the host makes after the container started shows inside
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'pbshared', shared]);
    try {
      execFileSync('mount', ['--make-shared', shared]);
      await running('h2c', { containers: [ctr('sleep 3600', { volumeMounts: [{ name: 'h', mountPath: '/h', mountPropagation: 'HostToContainer' }] })], volumes: [vol] });
      const later = join(shared, 'later');
      mkdirSync(later);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'pblater', later]);
      try {
        writeFileSync(join(later, 'seen'), 'propagated\n');
        assert.equal(ok('exec', 'h2c', '--', 'cat', '/h/later/seen'), 'propagated\n');
        assert.match(ok('exec', 'h2c', '--', 'cat', '/proc/self/mountinfo'), / \/h rw.* master:\d+/, 'the container mount is a slave');
        // the container's rootfs overlay is mounted by runc in its own mount namespace: the
        // host's table has none of this server's (with a propagating volume too)
        assert.match(ok('exec', 'h2c', '--', 'cat', '/proc/self/mountinfo'), /^\d+ \d+ \S+ \S+ \/ \S+.* - overlay overlay /m);
        assert.deepEqual(hostOverlays(), []);
        ok('delete', 'pod', 'h2c', '--grace-period=0', '--force', '--wait=true');
        // Bidirectional (privileged): a mount the container makes on the volume shows on the host;
        // its rootfs overlay does not
        const inner = 'mkdir -p /h/inner && busybox mount -t tmpfs -o size=1m pbinner /h/inner && echo from-inside > /h/inner/f && sleep 3600';
        await running('bidi-priv', { containers: [ctr(inner, { securityContext: { privileged: true }, volumeMounts: [{ name: 'h', mountPath: '/h', mountPropagation: 'Bidirectional' }] })], volumes: [vol] });
        const f = await waitFor('the container\'s mount on the host', () => (existsSync(join(shared, 'inner', 'f')) ? readFileSync(join(shared, 'inner', 'f'), 'utf8') : undefined), 30_000);
        assert.equal(f, 'from-inside\n');
        assert.deepEqual(hostOverlays(), []);
        ok('delete', 'pod', 'bidi-priv', '--grace-period=0', '--force', '--wait=true');
      } finally {
        execFileSync('umount', ['-l', later]);
      }
    } finally {
      if (existsSync(shared)) execFileSync('umount', ['-l', shared]);
    }
  });
});
