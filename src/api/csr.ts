/**
 * CertificateSigningRequests for a kubelet's client certificate (signer
 * kubernetes.io/kube-apiserver-client-kubelet), checked as upstream checks them
 * (pkg/apis/certificates/v1 IsKubeletClientCSR / ValidateKubeletClientCSR and the csrapproving
 * controller): subject O=[system:nodes], CN=system:node:NAME, no SANs, usages exactly
 * {digital signature, client auth} or {digital signature, key encipherment, client auth}.
 */
import { createPublicKey, constants as cryptoConstants, verify as cryptoVerify, webcrypto } from 'node:crypto';
import type { Obj } from './types.js';
import { lazyModule } from '../lazy-module.js';

// loaded on the first CSR: importing @peculiar/x509 and its asn1 stack costs ~0.15 s of a cold start
const x509 = lazyModule<typeof import('@peculiar/x509')>('@peculiar/x509', (m) => m.cryptoProvider.set(webcrypto as unknown as Crypto));

export const KUBELET_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
/** a kubelet's serving certificate (its :10250), which the API server verifies it by */
export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';
export const NODE_USER_PREFIX = 'system:node:';
export const NODES_GROUP = 'system:nodes';

const ALLOWED_USAGE_SETS = [
  ['client auth', 'digital signature'],
  ['client auth', 'digital signature', 'key encipherment'],
];

export interface CsrSubject {
  commonName: string;
  organizations: string[];
  /** any subjectAltName at all (a kubelet client cert has none) */
  hasSans: boolean;
  /** the DNS and IP subjectAltNames; `otherSans`: any of another type (email, URI) */
  dnsNames: string[];
  ipAddresses: string[];
  otherSans: boolean;
}

