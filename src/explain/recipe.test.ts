import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differencesFromDocker, dockerRecipe, printable, shellWords } from './recipe.js';
import type { NamespacesSection, NsRow } from './types.js';

const cell = (inode: number, shared: boolean, host = false) => ({ inode, shared, host });
function section(sharePid: boolean): NamespacesSection {
  const pause: NsRow = { name: 'pause', role: 'pause', hostPid: 10, podPid: 1, ns: { net: cell(1, true), ipc: cell(2, true), uts: cell(3, true), pid: cell(4, true), cgroup: cell(9, true, true), user: cell(8, true, true) } };
  const c: NsRow = { name: 'c', role: 'container', hostPid: 11, podPid: sharePid ? 7 : 1, ns: { net: cell(1, true), ipc: cell(2, true), uts: cell(3, true), pid: cell(sharePid ? 4 : 5, sharePid), cgroup: cell(9, true, true), user: cell(8, true, true) } };
  return { rows: [pause, c], host: {}, differences: [] };
}
const pod = (spec: Record<string, unknown>) => ({ metadata: { name: 'ghost' }, spec: { containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 80, hostPort: 8888 }] }], ...spec } });

test('pid: own namespaces unless shareProcessNamespace, each said against the recipe', () => {
  const own = differencesFromDocker(pod({}), section(false));
  assert.ok(own.some((d) => d.startsWith('pid: each container has a PID namespace of its own')));
  assert.ok(own.some((d) => d.startsWith('uts: ') && d.includes('"ghost"') && d.includes('docker cannot share UTS')));
  assert.ok(own.some((d) => d.startsWith('ports: ')));
  const shared = differencesFromDocker(pod({ shareProcessNamespace: true }), section(true));
  assert.ok(shared.some((d) => d.startsWith('pid: shared with pause (shareProcessNamespace: true)')));
  assert.ok(differencesFromDocker(pod({ hostNetwork: true }), section(false)).some((d) => d.startsWith("net: the pod uses the host's network namespace")));
});

test('the docker recipe: pause with the ports and --ipc=shareable, containers joining it', () => {
  const mounts = new Map([['c', [{ hostPath: '/var/lib/podbay/pods/u/volumes/kubernetes.io~configmap/conf', containerPath: '/etc/nginx', readOnly: true }]]]);
  const r = dockerRecipe(pod({}), mounts, '/var/lib/podbay/pods/u');
  assert.deepEqual(r, [
    'POD=/var/lib/podbay/pods/u',
    'docker run -d --name fake_k8s_pod_ghost_pause -p 8888:80 --ipc=shareable --hostname ghost registry.k8s.io/pause:3.9',
    'docker run -d --name fake_k8s_pod_ghost_c --net=container:fake_k8s_pod_ghost_pause --ipc=container:fake_k8s_pod_ghost_pause -v "$POD"/volumes/kubernetes.io~configmap/conf:/etc/nginx:ro nginx',
  ]);
  const shared = dockerRecipe(pod({ shareProcessNamespace: true }), new Map());
  assert.ok(shared[1]!.includes('--pid=container:fake_k8s_pod_ghost_pause'));
});

test('commands are quoted for the shell and cleaned of control characters', () => {
  const p = { metadata: { name: 'q' }, spec: { containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', "echo 'hi' \u001b[2J"] }] } };
  const line = dockerRecipe(p, new Map())[1]!;
  assert.ok(!line.includes('\u001b'));
  assert.deepEqual(shellWords(line).slice(-2), ['-c', `'echo '\\''hi'\\'' ?[2J'`]);
  assert.equal(printable('a\nb\u202ec'), 'a?b?c');
});
