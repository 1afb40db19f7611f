/**
 * Name resolution inside a pod, as the kubelet decides it (pkg/kubelet/network/dns and
 * GeneratePodHostNameAndDomain); the runtime only writes the files (oci-spec.ts):
 *
 *   hostname     spec.hostname or the pod name, cut to 63 characters with trailing '-'/'.'
 *                trimmed; with setHostnameAsFQDN and a subdomain the UTS hostname is the FQDN
 *                (refused when longer than 63)
 *   domain       <subdomain>.<namespace>.svc.<clusterDomain> when spec.subdomain is set
 *   resolv.conf  by dnsPolicy:
 *                  None                     only spec.dnsConfig
 *                  ClusterFirst             the cluster DNS with the cluster search path and
 *                                           ndots:5; with no cluster DNS configured (podbay
 *                                           server --cluster-dns none) the kubelet falls back to Default and
 *                                           records MissingClusterDNS; a hostNetwork pod is
 *                                           Default
 *                  ClusterFirstWithHostNet  ClusterFirst, also for hostNetwork pods
 *                  Default                  the host's resolv.conf (its loopback nameservers
 *                                           dropped for pods in their own netns, where they
 *                                           answer nothing)
 *                then spec.dnsConfig is merged in (appendDNSConfig) and the result cut to the
 *                limits (3 nameservers; 32 search domains / 2048 characters, none over 253),
 *                each cut a DNSConfigForming warning.
 */

import type { DNSConfig } from '../runtime/types.js';

type Obj = Record<string, any>;

export interface PodEventNote {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export const HOSTNAME_MAX_LEN = 63;
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;
const DNS1123_SUBDOMAIN_MAX_LEN = 253;

export class PodDNSError extends Error {}

/** truncatePodHostnameIfNeeded */
export function truncateHostname(hostname: string): string {
  if (hostname.length <= HOSTNAME_MAX_LEN) return hostname;
  const t = hostname.slice(0, HOSTNAME_MAX_LEN).replace(/[-.]+$/, '');
  if (!t) throw new PodDNSError(`hostname for pod was invalid: ${JSON.stringify(hostname)}`);
  return t;
}

/**
 * The pod's names: `hostname` for /etc/hosts, `domain` (may be ''), and `utsHostname` (what
 * `hostname` prints: the FQDN with setHostnameAsFQDN).
 */
export function podHostnameAndDomain(pod: Obj, clusterDomain: string): { hostname: string; domain: string; utsHostname: string } {
  const hostname = truncateHostname(pod.spec.hostname || pod.metadata.name);
  const domain = pod.spec.subdomain ? `${pod.spec.subdomain}.${pod.metadata.namespace}.svc.${clusterDomain}` : '';
  let utsHostname = hostname;
  if (pod.spec.setHostnameAsFQDN === true && domain) {
    const fqdn = `${hostname}.${domain}`;
    if (fqdn.length > HOSTNAME_MAX_LEN) {
      throw new PodDNSError(`failed to construct FQDN from pod hostname and cluster domain, FQDN ${fqdn} is too long (${HOSTNAME_MAX_LEN} characters is the max, ${fqdn.length} characters requested)`);
    }
    utsHostname = fqdn;
  }
  return { hostname, domain, utsHostname };
}

/** parseResolvConf: nameservers, the last search line (trailing dots dropped), options. */
export function parseResolvConf(content: string): DNSConfig {
  const out: DNSConfig = { servers: [], searches: [], options: [] };
  for (const raw of content.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const f = line.split(/\s+/).filter(Boolean);
    if (f.length < 1) continue;
    if (f[0] === 'nameserver' && f[1]) out.servers.push(f[1]);
    else if (f[0] === 'search') out.searches = f.slice(1).filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''));
    else if (f[0] === 'options') out.options = f.slice(1);
  }
  return out;
}

const omitDuplicates = (xs: string[]) => [...new Set(xs)];
const isLoopback = (ip: string) => ip.startsWith('127.') || ip === '::1';

