/** The strategy of each kind that has one; every other kind gets the plain generic flow. */
import type { ResourceInfo } from '../../api/registry.js';
import { namespaceStrategy } from './namespace.js';
import { podStrategy } from './pod.js';
import { serviceStrategy } from './service.js';
import { persistentVolumeClaimStrategy, persistentVolumeStrategy } from './volume.js';
import { ingressStrategy } from './ingress.js';
import { csrStrategy } from './csr.js';
import type { Strategy } from './types.js';

export type { Strategy, WritePart, StrategyContext, Allocation } from './types.js';

const PLAIN: Strategy = {};

/** keyed by group and resource, so a kind of another group with the same plural never picks one up */
const STRATEGIES = new Map<string, Strategy>([
  ['/namespaces', namespaceStrategy],
  ['/pods', podStrategy],
  ['/services', serviceStrategy],
  ['/persistentvolumeclaims', persistentVolumeClaimStrategy],
  ['/persistentvolumes', persistentVolumeStrategy],
  ['networking.k8s.io/ingresses', ingressStrategy],
  ['certificates.k8s.io/certificatesigningrequests', csrStrategy],
]);

export function strategyFor(r: ResourceInfo): Strategy {
  return STRATEGIES.get(`${r.group}/${r.resource}`) ?? PLAIN;
}
