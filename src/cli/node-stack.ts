/**
 * The parts that run pods on a node, wired the same way for `podbay server` (its own node,
 * in-process client) and `podbay agent` (another node, HTTPS client): image store and puller,
 * CNI bridge network, cgroups, the runc runtime and the kubelet, and the host-gw routes to the
 * other nodes' pods (src/network/node-routes.ts; the caller starts and stops them).
 */
import { join } from 'node:path';
import type { Client } from '../client/types.js';
import { Kubelet } from '../kubelet/kubelet.js';
import type { LogRotationPolicy } from '../kubelet/log-rotation.js';
import { LocalImageService } from '../image/store.js';
import { ImagePuller } from '../image/pull.js';
import { loadRegistries } from '../image/registries.js';
import { importAirgapImages } from '../image/airgap.js';
import { CniPodNetwork } from '../network/pod-network.js';
import type { HostPortGuard } from '../network/host-ports.js';
import type { PodNetwork } from '../network/types.js';
import { RuncRuntime } from '../runtime/runtime.js';
import { PodCgroups } from '../runtime/cgroups.js';
import { nodeAllocatable } from '../kubelet/node.js';
import { execInPod } from '../kubelet/exec.js';
import { portForwardToPod } from '../kubelet/portforward.js';
import { attachToPod } from '../kubelet/attach.js';
import type { NodeBackend } from '../apiserver/node-streams.js';
import { NodeRoutes } from '../proxy/node-routes.js';

export interface NodeStackOptions {
  client: Client;
  nodeName: string;
  hostIP: string;
  dataDir: string;
  runDir: string;
  bridge: string;
  podCidr: string;
  /** the cluster's pod network (--cluster-cidr); default podCidr */
  clusterCidr?: string;
  cgroupRoot: string;
  flags: Map<string, string>;
  hostPorts: HostPortGuard;
  logRotation: LogRotationPolicy;
  podPidsLimit: number;
  clusterDNS: string[];
  clusterDomain: string;
  /** after each pod's network is up (the bridge then exists): what waits for the gateway */
  afterNetworkUp?: () => Promise<void>;
  log: (line: string) => void;
}

export interface NodeStack {
  images: LocalImageService;
  cgroups: PodCgroups;
  runtime: RuncRuntime;
  kubelet: Kubelet;
  /** the node's side of pods/log, exec, attach and port-forward (served in-process or by the kubelet server) */
  streams: Required<Pick<NodeBackend, 'containerLogs' | 'exec' | 'attach' | 'portForward'>>;
  /** routes to the other nodes' pods: started after the Node is registered, stopped at shutdown */
  routes: NodeRoutes;
}

export async function buildNodeStack(o: NodeStackOptions): Promise<NodeStack> {
  const { flags, dataDir } = o;
  const images = new LocalImageService(join(dataDir, 'images'));
  const registriesFile = flags.get('registries');
  const registries = await loadRegistries(registriesFile ?? join(dataDir, 'registries.yaml'), registriesFile !== undefined);
  const puller = new ImagePuller(images, { registries: () => registries, disableDefaultEndpoint: flags.has('disable-default-registry-endpoint') });
  // the offline path: archives dropped in the import dir are loaded before any pod starts
  await importAirgapImages(images, flags.get('images-import-dir') ?? join(dataDir, 'agent', 'images'), o.log);
  const cni = new CniPodNetwork(
    {
      runDir: join(o.runDir, 'net'),
      confDir: flags.get('cni-conf-dir') ?? join(dataDir, 'cni'),
      binDirs: [flags.get('cni-bin-dir') ?? '/usr/lib/cni', '/opt/cni/bin'],
      networkName: `podbay-${o.bridge}`,
      bridge: o.bridge,
      podCidr: o.podCidr,
      clusterCidr: o.clusterCidr ?? o.podCidr,
    },
    { hostPorts: o.hostPorts },
  );
  const after = o.afterNetworkUp;
  const network: PodNetwork = {
    setUp: async (req) => {
      const a = await cni.setUp(req);
      await after?.();
      return a;
    },
    tearDown: (id) => cni.tearDown(id),
    status: (id) => cni.status(id),
    list: () => cni.list(),
    destroy: () => cni.destroy(),
  };
  const cgroups = PodCgroups.detect(o.cgroupRoot, nodeAllocatable());
  const runtime = new RuncRuntime({ runDir: o.runDir, dataDir, runtimePath: flags.get('runtime'), images, network, cgroups });
  const kubelet = new Kubelet({
    client: o.client,
    runtime,
    images,
    puller,
    nodeName: o.nodeName,
    hostIP: o.hostIP,
    podsDir: join(dataDir, 'pods'),
    logsDir: join(dataDir, 'logs'),
    logRotation: o.logRotation,
    seccompDir: join(dataDir, 'seccomp'),
    allowedUnsafeSysctls: (flags.get('allowed-unsafe-sysctls') ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    podPidsLimit: o.podPidsLimit,
    clusterDNS: o.clusterDNS,
    clusterDomain: o.clusterDomain,
    log: o.log,
  });
  const streams: NodeStack['streams'] = {
    containerLogs: (...args) => kubelet.containerLogs(...args),
    exec: (pod, container, argv, tty) => execInPod(runtime, pod, container, argv, tty),
    portForward: (pod) => portForwardToPod(runtime, pod),
    attach: (pod, container, stdin) => attachToPod(runtime, pod, container, stdin),
  };
  const routes = new NodeRoutes(o.client, { nodeName: o.nodeName, podCidr: o.podCidr, clusterCidr: o.clusterCidr ?? o.podCidr, log: o.log });
  return { images, cgroups, runtime, kubelet, streams, routes };
}