/** mergeDNSOptions: name[:value], the pod's entries overriding the base's */
function mergeOptions(base: string[], pod: Obj[]): string[] {
  const m = new Map<string, string>();
  for (const op of base) {
    const i = op.indexOf(':');
    if (i >= 0) m.set(op.slice(0, i), op.slice(i + 1));
    else m.set(op, '');
  }
  for (const op of pod) m.set(String(op.name ?? ''), op.value ?? '');
  return [...m].map(([k, v]) => (v ? `${k}:${v}` : k));
}

/** formDNSSearchFitsLimits */
function fitSearches(searches: string[], notes: PodEventNote[]): string[] {
  let exceeded = false;
  let s = searches;
  if (s.length > MAX_DNS_SEARCH_PATHS) {
    s = s.slice(0, MAX_DNS_SEARCH_PATHS);
    exceeded = true;
  }
  const kept = s.filter((x) => x.length <= DNS1123_SUBDOMAIN_MAX_LEN);
  if (kept.length !== s.length) exceeded = true;
  s = kept;
  const lineLen = s.join(' ').length;
  if (lineLen > MAX_DNS_SEARCH_LIST_CHARS) {
    let cutLen = 0;
    let cutNum = 0;
    for (let i = s.length - 1; i >= 0; i--) {
      cutLen += s[i]!.length + 1;
      cutNum++;
      if (lineLen - cutLen <= MAX_DNS_SEARCH_LIST_CHARS) break;
    }
    s = s.slice(0, s.length - cutNum);
    exceeded = true;
  }
  if (exceeded) {
    notes.push({ type: 'Warning', reason: 'DNSConfigForming', message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${s.join(' ')}` });
  }
  return s;
}

export interface PodDNSInput {
  pod: Obj;
  /** the host's resolv.conf content (the kubelet's --resolv-conf) */
  hostResolvConf: string;
  /** the cluster DNS server IPs (--cluster-dns); none with --cluster-dns none */
  clusterDNS: string[];
  clusterDomain: string;
}

/** GetPodDNS: the pod's DNSConfig and the events the kubelet records while forming it. */
export function podDNS({ pod, hostResolvConf, clusterDNS, clusterDomain }: PodDNSInput): { config: DNSConfig; notes: PodEventNote[] } {
  const notes: PodEventNote[] = [];
  const hostNetwork = pod.spec.hostNetwork === true;
  const host = parseResolvConf(hostResolvConf);
  // in its own netns a loopback nameserver is the pod's own loopback, where nothing answers
  if (!hostNetwork) host.servers = host.servers.filter((s) => !isLoopback(s));
  const policy: string = pod.spec.dnsPolicy || 'ClusterFirst';
  let kind: 'none' | 'cluster' | 'host';
  if (policy === 'None') kind = 'none';
  else if (policy === 'ClusterFirstWithHostNet') kind = 'cluster';
  else if (policy === 'ClusterFirst') kind = hostNetwork ? 'host' : 'cluster';
  else if (policy === 'Default') kind = 'host';
  else kind = 'cluster'; // an unknown policy: the kubelet falls back to ClusterFirst
  let config: DNSConfig;
  if (kind === 'none') config = { servers: [], searches: [], options: [] };
  else if (kind === 'cluster' && clusterDNS.length) {
    const cluster = clusterDomain ? [`${pod.metadata.namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain] : [];
    config = { servers: [...clusterDNS], searches: omitDuplicates([...cluster, ...host.searches]), options: ['ndots:5'] };
  } else {
    if (kind === 'cluster') {
      const msg = `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`;
      notes.push({ type: 'Warning', reason: 'MissingClusterDNS', message: `pod: "${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})". ${msg}` });
    }
    config = host;
  }
  const dc = pod.spec.dnsConfig;
  if (dc) {
    config = {
      servers: omitDuplicates([...config.servers, ...(dc.nameservers ?? [])]),
      searches: omitDuplicates([...config.searches, ...(dc.searches ?? [])]),
      options: mergeOptions(config.options, dc.options ?? []),
    };
  }
  if (config.servers.length > MAX_DNS_NAMESERVERS) {
    config.servers = config.servers.slice(0, MAX_DNS_NAMESERVERS);
    notes.push({ type: 'Warning', reason: 'DNSConfigForming', message: `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${config.servers.join(' ')}` });
  }
  config.searches = fitSearches(config.searches, notes);
  return { config, notes };
}
