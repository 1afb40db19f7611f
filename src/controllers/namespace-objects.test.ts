/** The service account controller and the root CA publisher on the memory registry. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import { LocalClient } from '../client/local.js';
import { memoryRegistry, until } from '../registry/registry.test-util.js';
import { rootCaPublisher, serviceAccountsController, ROOT_CA_DESCRIPTION } from './namespace-objects.js';

const SAS = resourceInfo('serviceaccounts')!;
const CMS = resourceInfo('configmaps')!;
const NSS = resourceInfo('namespaces')!;

describe('per-namespace objects', () => {
  it('makes `default` in every namespace (kube-system too), again after a delete', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const ctl = serviceAccountsController(client);
    await ctl.start();
    try {
      await client.resource(NSS).create(undefined, { metadata: { name: 'team' } });
      for (const ns of ['default', 'kube-system', 'team']) {
        await until(`default in ${ns}`, async () => Boolean(await reg.tryGet(SAS, ns, 'default')));
      }
      await client.resource(SAS).delete('team', 'default');
      await until('default made again', async () => Boolean(await reg.tryGet(SAS, 'team', 'default')));
    } finally {
      await ctl.stop();
    }
  });

  it('publishes the CA as kube-root-ca.crt and puts it back when changed', async () => {
    const reg = await memoryRegistry();
    const client = new LocalClient(reg);
    const ctl = rootCaPublisher(client, 'PEM');
    await ctl.start();
    try {
      await until('the config map', async () => Boolean(await reg.tryGet(CMS, 'default', 'kube-root-ca.crt')));
      const cm = await reg.get(CMS, 'default', 'kube-root-ca.crt');
      assert.deepEqual(cm.data, { 'ca.crt': 'PEM' });
      assert.equal(cm.metadata.annotations['kubernetes.io/description'], ROOT_CA_DESCRIPTION);
      await client.resource(CMS).patch('default', 'kube-root-ca.crt', 'application/merge-patch+json', { data: { 'ca.crt': 'forged' } });
      await until('put back', async () => (await reg.get(CMS, 'default', 'kube-root-ca.crt')).data['ca.crt'] === 'PEM');
    } finally {
      await ctl.stop();
    }
  });
});
