/**
 * `podbay agent`: another node joining a `podbay server`, as a kubelet joins with kubeadm's
 * TLS bootstrap. The composition root of a node without the control plane:
 *
 *   1. trust: the server's CA from --ca-file, or pinned by --ca-cert-hash (the CA the server
 *      sends after its serving certificate must hash to it: kubeadm's discovery hash)
 *   2. credential: with the bootstrap --token, a CertificateSigningRequest for
 *      CN=system:node:NAME, O=system:nodes (signer kube-apiserver-client-kubelet); the server
 *      approves and signs it; the key and certificate go to DIR/pki/, a kubeconfig to
 *      DIR/kubelet.kubeconfig. Later starts reuse them while they are valid for 1 more day.
 *   3. the Node (spec.podCIDR from --pod-cidr, daemonEndpoints the --kubelet-port), its status
 *      and its Lease kept current
 *   4. a serving certificate for the kubelet server: a CSR for CN=system:node:NAME,
 *      O=system:nodes with SANs its --node-ip and name (signer kubelet-serving), made with the
 *      node's own credential; the server approves it when the names are the Node's own
 *   5. the kubelet for this node (src/cli/node-stack.ts) through the HTTPS client, the host-gw
 *      routes to the other nodes' pods, the service proxy (kube-proxy's part), so Services,
 *      the cluster DNS's among them, answer from this node's pods too, and the kubelet's
 *      server on --node-ip:--kubelet-port (src/apiserver/kubelet-server.ts) for the API
 *      server's logs, exec, attach and port-forward
 *
 *   DIR/pki/kubelet-client.key|crt  the node's credential   0600 / 0644
 *   DIR/pki/kubelet-server.key|crt  its serving certificate 0600 / 0644
 *   DIR/kubelet.kubeconfig          the same, for kubectl    0600
 *   DIR/images, DIR/pods, DIR/logs  as the server's;  RUN/ the runtime's state
 */
