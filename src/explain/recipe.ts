/**
 * The teaching parts of an explanation, built from collected data and the pod spec (pure):
 * how the pod differs from the seed tutorial's docker recipe (pause container + containers
 * joining it with --net/--ipc/--pid=container:), that recipe written out for this pod, and the
 * commands a person would type to see the same things with standard tools.
 */
import type { ByHandCommand, NamespacesSection, NetworkSection, NsType, ProcessTree, ProcNode } from './types.js';

type Obj = Record<string, any>;

/** Control characters and the like out: a container chose some of these strings. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
}

export function shellQuote(s: string): string {
  // `~` is literal except at a word's start
  return /^[A-Za-z0-9_@%+=:,./-][A-Za-z0-9_@%+=:,./~-]*$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Does every container row share this namespace type with the pause row? */
function allShare(ns: NamespacesSection, t: NsType): boolean | undefined {
  const cs = ns.rows.filter((r) => r.role === 'container' && r.ns[t]);
  if (!cs.length) return undefined;
  return cs.every((r) => r.ns[t]!.shared);
}

/** One sentence per way this pod differs from the seed's docker recipe (and why). */
export function differencesFromDocker(pod: Obj, ns: NamespacesSection): string[] {
  const out: string[] = [];
  const spec = pod.spec ?? {};
  const pause = ns.rows.find((r) => r.role === 'pause');
  if (spec.hostNetwork) {
    out.push("net: the pod uses the host's network namespace (hostNetwork: true), like docker's --net=host on the pause container; the recipe gives pause a network namespace of its own.");
  }
  if (spec.hostIPC) out.push("ipc: the pod uses the host's IPC namespace (hostIPC: true); the recipe shares pause's (--ipc=shareable, then --ipc=container:).");
  else if (allShare(ns, 'ipc')) out.push('ipc: shared with pause as in the recipe, but without asking: docker needs --ipc=shareable on the pause container first, Kubernetes always shares IPC in a pod.');
  const pid = allShare(ns, 'pid');
  if (spec.hostPID) out.push("pid: the pod uses the host's PID namespace (hostPID: true).");
  else if (pid === false) out.push("pid: each container has a PID namespace of its own (its first process is PID 1 there), unlike the recipe's --pid=container:; Kubernetes shares one only with shareProcessNamespace: true.");
  else if (pid === true) out.push('pid: shared with pause (shareProcessNamespace: true), as the recipe\'s --pid=container:; pause (catatonit) is PID 1 and reaps every orphan of the pod.');
  if (allShare(ns, 'uts')) {
    const host = spec.hostNetwork ? "the host's name" : `the hostname ${JSON.stringify(String(pod.metadata?.name ?? ''))}`;
    out.push(`uts: every container shares pause's UTS namespace and so ${host}; docker cannot share UTS between containers (only --uts=host), so in the recipe each container has a hostname of its own.`);
  }
  if (pause?.ns.cgroup?.host) out.push("cgroup: no cgroup namespace of its own (as docker on cgroup v1): a container sees its cgroup's full path from the host's root; docker on cgroup v2 would give each container one.");
  if (pause?.ns.user && !pause.ns.user.host) out.push('user: the pod has a user namespace of its own, which the recipe has not.');
  const ports = (spec.containers ?? []).flatMap((c: Obj) => (c.ports ?? []).filter((p: Obj) => p.hostPort));
  if (ports.length && !spec.hostNetwork) {
    out.push("ports: docker's -p does its own DNAT and runs docker-proxy; here podbay writes the DNAT rules itself, as the kubelet's hostport manager did (chain PODBAY-HP-<bridge>, one PODBAY-HPD-* chain per hostPort) and no proxy process runs.");
  }
  return out;
}

