/**
 * The collectors: one pod's Linux reality read from the live system. The node view (kubelet,
 * runtime) only says where to look (the pause PID, the container PIDs, the pod dir); what is
 * shown comes from the kernel: /proc/PID/ns links, /proc/PID/status and stat, the container's
 * /proc/PID/mountinfo, `ip -j` inside the pod's netns (/proc/PAUSE/ns/net) and on the host, and
 * `iptables-save -t nat`.
 *
 * Nothing a container wrote is opened: /proc is the kernel's, volume dirs are looked at with
 * lstat/readlink/readdir only (configMap and secret dirs are mounted read-only into the
 * containers; an emptyDir is only lstat'ed), and no link is followed.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../api/errors.js';
import { run } from '../sys/exec.js';
import { parseMountinfo } from '../sys/mountinfo.js';
import { hostPortRules } from './nat-rules.js';
import { byHandCommands, differencesFromDocker, dockerRecipe, printable } from './recipe.js';
import {
  EXPLAIN_API_VERSION,
  EXPLAIN_KIND,
  NS_TYPES,
  type ContainerFacts,
  type MissingPart,
  type NamespacesSection,
  type NetInterface,
  type NetworkSection,
  type NsRow,
  type NsType,
  type PodExplain,
  type PodNodeView,
  type ProcessTree,
  type ProcNode,
  type Route,
  type SandboxFacts,
  type VolumeView,
} from './types.js';

type Obj = Record<string, any>;

/** Explaining reads other users' /proc/PID/ns, enters netns and runs iptables: root only (checked first). */
export function needsRoot(detail: string): ApiError {
  return new ApiError(
    403,
    'Forbidden',
    `podbay explain reads the pod's processes' namespaces (/proc/PID/ns), enters its network namespace and reads iptables: root is needed on the node (${detail})`,
  );
}

