/** The ServiceAccount admission on the memory registry: defaulting, refusal, the token volume. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceInfo } from '../api/registry.js';
import { MemoryStore } from '../store/memory.js';
import { Registry } from './index.js';
import { apiError } from './registry.test-util.js';

const PODS = resourceInfo('pods')!;
const SAS = resourceInfo('serviceaccounts')!;

async function registry(): Promise<Registry> {
  const reg = new Registry(new MemoryStore(), { serviceAccountAdmission: { defaultAccountWaitMs: 0 } });
  await reg.bootstrap();
  return reg;
}

const pod = (name: string, spec: object = {}) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }], initContainers: [{ name: 'i', image: 'busybox' }], ...spec } });

describe('ServiceAccount admission', () => {
  it('refuses a pod whose account does not exist, with kube-apiserver message', async () => {
    const reg = await registry();
    const e = await apiError(reg.create(PODS, 'default', pod('p')));
    assert.equal(e.code, 403);
    assert.equal(e.message, 'pods "p" is forbidden: error looking up service account default/default: serviceaccount "default" not found');
    const e2 = await apiError(reg.create(PODS, 'default', pod('q', { serviceAccountName: 'robot' })));
    assert.match(e2.message, /error looking up service account default\/robot: serviceaccount "robot" not found/);
  });

  it('defaults the account and mounts the kube-api-access volume in every container', async () => {
    const reg = await registry();
    await reg.create(SAS, 'default', { metadata: { name: 'default' } });
    const p = await reg.create(PODS, 'default', pod('p'));
    assert.equal(p.spec.serviceAccountName, 'default');
    assert.equal(p.spec.serviceAccount, 'default');
    const vol = p.spec.volumes.find((v: any) => v.name.startsWith('kube-api-access-'));
    assert.match(vol.name, /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.deepEqual(vol.projected, {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    });
    for (const c of [...p.spec.containers, ...p.spec.initContainers]) {
      assert.deepEqual(c.volumeMounts, [{ name: vol.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
    }
  });

  it('honours automountServiceAccountToken on the pod first, then the account', async () => {
    const reg = await registry();
    await reg.create(SAS, 'default', { metadata: { name: 'quiet' }, automountServiceAccountToken: false });
    await reg.create(SAS, 'default', { metadata: { name: 'default' } });
    const a = await reg.create(PODS, 'default', pod('a', { serviceAccountName: 'quiet' }));
    assert.equal(a.spec.volumes, undefined);
    assert.equal(a.spec.containers[0].volumeMounts, undefined);
    const b = await reg.create(PODS, 'default', pod('b', { serviceAccountName: 'quiet', automountServiceAccountToken: true }));
    assert.equal(b.spec.volumes.length, 1);
    const c = await reg.create(PODS, 'default', pod('c', { automountServiceAccountToken: false }));
    assert.equal(c.spec.volumes, undefined);
  });

  it('leaves a container that mounts something at the path with its own', async () => {
    const reg = await registry();
    await reg.create(SAS, 'default', { metadata: { name: 'default' } });
    const p = await reg.create(PODS, 'default', {
      metadata: { name: 'own' },
      spec: {
        volumes: [{ name: 'mine', emptyDir: {} }],
        containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'mine', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] }],
      },
    });
    assert.deepEqual(p.spec.volumes.map((v: any) => v.name), ['mine']);
    assert.deepEqual(p.spec.containers[0].volumeMounts.map((m: any) => m.name), ['mine']);
  });

  it('a projected serviceAccountToken in a pod that names no account: the account is `default` before validation', async () => {
    const reg = await registry();
    const projected = (name: string, spec: object = {}) =>
      pod(name, { volumes: [{ name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] } }], ...spec });
    // without the account: the admission's 403, not the validation's Forbidden field
    const e = await apiError(reg.create(PODS, 'default', projected('none')));
    assert.equal(e.code, 403);
    assert.equal(e.message, 'pods "none" is forbidden: error looking up service account default/default: serviceaccount "default" not found');
    const e2 = await apiError(reg.create(PODS, 'default', projected('robot', { serviceAccountName: 'robot' })));
    assert.equal(e2.code, 403);
    assert.match(e2.message, /serviceaccount "robot" not found/);
    await reg.create(SAS, 'default', { metadata: { name: 'default' } });
    const p = await reg.create(PODS, 'default', projected('p'));
    assert.equal(p.spec.serviceAccountName, 'default');
    assert.equal(p.spec.serviceAccount, 'default');
    assert.deepEqual(p.spec.volumes[0].projected.sources[0].serviceAccountToken, { path: 'token', expirationSeconds: 3600 });
  });

  it('with the admission off, a projected serviceAccountToken needs serviceAccountName (kube-apiserver with the plugin disabled)', async () => {
    const reg = new Registry(new MemoryStore());
    await reg.bootstrap();
    const e = await apiError(
      reg.create(PODS, 'default', pod('off', { volumes: [{ name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }] })),
    );
    assert.equal(e.code, 422);
    assert.match(e.message, /spec\.volumes\[0\]\.projected\.sources\[0\]\.serviceAccountToken: Forbidden: must not be specified when serviceAccountName is not set/);
  });

  it('waits a moment for `default` when asked (the controller makes it)', async () => {
    const reg = new Registry(new MemoryStore(), { serviceAccountAdmission: { defaultAccountWaitMs: 2000 } });
    await reg.bootstrap();
    setTimeout(() => void reg.create(SAS, 'default', { metadata: { name: 'default' } }), 200);
    const p = await reg.create(PODS, 'default', pod('late'));
    assert.equal(p.spec.serviceAccountName, 'default');
  });
});
