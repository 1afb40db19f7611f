/**
 * Pure builders for OCI runtime specs (config.json): the pause container and app containers.
 * No I/O here: everything the builders need (pause pid, file paths, /etc/passwd content) is
 * passed in, so they are unit-testable without root. The shapes follow what containerd and
 * CRI-O give a Kubernetes container by default.
 */
import type { ContainerConfig, DNSConfig, SandboxDNS, VolumeMount } from './types.js';
import { runtimeDefaultSeccomp, type OciSeccomp } from './seccomp.js';
import type { OciDevice } from './devices.js';
import type { Mount } from '../image/types.js';

// ---- OCI spec types (the subset podbay writes) ------------------------------------------------

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciNamespace {
  type: 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'user' | 'cgroup';
  path?: string;
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: OciCapabilities;
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
    apparmorProfile?: string;
    selinuxLabel?: string;
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    namespaces: OciNamespace[];
    maskedPaths?: string[];
    readonlyPaths?: string[];
    resources?: { devices: { allow: boolean; access: string; type?: string; major?: number; minor?: number }[] };
    cgroupsPath?: string;
    seccomp?: OciSeccomp;
    rootfsPropagation?: string;
    devices?: OciDevice[];
    sysctl?: Record<string, string>;
  };
}

// ---- defaults -------------------------------------------------------------------------------

/** containerd's and CRI-O's default capability set for Kubernetes containers */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** every capability Linux 5.x/6.x knows (privileged containers get them all) */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats',
  '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Kubernetes capability name ("NET_ADMIN", "CAP_NET_ADMIN", "ALL") -> OCI name. */
export function capName(name: string): string {
  const n = name.trim().toUpperCase();
  return n.startsWith('CAP_') ? n : `CAP_${n}`;
}

/**
 * The default set with drops applied first, then adds (as containerd: drop ALL then add X works).
 * `host` is the bounding set podbay itself has (a privileged container or "add ALL" gets exactly
 * that: a capability outside it cannot be granted, and runc would fail asking for it). Unknown
 * names are refused with containerd's words; a known one outside the host's set is refused too.
 */
export function effectiveCapabilities(capAdd: readonly string[] = [], capDrop: readonly string[] = [], privileged = false, host: readonly string[] = ALL_CAPABILITIES): string[] {
  if (privileged) return [...host];
  let caps = [...DEFAULT_CAPABILITIES].filter((c) => host.includes(c));
  const drops = capDrop.map(capName);
  for (const d of drops) if (d !== 'CAP_ALL' && !ALL_CAPABILITIES.includes(d)) throw new Error(`unknown capability to drop: ${JSON.stringify(d)}`);
  if (drops.includes('CAP_ALL')) caps = [];
  else caps = caps.filter((c) => !drops.includes(c));
  const adds = capAdd.map(capName);
  if (adds.includes('CAP_ALL')) return [...host];
  for (const a of adds) {
    if (!ALL_CAPABILITIES.includes(a)) throw new Error(`unknown capability to add: ${JSON.stringify(a)}`);
    if (!host.includes(a)) throw new Error(`capability ${a} cannot be added: this node's bounding set lacks it, so no container on it can have it`);
    if (!caps.includes(a)) caps.push(a);
  }
  return caps;
}