import { whenStopRequested } from './stop-signal.js';
import { existsSync, mkdirSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { parseArgs } from './args.js';
import { HttpsClient } from '../client/https.js';
import { resourceInfo } from '../api/registry.js';
import { csrCondition, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, NODE_USER_PREFIX, NODES_GROUP } from '../api/csr.js';
import { KubeletServer } from '../apiserver/kubelet-server.js';
import { DEFAULT_KUBELET_PORT } from '../apiserver/kubelet-relay.js';
import { kubeletClient } from '../kubelet/client.js';
import { caCertHash, makeCertificateRequest } from '../apiserver/pki.js';
import { NodeHeartbeat, NODE_HEARTBEAT_MS, hostAddresses, nodeName } from '../kubelet/node.js';
import { logRotationFlags } from '../kubelet/log-rotation.js';
import { HostPortGuard } from '../network/host-ports.js';
import { checkHostTools } from '../runtime/runtime.js';
import { lockDir, type DirLock } from '../sys/owner-lock.js';
import { mountRunDir, releaseRunDir } from '../sys/run-dir.js';
import { StartUndo } from './start-undo.js';
import { buildNodeStack } from './node-stack.js';
import { NODE_FLAGS, nodeFlags } from './multinode-flags.js';
import { Proxier } from '../proxy/proxier.js';
import { tagFor } from '../proxy/rules.js';
import { DEFAULT_CGROUP_ROOT, DEFAULT_POD_PIDS_LIMIT } from './defaults.js';

const CSRS = resourceInfo('certificatesigningrequests', 'certificates.k8s.io')!;
const PODS = resourceInfo('pods')!;
const DAY = 86_400_000;
/** how long a join waits for its certificate before giving up (kubeadm waits 5 minutes for the TLS bootstrap) */
const CSR_WAIT_MS = 300_000;

const HELP = `Usage: podbay agent --server https://HOST:PORT --token TOKEN (--ca-cert-hash sha256:HEX | --ca-file FILE) [flags]

Joins a podbay server as another node: asks for a node certificate with the bootstrap token
(podbay token create on the server), registers the Node and runs its pods.

Flags:
  --server URL[,URL...]   the API server (podbay token create --print-join-command prints it); with
                          several servers on one etcd, all of them: when one stops answering
                          (refused, or no answer in time) the agent's watches and writes go to the next
  --token ID.SECRET       a bootstrap token; needed only until the node has its certificate
  --ca-cert-hash sha256:H the server's CA, pinned by the hash of its public key (kubeadm's)
  --ca-file FILE          or the server's CA certificate itself (PEM)
  --node-name NAME        this node's name (default the hostname)
  --node-ip IP            its InternalIP (default the first non-loopback IPv4 address)
  --data-dir DIR          credentials, images, pod volumes, logs (default /var/lib/podbay-agent)
  --run-dir DIR           runtime state (default /run/podbay-agent; an empty one on a disk gets
                          a tmpfs of its own, as /run is one)
  --cni-bridge NAME       the bridge this node's pods attach to (default podbay0)
  --pod-cidr CIDR         this node's pod range, its spec.podCIDR (required)
  --kubelet-port N        the kubelet server's port on --node-ip (default ${DEFAULT_KUBELET_PORT}): the API
                          server reaches this node's pods' logs, exec, attach and port-forward there
  --cluster-cidr CIDR     the cluster's pod network, every node's range in it (the server's
                          --cluster-cidr; default --pod-cidr): pod-to-pod traffic to other
                          nodes keeps its source; other nodes' ranges are routed via their
                          InternalIP when they share this node's link (host-gw)
  --service-cluster-ip-range CIDR  the server's: the proxy refuses what no Service holds in it
  --cluster-dns IP        the kube-dns Service's cluster IP ClusterFirst pods use (the server's
                          --cluster-dns, by default the tenth IP of the service range); none:
                          pods get this host's resolv.conf
  --cluster-domain DOMAIN the cluster's DNS zone (default cluster.local)
  --node-lease-duration-seconds N  the node Lease's duration, renewed every N/4 s (default 40)
  --cgroup-root PATH      the node's cgroup (default ${DEFAULT_CGROUP_ROOT})
  --pod-pids-limit N, --runtime PATH, --cni-bin-dir DIR, --registries FILE, --allowed-unsafe-sysctls L,
  --container-log-max-size Q, --container-log-max-files N: as podbay server's
`;

const KNOWN = ['help', 'server', 'token', 'ca-cert-hash', 'ca-file', 'node-name', 'node-ip', 'data-dir', 'run-dir', 'cni-bridge', 'pod-cidr', 'kubelet-port', 'cgroup-root', 'pod-pids-limit', 'runtime', 'cni-bin-dir', 'cni-conf-dir', 'registries', 'disable-default-registry-endpoint', 'images-import-dir', 'allowed-unsafe-sysctls', 'container-log-max-size', 'container-log-max-files', 'container-log-monitor-interval', ...NODE_FLAGS, 'service-cluster-ip-range', 'cluster-dns', 'cluster-domain'];

/**
 * The server's CA, pinned by hash: the TLS handshake is made without trusting anything, the CA
 * certificate the server sends after its own must hash to `hash` and must have signed the
 * serving certificate. Only then is anything (the token) sent.
 */
export async function discoverCa(server: URL, hash: string): Promise<string> {
  const chain = await new Promise<tls.DetailedPeerCertificate>((resolve, reject) => {
    const sock = tls.connect({ host: server.hostname.replace(/^\[|\]$/g, ''), port: Number(server.port || 443), rejectUnauthorized: false, servername: undefined }, () => {
      const c = sock.getPeerCertificate(true);
      sock.end();
      resolve(c);
    });
    sock.setTimeout(10_000, () => sock.destroy(new Error('no TLS handshake in 10 s')));
    sock.on('error', reject);
  });
  const leaf = new X509Certificate(chain.raw);
  const seen = new Set<string>();
  for (let c: tls.DetailedPeerCertificate | undefined = chain; c && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    const pem = new X509Certificate(c.raw).toString();
    if (caCertHash(pem) !== hash.toLowerCase()) continue;
    const ca = new X509Certificate(c.raw);
    if (!ca.ca || !leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw new Error(`the certificate matching --ca-cert-hash did not sign the server's certificate`);
    return pem;
  }
  throw new Error(`the server at ${server.origin} sent no CA certificate matching --ca-cert-hash ${hash} (is it the right server?)`);
}

/** --server URL[,URL...]: each https://HOST:PORT, as origins */
export function parseServers(flag: string): string[] {
  const out: string[] = [];
  for (const raw of flag.split(',').map((x) => x.trim()).filter(Boolean)) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new Error(`--server ${JSON.stringify(raw)}: want https://HOST:PORT`);
    }
    if (u.protocol !== 'https:') throw new Error(`--server ${raw}: want https://HOST:PORT`);
    if (!out.includes(u.origin)) out.push(u.origin);
  }
  if (!out.length) throw new Error('--server https://HOST:PORT is required (the podbay server to join)');
  return out;
}

