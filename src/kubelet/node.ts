/**
 * This machine as a Kubernetes Node: registered on start and its Ready heartbeat kept current.
 * Capacity and addresses are read from the host each time, so a resized VM reports truthfully.
 */
import os from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import { ApiError } from '../api/errors.js';
import { resourceInfo } from '../api/registry.js';
import type { Client, Obj } from '../client/types.js';
import { PODBAY_VERSION, VERSION_INFO } from '../version.js';
import { rfc3339 } from '../api/time.js';
import { formatQuantity } from '../api/validation/quantity.js';

function osImage(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1];
  } catch {
    /* not Linux-like: fall through */
  }
  return `${os.type()} ${os.release()}`;
}

function machineId(): string {
  try {
    return readFileSync('/etc/machine-id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** The first non-internal IPv4 address (and IPv6 global ones) of this host. */
export function hostAddresses(): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') v4.push(a.address);
      else if (!a.address.startsWith('fe80')) v6.push(a.address);
    }
  }
  return [...v4, ...v6];
}

export function nodeName(): string {
  return os.hostname().toLowerCase();
}

/** The kubelet's default hard eviction threshold memory.available<100Mi, held back from pods. */
export const EVICTION_HARD_MEMORY_BYTES = 100 * 1024 * 1024;

/** One huge page size the kernel offers and how many pages of it are reserved (nr_hugepages). */
export interface HugePageSize {
  pageBytes: number;
  pages: number;
}

/**
 * The huge page sizes of this kernel, as cAdvisor reads them: one hugepages-<N>kB directory per
 * size under /sys/kernel/mm/hugepages, with its nr_hugepages. None when the kernel has no
 * hugetlbfs support.
 */
export function hostHugePages(dir = '/sys/kernel/mm/hugepages'): HugePageSize[] {
  const out: HugePageSize[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const m = /^hugepages-(\d+)kB$/.exec(name);
    if (!m) continue;
    let pages = 0;
    try {
      pages = Number(readFileSync(`${dir}/${name}/nr_hugepages`, 'utf8').trim()) || 0;
    } catch {
      /* unreadable: none reserved */
    }
    out.push({ pageBytes: Number(m[1]) * 1024, pages });
  }
  return out;
}

const binarySI = (bytes: number): string => formatQuantity({ num: BigInt(bytes), den: 1n, format: 'BinarySI' });

/**
 * Capacity from this machine (CPUs online, MemTotal, each huge page size as hugepages-2Mi: the
 * bytes of pages reserved, "0" when none) and allocatable as the kubelet derives it: capacity
 * minus the hard eviction threshold (no system/kube reservations are configured), memory also
 * minus the huge pages reserved (nodestatus.MachineInfo).
 */
export function nodeResources(cpus = os.cpus().length, memBytes = os.totalmem(), hugePages: HugePageSize[] = hostHugePages()): { capacity: Record<string, string>; allocatable: Record<string, string> } {
  const capacity: Record<string, string> = { cpu: String(cpus), memory: `${Math.floor(memBytes / 1024)}Ki`, pods: '110', 'ephemeral-storage': '0' };
  let hugeBytes = 0;
  for (const h of hugePages) {
    capacity[`hugepages-${binarySI(h.pageBytes)}`] = binarySI(h.pages * h.pageBytes);
    hugeBytes += h.pages * h.pageBytes;
  }
  const allocMem = Math.max(0, nodeAllocatable(cpus, memBytes).memoryBytes - hugeBytes);
  return { capacity, allocatable: { ...capacity, memory: `${Math.floor(allocMem / 1024)}Ki` } };
}

/** Allocatable as numbers, for capping the pods' cgroup (kubepods) at what the Node reports. */
export function nodeAllocatable(cpus = os.cpus().length, memBytes = os.totalmem()): { memoryBytes: number; milliCpu: number } {
  return { memoryBytes: Math.max(0, memBytes - EVICTION_HARD_MEMORY_BYTES), milliCpu: cpus * 1000 };
}

