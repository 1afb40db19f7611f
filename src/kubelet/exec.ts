/**
 * `kubectl exec`: find the running container of a pod by name and start a command in it.
 * The checks happen before the upgrade (WebSocket or SPDY) so that a wrong container name is an
 * ordinary 400, worded as the kubelet words it.
 */
import { badRequest } from '../api/errors.js';
import type { StreamTarget } from '../api/streaming.js';
import type { Runtime } from '../runtime/types.js';
import { allContainerSpecs } from './ephemeral-containers.js';

type Obj = Record<string, any>;

export async function execInPod(
  runtime: Runtime,
  pod: Obj,
  container: string | undefined,
  argv: string[],
  tty: boolean,
): Promise<() => Promise<StreamTarget>> {
  const name = container ?? pod.spec?.containers?.[0]?.name;
  // any container of the pod: init and ephemeral ones too, as kube-apiserver's validateContainer
  if (!allContainerSpecs(pod).some((c) => c.name === name)) throw badRequest(`container ${name} is not valid for pod ${pod.metadata.name}`);
  if (!pod.spec?.nodeName) throw badRequest(`pod ${pod.metadata.name} does not have a host assigned`);
  for (const s of await runtime.listPodSandboxes()) {
    if (s.config.podUid !== pod.metadata.uid) continue;
    const running = (await runtime.listContainers(s.id)).find((c) => c.config.name === name && c.state === 'running');
    if (running) {
      return async () => ({ ...runtime.execStream(running.id, argv, tty), what: argv.join(' ') });
    }
  }
  throw badRequest(`unable to upgrade connection: container not found ("${name}")`);
}
