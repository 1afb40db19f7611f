/**
 * route_localnet, scoped and guarded (CVE-2020-8558).
 *
 * A hostPort answers on 127.0.0.1 by DNAT'ing the host's own connection to the pod (as portmap's
 * `snat` did): the packet leaves through the pod bridge with source 127.0.0.1, which the kernel
 * allows only with route_localnet on that device (or on `all`). The hostport manager
 * (./hostport-manager.ts) sets net.ipv4.conf.<bridge>.route_localnet=1 after ensuring this guard,
 * as portmap did on every ADD with snat: as soon as a pod's eth0 ADD has made the bridge (the
 * proxy's NodePorts on 127.0.0.1 and LoadBalancer addresses on 127.x are DNAT'ed through it the
 * same way, hostPort or not), and before its first write of an IPv4 hostPort. Measured on kernel 6.18 in a scratch network namespace with
 * conf/all/route_localnet=0: the hostPort answers on 127.0.0.1 with the bridge's setting alone,
 * and stops answering when it is cleared. So podbay no longer sets it host-wide (it used to
 * write conf/all), and never needs to touch it: it lives and dies with the bridge.
 *
 * The bridge setting still lets a pod (with NET_ADMIN, or raw packets) send to 127.0.0.1 via
 * its gateway and reach host services bound to loopback: the kernel no longer drops such
 * "martian" packets arriving on the bridge. Before the first ADD, podbay installs what the
 * kubelet and kube-proxy install for the same hole: a filter-table DROP for packets to
 * 127.0.0.0/8 from outside it that conntrack did not DNAT. It lives in a chain of the bridge's
 * own, hooked first in INPUT for packets arriving on that bridge (the only device whose
 * route_localnet podbay's pods caused), so two podbay servers with different bridges never
 * touch each other's rule.
 *
 *   ensure (before any ADD):               -N chain, -A chain DROP rule, -I INPUT 1 hook
 *   remove (after the bridge is deleted):  -D hook, -F chain, -X chain
 * (both through ./bridge-chain.ts)
 *
 * IPv6 has no such hole (::1 is never routed off-host); only iptables (IPv4) is touched.
 */
import { ensureHookedChain, removeHookedChain, type HookedChain } from './bridge-chain.js';

/** The comment kube-proxy's (and the kubelet's) rule carries. */
export const LOCALNET_COMMENT = 'block incoming localnet connections';

/**
 * The guard chain of one bridge. iptables chain names have at most 28 characters and a bridge
 * name at most 15: the 12-character prefix keeps the whole name, so two bridges never share one.
 */
export function localnetChain(bridge: string): string {
  return `PODBAY-LNET-${bridge}`;
}

/** The hook in INPUT: packets arriving on the bridge go through its guard chain. */
export function localnetHookRule(bridge: string): string[] {
  return ['-i', bridge, '-m', 'comment', '--comment', `podbay: localnet guard for ${bridge}`, '-j', localnetChain(bridge)];
}

/** The DROP rule, as kube-proxy writes it (iptables-save prints it in this order too). */
export function localnetDropRule(): string[] {
  return ['!', '-s', '127.0.0.0/8', '-d', '127.0.0.0/8', '-m', 'comment', '--comment', LOCALNET_COMMENT, '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP'];
}

/** The lines iptables-save prints for a bridge's guard (for checks and tests). */
export function localnetSaveLines(bridge: string): string[] {
  const chain = localnetChain(bridge);
  const quote = (args: string[]) => args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ');
  return [`:${chain} - [0:0]`, `-A INPUT ${quote(localnetHookRule(bridge))}`, `-A ${chain} ${quote(localnetDropRule())}`];
}

/** The guard of one bridge as a hooked chain (./bridge-chain.ts). */
function guardChain(bridge: string): HookedChain {
  const hook = localnetHookRule(bridge);
  return { table: 'filter', chain: localnetChain(bridge), rules: [localnetDropRule()], hook: { chain: 'INPUT', match: hook.slice(0, -2) } };
}

/**
 * Make the bridge's guard chain, its DROP rule and the INPUT hook; idempotent, and checked on
 * pod set-up (at most once in 5 s) so a guard flushed by someone else comes back.
 */
export function ensureLocalnetGuard(bridge: string): Promise<void> {
  return ensureHookedChain(guardChain(bridge));
}

/** Remove the bridge's hook and chain (only this bridge's); a missing one is fine. */
export function removeLocalnetGuard(bridge: string): Promise<void> {
  return removeHookedChain(guardChain(bridge));
}
