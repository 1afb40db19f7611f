/**
 * The runtime room's contract, shaped after the CRI (sandbox and container verbs). The
 * implementation runs runc under conmon; the kubelet is its only caller.
 *
 * Sandbox lifecycle:
 *
 *   (none) --runPodSandbox--> ready --stopPodSandbox--> notready --removePodSandbox--> (none)
 *            netns + CNI ADD          pause killed,                 pause deleted, CNI DEL,
 *            + pause (catatonit -P)   containers stopped            netns, dirs removed
 *
 * Container lifecycle:
 *
 *   (none) --create--> created --start--> running --(exit | stop)--> exited --remove--> (none)
 *
 * Every verb is idempotent for the same id (a retried runPodSandbox for the same pod UID and
 * attempt returns the existing sandbox). State lives on disk under the run and data dirs, so a
 * restarted podbay finds what is running (listPodSandboxes/listContainers) and adopts it.
 */
import type { ChildProcess } from 'node:child_process';
import type { PortMapping } from '../network/types.js';
import type { OciSeccomp } from './seccomp.js';

export interface SandboxConfig {
  podName: string;
  podNamespace: string;
  podUid: string;
  /** increments when the kubelet must recreate a sandbox for the same pod */
  attempt: number;
  hostname: string;
  hostNetwork: boolean;
  hostIPC: boolean;
  hostPID: boolean;
  shareProcessNamespace: boolean;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** the pod's sysctls (already admitted by the kubelet), set in the pod's namespaces */
  sysctls?: Record<string, string>;
  /** the pod's cgroup (CRI's LinuxPodSandboxConfig cgroup_parent + resources); see cgroups.ts */
  cgroup?: PodCgroupConfig;
  /**
   * what the pod's /etc/hosts and /etc/resolv.conf say (the kubelet's pod-dns.ts decides it);
   * absent: `hostname` alone and the host's resolv.conf minus loopback nameservers
   */
  dns?: SandboxDNS;
}

/** CRI's DNSConfig: the lines of the pod's resolv.conf */
export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface SandboxDNS {
  /** the short hostname /etc/hosts maps the pod IPs to (`hostname` may be the FQDN) */
  hostname: string;
  /** <subdomain>.<namespace>.svc.<clusterDomain>, or '' */
  domain: string;
  /** spec.hostAliases, appended to /etc/hosts */
  hostAliases: { ip: string; hostnames: string[] }[];
  resolv: DNSConfig;
}

// ---- resources (cgroups) ---------------------------------------------------------------------

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/**
 * The pod-level cgroup, as the kubelet's pod container manager shapes it: placed by QoS class
 * (ROOT/kubepods/pod<uid> for Guaranteed, ROOT/kubepods/{burstable,besteffort}/pod<uid>
 * otherwise) and limited by the sum of its containers' resources. The pause container and every
 * app container get a child cgroup of it.
 */
export interface PodCgroupConfig {
  qosClass: QOSClass;
  resources: PodCgroupResources;
}

/** Limits written on the pod-level cgroup; an absent field means unlimited. */
export interface PodCgroupResources {
  /** cpu.shares (v1); weight on v2 is derived from it */
  cpuShares: number;
  /** CFS quota and period in microseconds */
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryLimitBytes?: number;
  /** pids.max of the whole pod */
  pidsLimit?: number;
}

/** CRI's LinuxContainerResources, the part podbay applies to a container's own cgroup. */
export interface ContainerResources {
  cpuShares: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryLimitBytes?: number;
}

export type SandboxState = 'ready' | 'notready';

export interface SandboxStatus {
  id: string;
  config: SandboxConfig;
  state: SandboxState;
  /** pid of the pause process (0 when not running) */
  pid: number;
  netnsPath?: string;
  ips: string[];
  createdAt: string;
}

export interface VolumeMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
  /** volumeMounts[].mountPropagation (CRI's MountPropagation); absent: None (rprivate) */
  propagation?: MountPropagation;
}

export type MountPropagation = 'None' | 'HostToContainer' | 'Bidirectional';