/** the capability names set in a /proc/<pid>/status mask such as CapBnd (hex; bit n = capability n) */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim() || '0'}`);
  return ALL_CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

function capabilities(caps: readonly string[]): OciCapabilities {
  return { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] };
}

// ---- users ----------------------------------------------------------------------------------

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

interface PasswdEntry { name: string; uid: number; gid: number }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(content: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of content.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, uid, gid });
  }
  return out;
}

export function parseGroup(content: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of content.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean) });
  }
  return out;
}

const isNumeric = (s: string) => /^[0-9]+$/.test(s);

/**
 * "uid[:gid]", "name[:group]" (or mixes) -> numeric ids, as runc/containerd resolve them:
 * names via the image's /etc/passwd and /etc/group (their content is passed in); a user without
 * a group gets the primary gid from passwd (0 when the uid is not listed); supplementary groups
 * are the groups listing the user's name.
 */
export function resolveUser(user: string | undefined, passwd = '', group = ''): ResolvedUser {
  const spec = (user ?? '').trim();
  if (!spec) return { uid: 0, gid: 0, additionalGids: [] };
  const [u, g] = spec.split(':', 2) as [string, string | undefined];
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  let uid: number;
  let name: string | undefined;
  let gid: number | undefined;
  if (isNumeric(u)) {
    uid = Number(u);
    const e = users.find((x) => x.uid === uid);
    name = e?.name;
    gid = e?.gid ?? 0;
  } else {
    const e = users.find((x) => x.name === u);
    if (!e) throw new Error(`unable to find user ${u}: no matching entries in passwd file`);
    uid = e.uid;
    name = e.name;
    gid = e.gid;
  }
  if (g !== undefined && g !== '') {
    if (isNumeric(g)) gid = Number(g);
    else {
      const e = groups.find((x) => x.name === g);
      if (!e) throw new Error(`unable to find group ${g}: no matching entries in group file`);
      gid = e.gid;
    }
  }
  const additionalGids = name ? groups.filter((x) => x.members.includes(name!) && x.gid !== gid).map((x) => x.gid) : [];
  return { uid, gid: gid ?? 0, additionalGids };
}

/**
 * The process's supplementary groups, as containerd gives them: the groups the image's
 * /etc/group lists the user in (unless the pod's supplementalGroupsPolicy is Strict), then the
 * pod's supplementalGroups and fsGroup (the kubelet passes both), without duplicates.
 */
export function supplementaryGroups(user: ResolvedUser, sec: { supplementalGroups?: readonly number[]; supplementalGroupsPolicy?: 'Merge' | 'Strict' }): number[] {
  const out: number[] = [];
  const fromImage = sec.supplementalGroupsPolicy === 'Strict' ? [] : user.additionalGids;
  for (const g of [...fromImage, ...(sec.supplementalGroups ?? [])]) if (!out.includes(g)) out.push(g);
  return out;
}

// ---- per-pod files --------------------------------------------------------------------------

/**
 * /etc/hosts for a pod, as the kubelet's managedHostsFileContent writes it: localhost lines,
 * the pod IPs with `hostname.domain<TAB>hostname` (or the hostname alone without a subdomain),
 * then the hostAliases, one line per IP.
 */
export function hostsFile(hostname: string, ips: readonly string[], domain = '', aliases: SandboxDNS['hostAliases'] = []): string {
  let s = '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
  s += 'fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n';
  for (const ip of ips) s += domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`;
  return s + hostAliasEntries(aliases);
}

/** nodeHostsFileContent: a hostNetwork pod's /etc/hosts is the node's, marked, plus the hostAliases */
export function nodeHostsFile(nodeHosts: string, aliases: SandboxDNS['hostAliases']): string {
  return '# Kubernetes-managed hosts file (host network).\n' + nodeHosts + hostAliasEntries(aliases);
}

/** hostsEntriesFromHostAliases */
function hostAliasEntries(aliases: SandboxDNS['hostAliases']): string {
  if (!aliases.length) return '';
  let s = '\n# Entries added by HostAliases.\n';
  for (const a of aliases) s += `${a.ip}\t${a.hostnames.join('\t')}\n`;
  return s;
}

/** resolv.conf from a CRI DNSConfig, as containerd writes it: search, nameservers, options. */
export function resolvConfOf(dns: DNSConfig): string {
  let s = '';
  if (dns.searches.length) s += `search ${dns.searches.join(' ')}\n`;
  for (const ns of dns.servers) s += `nameserver ${ns}\n`;
  if (dns.options.length) s += `options ${dns.options.join(' ')}\n`;
  return s;
}

