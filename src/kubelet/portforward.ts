/**
 * `kubectl port-forward`: find the pod's sandbox before the upgrade (so a pod that is not
 * running is an ordinary HTTP error, worded as the kubelet and containerd word it) and return
 * how to dial a port inside its network namespace. A failed dial is reported as the kubelet's
 * portforward server reports it on the error stream, wrapping containerd's message.
 */
import type { Duplex } from 'node:stream';
import { badRequest } from '../api/errors.js';
import { dialInNetns, PortDialError } from '../runtime/port-relay.js';
import type { Runtime } from '../runtime/types.js';

type Obj = Record<string, any>;

export interface PortForwardTarget {
  /** resolves with the connection, or rejects with the message for the error stream */
  dial(port: number): Promise<Duplex>;
}

export async function portForwardToPod(runtime: Runtime, pod: Obj): Promise<PortForwardTarget> {
  const desc = `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
  if (!pod.spec?.nodeName) throw badRequest(`pod ${pod.metadata.name} does not have a host assigned`);
  const sandboxes = (await runtime.listPodSandboxes()).filter((s) => s.config.podUid === pod.metadata.uid);
  if (sandboxes.length === 0) throw badRequest(`unable to upgrade connection: failed to find sandboxID for pod ${desc}`);
  const sandbox = sandboxes.find((s) => s.state === 'ready');
  if (!sandbox) throw badRequest('unable to upgrade connection: sandbox container is not running');
  const netnsPath = sandbox.config.hostNetwork ? undefined : sandbox.netnsPath;
  const where = netnsPath ?? 'host';
  return {
    async dial(port: number): Promise<Duplex> {
      // the kubelet parses the header with ParseInt and forwards whatever it got; 0 cannot connect
      const prefix = `error forwarding port ${port} to pod ${sandbox.id}, uid : `;
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new PortDialError(`${prefix}failed to execute portforward in network namespace "${where}": invalid port ${port}`);
      }
      try {
        return await dialInNetns(netnsPath, port);
      } catch (e) {
        const inner = e instanceof PortDialError ? `failed to connect to localhost:${port} inside namespace "${sandbox.id}", ${e.message}` : (e as Error).message;
        throw new PortDialError(`${prefix}failed to execute portforward in network namespace "${where}": ${inner}`);
      }
    },
  };
}
