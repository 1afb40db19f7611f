/**
 * `podbay server`: the composition root. It wires store -> registry -> API server, hands one
 * in-process client (src/client/local.ts) to the node heartbeat, the controllers (namespace,
 * Job, CronJob, StatefulSet, DaemonSet), the kubelet and the scheduler (binder), starts each room's loops (the store's compactor, the
 * runtime's sweep), and writes the admin kubeconfig once the API answers.
 *
 *   DIR/state.db          the SQLite revision log (WAL)           0600
 *   DIR/podbay.lock|.pid  the owner lock (src/sys/owner-lock.ts); RUN/ has its own
 *   DIR/pki/...           CA, serving cert, admin token           (see src/apiserver/pki.ts)
 *   DIR/kubeconfig.yaml   written after the server answers        0600
 *   DIR/images/           image store (src/image)
 *   DIR/registries.yaml   registry mirrors and credentials (k3s format; optional)
 *   DIR/agent/images/     image archives imported at start (the offline path)
 *   DIR/pods/<uid>/       pod volumes;  DIR/logs/  container logs
 *   RUN/                  runtime state: runc root, bundles, netns pins, CNI cache and IPAM
 */
import { whenStopRequested } from './stop-signal.js';
import { mkdirSync, chmodSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import https from 'node:https';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { booleanFlag, parseArgs } from './args.js';
import { IpRange } from '../registry/allocators.js';
import { BuiltinServicesController, kubeDnsService, kubernetesService, type BuiltinService } from '../controllers/kubernetes-service.js';
import { ClusterDNS, parseUpstreams, type Upstream } from '../dns/server.js';
import { parseResolvConf } from '../kubelet/pod-dns.js';
import { LateBinder } from '../sys/late-bind.js';
import { openStore, type EtcdStoreOptions } from '../store/index.js';
import { DEFAULT_SERVICE_CLUSTER_IP_RANGE, DEFAULT_SERVICE_NODE_PORT_RANGE, ServiceAllocators, type ServiceAllocatorOptions } from '../registry/service-allocators.js';
import type { Store } from '../store/types.js';
import { Registry } from '../registry/index.js';
import { ApiServer } from '../apiserver/server.js';
import { ensureCredentials, signCertificate } from '../apiserver/pki.js';
import { checkSharedPki } from './shared-pki.js';
import { ApiserverIdentityLease, liveApiserverAddresses } from '../controllers/apiserver-identity.js';
import { TokenIssuer } from '../registry/token-issuer.js';
import { renderKubeconfig, writeKubeconfig } from '../apiserver/kubeconfig.js';
import { NodeHeartbeat, hostAddresses, nodeName } from '../kubelet/node.js';
import { LocalClient } from '../client/local.js';
import { Compactor } from '../store/compactor.js';
import { ServiceLbController } from '../controllers/service-lb.js';
import { controllerSet } from '../controllers/controller-set.js';
import { LeaderWork } from '../controllers/leader-work.js';
import { LeaderElector } from '../client/leader-election.js';
import { LEADER_ELECTION_FLAGS, leaderElectionFlags } from './leader-election-flags.js';
import { NODE_FLAGS, NODE_MONITOR_FLAGS, nodeFlags, nodeMonitorFlags } from './multinode-flags.js';
import type { NodeRoutes } from '../proxy/node-routes.js';
import { HostPortGuard } from '../network/host-ports.js';
import { logRotationFlags } from '../kubelet/log-rotation.js';
import { EncryptingStore, loadEncryptionConfig } from '../apiserver/encryption.js';
import type { PodNodeView } from '../explain/types.js';
import { DirLockedError, lockDir, type DirLock } from '../sys/owner-lock.js';
import { mountRunDir, releaseRunDir } from '../sys/run-dir.js';
import { StartUndo } from './start-undo.js';
import type { Kubelet } from '../kubelet/kubelet.js';
import type { RuncRuntime } from '../runtime/runtime.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT, DEFAULT_MAX_REQUESTS_INFLIGHT } from '../apiserver/inflight.js';
import { DEFAULT_WATCH_QUEUE_MAX_BYTES } from '../apiserver/watch-queue.js';
import { parseQuantity } from '../api/validation/quantity.js';

import { DEFAULT_CGROUP_ROOT, DEFAULT_DATA_DIR, DEFAULT_POD_PIDS_LIMIT } from './defaults.js';
export { DEFAULT_CGROUP_ROOT, DEFAULT_DATA_DIR, DEFAULT_POD_PIDS_LIMIT };

const HELP = `Usage: podbay server [flags]

Flags:
  --data-dir DIR              where state, certificates and the kubeconfig live (default ${DEFAULT_DATA_DIR})
  --listen HOST:PORT          API address (default 127.0.0.1:6443; port 0 picks a free one)
  --store sqlite|etcd|memory  storage backend (default sqlite, in DIR/state.db; etcd: see below)
  --service-cluster-ip-range CIDR  where Services' cluster IPs come from (default ${DEFAULT_SERVICE_CLUSTER_IP_RANGE}, as k3s)
  --service-node-port-range A-B    where NodePort Services' ports come from (default ${DEFAULT_SERVICE_NODE_PORT_RANGE})
  --advertise-address IP      where pods reach the API: the \`kubernetes\` Service (the first IP of the
                              service range, port 443) forwards there. The server ALSO LISTENS on
                              IP at the --listen port, besides --listen. Default: the pod bridge's
                              gateway (the first IP of --pod-cidr), reachable from this host and
                              its pods; bound once the bridge exists. With --no-kubelet: none
                              (the Service points at --listen's address when it is not loopback)
  --service-lb-address IP|none  the address LoadBalancer Services get as status.loadBalancer.ingress
                              (k3s's ServiceLB, without its pods): the proxy answers there on each
                              Service port; a port another LoadBalancer Service holds on it leaves
                              the Service <pending> (event SyncLoadBalancerFailed). Services whose
                              spec.loadBalancerClass is set and is not podbay.io/service-lb are
                              left to another implementation. Default: the node's InternalIP.
                              none: no load balancer; LoadBalancer Services stay <pending>
  --cluster-domain DOMAIN     the cluster's DNS zone (default cluster.local)
  --cluster-dns IP|none       the kube-dns Service's cluster IP that ClusterFirst pods use as their
                              nameserver (default the tenth IP of the service range, as k3s's
                              10.43.0.10). podbay answers it itself: its DNS server LISTENS on the
                              bridge gateway, port 53 (UDP and TCP), once the bridge exists, and
                              forwards names outside the cluster zone only for pods.
                              none: no cluster DNS; ClusterFirst pods get the host's resolv.conf
  --cluster-dns-upstream L    where the cluster DNS forwards other names: IP[:PORT],... or none
                              (default the nameservers of the host's /etc/resolv.conf)
  --ingress-http-port PORT    the built-in ingress controller's HTTP port: Ingresses of the class
                              podbay (created at start, the default class) are served by Debian's
                              nginx, run as podbay's child (default 80; 0: no ingress controller;
                              none with --no-kubelet either)
  --ingress-https-port PORT   its HTTPS port, for Ingresses with TLS from Secrets (default 443)
  --ingress-bind-address IP   where nginx listens (default 0.0.0.0); Ingresses' status shows this
                              address (the node's first address when it is 0.0.0.0)
  --etcd-endpoints URL,...    the etcd members' client URLs for --store etcd (e.g. http://127.0.0.1:2379);
                              keys are laid out as kube-apiserver lays them (/registry/pods/NS/NAME)
  --etcd-cafile, --etcd-certfile, --etcd-keyfile FILE  TLS to etcd (PEM), as kube-apiserver's flags
  --leader-elect-lease-duration D, --leader-elect-renew-deadline D, --leader-elect-retry-period D
                              with --store etcd several servers may share the cluster: the
                              controllers run only on the holder of the Lease
                              kube-system/kube-controller-manager, the scheduler on that of
                              kube-system/kube-scheduler (client-go's leader election; defaults
                              15s, 10s, 2s as kube-controller-manager's). A dead leader's lease is
                              taken over within lease-duration + 2 x 2.2 x retry-period
  --store-sync full|normal    full (default): every write is fsynced before it is acknowledged;
                              normal: no fsync per write, faster, but a power cut (not a crash)
                              may lose the last acknowledged writes and reuse their revisions
  --max-requests-inflight N   non-mutating requests served at once; more get 429 (default ${DEFAULT_MAX_REQUESTS_INFLIGHT};
                              0 = no limit; watches, logs and exec do not count)
  --max-mutating-requests-inflight N  the same for writes (default ${DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT})
  --max-connections N         concurrent client connections (default ${DEFAULT_MAX_CONNECTIONS}); more are dropped
  --max-watch-queue-bytes Q   how far a watcher may fall behind (a quantity, default 16Mi) before
                              it is closed, as kube-apiserver closes unresponsive watchers
  --compaction-interval SECS  how often history older than one interval is compacted (default 300)
  --bookmark-interval SECS    seconds between watch BOOKMARK events (default 60)
  --log-requests              log every API request to stderr
  --anonymous-auth=BOOL       a request with no credentials (no bearer token, no client
                              certificate) is user system:anonymous, group system:unauthenticated,
                              which the default RBAC policy lets read /healthz, /livez, /readyz
                              and /version only: 403 elsewhere (default true, as kube-apiserver);
                              false: such requests get 401
  --service-account-extend-token-expiration=BOOL  a pod's token from its kube-api-access volume
                              (3607 s, for the API) is signed for a year with a warnafter claim at
                              the hour, so clients that read it once keep working; the kubelet
                              still refreshes it hourly (default true, as kube-apiserver)
  --no-kubelet                serve the API only: run no pods on this machine
  --run-dir DIR               runtime state: runc root, bundles, netns pins, IPAM (default /run/podbay;
                              an empty one on a disk gets a tmpfs of its own, as /run is one)
  --runtime PATH              the OCI runtime binary (default runc; crun refuses hybrid cgroups)
  --cni-bridge NAME           the host bridge pods attach to (default podbay0)
  --pod-cidr CIDR             pod addresses (default 10.85.0.0/16); this node's spec.podCIDR
  --cluster-cidr CIDR         every node's pod range together (default --pod-cidr): agents' pods
                              are in it; pod-to-pod traffic within it keeps its source address
  --node-ip IP                this node's InternalIP (default the first non-loopback IPv4
                              address): agents route this node's pods via it (host-gw)
  --node-lease-duration-seconds N  the node Lease's duration, renewed every N/4 s (default 40)
  --node-monitor-grace-period D    a node whose Lease and status are older is marked Unknown,
                              tainted unreachable, its pods evicted after their tolerationSeconds (40s)
  --node-monitor-period D     how often the node lifecycle controller looks (default 5s)
  --cni-conf-dir DIR          where podbay writes its CNI config list (default DIR/cni)
  --cni-bin-dir DIR           CNI plugin binaries (default /usr/lib/cni)
  --container-log-max-size Q  rotate a container's log past this size (a quantity, default 10Mi)
  --container-log-max-files N rotated files plus the live one kept per container (default 5)
  --container-log-monitor-interval D  how often log sizes are checked (default 10s)
  --encryption-provider-config FILE   encrypt resources (e.g. secrets) at rest, as kube-apiserver
                              (EncryptionConfiguration: aescbc, aesgcm, identity); off by default
  --allowed-unsafe-sysctls L  comma-separated sysctls or "prefix*" patterns pods may set beyond
                              the kubelet's safe set (namespaced ones only), e.g. 'kernel.msg*'
  --cgroup-root PATH          podbay's own cgroup, under which pods get ROOT/kubepods/...
                              (default ${DEFAULT_CGROUP_ROOT}; one server per root: a second one is refused)
  --pod-pids-limit N          most processes/threads a pod may have (pids.max of its cgroup;
                              default ${DEFAULT_POD_PIDS_LIMIT}; -1 = unlimited). The kubelet's default is unlimited,
                              but then one pod's fork bomb takes every pid of the host (pid_max
                              is often 32768) and nothing, podbay included, can start a process
  --registries FILE           registry mirrors, credentials and TLS in k3s's registries.yaml format
                              (default DIR/registries.yaml when it exists); read at start
  --disable-default-registry-endpoint
                              pull a mirrored registry's images only from its mirrors (as k3s)
  --images-import-dir DIR     image archives (docker save / OCI, tar or tar.gz) loaded at start,
                              each once (default DIR/agent/images, as k3s's airgap images)
  --local-path-dir DIR        where the local-path StorageClass makes PersistentVolumes, a
                              directory per claim (default DIR/storage, as k3s's local-path)
`;

function pidsLimit(v: string | undefined): number {
  if (v === undefined) return DEFAULT_POD_PIDS_LIMIT;
  const n = Number(v);
  if (!Number.isInteger(n) || (n < 1 && n !== -1)) throw new Error(`--pod-pids-limit ${JSON.stringify(v)}: want a positive whole number, or -1 for unlimited`);
  return n;
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
  if (!m) throw new Error(`--listen ${JSON.stringify(v)}: want HOST:PORT, e.g. 127.0.0.1:6443 or [::1]:6443`);
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--listen ${JSON.stringify(v)}: port must be 0-65535`);
  return { host, port };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return isIP(host) === 6 ? `[${host}]` : host;
}

function count(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new Error(`--${flag} ${JSON.stringify(v)}: want a whole number >= 0`);
  return Number(v);
}

function bytesFlag(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const q = parseQuantity(v);
  const n = q && q.den === 1n ? Number(q.num) : NaN;
  if (!Number.isSafeInteger(n) || n < 1024) throw new Error(`--${flag} ${JSON.stringify(v)}: want a size of at least 1Ki, e.g. 16Mi`);
  return n;
}

function positiveSeconds(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} ${JSON.stringify(v)}: want a positive number of seconds`);
  return n;
}

