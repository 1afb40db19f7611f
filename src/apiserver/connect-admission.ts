/**
 * The options objects of CONNECT requests as kube-apiserver builds them for admission: the
 * connect handler decodes the request's query (and, for proxy, the path after /proxy) into
 * the subresource's options kind and hands that to the admission plugins, webhooks among them.
 * A mutating webhook may change it; the connection is then made with what it returned, so the
 * readers below take the options back.
 *
 *   pods/exec         v1 PodExecOptions       {stdin, stdout, stderr, tty, container, command}
 *   pods/attach       v1 PodAttachOptions     {stdin, stdout, stderr, tty, container}
 *   pods/portforward  v1 PodPortForwardOptions {ports}
 *   pods/proxy        v1 PodProxyOptions      {path}
 *   nodes/proxy       v1 NodeProxyOptions     {path}
 *
 * Booleans that are false and empty strings are left out, as Go's omitempty does; command is
 * always there (it has no omitempty).
 */
import { badRequest } from '../api/errors.js';
import type { ExecRequest } from './exec.js';
import { queryBool } from './query.js';

type Obj = Record<string, any>;

function streamFields(q: URLSearchParams): Obj {
  const out: Obj = {};
  for (const k of ['stdin', 'stdout', 'stderr', 'tty']) if (queryBool(q, k)) out[k] = true;
  const container = q.get('container');
  if (container) out.container = container;
  return out;
}

export function execOptions(q: URLSearchParams): Obj {
  return { kind: 'PodExecOptions', apiVersion: 'v1', ...streamFields(q), command: q.getAll('command') };
}

export function attachOptions(q: URLSearchParams): Obj {
  return { kind: 'PodAttachOptions', apiVersion: 'v1', ...streamFields(q) };
}

export function portForwardOptions(ports: number[]): Obj {
  return { kind: 'PodPortForwardOptions', apiVersion: 'v1', ...(ports.length ? { ports } : {}) };
}

/** the path after /proxy, decoded, with a leading slash (kube's getRequestOptions) */
export function proxyOptions(kind: 'pod' | 'node', rest: string): Obj {
  let path = rest;
  try {
    path = decodeURIComponent(rest);
  } catch {
    // a path that is not valid percent-encoding is shown as sent
  }
  return { kind: kind === 'pod' ? 'PodProxyOptions' : 'NodeProxyOptions', apiVersion: 'v1', ...(path ? { path } : {}) };
}

/** the proxied path to use after admission: the one sent unless a webhook changed it */
export function proxyRest(sent: string, shown: Obj, admitted: Obj): string {
  if (admitted.path === shown.path) return sent;
  if (admitted.path !== undefined && typeof admitted.path !== 'string') throw badRequest('the admitted proxy options have a path that is not a string');
  const path = String(admitted.path ?? '');
  return encodeURI(path === '' || path.startsWith('/') ? path : `/${path}`);
}

const bool = (v: unknown) => v === true;

/** the stream flags (and command) of admitted PodExecOptions / PodAttachOptions */
export function streamRequest(o: Obj, withCommand: boolean): ExecRequest {
  if (o.container !== undefined && typeof o.container !== 'string') throw badRequest('the admitted options have a container that is not a string');
  const command = withCommand ? o.command : [];
  if (!Array.isArray(command) || command.some((c) => typeof c !== 'string')) throw badRequest('the admitted options have a command that is not a list of strings');
  if (withCommand && command.length === 0) throw badRequest('you must specify at least 1 command');
  const tty = bool(o.tty);
  return {
    command,
    container: o.container || undefined,
    stdin: bool(o.stdin),
    stdout: bool(o.stdout),
    // the kubelet: "Access to exec with tty and stderr is not supported, bypassing stderr"
    stderr: bool(o.stderr) && !tty,
    tty,
  };
}

/** the ports of admitted PodPortForwardOptions */
export function forwardedPorts(o: Obj, sent: number[]): number[] {
  const ports = o.ports ?? [];
  if (!Array.isArray(ports) || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw badRequest('the admitted port-forward options have ports that are not port numbers');
  return ports.length ? ports : sent;
}

/**
 * The query a connection is made with after admission: the request's own, with the stream
 * flags, container, command and ports as the admitted options have them (here or relayed to
 * the pod's node, whose kubelet reads the same query).
 */
export function admittedQuery(kind: 'exec' | 'attach' | 'portforward', q: URLSearchParams, admitted: Obj, sentPorts: number[]): URLSearchParams {
  const out = new URLSearchParams(q);
  if (kind === 'portforward') {
    const ports = forwardedPorts(admitted, sentPorts);
    if (ports.join() !== sentPorts.join()) {
      out.delete('ports');
      for (const p of ports) out.append('ports', String(p));
    }
    return out;
  }
  const r = streamRequest(admitted, kind === 'exec');
  for (const k of ['command', 'container', 'stdin', 'stdout', 'stderr', 'tty']) out.delete(k);
  for (const c of r.command) out.append('command', c);
  if (r.container) out.set('container', r.container);
  for (const k of ['stdin', 'stdout', 'stderr', 'tty'] as const) if (r[k]) out.set(k, 'true');
  return out;
}
