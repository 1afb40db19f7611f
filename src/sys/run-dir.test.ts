import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownRunDirMount, planRunDir, RUN_DIR_SOURCE } from './run-dir.js';
import type { MountInfo } from './mountinfo.js';

const mount = (mountPoint: string, fsType: string, source: string): MountInfo => ({ mountPoint, options: ['rw'], fsType, source, superOptions: [], optional: [] });

test('an empty run dir on a disk gets a tmpfs; one on a tmpfs, or holding state, stays as it is', () => {
  assert.deepEqual(planRunDir(false, []), { mount: true });
  assert.deepEqual(planRunDir(true, []), { mount: false, why: 'it is on a tmpfs already' });
  assert.deepEqual(planRunDir(true, ['runc']), { mount: false, why: 'it is on a tmpfs already' });
  const kept = planRunDir(false, ['runc', 'net', 'sandboxes', 'exits']);
  assert.equal(kept.mount, false);
  assert.match((kept as { why: string }).why, /^it is on a disk and not empty \(runc, net, sandboxes, \.\.\.: the state of pods that may still run\)/);
});

test('only the topmost tmpfs named podbay-run on the dir itself is podbay\'s to unmount', () => {
  const dir = '/run/podbay';
  assert.equal(ownRunDirMount(dir, [mount('/', 'ext4', '/dev/vda')]), undefined, 'no mount of its own');
  assert.equal(ownRunDirMount(dir, [mount(dir, 'tmpfs', 'tmpfs')]), undefined, 'a tmpfs someone else mounted');
  assert.equal(ownRunDirMount(dir, [mount('/run', 'tmpfs', RUN_DIR_SOURCE)]), undefined, 'a parent is not the dir');
  assert.equal(ownRunDirMount(dir, [mount(dir, 'ext4', RUN_DIR_SOURCE)]), undefined, 'not a tmpfs');
  const own = mount(dir, 'tmpfs', RUN_DIR_SOURCE);
  assert.equal(ownRunDirMount(dir, [mount('/', 'ext4', '/dev/vda'), own]), own);
  assert.equal(ownRunDirMount(dir, [own, mount(dir, 'tmpfs', 'other')]), undefined, 'something else is mounted over it');
});
