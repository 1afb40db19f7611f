import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InflightLimiter, requestClass, tooManyRequests } from './inflight.js';

const q = (s = '') => new URLSearchParams(s);

describe('requestClass', () => {
  it('charges reads and writes to their budgets', () => {
    assert.equal(requestClass('GET', '/api/v1/namespaces/default/pods', q()), 'readonly');
    assert.equal(requestClass('GET', '/api/v1/namespaces/default/pods/a', q()), 'readonly');
    assert.equal(requestClass('GET', '/version', q()), 'readonly');
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) assert.equal(requestClass(m, '/api/v1/namespaces/default/pods/a', q()), 'mutating');
    assert.equal(requestClass('POST', '/api/v1/namespaces/default/pods/a/binding', q()), 'mutating');
    assert.equal(requestClass('PUT', '/api/v1/namespaces/default/pods/a/status', q()), 'mutating');
  });

  it('does not count long-running requests (watch, log, exec) nor health probes', () => {
    assert.equal(requestClass('GET', '/api/v1/pods', q('watch=true')), 'long-running');
    assert.equal(requestClass('GET', '/api/v1/pods', q('watch=1')), 'long-running');
    assert.equal(requestClass('GET', '/api/v1/pods', q('watch=false')), 'readonly');
    assert.equal(requestClass('GET', '/api/v1/watch/namespaces/default/pods', q()), 'long-running');
    assert.equal(requestClass('GET', '/apis/apps/v1/watch/namespaces/default/deployments', q()), 'long-running');
    assert.equal(requestClass('GET', '/apis/apps/v1/namespaces/default/deployments/watch', q()), 'readonly');
    assert.equal(requestClass('GET', '/api/v1/namespaces/default/pods/a/log', q('follow=true')), 'long-running');
    assert.equal(requestClass('POST', '/api/v1/namespaces/default/pods/a/exec', q()), 'long-running');
    // a pod named "log" is not the log subresource
    assert.equal(requestClass('GET', '/api/v1/namespaces/default/pods/log', q()), 'readonly');
    for (const p of ['/healthz', '/livez', '/readyz', '/readyz/ping', '/healthz/']) assert.equal(requestClass('GET', p, q()), 'exempt');
  });
});

describe('InflightLimiter', () => {
  it('refuses beyond each limit and frees a slot on release (once)', () => {
    const l = new InflightLimiter(2, 1);
    const r1 = l.acquire('readonly')!;
    const r2 = l.acquire('readonly')!;
    assert.equal(l.acquire('readonly'), undefined);
    const m1 = l.acquire('mutating')!;
    assert.equal(l.acquire('mutating'), undefined);
    assert.ok(l.acquire('long-running'));
    assert.ok(l.acquire('exempt'));
    r1();
    r1();
    assert.deepEqual(l.counts, { readonly: 1, mutating: 1 });
    assert.ok(l.acquire('readonly'));
    assert.equal(l.acquire('readonly'), undefined);
    m1();
    r2();
    assert.ok(l.acquire('mutating'));
  });

  it('0 means no limit', () => {
    const l = new InflightLimiter(0, 0);
    for (let i = 0; i < 1000; i++) assert.ok(l.acquire('mutating'));
  });

  it("answers as kube-apiserver's maxinflight filter", () => {
    const s = tooManyRequests().toStatus();
    assert.equal(s.code, 429);
    assert.equal(s.reason, 'TooManyRequests');
    assert.equal(s.message, 'Too many requests, please try again later.');
    assert.equal(s.details?.retryAfterSeconds, 1);
  });
});
