import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byNatural, byString } from './order.js';

test("byString is Go's byte order: upper case before lower, '-' before digits and letters", () => {
  assert.deepEqual(['b', 'B', 'a-b', 'ab', 'a0', 'a'].sort(byString), ['B', 'a', 'a-b', 'a0', 'ab', 'b']);
  assert.equal(byString('x', 'x'), 0);
});

test('byNatural compares runs of digits as numbers', () => {
  assert.deepEqual(['10.0.0.10', '10.0.0.9', '10.0.0.100', '9.1.1.1'].sort(byNatural), ['9.1.1.1', '10.0.0.9', '10.0.0.10', '10.0.0.100']);
  assert.deepEqual(['/a/2', '/a/10', '/a', '/a/b'].sort(byNatural), ['/a', '/a/2', '/a/10', '/a/b']);
  assert.equal(byNatural('x1', 'x1'), 0);
});