/** The seed-style docker commands that would build an equivalent "pod". */
export function dockerRecipe(pod: Obj, mounts: Map<string, { hostPath: string; containerPath: string; readOnly: boolean }[]>, podDir?: string): string[] {
  const spec = pod.spec ?? {};
  const name = String(pod.metadata?.name ?? 'pod');
  const pause = `fake_k8s_pod_${name}_pause`;
  const ports = (spec.containers ?? []).flatMap((c: Obj) => (c.ports ?? []).filter((p: Obj) => p.hostPort));
  const pauseArgs = ['docker', 'run', '-d', '--name', pause];
  if (spec.hostNetwork) pauseArgs.push('--net=host');
  else for (const p of ports) pauseArgs.push('-p', `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}:${p.containerPort}${(p.protocol ?? 'TCP') === 'TCP' ? '' : `/${String(p.protocol).toLowerCase()}`}`);
  pauseArgs.push(spec.hostIPC ? '--ipc=host' : '--ipc=shareable');
  if (spec.hostPID) pauseArgs.push('--pid=host');
  if (!spec.hostNetwork) pauseArgs.push('--hostname', name);
  pauseArgs.push('registry.k8s.io/pause:3.9');
  const out = [pauseArgs.map(shellQuote).join(' ')];
  // the pod's volume dirs are long: name their common part once, as a person would
  const usesPodDir = podDir && [...mounts.values()].some((ms) => ms.some((m) => m.hostPath.startsWith(podDir + '/')));
  if (usesPodDir) out.unshift(`POD=${shellQuote(podDir)}`);
  const hostSide = (p: string) => (usesPodDir && p.startsWith(podDir + '/') ? `"$POD"${shellQuote(p.slice(podDir.length))}` : shellQuote(p));
  for (const c of (spec.containers ?? []) as Obj[]) {
    const args = ['docker', 'run', '-d', '--name', `fake_k8s_pod_${name}_${c.name}`, `--net=container:${pause}`, `--ipc=container:${pause}`];
    if (spec.shareProcessNamespace || spec.hostPID) args.push(`--pid=container:${pause}`);
    const words = args.map(shellQuote);
    for (const m of mounts.get(c.name) ?? []) words.push('-v', `${hostSide(m.hostPath)}${shellQuote(`:${m.containerPath}${m.readOnly ? ':ro' : ''}`)}`);
    const rest: string[] = [];
    for (const e of (c.env ?? []) as Obj[]) if (typeof e.value === 'string') rest.push('-e', `${e.name}=${e.value}`);
    if (c.command?.length) rest.push('--entrypoint', String(c.command[0]));
    rest.push(String(c.image));
    if (c.command?.length) rest.push(...c.command.slice(1).map(String));
    rest.push(...(c.args ?? []).map(String));
    out.push(printable([...words, ...rest.map(shellQuote)].join(' ')));
  }
  return out;
}

/** The commands that show, with standard tools, what the explanation shows. */
export function byHandCommands(ns: NamespacesSection, net: NetworkSection, procs: ProcessTree[], bridge: string): ByHandCommand[] {
  const out: ByHandCommand[] = [];
  const pause = ns.rows.find((r) => r.role === 'pause');
  if (!pause) return out;
  const p = pause.hostPid;
  out.push({ what: "the pause process's namespaces (inodes)", command: `ls -l /proc/${p}/ns` });
  for (const r of ns.rows.filter((x) => x.role === 'container')) out.push({ what: `${r.name}: its namespaces, PID in the pod`, command: `ls -l /proc/${r.hostPid}/ns; grep NSpid /proc/${r.hostPid}/status` });
  out.push({ what: "the pod's interfaces and addresses", command: `nsenter -t ${p} -n ip addr` });
  out.push({ what: "the pod's routes", command: `nsenter -t ${p} -n ip route` });
  if (!net.hostNetwork) {
    out.push({ what: 'the veths on the bridge (the pod\'s host side among them)', command: `ip link show master ${net.bridge?.name ?? bridge}` });
    if (net.veth) out.push({ what: "the host side of the pod's veth", command: `ip -d link show ${net.veth.hostIfname}` });
  }
  const chains = [...new Set(net.natRules.map((r) => r.chain))].filter((c) => c !== 'PREROUTING' && c !== 'OUTPUT');
  for (const c of chains) out.push({ what: `nat chain ${c}`, command: `iptables -t nat -S ${c}` });
  const pids: number[] = [];
  const walk = (n: ProcNode) => {
    pids.push(n.hostPid);
    n.children.forEach(walk);
  };
  for (const t of procs) if (t.root) walk(t.root);
  if (pids.length) out.push({ what: 'the process tree (conmon, then the container processes)', command: `ps -o pid,ppid,args -p ${pids.join(',')}` });
  out.push({ what: "the pod's hostname (its UTS namespace)", command: `nsenter -t ${p} -u hostname` });
  for (const r of ns.rows.filter((x) => x.role === 'container')) out.push({ what: `${r.name}: its mounts, as it sees them`, command: `findmnt -N ${r.hostPid}` });
  return out;
}

/** A shell command's words as written (quotes kept), so a renderer can wrap between words only. */
export function shellWords(cmd: string): string[] {
  return cmd.match(/(?:'[^']*'|"[^"]*"|\\.|[^\s'"\\])+/g) ?? [];
}
