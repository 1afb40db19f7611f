/**
 * Host ports a pod must not take. A hostPort is served by a DNAT rule in front of the
 * host's own sockets, so a hostPort that a host process (or podbay's own API server) already
 * listens on would silently steal that service's traffic. Before binding a pod (the binder)
 * and again right before its sandbox is attached (the network room, since a host process may
 * have started listening in between), podbay asks this guard which requested hostPorts
 * collide with:
 *   - a reserved port: podbay's API server (passed in by the composition root), and
 *   - a socket of the host network namespace: a TCP socket in LISTEN state or any bound UDP
 *     socket, as `ss` lists them (netlink sock_diag, iproute2's tool; /proc/net/{tcp,tcp6,udp,udp6}
 *     where ss is missing). Not /proc/net/tcp first: to print it the kernel walks its whole
 *     established-connection hash, whose size follows the RAM: 4.8 ms of kernel time per read
 *     on this 24 GiB VM with two sockets open, tcp and tcp6 each, twice per hostPort pod (the
 *     binder, the network room). Asked for listeners only, the kernel walks the listening table
 *     alone: one `ss` costs 1.8 ms of CPU here, whatever the host's connections.
 * Addresses are respected: a listener on 0.0.0.0 or :: collides with every hostIP; a hostPort
 * with hostIP X collides with listeners on X or on the wildcard; a hostPort without hostIP
 * (its DNAT then matches every local address) collides with any listener on that port.
 * The holding process (socket inode -> /proc/PID/fd/N -> `socket:[inode]`) is looked up only
 * when there is a collision, to name it in the message a user sees.
 * SCTP is not checked: /proc/net/sctp exists only with the sctp module loaded.
 */
import { endianness } from 'node:os';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { sharedNextRead } from '../sys/shared-read.js';
import { run, which } from '../sys/exec.js';

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** A socket of the host network namespace that holds a port. */
export interface HostListener {
  protocol: 'tcp' | 'udp';
  /** normalized: IPv4 dotted (also for ::ffff:a.b.c.d), IPv6 compressed, wildcards '0.0.0.0' and '::' */
  address: string;
  port: number;
  inode: number;
}

/** A port podbay itself serves (the API server), named in the message. */
export interface ReservedPort {
  protocol: Protocol;
  /** the address it is bound to ('0.0.0.0' or '::' for all) */
  address: string;
  port: number;
  /** e.g. "the podbay API server's port" */
  what: string;
}

/** A hostPort a pod asks for (protocol lower-case, as in PortMapping). */
export interface WantedPort {
  hostPort: number;
  protocol: Protocol;
  hostIP?: string;
}

export interface HostProcess {
  pid: number;
  comm: string;
}

export interface HostPortConflict {
  wanted: WantedPort;
  reserved?: ReservedPort;
  listener?: HostListener;
  holder?: HostProcess;
}

/** Thrown by the network room when a sandbox's hostPort is taken on the host. */
export class HostPortConflictError extends Error {
  constructor(readonly conflicts: HostPortConflict[]) {
    super(conflicts.map(describeConflict).join('; '));
    this.name = 'HostPortConflictError';
  }
}

const TCP_LISTEN = '0A';

function hexToIPv4(hex: string, littleEndian: boolean): string {
  const bytes = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return (littleEndian ? bytes.reverse() : bytes).join('.');
}

/** The kernel prints an IPv6 address as four host-order 32-bit words. */
function hexToIPv6(hex: string, littleEndian: boolean): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = [0, 2, 4, 6].map((i) => parseInt(hex.slice(w * 8 + i, w * 8 + i + 2), 16));
    bytes.push(...(littleEndian ? word.reverse() : word));
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressIPv6(groups);
}

function compressIPv6(groups: string[]): string {
  // the longest run of zero groups (length >= 2) becomes '::'
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * Parse /proc/net/{tcp,tcp6,udp,udp6}: TCP sockets in LISTEN state and UDP sockets bound to
 * a port. `littleEndian` is the host's byte order (the kernel prints addresses in it).
 */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp', family: 4 | 6, littleEndian = endianness() === 'LE'): HostListener[] {
  const out: HostListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addrHex, portHex] = f[1]!.split(':');
    if (!addrHex || !portHex) continue;
    const port = parseInt(portHex, 16);
    if (!port) continue;
    if (protocol === 'tcp' && f[3] !== TCP_LISTEN) continue;
    const address = family === 4 ? hexToIPv4(addrHex, littleEndian) : hexToIPv6(addrHex, littleEndian);
    out.push({ protocol, address, port, inode: Number(f[9]) });
  }
  return out;
}

