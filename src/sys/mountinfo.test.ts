import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountPoints, parseMountinfo } from './mountinfo.js';

const TEXT = [
  '22 1 0:21 / /run rw,nosuid shared:5 - tmpfs tmpfs rw,mode=755',
  '301 22 0:50 / /run/x/with\\040space rw - tmpfs shm rw,size=65536k',
  '302 22 0:51 / /run/x/c/rootfs rw - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/u,workdir=/w',
  '',
].join('\n');

test('mountPoints reads the mount point of each line as parseMountinfo does, escapes undone', () => {
  assert.deepEqual(mountPoints(TEXT), ['/run', '/run/x/with space', '/run/x/c/rootfs']);
  assert.deepEqual(mountPoints(TEXT), parseMountinfo(TEXT).map((m) => m.mountPoint));
});