/**
 * The pod's resolv.conf: the host's, unchanged for hostNetwork pods. Other pods live in their
 * own network namespace where a loopback nameserver (systemd-resolved's 127.0.0.53, a local
 * dnsmasq) answers nothing, so those lines are dropped, as the kubelet does; no nameserver is
 * ever added.
 */
export function podResolvConf(hostContent: string, hostNetwork: boolean): string {
  if (hostNetwork) return hostContent.endsWith('\n') || !hostContent ? hostContent : hostContent + '\n';
  const lines = hostContent.split('\n').filter((l) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(l);
    return !(m && (m[1]!.startsWith('127.') || m[1] === '::1'));
  });
  const s = lines.join('\n').replace(/\n+$/, '');
  return s ? s + '\n' : '';
}

// ---- specs ----------------------------------------------------------------------------------

export interface PodFiles {
  hosts: string;
  hostname: string;
  resolvConf: string;
  /** a directory (a per-pod tmpfs) bound at /dev/shm in every container of the pod */
  shm: string;
}

function baseMounts(opts: { hostNetwork: boolean; shm?: string; privileged?: boolean; sysfsRw?: boolean }): OciMount[] {
  const m: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    opts.shm
      ? { destination: '/dev/shm', type: 'bind', source: opts.shm, options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] }
      : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // sysfs can only be mounted from a network namespace of one's own; host-network containers
    // get the host's /sys bound read-only instead (containerd and podman do the same)
    opts.hostNetwork
      ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev', opts.privileged ? 'rw' : 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', opts.privileged || opts.sysfsRw ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', opts.privileged ? 'rw' : 'ro'] },
  ];
  return m;
}

const DENY_ALL_DEVICES = [{ allow: false, access: 'rwm' }];

export interface PauseSpecOptions {
  /** the pause rootfs (a directory holding the catatonit binary) */
  rootfs: string;
  /** e.g. ["/catatonit", "-P"] */
  args: string[];
  hostname: string;
  /** network namespace to join; undefined for hostNetwork */
  netnsPath?: string;
  hostNetwork: boolean;
  hostIPC: boolean;
  hostPID: boolean;
  shm?: string;
  annotations?: Record<string, string>;
  /** pod sysctls (spec.securityContext.sysctls), set by runc in the pod's namespaces */
  sysctls?: Record<string, string>;
}

/** The pause (sandbox) container: owns the pod's pid/ipc/uts namespaces and joins its netns. */
export function pauseSpec(o: PauseSpecOptions): OciSpec {
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (!o.hostPID) ns.push({ type: 'pid' });
  if (!o.hostIPC) ns.push({ type: 'ipc' });
  // host-network pods share the host's UTS namespace too (their hostname is the node's)
  if (!o.hostNetwork) {
    ns.push({ type: 'uts' });
    if (o.netnsPath) ns.push({ type: 'network', path: o.netnsPath });
    else ns.push({ type: 'network' });
  }
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: [DEFAULT_PATH_ENV],
      cwd: '/',
      capabilities: capabilities([]),
      noNewPrivileges: true,
      // no oomScoreAdj: lowering it needs CAP_SYS_RESOURCE, which root lacks on some hosts
    },
    root: { path: o.rootfs, readonly: true },
    ...(o.hostNetwork ? {} : { hostname: o.hostname }),
    // sysfs rw: the first sysfs mount in a network namespace makes its superblock, read-only
    // for all later mounts if this one were; the pause mounts first, so a privileged container
    // of the pod could never get a writable /sys. Each other mount's 'ro' is per-mount anyway.
    mounts: baseMounts({ hostNetwork: o.hostNetwork, shm: o.hostIPC ? undefined : o.shm, sysfsRw: true }),
    annotations: o.annotations,
    linux: {
      namespaces: ns,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
      resources: { devices: DENY_ALL_DEVICES },
      ...(o.sysctls && Object.keys(o.sysctls).length ? { sysctl: { ...o.sysctls } } : {}),
    },
  };
}

