import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthChallenges } from './registry-client.js';

test('a Bearer challenge with realm, service and scope (Docker Hub style)', () => {
  assert.deepEqual(parseAuthChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
  ]);
});

test('Basic, unquoted values, escapes, odd spacing and two challenges in one header', () => {
  assert.deepEqual(parseAuthChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseAuthChallenges('bearer  realm=https://x/t , service=svc,scope="a:b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://x/t', service: 'svc', scope: 'a:b:pull,push' } },
  ]);
  assert.deepEqual(parseAuthChallenges('Bearer realm="a\\"b", Basic realm="r"'), [
    { scheme: 'bearer', params: { realm: 'a"b' } },
    { scheme: 'basic', params: { realm: 'r' } },
  ]);
  assert.deepEqual(parseAuthChallenges(''), []);
});