/** Wait until GET /readyz answers 200 over TLS with our CA: then clients can use the kubeconfig. */
async function waitReady(url: string, caPem: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      // agent: false: no keep-alive socket from the server to itself holding a connection slot
      const req = https.get(`${url}/readyz`, { ca: caPem, timeout: 2000, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the API server at ${url} did not answer /readyz`);
}

/** `podbay server`; a start that fails before the API serves undoes what it did (start-undo.ts) */
export async function runServer(argv: string[]): Promise<number> {
  return StartUndo.around((undo) => serve(argv, undo), (line) => process.stderr.write(`${line}\n`));
}

async function serve(argv: string[], undo: StartUndo): Promise<number> {
  const known = ['data-dir', 'listen', 'store', 'etcd-endpoints', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile', 'compaction-interval', 'bookmark-interval', 'log-requests', 'help', 'no-kubelet', 'run-dir', 'runtime', 'cni-bridge', 'pod-cidr', 'cni-conf-dir', 'cni-bin-dir', 'container-log-max-size', 'container-log-max-files', 'container-log-monitor-interval', 'encryption-provider-config', 'allowed-unsafe-sysctls', 'cgroup-root', 'pod-pids-limit', 'registries', 'disable-default-registry-endpoint', 'images-import-dir', 'store-sync', 'max-requests-inflight', 'max-mutating-requests-inflight', 'max-connections', 'max-watch-queue-bytes', 'service-cluster-ip-range', 'service-node-port-range', 'advertise-address', 'cluster-domain', 'cluster-dns', 'cluster-dns-upstream', 'local-path-dir', 'ingress-http-port', 'ingress-https-port', 'ingress-bind-address', 'service-lb-address', 'anonymous-auth', 'service-account-extend-token-expiration', ...LEADER_ELECTION_FLAGS, ...NODE_FLAGS, ...NODE_MONITOR_FLAGS];
  const p = parseArgs(argv, ['log-requests', 'help', 'no-kubelet', 'disable-default-registry-endpoint', 'anonymous-auth', 'service-account-extend-token-expiration'], known, 'server');
  if (p.flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (p.positionals.length) throw new Error(`podbay server takes no arguments (got ${p.positionals.join(' ')})`);
  const dataDir = p.flags.get('data-dir') ?? DEFAULT_DATA_DIR;
  const { host, port } = parseListen(p.flags.get('listen') ?? '127.0.0.1:6443');
  const storeKind = p.flags.get('store') ?? 'sqlite';
  if (storeKind !== 'sqlite' && storeKind !== 'memory' && storeKind !== 'etcd') throw new Error(`--store ${JSON.stringify(storeKind)}: want sqlite, etcd or memory`);
  const etcd = storeKind === 'etcd' ? etcdFlags(p.flags) : undefined;
  // several servers share an etcd: the controllers and the scheduler run on the Lease holder only
  const election = leaderElectionFlags(p.flags, storeKind === 'etcd');
  const compactEvery = positiveSeconds(p.flags.get('compaction-interval'), 'compaction-interval', 300);
  const bookmarkEvery = positiveSeconds(p.flags.get('bookmark-interval'), 'bookmark-interval', 60);
  const storeSync = p.flags.get('store-sync') ?? 'full';
  if (storeSync !== 'full' && storeSync !== 'normal') throw new Error(`--store-sync ${JSON.stringify(storeSync)}: want full or normal`);
  const maxRequestsInflight = count(p.flags.get('max-requests-inflight'), 'max-requests-inflight', DEFAULT_MAX_REQUESTS_INFLIGHT);
  const maxMutatingRequestsInflight = count(p.flags.get('max-mutating-requests-inflight'), 'max-mutating-requests-inflight', DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT);
  const maxConnections = count(p.flags.get('max-connections'), 'max-connections', DEFAULT_MAX_CONNECTIONS);
  const watchQueueMaxBytes = bytesFlag(p.flags.get('max-watch-queue-bytes'), 'max-watch-queue-bytes', DEFAULT_WATCH_QUEUE_MAX_BYTES);
  const anonymousAuth = booleanFlag(p.flags.get('anonymous-auth'), 'anonymous-auth', true);
  const extendTokenExpiration = booleanFlag(p.flags.get('service-account-extend-token-expiration'), 'service-account-extend-token-expiration', true);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  // A reader of podbay's log that went away (a closed pipe) must not take the node down before it
  // has taken its pods' rules and mounts away: EPIPE on stdout/stderr drops the line, nothing more.
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }

  // PODBAY_TRACE=1: when each step of the start was reached, in ms since the process began,
  // and the CPU spent by then (wall time on a loaded machine says little)
  const trace = process.env.PODBAY_TRACE === '1';
  const mark = (what: string) => {
    if (!trace) return;
    const cpu = process.cpuUsage();
    log(`podbay: start: ${what} at ${Math.round(performance.now())} ms (cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms)`);
  };
  mark('flags read');
  const withKubelet = !p.flags.has('no-kubelet');
  const runDir = p.flags.get('run-dir') ?? '/run/podbay';
  const bridge = p.flags.get('cni-bridge') ?? 'podbay0';
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new Error(`--cni-bridge ${JSON.stringify(bridge)}: a Linux interface name has 1-15 letters, digits, '-', '_' or '.'`);
  const serviceOptions = serviceFlags(p.flags);
  const podCidr = p.flags.get('pod-cidr') ?? '10.85.0.0/16';
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(podCidr)) throw new Error(`--pod-cidr ${JSON.stringify(podCidr)}: want an IPv4 CIDR such as 10.85.0.0/16`);
  const cluster = clusterFlags(p.flags, { serviceRange: serviceOptions.clusterIPRange, podCidr, withKubelet, listenHost: host });
  // multi-node: the cluster's pod network, this node's address, lease and node-monitor timings
  const multi = nodeFlags(p.flags, podCidr);
  const nodeMonitor = nodeMonitorFlags(p.flags);
  const nodeIP = multi.nodeIP ?? hostAddresses()[0];
  const lbAddress = serviceLbAddress(p.flags.get('service-lb-address'), withKubelet);
  const logRotation = logRotationFlags(p.flags);
  const ingress = withKubelet ? ingressFlags(p.flags) : undefined;
  // read before anything is made on disk: a bad file stops the start with nothing left behind
  const encryptionFile = p.flags.get('encryption-provider-config');
  const encryption = encryptionFile ? loadEncryptionConfig(encryptionFile) : undefined;
  const podPidsLimit = pidsLimit(p.flags.get('pod-pids-limit'));
  if (withKubelet && process.getuid?.() !== 0) {
    throw new Error('running pods needs root (network namespaces, mounts, runc): run podbay server as root, or pass --no-kubelet to serve the API only');
  }
  // the node's rooms load only when it runs pods (src/cli/node-parts.ts)
  const node = withKubelet ? await import('./node-parts.js') : undefined;
  if (node) {
    const missing = node.checkHostTools({ runtimePath: p.flags.get('runtime'), cniBinDirs: [p.flags.get('cni-bin-dir') ?? '/usr/lib/cni', '/opt/cni/bin'] });
    if (ingress && !existsSync(node.NGINX)) missing.push({ tool: node.NGINX, package: 'nginx-light' });
    if (missing.length) {
      throw new Error(
        `missing host tools: ${missing.map((m) => `${m.tool} (install the Debian package ${m.package})`).join(', ')}; run 'bash scripts/setup-host.sh', or start with --no-kubelet to serve the API only`,
      );
    }
  }

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  // one owner per directory, taken before anything in them is opened; the kernel drops the
  // locks if this process dies (see owner-lock.ts)
  const locks: DirLock[] = [lockDir(dataDir, 'data dir')];
  // at a failed start: released after the store closes, before the run dir goes (undo runs last step first)
  undo.push('the locks', () => locks.forEach((l) => l.release()));
  if (withKubelet) {
    // on a tmpfs of its own when it is on a disk and empty (src/sys/run-dir.ts); a failed start
    // takes it off again only if this start mounted it (nothing of an earlier run is in it)
    const mounted = await mountRunDir(runDir, log);
    if (mounted) undo.last('the run dir', () => releaseRunDir(runDir, true, log));
    locks.push(lockDir(runDir, 'run dir'));
    locks.push(lockCgroupRoot(p.flags.get('cgroup-root') ?? DEFAULT_CGROUP_ROOT));
  }
  mark('data dir locked');
  const rawStore: Store = await openStore(storeKind, join(dataDir, 'state.db'), { sync: storeSync, etcd });
  undo.push('the store', () => rawStore.close());
  if (etcd) {
    try {
      const rev = await rawStore.currentRevision();
      log(`podbay: store is etcd at ${etcd.endpoints.join(',')} (revision ${rev})`);
    } catch (e) {
      throw new Error(`cannot reach etcd at ${etcd.endpoints.join(',')}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const store: Store = encryption ? new EncryptingStore(rawStore, encryption, log) : rawStore;
  if (encryptionFile) log(`podbay: encrypting ${encryption!.map((r) => r.resources.join(', ')).join('; ')} at rest (${encryptionFile})`);
  const hostname = os.hostname().toLowerCase();
  // pods call the API as https://kubernetes.default.svc (or its cluster IP, or the advertise address)
  const sans = ['127.0.0.1', '::1', 'localhost', hostname, cluster.kubernetesIP, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${cluster.domain}`];
  if (cluster.advertiseAddress) sans.push(cluster.advertiseAddress);
  if (!['0.0.0.0', '::'].includes(host) && !sans.includes(host)) sans.push(host);
  mark('store open');
  const creds = await ensureCredentials(dataDir, sans, log);
  const tokens = await TokenIssuer.fromPem(creds.serviceAccountKeyPem, undefined, undefined, { extendExpiration: extendTokenExpiration });
  mark('credentials read');
  // the ServiceAccount admission waits up to 2 s for a new namespace's `default` (the controller makes it)
  const svc = new Registry(store, { services: serviceOptions, serviceAccountAdmission: { defaultAccountWaitMs: 2000 }, tokens, log, sharedStore: !!etcd });
  await svc.bootstrap();
  await svc.bootstrapPolicy();
  mark('namespaces and policy bootstrapped');
  // the kubelet, the scheduler and the node heartbeat are API clients, in-process here
  const client = new LocalClient(svc);
  if (etcd) {
    // servers sharing an etcd must share the CA and service-account key (shared-pki.ts)
    const pki = await checkSharedPki(client.as('kube-apiserver'), creds, dataDir);
    log(`podbay: ${pki === 'recorded' ? 'recorded this CA and service-account key as the cluster\'s' : 'the CA and service-account key are the cluster\'s'} (ConfigMap kube-system/podbay-cluster-pki)`);
  }
  // each writes as the component kube-apiserver would see (its managedFields manager: the
  // first word of client-go's User-Agent), never as ""
  const kubeletClient = client.as('kubelet');
  const kcm = client.as('kube-controller-manager');
  const heartbeat = new NodeHeartbeat(kubeletClient, log, undefined, { name: nodeName(), addresses: multi.nodeIP ? [multi.nodeIP, ...hostAddresses().filter((a) => a !== multi.nodeIP)] : hostAddresses(), podCIDR: withKubelet ? podCidr : undefined }, multi.leaseDurationSeconds);
  // the Node's writes wait on the disk (fsync): the node stack is built meanwhile, and the API
  // listens only once the Node is there, as before
  const registered = heartbeat.start();
  registered.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  undo.push('the node heartbeat', () => heartbeat.stop());
  const startInBackground = (what: string, c: { start(): Promise<void> }) => {
    void c.start().catch((e) => log(`podbay: ${what} did not start: ${e instanceof Error ? e.message : String(e)}`));
  };
  // kube-controller-manager's controllers: at once on a single server; with --store etcd, while
  // this server holds the kube-system/kube-controller-manager Lease (leader-election.ts). Each
  // starts in the background: one whose informers cannot sync (a Secret stored under a key this
  // start does not have, say) must not keep the API from serving; each logs why. They start
  // once the API answers: their informers' first lists, run in this process, took the CPU the
  // start needs (on a restart with objects, most of the time to /readyz).
  const controllers = new LeaderWork(
    () =>
      controllerSet({
        client,
        kcm,
        caPem: creds.caPem,
        legacyToken: (a, secretName) => tokens.issueLegacy({ namespace: a.namespace, account: { name: a.name, uid: a.uid }, secretName }),
        sign: (req, usages, ttl) => signCertificate(creds.caPem, creds.caKeyPem, req, usages, ttl),
        apiServerNames: sans,
        localPathDir: resolve(p.flags.get('local-path-dir') ?? join(dataDir, 'storage')),
        nodeName: nodeName(),
        nodeMonitor,
        log,
      }),
    log,
  );
  const leaderIdentity = `${hostname}_${randomUUID()}`;
  const kcmElection = election ? new LeaderElector({ client: kcm, namespace: 'kube-system', name: 'kube-controller-manager', identity: leaderIdentity, ...election, callbacks: { onStartedLeading: () => controllers.lead(), onStoppedLeading: () => controllers.resign() }, log }) : undefined;
  const startControllers = () => {
    if (kcmElection) kcmElection.start();
    else void controllers.lead();
  };

  const api = new ApiServer(svc, {
    host,
    port,
    certPem: creds.certPem,
    keyPem: creds.keyPem,
    token: creds.token,
    anonymousAuth,
    clientCaPem: creds.caPem,
    // its own node (registered with or without the kubelet): served in-process, never relayed
    nodeName: nodeName(),
    // towards the agents' kubelet servers (pods/log, exec, attach, port-forward of their pods)
    kubeletClient: { certPem: creds.kubeletClientCertPem, keyPem: creds.kubeletClientKeyPem, caPem: creds.caPem },
    bookmarkIntervalSeconds: bookmarkEvery,
    maxRequestsInflight,
    maxMutatingRequestsInflight,
    maxConnections,
    watchQueueMaxBytes,
    log: p.flags.has('log-requests') ? log : (l) => (/^(error|warning):/.test(l) ? log(l) : undefined),
  });
  // hostPorts a pod may not take: the API's (reserved once it listens) and host sockets'
  const hostPorts = new HostPortGuard();
  // listeners on the bridge gateway wait for the bridge (made at the first pod's network setUp)
  const late = new LateBinder(log);
  const dns = withKubelet && cluster.dnsIP ? new ClusterDNS(client, { domain: cluster.domain, serviceCIDR: serviceOptions.clusterIPRange, podCIDR: multi.clusterCidr, upstreams: cluster.upstreams, log }) : undefined;
  if (dns) {
    for (const l of dns.listeners(cluster.gateway, CLUSTER_DNS_PORT)) late.add(l);
    for (const protocol of ['udp', 'tcp'] as const) hostPorts.reserve({ protocol, address: cluster.gateway, port: CLUSTER_DNS_PORT, what: "podbay's cluster DNS" });
  }
  if (ingress) {
    hostPorts.reserve({ protocol: 'tcp', address: ingress.address, port: ingress.http, what: "podbay's ingress controller (nginx, HTTP)" });
    hostPorts.reserve({ protocol: 'tcp', address: ingress.address, port: ingress.https, what: "podbay's ingress controller (nginx, HTTPS)" });
  }
  let kubelet: Kubelet | undefined;
  let scheduler: LeaderWork | undefined;
  let runtime: RuncRuntime | undefined;
  let routes: NodeRoutes | undefined;
  if (node) {
    const stack = await node.buildNodeStack({
      client: kubeletClient,
      nodeName: nodeName(),
      hostIP: nodeIP ?? '127.0.0.1',
      dataDir,
      runDir,
      bridge,
      podCidr,
      clusterCidr: multi.clusterCidr,
      cgroupRoot: p.flags.get('cgroup-root') ?? DEFAULT_CGROUP_ROOT,
      flags: p.flags,
      hostPorts,
      logRotation,
      podPidsLimit,
      clusterDNS: cluster.dnsIP ? [cluster.dnsIP] : [],
      clusterDomain: cluster.domain,
      afterNetworkUp: () => late.ensure(),
      log,
    });
    runtime = stack.runtime;
    kubelet = stack.kubelet;
    routes = stack.routes;
    const cgroups = stack.cgroups;
    scheduler = new LeaderWork(() => {
      const binder = new node.Binder(client.as('kube-scheduler'), nodeName(), log, hostPorts);
      return [{ what: 'the scheduler', start: () => binder.start(), stop: () => binder.stop() }];
    }, log);
    const rt = runtime;
    const podsDir = join(dataDir, 'pods');
    // what the explain collectors start from: the runtime's records say where to look
    const explainView: PodNodeView = {
      bridge,
      podDir: (uid) => join(podsDir, uid),
      async sandboxOf(uid) {
        const s = (await rt.listPodSandboxes()).filter((x) => x.config.podUid === uid).at(-1);
        if (!s) return undefined;
        const c = s.config;
        return { id: s.id, state: s.state, pid: s.pid, netnsPath: s.netnsPath, ips: s.ips, hostNetwork: c.hostNetwork, hostIPC: c.hostIPC, hostPID: c.hostPID, shareProcessNamespace: c.shareProcessNamespace };
      },
      async containersOf(sandboxId) {
        // the newest container of each name (an older one may linger exited after a restart)
        const byName = new Map((await rt.listContainers(sandboxId)).map((c) => [c.config.name, c]));
        return [...byName.values()].map((c) => ({ id: c.id, name: c.config.name, state: c.state, pid: c.pid, mounts: c.config.mounts, reason: c.reason, exitCode: c.exitCode }));
      },
    };
    // kubectl top and nodes/proxy/stats/summary: usage read from the pods' cgroups on request.
    // One listing of the sandboxes serves every pod of a request (a list of N pods would
    // otherwise read all N sandbox records N times).
    let sandboxes: { at: number; list: ReturnType<typeof rt.listPodSandboxes> } | undefined;
    const recentSandboxes = () => {
      if (!sandboxes || Date.now() - sandboxes.at > 500) sandboxes = { at: Date.now(), list: rt.listPodSandboxes() };
      return sandboxes.list;
    };
    const stats = new node.NodeStats({
      layout: cgroups.layout,
      async podSandbox(uid) {
        const s = (await recentSandboxes()).filter((x) => x.config.podUid === uid && x.state === 'ready').at(-1);
        return s && { id: s.id, cgroupParent: cgroups.parentOf(s.config.cgroup?.qosClass ?? 'BestEffort', uid) };
      },
      async runningContainers(sandboxId) {
        const running = (await rt.listContainers(sandboxId)).filter((c) => c.state === 'running');
        return [...new Map(running.map((c) => [c.config.name, { id: c.id, name: c.config.name }])).values()];
      },
    });
    api.setNode({
      usage: { podUsage: (uid) => stats.podUsage(uid), nodeUsage: () => stats.nodeUsage() },
      podIPs: async (pod) => (await rt.listPodSandboxes()).filter((x) => x.config.podUid === pod.metadata?.uid && x.state === 'ready').flatMap((x) => x.ips),
      ...stack.streams,
      explainPod: (pod) => node.explainPod(pod, explainView),
    });
  }
  mark('node stack built');
  await registered;
  mark('node registered');
  const bound = await api.listen();
  mark('API listening');
  // a hostname (e.g. localhost) may resolve to any local address: reserve the port on all
  hostPorts.reserve({ protocol: 'tcp', address: isIP(host) ? host : '0.0.0.0', port: bound, what: "the podbay API server's port" });
  const url = `https://${urlHost(host)}:${bound}`;
  await waitReady(url, creds.caPem);
  mark('API ready');
  // from here on the kubelet may start pods in the run dir: a stop (or a crash) leaves them running
  undo.done();
  startControllers();
  await runtime?.sweep(log);
  mark('runtime swept');
  // the API on the advertise address too (unless --listen already covers it)
  const adv = cluster.advertiseAddress;
  if (adv && !['0.0.0.0', '::', adv].includes(host)) {
    late.add({ what: `the API on ${adv}:${bound} (--advertise-address)`, bind: () => api.listenAlso(adv, bound) });
    hostPorts.reserve({ protocol: 'tcp', address: adv, port: bound, what: "the podbay API server's port" });
  }
  // the Services a cluster starts with: default/kubernetes, kube-system/kube-dns
  const builtins: BuiltinService[] = [];
  // several servers on one etcd: each says it is up with its identity Lease, and the
  // `kubernetes` Service's Endpoints list every live one (apiserver-identity.ts)
  const identityLease = etcd ? new ApiserverIdentityLease(client.as('kube-apiserver'), { hostname, port: bound, address: adv, log }) : undefined;
  await identityLease?.start();
  if (adv) builtins.push({ ...kubernetesService(cluster.kubernetesIP, adv, bound), ...(identityLease ? { addresses: () => liveApiserverAddresses(client) } : {}) });
  if (dns && cluster.dnsIP) builtins.push(kubeDnsService(cluster.dnsIP, cluster.gateway, CLUSTER_DNS_PORT));
  const builtinServices = new BuiltinServicesController(client.as('kube-apiserver'), builtins, { log });
  await builtinServices.start();
  await dns?.start();
  mark('builtin Services and cluster DNS started');
  // a restarted podbay finds its bridge (and gateway) already there
  await late.ensure();
  // the service proxy runs where pods do: its rules forward to pod IPs on this node's bridge
  const proxier = node ? new node.Proxier(client, { clusterCIDR: multi.clusterCidr, serviceCIDR: serviceOptions.clusterIPRange, tag: node.tagFor(bridge), nodeName: nodeName(), log }) : undefined;
  await proxier?.start();
  mark('service proxy started');
  // LoadBalancer Services get this node's address (the proxy answers there), as k3s's ServiceLB
  const serviceLb = lbAddress ? new ServiceLbController(client, lbAddress, { log, host: nodeName() }) : undefined;
  if (serviceLb) startInBackground('the service load balancer controller', serviceLb);
  // NetworkPolicy (kube-router's way) where pods run; started after the proxy so its jumps come first
  const policies = node ? new node.PolicyEnforcer(client, { tag: node.tagFor(bridge), log }) : undefined;
  await policies?.start();
  // Ingresses of the class podbay, served by nginx on the node's ports
  const ingresses =
    ingress && node
      ? new node.IngressController(client, { listen: ingress, runDir, statusAddress: ingress.address === '0.0.0.0' ? hostAddresses()[0] : ingress.address, log })
      : undefined;
  await ingresses?.start();
  mark('network policy and ingress started');
  await kubelet?.start();
  mark('kubelet started');
  // host-gw routes to the agents' pods (src/proxy/node-routes.ts)
  await routes?.start();
  // the scheduler, like the controllers: at once, or while this server holds kube-system/kube-scheduler
  const schedulerElection = scheduler && election ? new LeaderElector({ client: client.as('kube-scheduler'), namespace: 'kube-system', name: 'kube-scheduler', identity: leaderIdentity, ...election, callbacks: { onStartedLeading: () => scheduler!.lead(), onStoppedLeading: () => scheduler!.resign() }, log }) : undefined;
  if (schedulerElection) schedulerElection.start();
  else await scheduler?.lead();
  const kubeconfig = join(dataDir, 'kubeconfig.yaml');
  await writeKubeconfig(kubeconfig, renderKubeconfig(url, creds.caPem, creds.token));
  log(`podbay: serving the Kubernetes API on ${url}; kubeconfig: ${kubeconfig}`);

  const compactor = new Compactor(store, compactEvery, log);
  await compactor.start();

  await whenStopRequested();
  const step = async (what: string, fn: () => unknown) => {
    if (process.env.PODBAY_TRACE === '1') log(`podbay: shutdown: ${what}`);
    await fn();
  };
  await step('compactor', () => compactor.stop());
  await step('heartbeat', () => heartbeat.stop());
  await step('controllers', async () => {
    await kcmElection?.stop();
    await controllers.resign();
  });
  await step('scheduler', async () => {
    await schedulerElection?.stop();
    await scheduler?.resign();
  });
  await step('network policy', () => policies?.stop());
  await step('ingress controller', () => ingresses?.stop());
  await step('builtin services and cluster DNS', async () => {
    builtinServices.stop();
    await identityLease?.stop();
    await dns?.stop();
  });
  await step('service load balancer controller', () => serviceLb?.stop());
  await step('service proxy', () => proxier?.stop());
  await step('kubelet', () => kubelet?.stop());
  await step('routes to other nodes', () => routes?.stop());
  let idle = false;
  await step('runtime', async () => {
    idle = (await runtime?.shutdown(log)) ?? false;
  });
  await step('API server', () => api.close());
  await step('store', () => store.close());
  for (const l of locks.reverse()) l.release();
  // the run dir's tmpfs, if podbay made it and nothing is left running
  if (runtime) await step('run dir', () => releaseRunDir(runDir, idle, log));
  return 0;
}

/** --etcd-endpoints and the TLS files, checked before anything starts */
function etcdFlags(flags: Map<string, string>): EtcdStoreOptions {
  const raw = flags.get('etcd-endpoints');
  if (!raw) throw new Error('--store etcd needs --etcd-endpoints URL[,URL...] (the etcd members\' client URLs, e.g. http://127.0.0.1:2379)');
  const endpoints = raw.split(',').map((e) => e.trim()).filter(Boolean);
  for (const e of endpoints) {
    let u: URL;
    try {
      u = new URL(e);
    } catch {
      throw new Error(`--etcd-endpoints: ${JSON.stringify(e)} is not a URL (want http://HOST:PORT or https://HOST:PORT)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--etcd-endpoints: ${JSON.stringify(e)}: want http:// or https://`);
    if (!u.port) throw new Error(`--etcd-endpoints: ${JSON.stringify(e)} names no port (etcd's client port is usually 2379)`);
  }
  const file = (flag: string) => {
    const f = flags.get(flag);
    if (!f) return undefined;
    try {
      return readFileSync(f);
    } catch (e) {
      throw new Error(`--${flag} ${f}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const ca = file('etcd-cafile');
  const cert = file('etcd-certfile');
  const key = file('etcd-keyfile');
  if (!!cert !== !!key) throw new Error('--etcd-certfile and --etcd-keyfile go together');
  const tls = ca || cert ? { ca, cert, key } : undefined;
  if (tls && endpoints.some((e) => e.startsWith('http:'))) throw new Error('--etcd-cafile/--etcd-certfile given, but --etcd-endpoints uses http://; use https:// URLs');
  return { endpoints, tls };
}

/** --ingress-http-port, --ingress-https-port, --ingress-bind-address; undefined: no ingress controller */
export function ingressFlags(flags: Map<string, string>): { address: string; http: number; https: number } | undefined {
  const port = (flag: string, dflt: number) => {
    const v = flags.get(flag);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new Error(`--${flag} ${JSON.stringify(v)}: want a port number 0-65535`);
    return Number(v);
  };
  const http = port('ingress-http-port', 80);
  const https = port('ingress-https-port', 443);
  const address = flags.get('ingress-bind-address') ?? '0.0.0.0';
  if (isIP(address) !== 4) throw new Error(`--ingress-bind-address ${JSON.stringify(address)}: want an IPv4 address (0.0.0.0 for every one)`);
  if (http === 0) return undefined;
  if (https === 0) throw new Error('--ingress-https-port 0: the ingress controller needs an HTTPS port too (or pass --ingress-http-port 0 to run none)');
  if (https === http) throw new Error(`--ingress-https-port ${https}: the same as --ingress-http-port`);
  return { address, http, https };
}

/**
 * --service-lb-address: an IP, or none; default the node's InternalIP (the first non-internal
 * IPv4 address, as the Node reports it), none without a kubelet (no proxy answers there)
 */
export function serviceLbAddress(flag: string | undefined, withKubelet: boolean, addresses = hostAddresses): string | undefined {
  if (flag === 'none') return undefined;
  if (flag !== undefined) {
    if (!isIP(flag) || flag === '0.0.0.0' || flag === '::') throw new Error(`--service-lb-address ${JSON.stringify(flag)}: want an IP address of this host, or none`);
    return flag;
  }
  return withKubelet ? addresses()[0] : undefined;
}

/** --service-cluster-ip-range and --service-node-port-range, checked before anything starts */
function serviceFlags(flags: Map<string, string>): ServiceAllocatorOptions {
  const clusterIPRange = flags.get('service-cluster-ip-range') ?? DEFAULT_SERVICE_CLUSTER_IP_RANGE;
  const nodePortRange = flags.get('service-node-port-range') ?? DEFAULT_SERVICE_NODE_PORT_RANGE;
  try {
    new ServiceAllocators({ clusterIPRange, nodePortRange });
  } catch (e) {
    throw new Error(`--service-cluster-ip-range ${clusterIPRange} / --service-node-port-range ${nodePortRange}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { clusterIPRange, nodePortRange };
}

/** where podbay's cluster DNS listens on the bridge gateway (the kube-dns Service's target port) */
export const CLUSTER_DNS_PORT = 53;

export interface ClusterFlags {
  domain: string;
  /** the `kubernetes` Service's cluster IP: the first of the range */
  kubernetesIP: string;
  /** the kube-dns Service's cluster IP; undefined: --cluster-dns none */
  dnsIP?: string;
  upstreams: Upstream[];
  /** the pod bridge's address (the first IP of --pod-cidr, the CNI bridge plugin's gateway) */
  gateway: string;
  advertiseAddress?: string;
}

/** --cluster-domain, --cluster-dns, --cluster-dns-upstream and --advertise-address, checked before anything starts */
export function clusterFlags(flags: Map<string, string>, ctx: { serviceRange: string; podCidr: string; withKubelet: boolean; listenHost: string }, hostResolvConf = () => readFileSync('/etc/resolv.conf', 'utf8')): ClusterFlags {
  const range = new IpRange(ctx.serviceRange);
  const domain = (flags.get('cluster-domain') ?? 'cluster.local').toLowerCase().replace(/\.$/, '');
  if (domain.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(domain)) {
    throw new Error(`--cluster-domain ${JSON.stringify(flags.get('cluster-domain'))}: want a DNS name such as cluster.local`);
  }
  const dnsFlag = flags.get('cluster-dns') ?? range.nth(9);
  let dnsIP: string | undefined;
  if (dnsFlag !== 'none') {
    if (!range.contains(dnsFlag) || dnsFlag === range.first()) {
      throw new Error(`--cluster-dns ${JSON.stringify(dnsFlag)}: want an IP of the service range ${range.cidr} other than ${range.first()} (the kubernetes Service's), or none`);
    }
    dnsIP = dnsFlag;
  }
  const upstreamFlag = flags.get('cluster-dns-upstream');
  let upstreams: Upstream[];
  if (upstreamFlag !== undefined) upstreams = parseUpstreams(upstreamFlag);
  else {
    let text = '';
    try {
      text = hostResolvConf();
    } catch {
      // no resolv.conf: nothing to forward to
    }
    // podbay runs on the host: its loopback resolvers (127.0.0.53) are reachable from here
    upstreams = parseResolvConf(text).servers.filter((h) => isIP(h)).map((host) => ({ host, port: 53 }));
  }
  const gateway = new IpRange(ctx.podCidr).first();
  let advertiseAddress = flags.get('advertise-address');
  if (advertiseAddress !== undefined) {
    if (!isIP(advertiseAddress)) throw new Error(`--advertise-address ${JSON.stringify(advertiseAddress)}: want an IP address`);
    if (/^127\./.test(advertiseAddress) || advertiseAddress === '::1' || advertiseAddress === '0.0.0.0' || advertiseAddress === '::') {
      throw new Error(`--advertise-address ${advertiseAddress}: pods cannot reach this host's loopback or a wildcard address; give an address of this host, e.g. the bridge gateway ${gateway}`);
    }
  } else if (ctx.withKubelet) advertiseAddress = gateway;
  else if (isIP(ctx.listenHost) && !/^127\./.test(ctx.listenHost) && !['::1', '0.0.0.0', '::'].includes(ctx.listenHost)) advertiseAddress = ctx.listenHost;
  return { domain, kubernetesIP: range.first(), dnsIP, upstreams, gateway, advertiseAddress };
}

/**
 * One server per cgroup root. At start the runtime removes pod cgroups under its root that none
 * of its sandboxes own (a crash's leftovers): under a root another server shares, those are that
 * server's pods, some half-way through being made. So the root is locked like the data dir, by a
 * lock file under /run/podbay (a tmpfs: nothing outlives a reboot; the file is never removed,
 * see owner-lock.ts).
 */
export function lockCgroupRoot(root: string, lockBase = '/run/podbay/cgroup-roots'): DirLock {
  const dir = join(lockBase, encodeURIComponent(root));
  try {
    return lockDir(dir, 'cgroup root lock');
  } catch (e) {
    if (!(e instanceof DirLockedError)) throw e;
    throw new Error(`--cgroup-root ${root} is in use by another podbay server (${e.pid ? `PID ${e.pid}` : 'PID unknown'}): give this one a --cgroup-root of its own`);
  }
}
