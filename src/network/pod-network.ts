/**
 * CniPodNetwork: the PodNetwork contract (./types.ts) on a network namespace pin + CNI.
 *
 * Per pod sandbox:
 *
 *            setUp                                             tearDown
 *   (none) ---------> netns pinned, lo up -> eth0, hostPorts -----> (none)
 *                     |  cache written before the first ADD (no result) and again after
 *                     |  the last one (with the result), so a crash anywhere leaves enough
 *                     |  on disk for tearDown to replay DEL with the very same config.
 *                     +-- any failure: unwind in reverse (DEL eth0's list, drop cache,
 *                         delete netns), then rethrow.
 * A pod's hostPorts are written after eth0's ADD (the pod IP is known) by the bridge's hostport
 * manager (./hostport-manager.ts: one iptables-restore per batch of set-ups and tear-downs, not
 * the portmap plugin); setUp resolves once they answer. tearDown removes them first, then runs
 * DEL of eth0's list, then deletes the netns.
 *
 * The networks it attaches:
 *   lo:   brought up by the pin itself (`unshare --net=PIN ip link set lo up`, ./netns.ts): what
 *         the CNI `loopback` plugin's ADD does (a pod without it cannot reach itself on
 *         127.0.0.1), one Go binary less per pod up and one down (its DEL only sets lo down in a
 *         namespace that is about to go). Caches of an older podbay name a loopback list; it is
 *         not run.
 *   eth0: podbay's config list `<confDir>/<networkName>.conflist`:
 *           bridge (gateway, hairpin; host-local IPAM leases under <runDir>/ipam; masquerade
 *           is one per-bridge rule set podbay makes, ./pod-masquerade.ts)
 *           -> settings.extraPlugins, if any.
 *         (configs cached by an older podbay also list portmap; their DEL still runs it)
 *
 * Before the first ADD, the hostPorts asked for are checked against podbay's reserved ports
 * and the host's sockets (./host-ports.ts): a taken one fails setUp with HostPortConflictError
 * instead of letting the hostPort's DNAT steal a host service's traffic.
 *
 * Host state it changes: net.ipv4.ip_forward=1 (pods reach beyond the bridge), host-wide, once
 * per process, left set. route_localnet, which hostPorts, NodePorts and LoadBalancer addresses
 * on loopback need, is never set host-wide: once the first eth0 ADD has made the bridge, it is
 * set on the bridge itself (the hostport manager's routeLocalnet, as portmap with snat did), and
 * before the first ADD podbay installs a per-bridge CVE-2020-8558 DROP guard in front of it
 * (./localnet-guard.ts). destroy() deletes the bridge (its route_localnet goes with it), then
 * removes the guard and the bridge's hostport chains.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { run, which } from '../sys/exec.js';
import { Cleanup } from '../sys/cleanup.js';
import { removeFast, writeFileAtomic } from '../sys/fs.js';
import {
  addNetworkList,
  CNI_VERSION,
  DEFAULT_BIN_DIRS,
  delNetworkList,
  k8sArgs,
  type CniConfList,
  type CniResult,
  type CniRuntimeConf,
  type InvokeOptions,
} from './cni.js';
import { NetnsPins, validateId } from './netns.js';
import { HostPortGuard } from './host-ports.js';
import { ensureLocalnetGuard, removeLocalnetGuard } from './localnet-guard.js';
import { hostPortManager, validatePortMappings, type HostPortEntry, type HostPortManager } from './hostport-manager.js';
import { ensurePodMasquerade, removePodMasquerade } from './pod-masquerade.js';
import type { NetworkAttachment, NetworkSettings, PodNetwork, PodNetworkRequest, PortMapping } from './types.js';

export const POD_IFNAME = 'eth0';

/** podbay's config list for eth0 (what is written to `<confDir>/<networkName>.conflist`). */
export function buildConfList(s: NetworkSettings): CniConfList {
  const v6 = s.podCidr.includes(':');
  return {
    cniVersion: CNI_VERSION,
    name: s.networkName,
    plugins: [
      {
        type: 'bridge',
        bridge: s.bridge,
        isGateway: true,
        // masquerade is one rule set per bridge (./pod-masquerade.ts), not a chain per pod
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: s.podCidr }]],
          routes: [{ dst: v6 ? '::/0' : '0.0.0.0/0' }],
          dataDir: join(resolve(s.runDir), 'ipam'),
        },
      },
      ...(s.extraPlugins ?? []).map((p) => ({ ...p })),
    ],
  };
}

