/**
 * CNI plugin invocation per the CNI specification 1.0.0 (https://www.cni.dev/docs/spec/).
 *
 * A plugin is an executable named after the config's `type`, found in one of the bin dirs. It
 * gets its parameters in the environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME,
 * CNI_ARGS, CNI_PATH) and its network config on stdin, and answers with a JSON result on stdout,
 * or with a JSON error `{code, msg, details}` on stdout and a non-zero exit.
 *
 * For a config list, the runtime builds each plugin's stdin from the plugin's own object plus:
 *   - `name` and `cniVersion` of the list,
 *   - `runtimeConfig` holding the runtime's values for the capabilities the plugin declares
 *     (`capabilities: {portMappings: true}` -> `runtimeConfig: {portMappings: [...]}`),
 *   - `prevResult`: for ADD, the previous plugin's result (chaining); for DEL and CHECK, the
 *     cached final result of the ADD.
 *
 *   ADD:   plugins in order; the last plugin's result is the attachment's result.
 *   DEL:   plugins in reverse order; every plugin runs even if an earlier one failed, and the
 *          failures are collected (a DEL that stops early leaks IPAM leases and iptables rules).
 *   CHECK: plugins in order, with the cached result.
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { run, ExecError } from '../sys/exec.js';

export const CNI_VERSION = '1.0.0';
export const DEFAULT_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
export const PLUGINS_PACKAGE = 'containernetworking-plugins';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** One plugin's object in a config list (`type` names the binary). */
export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: CniPluginConf[];
}

/** The runtime's side of one attachment: where and for whom. */
export interface CniRuntimeConf {
  containerId: string;
  /** netns path; may be '' for DEL when the namespace is already gone */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, e.g. K8S_POD_NAME */
  args: Record<string, string>;
  /** values for plugin capabilities, e.g. {portMappings: [...]} */
  capabilityArgs: Record<string, unknown>;
}

export interface CniIPConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

/** A CNI 1.0.0 success result (the fields podbay reads; others are kept as they come). */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: CniIPConfig[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A plugin failure, naming the plugin, the verb and the plugin's own message. */
export class CniError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: CniCommand,
    readonly code: number | undefined,
    readonly msg: string,
    readonly details: string | undefined,
  ) {
    super(`CNI plugin ${plugin} ${command} failed: ${msg}${details ? ` (${details})` : ''}${code !== undefined ? ` [CNI error code ${code}]` : ''}`);
    this.name = 'CniError';
  }
}

/**
 * CNI_ARGS text. `IgnoreUnknown=1` comes first: plugins parse CNI_ARGS into typed structs and
 * refuse keys they do not know (host-local does not know K8S_POD_NAME) unless told to ignore them.
 */
export function cniArgsString(args: Record<string, string>): string {
  const pairs: string[] = ['IgnoreUnknown=1'];
  for (const [k, v] of Object.entries(args)) {
    if (k === 'IgnoreUnknown') continue;
    if (/[;=]/.test(k) || v.includes(';')) throw new Error(`CNI_ARGS ${k}=${JSON.stringify(v)} may not contain ";" (or "=" in the key)`);
    pairs.push(`${k}=${v}`);
  }
  return pairs.join(';');
}

/** The Kubernetes CNI_ARGS every pod attachment carries (as kubelet/CRI runtimes send). */
export function k8sArgs(p: { podNamespace: string; podName: string; sandboxId: string; podUid: string }): Record<string, string> {
  return {
    K8S_POD_NAMESPACE: p.podNamespace,
    K8S_POD_NAME: p.podName,
    K8S_POD_INFRA_CONTAINER_ID: p.sandboxId,
    K8S_POD_UID: p.podUid,
  };
}

/** The plugin's environment: the caller's (plugins need PATH for iptables), CNI_* overridden. */
export function cniEnv(command: CniCommand, rt: CniRuntimeConf, binDirs: readonly string[], base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('CNI_')) env[k] = v;
  if (!env.PATH) env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  env.CNI_COMMAND = command;
  env.CNI_CONTAINERID = rt.containerId;
  env.CNI_NETNS = rt.netns;
  env.CNI_IFNAME = rt.ifName;
  env.CNI_ARGS = cniArgsString(rt.args);
  env.CNI_PATH = binDirs.join(':');
  return env;
}

/** What one plugin in a list reads on stdin. */
export function pluginStdin(list: CniConfList, plugin: CniPluginConf, capabilityArgs: Record<string, unknown>, prevResult?: CniResult): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && capabilityArgs[cap] !== undefined) runtimeConfig[cap] = capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  else delete conf.runtimeConfig;
  if (prevResult) conf.prevResult = prevResult;
  else delete conf.prevResult;
  return conf;
}

