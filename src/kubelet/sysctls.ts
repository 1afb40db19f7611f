/**
 * Pod sysctls as the kubelet admits them (pkg/kubelet/sysctl): the safe set plus the node's
 * --allowed-unsafe-sysctls (names or "prefix*" patterns), each known to be namespaced; a pod
 * asking for anything else, or for a net.* sysctl with hostNetwork (an IPC one with hostIPC),
 * is rejected with reason SysctlForbidden. Pure.
 */

export const FORBIDDEN_REASON = 'SysctlForbidden';

/** the kubelet's safe sysctls (pkg/kubelet/sysctl/safe_sysctls.go; all namespaced on kernels >= 4.15) */
export const SAFE_SYSCTLS: readonly string[] = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
];

type Namespace = 'ipc' | 'net';

/** NamespacedBy: which namespace isolates a sysctl, or undefined when it is node-wide */
export function namespacedBy(name: string): Namespace | undefined {
  if (name === 'kernel.sem') return 'ipc';
  for (const p of ['kernel.shm', 'kernel.msg', 'fs.mqueue.']) if (name.startsWith(p)) return 'ipc';
  if (name.startsWith('net.')) return 'net';
  return undefined;
}

/**
 * ConvertSysctlVariableToDotsSeparator: "net/ipv4/conf/eth0.100/rp_filter" ->
 * "net.ipv4.conf.eth0/100.rp_filter" (a name with '/' as separator swaps '.' and '/').
 */
export function normalizeSysctl(name: string): string {
  if (!name) return name;
  const firstSep = name.search(/[./]/);
  if (firstSep < 0 || name[firstSep] === '.') return name;
  return name.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

const SEG = '[a-z0-9]([-_a-z0-9]*[a-z0-9])?';
/** a name, "prefix*" ("kernel.msg*") or "segments.*" ("net.ipv4.*"), dots or slashes as separators */
const PATTERN_RE = new RegExp(`^((${SEG}[./])*${SEG}\\*?|(${SEG}[./])+\\*)$`);

export class SysctlAllowlist {
  private readonly names = new Map<string, Namespace>();
  private readonly prefixes = new Map<string, Namespace>();

  /** the safe set plus `unsafe` patterns; throws on a pattern that is malformed or not namespaced (the kubelet refuses to start) */
  constructor(unsafe: readonly string[] = []) {
    for (const raw of [...SAFE_SYSCTLS, ...unsafe]) {
      if (raw.length > 253 || !PATTERN_RE.test(raw)) {
        throw new Error(`sysctl ${JSON.stringify(raw)} must have at most 253 characters and match regex ${PATTERN_RE.source}`);
      }
      const s = normalizeSysctl(raw);
      if (s.endsWith('*')) {
        const prefix = s.slice(0, -1);
        const ns = namespacedBy(prefix);
        if (!ns) throw new Error(`the sysctls ${JSON.stringify(s)} are not known to be namespaced`);
        this.prefixes.set(prefix, ns);
      } else {
        const ns = namespacedBy(s);
        if (!ns) throw new Error(`the sysctl ${JSON.stringify(s)} are not known to be namespaced`);
        this.names.set(s, ns);
      }
    }
  }

  /** validateSysctl: undefined when allowed, else the kubelet's reason text */
  check(name: string, hostNetwork: boolean, hostIPC: boolean): string | undefined {
    const s = normalizeSysctl(name);
    let ns = this.names.get(s);
    if (!ns) for (const [p, n] of this.prefixes) if (s.startsWith(p)) ns = n;
    if (!ns) return `${JSON.stringify(s)} not allowlisted`;
    if (ns === 'ipc' && hostIPC) return `${JSON.stringify(s)} not allowed with host ipc enabled`;
    if (ns === 'net' && hostNetwork) return `${JSON.stringify(s)} not allowed with host net enabled`;
    return undefined;
  }
}

/** The pod's sysctls for the runtime (dotted names), or the admission failure message. */
export function podSysctls(pod: Record<string, any>, allow: SysctlAllowlist): { sysctls: Record<string, string> } | { message: string } {
  const sysctls: Record<string, string> = {};
  for (const s of (pod.spec.securityContext?.sysctls ?? []) as { name: string; value: string }[]) {
    const why = allow.check(s.name, !!pod.spec.hostNetwork, !!pod.spec.hostIPC);
    if (why) return { message: `forbidden sysctl: ${why}` };
    sysctls[normalizeSysctl(s.name)] = String(s.value ?? '');
  }
  return { sysctls };
}
