/** The kubelet's token cache: one request per token life, refreshed at 80% or after 24 h. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requiresRefresh, TokenManager } from './token-manager.js';

describe('token manager', () => {
  it('refreshes after 80% of the life, or after 24 h', () => {
    assert.equal(requiresRefresh(0, 3600_000, 2879_000), false);
    assert.equal(requiresRefresh(0, 3600_000, 2880_000), true);
    const year = 365 * 24 * 3600_000;
    assert.equal(requiresRefresh(0, year, 23 * 3600_000), false);
    assert.equal(requiresRefresh(0, year, 24 * 3600_000), true);
  });

  it('asks once for a pod-bound token and again when it is due, and forgets a gone pod', async () => {
    let now = 1_000_000;
    const asked: any[] = [];
    const m = new TokenManager(async (ns, sa, req) => {
      asked.push({ ns, sa, req });
      return { status: { token: `t${asked.length}`, expirationTimestamp: new Date(now + req.spec.expirationSeconds * 1000).toISOString() } };
    }, () => now);
    const pod = { metadata: { namespace: 'ns', name: 'p', uid: 'u1' }, spec: { serviceAccountName: 'robot' } };
    assert.equal(await m.token(pod, { path: 'token', expirationSeconds: 3607 }), 't1');
    assert.deepEqual(asked[0], { ns: 'ns', sa: 'robot', req: { spec: { audiences: [], expirationSeconds: 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u1' } } } });
    now += 2000_000;
    assert.equal(await m.token(pod, { path: 'token', expirationSeconds: 3607 }), 't1');
    now += 1000_000;
    assert.equal(await m.token(pod, { path: 'token', expirationSeconds: 3607 }), 't2');
    assert.equal(await m.token(pod, { path: 'vault', audience: 'vault', expirationSeconds: 3607 }), 't3');
    assert.deepEqual(asked[2].req.spec.audiences, ['vault']);
    m.forgetPod('u1');
    assert.equal(await m.token(pod, { path: 'token', expirationSeconds: 3607 }), 't4');
  });
});
