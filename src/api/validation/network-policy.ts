/**
 * networking.k8s.io/v1 NetworkPolicy, after kube-apiserver's pkg/apis/networking/validation
 * (ValidateNetworkPolicy, ValidateNetworkPolicyPort, ValidateNetworkPolicyPeer, ValidateIPBlock):
 * selectors as label selectors, a peer names exactly one kind of peer (an ipBlock alone), ports
 * in range or IANA names, endPort only after a numeric port and not below it, an ipBlock's
 * except strictly inside its cidr, at most the two policy types. Objects are defaulted first
 * (../defaults/network-policy.ts: protocol TCP, policyTypes derived).
 */
import { isIP } from 'node:net';
import { type Obj, type ValidationError, arr, forbidden, invalid, isObj, notSupported, obj, required, str } from './field.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './meta.js';
import { validateLabelSelector } from './label-selector.js';
import { isValidPortName, isValidPortNum } from './names.js';

type Errs = ValidationError[];

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const POLICY_TYPES = ['Ingress', 'Egress'];
const INVALID_CIDR = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

/** a CIDR as network address bits (host bits cleared, as Go's ParseCIDR answers) and prefix length */
export interface ParsedCIDR {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

function ipToBigInt(ip: string, family: 4 | 6): bigint {
  if (family === 4) return ip.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
  // expand "::" and a trailing dotted quad
  let text = ip;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v = ipToBigInt(quad[1]!, 4);
    text = text.slice(0, -quad[1]!.length) + `${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** netutils.ParseCIDRSloppy: undefined when not a CIDR */
export function parseCIDR(value: string): ParsedCIDR | undefined {
  const slash = value.indexOf('/');
  if (slash < 0) return undefined;
  const family = isIP(value.slice(0, slash));
  const bits = value.slice(slash + 1);
  if ((family !== 4 && family !== 6) || !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  const width = family === 4 ? 32 : 128;
  if (prefix > width) return undefined;
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - prefix)) - 1n);
  return { family, network: ipToBigInt(value.slice(0, slash), family) & mask, prefix };
}

/** `inner` lies inside `outer` and is smaller (ValidateIPBlock's "strict subset") */
export function strictlyInside(inner: ParsedCIDR, outer: ParsedCIDR): boolean {
  if (inner.family !== outer.family || inner.prefix <= outer.prefix) return false;
  const width = outer.family === 4 ? 32 : 128;
  return inner.network >> BigInt(width - outer.prefix) === outer.network >> BigInt(width - outer.prefix);
}

function validatePort(p: unknown, f: string): Errs {
  const port = obj(p);
  const errs: Errs = [];
  if (port.protocol != null && !PROTOCOLS.includes(str(port.protocol))) errs.push(notSupported(`${f}.protocol`, port.protocol, PROTOCOLS));
  const endPort = port.endPort;
  if (port.port != null) {
    if (typeof port.port === 'number') {
      errs.push(...isValidPortNum(port.port).map((m) => invalid(`${f}.port`, port.port, m)));
      if (endPort != null) {
        if (Number(endPort) < port.port) errs.push(invalid(`${f}.endPort`, port.port, 'must be greater than or equal to `port`'));
        errs.push(...isValidPortNum(Number(endPort)).map((m) => invalid(`${f}.endPort`, endPort, m)));
      }
    } else {
      if (endPort != null) errs.push(invalid(`${f}.endPort`, endPort, 'may not be specified when `port` is non-numeric'));
      errs.push(...isValidPortName(str(port.port)).map((m) => invalid(`${f}.port`, port.port, m)));
    }
  } else if (endPort != null) {
    errs.push(invalid(`${f}.endPort`, endPort, 'may not be specified when `port` is not specified'));
  }
  return errs;
}

function validateIPBlock(b: Obj, f: string): Errs {
  const cidr = str(b.cidr);
  if (!cidr) return [required(`${f}.cidr`, '')];
  const outer = parseCIDR(cidr);
  if (!outer) return [invalid(`${f}.cidr`, cidr, INVALID_CIDR)];
  const errs: Errs = [];
  arr(b.except).forEach((e, i) => {
    const inner = parseCIDR(str(e));
    if (!inner) errs.push(invalid(`${f}.except[${i}]`, e, INVALID_CIDR));
    else if (!strictlyInside(inner, outer)) errs.push(invalid(`${f}.except[${i}]`, e, 'must be a strict subset of `cidr`'));
  });
  return errs;
}

function validatePeer(p: unknown, f: string): Errs {
  const peer = obj(p);
  const errs: Errs = [];
  let n = 0;
  if (isObj(peer.podSelector)) {
    n++;
    errs.push(...validateLabelSelector(peer.podSelector, `${f}.podSelector`));
  }
  if (isObj(peer.namespaceSelector)) {
    n++;
    errs.push(...validateLabelSelector(peer.namespaceSelector, `${f}.namespaceSelector`));
  }
  if (isObj(peer.ipBlock)) {
    n++;
    errs.push(...validateIPBlock(peer.ipBlock, `${f}.ipBlock`));
  }
  if (n === 0) errs.push(required(f, 'must specify a peer'));
  else if (n > 1 && isObj(peer.ipBlock)) errs.push(forbidden(f, 'may not specify both ipBlock and another peer'));
  return errs;
}

export function validateNetworkPolicySpec(s: Obj, fldPath = 'spec'): Errs {
  const errs = validateLabelSelector(s.podSelector, `${fldPath}.podSelector`);
  for (const [dir, peers] of [['ingress', 'from'], ['egress', 'to']] as const) {
    arr(s[dir]).forEach((r, i) => {
      const rule = obj(r);
      arr(rule.ports).forEach((p, j) => errs.push(...validatePort(p, `${fldPath}.${dir}[${i}].ports[${j}]`)));
      arr(rule[peers]).forEach((p, j) => errs.push(...validatePeer(p, `${fldPath}.${dir}[${i}].${peers}[${j}]`)));
    });
  }
  const types = arr(s.policyTypes);
  if (types.length > POLICY_TYPES.length) {
    errs.push(invalid(`${fldPath}.policyTypes`, types, 'may not specify more than two policyTypes'));
    return errs;
  }
  types.forEach((t, i) => {
    if (!POLICY_TYPES.includes(str(t))) errs.push(notSupported(`${fldPath}.policyTypes[${i}]`, t, POLICY_TYPES));
  });
  return errs;
}

export function validateNetworkPolicy(np: Obj): Errs {
  return [...validateObjectMeta(np.metadata, true, 'dns1123-subdomain'), ...validateNetworkPolicySpec(obj(np.spec))];
}

export function validateNetworkPolicyUpdate(n: Obj, o: Obj): Errs {
  return [...validateObjectMetaUpdate(n.metadata, o.metadata), ...validateNetworkPolicySpec(obj(n.spec))];
}
