import { test } from 'node:test';
import assert from 'node:assert/strict';
import { downwardFile, fieldRefValue, formatMap, goQuote, resourceFieldRefValue, type DownwardContext } from './downward.js';

const ctx: DownwardContext = { podIPs: ['10.0.0.5', 'fd00::5'], hostIPs: ['192.0.2.1'], allocatable: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '0' } };
const pod = {
  metadata: { name: 'p', namespace: 'ns', uid: 'u-1', labels: { app: 'web', tier: 'front' }, annotations: { note: 'a\nb' } },
  spec: {
    nodeName: 'node1',
    serviceAccountName: 'robot',
    containers: [
      { name: 'app', resources: { limits: { cpu: '250m', memory: '64Mi', 'ephemeral-storage': '1Gi' }, requests: { cpu: '100m', memory: '32Mi' } } },
      { name: 'bare' },
    ],
    // the stored status is stale (written before the sandbox existed): never read
    status: { podIP: '', hostIP: '' },
  },
};

test('fieldRef paths: status IPs come from the sandbox and node, not the stored status', () => {
  const v = (p: string) => fieldRefValue(pod, p, ctx);
  assert.equal(v('metadata.name'), 'p');
  assert.equal(v('metadata.namespace'), 'ns');
  assert.equal(v('metadata.uid'), 'u-1');
  assert.equal(v("metadata.labels['app']"), 'web');
  assert.equal(v("metadata.annotations['none']"), '');
  assert.equal(v('spec.nodeName'), 'node1');
  assert.equal(v('spec.serviceAccountName'), 'robot');
  assert.equal(v('status.podIP'), '10.0.0.5');
  assert.equal(v('status.podIPs'), '10.0.0.5,fd00::5');
  assert.equal(v('status.hostIP'), '192.0.2.1');
  assert.equal(v('status.hostIPs'), '192.0.2.1');
  assert.equal(v('metadata.labels'), 'app="web"\ntier="front"');
  assert.equal(v('metadata.annotations'), 'note="a\\nb"');
  assert.throws(() => v('spec.bogus'), /unsupported fieldRef path/);
});

test('resourceFieldRef: divisors round up; a missing limit is the node allocatable', () => {
  const r = (c: string, res: string, d?: string) => resourceFieldRefValue(pod, c, res, d, ctx);
  assert.equal(r('app', 'limits.cpu'), '1', 'ceil(250m / 1)');
  assert.equal(r('app', 'limits.cpu', '1m'), '250');
  assert.equal(r('app', 'requests.cpu', '1m'), '100');
  assert.equal(r('app', 'limits.memory'), String(64 * 1024 * 1024));
  assert.equal(r('app', 'limits.memory', '1Mi'), '64');
  assert.equal(r('app', 'requests.memory', '1M'), '34', 'ceil(33554432 / 1e6)');
  assert.equal(r('app', 'limits.ephemeral-storage', '1Gi'), '1');
  assert.equal(r('bare', 'limits.cpu'), '2', 'allocatable cpu');
  assert.equal(r('bare', 'limits.memory', '1Mi'), '2048', 'allocatable memory');
  assert.equal(r('bare', 'requests.memory'), '0', 'no request: 0');
  assert.equal(r('bare', 'requests.cpu'), '0');
  assert.throws(() => r('ghost', 'limits.cpu'), /container ghost not found/);
});

test('resourceFieldRef: a divisor of "0" (what typed Go clients send for an unset one) is 1', () => {
  const r = (c: string, res: string, d?: unknown) => resourceFieldRefValue(pod, c, res, d, ctx);
  assert.equal(r('app', 'limits.cpu', '0'), '1');
  assert.equal(r('app', 'limits.memory', '0'), String(64 * 1024 * 1024));
  assert.equal(r('bare', 'limits.cpu', '0m'), '2');
  assert.equal(r('app', 'limits.memory', 0), String(64 * 1024 * 1024), 'a number 0 too');
  assert.equal(downwardFile(pod, { path: 'mem', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '0' } }, ctx).toString(), String(64 * 1024 * 1024));
  assert.throws(() => r('app', 'limits.cpu', '-1'), /invalid divisor "-1" for limits.cpu/);
});

test('formatMap / goQuote: sorted keys, Go %q quoting', () => {
  assert.equal(formatMap({ b: '1', a: 'x' }), 'a="x"\nb="1"');
  assert.equal(formatMap(undefined), '');
  assert.equal(goQuote('tab\there "q" \\ é \x01'), '"tab\\there \\"q\\" \\\\ é \\x01"');
});