/** the CA pinned by hash, from the first server that answers (every server of a cluster has the same CA) */
async function discoverCaOnAny(servers: string[], hash: string): Promise<string> {
  const errors: string[] = [];
  for (const s of servers) {
    try {
      return await discoverCa(new URL(s), hash);
    } catch (e) {
      errors.push(`${s}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no server gave a CA matching --ca-cert-hash: ${errors.join('; ')}`);
}

/** a stored credential DIR/BASE.crt|key good for at least one more day, signed by `caPem`, naming every one of `sans` */
function usableCredential(dir: string, caPem: string, base = 'kubelet-client', sans: string[] = []): { certPem: string; keyPem: string } | undefined {
  const certPath = join(dir, `${base}.crt`);
  const keyPath = join(dir, `${base}.key`);
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  try {
    const certPem = readFileSync(certPath, 'utf8');
    const c = new X509Certificate(certPem);
    if (!c.checkIssued(new X509Certificate(caPem)) || Date.parse(c.validTo) - Date.now() < DAY) return undefined;
    const have = (c.subjectAltName ?? '').split(/,\s*/).map((x) => x.replace(/^(DNS|IP Address):/, ''));
    if (!sans.every((n) => have.includes(n))) return undefined;
    return { certPem, keyPem: readFileSync(keyPath, 'utf8') };
  } catch {
    return undefined;
  }
}

/** What a certificate is asked for: the subject, its SANs, the signer and usages (the CSR's). */
interface CertificateAsk {
  subject: string;
  sans?: string[];
  signerName: string;
  usages: string[];
  /** the CSR's name prefix (node-csr-: kubeadm's) */
  prefix: string;
}

/** A CSR through `client`, then the certificate the server issues (or why not). */
async function requestCertificate(client: HttpsClient, ask: CertificateAsk, log: (l: string) => void): Promise<{ certPem: string; keyPem: string }> {
  const { keyPem, requestPem } = await makeCertificateRequest(ask.subject, ask.sans);
  const csrs = client.resource(CSRS);
  const name = `${ask.prefix}${randomBytes(8).toString('hex')}`;
  await csrs.create(undefined, {
    metadata: { name },
    spec: { request: Buffer.from(requestPem).toString('base64'), signerName: ask.signerName, usages: ask.usages },
  });
  log(`podbay agent: asked for a certificate from ${ask.signerName} (CertificateSigningRequest ${name})`);
  const deadline = Date.now() + CSR_WAIT_MS;
  for (;;) {
    const csr = await csrs.get(undefined, name);
    const refused = csrCondition(csr, 'Denied') ?? csrCondition(csr, 'Failed');
    if (refused) throw new Error(`CertificateSigningRequest ${name} was ${refused.type}: ${refused.reason ?? ''} ${refused.message ?? ''}`.trim());
    if (csr.status?.certificate) return { certPem: Buffer.from(csr.status.certificate, 'base64').toString('utf8'), keyPem };
    if (Date.now() > deadline) throw new Error(`CertificateSigningRequest ${name} was not signed in ${CSR_WAIT_MS / 1000} s (approve it: kubectl certificate approve ${name})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** TLS bootstrap: a CSR made with the bootstrap token, then the certificate the server issues. */
async function requestCredential(servers: string[], caPem: string, token: string, node: string, log: (l: string) => void): Promise<{ certPem: string; keyPem: string }> {
  const client = new HttpsClient({ server: servers[0], servers, caPem, token });
  try {
    return await requestCertificate(client, { subject: `CN=${NODE_USER_PREFIX}${node},O=${NODES_GROUP}`, signerName: KUBELET_CLIENT_SIGNER, usages: ['digital signature', 'client auth'], prefix: 'node-csr-' }, log);
  } finally {
    client.close();
  }
}

function kubeconfigFor(server: string, caPem: string, certPem: string, keyPem: string, node: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: podbay
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(caPem)}
users:
- name: system:node:${node}
  user:
    client-certificate-data: ${b64(certPem)}
    client-key-data: ${b64(keyPem)}
contexts:
- name: podbay
  context:
    cluster: podbay
    user: system:node:${node}
current-context: podbay
`;
}

/** `podbay agent`; a start that fails before it has joined undoes what it did (start-undo.ts) */
export async function runAgent(argv: string[]): Promise<number> {
  return StartUndo.around((undo) => serveAgent(argv, undo), (line) => process.stderr.write(`${line}\n`));
}

async function serveAgent(argv: string[], undo: StartUndo): Promise<number> {
  const p = parseArgs(argv, ['help', 'disable-default-registry-endpoint'], KNOWN, 'agent');
  if (p.flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (p.positionals.length) throw new Error(`podbay agent takes no arguments (got ${p.positionals.join(' ')})`);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const serverFlag = p.flags.get('server');
  if (!serverFlag) throw new Error('--server https://HOST:PORT is required (the podbay server to join)');
  // HA: every server of the cluster, tried in turn when one stops answering (https.ts)
  const servers = parseServers(serverFlag);
  const serverUrl = servers[0];
  const hash = p.flags.get('ca-cert-hash');
  const caFile = p.flags.get('ca-file');
  if (!hash && !caFile) throw new Error('give --ca-cert-hash sha256:HEX (podbay token create --print-join-command prints it) or --ca-file FILE: the agent trusts no server blindly');
  if (hash && !/^sha256:[0-9a-fA-F]{64}$/.test(hash)) throw new Error(`--ca-cert-hash ${JSON.stringify(hash)}: want sha256: and 64 hex digits`);
  const node = (p.flags.get('node-name') ?? nodeName()).toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(node)) throw new Error(`--node-name ${JSON.stringify(node)}: want a DNS subdomain`);
  const podCidr = p.flags.get('pod-cidr');
  if (!podCidr || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(podCidr)) throw new Error(`--pod-cidr: want this node's IPv4 pod range, e.g. 10.42.1.0/24 (got ${JSON.stringify(podCidr)})`);
  const bridge = p.flags.get('cni-bridge') ?? 'podbay0';
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new Error(`--cni-bridge ${JSON.stringify(bridge)}: a Linux interface name has 1-15 letters, digits, '-', '_' or '.'`);
  const multi = nodeFlags(p.flags, podCidr);
  const serviceCidr = p.flags.get('service-cluster-ip-range');
  if (serviceCidr !== undefined && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(serviceCidr)) throw new Error(`--service-cluster-ip-range ${JSON.stringify(serviceCidr)}: want the server's IPv4 service range, e.g. 10.43.0.0/16`);
  const clusterDNS = p.flags.get('cluster-dns');
  if (clusterDNS !== undefined && clusterDNS !== 'none' && !/^\d+\.\d+\.\d+\.\d+$/.test(clusterDNS)) throw new Error(`--cluster-dns ${JSON.stringify(clusterDNS)}: want the kube-dns Service's IPv4 cluster IP, or none`);
  const clusterDomain = (p.flags.get('cluster-domain') ?? 'cluster.local').replace(/\.$/, '');
  const nodeIP = multi.nodeIP ?? hostAddresses()[0];
  if (!nodeIP) throw new Error('this host has no non-loopback address: give --node-ip');
  const kubeletPortFlag = p.flags.get('kubelet-port');
  const kubeletPort = kubeletPortFlag === undefined ? DEFAULT_KUBELET_PORT : Number(kubeletPortFlag);
  if (!Number.isInteger(kubeletPort) || kubeletPort < 1 || kubeletPort > 65535) throw new Error(`--kubelet-port ${JSON.stringify(kubeletPortFlag)}: want a port number, 1-65535`);
  const dataDir = p.flags.get('data-dir') ?? '/var/lib/podbay-agent';
  const runDir = p.flags.get('run-dir') ?? '/run/podbay-agent';
  const logRotation = logRotationFlags(p.flags);
  const pidsFlag = p.flags.get('pod-pids-limit');
  const podPidsLimit = pidsFlag === undefined ? DEFAULT_POD_PIDS_LIMIT : Number(pidsFlag);
  if (!Number.isInteger(podPidsLimit) || (podPidsLimit < 1 && podPidsLimit !== -1)) throw new Error(`--pod-pids-limit ${JSON.stringify(pidsFlag)}: want a positive whole number, or -1 for unlimited`);
  if (process.getuid?.() !== 0) throw new Error('running pods needs root (network namespaces, mounts, runc): run podbay agent as root');
  const missing = checkHostTools({ runtimePath: p.flags.get('runtime'), cniBinDirs: [p.flags.get('cni-bin-dir') ?? '/usr/lib/cni', '/opt/cni/bin'] });
  if (missing.length) throw new Error(`missing host tools: ${missing.map((m) => `${m.tool} (install the Debian package ${m.package})`).join(', ')}`);

  const caPem = caFile ? readFileSync(caFile, 'utf8') : await discoverCaOnAny(servers, hash!);
  if (caFile && hash && caCertHash(caPem) !== hash.toLowerCase()) throw new Error(`--ca-file ${caFile} does not hash to --ca-cert-hash ${hash}`);

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const locks: DirLock[] = [lockDir(dataDir, 'data dir')];
  undo.push('the locks', () => locks.forEach((l) => l.release()));
  // a failed start takes the run dir's tmpfs off again only if it mounted it, and only when the
  // runtime (if it got that far) left nothing running in it
  let idle = true;
  if (await mountRunDir(runDir, log)) undo.last('the run dir', () => releaseRunDir(runDir, idle, log));
  locks.push(lockDir(runDir, 'run dir'));
  const pki = join(dataDir, 'pki');
  mkdirSync(pki, { recursive: true, mode: 0o700 });
  let cred = usableCredential(pki, caPem);
  if (!cred) {
    const token = p.flags.get('token');
    if (!token) throw new Error(`no valid node certificate in ${pki}: give --token (podbay token create on the server) to get one`);
    cred = await requestCredential(servers, caPem, token, node, log);
    writeFileSync(join(pki, 'kubelet-client.key'), cred.keyPem, { mode: 0o600 });
    writeFileSync(join(pki, 'kubelet-client.crt'), cred.certPem, { mode: 0o644 });
    writeFileSync(join(dataDir, 'kubelet.kubeconfig'), kubeconfigFor(serverUrl, caPem, cred.certPem, cred.keyPem, node), { mode: 0o600 });
    log(`podbay agent: node certificate for system:node:${node} written to ${pki}`);
  }
  const client = new HttpsClient({ server: serverUrl, servers, caPem, certPem: cred.certPem, keyPem: cred.keyPem });
  undo.push('the API client', () => client.close());
  const heartbeat = new NodeHeartbeat(client, log, NODE_HEARTBEAT_MS, { name: node, addresses: [nodeIP], podCIDR: podCidr, kubeletPort }, multi.leaseDurationSeconds);
  await heartbeat.start();
  undo.push('the node heartbeat', () => heartbeat.stop());
  // the kubelet server's certificate, asked for with the node's own credential once its Node (and addresses) exist
  const servingSans = [nodeIP, node];
  let serving = usableCredential(pki, caPem, 'kubelet-server', servingSans);
  if (!serving) {
    serving = await requestCertificate(client, { subject: `CN=${NODE_USER_PREFIX}${node},O=${NODES_GROUP}`, sans: servingSans, signerName: KUBELET_SERVING_SIGNER, usages: ['digital signature', 'key encipherment', 'server auth'], prefix: 'csr-' }, log);
    writeFileSync(join(pki, 'kubelet-server.key'), serving.keyPem, { mode: 0o600 });
    writeFileSync(join(pki, 'kubelet-server.crt'), serving.certPem, { mode: 0o644 });
  }
  const stack = await buildNodeStack({
    client,
    nodeName: node,
    hostIP: nodeIP,
    dataDir,
    runDir,
    bridge,
    podCidr,
    clusterCidr: multi.clusterCidr,
    cgroupRoot: p.flags.get('cgroup-root') ?? DEFAULT_CGROUP_ROOT,
    flags: p.flags,
    hostPorts: new HostPortGuard(),
    logRotation,
    podPidsLimit,
    // the cluster DNS answers on the server; this node's pods reach it through the kube-dns
    // Service (this node's proxy) and the routes between nodes
    clusterDNS: clusterDNS && clusterDNS !== 'none' ? [clusterDNS] : [],
    clusterDomain,
    log,
  });
  undo.push('the runtime', async () => {
    idle = await stack.runtime.shutdown(log);
  });
  await stack.runtime.sweep(log);
  // Services from this node: kube-proxy's part, with the node's own credential
  const proxier = new Proxier(client, { clusterCIDR: multi.clusterCidr, serviceCIDR: serviceCidr, tag: tagFor(bridge), nodeName: node, log });
  undo.push('the service proxy', () => proxier.stop());
  await proxier.start();
  undo.push('the routes to other nodes', () => stack.routes.stop());
  await stack.routes.start();
  undo.push('the kubelet', () => stack.kubelet.stop());
  await stack.kubelet.start();
  const pods = kubeletClient(client);
  const kubeletServer = new KubeletServer({ nodeName: node, host: nodeIP, port: kubeletPort, certPem: serving.certPem, keyPem: serving.keyPem, clientCaPem: caPem, node: stack.streams, getPod: (ns, name) => pods.getPod(ns, name), listPods: async () => (await client.resource(PODS).list(undefined, { fieldSelector: `spec.nodeName=${node}` })).items, log });
  await kubeletServer.listen();
  undo.done();
  log(`podbay agent: node ${node} (${nodeIP}, pods ${podCidr}, kubelet server on port ${kubeletPort}) joined ${serverUrl}`);

  await whenStopRequested();
  heartbeat.stop();
  await kubeletServer.close();
  await stack.kubelet.stop();
  await stack.routes.stop();
  await proxier.stop();
  idle = await stack.runtime.shutdown(log);
  client.close();
  for (const l of locks.reverse()) l.release();
  await releaseRunDir(runDir, idle, log);
  return 0;
}