function normalizeIP(ip: string | undefined): string {
  if (!ip) return '0.0.0.0';
  const lower = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1]!;
  if (lower.includes(':')) {
    // expand, then compress, so '0:0::1' and '::1' compare equal
    const [head, tail] = lower.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return compressIPv6(groups.map((g) => parseInt(g || '0', 16).toString(16)));
  }
  return lower;
}

const isWildcard = (ip: string) => ip === '0.0.0.0' || ip === '::';

/** Whether a socket bound to `bound` receives traffic a hostPort on `hostIP` would DNAT. */
export function addressesOverlap(hostIP: string | undefined, bound: string): boolean {
  const want = normalizeIP(hostIP);
  const have = normalizeIP(bound);
  return isWildcard(want) || isWildcard(have) || want === have;
}

/** The pure matching: which wanted hostPorts collide with a reserved port or a host socket. */
export function matchConflicts(wanted: readonly WantedPort[], reserved: readonly ReservedPort[], listeners: readonly HostListener[]): HostPortConflict[] {
  const out: HostPortConflict[] = [];
  for (const w of wanted) {
    const r = reserved.find((r) => r.protocol === w.protocol && r.port === w.hostPort && addressesOverlap(w.hostIP, r.address));
    if (r) {
      out.push({ wanted: w, reserved: r });
      continue;
    }
    const l = listeners.find((l) => l.protocol === w.protocol && l.port === w.hostPort && addressesOverlap(w.hostIP, l.address));
    if (l) out.push({ wanted: w, listener: l });
  }
  return out;
}

const hostPortName = (w: WantedPort) => `hostPort ${w.hostPort}/${w.protocol.toUpperCase()}${w.hostIP && !isWildcard(normalizeIP(w.hostIP)) ? ` (hostIP ${w.hostIP})` : ''}`;
const endpoint = (l: HostListener) => (l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`);
/** comm is chosen by the process: keep it printable and short in a message */
const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);

/**
 * What a user reads, e.g. `hostPort 6443/TCP is the podbay API server's port` or
 * `hostPort 19721/TCP is held by a host process: sshd (pid 123) listening on 127.0.0.1:19721`.
 */
export function describeConflict(c: HostPortConflict): string {
  const name = hostPortName(c.wanted);
  if (c.reserved) return `${name} is ${c.reserved.what}`;
  const l = c.listener!;
  const how = l.protocol === 'tcp' ? 'listening on' : 'bound to';
  if (c.holder) return `${name} is held by a host process: ${printable(c.holder.comm)} (pid ${c.holder.pid}) ${how} ${endpoint(l)}`;
  return `${name} is held by a host socket ${how} ${endpoint(l)}`;
}

const PROC_NET: readonly { file: string; protocol: 'tcp' | 'udp'; family: 4 | 6 }[] = [
  { file: 'tcp', protocol: 'tcp', family: 4 },
  { file: 'tcp6', protocol: 'tcp', family: 6 },
  { file: 'udp', protocol: 'udp', family: 4 },
  { file: 'udp6', protocol: 'udp', family: 6 },
];

/**
 * Parse `ss -H -n -e -t -l` (TCP listeners) or `ss -H -n -e -u -a` (every UDP socket) output:
 * `State Recv-Q Send-Q Local:Port Peer:Port ... ino:N ...`. The local address is IPv4 dotted,
 * `[IPv6]`, `*` (the wildcard of a dual-stack socket), each maybe with `%device` (bound to one).
 */
export function parseSs(text: string, protocol: 'tcp' | 'udp'): HostListener[] {
  const out: HostListener[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    if (protocol === 'tcp' && f[0] !== 'LISTEN') continue;
    const local = f[3]!;
    const colon = local.lastIndexOf(':');
    const port = Number(local.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port) || port <= 0) continue;
    let address = local.slice(0, colon).replace(/%[^\]]*$/, '');
    if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
    if (address === '*') address = '::';
    const ino = /\bino:(\d+)/.exec(line);
    out.push({ protocol, address: normalizeIP(address), port, inode: ino ? Number(ino[1]) : 0 });
  }
  return out;
}

/** The sockets holding ports in this process's network namespace, from `ss` (see the top). */
export async function readHostListenersSs(ss: string, protocols: readonly ('tcp' | 'udp')[] = ['tcp', 'udp']): Promise<HostListener[]> {
  const parts = await Promise.all(
    protocols.map(async (p) => parseSs((await run(ss, ['-H', '-n', '-e', p === 'tcp' ? '-t' : '-u', p === 'tcp' ? '-l' : '-a'], { timeoutMs: 10_000 })).stdout, p)),
  );
  return parts.flat();
}

