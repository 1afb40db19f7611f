import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentMountinfo, currentMountPoints, currentMountsUnder, mountPoints, parseMountinfo } from './mountinfo.js';

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

test('currentMountinfo: callers asking at once share one read; a later call reads again', async () => {
  const [a, b] = await Promise.all([currentMountinfo(), currentMountinfo()]);
  assert.equal(a, b);
  assert.ok(a.some((m) => m.mountPoint === '/proc' && m.fsType === 'proc'));
  const c = await currentMountinfo();
  assert.notEqual(c, a);
  assert.deepEqual(
    [...(await currentMountPoints())].filter((mp) => mp === '/proc'),
    ['/proc'],
  );
});

test('currentMountsUnder: the mount points at or below a directory, deepest first, exact prefix only', async () => {
  const under = await currentMountsUnder('/proc');
  assert.equal(under.at(-1), '/proc');
  for (const mp of under) assert.ok(mp === '/proc' || mp.startsWith('/proc/'), mp);
  for (let i = 1; i < under.length; i++) assert.ok(under[i - 1]!.length >= under[i]!.length);
  assert.deepEqual(await currentMountsUnder('/pro'), []);
});
