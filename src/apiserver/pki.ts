/**
 * The server's credentials, made once on first start and kept under the data dir:
 *
 *   DIR/pki/ca.crt        self-signed CA (ECDSA P-256, 10 years)           0644
 *   DIR/pki/ca.key        its private key                                  0600
 *   DIR/pki/server.crt    serving cert signed by the CA, SANs below        0644
 *   DIR/pki/server.key                                                     0600
 *   DIR/pki/admin.token   the admin bearer token (random, 256 bits)        0600
 *   DIR/pki/sa.key        the service-account token signing key (ECDSA P-256, PKCS#8)  0600
 *   DIR/pki/apiserver-kubelet-client.crt|key   the API server's client certificate towards
 *                         kubelets (CN kube-apiserver-kubelet-client, O system:masters, as
 *                         kubeadm's), re-issued within 30 days of expiry       0644 / 0600
 *
 * The serving certificate is re-issued when the SANs it needs change (new hostname or listen
 * address) or it is within 30 days of expiry; the CA and token are never rotated silently, so a
 * kubeconfig handed out earlier stays valid.
 *
 * Issuing needs @peculiar/x509, whose modules (with asn1js, tsyringe, reflect-metadata) would
 * stay in the server's heap for its whole life (~14 MB of RSS) after a first start. So on the
 * main thread the issuing runs in a worker thread (pki-worker.ts): its isolate, and the library
 * with it, is freed when it ends, and the server then reads the files it wrote. Should the worker
 * fail, the server issues them itself.
 */
import { webcrypto, randomBytes, generateKeyPairSync, createHash, KeyObject, X509Certificate as NodeX509 } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { Worker, isMainThread } from 'node:worker_threads';

// @peculiar/x509 (with asn1js, tsyringe, reflect-metadata) takes longer to load than the rest
// of the server's start: it is loaded only to issue a certificate, which a restart with its
// certificates still good never does
let x509Loading: Promise<typeof import('@peculiar/x509')> | undefined;
function loadX509(): Promise<typeof import('@peculiar/x509')> {
  return (x509Loading ??= import('@peculiar/x509').then((m) => {
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  }));
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface Credentials {
  caPem: string;
  certPem: string;
  keyPem: string;
  token: string;
  /** signs service-account tokens (src/registry/token-issuer.ts); never rotated silently, or every token given out dies */
  serviceAccountKeyPem: string;
  /** the CA's key: signs the client certificates of approved CSRs (csr-signer) */
  caKeyPem: string;
  /** the API server's client certificate and key towards the nodes' kubelet servers */
  kubeletClientCertPem: string;
  kubeletClientKeyPem: string;
}

/** kubeadm's apiserver-kubelet-client subject: a member of system:masters, which every kubelet authorizes */
export const KUBELET_CLIENT_SUBJECT = 'CN=kube-apiserver-kubelet-client,O=system:masters';

function writeSecret(path: string, data: string): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  return KeyObject.from(key as webcrypto.CryptoKey).export({ type: 'pkcs8', format: 'pem' }) as string;
}

async function importKeyPem(pem: string, usage: KeyUsage[]): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----(BEGIN|END) PRIVATE KEY-----|\s/g, ''), 'base64');
  return (await webcrypto.subtle.importKey('pkcs8', der, ALG, true, usage)) as unknown as CryptoKey;
}

async function makeCa(dir: string): Promise<{ certPem: string; key: CryptoKey }> {
  const x509 = await loadX509();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: 'CN=podbay-ca',
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  writeFileSync(join(dir, 'ca.crt'), certPem, { mode: 0o644 });
  writeSecret(join(dir, 'ca.key'), await exportKeyPem(keys.privateKey));
  return { certPem, key: keys.privateKey };
}

/**
 * A SAN as compared: lower case, an IPv6 address in its compressed form. Node prints a
 * certificate's IPv6 SANs in full (`IP Address:0:0:0:0:0:0:0:1`), so without this `::1` never
 * matched and every restart issued a new serving certificate (and loaded the x509 library).
 */
export function canonicalSan(s: string): string {
  const v = s.toLowerCase();
  return isIP(v) === 6 ? new URL(`http://[${v}]/`).hostname.slice(1, -1) : v;
}

