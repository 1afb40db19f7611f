/**
 * `kubectl attach` (and `kubectl run -i`): the running container's stdio through conmon. As the
 * kubelet does, whether there is a terminal comes from the container's spec (it cannot change
 * after start), stdin is offered only to a container made with `stdin: true`, and a container
 * that is not running is refused before the upgrade.
 */
import { badRequest } from '../api/errors.js';
import type { StreamTarget } from '../api/streaming.js';
import type { Runtime } from '../runtime/types.js';
import { allContainerSpecs } from './ephemeral-containers.js';

type Obj = Record<string, any>;

export async function attachToPod(runtime: Runtime, pod: Obj, container: string | undefined, stdin: boolean): Promise<{ tty: boolean; start: () => Promise<StreamTarget> }> {
  const name = container ?? pod.spec?.containers?.[0]?.name;
  const spec = allContainerSpecs(pod).find((c) => c.name === name);
  if (!spec) throw badRequest(`container ${name} is not valid for pod ${pod.metadata.name}`);
  if (!pod.spec?.nodeName) throw badRequest(`pod ${pod.metadata.name} does not have a host assigned`);
  for (const s of await runtime.listPodSandboxes()) {
    if (s.config.podUid !== pod.metadata.uid) continue;
    const running = (await runtime.listContainers(s.id)).find((c) => c.config.name === name && c.state === 'running');
    if (running) {
      const tty = Boolean(running.config.tty);
      return {
        tty,
        start: async () => {
          const p = runtime.attachStream(running.id, stdin && Boolean(running.config.stdin));
          return { ...p, resize: tty ? p.resize : undefined, what: `attach ${name}` };
        },
      };
    }
  }
  throw badRequest(`unable to upgrade connection: container not found ("${name}")`);
}