export interface ContainerConfig {
  name: string;
  /** the reference as written in the pod */
  image: string;
  /** argv after Kubernetes' command/args rules were applied to the image config */
  argv: string[];
  /** KEY=value, image env first then the container's */
  env: string[];
  workingDir?: string;
  /** "uid[:gid]" or a name, from securityContext or the image */
  user?: string;
  mounts: VolumeMount[];
  /** CRI log file (k8s-file format) */
  logPath: string;
  privileged?: boolean;
  readOnlyRootfs?: boolean;
  /** extra capabilities to add / drop (Kubernetes names without CAP_) */
  capAdd?: string[];
  capDrop?: string[];
  /** the rest of the securityContext, merged from pod and container level by the kubelet */
  security?: ContainerSecurity;
  restartCount: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** cgroup limits of the container (inside its pod's cgroup) */
  resources?: ContainerResources;
  /** spec.stdin: the container's stdin stays open for `kubectl attach` (conmon -i) */
  stdin?: boolean;
  /** spec.stdinOnce: stdin is closed when the first attach session ends */
  stdinOnce?: boolean;
  /** spec.tty: the process runs on a terminal (OCI process.terminal, conmon -t) */
  tty?: boolean;
  /**
   * CRI's NamespaceOption target_id (pid mode TARGET): run in this running container's PID
   * namespace, as an ephemeral container with targetContainerName does
   */
  targetContainerId?: string;
}

/** A seccomp profile as the CRI gives it; a Localhost profile was read and parsed by the kubelet. */
export type SeccompProfile = { type: 'Unconfined' } | { type: 'RuntimeDefault' } | { type: 'Localhost'; path: string; profile: OciSeccomp };

export interface ContainerSecurity {
  /** allowPrivilegeEscalation: false */
  noNewPrivileges?: boolean;
  /** undefined: unconfined (the kubelet's default) */
  seccomp?: SeccompProfile;
  /** the pod's supplementalGroups and fsGroup, added to the user's groups */
  supplementalGroups?: number[];
  /** Strict: the image's /etc/group adds no groups */
  supplementalGroupsPolicy?: 'Merge' | 'Strict';
  /** a loaded AppArmor profile's name (Localhost), on hosts with AppArmor */
  appArmorProfile?: string;
}

/** A process a client streams to (exec, attach): its stdio, and what the client may do to it. */
export interface StreamingProcess {
  /** stdin/stdout/stderr are pipes; exits when the session is over */
  child: ChildProcess;
  /** set the terminal size (TTY sessions) */
  resize?(width: number, height: number): void;
  /** the client went away: end the session, including what runs inside the container */
  kill(): void;
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerStatus {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  state: ContainerState;
  pid: number;
  exitCode?: number;
  /** e.g. "Completed", "Error", "OOMKilled" */
  reason?: string;
  message?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** the image ID (config digest) the container was made from */
  imageId: string;
}

/** What a command run inside a container (execSync) did. */
export interface ExecSyncResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** killed after the timeout (exitCode is then -1) */
  timedOut: boolean;
}

export interface Runtime {
  runPodSandbox(cfg: SandboxConfig): Promise<SandboxStatus>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  podSandboxStatus(id: string): Promise<SandboxStatus | undefined>;
  /** every sandbox, or those of one pod (CRI's PodSandboxFilter, by the pod's UID) */
  listPodSandboxes(filter?: { podUid?: string }): Promise<SandboxStatus[]>;

  /**
   * Prepares the rootfs and runs `runc create`. When the runtime refuses the process itself (a
   * missing executable, say), the container is still created in state 'exited' (exitCode 128,
   * reason "StartError", message = runc's words) and startContainer throws that message, as
   * containerd does; failures before that (image, mounts, a stopped sandbox) throw here.
   */
  createContainer(sandboxId: string, cfg: ContainerConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM, wait up to timeoutSeconds, then SIGKILL */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /**
   * podbay is stopping: a stopContainer waiting out a grace period gives up now and throws,
   * leaving the container running (pods outlive podbay; the pod's next sync after a restart
   * kills it again), so shutdown never waits out a pod's grace period.
   */
  interruptWaits(): void;
  removeContainer(id: string): Promise<void>;
  containerStatus(id: string): Promise<ContainerStatus | undefined>;
  listContainers(sandboxId?: string): Promise<ContainerStatus[]>;
  /**
   * Runs argv inside a running container (the container's env, cwd and user), as the CRI's
   * ExecSync: the command's exit code and output; killed after timeoutSeconds. Throws when the
   * container is not running.
   */
  execSync(id: string, argv: string[], timeoutSeconds: number): Promise<ExecSyncResult>;
  /**
   * Starts argv inside a running container with piped stdio (a terminal when `tty`), for a
   * streaming exec (`kubectl exec`); the caller relays the streams and waits for the exit.
   */
  execStream(id: string, argv: string[], tty: boolean): StreamingProcess;
  /**
   * Attaches to a running container's stdio (`kubectl attach`): its output from now on, and
   * its stdin when `stdin` (the container must have been created with stdin).
   */
  attachStream(id: string, stdin: boolean): StreamingProcess;

  /**
   * Makes the container's log writer reopen its log path, as the CRI's ReopenContainerLog: the
   * caller has renamed the file (log rotation) and a fresh one appears under the old name.
   * Throws when the container is not running.
   */
  reopenContainerLog(id: string): Promise<void>;
  /**
   * The directory holding what a container wrote to its root filesystem (its overlay's
   * upperdir, which the image store knows: the overlay itself lives in the container's mount
   * namespace), for local storage accounting; undefined when the container has no snapshot.
   */
  containerWritableLayer?(id: string): Promise<string | undefined>;

  /** called when a container exits (conmon's exit file appears) */
  onContainerExit(listener: (id: string) => void): void;
  close(): Promise<void>;
}
