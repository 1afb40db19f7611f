/**
 * pods/NAME/ephemeralcontainers on the memory store: the write that `kubectl debug -it` makes
 * (a strategic merge patch adding one container), and kube-apiserver's rules for it: only
 * additions, only spec.ephemeralContainers, the forbidden fields named by path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { resourceInfo } from '../api/registry.js';
import type { Obj } from '../api/types.js';
import { apiError, memoryRegistry } from './registry.test-util.js';

const PODS = resourceInfo('pods')!;
const SMP = 'application/strategic-merge-patch+json';

function pod(name: string): Obj {
  return { metadata: { name, labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'busybox' }] } };
}

/** what kubectl debug -it --image=busybox --target=app -- sh sends (a two-way merge patch) */
function debugPatch(name: string, extra: Obj = {}): string {
  return JSON.stringify({
    spec: {
      ephemeralContainers: [
        { name, image: 'busybox', command: ['sh'], resources: {}, terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent', stdin: true, tty: true, targetContainerName: 'app', ...extra },
      ],
    },
  });
}

describe('pods/ephemeralcontainers', () => {
  it('a strategic merge patch adds an ephemeral container (defaulted), and a second one keeps the first', async () => {
    const reg = await memoryRegistry();
    await reg.create(PODS, 'default', pod('web'));
    const one = await reg.patch(PODS, 'default', 'web', SMP, debugPatch('debugger-a'), { sub: 'ephemeralcontainers', fieldManager: 'kubectl-debug' });
    assert.equal(one.kind, 'Pod');
    assert.deepEqual(one.spec.ephemeralContainers.map((c: Obj) => [c.name, c.targetContainerName, c.terminationMessagePath, c.stdin]), [['debugger-a', 'app', '/dev/termination-log', true]]);
    const mf = one.metadata.managedFields.find((m: Obj) => m.manager === 'kubectl-debug');
    assert.equal(mf?.subresource, 'ephemeralcontainers');
    const two = await reg.patch(PODS, 'default', 'web', SMP, debugPatch('debugger-b'), { sub: 'ephemeralcontainers' });
    assert.deepEqual(two.spec.ephemeralContainers.map((c: Obj) => c.name).sort(), ['debugger-a', 'debugger-b']);
  });

  it('an update through the subresource changes nothing but spec.ephemeralContainers', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(PODS, 'default', pod('web'));
    const body = structuredClone(made);
    body.metadata.labels = { hijacked: 'yes' };
    body.spec.containers[0].image = 'other';
    body.spec.activeDeadlineSeconds = 5;
    body.spec.ephemeralContainers = [{ name: 'dbg', image: 'busybox' }];
    const out = await reg.update(PODS, 'default', 'web', body, { sub: 'ephemeralcontainers' });
    assert.deepEqual(out.metadata.labels, { app: 'web' });
    assert.equal(out.spec.containers[0].image, 'busybox');
    assert.equal(out.spec.activeDeadlineSeconds, undefined);
    assert.deepEqual(out.spec.ephemeralContainers.map((c: Obj) => c.name), ['dbg']);
  });

  it('existing ephemeral containers may be neither changed nor removed', async () => {
    const reg = await memoryRegistry();
    await reg.create(PODS, 'default', pod('web'));
    const withOne = await reg.patch(PODS, 'default', 'web', SMP, debugPatch('dbg'), { sub: 'ephemeralcontainers' });
    const changed = structuredClone(withOne);
    changed.spec.ephemeralContainers[0].image = 'busybox:2';
    const e1 = await apiError(reg.update(PODS, 'default', 'web', changed, { sub: 'ephemeralcontainers' }));
    assert.equal(e1.code, 422);
    assert.match(e1.message, /^Pod "web" is invalid: spec\.ephemeralContainers\[dbg\]: Forbidden: existing ephemeral containers "dbg" may not be changed/);
    const removed = structuredClone(withOne);
    removed.spec.ephemeralContainers = [];
    const e2 = await apiError(reg.update(PODS, 'default', 'web', removed, { sub: 'ephemeralcontainers' }));
    assert.equal(e2.code, 422);
    assert.match(e2.message, /spec\.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be removed/);
  });

  it('the fields an ephemeral container may not have are refused with their path; so are a missing target and a taken name', async () => {
    const reg = await memoryRegistry();
    await reg.create(PODS, 'default', pod('web'));
    const e = await apiError(
      reg.patch(PODS, 'default', 'web', SMP, debugPatch('dbg', { ports: [{ containerPort: 80 }], readinessProbe: { exec: { command: ['true'] } }, resources: { limits: { cpu: '1' } } }), { sub: 'ephemeralcontainers' }),
    );
    assert.equal(e.code, 422);
    const fields = (e.details?.causes ?? []).map((c: Obj) => `${c.field}: ${c.message}`);
    assert.ok(fields.includes('spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container'), fields.join('\n'));
    assert.ok(fields.includes('spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral Container'), fields.join('\n'));
    assert.ok(fields.includes('spec.ephemeralContainers[0].resources: Forbidden: cannot be set for an Ephemeral Container'), fields.join('\n'));
    const t = await apiError(reg.patch(PODS, 'default', 'web', SMP, debugPatch('dbg', { targetContainerName: 'nope' }), { sub: 'ephemeralcontainers' }));
    assert.match(t.message, /spec\.ephemeralContainers\[0\]\.targetContainerName: Not found: "nope"/);
    const d = await apiError(reg.patch(PODS, 'default', 'web', SMP, debugPatch('app'), { sub: 'ephemeralcontainers' }));
    assert.match(d.message, /spec\.ephemeralContainers\[0\]\.name: Duplicate value: "app"/);
  });

  it('the main resource cannot add ephemeral containers, and a create cannot have them', async () => {
    const reg = await memoryRegistry();
    const made = await reg.create(PODS, 'default', pod('web'));
    const body = structuredClone(made);
    body.spec.ephemeralContainers = [{ name: 'dbg', image: 'busybox' }];
    const e = await apiError(reg.update(PODS, 'default', 'web', body));
    assert.match(e.message, /spec: Forbidden: pod updates may not change fields other than/);
    const c = await apiError(reg.create(PODS, 'default', { ...pod('x'), spec: { ...pod('x').spec, ephemeralContainers: [{ name: 'd', image: 'busybox' }] } }));
    assert.match(c.message, /spec\.ephemeralContainers: Forbidden: cannot be set on create/);
  });
});