/** Which node this is: this host by default; an agent names its own (src/cli/agent.ts). */
export interface NodeIdentity {
  name: string;
  /** the node's addresses, InternalIP first */
  addresses: string[];
  /** spec.podCIDR: the range its pods' addresses come from (set once, as upstream) */
  podCIDR?: string;
  /** where its kubelet server listens (status.daemonEndpoints.kubeletEndpoint.Port); 0: none (the server's own node, served in-process) */
  kubeletPort?: number;
}

export function thisHost(): NodeIdentity {
  return { name: nodeName(), addresses: hostAddresses() };
}

function nodeStatus(now: string, id: NodeIdentity): Obj {
  const { capacity, allocatable } = nodeResources();
  const ips = id.addresses;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return {
    capacity,
    allocatable,
    conditions: [
      { type: 'MemoryPressure', status: 'False', lastHeartbeatTime: now, lastTransitionTime: now, reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
      { type: 'DiskPressure', status: 'False', lastHeartbeatTime: now, lastTransitionTime: now, reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
      { type: 'PIDPressure', status: 'False', lastHeartbeatTime: now, lastTransitionTime: now, reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
      { type: 'Ready', status: 'True', lastHeartbeatTime: now, lastTransitionTime: now, reason: 'KubeletReady', message: 'podbay is posting ready status' },
    ],
    addresses: [...ips.slice(0, 1).map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: id.name }],
    daemonEndpoints: { kubeletEndpoint: { Port: id.kubeletPort ?? 0 } },
    nodeInfo: {
      machineID: machineId(),
      systemUUID: machineId(),
      bootID: (() => {
        try {
          return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
        } catch {
          return '';
        }
      })(),
      kernelVersion: os.release(),
      osImage: osImage(),
      containerRuntimeVersion: `podbay://${PODBAY_VERSION}`,
      kubeletVersion: VERSION_INFO.gitVersion,
      kubeProxyVersion: '',
      operatingSystem: process.platform,
      architecture: arch,
    },
  };
}

/** Create or refresh this machine's Node object. */
export async function registerNode(client: Client, id: NodeIdentity = thisHost()): Promise<Obj> {
  // another writer of the Node (the node lifecycle controller marking it, a second server on
  // this host) makes an update conflict: read it again and retry, as the kubelet's
  // tryUpdateNodeStatus does (nodeStatusUpdateRetry: 5)
  for (let attempt = 1; ; attempt++) {
    try {
      return await registerNodeOnce(client, id);
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'Conflict') || attempt >= NODE_STATUS_UPDATE_RETRY) throw e;
    }
  }
}

const NODE_STATUS_UPDATE_RETRY = 5;

async function registerNodeOnce(client: Client, id: NodeIdentity): Promise<Obj> {
  const nodes = client.resource(resourceInfo('nodes')!);
  const name = id.name;
  const spec = id.podCIDR ? { podCIDR: id.podCIDR, podCIDRs: [id.podCIDR] } : {};
  const now = rfc3339();
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const labels = {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': process.platform,
    'kubernetes.io/arch': arch,
    'beta.kubernetes.io/os': process.platform,
    'beta.kubernetes.io/arch': arch,
  };
  const existing = await nodes.tryGet(undefined, name);
  if (!existing) {
    try {
      const created = await nodes.create(undefined, { metadata: { name, labels }, spec });
      return await nodes.update({ ...created, status: nodeStatus(now, id) }, { sub: 'status' });
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === 'AlreadyExists')) throw e;
    }
  }
  const cur = await nodes.get(undefined, name);
  cur.metadata.labels = { ...(cur.metadata.labels ?? {}), ...labels };
  // podCIDR is set once (upstream refuses to change it)
  if (id.podCIDR && !cur.spec?.podCIDR) cur.spec = { ...(cur.spec ?? {}), ...spec };
  const withLabels = await nodes.update(cur);
  const status = nodeStatus(now, id);
  // a condition's lastTransitionTime changes only when its status does
  for (const c of status.conditions as Obj[]) {
    const prev = (withLabels.status?.conditions ?? []).find((p: Obj) => p.type === c.type);
    if (prev && prev.status === c.status && prev.lastTransitionTime) c.lastTransitionTime = prev.lastTransitionTime;
  }
  return nodes.update({ ...withLabels, status }, { sub: 'status' });
}

