/**
 * The network room's contract: a pod's network namespace and its CNI attachment.
 *
 *   setUp:    netns pinned at RUN/netns/<sandboxId>, its lo up  ->  CNI ADD of podbay's own
 *             config list (bridge + host-local IPAM for eth0), then the pod's hostPorts
 *             (podbay's own nat rules, ./hostport-manager.ts)
 *             The ADD result and the exact config/runtimeConfig are cached under RUN/cni/, so
 *             DEL can be replayed identically later, even by a restarted podbay.
 *   tearDown: CNI DEL (in reverse order), unpin and delete the netns, drop the cache entry.
 *             Idempotent: tolerates any partial state (as after a crash mid-setUp).
 *
 * A failed setUp rolls back everything it did before rethrowing.
 */

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

export interface PodNetworkRequest {
  sandboxId: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  portMappings: PortMapping[];
  /**
   * Work to do in the new namespace while CNI attaches it (the runtime starts the pause
   * container here): it runs once the netns exists, concurrently with CNI ADD, and setUp
   * resolves only when both are done. If either fails, setUp rolls back its own part and
   * rethrows; the caller undoes what its callback made.
   */
  whileAttaching?: (netnsPath: string) => Promise<void>;
}

export interface NetworkAttachment {
  sandboxId: string;
  /** e.g. /run/podbay-xyz/netns/<sandboxId> */
  netnsPath: string;
  /** pod IPs, IPv4 first */
  ips: string[];
  gateway?: string;
  interfaceName: string;
}

export interface NetworkSettings {
  /** where netns pins and the CNI cache live */
  runDir: string;
  /** podbay's own CNI config dir (the generated config list is written there) */
  confDir: string;
  /** CNI plugin binaries (Debian: /usr/lib/cni) */
  binDirs: string[];
  /** network name in the CNI config, also the IPAM data dir's key */
  networkName: string;
  bridge: string;
  /** e.g. 10.88.0.0/16 */
  podCidr: string;
  /**
   * the whole pod network of the cluster, every node's podCIDR within it (e.g. 10.42.0.0/16):
   * pod-to-pod traffic to another node keeps its source (not masqueraded). Default podCidr.
   */
  clusterCidr?: string;
  /**
   * Optional: more plugin objects chained after bridge in the config list (e.g. `tuning` or
   * `bandwidth`), each `{type, ...}`; they get `name`, `cniVersion` and `prevResult` like the
   * others. Default: none.
   */
  extraPlugins?: { type: string; [key: string]: unknown }[];
}

export interface PodNetwork {
  setUp(req: PodNetworkRequest): Promise<NetworkAttachment>;
  tearDown(sandboxId: string): Promise<void>;
  /** the attachment recorded for a sandbox, if its netns still exists */
  status(sandboxId: string): Promise<NetworkAttachment | undefined>;
  /** sandbox ids with a netns or a CNI cache entry (for garbage collection) */
  list(): Promise<string[]>;
  /** remove the bridge and IPAM state when the last pod is gone (used by tests and shutdown) */
  destroy(): Promise<void>;
}