/**
 * The portMappings capability's entries (kept in the cache as runtimeConfig: the hostport
 * manager's record of the pod's hostPorts, and what a chained plugin declaring the capability gets).
 */
export function portMappingsCapability(pms: readonly PortMapping[]): Record<string, unknown>[] {
  return pms.map((p) => ({
    hostPort: p.hostPort,
    containerPort: p.containerPort,
    protocol: p.protocol,
    ...(p.hostIP ? { hostIP: p.hostIP } : {}),
  }));
}

/** Pod IPs (IPv4 first) and gateway from a CNI result: the addresses on sandbox interfaces. */
export function addressesFromResult(r: CniResult | undefined): { ips: string[]; gateway?: string } {
  const ifaces = r?.interfaces ?? [];
  const mine = (r?.ips ?? []).filter((ip) => ip.interface === undefined || ifaces[ip.interface]?.sandbox !== undefined || !ifaces[ip.interface]);
  const v4 = mine.filter((ip) => !ip.address.includes(':'));
  const v6 = mine.filter((ip) => ip.address.includes(':'));
  const ordered = [...v4, ...v6];
  return { ips: ordered.map((ip) => ip.address.split('/')[0]!), gateway: ordered.find((ip) => ip.gateway)?.gateway };
}

/** The bridge plugin's per-container masquerade chain and rule comment (plugins/pkg/utils). */
export function bridgeMasqChain(networkName: string, containerId: string): { chain: string; comment: string } {
  const hash = createHash('sha512').update(networkName + containerId).digest('hex');
  return { chain: `CNI-${hash}`.slice(0, 28), comment: `name: ${JSON.stringify(networkName)} id: ${JSON.stringify(containerId)}` };
}

/** What `<runDir>/cni/<id>.json` holds: enough to replay DEL exactly, even after a restart. */
export interface CacheEntry {
  version: 1;
  sandboxId: string;
  netnsPath: string;
  ifName: string;
  /** CNI_ARGS pairs (K8S_POD_*) */
  args: Record<string, string>;
  /** written by an older podbay (lo by the loopback plugin); not run any more */
  loopback?: CniConfList;
  confList: CniConfList;
  /** capability values sent as runtimeConfig, e.g. {portMappings: [...]} */
  runtimeConfig: Record<string, unknown>;
  /** the final ADD result; absent while setUp is still adding */
  result?: CniResult;
}

let sysctlsDone: Promise<void> | undefined;
/** ip_forward, which pod egress needs; written once per process, host-wide, left set. */
export function ensureIpForward(): Promise<void> {
  sysctlsDone ??= (async () => {
    const p = '/proc/sys/net/ipv4/ip_forward';
    if ((await readFile(p, 'utf8').catch(() => '')).trim() !== '1') await writeFile(p, '1');
  })().catch((e: unknown) => {
    sysctlsDone = undefined;
    throw new Error(`setting net.ipv4.ip_forward: ${(e as Error).message}`);
  });
  return sysctlsDone;
}

export class CniPodNetwork implements PodNetwork {
  readonly settings: NetworkSettings;
  readonly runDir: string;
  readonly confPath: string;
  readonly pins: NetnsPins;
  private readonly cacheDir: string;
  private readonly invoke: InvokeOptions;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly hostPorts: HostPortGuard;
  private readonly hostPortRules: HostPortManager;
  /** a pod of an older podbay (portmap in its cached config) was torn down: portmap's shared chains may be idle now */
  private tookDownPortmapPod = false;

