import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateCreate, validateUpdate, validateStatusUpdate, validateApprovalUpdate, validationErrorText } from './index.js';
import type { Obj } from './field.js';

import { EC_CSR, RSA_CSR } from '../csr.test-util.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

function csr(spec: Obj = {}, status?: Obj): Obj {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name: 'c', resourceVersion: '1' },
    spec: { request: b64(EC_CSR), signerName: 'example.com/signer', usages: ['client auth'], ...spec },
    ...(status ? { status } : {}),
  };
}
const texts = (errs: ReturnType<typeof validateCreate>): string[] => errs.map(validationErrorText);

describe('CertificateSigningRequest validation (pkg/apis/certificates/validation)', () => {
  it('takes a request signed by its own key (ECDSA and RSA) with known usages and a signer', () => {
    assert.deepEqual(texts(validateCreate('CertificateSigningRequest', csr())), []);
    assert.deepEqual(texts(validateCreate('CertificateSigningRequest', csr({ request: b64(RSA_CSR), expirationSeconds: 600 }))), []);
  });

  it('refuses a request that is not a PEM CERTIFICATE REQUEST, printing the bytes as Go does', () => {
    assert.deepEqual(texts(validateCreate('CertificateSigningRequest', csr({ request: b64('hi\n') }))), [
      'spec.request: Invalid value: []byte{0x68, 0x69, 0xa}: PEM block type must be CERTIFICATE REQUEST',
    ]);
    const cert = EC_CSR.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE');
    assert.match(texts(validateCreate('CertificateSigningRequest', csr({ request: b64(cert) })))[0], /: PEM block type must be CERTIFICATE REQUEST$/);
    const garbage = '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n';
    assert.match(texts(validateCreate('CertificateSigningRequest', csr({ request: b64(garbage) })))[0], /: x509: malformed certificate request$/);
  });

  it('refuses a request whose signature does not match (a byte of the subject changed)', () => {
    for (const [pem, why] of [[EC_CSR, 'x509: ECDSA verification failure'], [RSA_CSR, 'crypto/rsa: verification error']] as const) {
      const der = Buffer.from(pem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''), 'base64');
      const at = der.indexOf(Buffer.from([0x55, 0x04, 0x03])) + 5; // the CN's first character
      der[at] ^= 1;
      const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
      const errs = validateCreate('CertificateSigningRequest', csr({ request: b64(tampered) }));
      assert.equal(errs.length, 1);
      assert.equal(errs[0].field, 'spec.request');
      assert.equal(errs[0].detail, why);
    }
  });

  it('checks usages, expirationSeconds and signerName with upstream wording', () => {
    assert.deepEqual(texts(validateCreate('CertificateSigningRequest', csr({ usages: [], signerName: '' }))), ['spec.usages: Required value', 'spec.signerName: Required value']);
    const errs = texts(validateCreate('CertificateSigningRequest', csr({ usages: ['client auth', 'foo', 'client auth'], expirationSeconds: 599 })));
    assert.match(errs[0], /^spec\.usages\[1\]: Unsupported value: "foo": supported values: "any", "cert sign", "client auth", .*"timestamping"$/);
    assert.deepEqual(errs.slice(1), ['spec.usages[2]: Duplicate value: "client auth"', 'spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)']);
    const signer = (s: string) => texts(validateCreate('CertificateSigningRequest', csr({ signerName: s })));
    assert.deepEqual(signer('example'), ["spec.signerName: Invalid value: \"example\": must be a fully qualified domain and path of the form 'example.com/signer-name'"]);
    assert.deepEqual(signer('example/x'), ['spec.signerName: Invalid value: "example": should be a domain with at least two segments separated by dots']);
    assert.match(signer('Example.com/x')[0], /^spec\.signerName: Invalid value: "Example\.com": validating label "Example": a lowercase RFC 1123 label must consist of/);
    assert.deepEqual(signer('kubernetes.io/legacy-unknown'), ['spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version']);
  });

  it('lets /approval add Approved or Denied, /status the certificate, and none remove a decision', () => {
    const old = csr({}, {});
    const approved = csr({}, { conditions: [{ type: 'Approved', status: 'True', reason: 'r' }] });
    assert.deepEqual(texts(validateApprovalUpdate('CertificateSigningRequest', approved, old)), []);
    assert.deepEqual(texts(validateStatusUpdate('CertificateSigningRequest', approved, old)), ['status.conditions: Forbidden: updates may not add a condition of type "Approved"']);
    assert.deepEqual(texts(validateApprovalUpdate('CertificateSigningRequest', csr({}, { conditions: [] }), approved)), ['status.conditions: Forbidden: updates may not remove a condition of type "Approved"']);
    const both = csr({}, { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] });
    assert.deepEqual(texts(validateApprovalUpdate('CertificateSigningRequest', both, approved)), ['status.conditions: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive']);
    assert.deepEqual(texts(validateApprovalUpdate('CertificateSigningRequest', csr({}, { conditions: [{ type: 'Approved', status: 'False' }] }), old)), [
      'status.conditions[0].status: Unsupported value: "False": supported values: "True"',
    ]);
    const issued = csr({}, { conditions: approved.status.conditions, certificate: b64('not a certificate') });
    assert.deepEqual(texts(validateUpdate('CertificateSigningRequest', issued, approved)), [
      'status.certificate: Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block',
      'status.certificate: Forbidden: updates may not set certificate content',
    ]);
  });
});
