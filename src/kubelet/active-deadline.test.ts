import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadlineRemainingMs, failedStatus, DEADLINE_MESSAGE } from './active-deadline.js';
import { containerHash, definitionChanged, definitionChangedMessage, fnv32a } from './container-hash.js';

test('activeDeadlineSeconds counts from status.startTime', () => {
  const pod = (secs?: number, startTime?: string) => ({ spec: { activeDeadlineSeconds: secs }, status: { startTime } });
  const t0 = Date.parse('2026-11-29T10:00:00Z');
  assert.equal(deadlineRemainingMs(pod(5, '2026-11-29T10:00:00Z'), t0 + 2000), 3000);
  assert.ok(deadlineRemainingMs(pod(5, '2026-11-29T10:00:00Z'), t0 + 6000)! < 0);
  assert.equal(deadlineRemainingMs(pod(undefined, '2026-11-29T10:00:00Z'), t0), undefined);
  assert.equal(deadlineRemainingMs(pod(5), t0), undefined, 'not started on the node yet');
  assert.deepEqual(failedStatus({ phase: 'Running', x: 1 }, 'DeadlineExceeded', DEADLINE_MESSAGE), { phase: 'Failed', x: 1, reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' });
});

test('the container hash follows the image: a new image is a changed definition', () => {
  assert.equal(fnv32a(''), 0x811c9dc5);
  assert.equal(fnv32a('a'), 0xe40c292c);
  const spec = { name: 'app', image: 'busybox:1.36', command: ['sh'] };
  const run = (labels: Record<string, string>, image = 'busybox:1.36') => ({ config: { image, labels } });
  assert.equal(definitionChanged(spec, run({ 'io.kubernetes.container.hash': containerHash(spec) })), false);
  assert.equal(definitionChanged({ ...spec, image: 'busybox:1.37' }, run({ 'io.kubernetes.container.hash': containerHash(spec) })), true);
  // a field that is immutable on a pod does not count
  assert.equal(containerHash({ ...spec, command: ['true'] }), containerHash(spec));
  // runs from before the label compare images
  assert.equal(definitionChanged(spec, run({})), false);
  assert.equal(definitionChanged(spec, run({}, 'other:1')), true);
  assert.equal(definitionChangedMessage('app'), 'Container app definition changed, will be restarted');
});
