/** Kubelet client CSRs: the checks upstream makes, the approver's decision, and the CA's signature on the result. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { approvalFor, kubeletClientCsrProblem, kubeletServingCsrProblem, servingApprovalFor, stampRequester } from '../api/csr.js';
import { caCertHash, ensureCredentials, makeCertificateRequest, signCertificate } from './pki.js';

async function csrFor(subject: string, usages = ['digital signature', 'client auth'], signerName = 'kubernetes.io/kube-apiserver-client-kubelet', sans: string[] = []) {
  const { requestPem } = await makeCertificateRequest(subject, sans);
  return { spec: { request: Buffer.from(requestPem).toString('base64'), signerName, usages }, requestPem };
}

describe('kubelet client CSRs', () => {
  it('are valid with CN=system:node:NAME, O=system:nodes and the client usages', async () => {
    const { spec } = await csrFor('CN=system:node:n1,O=system:nodes');
    assert.equal(kubeletClientCsrProblem({ spec }), undefined);
    assert.equal(kubeletClientCsrProblem({ spec: { ...spec, usages: ['key encipherment', 'digital signature', 'client auth'] } }), undefined);
  });

  it('are refused with another signer, subject or usages, naming why', async () => {
    assert.match(kubeletClientCsrProblem({ spec: (await csrFor('CN=system:node:n1,O=system:nodes', undefined, 'kubernetes.io/kube-apiserver-client')).spec })!, /signerName/);
    assert.match(kubeletClientCsrProblem({ spec: (await csrFor('CN=system:node:n1,O=system:masters')).spec })!, /organization is not system:nodes/);
    assert.match(kubeletClientCsrProblem({ spec: (await csrFor('CN=admin,O=system:nodes')).spec })!, /common name does not begin with system:node:/);
    assert.match(kubeletClientCsrProblem({ spec: (await csrFor('CN=system:node:n1,O=system:nodes', ['client auth', 'server auth'])).spec })!, /usages did not match/);
    assert.match(kubeletClientCsrProblem({ spec: { signerName: 'kubernetes.io/kube-apiserver-client-kubelet', request: 'bm90IGEgY3Ny', usages: [] } })!, /not a PEM certificate request/);
  });

  it('are approved for bootstrappers and for a node renewing its own, not for others', async () => {
    const csr = { spec: (await csrFor('CN=system:node:n1,O=system:nodes')).spec };
    stampRequester(csr, { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] });
    assert.equal(approvalFor(csr).approve, true);
    stampRequester(csr, { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] });
    assert.equal(approvalFor(csr).approve, true);
    stampRequester(csr, { username: 'system:node:n2', groups: ['system:nodes', 'system:authenticated'] });
    assert.equal(approvalFor(csr).approve, false, 'a node may not ask for another node');
    stampRequester(csr, { username: 'mallory', groups: ['system:authenticated'] });
    assert.equal(approvalFor(csr).approve, false);
  });

  it('are signed by the CA with the subject and client-auth usage asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podbay-csr-'));
    try {
      const creds = await ensureCredentials(dir, ['127.0.0.1']);
      const { requestPem } = await csrFor('CN=system:node:n1,O=system:nodes');
      const pem = await signCertificate(creds.caPem, creds.caKeyPem, requestPem, ['digital signature', 'client auth'], 3_600_000);
      const cert = new X509Certificate(pem);
      const ca = new X509Certificate(creds.caPem);
      assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey));
      assert.match(cert.subject, /CN=system:node:n1/);
      assert.match(cert.subject, /O=system:nodes/);
      assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
      assert.ok(Date.parse(cert.validTo) - Date.now() <= 3_600_000 + 1000);
      assert.match(caCertHash(creds.caPem), /^sha256:[0-9a-f]{64}$/);
      // a kube-apiserver-client request may ask for `client auth` alone: no keyUsage then (an
      // empty one is invalid: openssl and Go's TLS refuse the certificate), as Go writes it
      const onlyPem = await signCertificate(creds.caPem, creds.caKeyPem, (await csrFor('CN=jane,O=devs')).requestPem, ['client auth'], 3_600_000);
      const only = new X509Certificate(onlyPem);
      assert.ok(only.verify(ca.publicKey));
      assert.deepEqual(only.keyUsage, ['1.3.6.1.5.5.7.3.2']);
      const { X509Certificate: Parsed } = await import('@peculiar/x509');
      assert.equal(new Parsed(onlyPem).getExtension('2.5.29.15'), null, 'no keyUsage extension');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubelet serving CSRs', () => {
  const SERVING = ['digital signature', 'key encipherment', 'server auth'];
  const serving = (subject: string, sans: string[], usages = SERVING) => csrFor(subject, usages, 'kubernetes.io/kubelet-serving', sans);
  const node = { metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.11' }, { type: 'Hostname', address: 'n1' }] } };

  it('are valid with O=system:nodes, a system:node: name, an IP or DNS name and the serving usages', async () => {
    assert.equal(kubeletServingCsrProblem({ spec: (await serving('CN=system:node:n1,O=system:nodes', ['10.0.0.11', 'n1'])).spec }), undefined);
    assert.equal(kubeletServingCsrProblem({ spec: (await serving('CN=system:node:n1,O=system:nodes', ['n1'], ['digital signature', 'server auth'])).spec }), undefined);
    assert.equal(kubeletServingCsrProblem({ spec: (await serving('CN=system:node:n1,O=system:nodes', [])).spec }), 'DNS or IP subjectAltName is required');
    assert.match(kubeletServingCsrProblem({ spec: (await serving('CN=system:node:n1,O=system:nodes', ['n1'], ['digital signature', 'client auth'])).spec })!, /usages did not match/);
    assert.equal(kubeletServingCsrProblem({ spec: (await serving('CN=n1,O=system:nodes', ['n1'])).spec }), 'subject common name does not begin with system:node:');
  });

  it("are approved when a node asks for its own names only", async () => {
    const csr = { spec: (await serving('CN=system:node:n1,O=system:nodes', ['10.0.0.11', 'n1'])).spec };
    stampRequester(csr, { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] });
    assert.equal(servingApprovalFor(csr, node).approve, true);
    assert.equal(servingApprovalFor(csr, undefined).approve, false, 'no Node yet');
    stampRequester(csr, { username: 'system:node:n2', groups: ['system:nodes', 'system:authenticated'] });
    assert.equal(servingApprovalFor(csr, node).approve, false, 'another node');
    const foreign = { spec: (await serving('CN=system:node:n1,O=system:nodes', ['10.0.0.99'])).spec };
    stampRequester(foreign, { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] });
    assert.deepEqual(servingApprovalFor(foreign, node), { approve: false, reason: "IP address 10.0.0.99 is not one of node n1's addresses" });
    const dns = { spec: (await serving('CN=system:node:n1,O=system:nodes', ['kubernetes.default'])).spec };
    stampRequester(dns, { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] });
    assert.deepEqual(servingApprovalFor(dns, node), { approve: false, reason: "DNS name kubernetes.default is not node n1's" });
    // a node's own address that is also the API server's (or another node's): never approved
    const taken = new Map([['10.0.0.11', 'the API server']]);
    stampRequester(csr, { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] });
    assert.deepEqual(servingApprovalFor(csr, node, taken), { approve: false, reason: "10.0.0.11 is also the API server's" });
    assert.deepEqual(servingApprovalFor(csr, node, new Map([['n1', 'node n1-twin']])), { approve: false, reason: "n1 is also node n1-twin's" });
  });

  it('are signed with their names and the server-auth usage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podbay-csr-'));
    try {
      const creds = await ensureCredentials(dir, ['127.0.0.1']);
      const { requestPem } = await serving('CN=system:node:n1,O=system:nodes', ['10.0.0.11', 'n1']);
      const cert = new X509Certificate(await signCertificate(creds.caPem, creds.caKeyPem, requestPem, SERVING, 3_600_000));
      assert.ok(cert.checkIssued(new X509Certificate(creds.caPem)));
      assert.equal(cert.subjectAltName, 'IP Address:10.0.0.11, DNS:n1');
      assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
      assert.equal(cert.checkIP('10.0.0.11'), '10.0.0.11');
      // and the API server's own client certificate towards kubelets, made with the rest
      const kc = new X509Certificate(creds.kubeletClientCertPem);
      assert.match(kc.subject, /CN=kube-apiserver-kubelet-client/);
      assert.match(kc.subject, /O=system:masters/);
      assert.deepEqual(kc.keyUsage, ['1.3.6.1.5.5.7.3.2']);
      assert.ok(kc.checkIssued(new X509Certificate(creds.caPem)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
