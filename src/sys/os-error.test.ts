import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { osErrorText } from './os-error.js';

test('a Node system error reads as Go prints a PathError', () => {
  let err: unknown;
  try {
    mkdirSync('/proc/self/status/sub', { recursive: true });
  } catch (e) {
    err = e;
  }
  assert.match(osErrorText(err), /^mkdir \/proc\/self\/status(\/sub)?: not a directory$/);
  assert.equal(osErrorText(new Error('ENOENT: no such file or directory, open \'/x y\'')), 'open /x y: no such file or directory');
});

test('other errors keep their message', () => {
  assert.equal(osErrorText(new Error('configmap "x" not found')), 'configmap "x" not found');
  assert.equal(osErrorText('plain'), 'plain');
});