/** Turn a failed plugin run into a CniError carrying the plugin's own message. */
export function parsePluginError(plugin: string, command: CniCommand, exitCode: number | null, stdout: string, stderr: string): CniError {
  const text = stdout.trim();
  if (text) {
    try {
      const e = JSON.parse(text) as { code?: unknown; msg?: unknown; details?: unknown };
      if (e && typeof e === 'object' && (typeof e.msg === 'string' || typeof e.code === 'number')) {
        return new CniError(
          plugin,
          command,
          typeof e.code === 'number' ? e.code : undefined,
          typeof e.msg === 'string' && e.msg ? e.msg : 'no message',
          typeof e.details === 'string' && e.details ? e.details : undefined,
        );
      }
    } catch {
      /* not JSON: fall through */
    }
  }
  const detail = (stderr.trim() || text).split('\n').slice(-5).join('\n');
  return new CniError(plugin, command, undefined, `exit ${exitCode ?? 'signal'}${detail ? `: ${detail}` : ' with no output'}`, undefined);
}

/**
 * Plugins found, by bin dirs and type: each pod's ADD and DEL run ~4 plugins, and each looked
 * through the bin dirs again. A plugin that later fails to run at all (removed) is looked for
 * again on the next call (invokePlugin forgets it); a missing one is never remembered.
 */
const foundPlugins = new Map<string, Promise<string>>();

const pluginKey = (type: string, binDirs: readonly string[]) => `${binDirs.join('\0')}\0\0${type}`;

/** Path of a plugin binary, or an error saying which package provides it. */
export function findPlugin(type: string, binDirs: readonly string[]): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(type)) return Promise.reject(new Error(`invalid CNI plugin type ${JSON.stringify(type)}`));
  const key = pluginKey(type, binDirs);
  let found = foundPlugins.get(key);
  if (!found) {
    // one search for the pods of a burst asking at once
    found = lookForPlugin(type, binDirs);
    foundPlugins.set(key, found);
    found.catch(() => {
      if (foundPlugins.get(key) === found) foundPlugins.delete(key);
    });
  }
  return found;
}

async function lookForPlugin(type: string, binDirs: readonly string[]): Promise<string> {
  for (const dir of binDirs) {
    const p = join(dir, type);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* next dir */
    }
  }
  throw new Error(`CNI plugin ${JSON.stringify(type)} not found in ${binDirs.join(', ') || '(no bin dirs)'}: install the Debian package ${PLUGINS_PACKAGE}`);
}

export interface InvokeOptions {
  binDirs: readonly string[];
  timeoutMs?: number;
  baseEnv?: NodeJS.ProcessEnv;
}

/** Run one plugin; resolves to its parsed stdout (a result for ADD, usually nothing for DEL/CHECK). */
export async function invokePlugin(command: CniCommand, stdin: Record<string, unknown>, rt: CniRuntimeConf, opts: InvokeOptions): Promise<CniResult | undefined> {
  const type = String(stdin.type);
  const bin = await findPlugin(type, opts.binDirs);
  let stdout: string;
  try {
    ({ stdout } = await run(bin, [], {
      input: JSON.stringify(stdin),
      env: cniEnv(command, rt, opts.binDirs, opts.baseEnv),
      timeoutMs: opts.timeoutMs ?? 60_000,
    }));
  } catch (e) {
    // not run at all (or killed): look for it again next time
    if (!(e instanceof ExecError) || e.code === null) foundPlugins.delete(pluginKey(type, opts.binDirs));
    if (e instanceof ExecError) throw parsePluginError(type, command, e.code, e.stdout, e.stderr);
    throw e;
  }
  if (!stdout.trim()) {
    if (command === 'ADD') throw new CniError(type, command, undefined, 'plugin printed no result', undefined);
    return undefined;
  }
  try {
    return JSON.parse(stdout) as CniResult;
  } catch {
    throw new CniError(type, command, undefined, `plugin printed a result that is not JSON: ${stdout.trim().slice(0, 200)}`, undefined);
  }
}

/** ADD every plugin in order, chaining prevResult; returns the final result. Does not roll back. */
export async function addNetworkList(list: CniConfList, rt: CniRuntimeConf, opts: InvokeOptions): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const plugin of list.plugins) {
    prev = await invokePlugin('ADD', pluginStdin(list, plugin, rt.capabilityArgs, prev), rt, opts);
  }
  if (!prev) throw new Error(`CNI config list ${list.name} has no plugins`);
  return prev;
}

/**
 * DEL every plugin in reverse order with the cached result as prevResult. Never throws for a
 * plugin failure: every plugin runs and the failures are returned (empty when all succeeded).
 */
export async function delNetworkList(list: CniConfList, rt: CniRuntimeConf, opts: InvokeOptions, cachedResult?: CniResult): Promise<Error[]> {
  const errors: Error[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await invokePlugin('DEL', pluginStdin(list, plugin, rt.capabilityArgs, cachedResult), rt, opts);
    } catch (e) {
      errors.push(e as Error);
    }
  }
  return errors;
}

/** CHECK every plugin in order against the cached result; throws the first failure. */
export async function checkNetworkList(list: CniConfList, rt: CniRuntimeConf, opts: InvokeOptions, cachedResult: CniResult): Promise<void> {
  if (list.disableCheck) return;
  for (const plugin of list.plugins) {
    await invokePlugin('CHECK', pluginStdin(list, plugin, rt.capabilityArgs, cachedResult), rt, opts);
  }
}
