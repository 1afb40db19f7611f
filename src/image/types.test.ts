import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeRef } from './types.js';

test('normalizeRef: names as Kubernetes users write them', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/nginx', 'docker.io/library/nginx:latest'],
    ['someone/app:v2', 'docker.io/someone/app:v2'],
    ['docker.io/library/busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['quay.io/x/y:z', 'quay.io/x/y:z'],
    ['localhost:5000/a', 'localhost:5000/a:latest'],
    ['localhost:5000/a:1', 'localhost:5000/a:1'],
    ['localhost/a', 'localhost/a:latest'],
    ['registry.example.com/deep/path/img', 'registry.example.com/deep/path/img:latest'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeRef(input), want, input);
});

test('normalizeRef: digests are kept and get no ":latest"', () => {
  const d = 'sha256:' + 'a'.repeat(64);
  assert.equal(normalizeRef(`busybox@${d}`), `docker.io/library/busybox@${d}`);
  assert.equal(normalizeRef(`localhost:5000/a@${d}`), `localhost:5000/a@${d}`);
  assert.equal(normalizeRef(`busybox:1.36@${d}`), `docker.io/library/busybox:1.36@${d}`);
});
