/** TokenRequest on the memory registry: claims, defaults, bounds, bound objects. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { resourceInfo } from '../api/registry.js';
import { MemoryStore } from '../store/memory.js';
import { Registry } from './index.js';
import { apiError } from './registry.test-util.js';
import { TokenIssuer } from './token-issuer.js';

const SAS = resourceInfo('serviceaccounts')!;
const PODS = resourceInfo('pods')!;

async function setup(extendExpiration = true): Promise<{ reg: Registry; issuer: TokenIssuer; sa: any }> {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const issuer = await TokenIssuer.fromPem(pem, undefined, undefined, { extendExpiration });
  const reg = new Registry(new MemoryStore(), { tokens: issuer });
  await reg.bootstrap();
  const sa = await reg.create(SAS, 'default', { metadata: { name: 'robot' } });
  return { reg, issuer, sa };
}

describe('TokenRequest', () => {
  it('issues a bound JWT with kube-apiserver claims that the issuer verifies', async () => {
    const { reg, issuer, sa } = await setup();
    const pod = await reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { serviceAccountName: 'robot', containers: [{ name: 'c', image: 'busybox' }] } });
    const before = Math.floor(Date.now() / 1000);
    const tr = await reg.createToken('default', 'robot', { spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p' } } });
    assert.equal(tr.kind, 'TokenRequest');
    assert.equal(tr.spec.expirationSeconds, 3600);
    assert.deepEqual(tr.spec.audiences, ['https://kubernetes.default.svc.cluster.local']);
    assert.equal(tr.spec.boundObjectRef.uid, pod.metadata.uid);
    const claims = decodeJwt(tr.status.token) as any;
    assert.equal(claims.iss, 'https://kubernetes.default.svc.cluster.local');
    assert.equal(claims.sub, 'system:serviceaccount:default:robot');
    assert.deepEqual(claims.aud, ['https://kubernetes.default.svc.cluster.local']);
    assert.ok(claims.iat >= before && claims.nbf === claims.iat && claims.exp === claims.iat + 3600);
    assert.deepEqual(claims['kubernetes.io'], { namespace: 'default', serviceaccount: { name: 'robot', uid: sa.metadata.uid }, pod: { name: 'p', uid: pod.metadata.uid } });
    assert.equal(decodeProtectedHeader(tr.status.token).alg, 'ES256');
    assert.equal(decodeProtectedHeader(tr.status.token).kid, issuer.keyId);
    assert.equal(Date.parse(tr.status.expirationTimestamp) / 1000, claims.exp);
    assert.ok(await issuer.verify(tr.status.token));
    const jwks = await issuer.jwks();
    assert.equal(jwks.keys[0].kid, issuer.keyId);
  });

  it("the admission's 3607 s pod token for the API is signed for a year with warnafter at the hour; the answer says the hour (--service-account-extend-token-expiration)", async () => {
    const { reg, sa } = await setup();
    const pod = await reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { serviceAccountName: 'robot', containers: [{ name: 'c', image: 'busybox' }] } });
    const bound = { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: pod.metadata.uid } };
    const tr = await reg.createToken('default', 'robot', { spec: { audiences: [], expirationSeconds: 3607, ...bound } });
    const claims = decodeJwt(tr.status.token) as any;
    assert.equal(claims.exp - claims.iat, 365 * 24 * 3600);
    assert.deepEqual(claims['kubernetes.io'], { namespace: 'default', serviceaccount: { name: 'robot', uid: sa.metadata.uid }, pod: { name: 'p', uid: pod.metadata.uid }, warnafter: claims.iat + 3607 });
    assert.equal(Date.parse(tr.status.expirationTimestamp) / 1000, claims.iat + 3607, 'the kubelet refreshes by the hour asked for');
    assert.equal(tr.spec.expirationSeconds, 3607);
    // not stretched: another life, another audience, no pod, or the flag off
    const life = (t: any) => { const c = decodeJwt(t.status.token) as any; return [c.exp - c.iat, c['kubernetes.io'].warnafter]; };
    assert.deepEqual(life(await reg.createToken('default', 'robot', { spec: { expirationSeconds: 3600, ...bound } })), [3600, undefined]);
    assert.deepEqual(life(await reg.createToken('default', 'robot', { spec: { expirationSeconds: 3607, audiences: ['vault'], ...bound } })), [3607, undefined]);
    assert.deepEqual(life(await reg.createToken('default', 'robot', { spec: { expirationSeconds: 3607 } })), [3607, undefined]);
    const off = await setup(false);
    await off.reg.create(PODS, 'default', { metadata: { name: 'p' }, spec: { serviceAccountName: 'robot', containers: [{ name: 'c', image: 'busybox' }] } });
    assert.deepEqual(life(await off.reg.createToken('default', 'robot', { spec: { expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p' } } })), [3607, undefined]);
  });

  it('a token for another audience is not one the API accepts', async () => {
    const { reg, issuer } = await setup();
    const tr = await reg.createToken('default', 'robot', { spec: { audiences: ['vault'] } });
    assert.deepEqual((decodeJwt(tr.status.token) as any).aud, ['vault']);
    assert.equal(await issuer.verify(tr.status.token), undefined);
    assert.equal(await issuer.verify(tr.status.token.slice(0, -4) + 'AAAA'), undefined);
  });

  it('refuses what kube-apiserver refuses', async () => {
    const { reg } = await setup();
    let e = await apiError(reg.createToken('default', 'nobody', {}));
    assert.equal(e.message, 'serviceaccounts "nobody" not found');
    e = await apiError(reg.createToken('default', 'robot', { spec: { expirationSeconds: 60 } }));
    assert.equal(e.code, 422);
    assert.equal(e.message, 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes');
    e = await apiError(reg.createToken('default', 'robot', { spec: { expirationSeconds: 2 ** 32 + 1 } }));
    assert.match(e.message, /may not specify a duration larger than 2\^32 seconds/);
    e = await apiError(reg.createToken('default', 'robot', { spec: { boundObjectRef: { kind: 'ConfigMap', apiVersion: 'v1', name: 'x' } } }));
    assert.equal(e.message, 'cannot bind token to object of type /v1, Kind=ConfigMap');
    e = await apiError(reg.createToken('default', 'robot', { spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'gone' } } }));
    assert.equal(e.message, 'pods "gone" not found');
    await reg.create(PODS, 'default', { metadata: { name: 'other' }, spec: { serviceAccountName: 'x', containers: [{ name: 'c', image: 'busybox' }] } });
    e = await apiError(reg.createToken('default', 'robot', { spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'other' } } }));
    assert.equal(e.message, 'cannot bind token for serviceaccount "robot" to pod running with different serviceaccount name.');
    await reg.create(resourceInfo('secrets')!, 'default', { metadata: { name: 's' } });
    e = await apiError(reg.createToken('default', 'robot', { spec: { boundObjectRef: { kind: 'Secret', apiVersion: 'v1', name: 's', uid: 'nope' } } }));
    assert.equal(e.code, 409);
    assert.match(e.message, /the UID in the bound object reference \(nope\) does not match the UID in record/);
  });
});