export interface SandboxRef {
  /** pid of the pause process, whose namespaces app containers join */
  pausePid: number;
  hostname: string;
  hostNetwork: boolean;
  hostIPC: boolean;
  hostPID: boolean;
  shareProcessNamespace: boolean;
}

export interface ContainerSpecOptions {
  /** root.path: an empty directory, which runc covers with `imageMounts` in the container's own mount namespace */
  rootfs: string;
  /** the snapshot's mounts (images.prepareSnapshot): the container's root filesystem */
  imageMounts: readonly Mount[];
  cfg: ContainerConfig;
  sandbox: SandboxRef;
  files: PodFiles;
  user: ResolvedUser;
  annotations?: Record<string, string>;
  /** podbay's own bounding set (privileged containers get all of it); default: every capability */
  hostCapabilities?: readonly string[];
  /** the host's devices, given to privileged containers (containerd's WithDevices) */
  hostDevices?: readonly OciDevice[];
  /** pid of a running container whose PID namespace this one joins (ContainerConfig.targetContainerId) */
  targetPid?: number;
}

/**
 * The snapshot's mounts as the first entries of the spec's mounts: runc mounts them on root.path
 * inside the container's new mount namespace, before everything else and before pivot_root, so
 * the overlay never enters the host's mount table (nor its /proc/self/mountinfo, which every
 * runc process reads) and needs no mount or umount process. `root.readonly` still remounts it
 * read-only. A target "" is the root itself ("/"); a bind gets the bind flag runc needs.
 */
export function imageRootMounts(mounts: readonly Mount[]): OciMount[] {
  return mounts.map((m) => {
    const destination = '/' + (m.target ?? '').replace(/^\/+/, '');
    if (m.type !== 'bind') return { destination, type: m.type, source: m.source, options: [...m.options] };
    const bind = m.options.some((o) => o === 'bind' || o === 'rbind');
    return { destination, type: 'bind', source: m.source, options: bind ? [...m.options] : ['bind', ...m.options] };
  });
}

/** Volume mounts as rbinds (read-only when asked), after the defaults so they win. */
const PROPAGATION_OPTION = { None: 'rprivate', HostToContainer: 'rslave', Bidirectional: 'rshared' } as const;

export function volumeMounts(mounts: readonly VolumeMount[]): OciMount[] {
  return mounts.map((v) => ({
    destination: v.containerPath,
    type: 'bind',
    source: v.hostPath,
    options: ['rbind', PROPAGATION_OPTION[v.propagation ?? 'None'], v.readOnly ? 'ro' : 'rw'],
  }));
}

/**
 * The container's rootfs propagation, as containerd sets it: rshared with any Bidirectional
 * mount, rslave with any HostToContainer one (else runc's default, private).
 */
export function rootfsPropagation(mounts: readonly VolumeMount[]): 'rshared' | 'rslave' | undefined {
  if (mounts.some((m) => m.propagation === 'Bidirectional')) return 'rshared';
  if (mounts.some((m) => m.propagation === 'HostToContainer')) return 'rslave';
  return undefined;
}

/**
 * containerd's ensureShared / ensureSharedOrSlave: a propagating mount needs a source whose
 * host mount propagates. `optional` are the mountinfo optional fields of the mount the source
 * lies on. Returns the error message, or undefined when it may be mounted.
 */
export function propagationProblem(m: VolumeMount, mountPoint: string, optional: readonly string[]): string | undefined {
  const shared = optional.some((o) => o.startsWith('shared:'));
  const slave = optional.some((o) => o.startsWith('master:'));
  if (m.propagation === 'Bidirectional' && !shared) return `path ${JSON.stringify(m.hostPath)} is mounted on ${JSON.stringify(mountPoint)} but it is not a shared mount`;
  if (m.propagation === 'HostToContainer' && !shared && !slave) return `path ${JSON.stringify(m.hostPath)} is mounted on ${JSON.stringify(mountPoint)} but it is not a shared or slave mount`;
  return undefined;
}

