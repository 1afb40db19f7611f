/** What a request asks, read off its URL as kube-apiserver's RequestInfoFactory reads it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestAttributes } from './request-info.js';

const u = { username: 'u', groups: [] };
const info = (method: string, url: string, upgrade = false) => {
  const x = new URL(url, 'https://h');
  const a = requestAttributes(u, method, x.pathname, x.searchParams, upgrade);
  return [a.verb, a.isResourceRequest, a.namespace, a.apiGroup, a.resource, a.subresource, a.name].join('|');
};

describe('request attributes', () => {
  it('reads verbs, namespaces, groups, subresources and names', () => {
    assert.equal(info('GET', '/api/v1/namespaces/default/pods'), 'list|true|default||pods||');
    assert.equal(info('GET', '/api/v1/namespaces/default/pods?watch=true'), 'watch|true|default||pods||');
    assert.equal(info('GET', '/api/v1/watch/namespaces/default/pods'), 'watch|true|default||pods||');
    assert.equal(info('GET', '/api/v1/namespaces/default/pods/web/log'), 'get|true|default||pods|log|web');
    assert.equal(info('POST', '/api/v1/namespaces/ns/serviceaccounts/bot/token'), 'create|true|ns||serviceaccounts|token|bot');
    assert.equal(info('DELETE', '/apis/apps/v1/namespaces/x/deployments'), 'deletecollection|true|x|apps|deployments||');
    assert.equal(info('PATCH', '/apis/apps/v1/namespaces/x/deployments/web/scale'), 'patch|true|x|apps|deployments|scale|web');
    assert.equal(info('GET', '/api/v1/nodes'), 'list|true|||nodes||');
    assert.equal(info('GET', '/api/v1/namespaces/kube-system'), 'get|true|kube-system||namespaces||kube-system');
    assert.equal(info('PUT', '/api/v1/namespaces/gone/finalize'), 'update|true|gone||namespaces|finalize|gone');
    assert.equal(info('GET', '/api/v1/namespaces/d/pods?fieldSelector=metadata.name%3Dweb'), 'list|true|d||pods||web');
    assert.equal(info('GET', '/api/v1/namespaces/d/pods/web/exec', true), 'create|true|d||pods|exec|web');
  });

  it('anything else is a non-resource request on its path', () => {
    assert.equal(info('GET', '/version'), 'get|false|||||');
    assert.equal(info('GET', '/apis/apps/v1'), 'get|false|||||');
    assert.equal(info('GET', '/openid/v1/jwks'), 'get|false|||||');
  });
});
