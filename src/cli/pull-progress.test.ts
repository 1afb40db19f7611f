import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PullProgressView } from './image.js';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);

function run(tty: boolean): string {
  let out = '';
  const v = new PullProgressView({ out: (s) => (out += s), err: () => {} }, tty);
  v.update({ phase: 'resolved', current: 0, total: 3_000_000, detail: 'sha256:abc' });
  v.update({ digest: D1, phase: 'exists', current: 1000, total: 1000 });
  v.update({ digest: D2, phase: 'waiting', current: 0, total: 2_000_000 });
  v.update({ digest: D2, phase: 'downloading', current: 1_000_000, total: 2_000_000 });
  v.update({ digest: D2, phase: 'downloading', current: 1_500_000, total: 2_000_000 });
  v.update({ digest: D2, phase: 'done', current: 2_000_000, total: 2_000_000 });
  v.finish();
  return out;
}

test('off a terminal: one plain line per layer and phase, no escape codes', () => {
  assert.equal(
    run(false),
    ['Resolved sha256:abc', '111111111111: Already exists', '222222222222: Waiting', '222222222222: Downloading (2MB)', '222222222222: Pull complete', ''].join('\n'),
  );
});

test('on a terminal: a line per layer redrawn in place, with a bar while downloading', () => {
  const out = run(true);
  assert.match(out, /\x1b\[2A/); // moves back up over the two layer lines to redraw them
  assert.match(out, /222222222222: Downloading \[=+>\s+\] 1MB\/2MB/);
  const last = out.slice(out.lastIndexOf('\x1b[2A'));
  assert.match(last, /\x1b\[2K111111111111: Already exists\n\x1b\[2K222222222222: Pull complete\n$/);
});