/** An app container: joins the pause's net/ipc/uts (and pid when shared), with its own mount ns. */
export function containerSpec(o: ContainerSpecOptions): OciSpec {
  const { cfg, sandbox: s } = o;
  const p = s.pausePid;
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (!s.hostNetwork) {
    ns.push({ type: 'network', path: `/proc/${p}/ns/net` });
    ns.push({ type: 'uts', path: `/proc/${p}/ns/uts` });
  }
  if (!s.hostIPC) ns.push({ type: 'ipc', path: `/proc/${p}/ns/ipc` });
  // a shared pod PID namespace wins over a target, as the kubelet only targets in container mode
  if (!s.hostPID) {
    const pidOf = s.shareProcessNamespace ? p : o.targetPid;
    ns.push(pidOf ? { type: 'pid', path: `/proc/${pidOf}/ns/pid` } : { type: 'pid' });
  }

  const privileged = !!cfg.privileged;
  const caps = effectiveCapabilities(cfg.capAdd, cfg.capDrop, privileged, o.hostCapabilities);
  const sec = cfg.security ?? {};
  // containerd: a privileged container is unconfined by seccomp whatever the pod says
  const seccomp = privileged || !sec.seccomp || sec.seccomp.type === 'Unconfined' ? undefined
    : sec.seccomp.type === 'RuntimeDefault' ? runtimeDefaultSeccomp(caps) : sec.seccomp.profile;
  const additionalGids = supplementaryGroups(o.user, sec);
  const env = [...cfg.env];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH_ENV);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${s.hostname}`);

  const fileOpt = cfg.readOnlyRootfs ? 'ro' : 'rw';
  const podFiles: OciMount[] = [
    { destination: '/etc/hosts', type: 'bind', source: o.files.hosts, options: ['rbind', 'rprivate', fileOpt] },
    { destination: '/etc/hostname', type: 'bind', source: o.files.hostname, options: ['rbind', 'rprivate', fileOpt] },
    { destination: '/etc/resolv.conf', type: 'bind', source: o.files.resolvConf, options: ['rbind', 'rprivate', fileOpt] },
  ];
  const vols = volumeMounts(cfg.mounts);
  const propagation = rootfsPropagation(cfg.mounts);
  const taken = new Set(vols.map((v) => v.destination));
  const mounts = [
    ...baseMounts({ hostNetwork: s.hostNetwork, shm: s.hostIPC ? '/dev/shm' : o.files.shm, privileged }),
    ...podFiles,
  ].filter((m) => !taken.has(m.destination));

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: Boolean(cfg.tty),
      user: { uid: o.user.uid, gid: o.user.gid, ...(additionalGids.length ? { additionalGids } : {}) },
      args: cfg.argv,
      env,
      cwd: cfg.workingDir || '/',
      capabilities: capabilities(caps),
      noNewPrivileges: !!sec.noNewPrivileges,
      ...(sec.appArmorProfile && !privileged ? { apparmorProfile: sec.appArmorProfile } : {}),
    },
    root: { path: o.rootfs, readonly: !!cfg.readOnlyRootfs },
    mounts: [...imageRootMounts(o.imageMounts), ...mounts, ...vols],
    annotations: o.annotations,
    linux: {
      namespaces: ns,
      ...(privileged ? {} : { maskedPaths: [...DEFAULT_MASKED_PATHS], readonlyPaths: [...DEFAULT_READONLY_PATHS] }),
      resources: { devices: privileged ? [{ allow: true, access: 'rwm' }] : DENY_ALL_DEVICES },
      ...(privileged && o.hostDevices?.length ? { devices: [...o.hostDevices] } : {}),
      ...(seccomp ? { seccomp } : {}),
      ...(propagation ? { rootfsPropagation: propagation } : {}),
    },
  };
}
