import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appContainersDone, containerRestartPolicy, terminationOrder } from './sidecars.js';

const pod = {
  spec: {
    initContainers: [{ name: 'a' }, { name: 's1', restartPolicy: 'Always' }, { name: 's2', restartPolicy: 'Always' }],
    containers: [{ name: 'app' }, { name: 'web' }],
  },
};

test('a sidecar restarts Always whatever the pod policy; regular init containers OnFailure (Never with Never)', () => {
  assert.equal(containerRestartPolicy('Never', 'initContainers', { restartPolicy: 'Always' }), 'Always');
  assert.equal(containerRestartPolicy('Always', 'initContainers', {}), 'OnFailure');
  assert.equal(containerRestartPolicy('Never', 'initContainers', {}), 'Never');
  assert.equal(containerRestartPolicy('OnFailure', 'containers', {}), 'OnFailure');
});

test('app containers are stopped first, together; then sidecars one by one in reverse order', () => {
  assert.deepEqual(terminationOrder(pod, ['s1', 'app', 's2', 'web']), [['app', 'web'], ['s2'], ['s1']]);
  assert.deepEqual(terminationOrder(pod, ['s1']), [['s1']]);
  assert.deepEqual(terminationOrder(pod, ['app']), [['app']]);
});

test('sidecars go once every app container is done for good (never with restartPolicy Always)', () => {
  const ok = { state: 'exited' as const, exitCode: 0 };
  const bad = { state: 'exited' as const, exitCode: 1 };
  assert.equal(appContainersDone('Never', [ok, bad]), true);
  assert.equal(appContainersDone('OnFailure', [ok, bad]), false);
  assert.equal(appContainersDone('OnFailure', [ok, ok]), true);
  assert.equal(appContainersDone('Never', [ok, { state: 'running' }]), false);
  assert.equal(appContainersDone('Always', [ok, ok]), false);
});
