import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, mergeEnv, resolveArgv } from './container-args.js';

const vars: Record<string, string> = { A: 'a', B: 'b$c' };
const look = (n: string) => vars[n];

test('expands $(VAR), keeps unknown references, and $$ escapes', () => {
  assert.equal(expand('x$(A)y', look), 'xay');
  assert.equal(expand('$(B)', look), 'b$c');
  assert.equal(expand('$(MISSING)', look), '$(MISSING)');
  assert.equal(expand('$$(A)', look), '$(A)');
  assert.equal(expand('$$', look), '$');
  assert.equal(expand('cost $5', look), 'cost $5');
  assert.equal(expand('$(A', look), '$(A');
  assert.equal(expand('end$', look), 'end$');
  assert.equal(expand('$()', look), '$()');
});

test("command/args against the image's Entrypoint/Cmd, as Kubernetes documents", () => {
  const image = { entrypoint: ['/ep'], cmd: ['--cmd'] };
  assert.deepEqual(resolveArgv({}, image, []), ['/ep', '--cmd']);
  assert.deepEqual(resolveArgv({ args: ['x'] }, image, []), ['/ep', 'x']);
  assert.deepEqual(resolveArgv({ command: ['/bin/sh'] }, image, []), ['/bin/sh']);
  assert.deepEqual(resolveArgv({ command: ['/bin/sh'], args: ['-c', 'echo $(A)'] }, image, [{ name: 'A', value: '1' }]), ['/bin/sh', '-c', 'echo 1']);
  assert.deepEqual(resolveArgv({}, {}, []), []);
});

test("the container's env overrides the image's", () => {
  assert.deepEqual(mergeEnv(['PATH=/bin', 'X=1'], [{ name: 'X', value: '2' }, { name: 'Y', value: '3' }]), ['PATH=/bin', 'X=2', 'Y=3']);
});
