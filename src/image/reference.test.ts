import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, isLoopbackHost, parseReference, registryKey } from './reference.js';
import { InvalidReferenceError } from './errors.js';

const HEX = 'a'.repeat(64);

test('short Docker Hub names are normalised as docker does', () => {
  assert.equal(formatReference(parseReference('nginx')), 'docker.io/library/nginx:latest');
  assert.equal(formatReference(parseReference('nginx:1.25')), 'docker.io/library/nginx:1.25');
  assert.equal(formatReference(parseReference('bitnami/redis')), 'docker.io/bitnami/redis:latest');
  assert.equal(formatReference(parseReference('docker.io/nginx')), 'docker.io/library/nginx:latest');
  assert.equal(formatReference(parseReference('index.docker.io/library/nginx:1')), 'docker.io/library/nginx:1');
});

test('registry hosts with ports, localhost and IPs; paths of several components', () => {
  assert.deepEqual(parseReference('host:5000/a/b:tag'), { domain: 'host:5000', path: 'a/b', tag: 'tag' });
  assert.deepEqual(parseReference('localhost/x'), { domain: 'localhost', path: 'x', tag: 'latest' });
  assert.deepEqual(parseReference('127.0.0.1:5000/library/busybox'), { domain: '127.0.0.1:5000', path: 'library/busybox', tag: 'latest' });
  assert.deepEqual(parseReference('[::1]:5000/x:1'), { domain: '[::1]:5000', path: 'x', tag: '1' });
  assert.deepEqual(parseReference('ghcr.io/org/team/app:v1.2.3'), { domain: 'ghcr.io', path: 'org/team/app', tag: 'v1.2.3' });
});

test('digests pin the reference; a tag beside a digest is kept for naming', () => {
  assert.deepEqual(parseReference(`nginx@sha256:${HEX}`), { domain: 'docker.io', path: 'library/nginx', digest: `sha256:${HEX}` });
  assert.equal(formatReference(parseReference(`host:5000/a:1@sha256:${HEX}`)), `host:5000/a:1@sha256:${HEX}`);
});

test('malformed references are refused with the reason', () => {
  for (const [ref, why] of [
    ['', /empty/],
    ['Nginx', /lowercase/],
    ['nginx:', /invalid tag/],
    ['nginx:-x', /invalid tag/],
    ['nginx@sha256:abc', /invalid digest/],
    [`nginx@md5:${'a'.repeat(32)}`, /unsupported digest/],
    ['a//b', /invalid repository/],
    ['-a/b', /invalid (repository|registry)/],
    ['host:port:x/y', /invalid/],
  ] as const) {
    assert.throws(() => parseReference(ref), (e: unknown) => e instanceof InvalidReferenceError && why.test(e.message), ref);
  }
});

test('loopback hosts and credential keys', () => {
  assert.equal(isLoopbackHost('127.0.0.1:5000'), true);
  assert.equal(isLoopbackHost('127.9.9.9'), true);
  assert.equal(isLoopbackHost('localhost:80'), true);
  assert.equal(isLoopbackHost('[::1]:5000'), true);
  assert.equal(isLoopbackHost('10.0.0.1:5000'), false);
  assert.equal(isLoopbackHost('127.0.0.1.example.com'), false);
  assert.equal(registryKey('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryKey('http://Host:5000/v2/'), 'host:5000');
  assert.equal(registryKey('registry-1.docker.io'), 'docker.io');
});
