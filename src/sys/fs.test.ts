import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModeExact, processUmask } from './fs.js';

test('processUmask is the umask files are created with; createModeExact says when a chmod is still needed', () => {
  const mask = processUmask();
  assert.equal(mask, process.umask());
  assert.equal(createModeExact(0o4755), false, 'special bits always need the chmod');
  assert.equal(createModeExact(0o777), (0o777 & ~mask) === 0o777);
  assert.equal(createModeExact(0o400), (0o400 & ~mask) === 0o400);
  assert.equal(createModeExact(0o755), (0o755 & ~mask) === 0o755);
});
