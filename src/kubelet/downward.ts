/**
 * The downward API: what a pod may learn about itself, as env values (env.ts) and as the
 * files of downwardAPI / projected volumes (volumes.ts). Pure functions, after the kubelet's
 * fieldpath.ExtractFieldPathAsString, podFieldSelectorRuntimeValue and
 * resource.ExtractContainerResourceValue:
 *
 *   metadata.name/namespace/uid            the object's own
 *   metadata.labels / annotations          the whole map (volumes), `k="quoted value"` lines,
 *                                           sorted, no trailing newline (fieldpath.FormatMap)
 *   metadata.labels['k'] / annotations['k'] one value ('' when absent)
 *   spec.nodeName, spec.serviceAccountName the spec's
 *   status.podIP(s), status.hostIP(s)      from the sandbox and the node, NOT from the stored
 *                                           status: env is built before the first status write
 *                                           (the kubelet passes the sandbox's IPs the same way)
 *   limits/requests.cpu|memory|ephemeral-storage|hugepages-*
 *                                           the container's value divided by `divisor` and
 *                                           rounded up; a missing limit is the node's
 *                                           allocatable (MergeContainerResourceLimits)
 */
import { parseQuantity } from '../api/validation/quantity.js';

type Obj = Record<string, any>;

export class DownwardError extends Error {}

/** What the kubelet knows at container creation that the stored pod may not say yet. */
export interface DownwardContext {
  podIPs: readonly string[];
  hostIPs: readonly string[];
  /** the node's allocatable (cpu, memory, ephemeral-storage), the fallback for absent limits */
  allocatable: Record<string, string>;
}

/** Go's %q for a string: printable characters kept, the rest escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0x80 && c < 0xa0) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** fieldpath.FormatMap */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(String(m![k]))}`)
    .join('\n');
}

/** The value of a fieldRef's fieldPath for this pod. */
export function fieldRefValue(pod: Obj, path: string, ctx: DownwardContext): string {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (m) return pod.metadata[m[1]!]?.[m[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'metadata.labels':
      return formatMap(pod.metadata.labels);
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations);
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
      return ctx.hostIPs[0] ?? '';
    case 'status.hostIPs':
      return ctx.hostIPs.join(',');
    case 'status.podIP':
      return ctx.podIPs[0] ?? '';
    case 'status.podIPs':
      return ctx.podIPs.join(',');
  }
  throw new DownwardError(`unsupported fieldRef path ${JSON.stringify(path)}`);
}

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/**
 * A resourceFieldRef's value: ExtractContainerResourceValue with the container's limits merged
 * with the node's allocatable. cpu rounds up in millicores / divisor's millicores; memory,
 * ephemeral-storage and hugepages in bytes / divisor's bytes. A divisor of 0 counts as unset (1).
 */
export function resourceFieldRefValue(pod: Obj, containerName: string, resource: string, divisor: unknown, ctx: DownwardContext): string {
  const all: Obj[] = [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
  const c = all.find((x) => x.name === containerName);
  if (!c) throw new DownwardError(`container ${containerName} not found`);
  const m = /^(limits|requests)\.(.+)$/.exec(resource);
  if (!m) throw new DownwardError(`unsupported container resource : ${resource}`);
  const [, which, name] = m as unknown as [string, 'limits' | 'requests', string];
  let raw = c.resources?.[which]?.[name];
  // MergeContainerResourceLimits: cpu, memory and ephemeral-storage limits default to allocatable
  if (which === 'limits' && (raw === undefined || parseQuantity(raw)?.num === 0n) && ['cpu', 'memory', 'ephemeral-storage'].includes(name)) raw = ctx.allocatable[name];
  if (!['cpu', 'memory', 'ephemeral-storage'].includes(name) && !name.startsWith('hugepages-')) throw new DownwardError(`unsupported container resource : ${resource}`);
  const q = parseQuantity(raw ?? '0') ?? parseQuantity('0')!;
  // a zero divisor is an unset one (typed Go clients and kubectl debug --copy-to send "0"): 1
  let d = parseQuantity(divisor ?? '1');
  if (d?.num === 0n) d = parseQuantity('1');
  if (!d || d.num < 0n) throw new DownwardError(`invalid divisor ${JSON.stringify(divisor)} for ${resource}`);
  if (name === 'cpu') {
    // math.Ceil(float64(cpu.MilliValue()) / float64(divisor.MilliValue()))
    const milli = ceilDiv(q.num * 1000n, q.den);
    const dMilli = ceilDiv(d.num * 1000n, d.den);
    return String(ceilDiv(milli, dMilli));
  }
  const value = ceilDiv(q.num, q.den);
  const dValue = ceilDiv(d.num, d.den);
  return String(ceilDiv(value, dValue));
}

/** One downwardAPI volume item's file content. */
export function downwardFile(pod: Obj, item: Obj, ctx: DownwardContext): Buffer {
  if (item.fieldRef) return Buffer.from(fieldRefValue(pod, item.fieldRef.fieldPath, ctx));
  const r = item.resourceFieldRef ?? {};
  return Buffer.from(resourceFieldRefValue(pod, r.containerName, r.resource, r.divisor, ctx));
}
