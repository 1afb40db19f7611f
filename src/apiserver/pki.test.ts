import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ensureCredentials } from './pki.js';

test('ensureCredentials keeps good certificates and re-issues from the stored CA key when the SANs change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podbay-pki-'));
  try {
    const a = await ensureCredentials(dir, ['127.0.0.1', 'localhost']);
    assert.match(readFileSync(join(dir, 'pki/ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    const b = await ensureCredentials(dir, ['127.0.0.1']);
    assert.equal(b.certPem, a.certPem, 'a certificate that still covers the SANs is kept');
    assert.equal(b.keyPem, a.keyPem);
    const c = await ensureCredentials(dir, ['127.0.0.1', '10.1.2.3']);
    assert.notEqual(c.certPem, a.certPem, 'a new SAN re-issues the serving certificate');
    assert.equal(c.caPem, a.caPem, 'the CA is never rotated');
    const cert = new X509Certificate(c.certPem);
    assert.ok(cert.checkIssued(new X509Certificate(c.caPem)), 'signed by the stored CA key');
    assert.ok(cert.verify(new X509Certificate(c.caPem).publicKey));
    assert.match(cert.subjectAltName ?? '', /IP Address:10\.1\.2\.3/);
    assert.equal(c.token, a.token);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
