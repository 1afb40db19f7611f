import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { canonicalSan, ensureCredentials } from './pki.js';

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

test('ensureCredentials keeps a certificate with IPv6 SANs (the server passes ::1 on every start)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podbay-pki-'));
  try {
    const sans = ['127.0.0.1', '::1', 'localhost', 'fd00:0:0::10', 'Node-1'];
    const a = await ensureCredentials(dir, sans);
    const b = await ensureCredentials(dir, sans);
    assert.equal(b.certPem, a.certPem, 'a restart with the same SANs keeps the serving certificate');
    const c = await ensureCredentials(dir, [...sans, 'fd00::11']);
    assert.notEqual(c.certPem, a.certPem, 'a new IPv6 SAN still re-issues it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('canonicalSan compares IPv6 addresses in one form and names without case', () => {
  assert.equal(canonicalSan('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(canonicalSan('FD00:0:0:0:0:0:0:10'), 'fd00::10');
  assert.equal(canonicalSan('::ffff:10.0.0.1'), '::ffff:a00:1');
  assert.equal(canonicalSan('::ffff:a00:1'), '::ffff:a00:1');
  assert.equal(canonicalSan('10.0.0.1'), '10.0.0.1');
  assert.equal(canonicalSan('Kubernetes.Default'), 'kubernetes.default');
});