function isPermission(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

// ---- /proc ----------------------------------------------------------------------------------

/** `net:[4026531840]` -> 4026531840 */
export function parseNsLink(text: string): number | undefined {
  const m = /^[a-z_]+:\[(\d+)\]$/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * The inodes of /proc/PID/ns/*. Even root may be refused one (a process in another user
 * namespace, a sandboxed PID 1): that cell stays empty and `problems` says so, rather than
 * the whole explanation failing.
 */
export async function nsInodes(pid: number | 'self', problems: string[] = []): Promise<Partial<Record<NsType, number>>> {
  const out: Partial<Record<NsType, number>> = {};
  await Promise.all(
    NS_TYPES.map(async (t) => {
      try {
        const ino = parseNsLink(await fsp.readlink(`/proc/${pid}/ns/${t}`));
        if (ino !== undefined) out[t] = ino;
      } catch (e) {
        if (isPermission(e)) problems.push(`/proc/${pid}/ns/${t} could not be read (${(e as NodeJS.ErrnoException).code})`);
        /* else gone, or this kernel has no such namespace */
      }
    }),
  );
  return out;
}

export interface ProcStatus {
  ppid: number;
  /** NSpid: the PID in each nested pid namespace, outermost first */
  nspid: number[];
}

export function parseProcStatus(text: string): ProcStatus {
  const ppid = Number(/^PPid:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  const nspid = (/^NSpid:\s*(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { ppid, nspid };
}

async function procStatus(pid: number): Promise<ProcStatus | undefined> {
  try {
    return parseProcStatus(await fsp.readFile(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
}

/** `pid (comm) S ppid ...`: comm may hold spaces and parentheses, so split at the last ')' */
export function parseProcStat(text: string): ProcEntry | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  return { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), ppid: Number(rest[1]) };
}

interface ProcTable {
  byPid: Map<number, ProcEntry>;
  children: Map<number, number[]>;
}

async function processTable(): Promise<ProcTable> {
  const pids = (await fsp.readdir('/proc')).filter((d) => /^\d+$/.test(d));
  const byPid = new Map<number, ProcEntry>();
  await Promise.all(
    pids.map(async (d) => {
      try {
        const e = parseProcStat(await fsp.readFile(`/proc/${d}/stat`, 'utf8'));
        if (e) byPid.set(e.pid, e);
      } catch {
        /* exited meanwhile */
      }
    }),
  );
  const children = new Map<number, number[]>();
  for (const e of byPid.values()) children.set(e.ppid, [...(children.get(e.ppid) ?? []), e.pid]);
  for (const list of children.values()) list.sort((a, b) => a - b);
  return { byPid, children };
}

async function cmdlineOf(pid: number): Promise<string> {
  try {
    const raw = await fsp.readFile(`/proc/${pid}/cmdline`);
    const text = printable(raw.subarray(0, 4096).toString('utf8').replace(/\0+$/, '').replace(/\0/g, ' '));
    return text.length > 160 ? text.slice(0, 157) + '...' : text;
  } catch {
    return '';
  }
}

/** A pod may fork thousands of processes: show at most this many per tree (and 6 levels). */
const TREE_BUDGET = 64;

async function procNode(pid: number, t: ProcTable, inPod: boolean, budget: { left: number }, depth = 0): Promise<ProcNode> {
  budget.left--;
  const st = inPod ? await procStatus(pid) : undefined;
  const node: ProcNode = { hostPid: pid, podPid: inPod ? st?.nspid.at(-1) : undefined, comm: printable(t.byPid.get(pid)?.comm ?? ''), cmdline: await cmdlineOf(pid), children: [] };
  if (depth >= 6) return node;
  for (const k of t.children.get(pid) ?? []) {
    if (budget.left <= 0) break;
    node.children.push(await procNode(k, t, true, budget, depth + 1));
  }
  return node;
}

/** conmon (the init's parent) -> the init -> its descendants */
async function processTree(name: string, pid: number, t: ProcTable): Promise<ProcessTree> {
  const entry = pid ? t.byPid.get(pid) : undefined;
  if (!entry) return { name };
  const init = await procNode(pid, t, true, { left: TREE_BUDGET });
  const parent = t.byPid.get(entry.ppid);
  if (!parent || parent.comm !== 'conmon') return { name, root: init };
  return { name, root: { hostPid: parent.pid, comm: 'conmon', cmdline: await cmdlineOf(parent.pid), children: [init] } };
}

// ---- ip and iptables --------------------------------------------------------------------------

async function ipJson(args: string[], netnsOfPid?: number): Promise<Obj[]> {
  const argv = netnsOfPid ? ['nsenter', [`--net=/proc/${netnsOfPid}/ns/net`, 'ip', '-j', ...args]] : ['ip', ['-j', ...args]];
  const r = await run(argv[0] as string, argv[1] as string[], { allowFailure: true, timeoutMs: 10_000 });
  if (r.code !== 0) {
    throw new Error(`ip -j ${args.join(' ')}${netnsOfPid ? ` in the netns of PID ${netnsOfPid}` : ''} failed: ${r.stderr.trim()}`);
  }
  try {
    return JSON.parse(r.stdout || '[]') as Obj[];
  } catch {
    return [];
  }
}

export function interfacesFromIp(addrs: Obj[]): NetInterface[] {
  return addrs.map((a) => ({
    name: printable(String(a.ifname)),
    ifindex: Number(a.ifindex),
    kind: a.linkinfo?.info_kind,
    mac: a.address,
    mtu: a.mtu,
    state: a.operstate,
    addresses: ((a.addr_info ?? []) as Obj[]).map((x) => `${x.local}/${x.prefixlen}`),
    peerIfindex: typeof a.link_index === 'number' ? a.link_index : a.link && /^if\d+$/.test(a.link) ? Number(String(a.link).slice(2)) : undefined,
  }));
}

export function routesFromIp(routes: Obj[]): Route[] {
  return routes.map((r) => ({ dst: String(r.dst), via: r.gateway, dev: r.dev, src: r.prefsrc }));
}

async function natSave(): Promise<string> {
  const r = await run('iptables-save', ['-t', 'nat'], { allowFailure: true, timeoutMs: 15_000 });
  if (r.code !== 0) {
    throw new Error(`iptables-save -t nat failed: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

// ---- sections -----------------------------------------------------------------------------------

async function namespacesOf(pause: SandboxFacts | undefined, containers: ContainerFacts[], names: string[], problems: string[]): Promise<NamespacesSection> {
  // the host's: podbay's own (it runs in the node's namespaces; PID 1 may not be readable)
  const host = await nsInodes('self', problems);
  const rows: NsRow[] = [];
  const row = async (name: string, role: 'pause' | 'container', pid: number, base?: Partial<Record<NsType, number>>) => {
    const [inodes, st] = await Promise.all([nsInodes(pid, problems), procStatus(pid)]);
    if (!st) return undefined;
    const ns: NsRow['ns'] = {};
    for (const t of NS_TYPES) {
      const inode = inodes[t];
      if (inode === undefined) continue;
      ns[t] = { inode, shared: role === 'pause' || (base?.[t] !== undefined && base[t] === inode), host: host[t] === inode };
    }
    rows.push({ name, role, hostPid: pid, podPid: st.nspid.at(-1) ?? pid, ns });
    return inodes;
  };
  let base: Partial<Record<NsType, number>> | undefined;
  if (pause?.pid) base = await row('pause', 'pause', pause.pid);
  for (const n of names) {
    const c = containers.find((x) => x.name === n && x.pid && (x.state === 'running' || x.state === 'created'));
    if (c) await row(n, 'container', c.pid, base);
  }
  return { rows, host, differences: [] };
}

async function networkOf(pod: Obj, sb: SandboxFacts | undefined, bridgeName: string, nsSec: NamespacesSection): Promise<NetworkSection> {
  const hostNetwork = Boolean(pod.spec?.hostNetwork);
  const hostPorts = ((pod.spec?.containers ?? []) as Obj[]).flatMap((c) =>
    ((c.ports ?? []) as Obj[]).filter((p) => p.hostPort).map((p) => ({ protocol: String(p.protocol ?? 'TCP'), hostIP: p.hostIP, hostPort: Number(p.hostPort), containerPort: Number(p.containerPort), container: String(c.name) })),
  );
  const net: NetworkSection = { hostNetwork, podIPs: sb?.ips ?? [], interfaces: [], routes: [], hostPorts, natRules: [] };
  const pid = sb?.pid;
  if (!pid) return net;
  net.netnsInode = nsSec.rows.find((r) => r.role === 'pause')?.ns.net?.inode;
  if (hostNetwork) {
    // the pod sees the host's interfaces: say which, and that no veth or DNAT is involved
    net.interfaces = interfacesFromIp(await ipJson(['addr'], pid));
    net.routes = routesFromIp(await ipJson(['route'], pid));
    net.gateway = net.routes.find((r) => r.dst === 'default')?.via;
    net.podIPs = pod.status?.podIPs?.map((x: Obj) => x.ip) ?? net.podIPs;
    return net;
  }
  const [inside, routes, hostLinks, save] = await Promise.all([ipJson(['-d', 'addr'], pid), ipJson(['route'], pid), ipJson(['-d', 'link']), natSave()]);
  net.interfaces = interfacesFromIp(inside);
  net.routes = routesFromIp(routes);
  net.gateway = net.routes.find((r) => r.dst === 'default')?.via;
  // The pod's IPs are the ones CNI assigned (the sandbox's record), not whatever is on eth0
  // now: a container with NET_ADMIN could add another pod's address there, and the DNAT rules
  // are matched against these. Without a record, eth0's (minus the link-local one).
  net.podIPs = sb?.ips.length ? sb.ips : net.interfaces.flatMap((i) => (i.name === 'lo' ? [] : i.addresses.map((a) => a.split('/')[0]!).filter((a) => !/^fe80:/i.test(a))));
  const veths = net.interfaces.filter((i) => i.kind === 'veth' || i.peerIfindex !== undefined);
  const eth0 = veths.find((i) => i.name === 'eth0') ?? veths[0];
  if (eth0?.peerIfindex !== undefined) {
    const peer = hostLinks.find((l) => Number(l.ifindex) === eth0.peerIfindex && (l.linkinfo?.info_kind === 'veth' || l.link_index === eth0.ifindex));
    if (peer) net.veth = { podIfname: eth0.name, podIfindex: eth0.ifindex, hostIfname: printable(String(peer.ifname)), hostIfindex: Number(peer.ifindex), bridge: peer.master };
  }
  const brName = net.veth?.bridge ?? bridgeName;
  const br = hostLinks.find((l) => l.ifname === brName);
  if (br) {
    const addrs = interfacesFromIp(await ipJson(['addr', 'show', 'dev', brName]))[0];
    net.bridge = { name: brName, ifindex: Number(br.ifindex), addresses: addrs?.addresses ?? [] };
  }
  net.natRules = hostPortRules(save, net.podIPs);
  return net;
}

const PLUGIN_DIRS: Record<string, string> = { configMap: 'kubernetes.io~configmap', secret: 'kubernetes.io~secret', emptyDir: 'kubernetes.io~empty-dir' };

async function lexists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** mount point -> 'ro' | 'rw' in the container's own mount namespace (the kernel's view) */
async function kernelMountFlags(pid: number): Promise<Map<string, 'ro' | 'rw'>> {
  const out = new Map<string, 'ro' | 'rw'>();
  try {
    for (const m of parseMountinfo(await fsp.readFile(`/proc/${pid}/mountinfo`, 'utf8'))) out.set(m.mountPoint, m.options.includes('ro') ? 'ro' : 'rw');
  } catch {
    /* not running */
  }
  return out;
}

async function volumesOf(pod: Obj, podDir: string, containers: ContainerFacts[]): Promise<VolumeView[]> {
  const specs = (pod.spec?.containers ?? []) as Obj[];
  const flags = new Map<string, Map<string, 'ro' | 'rw'>>();
  for (const c of containers) if (c.pid && c.state === 'running') flags.set(c.name, await kernelMountFlags(c.pid));
  const out: VolumeView[] = [];
  for (const v of (pod.spec?.volumes ?? []) as Obj[]) {
    const type = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
    const plugin = PLUGIN_DIRS[type];
    const hostPath = plugin ? join(podDir, 'volumes', plugin, v.name) : type === 'hostPath' ? String(v.hostPath.path) : undefined;
    const view: VolumeView = { name: v.name, type, hostPath, exists: hostPath ? await lexists(hostPath) : false, mounts: [] };
    if ((type === 'configMap' || type === 'secret') && view.exists && hostPath) {
      // the atomic writer's layout: ..data -> ..<timestamp>, KEY -> ..data/KEY (never followed)
      view.dataLink = await fsp.readlink(join(hostPath, '..data')).catch(() => undefined);
      view.keys = (await fsp.readdir(hostPath).catch(() => [] as string[])).filter((n) => !n.startsWith('..')).map(printable).sort();
    }
    for (const c of specs) {
      for (const m of (c.volumeMounts ?? []) as Obj[]) {
        if (m.name !== v.name) continue;
        const live = containers.find((x) => x.name === c.name)?.mounts.find((x) => x.containerPath === m.mountPath);
        view.mounts.push({
          container: c.name,
          mountPath: m.mountPath,
          readOnly: live?.readOnly ?? (Boolean(m.readOnly) || type === 'configMap' || type === 'secret'),
          subPath: m.subPath || m.subPathExpr || undefined,
          // mountinfo has no trailing slash; a pod may write one (the seed's "/etc/nginx/")
          kernel: flags.get(c.name)?.get(m.mountPath.replace(/(.)\/+$/, '$1')),
        });
      }
    }
    out.push(view);
  }
  return out;
}

// ---- not running --------------------------------------------------------------------------------

function conditionMessage(pod: Obj, type: string): string | undefined {
  const c = ((pod.status?.conditions ?? []) as Obj[]).find((x) => x.type === type);
  return c && c.status !== 'True' ? [c.reason, c.message].filter(Boolean).join(': ') : undefined;
}

function containerStateWords(pod: Obj, name: string): string {
  const st = ((pod.status?.containerStatuses ?? []) as Obj[]).find((c) => c.name === name)?.state;
  if (st?.waiting) return `waiting (${[st.waiting.reason, st.waiting.message].filter(Boolean).join(': ') || 'no reason yet'})`;
  if (st?.terminated) return `terminated (${st.terminated.reason ?? 'exited'}, exit code ${st.terminated.exitCode})`;
  if (st?.running) return 'running by the API, but not by the runtime';
  return 'not started by the kubelet yet';
}

function missingParts(pod: Obj, sb: SandboxFacts | undefined, containers: ContainerFacts[]): MissingPart[] {
  const phase = pod.status?.phase ?? 'Pending';
  const out: MissingPart[] = [];
  if (!pod.spec?.nodeName) {
    const why = conditionMessage(pod, 'PodScheduled');
    out.push({ part: 'everything (sandbox, namespaces, network, processes, volumes)', why: `the pod is not scheduled to a node yet${why ? ` (${why})` : ''}` });
    return out;
  }
  if (pod.metadata?.deletionTimestamp && !sb?.pid) out.push({ part: 'sandbox', why: 'the pod is being deleted: its sandbox is gone or going' });
  if (!sb) {
    out.push({ part: 'sandbox (pause process, network namespace, veth, DNAT rules)', why: `the kubelet has not made the pod's sandbox yet (phase ${phase}${pod.status?.reason ? `, ${pod.status.reason}` : ''})` });
  } else if (!sb.pid) {
    const why = phase === 'Succeeded' || phase === 'Failed' ? `the pod has finished (phase ${phase}): the kubelet stopped its sandbox` : 'the sandbox is stopped (the kubelet will make a new one)';
    out.push({ part: 'pause process and network namespace (veth, routes, DNAT rules)', why });
  }
  for (const c of (pod.spec?.containers ?? []) as Obj[]) {
    const live = containers.find((x) => x.name === c.name && x.pid && (x.state === 'running' || x.state === 'created'));
    if (!live) out.push({ part: `container ${c.name} (its process and namespaces)`, why: `it is ${containerStateWords(pod, c.name)}` });
  }
  return out;
}

// ---- the whole ----------------------------------------------------------------------------------

export async function explainPod(pod: Obj, node: PodNodeView): Promise<PodExplain> {
  if (process.geteuid?.() !== 0) throw needsRoot(`podbay server runs as uid ${process.geteuid?.()}`);
  const uid = String(pod.metadata?.uid ?? '');
  const names = ((pod.spec?.containers ?? []) as Obj[]).map((c) => String(c.name));
  const sb = pod.spec?.nodeName ? await node.sandboxOf(uid) : undefined;
  const containers = sb ? await node.containersOf(sb.id) : [];
  const live = sb?.pid ? sb : undefined;
  const problems: string[] = [];
  const ns = await namespacesOf(live, containers, names, problems);
  const emptyNet: NetworkSection = { hostNetwork: Boolean(pod.spec?.hostNetwork), podIPs: [], interfaces: [], routes: [], hostPorts: [], natRules: [] };
  const [network, table] = await Promise.all([
    // the pause process may exit while we look (the pod is stopping): say so, show the rest
    networkOf(pod, live, node.bridge, ns).catch((e: Error) => {
      problems.push(`the network could not be read: ${e.message}`);
      return emptyNet;
    }),
    processTable(),
  ]);
  const processes: ProcessTree[] = [];
  if (live) processes.push(await processTree('pause', live.pid, table));
  for (const n of names) {
    const c = containers.find((x) => x.name === n && x.pid && (x.state === 'running' || x.state === 'created'));
    if (c) processes.push(await processTree(n, c.pid, table));
  }
  const volumes = await volumesOf(pod, node.podDir(uid), containers);
  ns.differences = differencesFromDocker(pod, ns);
  const notes: string[] = [];
  if (pod.spec?.hostNetwork) {
    const same = network.netnsInode !== undefined && network.netnsInode === ns.host.net;
    notes.push(
      `This pod uses the host's network namespace (hostNetwork: true)${same ? `: its net namespace is the host's (inode ${network.netnsInode}, the same as the node's)` : ''}. It has no veth and no address of its own; it sees the host's interfaces, and its ports are the host's ports (no DNAT).`,
    );
  }
  if (problems.length) notes.push(`Some parts could not be read: ${problems.join('; ')}.`);
  const missing = missingParts(pod, sb, containers);
  if (missing.length) notes.push(`Parts of this pod do not exist yet: ${missing.map((m) => m.part).join('; ')}.`);
  const mounts = new Map(containers.map((c) => [c.name, c.mounts]));
  return {
    kind: EXPLAIN_KIND,
    apiVersion: EXPLAIN_API_VERSION,
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid },
    node: pod.spec?.nodeName,
    phase: pod.status?.phase ?? 'Pending',
    hostNetwork: Boolean(pod.spec?.hostNetwork),
    shareProcessNamespace: Boolean(pod.spec?.shareProcessNamespace),
    sandboxId: sb?.id,
    missing,
    notes,
    namespaces: ns,
    network,
    processes,
    volumes,
    byHand: byHandCommands(ns, network, processes, node.bridge),
    dockerRecipe: dockerRecipe(pod, mounts, node.podDir(uid)),
  };
}
