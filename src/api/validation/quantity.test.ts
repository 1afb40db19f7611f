import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalQuantity, compareQuantity, formatQuantity, parseQuantity } from './quantity.js';

const q = (s: string) => {
  const v = parseQuantity(s);
  assert.ok(v, s);
  return v;
};

test('canonical forms, as kube-apiserver returns them', () => {
  const cases: Record<string, string> = {
    '1000m': '1',
    '0.5': '500m',
    '100m': '100m',
    '1024Mi': '1Gi',
    '1536Mi': '1536Mi',
    '1.5Gi': '1536Mi',
    '512Mi': '512Mi',
    '1000': '1k',
    '1500': '1500',
    '1e3': '1e3',
    '0': '0',
    '128974848': '128974848',
    '129e6': '129e6',
    '123Mi': '123Mi',
  };
  for (const [input, want] of Object.entries(cases)) assert.equal(formatQuantity(q(input)), want, input);
  assert.equal(canonicalQuantity('0.0001'), '1m'); // rounded up to milli
  assert.equal(canonicalQuantity(2), '2');
  assert.equal(canonicalQuantity('nonsense'), 'nonsense');
});

test('parse errors and comparison', () => {
  for (const bad of ['', 'abc', '1.2.3', '1x', '--1', '1Kb', 'e3']) assert.equal(parseQuantity(bad), null, bad);
  assert.equal(compareQuantity(q('1'), q('1000m')), 0);
  assert.equal(compareQuantity(q('1Gi'), q('1G')), 1);
  assert.equal(compareQuantity(q('500m'), q('1')), -1);
});
