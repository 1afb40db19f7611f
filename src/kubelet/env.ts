/**
 * A container's environment as the kubelet makes it: envFrom sources first, then `env` in
 * order, each value expanded against the variables defined before it. A missing ConfigMap,
 * Secret or key (unless optional) is a ConfigError: the container waits with
 * CreateContainerConfigError and the message below, as kubelet words it.
 */
import type { KubeletClient } from './client.js';
import { expand, type EnvVar } from './container-args.js';
import { DownwardError, fieldRefValue, resourceFieldRefValue, type DownwardContext } from './downward.js';

type Obj = Record<string, any>;

export class ConfigError extends Error {}

/** A downward API failure is the container's CreateContainerConfigError. */
function downwardValue(f: () => string): string {
  try {
    return f();
  } catch (e) {
    throw e instanceof DownwardError ? new ConfigError(e.message) : e;
  }
}

/**
 * `serviceVars` (./service-env.ts) come last and lose to the container's own variables, but
 * $(NAME) in its env may refer to them, as the kubelet's makeEnvironmentVariables does.
 */
export async function containerEnv(client: KubeletClient, pod: Obj, container: Obj, downward: DownwardContext, serviceVars: Map<string, string> = new Map()): Promise<EnvVar[]> {
  const ns = pod.metadata.namespace;
  const cache = new Map<string, Obj | undefined>();
  const get = async (kind: 'configmap' | 'secret', name: string) => {
    const key = `${kind}/${name}`;
    if (!cache.has(key)) cache.set(key, kind === 'configmap' ? await client.getConfigMap(ns, name) : await client.getSecret(ns, name));
    return cache.get(key);
  };
  const dataOf = (kind: 'configmap' | 'secret', o: Obj): Record<string, string> => {
    if (kind === 'configmap') return { ...(o.data ?? {}) };
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.data ?? {})) out[k] = Buffer.from(String(v), 'base64').toString('utf8');
    return out;
  };

  const vars = new Map<string, string>();
  for (const src of (container.envFrom ?? []) as Obj[]) {
    const kind = src.configMapRef ? 'configmap' : 'secret';
    const ref = src.configMapRef ?? src.secretRef;
    const o = await get(kind, ref.name);
    if (!o) {
      if (ref.optional) continue;
      throw new ConfigError(`${kind} "${ref.name}" not found`);
    }
    for (const [k, v] of Object.entries(dataOf(kind, o))) vars.set(`${src.prefix ?? ''}${k}`, v);
  }
  const lookup = (n: string) => vars.get(n) ?? serviceVars.get(n);
  for (const e of (container.env ?? []) as Obj[]) {
    if (e.valueFrom) {
      const vf = e.valueFrom;
      if (vf.fieldRef) {
        vars.set(e.name, downwardValue(() => fieldRefValue(pod, vf.fieldRef.fieldPath, downward)));
      } else if (vf.configMapKeyRef || vf.secretKeyRef) {
        const kind = vf.configMapKeyRef ? 'configmap' : 'secret';
        const ref = vf.configMapKeyRef ?? vf.secretKeyRef;
        const o = await get(kind, ref.name);
        if (!o) {
          if (ref.optional) continue;
          throw new ConfigError(`${kind} "${ref.name}" not found`);
        }
        const data = dataOf(kind, o);
        if (!(ref.key in data)) {
          if (ref.optional) continue;
          throw new ConfigError(`couldn't find key ${ref.key} in ${kind === 'configmap' ? 'ConfigMap' : 'Secret'} ${ns}/${ref.name}`);
        }
        vars.set(e.name, data[ref.key]);
      } else if (vf.resourceFieldRef) {
        const r = vf.resourceFieldRef;
        vars.set(e.name, downwardValue(() => resourceFieldRefValue(pod, r.containerName || container.name, r.resource, r.divisor, downward)));
      }
    } else {
      vars.set(e.name, expand(e.value ?? '', lookup));
    }
  }
  const out = [...vars].map(([name, value]) => ({ name, value }));
  for (const [name, value] of serviceVars) if (!vars.has(name)) out.push({ name, value });
  return out;
}