/** The subject of spec.request (base64 of a PEM CERTIFICATE REQUEST), or an error naming why not. */
export function csrSubject(requestB64: string): CsrSubject | Error {
  let pem: string;
  try {
    pem = Buffer.from(requestB64, 'base64').toString('utf8');
    const req = new (x509().Pkcs10CertificateRequest)(pem);
    const name = req.subjectName;
    const commonName = name.getField('CN')[0] ?? '';
    const organizations = name.getField('O');
    const sanRaw = req.getExtension('2.5.29.17');
    const sanExt = sanRaw ? new (x509().SubjectAlternativeNameExtension)(sanRaw.rawData) : undefined;
    const names = sanExt ? sanExt.names.items : [];
    const dnsNames = names.filter((n) => n.type === 'dns').map((n) => n.value);
    const ipAddresses = names.filter((n) => n.type === 'ip').map((n) => n.value);
    const hasSans = !!req.getExtension('2.5.29.17'); // subjectAltName
    return { commonName, organizations, hasSans, dnsNames, ipAddresses, otherSans: names.length > dnsNames.length + ipAddresses.length };
  } catch (e) {
    return new Error(`spec.request is not a PEM certificate request: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export const KUBE_APISERVER_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';

/**
 * certificates.ParseCSR and CertificateRequest.CheckSignature, as kube-apiserver's CSR validation
 * runs them on spec.request (the PEM bytes): the first PEM block must be a CERTIFICATE REQUEST
 * that parses, signed by its own key. Synchronous (node:crypto verifies), so validation stays so.
 * Answers Go's error text, or undefined when the request is good.
 */
export function csrRequestProblem(pem: Buffer): string | undefined {
  const block = firstPemBlock(pem.toString('latin1'));
  if (!block || block.type !== 'CERTIFICATE REQUEST') return 'PEM block type must be CERTIFICATE REQUEST';
  let req: InstanceType<ReturnType<typeof x509>['Pkcs10CertificateRequest']>;
  let parts: { info: Buffer; algorithm: string; signature: Buffer };
  try {
    req = new (x509().Pkcs10CertificateRequest)(new Uint8Array(block.der));
    parts = csrParts(block.der);
  } catch {
    return 'x509: malformed certificate request';
  }
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(req.publicKey.rawData), format: 'der', type: 'spki' });
  } catch {
    return 'x509: unsupported public key';
  }
  const alg = SIGNATURE_ALGORITHMS[parts.algorithm];
  if (!alg) return 'x509: cannot verify signature: algorithm unimplemented';
  const want = alg.key === 'rsa' ? ['rsa', 'rsa-pss'] : [alg.key];
  if (!want.includes(key.asymmetricKeyType ?? '')) return 'x509: signature algorithm specifies an ' + alg.keyName + ' public key, but have public key of type ' + keyTypeName(key.asymmetricKeyType);
  let ok = false;
  try {
    if (alg.pss) {
      const hash = req.signatureAlgorithm.hash?.name?.replace('-', '').toLowerCase() ?? 'sha256';
      ok = cryptoVerify(hash, parts.info, { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST }, parts.signature);
    } else {
      ok = cryptoVerify(alg.hash, parts.info, key, parts.signature);
    }
  } catch {
    ok = false;
  }
  if (ok) return undefined;
  return alg.key === 'rsa' ? 'crypto/rsa: verification error' : alg.key === 'ec' ? 'x509: ECDSA verification failure' : 'x509: Ed25519 verification failure';
}

/** the signature algorithms Go's x509 verifies, by OID: the hash node:crypto takes and the key type */
const SIGNATURE_ALGORITHMS: Record<string, { hash: string | null; key: 'rsa' | 'ec' | 'ed25519'; keyName: string; pss?: boolean }> = {
  '1.2.840.113549.1.1.5': { hash: 'sha1', key: 'rsa', keyName: 'RSA' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', key: 'rsa', keyName: 'RSA' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', key: 'rsa', keyName: 'RSA' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', key: 'rsa', keyName: 'RSA' },
  '1.2.840.113549.1.1.10': { hash: null, key: 'rsa', keyName: 'RSA', pss: true },
  '1.2.840.10045.4.1': { hash: 'sha1', key: 'ec', keyName: 'ECDSA' },
  '1.2.840.10045.4.3.2': { hash: 'sha256', key: 'ec', keyName: 'ECDSA' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', key: 'ec', keyName: 'ECDSA' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', key: 'ec', keyName: 'ECDSA' },
  '1.3.101.112': { hash: null, key: 'ed25519', keyName: 'Ed25519' },
};

function keyTypeName(t: string | undefined): string {
  return t === 'rsa' || t === 'rsa-pss' ? '*rsa.PublicKey' : t === 'ec' ? '*ecdsa.PublicKey' : t === 'ed25519' ? 'ed25519.PublicKey' : String(t);
}

/** encoding/pem.Decode's first block: its type and DER bytes (headers are skipped) */
function firstPemBlock(text: string): { type: string; der: Buffer } | undefined {
  const m = /-----BEGIN ([^\n-]*)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return undefined;
  const body = m[2].split(/\r?\n/).filter((l) => !/^[\w-]+:/.test(l)).join('');
  if (!/^[A-Za-z0-9+/=\s]*$/.test(body)) return undefined;
  return { type: m[1], der: Buffer.from(body, 'base64') };
}

/** one DER TLV at `at`: where its content starts and where the element ends */
function tlv(der: Buffer, at: number): { tag: number; start: number; end: number } {
  if (at + 2 > der.length) throw new Error('truncated');
  const tag = der[at];
  let len = der[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > der.length) throw new Error('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated');
  return { tag, start, end: start + len };
}

/** a DER OBJECT IDENTIFIER's dotted form */
function oidText(b: Buffer): string {
  const out: number[] = [Math.floor(b[0] / 40), b[0] % 40];
  let v = 0;
  for (const x of b.subarray(1)) {
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      out.push(v);
      v = 0;
    }
  }
  return out.join('.');
}

/** CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature BIT STRING }: the bytes Go checks */
function csrParts(der: Buffer): { info: Buffer; algorithm: string; signature: Buffer } {
  const outer = tlv(der, 0);
  if (outer.tag !== 0x30) throw new Error('not a sequence');
  const info = tlv(der, outer.start);
  const alg = tlv(der, info.end);
  const sig = tlv(der, alg.end);
  if (info.tag !== 0x30 || alg.tag !== 0x30 || sig.tag !== 0x03) throw new Error('not a certification request');
  const oid = tlv(der, alg.start);
  if (oid.tag !== 0x06) throw new Error('no signature algorithm');
  return { info: der.subarray(outer.start, info.end), algorithm: oidText(der.subarray(oid.start, oid.end)), signature: der.subarray(sig.start + 1, sig.end) };
}

/**
 * The kube-apiserver-client signer's check (pkg/controller/certificates/signer
 * validAPIServerClientUsages): client auth required; digital signature and key encipherment
 * allowed; nothing else. Answers the signer's error text, or undefined.
 */
export function apiServerClientUsageProblem(usages: readonly string[]): string | undefined {
  let clientAuth = false;
  for (const u of usages) {
    if (u === 'client auth') clientAuth = true;
    else if (u !== 'digital signature' && u !== 'key encipherment') return `invalid usage for client certificate: ${u}`;
  }
  return clientAuth ? undefined : 'missing required usage for client certificate: client auth';
}

/** Why a CSR is not a valid kubelet client request, or undefined when it is. */
export function kubeletClientCsrProblem(csr: Obj): string | undefined {
  const spec = csr.spec ?? {};
  if (spec.signerName !== KUBELET_CLIENT_SIGNER) return `signerName is ${JSON.stringify(spec.signerName)}, not ${KUBELET_CLIENT_SIGNER}`;
  const s = csrSubject(String(spec.request ?? ''));
  if (s instanceof Error) return s.message;
  if (s.organizations.length !== 1 || s.organizations[0] !== NODES_GROUP) return `subject organization is not ${NODES_GROUP}`;
  if (!s.commonName.startsWith(NODE_USER_PREFIX) || s.commonName.length === NODE_USER_PREFIX.length) return `subject common name does not begin with ${NODE_USER_PREFIX}`;
  if (s.hasSans) return 'DNS, email, IP or URI subjectAltNames are not allowed';
  const usages = [...new Set<string>(spec.usages ?? [])].sort();
  if (!ALLOWED_USAGE_SETS.some((set) => set.length === usages.length && set.every((u, i) => u === usages[i]))) {
    return `usages did not match [client auth digital signature] or [client auth digital signature key encipherment]: ${JSON.stringify(spec.usages ?? [])}`;
  }
  return undefined;
}

const SERVING_USAGE_SETS = [
  ['digital signature', 'key encipherment', 'server auth'],
  ['digital signature', 'server auth'],
];

/** Why a CSR is not a valid kubelet serving request (ValidateKubeletServingCSR), or undefined when it is. */
export function kubeletServingCsrProblem(csr: Obj): string | undefined {
  const spec = csr.spec ?? {};
  if (spec.signerName !== KUBELET_SERVING_SIGNER) return `signerName is ${JSON.stringify(spec.signerName)}, not ${KUBELET_SERVING_SIGNER}`;
  const s = csrSubject(String(spec.request ?? ''));
  if (s instanceof Error) return s.message;
  if (s.organizations.length !== 1 || s.organizations[0] !== NODES_GROUP) return `subject organization is not ${NODES_GROUP}`;
  if (!s.dnsNames.length && !s.ipAddresses.length) return 'DNS or IP subjectAltName is required';
  if (s.otherSans) return 'email and URI subjectAltNames are not allowed';
  const usages = [...new Set<string>(spec.usages ?? [])].sort();
  if (!SERVING_USAGE_SETS.some((set) => set.length === usages.length && set.every((u, i) => u === usages[i]))) {
    return `usages did not match [digital signature key encipherment server auth]: ${JSON.stringify(spec.usages ?? [])}`;
  }
  if (!s.commonName.startsWith(NODE_USER_PREFIX)) return `subject common name does not begin with ${NODE_USER_PREFIX}`;
  return undefined;
}

/**
 * Whether to approve a kubelet serving CSR. kube-controller-manager never does (an admin, or an
 * approver such as kubelet-csr-approver, must); k3s issues its agents' serving certificates
 * itself. podbay approves, as those approvers do, a request only when the node asks for itself
 * (requester system:node:NAME in system:nodes, CN the same) and every name it asks for is its
 * own: IPs among the Node's status.addresses, DNS names its node name or Hostname address.
 * A node sets its own addresses, so a name that is also another's (`taken`: the API server's
 * serving names, the other Nodes' addresses and names) is refused: a certificate from the cluster
 * CA for the API server's address would let a node pose as the API server to the other agents.
 * Anything else is left pending for an admin (kubectl certificate approve).
 */
export function servingApprovalFor(csr: Obj, node: Obj | undefined, taken: ReadonlyMap<string, string> = new Map()): { approve: boolean; reason: string } {
  const problem = kubeletServingCsrProblem(csr);
  if (problem) return { approve: false, reason: problem };
  const s = csrSubject(csr.spec.request) as CsrSubject;
  const groups: string[] = csr.spec?.groups ?? [];
  if (csr.spec?.username !== s.commonName || !groups.includes(NODES_GROUP)) return { approve: false, reason: `${csr.spec?.username} may not request a serving certificate for ${s.commonName}` };
  const name = s.commonName.slice(NODE_USER_PREFIX.length);
  if (!node || node.metadata?.name !== name) return { approve: false, reason: `node ${JSON.stringify(name)} is not registered` };
  const addresses: Obj[] = node.status?.addresses ?? [];
  const ips = new Set(addresses.filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address));
  const hostnames = new Set([name, ...addresses.filter((a) => a.type === 'Hostname' || a.type === 'InternalDNS' || a.type === 'ExternalDNS').map((a) => a.address)]);
  const clash = [...s.ipAddresses, ...s.dnsNames].find((n) => taken.has(n));
  if (clash) return { approve: false, reason: `${clash} is also ${taken.get(clash)}'s` };
  const foreignIp = s.ipAddresses.find((ip) => !ips.has(ip));
  if (foreignIp) return { approve: false, reason: `IP address ${foreignIp} is not one of node ${name}'s addresses` };
  const foreignDns = s.dnsNames.find((d) => !hostnames.has(d));
  if (foreignDns) return { approve: false, reason: `DNS name ${foreignDns} is not node ${name}'s` };
  return { approve: true, reason: 'Auto approving kubelet serving certificate: the node asked for its own names.' };
}

/**
 * The csrapproving controller's decision for a valid kubelet client CSR: a bootstrapper asking
 * for a node's first certificate (nodeclient), or a node renewing its own (selfnodeclient).
 * Upstream asks the authorizer (create certificatesigningrequests/nodeclient); podbay grants
 * these two to the groups upstream's bootstrap policy binds them to.
 */
export function approvalFor(csr: Obj): { approve: boolean; reason: string } {
  const problem = kubeletClientCsrProblem(csr);
  if (problem) return { approve: false, reason: problem };
  const groups: string[] = csr.spec?.groups ?? [];
  const s = csrSubject(csr.spec.request) as CsrSubject;
  if (csr.spec?.username === s.commonName && groups.includes(NODES_GROUP)) return { approve: true, reason: 'Auto approving self kubelet client certificate after SubjectAccessReview.' };
  if (groups.includes('system:bootstrappers')) return { approve: true, reason: 'Auto approving kubelet client certificate after SubjectAccessReview.' };
  return { approve: false, reason: `${csr.spec?.username} may not request a kubelet client certificate` };
}

/** the csr's condition of `type` with status True, if any */
export function csrCondition(csr: Obj, type: 'Approved' | 'Denied' | 'Failed'): Obj | undefined {
  return (csr.status?.conditions ?? []).find((c: Obj) => c.type === type && c.status === 'True');
}

/**
 * What the API server writes into a CSR at create (upstream's csrStrategy.PrepareForCreate):
 * who asked, from the request's user, whatever the client sent; no status.
 */
export function stampRequester(csr: Obj, user: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> }): void {
  csr.spec = { ...(csr.spec ?? {}), username: user.username, groups: user.groups ?? [] };
  if (user.uid) csr.spec.uid = user.uid;
  else delete csr.spec.uid;
  if (user.extra && Object.keys(user.extra).length) csr.spec.extra = user.extra;
  else delete csr.spec.extra;
  delete csr.status;
}