  /**
   * `opts.hostPorts`: the guard shared with the binder, holding podbay's reserved ports (the
   * API server's); without one, only the host's sockets are checked.
   */
  constructor(settings: NetworkSettings, opts: { hostPorts?: HostPortGuard } = {}) {
    this.hostPorts = opts.hostPorts ?? new HostPortGuard();
    for (const k of ['runDir', 'confDir', 'networkName', 'bridge', 'podCidr'] as const) {
      if (!settings[k]) throw new Error(`network settings: ${k} is required`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(settings.networkName)) throw new Error(`network settings: invalid networkName ${JSON.stringify(settings.networkName)}`);
    if (settings.bridge.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(settings.bridge)) throw new Error(`network settings: invalid bridge name ${JSON.stringify(settings.bridge)} (at most 15 letters, digits, "_", "." or "-")`);
    this.settings = { ...settings, binDirs: settings.binDirs?.length ? settings.binDirs : DEFAULT_BIN_DIRS };
    this.runDir = resolve(settings.runDir);
    this.confPath = join(resolve(settings.confDir), `${settings.networkName}.conflist`);
    this.pins = new NetnsPins(join(this.runDir, 'netns'));
    this.cacheDir = join(this.runDir, 'cni');
    this.invoke = { binDirs: this.settings.binDirs };
    const bridge = settings.bridge;
    this.hostPortRules = hostPortManager({ bridge, podCidr: settings.podCidr, ensureGuard: () => ensureLocalnetGuard(bridge) });
    this.hostPortRules.addSource(() => this.cachedHostPorts());
  }

  get confList(): CniConfList {
    return buildConfList(this.settings);
  }

  async setUp(req: PodNetworkRequest): Promise<NetworkAttachment> {
    validateId(req.sandboxId);
    return this.locked(req.sandboxId, () => this.doSetUp(req));
  }

  async tearDown(sandboxId: string): Promise<void> {
    validateId(sandboxId);
    return this.locked(sandboxId, () => this.doTearDown(sandboxId));
  }

  async status(sandboxId: string): Promise<NetworkAttachment | undefined> {
    validateId(sandboxId);
    const entry = await this.readCache(sandboxId);
    if (!entry?.result || !(await this.pins.exists(sandboxId))) return undefined;
    return attachment(entry);
  }

  async list(): Promise<string[]> {
    const ids = new Set(await this.pins.list());
    try {
      for (const f of await readdir(this.cacheDir)) {
        const m = /^(.+)\.json$/.exec(f);
        if (m) ids.add(m[1]!);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return [...ids].sort();
  }

  /**
   * Remove the bridge, `<runDir>/ipam/<networkName>` and the config list once no sandbox is
   * left. With sandboxes still listed it does nothing (they keep needing all three; a podbay
   * shutdown leaves running pods attached). The bridge's hostport chains go with it; portmap's
   * shared chains (CNI-HOSTPORT-*, from pods of an older podbay) go only when idle.
   */
  async destroy(): Promise<void> {
    if ((await this.list()).length > 0) return;
    // asked of the kernel through netlink (ip), not /sys/class/net: sysfs shows the links of
    // the netns that mounted it, which is not ours when podbay runs in another netns (an agent
    // under nsenter --net, as the agents e2e runs it)
    const ip = which('ip');
    if (!ip) throw new Error('ip is not installed: install the Debian package iproute2');
    const exists = async () => (await run(ip, ['link', 'show', 'dev', this.settings.bridge], { allowFailure: true })).code === 0;
    if (await exists()) {
      const r = await run(ip, ['link', 'del', this.settings.bridge], { allowFailure: true });
      if (r.code !== 0 && (await exists())) {
        throw new Error(`deleting bridge ${this.settings.bridge}: ${r.stderr.trim()}`);
      }
    }
    // the bridge (and the route_localnet portmap set on it) is gone: its guard can go too
    await removeLocalnetGuard(this.settings.bridge);
    await removePodMasquerade(this.settings.bridge, this.settings.podCidr, this.settings.clusterCidr);
    await this.hostPortRules.destroy();
    // only after portmap pods of an older podbay: removing them races a portmap ADD of another
    // CNI user (its rule in CNI-HOSTPORT-DNAT is flushed away), so podbay does not touch them otherwise
    if (this.tookDownPortmapPod) await removeIdleHostportChains();
    this.tookDownPortmapPod = false;
    await rm(join(this.runDir, 'ipam', this.settings.networkName), { recursive: true, force: true });
    await rmdir(join(this.runDir, 'ipam')).catch(() => {});
    await rm(this.confPath, { force: true });
    await rmdir(this.cacheDir).catch(() => {});
    await this.pins.removeDirIfEmpty();
  }

  // --- internals -------------------------------------------------------------------------

  private async doSetUp(req: PodNetworkRequest): Promise<NetworkAttachment> {
    const id = req.sandboxId;
    const existing = await this.readCache(id);
    if (existing?.result && (await this.pins.exists(id))) return attachment(existing); // idempotent
    if (existing || (await this.pins.exists(id))) await this.doTearDown(id); // leftovers of a crash

    validatePortMappings(req.portMappings);
    // a host process may have started listening since the binder looked: asked beside the pin
    // and eth0's ADD, and answered before the hostPort rules go in (until then nothing sends a
    // host port to the pod); a conflict fails the set-up with this error, whatever else failed
    const free = this.hostPorts.assertFree(req.portMappings);
    free.catch(() => {});
    await ensureIpForward();
    // the guard goes in before the hostport manager turns route_localnet on for the bridge
    await Promise.all([ensureLocalnetGuard(this.settings.bridge), ensurePodMasquerade(this.settings.bridge, this.settings.podCidr, this.settings.clusterCidr)]);
    await this.writeConfList();

    const entry: CacheEntry = {
      version: 1,
      sandboxId: id,
      netnsPath: this.pins.path(id),
      ifName: POD_IFNAME,
      args: k8sArgs(req),
      confList: this.confList,
      runtimeConfig: { portMappings: portMappingsCapability(req.portMappings) },
    };
    const undo = new Cleanup();
    try {
      await this.pins.create(id);
      undo.push('delete netns', () => this.pins.delete(id));
      await this.writeCache(entry);
      undo.push('remove CNI cache', () => this.removeCache(id));

      const eth = this.runtimeConf(entry, entry.netnsPath);
      undo.push(`CNI DEL ${POD_IFNAME}`, () => delNetworkList(entry.confList, eth, this.invoke));
      // the hostPort rules follow eth0's address at once, beside the pause's creation (they
      // need the IP, not the pause)
      if (req.portMappings.length) undo.push('remove hostPorts', () => this.hostPortRules.remove(id));
      const [ethAdd, side] = await Promise.allSettled([
        addNetworkList(entry.confList, eth, this.invoke).then(async (result) => {
          entry.result = result;
          // the bridge exists now: Services on loopback (NodePorts on 127.0.0.1, LB addresses
          // on 127.x) reach pods through it whether or not any pod has a hostPort
          await this.hostPortRules.routeLocalnet();
          if (req.portMappings.length) {
            await free;
            await this.hostPortRules.set(hostPortEntry(entry)!);
          }
        }),
        req.whileAttaching ? req.whileAttaching(entry.netnsPath) : Promise.resolve(),
      ]);
      await free;
      if (ethAdd.status === 'rejected') throw ethAdd.reason;
      if (side.status === 'rejected') throw side.reason;
      await this.writeCache(entry);
    } catch (e) {
      const leftovers = await undo.unwind();
      if (leftovers.length) (e as Error).message += ` (and rolling back failed: ${leftovers.join('; ')})`;
      throw e;
    }
    return attachment(entry);
  }

  private async doTearDown(id: string): Promise<void> {
    const cached = await this.readCache(id);
    const entry: CacheEntry = cached ?? {
      version: 1,
      sandboxId: id,
      netnsPath: this.pins.path(id),
      ifName: POD_IFNAME,
      args: {},
      confList: this.confList,
      runtimeConfig: { portMappings: [] },
    };
    const hasNetns = await this.pins.exists(id);
    // An unmounted or missing pin is passed as '' so plugins skip the netns and only release
    // host-side state (IPAM lease, iptables); a path that is not a namespace makes them fail.
    const netns = hasNetns ? entry.netnsPath : '';
    const errors: Error[] = [];
    // the DNAT goes before the pod's address is released (no rule may point at a reused IP)
    await this.hostPortRules.remove(id).catch((e: Error) => errors.push(e));
    // eth0's list (bridge; portmap in configs of an older podbay); lo goes with the namespace
    errors.push(...(await delNetworkList(entry.confList, this.runtimeConf(entry, netns), this.invoke, entry.result)));
    if (entry.confList.plugins.some((p) => p.type === 'portmap')) this.tookDownPortmapPod = true;
    // only pods made by an older podbay (ipMasq in their cached config) have a per-pod chain
    const perPodMasq = entry.confList.plugins.some((p) => p.type === 'bridge' && (p as { ipMasq?: boolean }).ipMasq);
    if (!hasNetns && entry.result && perPodMasq) await this.removeBridgeMasq(entry);
    try {
      await this.pins.delete(id);
    } catch (e) {
      errors.push(e as Error);
    }
    if (errors.length) {
      // Keep the cache so a retry (or the garbage collector via list()) replays the DEL.
      throw new Error(`tearing down the network of sandbox ${id}: ${errors.map((e) => e.message).join('; ')}`);
    }
    await this.removeCache(id);
  }

  /**
   * The bridge plugin removes a container's masquerade rule only when it finds the veth in the
   * netns (it learns the address there). With the netns already gone, remove it ourselves.
   */
  private async removeBridgeMasq(entry: CacheEntry): Promise<void> {
    const { chain, comment } = bridgeMasqChain(entry.confList.name, entry.sandboxId);
    for (const { address } of entry.result?.ips ?? []) {
      const bin = which(address.includes(':') ? 'ip6tables' : 'iptables');
      if (!bin) continue;
      const ip = address.split('/')[0]!;
      await run(bin, ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-s', ip, '-j', chain, '-m', 'comment', '--comment', comment], { allowFailure: true });
      await run(bin, ['-w', '-t', 'nat', '-F', chain], { allowFailure: true });
      await run(bin, ['-w', '-t', 'nat', '-X', chain], { allowFailure: true });
    }
  }

  /** the hostPorts of every sandbox in the cache (what a restarted podbay rebuilds its rules from) */
  private async cachedHostPorts(): Promise<HostPortEntry[]> {
    const out: HostPortEntry[] = [];
    for (const id of await this.list()) {
      const e = await this.readCache(id).catch(() => undefined);
      const h = e && hostPortEntry(e);
      if (h) out.push(h);
    }
    return out;
  }

  private runtimeConf(entry: CacheEntry, netns: string): CniRuntimeConf {
    return { containerId: entry.sandboxId, netns, ifName: entry.ifName, args: entry.args, capabilityArgs: entry.runtimeConfig };
  }

  /**
   * The config list on disk as podbay uses it (rewritten when it differs). Pods set up at once
   * share one check: in a burst every pod read it before any had written it, and all wrote it.
   */
  private confListWrite?: Promise<void>;
  private writeConfList(): Promise<void> {
    this.confListWrite ??= (async () => {
      const text = JSON.stringify(this.confList, null, 2) + '\n';
      if ((await readFile(this.confPath, 'utf8').catch(() => undefined)) === text) return;
      await mkdir(resolve(this.settings.confDir), { recursive: true, mode: 0o755 });
      await writeFileAtomic(this.confPath, text, 0o644);
    })().finally(() => {
      this.confListWrite = undefined;
    });
    return this.confListWrite;
  }

  private cachePath(id: string): string {
    return join(this.cacheDir, `${id}.json`);
  }

  private async readCache(id: string): Promise<CacheEntry | undefined> {
    let text: string;
    try {
      text = await readFile(this.cachePath(id), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const entry = JSON.parse(text) as CacheEntry;
      if (entry.version === 1 && entry.sandboxId === id && entry.confList?.plugins) return entry;
    } catch {
      /* corrupt: fall back to the current config */
    }
    return undefined;
  }

  private async writeCache(entry: CacheEntry): Promise<void> {
    const write = () => writeFileAtomic(this.cachePath(entry.sandboxId), JSON.stringify(entry, null, 2) + '\n', 0o600);
    // the dir is made when a write finds it missing (first pod; after destroy), not before each
    await write().catch(async (e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(this.cacheDir, { recursive: true, mode: 0o700 });
      await write();
    });
  }

  private async removeCache(id: string): Promise<void> {
    await removeFast(this.cachePath(id), 'file');
  }

  /** Serialize verbs per sandbox id (setUp and tearDown of one pod never interleave). */
  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(id, tail);
    try {
      return await next;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }
}

/** A cached sandbox's hostPorts for the hostport manager (none for configs whose portmap plugin serves them). */
function hostPortEntry(entry: CacheEntry): HostPortEntry | undefined {
  if (!entry.result || entry.confList.plugins.some((p) => p.type === 'portmap')) return undefined;
  const pms = entry.runtimeConfig.portMappings;
  if (!Array.isArray(pms) || !pms.length) return undefined;
  const portMappings = (pms as Record<string, unknown>[]).map((p) => ({
    hostPort: Number(p.hostPort),
    containerPort: Number(p.containerPort),
    protocol: String(p.protocol) as PortMapping['protocol'],
    ...(typeof p.hostIP === 'string' && p.hostIP ? { hostIP: p.hostIP } : {}),
  }));
  const pod = `${entry.args.K8S_POD_NAMESPACE ?? ''}/${entry.args.K8S_POD_NAME ?? entry.sandboxId}`;
  return { sandboxId: entry.sandboxId, pod, ips: addressesFromResult(entry.result).ips, portMappings };
}

function attachment(entry: CacheEntry): NetworkAttachment {
  const { ips, gateway } = addressesFromResult(entry.result);
  return { sandboxId: entry.sandboxId, netnsPath: entry.netnsPath, ips, ...(gateway ? { gateway } : {}), interfaceName: entry.ifName };
}

/**
 * portmap's shared chains (CNI-HOSTPORT-DNAT/-SETMARK/-MASQ and their jumps) are made on the
 * first hostPort and never removed by the plugin. When no container has a DNAT entry left in
 * them, remove them, so a host that had none before podbay has none after; portmap makes them
 * again on its next ADD, for any CNI user. Only run after pods of an older podbay (which used
 * portmap) went: podbay itself no longer makes them.
 */
export async function removeIdleHostportChains(): Promise<void> {
  const iptables = which('iptables');
  const save = which('iptables-save');
  if (!iptables || !save) return;
  const nat = (await run(save, ['-t', 'nat'], { allowFailure: true })).stdout;
  if (!/^:CNI-HOSTPORT-DNAT /m.test(nat)) return;
  if (/^-A CNI-HOSTPORT-DNAT /m.test(nat)) return; // some container still maps a hostPort
  for (const line of nat.split('\n')) {
    const m = /^-A (PREROUTING|OUTPUT|POSTROUTING) (.*-j CNI-HOSTPORT-(?:DNAT|MASQ|SETMARK))$/.exec(line);
    if (m) await run(iptables, ['-t', 'nat', '-D', m[1], ...splitRule(m[2])], { allowFailure: true });
  }
  for (const chain of ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-MASQ']) {
    await run(iptables, ['-t', 'nat', '-F', chain], { allowFailure: true });
    await run(iptables, ['-t', 'nat', '-X', chain], { allowFailure: true });
  }
}

/** Split an iptables-save rule into argv, honouring double quotes (comments). */
function splitRule(rule: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rule))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  return out;
}
