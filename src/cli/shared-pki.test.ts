import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { LocalClient } from '../client/local.js';
import { memoryRegistry } from '../registry/registry.test-util.js';
import { checkSharedPki, PkiMismatchError } from './shared-pki.js';

const saKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe('the PKI servers of one cluster share', () => {
  it('the first server records it, one with the same files matches, one with its own CA or SA key is refused naming the files to copy', async () => {
    const client = new LocalClient(await memoryRegistry());
    const first = { caPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', serviceAccountKeyPem: saKey() };
    assert.equal(await checkSharedPki(client, first, '/a'), 'recorded');
    assert.equal(await checkSharedPki(client, { ...first }, '/b'), 'matches');
    await assert.rejects(checkSharedPki(client, { ...first, caPem: '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n' }, '/c'), (e: Error) => {
      assert.ok(e instanceof PkiMismatchError);
      assert.match(e.message, /this server's the CA \(\/c\/pki\/ca\.crt, fingerprint [0-9a-f]{16}; the cluster's is [0-9a-f]{16}\) differ/);
      assert.match(e.message, /copy ca\.crt, ca\.key, sa\.key and admin\.token from an existing server's DIR\/pki into \/c\/pki/);
      return true;
    });
    await assert.rejects(checkSharedPki(client, { ...first, serviceAccountKeyPem: saKey() }, '/d'), /the service-account key \(\/d\/pki\/sa\.key\)/);
  });

  it('two servers starting at once: one records, the other compares with it', async () => {
    const client = new LocalClient(await memoryRegistry());
    const creds = { caPem: 'ca', serviceAccountKeyPem: saKey() };
    const other = { caPem: 'other-ca', serviceAccountKeyPem: saKey() };
    const results = await Promise.allSettled([checkSharedPki(client, creds, '/a'), checkSharedPki(client, other, '/b')]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results));
    assert.equal(results.filter((r) => r.status === 'rejected' && r.reason instanceof PkiMismatchError).length, 1);
  });
});
