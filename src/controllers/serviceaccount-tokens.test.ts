/**
 * The serviceaccount-token controller on the memory store through the in-process client: a
 * token Secret is filled for its account, one for no account (or another uid) is deleted, an
 * account's deletion takes its token Secrets, a deleted Secret leaves its account's list.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import type { Obj } from '../client/types.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { ServiceAccountTokensController } from './serviceaccount-tokens.js';

const SECRETS = resourceInfo('secrets')!;
const SAS = resourceInfo('serviceaccounts')!;
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const text = (s: Obj, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString();
const tokenSecret = (name: string, annotations: Record<string, string>, extra: Obj = {}) => ({ metadata: { name, annotations }, type: 'kubernetes.io/service-account-token', ...extra });

describe('serviceaccount-token controller', () => {
  it('fills a token Secret for its account; deletes one whose account is missing or another; follows the account', async () => {
    const client = new LocalClient(await memoryRegistry());
    const secrets = client.resource(SECRETS);
    const accounts = client.resource(SAS);
    const signed: string[] = [];
    const ctl = new ServiceAccountTokensController(client, {
      caPem: CA,
      legacyToken: async (a, secretName) => {
        signed.push(`${a.namespace}/${a.name}/${a.uid}/${secretName}`);
        return `jwt-for-${a.name}-${secretName}`;
      },
    });
    await ctl.start();
    try {
      const sa = await accounts.create('default', { metadata: { name: 'sa1' } });
      await secrets.create('default', tokenSecret('t1', { 'kubernetes.io/service-account.name': 'sa1', note: 'kept' }));
      let t1: Obj = {};
      await until('t1 filled', async () => !!(t1 = await secrets.get('default', 't1')).data?.token);
      assert.equal(text(t1, 'token'), 'jwt-for-sa1-t1');
      assert.equal(text(t1, 'namespace'), 'default');
      assert.equal(text(t1, 'ca.crt'), CA);
      assert.deepEqual(t1.metadata.annotations, { 'kubernetes.io/service-account.name': 'sa1', 'kubernetes.io/service-account.uid': sa.metadata.uid, note: 'kept' });
      assert.deepEqual(signed, [`default/sa1/${sa.metadata.uid}/t1`]);

      // a changed ca.crt is put back; the token stays
      await secrets.update({ ...t1, data: { ...t1.data, 'ca.crt': Buffer.from('other').toString('base64') } });
      await until('ca.crt put back', async () => text((t1 = await secrets.get('default', 't1')), 'ca.crt') === CA);
      assert.equal(signed.length, 1, 'the token is not made again');

      // no such account, or the account under another uid: deleted
      await secrets.create('default', tokenSecret('orphan', { 'kubernetes.io/service-account.name': 'nobody' }));
      await secrets.create('default', tokenSecret('stale', { 'kubernetes.io/service-account.name': 'sa1', 'kubernetes.io/service-account.uid': 'not-its-uid' }));
      await until('orphan and stale deleted', async () => !(await secrets.tryGet('default', 'orphan')) && !(await secrets.tryGet('default', 'stale')));
      // other Secrets are not its business
      await secrets.create('default', { metadata: { name: 'plain' }, data: { a: 'Yg==' } });

      // a deleted token Secret leaves its account's list
      await accounts.update({ ...(await accounts.get('default', 'sa1')), secrets: [{ name: 't1' }, { name: 'other' }] });
      await secrets.create('default', tokenSecret('t2', { 'kubernetes.io/service-account.name': 'sa1' }));
      await until('t2 filled', async () => !!(await secrets.get('default', 't2')).data?.token);
      await secrets.delete('default', 't1');
      await until('t1 no longer listed', async () => JSON.stringify((await accounts.get('default', 'sa1')).secrets) === '[{"name":"other"}]');

      // the account goes: so do its tokens
      await accounts.delete('default', 'sa1');
      await until('t2 deleted with its account', async () => !(await secrets.tryGet('default', 't2')));
      assert.ok(await secrets.tryGet('default', 'plain'));
    } finally {
      await ctl.stop();
    }
  });
});
