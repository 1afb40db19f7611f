/**
 * The signing controller on the memory registry: an admin's approval of a
 * kubernetes.io/kube-apiserver-client request leads to status.certificate (as
 * kube-controller-manager's csrsigning), bad usages to a Failed condition; such requests are
 * never approved by the controller itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import { EC_CSR, SOME_CERTIFICATE } from '../api/csr.test-util.js';
import { LocalClient } from '../client/local.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { CsrSigningController } from './csr-signing.js';

const CSRS = resourceInfo('certificatesigningrequests', 'certificates.k8s.io')!;
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function setUp() {
  const reg = await memoryRegistry();
  const signed: { pem: string; usages: string[]; ttl: number }[] = [];
  const controller = new CsrSigningController(new LocalClient(reg), {
    sign: async (pem, usages, ttl) => {
      signed.push({ pem, usages, ttl });
      return SOME_CERTIFICATE;
    },
  });
  await controller.start();
  return { reg, signed, controller };
}

const approved = (name: string, usages: string[], expirationSeconds?: number) => ({
  metadata: { name },
  spec: { request: b64(EC_CSR), signerName: 'kubernetes.io/kube-apiserver-client', usages, ...(expirationSeconds ? { expirationSeconds } : {}) },
});

describe('csr signing controller: kubernetes.io/kube-apiserver-client', () => {
  it('leaves a request pending until approved, then issues the certificate for the requested duration', async () => {
    const { reg, signed, controller } = await setUp();
    try {
      const made = await reg.create(CSRS, undefined, approved('jane', ['digital signature', 'client auth'], 3600));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual((await reg.get(CSRS, undefined, 'jane')).status, {}, 'not approved by the controller');
      await reg.update(CSRS, undefined, 'jane', { ...made, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove' }] } }, { sub: 'approval' });
      await until('the certificate', async () => !!(await reg.get(CSRS, undefined, 'jane')).status?.certificate);
      assert.equal(Buffer.from((await reg.get(CSRS, undefined, 'jane')).status.certificate, 'base64').toString(), SOME_CERTIFICATE);
      assert.equal(signed.length, 1);
      assert.equal(signed[0].pem, EC_CSR);
      assert.deepEqual(signed[0].usages, ['digital signature', 'client auth']);
      assert.equal(signed[0].ttl, 3_600_000);
    } finally {
      await controller.stop();
    }
  });

  it('fails an approved request with usages a client certificate may not have, worded as the signer', async () => {
    const { reg, signed, controller } = await setUp();
    try {
      const made = await reg.create(CSRS, undefined, approved('bad', ['client auth', 'server auth']));
      await reg.update(CSRS, undefined, 'bad', { ...made, status: { conditions: [{ type: 'Approved', status: 'True' }] } }, { sub: 'approval' });
      await until('the Failed condition', async () => ((await reg.get(CSRS, undefined, 'bad')).status?.conditions ?? []).length === 2);
      const failed = (await reg.get(CSRS, undefined, 'bad')).status.conditions[1];
      assert.deepEqual([failed.type, failed.reason, failed.message], ['Failed', 'SignerValidationFailure', 'invalid usage for client certificate: server auth']);
      assert.equal(signed.length, 0);
    } finally {
      await controller.stop();
    }
  });
});