function sansOf(pem: string): Set<string> {
  const c = new NodeX509(pem);
  const out = new Set<string>();
  for (const part of (c.subjectAltName ?? '').split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.*)$/.exec(part.trim());
    if (m) out.add(canonicalSan(m[2]));
  }
  return out;
}

function certStillGood(pem: string, caPem: string, wanted: string[]): boolean {
  try {
    const c = new NodeX509(pem);
    if (!c.checkIssued(new NodeX509(caPem))) return false;
    if (Date.parse(c.validTo) - Date.now() < 30 * DAY) return false;
    const have = sansOf(pem);
    return wanted.every((s) => have.has(canonicalSan(s)));
  } catch {
    return false;
  }
}

/** DIR/pki as found: each file's text ('' when missing), and which certificates must be (re)issued */
function readPki(dir: string, sans: string[]) {
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  const f = {
    caPem: read('ca.crt'),
    caKeyPem: read('ca.key'),
    certPem: read('server.crt'),
    keyPem: read('server.key'),
    kubeletClientCertPem: read('apiserver-kubelet-client.crt'),
    kubeletClientKeyPem: read('apiserver-kubelet-client.key'),
  };
  const newCa = !f.caPem || !f.caKeyPem;
  return {
    ...f,
    newCa,
    // a new CA makes every certificate it did not sign stale
    newServing: newCa || !f.certPem || !f.keyPem || !certStillGood(f.certPem, f.caPem, sans),
    newKubeletClient: newCa || !f.kubeletClientCertPem || !f.kubeletClientKeyPem || !certStillGood(f.kubeletClientCertPem, f.caPem, []),
  };
}