/** how often the node's Ready heartbeat is refreshed (the kubelet's nodeStatusUpdateFrequency is 10 s; 40 s is its grace) */
export const NODE_HEARTBEAT_MS = 40_000;

/** the node Lease's renewal interval and duration (the kubelet's: 10 s, 40 s) */
export const NODE_LEASE_RENEW_MS = 10_000;
export const NODE_LEASE_DURATION_SECONDS = 40;
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const LEASES = resourceInfo('leases', 'coordination.k8s.io')!;

/** Create or renew the node's Lease kube-node-lease/NAME (the kubelet's nodelease controller). */
export async function renewNodeLease(client: Client, node: Obj, durationSeconds = NODE_LEASE_DURATION_SECONDS): Promise<void> {
  const leases = client.resource(LEASES);
  const name = node.metadata.name;
  const spec = { holderIdentity: name, leaseDurationSeconds: durationSeconds, renewTime: new Date().toISOString().replace('Z', '000Z') };
  const cur = await leases.tryGet(NODE_LEASE_NAMESPACE, name);
  if (cur) {
    await leases.update({ ...cur, spec: { ...cur.spec, ...spec } });
    return;
  }
  const ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid }];
  await leases.create(NODE_LEASE_NAMESPACE, { metadata: { name, namespace: NODE_LEASE_NAMESPACE, ownerReferences }, spec });
}

/**
 * Keeps the Node's status current: registered (or refreshed) on start, then every interval,
 * and its Lease renewed every quarter of its duration (10 s of 40 s, as the kubelet's
 * nodeLeaseDurationSeconds; what node-lifecycle controllers watch). A renewal that finds the
 * Node not Ready (the node controller marked it Unknown while this node was away) posts the
 * status at once, as the kubelet does when its status differs from the API's.
 * Runs with or without the kubelet's pod workers (`--no-kubelet` still reports the node).
 */
export class NodeHeartbeat {
  private timer?: NodeJS.Timeout;
  private leaseTimer?: NodeJS.Timeout;
  private node?: Obj;
  private stopped = false;

  constructor(
    private readonly client: Client,
    private readonly log: (line: string) => void,
    private readonly everyMs = NODE_HEARTBEAT_MS,
    private readonly id: NodeIdentity = thisHost(),
    private readonly leaseDurationSeconds = NODE_LEASE_DURATION_SECONDS,
  ) {}

  async start(): Promise<void> {
    this.node = await registerNode(this.client, this.id);
    const renew = () =>
      void renewNodeLease(this.client, this.node!, this.leaseDurationSeconds)
        .then(() => this.postIfMarked())
        // one in flight when the server stops (or its start fails) meets a closed store: not news
        .catch((e) => this.stopped || this.log(`node lease renewal failed: ${(e as Error).message}`));
    renew();
    this.leaseTimer = setInterval(renew, Math.min(NODE_LEASE_RENEW_MS, (this.leaseDurationSeconds * 1000) / 4));
    this.timer = setInterval(() => {
      void registerNode(this.client, this.id).then(
        (n) => (this.node = n),
        (e) => this.log(`node heartbeat failed: ${(e as Error).message}`),
      );
    }, this.everyMs);
  }

  /** the Node as the API has it says not Ready (marked by the node controller): post the status now */
  private async postIfMarked(): Promise<void> {
    const cur = await this.client.resource(resourceInfo('nodes')!).tryGet(undefined, this.id.name);
    const ready = (cur?.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready');
    if (cur && ready?.status !== 'True') this.node = await registerNode(this.client, this.id);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.leaseTimer);
  }
}
