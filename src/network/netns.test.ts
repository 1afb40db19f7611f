import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetnsPins, parseMountinfo, validateId } from './netns.js';

test('mountinfo: mount points with octal escapes, fs type after the separator', () => {
  const text = [
    '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '41 26 0:4 net:[4026532176] /tmp/a\\040b/netns/x rw - nsfs nsfs rw',
    '42 26 0:4 net:[4026532177] /run/p/netns/y rw shared:5 master:2 - nsfs nsfs rw',
    '',
  ].join('\n');
  assert.deepEqual(parseMountinfo(text).map(({ mountPoint, fsType, source }) => ({ mountPoint, fsType, source })), [
    { mountPoint: '/', fsType: 'ext4', source: '/dev/sda1' },
    { mountPoint: '/tmp/a b/netns/x', fsType: 'nsfs', source: 'nsfs' },
    { mountPoint: '/run/p/netns/y', fsType: 'nsfs', source: 'nsfs' },
  ]);
});

test('sandbox ids follow the CNI container id rules', () => {
  for (const ok of ['a', 'abc-1.2_3', '0'.repeat(64)]) validateId(ok);
  for (const bad of ['', '-a', '.', '..', 'a/b', 'a b', '../x', 'x'.repeat(129)]) assert.throws(() => validateId(bad), /invalid sandbox id/);
  const pins = new NetnsPins('/run/podbay-t/netns/');
  assert.equal(pins.path('sb1'), '/run/podbay-t/netns/sb1');
  assert.throws(() => pins.path('../etc'), /invalid sandbox id/);
});