/** The sockets holding ports in podbay's network namespace (the host's), from /proc/net. */
export async function readHostListeners(procNet = '/proc/self/net', protocols: readonly ('tcp' | 'udp')[] = ['tcp', 'udp']): Promise<HostListener[]> {
  const files = PROC_NET.filter((p) => protocols.includes(p.protocol));
  const parts = await Promise.all(
    files.map(async (p) => {
      try {
        return parseProcNet(await readFile(`${procNet}/${p.file}`, 'utf8'), p.protocol, p.family);
      } catch (e) {
        // no IPv6 in this kernel: no tcp6/udp6 files
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
    }),
  );
  return parts.flat();
}

/**
 * The processes holding these socket inodes: every /proc/PID/fd/N whose link reads
 * `socket:[inode]`. The links are the kernel's (not files a container made); readlink only.
 */
export async function findSocketHolders(inodes: ReadonlySet<number>, proc = '/proc'): Promise<Map<number, HostProcess>> {
  const found = new Map<number, HostProcess>();
  if (!inodes.size) return found;
  const pids = (await readdir(proc)).filter((d) => /^\d+$/.test(d));
  for (const pid of pids) {
    if (found.size === inodes.size) break;
    let fds: string[];
    try {
      fds = await readdir(`${proc}/${pid}/fd`);
    } catch {
      continue; // gone, or a kernel thread
    }
    const links = await Promise.all(fds.map((fd) => readlink(`${proc}/${pid}/fd/${fd}`).catch(() => '')));
    for (const link of links) {
      const m = /^socket:\[(\d+)\]$/.exec(link);
      const inode = m ? Number(m[1]) : 0;
      if (!inodes.has(inode) || found.has(inode)) continue;
      const comm = (await readFile(`${proc}/${pid}/comm`, 'utf8').catch(() => '?')).trim();
      found.set(inode, { pid: Number(pid), comm });
    }
  }
  return found;
}

/** The guard both the binder and the network room ask; the composition root reserves ports. */
export class HostPortGuard {
  private readonly reserved: ReservedPort[] = [];
  /**
   * holders already found, by socket inode, kept while the socket exists: the binder asks
   * again on every pass while a pod waits, and a /proc/PID/fd scan is the costly part
   */
  private readonly holders = new Map<number, HostProcess>();

  /**
   * the host's sockets, per protocol set: one read shared by the callers that ask meanwhile (in
   * a burst of hostPort pods the binder and the network room ask for every pod); from `ss`, or
   * from the /proc/net files under `paths.procNet` when given (tests) or when ss is missing
   */
  private readonly reads = new Map<string, () => Promise<HostListener[]>>();

  constructor(private readonly paths: { procNet?: string; proc?: string } = {}) {}

  private listeners(protocols: ('tcp' | 'udp')[]): Promise<HostListener[]> {
    const key = [...protocols].sort().join(',');
    let read = this.reads.get(key);
    if (!read) {
      const ss = this.paths.procNet ? undefined : which('ss');
      read = sharedNextRead(() => (ss ? readHostListenersSs(ss, protocols) : readHostListeners(this.paths.procNet, protocols)));
      this.reads.set(key, read);
    }
    return read();
  }

  /** podbay's own ports (the API server's, once it listens) */
  reserve(r: ReservedPort): void {
    this.reserved.push(r);
  }

  async conflicts(wanted: readonly WantedPort[]): Promise<HostPortConflict[]> {
    if (!wanted.length) return [];
    const protocols = [...new Set(wanted.map((w) => w.protocol).filter((p): p is 'tcp' | 'udp' => p !== 'sctp'))];
    const listeners = protocols.length ? await this.listeners(protocols) : [];
    const found = matchConflicts(wanted, this.reserved, listeners);
    const live = new Set(listeners.map((l) => l.inode));
    for (const inode of this.holders.keys()) if (!live.has(inode)) this.holders.delete(inode);
    const unknown = new Set(found.flatMap((c) => (c.listener?.inode && !this.holders.has(c.listener.inode) ? [c.listener.inode] : [])));
    if (unknown.size) for (const [inode, holder] of await findSocketHolders(unknown, this.paths.proc)) this.holders.set(inode, holder);
    for (const c of found) if (c.listener) c.holder = this.holders.get(c.listener.inode);
    return found;
  }

  /** Throws HostPortConflictError naming every collision. */
  async assertFree(wanted: readonly WantedPort[]): Promise<void> {
    const found = await this.conflicts(wanted);
    if (found.length) throw new HostPortConflictError(found);
  }
}
