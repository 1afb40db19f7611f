import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImagePullManager, goDuration, type EnsureResult } from './image-pull.js';
import type { ImageRecord, ImageService } from '../image/types.js';
import type { ImagePuller } from '../image/pull.js';
import type { KubeletClient } from './client.js';

const IMG: ImageRecord = { id: 'sha256:' + 'a'.repeat(64), repoTags: ['docker.io/library/busybox:1.36'], repoDigests: [], size: 10, config: {}, chainIds: [] };

function world(opts: { present?: boolean; fail?: string[] } = {}) {
  let now = 1_000_000;
  let present = opts.present ?? false;
  const fail = [...(opts.fail ?? [])];
  const events: string[] = [];
  const pulls: string[] = [];
  let release: () => void = () => {};
  const enqueued: string[] = [];
  const puller = {
    pull: async (ref: string) => {
      pulls.push(ref);
      await new Promise<void>((r) => (release = r));
      const err = fail.shift();
      if (err) throw new Error(err);
      present = true;
      return { image: IMG, repoDigest: '', size: 1234, fetched: 1234, endpoint: '' };
    },
  } as unknown as ImagePuller;
  const images = { get: async () => (present ? IMG : undefined) } as unknown as ImageService;
  const client = { getSecret: async () => undefined } as unknown as KubeletClient;
  const m = new ImagePullManager({ images, puller, client, record: (_p, type, reason, message) => events.push(`${type} ${reason} ${message}`), enqueue: (u) => enqueued.push(u), now: () => now });
  const pod = { metadata: { uid: 'u1', name: 'p', namespace: 'default' }, spec: {} };
  const ensure = (policy: string, image = 'busybox:1.36') => m.ensure(pod, { name: 'c', image, imagePullPolicy: policy }, 'spec.containers{c}');
  const settle = async () => {
    release();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return { m, events, pulls, enqueued, ensure, settle, tick: (ms: number) => (now += ms) };
}

const reason = (r: EnsureResult) => ('waiting' in r ? r.waiting.reason : 'image');

test('Never: present is used, absent is ErrImageNeverPull; nothing is pulled', async () => {
  const w = world();
  const r = await w.ensure('Never');
  assert.equal(reason(r), 'ErrImageNeverPull');
  assert.deepEqual(w.events, ['Warning ErrImageNeverPull Container image "busybox:1.36" is not present with pull policy of Never']);
  const p = world({ present: true });
  assert.equal(reason(await p.ensure('Never')), 'image');
  assert.deepEqual(w.pulls, []);
});

test('IfNotPresent with the image present does not pull; Always pulls in the background and re-queues the pod', async () => {
  const w = world({ present: true });
  assert.equal(reason(await w.ensure('IfNotPresent')), 'image');
  assert.deepEqual(w.events, ['Normal Pulled Container image "busybox:1.36" already present on machine']);
  w.events.length = 0;
  assert.equal(reason(await w.ensure('Always')), 'ContainerCreating');
  assert.equal(reason(await w.ensure('Always')), 'ContainerCreating'); // still running: no second pull
  assert.deepEqual(w.pulls, ['busybox:1.36']);
  w.tick(1500);
  await w.settle();
  assert.deepEqual(w.enqueued, ['u1']);
  assert.equal(reason(await w.ensure('Always')), 'image');
  assert.deepEqual(w.events, ['Normal Pulling Pulling image "busybox:1.36"', 'Normal Pulled Successfully pulled image "busybox:1.36" in 1.5s (1.5s including waiting). Image size: 1234 bytes.']);
});

test('a failed pull: ErrImagePull, then ImagePullBackOff until the back-off (10s, then 20s) allows the next attempt', async () => {
  const w = world({ fail: ['not found', 'not found'] });
  await w.ensure('IfNotPresent');
  await w.settle();
  const first = await w.ensure('IfNotPresent');
  assert.equal(reason(first), 'ErrImagePull');
  assert.equal('waiting' in first && first.waiting.message, 'not found');
  assert.equal(reason(await w.ensure('IfNotPresent')), 'ErrImagePull'); // a sync right after still shows it
  w.tick(3000);
  const second = await w.ensure('IfNotPresent');
  assert.equal(reason(second), 'ImagePullBackOff');
  assert.equal('waiting' in second && second.waiting.message, 'Back-off pulling image "busybox:1.36": ErrImagePull: not found');
  assert.ok('retryMs' in second && second.retryMs! > 6000 && second.retryMs! <= 7_010, JSON.stringify(second));
  assert.equal(w.pulls.length, 1);
  w.tick(7_001);
  assert.equal(reason(await w.ensure('IfNotPresent')), 'ImagePullBackOff'); // retrying, shows the last failure
  assert.equal(w.pulls.length, 2);
  await w.settle();
  w.tick(3000);
  const third = await w.ensure('IfNotPresent');
  assert.ok('retryMs' in third && third.retryMs! > 16_000, `back-off doubled: ${JSON.stringify(third)}`);
  assert.ok(w.events.includes('Warning Failed Failed to pull image "busybox:1.36": not found'));
  assert.ok(w.events.includes('Warning Failed Error: ErrImagePull'));
  assert.ok(w.events.includes('Normal BackOff Back-off pulling image "busybox:1.36"'));
  assert.ok(w.events.includes('Warning Failed Error: ImagePullBackOff'));
});

test('an image name that does not parse is InvalidImageName', async () => {
  const w = world();
  assert.equal(reason(await w.ensure('IfNotPresent', 'Bad:Name:x')), 'InvalidImageName');
  assert.deepEqual(w.pulls, []);
});

test('durations as Go prints them', () => {
  assert.equal(goDuration(350), '350ms');
  assert.equal(goDuration(1234), '1.234s');
  assert.equal(goDuration(125_500), '2m5.5s');
});

test('imagePullSecrets that do not exist are named in one pod-level warning, even when nothing is pulled', async () => {
  const events: string[] = [];
  const images = { get: async () => IMG } as unknown as ImageService;
  const client = { getSecret: async (_ns: string, name: string) => (name === 'there' ? { type: 'kubernetes.io/dockerconfigjson', data: {} } : undefined) } as unknown as KubeletClient;
  const m = new ImagePullManager({ images, client, record: (_p, type, reason, message, fieldPath) => events.push(`${type} ${reason} ${message} @${fieldPath ?? 'pod'}`), enqueue: () => {} });
  const pod = { metadata: { uid: 'u2', name: 'p', namespace: 'default' }, spec: { imagePullSecrets: [{ name: 'gone' }, { name: 'there' }, { name: 'typo' }] } };
  await m.ensure(pod, { name: 'a', image: 'busybox:1.36', imagePullPolicy: 'Never' }, 'spec.containers{a}');
  await m.ensure(pod, { name: 'b', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent' }, 'spec.containers{b}');
  assert.deepEqual(events.filter((e) => e.includes('FailedToRetrieveImagePullSecret')), [
    'Warning FailedToRetrieveImagePullSecret Unable to retrieve some image pull secrets (gone, typo); attempting to pull the image may not succeed. @pod',
  ]);
  // every secret there: no warning
  const quiet: string[] = [];
  const m2 = new ImagePullManager({ images, client, record: (_p, _t, reason) => quiet.push(reason), enqueue: () => {} });
  await m2.ensure({ metadata: { uid: 'u3', name: 'q', namespace: 'default' }, spec: { imagePullSecrets: [{ name: 'there' }] } }, { name: 'a', image: 'busybox:1.36', imagePullPolicy: 'Never' }, 'spec.containers{a}');
  assert.deepEqual(quiet, ['Pulled']);
});
