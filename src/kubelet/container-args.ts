/**
 * Kubernetes' rules for what a container runs and with which environment (pure functions):
 *
 * - `$(VAR)` in env values, command and args expands to an earlier-defined variable of the
 *   container; `$$` is a literal `$`; an undefined `$(VAR)` stays as written
 *   (k8s.io/kubernetes third_party/forked/golang/expansion).
 * - command/args vs the image's Entrypoint/Cmd:
 *     command set            -> command + args          (the image's Cmd is ignored)
 *     only args set          -> Entrypoint + args
 *     neither                -> Entrypoint + Cmd
 * - the container's env overrides the image's variables of the same name.
 */
import type { ImageConfig } from '../image/types.js';

export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        // unterminated: the rest is literal
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const v = name ? lookup(name) : undefined;
      out += v !== undefined ? v : `$(${name})`;
      i = close;
      continue;
    }
    out += c;
  }
  return out;
}

export interface EnvVar {
  name: string;
  value: string;
}

/** The argv a container runs, after expansion with the container's own env. */
export function resolveArgv(container: { command?: string[]; args?: string[] }, image: ImageConfig, env: EnvVar[]): string[] {
  const map = new Map(env.map((e) => [e.name, e.value]));
  const lookup = (n: string) => map.get(n);
  const command = container.command?.length ? container.command.map((s) => expand(s, lookup)) : undefined;
  const args = container.args?.length ? container.args.map((s) => expand(s, lookup)) : undefined;
  if (command) return [...command, ...(args ?? [])];
  if (args) return [...(image.entrypoint ?? []), ...args];
  return [...(image.entrypoint ?? []), ...(image.cmd ?? [])];
}

/** Image env first, overridden by the container's variables (KEY=value strings). */
export function mergeEnv(imageEnv: string[] | undefined, env: EnvVar[]): string[] {
  const out = new Map<string, string>();
  for (const kv of imageEnv ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) out.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  for (const e of env) {
    out.delete(e.name); // keep the container's order after the image's
    out.set(e.name, e.value);
  }
  return [...out].map(([k, v]) => `${k}=${v}`);
}
