/** Bootstrap tokens: the shape, the Secret kubeadm writes, and who the authenticator says they are. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootstrapTokenRow, bootstrapTokenSecret, bootstrapTokenUser, generateBootstrapToken, parseBootstrapToken, parseTtl } from './bootstrap-token.js';
import type { Obj } from './types.js';

/** what the API server stores: stringData encoded into data */
function stored(s: Obj): Obj {
  const data = Object.fromEntries(Object.entries(s.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { ...s, data, stringData: undefined };
}

describe('bootstrap tokens', () => {
  it('are ID.SECRET of [a-z0-9]{6}.[a-z0-9]{16}', () => {
    const t = generateBootstrapToken();
    assert.deepEqual(parseBootstrapToken(`${t.id}.${t.secret}`), t);
    assert.equal(parseBootstrapToken('abcdef.0123456789abcdef')?.id, 'abcdef');
    for (const bad of ['ABCDEF.0123456789abcdef', 'abcde.0123456789abcdef', 'abcdef.0123456789abcde', 'abcdef0123456789abcdef', 'eyJhbGciOi.x.y']) assert.equal(parseBootstrapToken(bad), undefined, bad);
  });

  it('authenticate as system:bootstrap:ID in system:bootstrappers and the extra groups', () => {
    const t = { id: 'abcdef', secret: '0123456789abcdef' };
    const s = stored(bootstrapTokenSecret(t, { ttlMs: 3_600_000 }));
    assert.equal(s.metadata.name, 'bootstrap-token-abcdef');
    assert.equal(s.metadata.namespace, 'kube-system');
    assert.equal(s.type, 'bootstrap.kubernetes.io/token');
    assert.deepEqual(bootstrapTokenUser(t, s), {
      username: 'system:bootstrap:abcdef',
      groups: ['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token', 'system:authenticated'],
    });
  });

  it('refuse a wrong secret, an expired or unmarked token, another type and a group outside system:bootstrappers:', () => {
    const t = { id: 'abcdef', secret: '0123456789abcdef' };
    const s = stored(bootstrapTokenSecret(t, { ttlMs: 60_000 }));
    assert.equal(bootstrapTokenUser({ id: 'abcdef', secret: '0123456789abcdeX' }, s), undefined);
    assert.equal(bootstrapTokenUser(t, s, Date.now() + 120_000), undefined, 'expired');
    assert.equal(bootstrapTokenUser(t, undefined), undefined);
    assert.equal(bootstrapTokenUser(t, { ...s, type: 'Opaque' }), undefined);
    const unmarked = stored(bootstrapTokenSecret(t, {}));
    unmarked.data['usage-bootstrap-authentication'] = Buffer.from('false').toString('base64');
    assert.equal(bootstrapTokenUser(t, unmarked), undefined);
    assert.equal(bootstrapTokenUser(t, stored(bootstrapTokenSecret(t, { groups: ['system:masters'] }))), undefined);
    const bad = stored(bootstrapTokenSecret(t, {}));
    bad.data.expiration = Buffer.from('tomorrow').toString('base64');
    assert.equal(bootstrapTokenUser(t, bad), undefined, 'an unparseable expiration is expired');
  });

  it('list as kubeadm token list does', () => {
    const s = stored(bootstrapTokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, { ttlMs: 24 * 3_600_000, now: 0 }));
    const row = bootstrapTokenRow(s, 1000)!;
    assert.equal(row.token, 'abcdef.0123456789abcdef');
    assert.equal(row.ttl, '23h');
    assert.equal(row.expires, '1970-01-02T00:00:00Z');
    assert.equal(row.usages, 'authentication,signing');
    assert.equal(bootstrapTokenRow(stored(bootstrapTokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, {})))!.ttl, '<forever>');
  });

  it('--ttl takes Go durations', () => {
    assert.equal(parseTtl('24h'), 86_400_000);
    assert.equal(parseTtl('1h30m'), 5_400_000);
    assert.equal(parseTtl('0'), 0);
    assert.throws(() => parseTtl('1d'), /--ttl "1d": want a duration/);
    assert.throws(() => parseTtl(''), /--ttl/);
  });
});
