/**
 * Pods' traffic leaving the pod network is masqueraded by one rule set per bridge, as the
 * kubelet's kubenet did (its single MASQUERADE rule for traffic leaving the cluster CIDR),
 * instead of the bridge plugin's `ipMasq`, which makes a chain per pod: three to four iptables
 * runs on every ADD and every DEL, contended on the xtables lock in a burst.
 *
 *   nat POSTROUTING  -s <podCidr> -> PODBAY-MASQ-<bridge>
 *   PODBAY-MASQ-<bridge>:  -d <podCidr> RETURN (pod to pod keeps its source)
 *                          -d <clusterCidr> RETURN (so does pod to pod on another node, as
 *                             flannel's rules leave the cluster network unmasqueraded)
 *                          -d multicast RETURN (as the bridge plugin leaves it)
 *                          MASQUERADE
 *
 * Made before a pod's first ADD (with the localnet guard), removed with the bridge
 * (CniPodNetwork.destroy). Pods whose cached config still says ipMasq (made by an older podbay)
 * keep their per-pod chain until their DEL removes it.
 */
import { ensureHookedChain, removeHookedChain, type HookedChain } from './bridge-chain.js';

/** iptables chain names have at most 28 characters, a bridge name at most 15 */
export function masqueradeChain(bridge: string): string {
  return `PODBAY-MASQ-${bridge}`;
}

export function masqueradeRules(bridge: string, podCidr: string, clusterCidr = podCidr): HookedChain {
  const v6 = podCidr.includes(':');
  return {
    table: 'nat',
    chain: masqueradeChain(bridge),
    v6,
    rules: [
      ['-d', podCidr, '-m', 'comment', '--comment', 'podbay: pod to pod keeps its source', '-j', 'RETURN'],
      ...(clusterCidr !== podCidr ? [['-d', clusterCidr, '-m', 'comment', '--comment', 'podbay: pod to pod on another node keeps its source', '-j', 'RETURN']] : []),
      ['-d', v6 ? 'ff00::/8' : '224.0.0.0/4', '-j', 'RETURN'],
      ['-m', 'comment', '--comment', `podbay: pods of ${bridge} leave masqueraded`, '-j', 'MASQUERADE'],
    ],
    hook: { chain: 'POSTROUTING', match: ['-s', podCidr, '-m', 'comment', '--comment', `podbay: masquerade pods of ${bridge}`] },
  };
}

export function ensurePodMasquerade(bridge: string, podCidr: string, clusterCidr?: string): Promise<void> {
  return ensureHookedChain(masqueradeRules(bridge, podCidr, clusterCidr));
}

export function removePodMasquerade(bridge: string, podCidr: string, clusterCidr?: string): Promise<void> {
  return removeHookedChain(masqueradeRules(bridge, podCidr, clusterCidr));
}
