import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachOptions, execOptions, forwardedPorts, portForwardOptions, proxyOptions, proxyRest, streamRequest } from './connect-admission.js';
import { scaleView } from '../api/scale.js';
import { resourceInfo } from '../api/registry.js';

test('the options objects of CONNECT requests are kube-apiserver\'s (omitempty booleans, command always)', () => {
  assert.deepEqual(execOptions(new URLSearchParams('command=sh&command=-c&command=id&stdin=true&stdout=true&tty=false&container=c')), { kind: 'PodExecOptions', apiVersion: 'v1', stdin: true, stdout: true, container: 'c', command: ['sh', '-c', 'id'] });
  assert.deepEqual(attachOptions(new URLSearchParams('stdout=1')), { kind: 'PodAttachOptions', apiVersion: 'v1', stdout: true });
  assert.deepEqual(portForwardOptions([8080]), { kind: 'PodPortForwardOptions', apiVersion: 'v1', ports: [8080] });
  assert.deepEqual(portForwardOptions([]), { kind: 'PodPortForwardOptions', apiVersion: 'v1' });
  assert.deepEqual(proxyOptions('pod', '/a%20b/'), { kind: 'PodProxyOptions', apiVersion: 'v1', path: '/a b/' });
  assert.deepEqual(proxyOptions('node', ''), { kind: 'NodeProxyOptions', apiVersion: 'v1' });
});

test('what a mutating webhook returned is what the connection uses; bad shapes are 400', () => {
  const r = streamRequest({ command: ['id'], tty: true, stderr: true, stdin: true, container: 'x' }, true);
  assert.deepEqual(r, { command: ['id'], container: 'x', stdin: true, stdout: false, stderr: false, tty: true });
  assert.throws(() => streamRequest({ command: 'id' }, true), /not a list of strings/);
  assert.throws(() => streamRequest({ command: [] }, true), /you must specify at least 1 command/);
  assert.deepEqual(streamRequest({ stdout: true }, false).command, []);
  assert.deepEqual(forwardedPorts({ ports: [81] }, [80]), [81]);
  assert.deepEqual(forwardedPorts({}, [80]), [80]);
  assert.throws(() => forwardedPorts({ ports: [0] }, [80]), /not port numbers/);
  const shown = proxyOptions('pod', '/x');
  assert.equal(proxyRest('/x', shown, shown), '/x');
  assert.equal(proxyRest('/x', shown, { ...shown, path: '/y z' }), '/y%20z');
});

test('scaleView: a deployment shown as its Scale; a webhook\'s replicas go back into it', () => {
  const r = resourceInfo('deployments', 'apps')!;
  const v = scaleView(r);
  const dep = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', resourceVersion: '5' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } } }, status: { replicas: 2 } };
  const shown = v.show(dep);
  assert.deepEqual([shown.kind, shown.apiVersion, shown.spec.replicas, shown.status.selector], ['Scale', 'autoscaling/v1', 2, 'app=web']);
  assert.equal(v.apply(dep, { ...shown, spec: { replicas: 4 } }).spec.replicas, 4);
  assert.deepEqual(v.kind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
});
