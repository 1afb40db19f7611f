import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyFsGroup, fsGroupKind, ownedMode, rootNeedsChange, VolumeOwnership } from './volume-ownership.js';

// a group this process may chown to without root: its own
const GID = process.getgid!();

test('ownedMode and rootNeedsChange as the kubelet', () => {
  assert.equal(ownedMode(0o644, false, false), 0o664);
  assert.equal(ownedMode(0o600, false, true), 0o640);
  assert.equal(ownedMode(0o777, true, false), 0o2777);
  assert.equal(ownedMode(0o700, true, true), 0o2750);
  assert.equal(rootNeedsChange({ gid: 5, mode: 0o2770, isDir: true }, 5, false), false);
  assert.equal(rootNeedsChange({ gid: 5, mode: 0o770, isDir: true }, 5, false), true, 'no setgid');
  assert.equal(rootNeedsChange({ gid: 6, mode: 0o2770, isDir: true }, 5, false), true);
  assert.equal(rootNeedsChange({ gid: 5, mode: 0o2750, isDir: true }, 5, true), false);
  assert.deepEqual(fsGroupKind({ emptyDir: {} }), { readOnly: false, remount: false });
  assert.deepEqual(fsGroupKind({ secret: {} }), { readOnly: true, remount: true });
  assert.equal(fsGroupKind({ hostPath: { path: '/' } }), undefined);
});

test('applyFsGroup walks the tree and never follows a symlink, nor opens a FIFO', async () => {
  const t = mkdtempSync(join(tmpdir(), 'podbay-fsgroup-'));
  try {
    const vol = join(t, 'vol');
    const outside = join(t, 'outside');
    mkdirSync(join(vol, 'a', 'b'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 's', { mode: 0o600 });
    chmodSync(outside, 0o700);
    writeFileSync(join(vol, 'a', 'f'), 'x', { mode: 0o600 });
    symlinkSync(outside, join(vol, 'a', 'dirlink'));
    symlinkSync(join(outside, 'secret'), join(vol, 'filelink'));
    execFileSync('mkfifo', [join(vol, 'fifo')]);
    chmodSync(vol, 0o755);
    const n = await applyFsGroup(vol, GID, { readOnly: false });
    assert.deepEqual(n, { changed: 5, tooDeep: 0 }, 'vol, a, a/b, a/f, fifo');
    assert.equal(statSync(join(vol, 'a', 'f')).mode & 0o7777, 0o660);
    assert.equal(statSync(join(vol, 'a', 'b')).mode & 0o7777, 0o2775);
    assert.equal(statSync(vol).mode & 0o7777, 0o2775);
    assert.equal(lstatSync(join(vol, 'fifo')).mode & 0o777, 0o664);
    assert.equal(statSync(join(outside, 'secret')).mode & 0o7777, 0o600, 'a file a link names is untouched');
    assert.equal(statSync(outside).mode & 0o7777, 0o700, 'a directory a link names is untouched');
    // OnRootMismatch: the root is now right, so nothing is walked
    chmodSync(join(vol, 'a', 'f'), 0o600);
    assert.equal((await applyFsGroup(vol, GID, { readOnly: false, policy: 'OnRootMismatch' })).changed, 0);
    assert.equal(statSync(join(vol, 'a', 'f')).mode & 0o7777, 0o600);
    assert.ok((await applyFsGroup(vol, GID, { readOnly: false, policy: 'Always' })).changed > 0);
    assert.equal(statSync(join(vol, 'a', 'f')).mode & 0o7777, 0o660);
  } finally {
    rmSync(t, { recursive: true, force: true });
  }
});

test('applyFsGroup stops at maxDepth (one fd per level) and says so', async () => {
  const t = mkdtempSync(join(tmpdir(), 'podbay-fsgroup-'));
  try {
    let p = t;
    for (let i = 0; i < 6; i++) mkdirSync((p = join(p, 'd')), { mode: 0o700 });
    chmodSync(p, 0o700);
    const r = await applyFsGroup(t, GID, { readOnly: false, maxDepth: 3 });
    assert.deepEqual(r, { changed: 4, tooDeep: 1 });
    assert.equal(statSync(join(t, 'd', 'd', 'd')).mode & 0o7777, 0o2770);
    assert.equal(statSync(join(t, 'd', 'd', 'd', 'd')).mode & 0o7777, 0o700);
  } finally {
    rmSync(t, { recursive: true, force: true });
  }
});

test('VolumeOwnership: emptyDir once per pod, configMap every time, nothing without fsGroup, a symlinked root refused', async () => {
  const t = mkdtempSync(join(tmpdir(), 'podbay-fsgroup-'));
  try {
    const ed = join(t, 'ed');
    const cm = join(t, 'cm');
    mkdirSync(ed);
    mkdirSync(cm);
    const pod = (fsGroup?: number) => ({
      metadata: { uid: 'u1' },
      spec: { securityContext: fsGroup === undefined ? {} : { fsGroup }, volumes: [{ name: 'ed', emptyDir: {} }, { name: 'cm', configMap: { name: 'x' } }] },
    });
    const paths = new Map([['ed', { hostPath: ed }], ['cm', { hostPath: cm }]]);
    const o = new VolumeOwnership();
    await o.apply(pod(), paths);
    assert.equal(statSync(ed).mode & 0o2000, 0, 'no fsGroup: untouched');
    await o.apply(pod(GID), paths);
    assert.equal(statSync(ed).mode & 0o7777, 0o2775);
    assert.equal(statSync(cm).mode & 0o7777, 0o2755);
    mkdirSync(join(ed, 'later'), { mode: 0o755 });
    chmodSync(join(ed, 'later'), 0o755);
    chmodSync(ed, 0o755);
    chmodSync(cm, 0o755);
    await o.apply(pod(GID), paths);
    assert.equal(statSync(ed).mode & 0o7777, 0o2775, 'the root is fixed again');
    assert.equal(statSync(join(ed, 'later')).mode & 0o7777, 0o755, 'what containers wrote since is walked once per pod only');
    assert.equal(statSync(cm).mode & 0o7777, 0o2755, 'configMap content is rewritten, so redone');
    o.forget('u1');
    const link = join(t, 'link');
    symlinkSync(ed, link);
    await assert.rejects(o.apply(pod(GID), new Map([['ed', { hostPath: link }]])), (e: Error & { volume?: string }) => e.volume === 'ed');
  } finally {
    rmSync(t, { recursive: true, force: true });
  }
});
