/**
 * The explain room's contract: what `podbay explain pod` shows about one pod, and what it needs
 * from the node to find it.
 *
 *   PodExplain   the answer, as data (served as JSON at
 *                /apis/podbay.io/v1alpha1/namespaces/NS/podexplains/NAME; the text and SVG
 *                renderers draw it). Every inode, ifindex, rule and PID in it was read from the
 *                live system (/proc, `ip -j` in the pod's netns and on the host, iptables-save),
 *                not copied from podbay's records: the records only say where to look.
 *   PodNodeView  the kubelet/runtime knowledge the collectors start from (pause PID, container
 *                PIDs, the pod's volume dir), passed in by the composition root so this room
 *                imports neither the kubelet nor the runtime.
 */

export const EXPLAIN_API_VERSION = 'podbay.io/v1alpha1';
export const EXPLAIN_KIND = 'PodExplain';

/** The namespace types shown, in column order (the names under /proc/PID/ns). */
export const NS_TYPES = ['net', 'ipc', 'uts', 'pid', 'mnt', 'cgroup', 'user'] as const;
export type NsType = (typeof NS_TYPES)[number];

// ---- what the node tells the collectors ---------------------------------------------------------

export interface SandboxFacts {
  id: string;
  state: 'ready' | 'notready';
  /** the pause process on the host (0 when it is not running) */
  pid: number;
  netnsPath?: string;
  ips: string[];
  hostNetwork: boolean;
  hostIPC: boolean;
  hostPID: boolean;
  shareProcessNamespace: boolean;
}

export interface ContainerFacts {
  id: string;
  name: string;
  state: 'created' | 'running' | 'exited' | 'unknown';
  /** the container's init on the host (0 unless created or running) */
  pid: number;
  mounts: { hostPath: string; containerPath: string; readOnly: boolean }[];
  reason?: string;
  exitCode?: number;
}

/** What the explain collectors ask of the node (the kubelet's and runtime's knowledge). */
export interface PodNodeView {
  /** the bridge pods attach to */
  bridge: string;
  /** the pod's newest sandbox, if any */
  sandboxOf(podUid: string): Promise<SandboxFacts | undefined>;
  containersOf(sandboxId: string): Promise<ContainerFacts[]>;
  /** PODS/<uid>: volumes live under <podDir>/volumes/<plugin>/<name> */
  podDir(podUid: string): string;
}

// ---- the answer -------------------------------------------------------------------------------

export interface NsCell {
  /** the inode of /proc/PID/ns/TYPE (the number in `net:[4026532...]`) */
  inode: number;
  /** the same namespace as the pause process's */
  shared: boolean;
  /** the same namespace as the host's (podbay's own, which runs in the node's namespaces) */
  host: boolean;
}

export interface NsRow {
  /** "pause" for the sandbox, else the container's name */
  name: string;
  role: 'pause' | 'container';
  hostPid: number;
  /** the PID inside the pod's (innermost) pid namespace: NSpid's last field */
  podPid: number;
  ns: Partial<Record<NsType, NsCell>>;
}

export interface NamespacesSection {
  rows: NsRow[];
  /** the host's inodes (podbay's own), to tell "the host's" from "the pod's own" */
  host: Partial<Record<NsType, number>>;
  /** one sentence per way this pod differs from the seed's docker recipe */
  differences: string[];
}

export interface NetInterface {
  name: string;
  ifindex: number;
  kind?: string;
  mac?: string;
  mtu?: number;
  state?: string;
  addresses: string[];
  /** for a veth: the ifindex of its peer (in the other namespace) */
  peerIfindex?: number;
}

export interface Route {
  dst: string;
  via?: string;
  dev?: string;
  src?: string;
}

export interface NatRule {
  table: 'nat';
  chain: string;
  /** as `iptables -t nat -S` prints it: `-A CHAIN ...` */
  rule: string;
}

export interface HostPortView {
  protocol: string;
  hostIP?: string;
  hostPort: number;
  containerPort: number;
  container: string;
}

export interface NetworkSection {
  hostNetwork: boolean;
  /** the netns inode (the host's for a hostNetwork pod) */
  netnsInode?: number;
  podIPs: string[];
  /** the interfaces the pod sees (the host's for a hostNetwork pod) */
  interfaces: NetInterface[];
  veth?: { podIfname: string; podIfindex: number; hostIfname: string; hostIfindex: number; bridge?: string };
  bridge?: { name: string; ifindex: number; addresses: string[] };
  gateway?: string;
  routes: Route[];
  hostPorts: HostPortView[];
  /** every nat rule that sends a hostPort to this pod (and the jumps that lead to them) */
  natRules: NatRule[];
}

export interface ProcNode {
  hostPid: number;
  /** PID inside the pod's pid namespace; undefined for conmon (a host process) */
  podPid?: number;
  /** /proc/PID/comm, sanitised */
  comm: string;
  /** /proc/PID/cmdline joined with spaces, sanitised and cut to a length */
  cmdline: string;
  children: ProcNode[];
}

export interface ProcessTree {
  /** "pause" or the container's name */
  name: string;
  /** conmon -> the container's init (runc init until `runc start` exec'd it) -> its children */
  root?: ProcNode;
}

export interface VolumeMountView {
  container: string;
  mountPath: string;
  readOnly: boolean;
  subPath?: string;
  /** the mount's ro/rw flag as the kernel reports it in the container's /proc/PID/mountinfo */
  kernel?: 'ro' | 'rw';
}

export interface VolumeView {
  name: string;
  type: string;
  /** where it lives on the host */
  hostPath?: string;
  exists: boolean;
  /** configMap/secret: the `..data` link's text and the user-visible keys (read with lstat/readlink) */
  dataLink?: string;
  keys?: string[];
  mounts: VolumeMountView[];
}

export interface ByHandCommand {
  what: string;
  command: string;
}

/** A part of the pod that does not exist (yet), and why. */
export interface MissingPart {
  part: string;
  why: string;
}

export interface PodExplain {
  kind: typeof EXPLAIN_KIND;
  apiVersion: typeof EXPLAIN_API_VERSION;
  metadata: { name: string; namespace: string; uid: string };
  node?: string;
  phase: string;
  hostNetwork: boolean;
  shareProcessNamespace: boolean;
  sandboxId?: string;
  /** parts that do not exist yet (a pod not running), each with its reason */
  missing: MissingPart[];
  /** sentences a reader needs first (hostNetwork, not running) */
  notes: string[];
  namespaces: NamespacesSection;
  network: NetworkSection;
  processes: ProcessTree[];
  volumes: VolumeView[];
  byHand: ByHandCommand[];
  /** the seed tutorial's docker commands that would build an equivalent "pod" */
  dockerRecipe: string[];
}
