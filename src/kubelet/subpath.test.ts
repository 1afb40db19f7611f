import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSubPathLexically, subPathOf, subPathTarget } from './subpath.js';
import { ConfigError } from './env.js';

test('subPathExpr expands $(VAR) from the container env; a missing or empty variable fails as the kubelet says', () => {
  const env = [
    { name: 'POD_NAME', value: 'web-0' },
    { name: 'EMPTY', value: '' },
  ];
  assert.equal(subPathOf({ name: 'v', subPath: 'plain' }, env), 'plain');
  assert.equal(subPathOf({ name: 'v', subPathExpr: 'logs/$(POD_NAME)' }, env), 'logs/web-0');
  assert.equal(subPathOf({ name: 'v', subPathExpr: '$$(POD_NAME)' }, env), '$(POD_NAME)');
  assert.throws(() => subPathOf({ name: 'v', subPathExpr: '$(NOPE)/$(EMPTY)' }, env), (e: unknown) => e instanceof ConfigError && e.message === 'missing value for EMPTY, NOPE');
  assert.equal(subPathOf({ name: 'v' }, env), '');
});

test('a subPath that is absolute or climbs is refused before anything is opened', () => {
  assert.throws(() => checkSubPathLexically('/etc'), /error SubPath `\/etc` must not be an absolute path/);
  assert.throws(() => checkSubPathLexically('a/../../x'), /unable to provision SubPath/);
  assert.throws(() => checkSubPathLexically('..'), ConfigError);
  checkSubPathLexically('a/..b/c');
  assert.equal(subPathTarget('/pods/u', 'data', 'app', 2), '/pods/u/volume-subpaths/data/app/2');
});
