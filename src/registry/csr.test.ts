/**
 * CertificateSigningRequests in the registry: what the strategy keeps per part (main, /status,
 * /approval), the condition timestamps, and the certificate admission plugins (approve and sign
 * for the signer, no system:masters through kube-apiserver-client).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import type { AdmissionAuthorization, Obj } from '../api/types.js';
import { EC_CSR, MASTERS_CSR } from '../api/csr.test-util.js';
import { apiError, memoryRegistry } from './registry.test-util.js';

const CSRS = resourceInfo('certificatesigningrequests', 'certificates.k8s.io')!;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const spec = (signerName = 'example.com/signer') => ({ request: b64(EC_CSR), signerName, usages: ['client auth'] });
const approve = (csr: Obj, type = 'Approved') => ({ ...csr, status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), { type, status: 'True', reason: 'KubectlApprove', message: 'ok' }] } });

/** an admission context whose user may do exactly what `grants` lists ("verb signers NAME") */
function user(...grants: string[]) {
  const asked: string[] = [];
  const authorize = async (a: AdmissionAuthorization) => {
    const q = `${a.verb} ${a.resource} ${a.name}`;
    asked.push(q);
    return grants.includes(q);
  };
  return { asked, opts: { admission: { user: { username: 'jane', groups: ['system:authenticated'] }, authorize } } };
}

describe('CertificateSigningRequest registry', () => {
  it('a create starts pending; /approval writes only the conditions, stamping their times', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(CSRS, undefined, { metadata: { name: 'c' }, spec: spec(), status: { conditions: [{ type: 'Approved', status: 'True' }] } });
    assert.deepEqual(made.status, {}, 'no one creates an approved request');
    const sent = approve({ ...made, spec: { ...made.spec, signerName: 'example.com/other' }, status: { certificate: b64('x') } });
    const out = await reg.update(CSRS, undefined, 'c', sent, { sub: 'approval' });
    assert.equal(out.spec.signerName, 'example.com/signer', 'spec is the stored one');
    assert.equal(out.status.certificate, undefined, 'approval does not write the certificate');
    assert.equal(out.status.conditions.length, 1);
    const [c] = out.status.conditions;
    assert.equal(c.type, 'Approved');
    assert.match(c.lastUpdateTime, /^\d{4}-\d\d-\d\dT/);
    assert.equal(c.lastTransitionTime, c.lastUpdateTime);
    assert.equal(out.metadata.managedFields.at(-1).subresource, 'approval');
  });

  it('/status may not add, change or remove Approved; the main resource changes neither spec nor status', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(CSRS, undefined, { metadata: { name: 'c' }, spec: spec() });
    const byStatus = await apiError(reg.update(CSRS, undefined, 'c', approve(made), { sub: 'status' }));
    assert.equal(byStatus.code, 422);
    assert.match(byStatus.message, /status\.conditions: Forbidden: updates may not add a condition of type "Approved"/);
    const approved = await reg.update(CSRS, undefined, 'c', approve(made), { sub: 'approval' });
    // a status write that sends the Approved condition changed keeps the stored one (preserveConditionInstances)
    const tampered = { ...approved, status: { ...approved.status, conditions: [{ ...approved.status.conditions[0], message: 'changed' }] } };
    assert.equal((await reg.update(CSRS, undefined, 'c', tampered, { sub: 'status' })).status.conditions[0].message, 'ok');
    const removed = await apiError(reg.update(CSRS, undefined, 'c', { ...approved, status: { conditions: [] } }, { sub: 'approval' }));
    assert.match(removed.message, /updates may not remove a condition of type "Approved"/);
    const main = await reg.update(CSRS, undefined, 'c', { ...approved, metadata: { ...approved.metadata, labels: { a: 'b' } }, spec: { ...approved.spec, usages: ['server auth'] }, status: {} });
    assert.deepEqual(main.spec.usages, ['client auth']);
    assert.equal(main.status.conditions.length, 1);
    assert.deepEqual(main.metadata.labels, { a: 'b' });
  });

  it('CertificateApproval: /approval needs `approve` on the signer (or its domain/*), asked of the stored signer', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(CSRS, undefined, { metadata: { name: 'c' }, spec: spec() });
    const nobody = user();
    const refused = await apiError(reg.update(CSRS, undefined, 'c', approve(made), { sub: 'approval', ...nobody.opts }));
    assert.equal(refused.code, 403);
    assert.equal(refused.message, 'certificatesigningrequests.certificates.k8s.io "c" is forbidden: user not permitted to approve requests with signerName "example.com/signer"');
    assert.deepEqual(nobody.asked, ['approve signers example.com/signer', 'approve signers example.com/*']);
    assert.equal((await reg.get(CSRS, undefined, 'c')).status.conditions, undefined, 'nothing written');
    const wildcard = user('approve signers example.com/*');
    assert.equal((await reg.update(CSRS, undefined, 'c', approve(made), { sub: 'approval', ...wildcard.opts })).status.conditions[0].type, 'Approved');
  });

  it('CertificateSigning: a /status write that changes the certificate or conditions needs `sign`', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(CSRS, undefined, { metadata: { name: 'c' }, spec: spec() });
    const approved = await reg.update(CSRS, undefined, 'c', approve(made), { sub: 'approval' });
    const failed = approve(approved, 'Failed');
    const refused = await apiError(reg.update(CSRS, undefined, 'c', failed, { sub: 'status', ...user('approve signers example.com/signer').opts }));
    assert.equal(refused.message, 'certificatesigningrequests.certificates.k8s.io "c" is forbidden: user not permitted to sign requests with signerName "example.com/signer"');
    const signer = user('sign signers example.com/signer');
    assert.equal((await reg.update(CSRS, undefined, 'c', failed, { sub: 'status', ...signer.opts })).status.conditions[1].type, 'Failed');
  });

  it('CertificateSubjectRestriction: no system:masters through kubernetes.io/kube-apiserver-client', async () => {
    const reg = await memoryRegistry();
    const request = MASTERS_CSR;
    const refused = await apiError(reg.create(CSRS, undefined, { metadata: { name: 'm' }, spec: { request: b64(request), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] } }));
    assert.equal(refused.code, 403);
    assert.equal(refused.message, 'certificatesigningrequests.certificates.k8s.io "m" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed');
    // another signer may carry it (its own approver decides)
    await reg.create(CSRS, undefined, { metadata: { name: 'm2' }, spec: { request: b64(request), signerName: 'example.com/signer', usages: ['client auth'] } });
  });
});