/** runs ensureCredentials in a worker thread; resolves when it has written DIR/pki */
function issueInWorker(dataDir: string, sans: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./pki-worker.js', import.meta.url), { workerData: { dataDir, sans } });
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the credentials worker exited with code ${code}`))));
  });
}

/** Load or create the CA, serving cert (covering `sans`) and admin token under DIR/pki. */
export async function ensureCredentials(dataDir: string, sans: string[], log: (line: string) => void = () => {}): Promise<Credentials> {
  const dir = join(dataDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let found = readPki(dir, sans);
  if (isMainThread && (found.newCa || found.newServing || found.newKubeletClient)) {
    await issueInWorker(dataDir, sans).catch((e: Error) => log(`podbay: issuing the credentials in a worker thread failed (${e.message}); issuing them in the server`));
    found = readPki(dir, sans);
  }

  let { caPem, certPem, keyPem, kubeletClientCertPem, kubeletClientKeyPem } = found;
  let caKey: () => Promise<CryptoKey>;
  if (!found.newCa) {
    // needed only to issue a serving certificate
    caKey = () => importKeyPem(found.caKeyPem, ['sign']);
  } else {
    const made = await makeCa(dir);
    caPem = made.certPem;
    caKey = async () => made.key;
  }
  const caKeyPem = found.newCa ? readFileSync(join(dir, 'ca.key'), 'utf8') : found.caKeyPem;

  if (found.newServing) {
    const x509 = await loadX509();
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const caCert = new x509.X509Certificate(caPem);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomBytes(8).toString('hex'),
      subject: 'CN=podbay-apiserver',
      issuer: caCert.subject,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      publicKey: keys.publicKey,
      signingKey: await caKey(),
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          [...new Set(sans)].map((s) => ({ type: isIP(s) ? ('ip' as const) : ('dns' as const), value: s })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    certPem = cert.toString('pem');
    keyPem = await exportKeyPem(keys.privateKey);
    writeFileSync(join(dir, 'server.crt'), certPem, { mode: 0o644 });
    writeSecret(join(dir, 'server.key'), keyPem);
  }

  const tokenPath = join(dir, 'admin.token');
  let token = existsSync(tokenPath) ? readFileSync(tokenPath, 'utf8').trim() : '';
  if (!token) {
    token = randomBytes(32).toString('base64url');
    writeSecret(tokenPath, token + '\n');
  }
  const saKeyPath = join(dir, 'sa.key');
  let serviceAccountKeyPem = existsSync(saKeyPath) ? readFileSync(saKeyPath, 'utf8') : '';
  if (!serviceAccountKeyPem) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    serviceAccountKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeSecret(saKeyPath, serviceAccountKeyPem);
  }
  if (found.newKubeletClient) {
    const { keyPem: k, requestPem } = await makeCertificateRequest(KUBELET_CLIENT_SUBJECT);
    kubeletClientCertPem = await signCertificate(caPem, caKeyPem, requestPem, ['digital signature', 'key encipherment', 'client auth'], 365 * DAY);
    kubeletClientKeyPem = k;
    writeFileSync(join(dir, 'apiserver-kubelet-client.crt'), kubeletClientCertPem, { mode: 0o644 });
    writeSecret(join(dir, 'apiserver-kubelet-client.key'), kubeletClientKeyPem);
  }
  return { caPem, certPem, keyPem, token, serviceAccountKeyPem, caKeyPem, kubeletClientCertPem, kubeletClientKeyPem };
}

/** a CSR's usage names as x509 KeyUsageFlags (the library is loaded lazily: see loadX509) */
const usageFlag = (x509: typeof import('@peculiar/x509'), u: string): number =>
  u === 'digital signature' ? x509.KeyUsageFlags.digitalSignature : u === 'key encipherment' ? x509.KeyUsageFlags.keyEncipherment : 0;

/**
 * Issue a certificate for an approved CSR (kube-controller-manager's csrsigning): the subject
 * is the request's, the public key the request's, its subjectAltNames the request's (a kubelet
 * serving certificate's address and name; the client signers' validation refuses any), the
 * usages the CSR's spec.usages (client auth and/or server auth); valid for `ttlMs` (backdated
 * 5 minutes for clock skew, as upstream).
 */
export async function signCertificate(caPem: string, caKeyPem: string, requestPem: string, usages: string[], ttlMs: number): Promise<string> {
  const x509 = await loadX509();
  const req = new x509.Pkcs10CertificateRequest(requestPem);
  if (!(await req.verify())) throw new Error('the certificate request is not signed by its own key');
  const caCert = new x509.X509Certificate(caPem);
  const caKey = await importKeyPem(caKeyPem, ['sign']);
  const keyUsage = usages.reduce((f, u) => f | usageFlag(x509, u), 0);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01' + randomBytes(15).toString('hex'),
    subject: req.subjectName,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 5 * 60_000),
    notAfter: new Date(Date.now() + ttlMs),
    publicKey: await req.publicKey.export(),
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // Go's CreateCertificate writes no keyUsage when no bit is set (a request for `client
      // auth` alone): an empty one is invalid, and TLS stacks refuse the certificate
      ...(keyUsage ? [new x509.KeyUsagesExtension(keyUsage, true)] : []),
      new x509.ExtendedKeyUsageExtension([
        ...(usages.includes('client auth') ? [x509.ExtendedKeyUsage.clientAuth] : []),
        ...(usages.includes('server auth') ? [x509.ExtendedKeyUsage.serverAuth] : []),
      ]),
      ...req.extensions.filter((e) => e.type === '2.5.29.17'),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return cert.toString('pem');
}

/**
 * A new key and a PKCS#10 request for it (PEM both): what a kubelet sends to get its client
 * certificate, or (with `sans`, IPs and DNS names) its serving certificate.
 */
export async function makeCertificateRequest(subject: string, sans: string[] = []): Promise<{ keyPem: string; requestPem: string }> {
  const x509 = await loadX509();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const extensions = sans.length ? [new x509.SubjectAlternativeNameExtension(sans.map((s) => ({ type: isIP(s) ? ('ip' as const) : ('dns' as const), value: s })))] : [];
  const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys, signingAlgorithm: ALG, extensions });
  return { keyPem: await exportKeyPem(keys.privateKey), requestPem: req.toString('pem') };
}

/** kubeadm's --discovery-token-ca-cert-hash of a CA: sha256 of its SubjectPublicKeyInfo, hex */
export function caCertHash(caPem: string): string {
  const spki = new NodeX509(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}
